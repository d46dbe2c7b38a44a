"""The one feature function that training and serving share.

``build_features(tables, as_of=...)`` gives every lead that existed at ``as_of`` its features;
``build_features(tables, snapshots=...)`` does the same for many ``(lead_id, as_of)`` pairs, as
training needs. Serving calls the first with a one-lead CRM and ``as_of`` = now. Both run the same
code below; only events strictly before each row's ``as_of`` are ever read.

Fields of the leads table (job title, country ...) are read as they are now: the contract has no
history of field edits, so a field that sales fills in after the outcome must not be declared as a
feature (``leadscore audit-data`` finds such columns).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.behaviour import behaviour_features, events_before, recent_events
from features.contract import CRMTables
from features.dedupe import duplicate_groups
from features.fit import fit_features
from features.interest import DEFAULT_LOCATIONS, Location, interest_field, nearest_location
from features.quality import quality_flags
from features.registry import FEATURES, feature_names

CONTEXT_COLUMNS = ("email_domain", "nearest_location")


@dataclass(frozen=True)
class FeatureConfig:
    """What the feature pipeline may vary; stored with every model so serving matches training."""

    half_life_days: float = 30.0
    merge_duplicates: bool = True
    extra_features: tuple[str, ...] = ()
    locations: tuple[Location, ...] = DEFAULT_LOCATIONS


def model_columns(config: FeatureConfig = FeatureConfig()) -> list[str]:
    """The model's inputs in a fixed order: registry features, then declared extra columns."""
    return [*feature_names(), *config.extra_features]


def categorical_columns(config: FeatureConfig = FeatureConfig()) -> list[str]:
    categorical = [f.name for f in FEATURES.values() if f.kind == "category"]
    return categorical


def snapshots_at(leads: pd.DataFrame, as_of: pd.Timestamp | str) -> pd.DataFrame:
    """One snapshot per lead that existed at ``as_of``."""
    moment = pd.Timestamp(as_of)
    existing = leads.loc[leads["created_at"] <= moment, "lead_id"]
    return pd.DataFrame(
        {"lead_id": existing.to_numpy(), "as_of": np.full(len(existing), moment, "datetime64[ns]")}
    )


def build_features(
    tables: CRMTables,
    as_of: pd.Timestamp | str | None = None,
    snapshots: pd.DataFrame | None = None,
    config: FeatureConfig = FeatureConfig(),
) -> pd.DataFrame:
    """Features per snapshot: ``lead_id``, ``as_of``, ``person_id``, model columns, context.

    Give either ``as_of`` (every lead created by then) or ``snapshots`` (columns ``lead_id`` and
    ``as_of``, one row per wanted snapshot; output rows keep their order).
    """
    if (as_of is None) == (snapshots is None):
        raise ValueError("give exactly one of as_of or snapshots")
    if snapshots is None:
        snapshots = snapshots_at(tables.leads, as_of)
    snapshots = snapshots[["lead_id", "as_of"]].reset_index(drop=True)
    snapshots["as_of"] = snapshots["as_of"].astype("datetime64[ns]")

    leads = tables.leads.drop_duplicates("lead_id").set_index("lead_id", drop=False)
    unknown = ~snapshots["lead_id"].isin(leads.index)
    if unknown.any():
        missing = snapshots.loc[unknown, "lead_id"].iloc[0]
        raise KeyError(f"snapshot for lead_id {missing!r}, which is not in the leads table")

    person = person_of(leads, config)
    activities = _person_activities(tables.activities, person)
    keyed = snapshots.assign(key=snapshots["lead_id"].map(person).to_numpy())
    own = leads.loc[snapshots["lead_id"].to_numpy()].reset_index(drop=True)

    events = events_before(activities, keyed)
    behaviour = behaviour_features(
        activities, keyed, own["created_at"], config.half_life_days, events=events
    )
    per_lead = _lead_features(leads, config).loc[snapshots["lead_id"].to_numpy()]
    per_lead = per_lead.reset_index(drop=True)
    interest = interest_field(activities, keyed, config.half_life_days, events=events)

    out = pd.concat(
        [
            snapshots.assign(person_id=keyed["key"].to_numpy()),
            behaviour,
            per_lead,
            interest.rename("interest_field"),
        ],
        axis=1,
    )
    ordered = ["lead_id", "as_of", "person_id", *model_columns(config)]
    flags = [c for c in out.columns if c.startswith("flag_")]
    return out[ordered + flags + list(CONTEXT_COLUMNS)]


def explain_events(
    tables: CRMTables,
    features: pd.DataFrame,
    config: FeatureConfig = FeatureConfig(),
    limit: int = 30,
) -> pd.DataFrame:
    """The recent events behind each row of ``features`` (newest first), for reason texts.

    Same person grouping and same ``as_of`` cut as the features themselves; column ``snap`` is
    the row position in ``features``.
    """
    leads = tables.leads.drop_duplicates("lead_id").set_index("lead_id", drop=False)
    activities = _person_activities(tables.activities, person_of(leads, config))
    keyed = pd.DataFrame(
        {"key": features["person_id"].to_numpy(), "as_of": features["as_of"].to_numpy()}
    )
    return recent_events(activities, keyed, limit=limit)


def person_of(leads: pd.DataFrame, config: FeatureConfig) -> pd.Series:
    """lead_id -> the person whose merged history the lead is scored on."""
    if config.merge_duplicates:
        return duplicate_groups(leads.reset_index(drop=True))
    return pd.Series(leads.index.to_numpy(), index=leads.index)


def _person_activities(activities: pd.DataFrame, person: pd.Series) -> pd.DataFrame:
    return activities.assign(
        lead_id=activities["lead_id"].map(person).fillna(activities["lead_id"])
    )


def _lead_features(leads: pd.DataFrame, config: FeatureConfig) -> pd.DataFrame:
    """Everything that depends on the lead record alone, computed once per lead."""
    fit = fit_features(leads)
    flags = quality_flags(leads.reset_index(drop=True)).set_axis(leads.index)
    out = pd.concat([fit, flags], axis=1)
    out["nearest_location"] = [
        nearest_location(city, code, config.locations)
        for city, code in zip(
            leads["city"].astype(object).where(leads["city"].notna(), None),
            out["country_code"],
            strict=True,
        )
    ]
    for column in config.extra_features:
        if column not in leads:
            raise KeyError(f"extra feature {column!r} is not a column of the leads table")
        values = leads[column]
        numeric = pd.to_numeric(values, errors="coerce")
        out[column] = (
            numeric.astype(float)
            if numeric.notna().sum() == values.notna().sum()
            else (values.astype(object))
        )
    return out
