"""Behaviour features: what a lead did before its scoring moment, counted, dated and decayed.

Everything works on *snapshots*, a frame of ``key`` (whose history counts, normally the person a
lead belongs to) and ``as_of``. Events at or after a snapshot's ``as_of`` are dropped before any
aggregate is taken, which is the one rule that keeps training and serving honest. Aggregates are
numpy bincounts over integer codes, so 100k leads with millions of events take seconds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.contract import ACTIVITY_TYPES
from features.registry import (
    ENGAGEMENT_WEIGHTS,
    HIGH_INTENT,
    MARKETING_ACTIONS,
    PHYSICAL,
    WINDOWS,
    count_name,
)

DAY_NS = 86_400 * 10**9
TYPE_INDEX = {name: i for i, name in enumerate(ACTIVITY_TYPES)}


def events_before(activities: pd.DataFrame, snapshots: pd.DataFrame) -> pd.DataFrame:
    """Each snapshot joined to its key's events strictly before ``as_of``.

    Returns columns ``snap`` (row position in ``snapshots``), ``age_days``, ``type_code`` (index
    into ACTIVITY_TYPES, -1 for types we do not know) and ``row`` (position in ``activities``).
    """
    keys = pd.Index(pd.unique(snapshots["key"].to_numpy()))
    act_key = keys.get_indexer(pd.Index(activities["lead_id"]))
    known = act_key >= 0
    act = pd.DataFrame(
        {
            "k": act_key[known],
            "t": activities["occurred_at"].to_numpy("datetime64[ns]")[known].view("i8"),
            "row": np.flatnonzero(known),
        }
    )
    snap = pd.DataFrame(
        {
            "k": keys.get_indexer(pd.Index(snapshots["key"])),
            "as_of": snapshots["as_of"].to_numpy("datetime64[ns]").view("i8"),
            "snap": np.arange(len(snapshots)),
        }
    )
    if snap["k"].is_unique:
        position = np.full(len(keys), -1)
        position[snap["k"].to_numpy()] = snap["snap"].to_numpy()
        joined = act.assign(snap=position[act["k"].to_numpy()])
        joined["as_of"] = snap["as_of"].to_numpy()[joined["snap"].to_numpy()]
    else:
        joined = act.merge(snap, on="k", how="inner")
    joined = joined[joined["t"].to_numpy() < joined["as_of"].to_numpy()]
    rows = joined["row"].to_numpy()
    return pd.DataFrame(
        {
            "snap": joined["snap"].to_numpy(),
            "age_days": (joined["as_of"].to_numpy() - joined["t"].to_numpy()) / DAY_NS,
            "type_code": type_codes(activities["activity_type"])[rows],
            "row": rows,
        }
    )


def type_codes(activity_type: pd.Series) -> np.ndarray:
    """Index into ACTIVITY_TYPES per event (-1: a type of the CRM's own), via distinct values."""
    codes, uniques = pd.factorize(activity_type, use_na_sentinel=True)
    lookup = np.array([TYPE_INDEX.get(u, -1) for u in uniques] + [-1], dtype=np.int16)
    return lookup[codes]


def _per_snap(snap: np.ndarray, n: int, weights: np.ndarray | None = None) -> np.ndarray:
    return np.bincount(snap, weights=weights, minlength=n).astype(float)


def _type_mask(codes: np.ndarray, types: tuple[str, ...]) -> np.ndarray:
    return np.isin(codes, [TYPE_INDEX[t] for t in types])


def _min_age(snap: np.ndarray, age: np.ndarray, n: int) -> np.ndarray:
    out = np.full(n, np.inf)
    np.minimum.at(out, snap, age)
    return np.where(np.isinf(out), np.nan, out)


def _distinct(snap: np.ndarray, values: pd.Series, rows: np.ndarray, n: int) -> np.ndarray:
    """Distinct non-missing values per snapshot (of ``values`` at the events' ``rows``)."""
    all_codes, uniques = pd.factorize(values, use_na_sentinel=True)
    codes = all_codes[rows]
    keep = codes >= 0
    base = len(uniques) + 1
    pairs = np.unique(snap[keep].astype(np.int64) * base + codes[keep])
    return _per_snap(pairs // base, n)


def behaviour_features(
    activities: pd.DataFrame,
    snapshots: pd.DataFrame,
    created_at: pd.Series,
    half_life_days: float = 30.0,
    events: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Counts per type and window, recency, decayed engagement, breadth, rates and velocity.

    ``created_at`` is aligned with ``snapshots`` (the lead's own creation time); ``events`` is
    :func:`events_before` of the same inputs, when the caller already has it.
    """
    n = len(snapshots)
    ev = events_before(activities, snapshots) if events is None else events
    snap, age, code = ev["snap"].to_numpy(), ev["age_days"].to_numpy(), ev["type_code"].to_numpy()
    n_types = len(ACTIVITY_TYPES)
    known = code >= 0
    out: dict[str, np.ndarray] = {}

    for window in WINDOWS:
        inside = known & (age < window)
        counts = np.bincount(
            snap[inside].astype(np.int64) * n_types + code[inside], minlength=n * n_types
        ).reshape(n, n_types)
        for activity_type, i in TYPE_INDEX.items():
            out[count_name(activity_type, window)] = counts[:, i].astype(float)

    out["n_activities_30d"] = _per_snap(snap[age < 30], n)
    out["days_since_last_activity"] = _min_age(snap, age, n)
    intent = _type_mask(code, HIGH_INTENT)
    out["days_since_high_intent"] = _min_age(snap[intent], age[intent], n)

    weights = np.array([ENGAGEMENT_WEIGHTS.get(t, 1.0) for t in ACTIVITY_TYPES])
    event_weight = np.where(known, weights[np.clip(code, 0, None)], 1.0)
    decay = np.power(0.5, age / half_life_days)
    out["engagement_decayed"] = _per_snap(snap, n, event_weight * decay)

    rows = ev["row"].to_numpy()
    out["distinct_assets"] = _distinct(snap, activities["asset"], rows, n)
    out["distinct_topics"] = _distinct(snap, activities["topic"], rows, n)

    sent = _per_snap(snap[code == TYPE_INDEX["email_sent"]], n)
    opened = _per_snap(snap[code == TYPE_INDEX["email_open"]], n)
    clicked = _per_snap(snap[code == TYPE_INDEX["email_click"]], n)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["email_open_rate"] = np.where(sent > 0, np.minimum(opened / sent, 1.0), np.nan)
        out["email_click_rate"] = np.where(sent > 0, np.minimum(clicked / sent, 1.0), np.nan)

    recent = _per_snap(snap[age < 14], n)
    before = _per_snap(snap[(age >= 14) & (age < 28)], n)
    out["velocity_14d"] = (recent + 1.0) / (before + 1.0)
    out["marketing_actions"] = _per_snap(snap[_type_mask(code, MARKETING_ACTIONS)], n)
    out["physical_touches"] = _per_snap(snap[_type_mask(code, PHYSICAL)], n)

    as_of = snapshots["as_of"].to_numpy("datetime64[ns]")
    created = created_at.to_numpy("datetime64[ns]")
    out["lead_age_days"] = (as_of - created).astype("timedelta64[ns]").astype(np.int64) / DAY_NS
    return pd.DataFrame(out, index=snapshots.index)


def recent_events(
    activities: pd.DataFrame, snapshots: pd.DataFrame, limit: int = 30
) -> pd.DataFrame:
    """The last ``limit`` events of each snapshot, newest first: what reason texts cite.

    Columns: ``snap``, ``occurred_at``, ``activity_type``, ``asset``, ``topic``, ``age_days``.
    """
    ev = events_before(activities, snapshots)
    ev = ev.sort_values(["snap", "age_days", "row"], kind="stable")
    ev = ev[ev.groupby("snap", sort=False).cumcount() < limit]
    rows = ev["row"].to_numpy()
    picked = activities.iloc[rows]
    return pd.DataFrame(
        {
            "snap": ev["snap"].to_numpy(),
            "occurred_at": picked["occurred_at"].to_numpy(),
            "activity_type": picked["activity_type"].to_numpy(object),
            "asset": picked["asset"].to_numpy(object) if "asset" in picked else None,
            "topic": picked["topic"].to_numpy(object) if "topic" in picked else None,
            "age_days": ev["age_days"].to_numpy(),
        }
    )
