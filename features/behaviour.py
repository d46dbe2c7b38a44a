"""Behaviour features: what a lead did before its scoring moment, counted, dated and decayed.

Everything works on *snapshots*, a frame of ``key`` (whose history counts, normally the person a
lead belongs to) and ``as_of``. Events at or after a snapshot's ``as_of`` are dropped before any
aggregate is taken, which is the one rule that keeps training and serving honest. Aggregates are
numpy bincounts over integer codes, so 100k leads with millions of events take seconds, and the
same code costs well under a millisecond for one lead in an HTTP request: no intermediate
DataFrames, only arrays.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.contract import ACTIVITY_TYPES
from features.registry import (
    ENGAGEMENT_WEIGHTS,
    HIGH_INTENT,
    MARKETING_ACTIONS,
    NOT_CONTENT,
    OUTBOUND,
    PHYSICAL,
    WINDOWS,
    count_name,
)

DAY_NS = 86_400 * 10**9
TYPE_INDEX = {name: i for i, name in enumerate(ACTIVITY_TYPES)}
N_TYPES = len(ACTIVITY_TYPES)
# Below these sizes plain Python beats setting up a vectorised call (one lead in a request).
# Both ways give the same answer; tests set them to 0 to hold the two to that.
SMALL = 256
DICT_LOOKUP = 4096

# Lookup tables indexed by type code; code -1 (a type of the CRM's own) reads the last entry.
_WEIGHT = np.array([ENGAGEMENT_WEIGHTS.get(t, 1.0) for t in ACTIVITY_TYPES] + [1.0])


def _type_table(types: tuple[str, ...]) -> np.ndarray:
    return np.array([t in types for t in ACTIVITY_TYPES] + [False])


_HIGH_INTENT = _type_table(HIGH_INTENT)
_OUTBOUND = _type_table(OUTBOUND)
_NOT_CONTENT = _type_table(NOT_CONTENT)
_MARKETING = _type_table(MARKETING_ACTIONS)
_PHYSICAL = _type_table(PHYSICAL)

# The columns of `behaviour_features`, in registry order.
BEHAVIOUR_COLUMNS = (
    *(count_name(t, window) for t in ACTIVITY_TYPES for window in WINDOWS),
    "n_activities_30d",
    "days_since_last_activity",
    "days_since_high_intent",
    "engagement_decayed",
    "distinct_assets",
    "distinct_topics",
    "email_open_rate",
    "email_click_rate",
    "velocity_14d",
    "marketing_actions",
    "physical_touches",
    "lead_age_days",
)


# --- codes -------------------------------------------------------------------------------------


def value_codes(values: pd.Series | np.ndarray) -> tuple[np.ndarray, list]:
    """``pd.factorize`` without its per-call overhead: an integer code per value in order of first
    appearance (-1 for missing) and the distinct values as a list.

    pyarrow-backed columns (what the loaders give) are dictionary-encoded by arrow directly, as
    ``pd.factorize`` does for them too, and a request's few values are coded in a dict; both give
    exactly the codes of ``pd.factorize`` (a property test holds them to it).
    """
    array = values.array if isinstance(values, pd.Series) else values
    if not isinstance(array, pd.arrays.ArrowExtensionArray):
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        return codes, list(uniques)
    if len(array) < SMALL or not len(array):
        where: dict[object, int] = {}
        items = array.__arrow_array__().to_pylist()
        codes = [-1 if item is None else where.setdefault(item, len(where)) for item in items]
        return np.array(codes, dtype=np.intp), list(where)
    encoded = array.__arrow_array__().dictionary_encode().combine_chunks()
    indices = encoded.indices
    if indices.null_count:
        indices = indices.fill_null(-1)
    codes = indices.to_numpy(zero_copy_only=False).astype(np.intp, copy=False)
    return codes, encoded.dictionary.to_pylist()


def lookup(keys: Sequence[object], wanted: Sequence[object]) -> np.ndarray:
    """Position of each wanted value in ``keys`` (distinct values), -1 where it is not there."""
    if len(keys) * len(wanted) <= DICT_LOOKUP:  # a request's few leads: no index to build
        where = {key: i for i, key in enumerate(keys)}
        return np.array([where.get(value, -1) for value in wanted], dtype=np.intp)
    index = pd.Index(np.asarray(keys, dtype=object) if isinstance(keys, list) else keys)
    target = np.asarray(wanted, dtype=object) if isinstance(wanted, list) else wanted
    return index.get_indexer(target).astype(np.intp, copy=False)


def type_codes(activity_type: pd.Series) -> np.ndarray:
    """Index into ACTIVITY_TYPES per event (-1: a type of the CRM's own), via distinct values."""
    codes, uniques = value_codes(activity_type)
    table = np.array([TYPE_INDEX.get(u, -1) for u in uniques] + [-1], dtype=np.int16)
    return table[codes]


# --- events before as_of -----------------------------------------------------------------------


@dataclass(frozen=True)
class Events:
    """Each snapshot joined to its key's events strictly before ``as_of``, as arrays.

    ``snap`` is the row position in the snapshots, ``row`` the position in the activities; the
    pairs come in activity order, and per activity in snapshot order.
    """

    snap: np.ndarray
    age_days: np.ndarray
    type_code: np.ndarray
    row: np.ndarray

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "snap": self.snap,
                "age_days": self.age_days,
                "type_code": self.type_code,
                "row": self.row,
            }
        )

    @classmethod
    def of(cls, events: pd.DataFrame | Events) -> Events:
        if isinstance(events, Events):
            return events
        return cls(
            events["snap"].to_numpy(),
            events["age_days"].to_numpy(),
            events["type_code"].to_numpy(),
            events["row"].to_numpy(),
        )


def join_events(
    act_key: np.ndarray,
    act_time: np.ndarray,
    act_type: np.ndarray,
    snap_key: np.ndarray,
    snap_time: np.ndarray,
) -> Events:
    """The point-in-time join, on integer keys (``act_key`` -1: nobody's) and int64 nanoseconds.

    ``act_type`` holds the type code of every activity. Only events strictly before the
    snapshot's ``as_of`` are kept.
    """
    rows = np.flatnonzero(act_key >= 0)
    keys = act_key[rows]
    n_keys = int(max(keys.max(initial=-1), snap_key.max(initial=-1))) + 1
    per_key = np.bincount(snap_key, minlength=n_keys)
    if per_key.max(initial=0) <= 1:  # one snapshot per key: a lookup, no repeat
        position = np.full(n_keys, -1, dtype=np.intp)
        position[snap_key] = np.arange(len(snap_key))
        snap = position[keys]
        has = snap >= 0
        rows, snap = rows[has], snap[has]
    else:  # several moments per key: every event paired with each of its key's snapshots
        by_key = np.argsort(snap_key, kind="stable")
        start = np.cumsum(per_key) - per_key
        repeat = per_key[keys]
        ends = np.cumsum(repeat)
        offset = np.arange(ends[-1] if len(ends) else 0) - np.repeat(ends - repeat, repeat)
        snap = by_key[np.repeat(start[keys], repeat) + offset]
        rows = np.repeat(rows, repeat)
    t, moment = act_time[rows], snap_time[snap]
    before = t < moment
    rows, snap = rows[before], snap[before]
    age = (moment[before] - t[before]) / DAY_NS
    return Events(snap, age, act_type[rows], rows)


def _key_codes(activities: pd.DataFrame, snapshots: pd.DataFrame) -> tuple[np.ndarray, ...]:
    snap_codes, keys = value_codes(snapshots["key"])
    snap_codes = np.where(snap_codes < 0, len(keys), snap_codes)  # missing: nobody's events
    act_codes, act_ids = value_codes(activities["lead_id"])
    act_key = np.append(lookup(keys, act_ids), -1)[act_codes]
    return act_key, snap_codes


def _times(values: pd.Series) -> np.ndarray:
    return values.to_numpy("datetime64[ns]").view(np.int64)


def events_before(activities: pd.DataFrame, snapshots: pd.DataFrame) -> pd.DataFrame:
    """Each snapshot joined to its key's events strictly before ``as_of``.

    Returns columns ``snap`` (row position in ``snapshots``), ``age_days``, ``type_code`` (index
    into ACTIVITY_TYPES, -1 for types we do not know) and ``row`` (position in ``activities``).
    """
    return event_arrays(activities, snapshots).frame()


def event_arrays(activities: pd.DataFrame, snapshots: pd.DataFrame) -> Events:
    """:func:`events_before` as arrays."""
    act_key, snap_key = _key_codes(activities, snapshots)
    return join_events(
        act_key,
        _times(activities["occurred_at"]),
        type_codes(activities["activity_type"]),
        snap_key,
        _times(snapshots["as_of"]),
    )


# --- aggregates --------------------------------------------------------------------------------


def _per_snap(snap: np.ndarray, n: int, weights: np.ndarray | None = None) -> np.ndarray:
    return np.bincount(snap, weights=weights, minlength=n).astype(float)


def _min_age(snap: np.ndarray, age: np.ndarray, n: int) -> np.ndarray:
    out = np.full(n, np.inf)
    np.minimum.at(out, snap, age)
    out[out == np.inf] = np.nan
    return out


def _distinct(snap: np.ndarray, codes: np.ndarray, n: int) -> np.ndarray:
    """Distinct non-missing codes per snapshot (``codes`` of the events, -1: missing)."""
    keep = codes >= 0
    if not keep.any():
        return np.zeros(n)
    base = int(codes.max()) + 1
    pairs = np.sort(snap[keep].astype(np.int64) * base + codes[keep])
    first = np.r_[True, pairs[1:] != pairs[:-1]]  # np.unique, without its slow hash path
    return _per_snap(pairs[first] // base, n)


def behaviour_arrays(
    ev: Events,
    n: int,
    as_of: np.ndarray,
    created: np.ndarray,
    asset_codes: np.ndarray,
    topic_codes: np.ndarray,
    half_life_days: float = 30.0,
) -> dict[str, np.ndarray]:
    """The behaviour features of ``n`` snapshots as arrays, keyed in BEHAVIOUR_COLUMNS order.

    ``as_of`` and ``created`` are ``datetime64[ns]`` per snapshot; ``asset_codes`` and
    ``topic_codes`` are :func:`value_codes` per activity (indexed by ``ev.row``).
    """
    snap, age, code = ev.snap, ev.age_days, ev.type_code
    known = code >= 0
    per_window = []
    for window in WINDOWS:
        inside = known & (age < window)
        flat = snap[inside].astype(np.int64) * N_TYPES + code[inside]
        counts = np.bincount(flat, minlength=n * N_TYPES).reshape(n, N_TYPES)
        per_window.append(counts.T.astype(float))  # one contiguous row per type
    out: dict[str, np.ndarray] = {}
    names = iter(BEHAVIOUR_COLUMNS)
    for t in range(N_TYPES):
        for counts in per_window:
            out[next(names)] = counts[t]

    own = ~_OUTBOUND[code]  # the lead's own actions: an email we sent is none of them
    out["n_activities_30d"] = _per_snap(snap[own & (age < 30)], n)
    out["days_since_last_activity"] = _min_age(snap[own], age[own], n)
    intent = _HIGH_INTENT[code]
    out["days_since_high_intent"] = _min_age(snap[intent], age[intent], n)
    decay = np.power(0.5, age / half_life_days)
    out["engagement_decayed"] = _per_snap(snap, n, _WEIGHT[code] * decay)
    rows = ev.row
    content = ~_NOT_CONTENT[code]
    out["distinct_assets"] = _distinct(snap[content], asset_codes[rows[content]], n)
    out["distinct_topics"] = _distinct(snap[own], topic_codes[rows[own]], n)

    sent = _per_snap(snap[code == TYPE_INDEX["email_sent"]], n)
    opened = _per_snap(snap[code == TYPE_INDEX["email_open"]], n)
    clicked = _per_snap(snap[code == TYPE_INDEX["email_click"]], n)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["email_open_rate"] = np.where(sent > 0, np.minimum(opened / sent, 1.0), np.nan)
        out["email_click_rate"] = np.where(sent > 0, np.minimum(clicked / sent, 1.0), np.nan)

    recent = _per_snap(snap[own & (age < 14)], n)
    before = _per_snap(snap[own & (age >= 14) & (age < 28)], n)
    out["velocity_14d"] = (recent + 1.0) / (before + 1.0)
    out["marketing_actions"] = _per_snap(snap[_MARKETING[code]], n)
    out["physical_touches"] = _per_snap(snap[_PHYSICAL[code]], n)
    out["lead_age_days"] = (as_of - created).view(np.int64) / DAY_NS
    return out


def behaviour_features(
    activities: pd.DataFrame,
    snapshots: pd.DataFrame,
    created_at: pd.Series,
    half_life_days: float = 30.0,
    events: pd.DataFrame | Events | None = None,
) -> pd.DataFrame:
    """Counts per type and window, recency, decayed engagement, breadth, rates and velocity.

    ``created_at`` is aligned with ``snapshots`` (the lead's own creation time); ``events`` is
    :func:`events_before` of the same inputs, when the caller already has it.
    """
    ev = event_arrays(activities, snapshots) if events is None else Events.of(events)
    out = behaviour_arrays(
        ev,
        len(snapshots),
        snapshots["as_of"].to_numpy("datetime64[ns]"),
        created_at.to_numpy("datetime64[ns]"),
        value_codes(activities["asset"])[0] if "asset" in activities else _missing(activities),
        value_codes(activities["topic"])[0] if "topic" in activities else _missing(activities),
        half_life_days,
    )
    return pd.DataFrame(out, index=snapshots.index)


def _missing(activities: pd.DataFrame) -> np.ndarray:
    return np.full(len(activities), -1, dtype=np.intp)


def recent_of(ev: Events, activities: pd.DataFrame, limit: int = 30) -> pd.DataFrame:
    """The last ``limit`` of each snapshot's own actions (emails we sent are none), newest first:
    what reason texts and the handover note cite.

    Columns: ``snap``, ``occurred_at``, ``activity_type``, ``asset``, ``topic``, ``age_days``,
    ``type_code`` (index into ``ACTIVITY_TYPES``, -1 for a type of the CRM's own).
    """
    return pd.DataFrame(recent_arrays(ev, activities, limit))


def _rank_in_snap(snap: np.ndarray) -> np.ndarray:
    """Each position's place within its (sorted) snapshot: 0, 1, 2, ..."""
    starts = np.flatnonzero(np.r_[True, snap[1:] != snap[:-1]]) if len(snap) else snap
    return np.arange(len(snap)) - np.repeat(starts, np.diff(np.r_[starts, len(snap)]))


def _ties_by_content(
    order: np.ndarray, ev: Events, activities: pd.DataFrame, limit: int
) -> np.ndarray:
    """Events of one moment in the order of what they are (type, asset, ...), not of where the
    CRM stored them: the same CRM from a file or a database cites the same events alike.

    Only ties that reach into a snapshot's first ``limit`` events are sorted: a CRM with dates
    and no times ties nearly every event, and the rest are never cited.
    """
    snap, age = ev.snap[order], ev.age_days[order]
    same = (snap[1:] == snap[:-1]) & (age[1:] == age[:-1])
    if not same.any():
        return order
    group = np.cumsum(np.r_[True, ~same]) - 1
    first_rank = _rank_in_snap(snap)[np.flatnonzero(np.r_[True, ~same])][group]
    tied = np.flatnonzero((np.r_[same, False] | np.r_[False, same]) & (first_rank < limit))
    rows = ev.row[order[tied]]
    keys = [rows]  # np.lexsort: the last key sorts first
    for name in ("campaign", "channel", "topic", "asset", "activity_type"):
        if name in activities:
            keys.append(pd.factorize(activities[name].array.take(rows), sort=True)[0])
    keys.append(group[tied])
    order = order.copy()
    order[tied] = order[tied[np.lexsort(keys)]]
    return order


def recent_arrays(
    ev: Events,
    activities: pd.DataFrame,
    limit: int = 30,
    codes: Mapping[str, tuple[np.ndarray, list]] | None = None,
    also: tuple[Collection[str], float] | None = None,
) -> dict[str, np.ndarray]:
    """:func:`recent_of` as columns (name -> array), without building a frame.

    ``codes`` (:func:`value_codes` of activity columns, e.g. ``asset``) add a ``<name>_code``
    column each: the value's code, -1 where it is missing or empty. Texts compare assets by code.

    ``also`` (activity types, days): events of these types younger than that many days are
    kept beyond ``limit`` too, still newest first: routing asks whether a lead requested contact
    lately, and a busy lead's request can lie behind thirty page views.
    """
    own = np.flatnonzero(~_OUTBOUND[ev.type_code])  # texts cite what the lead did
    order = own[np.lexsort((ev.row[own], ev.age_days[own], ev.snap[own]))]
    order = _ties_by_content(order, ev, activities, limit)
    kept = _rank_in_snap(ev.snap[order]) < limit
    if also is not None and also[0] and not kept.all():
        types, days = also
        beyond = np.flatnonzero(~kept & (ev.age_days[order] < days))
        kinds = ev.type_code[order[beyond]]
        wanted = np.isin(kinds, [TYPE_INDEX[t] for t in types if t in TYPE_INDEX])
        if any(t not in TYPE_INDEX for t in types) and (kinds < 0).any():  # a CRM's own types
            own = np.flatnonzero(kinds < 0)
            named = activities["activity_type"].array.take(ev.row[order[beyond[own]]])
            wanted[own] = np.isin(np.asarray(named, dtype=object), list(types))
        kept[beyond[wanted]] = True
    order = order[kept]
    rows = ev.row[order]

    def column(name: str) -> np.ndarray:
        if name not in activities:
            return np.full(len(rows), None, dtype=object)
        return activities[name].array.take(rows).to_numpy(dtype=object)

    out = {
        "snap": ev.snap[order],
        "occurred_at": activities["occurred_at"].to_numpy("datetime64[ns]")[rows],
        "activity_type": column("activity_type"),
        "asset": column("asset"),
        "topic": column("topic"),
        "age_days": ev.age_days[order],
        "type_code": ev.type_code[order],
    }
    for name, (per_row, uniques) in (codes or {}).items():
        usable = np.array([isinstance(u, str) and u != "" for u in uniques] + [False])
        code = per_row[rows]
        out[f"{name}_code"] = np.where(usable[code], code, -1)
    return out
