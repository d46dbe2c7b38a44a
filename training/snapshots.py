"""Point-in-time training rows: each lead seen at creation and every N days after, labelled later.

A lead is scored many times in its life, so it is trained on many moments too: a snapshot at
``as_of`` carries only what was known before ``as_of`` (the shared feature function sees to that)
and a label from what happened after it, a won deal closed within the horizon. Three kinds of
snapshot cannot be used and are counted instead of silently lost:

* at or after the lead's close (the question "will it buy?" is answered),
* whose horizon has not fully passed before the data ends (the label is not known yet),
* of leads that objected to profiling (``consent_profiling`` is false), on their own record or
  on a record of the same person (features pool a person's records).

Usage::

    labelled = label_snapshots(tables, SnapshotConfig(every_days=30, horizon_days=90))
    frame = training_frame(tables, labelled.snapshots)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from features.contract import CRMTables
from features.pipeline import FeatureConfig, build_features, objecting_leads
from training.split import DataError

DAY = pd.Timedelta(days=1)


@dataclass(frozen=True)
class SnapshotConfig:
    """How often a lead is looked at, and how far ahead its label looks."""

    every_days: int = 30
    horizon_days: int = 90

    def __post_init__(self) -> None:
        if self.every_days <= 0 or self.horizon_days <= 0:
            raise ValueError("every_days and horizon_days must be positive")


@dataclass
class LabelledSnapshots:
    """Snapshots with ``lead_id``, ``as_of``, ``created_at``, ``label``; and what was left out."""

    snapshots: pd.DataFrame
    data_end: pd.Timestamp
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def positives(self) -> int:
        return int(self.snapshots["label"].sum())


def data_end(tables: CRMTables) -> pd.Timestamp:
    """The latest moment the data knows about: newest creation, event or close."""
    moments = [
        tables.leads["created_at"].max(),
        tables.activities["occurred_at"].max() if len(tables.activities) else pd.NaT,
        tables.outcomes["closed_at"].max() if len(tables.outcomes) else pd.NaT,
    ]
    known = [pd.Timestamp(m) for m in moments if not pd.isna(m)]
    if not known:
        raise DataError("the data has no timestamps at all: no lead, activity or outcome")
    return max(known)


def final_close(outcomes: pd.DataFrame) -> pd.Series:
    """Per lead, the moment its story ends: the first won deal, or else its last lost one.

    A lead that lost a deal and bought later stays open after the loss, so the later win still
    labels its earlier snapshots.
    """
    if outcomes.empty:
        return pd.Series(dtype="datetime64[ns]", name="closed_at")
    won = outcomes[outcomes["won"].fillna(False).astype(bool)]
    first_won = won.groupby("lead_id", observed=True)["closed_at"].min()
    last_any = outcomes.groupby("lead_id", observed=True)["closed_at"].max()
    return first_won.combine_first(last_any).rename("closed_at")


def snapshot_grid(leads: pd.DataFrame, every_days: int, until: pd.Timestamp) -> pd.DataFrame:
    """Every lead at creation and every ``every_days`` after, up to ``until`` (inclusive)."""
    created = leads["created_at"].to_numpy("datetime64[ns]")
    span = (np.datetime64(until, "ns") - created) / np.timedelta64(1, "D")
    per_lead = np.where(span >= 0, np.floor(span / every_days).astype(np.int64) + 1, 0)
    rows = np.repeat(np.arange(len(leads)), per_lead)
    step = np.arange(len(rows)) - np.repeat(np.cumsum(per_lead) - per_lead, per_lead)
    as_of = created[rows] + step.astype("timedelta64[D]") * every_days
    return pd.DataFrame(
        {
            "lead_id": leads["lead_id"].to_numpy()[rows],
            "as_of": as_of.astype("datetime64[ns]"),
            "created_at": created[rows],
            "step": step,
        }
    )


def closed_by(tables: CRMTables, moment: pd.Timestamp) -> set[str]:
    """The leads whose story has ended at ``moment`` (:func:`final_close`): nothing to route."""
    close = final_close(tables.outcomes)
    return {str(lead_id) for lead_id in close.index[(close <= moment).to_numpy(bool)].tolist()}


def won_within(snapshots: pd.DataFrame, outcomes: pd.DataFrame, horizon_days: int) -> np.ndarray:
    """True where the lead has a won deal with ``closed_at`` in ``(as_of, as_of + horizon]``."""
    won = outcomes.loc[outcomes["won"].fillna(False).astype(bool), ["lead_id", "closed_at"]]
    if won.empty or snapshots.empty:
        return np.zeros(len(snapshots), dtype=bool)
    pairs = snapshots[["lead_id", "as_of"]].reset_index(drop=True).reset_index(names="row")
    joined = pairs.merge(won, on="lead_id", how="inner")
    horizon = pd.Timedelta(days=horizon_days)
    inside = (joined["closed_at"] > joined["as_of"]) & (
        joined["closed_at"] <= joined["as_of"] + horizon
    )
    label = np.zeros(len(snapshots), dtype=bool)
    label[joined.loc[inside, "row"].to_numpy()] = True
    return label


def label_snapshots(
    tables: CRMTables,
    config: SnapshotConfig = SnapshotConfig(),
    features: FeatureConfig = FeatureConfig(),
) -> LabelledSnapshots:
    """The labelled snapshot table plus counts of every snapshot and lead that was left out."""
    end = data_end(tables)
    leads = tables.leads.drop_duplicates("lead_id")
    objected = leads["lead_id"].isin(objecting_leads(tables.leads, features)).to_numpy(bool)
    grid = snapshot_grid(leads[~objected], config.every_days, end)

    close = grid["lead_id"].map(final_close(tables.outcomes))
    after_close = (grid["as_of"] >= close).fillna(False).to_numpy(bool)
    open_horizon = (grid["as_of"] + config.horizon_days * DAY > end).to_numpy(bool) & ~after_close
    kept = grid[~after_close & ~open_horizon].reset_index(drop=True)
    kept["label"] = won_within(kept, tables.outcomes, config.horizon_days).astype(np.int8)

    counts = {
        "leads": len(leads),
        "leads_without_consent": int(objected.sum()),
        "leads_used": int(kept["lead_id"].nunique()),
        "snapshots_considered": len(grid),
        "snapshots_after_close": int(after_close.sum()),
        "snapshots_horizon_open": int(open_horizon.sum()),
        "snapshots_labelled": len(kept),
        "positives": int(kept["label"].sum()),
    }
    return LabelledSnapshots(kept.drop(columns="step"), end, counts)


def open_snapshots(
    tables: CRMTables,
    config: SnapshotConfig = SnapshotConfig(),
    weeks: int = 13,
    features: FeatureConfig = FeatureConfig(),
    objecting: bool = False,
) -> pd.DataFrame:
    """Snapshots of still-open, consenting leads in the last ``weeks`` before the data ends.

    This is the population a model scores now (labels unknown yet): the volume sales capacity is
    measured against, and what ``leadscore thresholds`` scores. ``objecting``: leads that
    objected to profiling too (not scored, but routed by their requests for contact).
    """
    end = data_end(tables)
    leads = tables.leads.drop_duplicates("lead_id")
    if not objecting:
        objected = leads["lead_id"].isin(objecting_leads(tables.leads, features))
        leads = leads[~objected.to_numpy(bool)]
    grid = snapshot_grid(leads, config.every_days, end)
    close = grid["lead_id"].map(final_close(tables.outcomes))
    still_open = ~(grid["as_of"] >= close).fillna(False).to_numpy(bool)
    recent = (grid["as_of"] > end - pd.Timedelta(weeks=weeks)).to_numpy(bool)
    return grid[still_open & recent].drop(columns="step").reset_index(drop=True)


def training_frame(
    tables: CRMTables, snapshots: pd.DataFrame, config: FeatureConfig = FeatureConfig()
) -> pd.DataFrame:
    """Features for each snapshot from the shared feature function, with the label alongside.

    Rows keep the order of ``snapshots``; columns ``label`` and ``created_at`` are carried over.
    """
    features = build_features(tables, snapshots=snapshots[["lead_id", "as_of"]], config=config)
    features["created_at"] = snapshots["created_at"].to_numpy()
    if "label" in snapshots:
        features["label"] = snapshots["label"].to_numpy()
    return features
