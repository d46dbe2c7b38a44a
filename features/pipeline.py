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

from collections.abc import Collection
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from features.behaviour import (
    Events,
    behaviour_arrays,
    join_events,
    lookup,
    recent_arrays,
    type_codes,
    value_codes,
)
from features.contract import CRMTables, to_numeric
from features.dedupe import duplicate_groups, person_rows
from features.fit import fit_columns
from features.interest import DEFAULT_LOCATIONS, Location, interest_values, nearest_location
from features.loaders import CONSENT
from features.quality import QUALITY_FLAGS, flag_arrays
from features.registry import feature_names

CONTEXT_COLUMNS = ("email_domain", "nearest_location")
FLAG_COLUMNS = tuple(flag.column for flag in QUALITY_FLAGS)
GROUPED_FRAME = 1000  # from this many rows on, the output frame is built grouped by dtype


@dataclass(frozen=True)
class FeatureConfig:
    """What the feature pipeline may vary; stored with every model so serving matches training."""

    half_life_days: float = 30.0
    merge_duplicates: bool = True
    extra_features: tuple[str, ...] = ()
    locations: tuple[Location, ...] = DEFAULT_LOCATIONS


def model_columns(config: FeatureConfig = FeatureConfig()) -> list[str]:
    """The model's inputs in a fixed order: registry features, then declared extra columns."""
    return list(_model_columns(tuple(config.extra_features)))


@lru_cache(maxsize=64)
def _model_columns(extra_features: tuple[str, ...]) -> tuple[str, ...]:
    return (*feature_names(), *extra_features)


@lru_cache(maxsize=64)
def _output_columns(extra_features: tuple[str, ...]) -> tuple[str, ...]:
    return (
        "lead_id",
        "as_of",
        "person_id",
        *_model_columns(extra_features),
        *FLAG_COLUMNS,
        *CONTEXT_COLUMNS,
        "consent_profiling",
    )


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

    Everything is computed on arrays and the frame is built once at the end, so one lead in an
    HTTP request costs about a millisecond and 100k leads cost seconds, on the same code.
    """
    return _frame(_build(tables, as_of, snapshots, config)[0])


def features_and_events(
    tables: CRMTables,
    snapshots: pd.DataFrame,
    config: FeatureConfig = FeatureConfig(),
    limit: int = 30,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`build_features` plus :func:`explain_events` of the result, from one event join.

    Scoring needs both; computing them together saves grouping and joining the CRM twice.
    """
    columns, events = feature_columns_and_events(tables, snapshots, config, limit)
    return _frame(columns), pd.DataFrame(events)


def feature_columns_and_events(
    tables: CRMTables,
    snapshots: pd.DataFrame,
    config: FeatureConfig = FeatureConfig(),
    limit: int = 30,
    also: tuple[Collection[str], float] | None = None,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """:func:`features_and_events` as columns (name -> array), before any DataFrame is built.

    The scorer's hot path: building a one-row frame of a hundred columns costs more than
    computing the features, and the model reads arrays anyway. ``also``: see
    :func:`features.behaviour.recent_arrays`.
    """
    columns, crm, ev = _build(tables, None, snapshots, config)
    codes = {name: crm.codes(name) for name in ("asset", "topic")}
    return columns, recent_arrays(ev, crm.activities, limit, codes, also)


def _frame(columns: dict[str, Any]) -> pd.DataFrame:
    if len(columns["as_of"]) < GROUPED_FRAME:
        return pd.DataFrame(columns)
    # Many rows: pandas stacks each run of same-typed columns and then merges the runs, copying
    # everything twice; columns grouped by dtype are stacked once, then put in order.
    by_dtype = sorted(columns, key=lambda name: str(getattr(columns[name], "dtype", "")))
    return pd.DataFrame({name: columns[name] for name in by_dtype})[list(columns)]


def _build(
    tables: CRMTables,
    as_of: pd.Timestamp | str | None,
    snapshots: pd.DataFrame | None,
    config: FeatureConfig,
) -> tuple[dict[str, Any], _Crm, Events]:
    if (as_of is None) == (snapshots is None):
        raise ValueError("give exactly one of as_of or snapshots")
    crm = _Crm(tables, config)
    if snapshots is None:
        moment = pd.Timestamp(as_of)
        created_by = _created_by(tables.leads["created_at"], moment)
        rows = np.flatnonzero(created_by & (crm.lead_codes >= 0))
        position = crm.lead_codes[rows]
        lead_id: object = crm.ids[position]
        when = np.full(len(rows), moment, "datetime64[ns]")
    else:
        lead_id = snapshots["lead_id"].array
        moments = snapshots["as_of"]
        if moments.dtype != "datetime64[ns]":
            moments = moments.astype("datetime64[ns]")
        when = moments.to_numpy()
        wanted = _values(snapshots["lead_id"])
        position = lookup(crm.lead_ids, wanted)
        if (position < 0).any():
            missing = snapshots["lead_id"].iloc[int(np.argmax(position < 0))]
            raise KeyError(f"snapshot for lead_id {missing!r}, which is not in the leads table")

    n = len(position)
    person = crm.person_code[position]
    ev = crm.events(person, when)
    assets = crm.codes("asset")
    topics = crm.codes("topic")
    created = crm.leads["created_at"].to_numpy("datetime64[ns]")[position]
    values = behaviour_arrays(ev, n, when, created, assets[0], topics[0], config.half_life_days)
    values["interest_field"] = interest_values(ev, n, *topics, config.half_life_days)
    per_lead = _lead_columns(crm.leads, config)
    if not (n == len(crm.lead_ids) and (position == np.arange(n)).all()):
        per_lead = {name: column[position] for name, column in per_lead.items()}
    values.update(per_lead)

    out: dict[str, Any] = {"lead_id": lead_id, "as_of": when, "person_id": crm.ids[person]}
    for name in _output_columns(tuple(config.extra_features))[3:-1]:
        out[name] = values[name]
    out["consent_profiling"] = ~crm.objected[position]
    return out, crm, ev


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
    crm = _Crm(tables, config)
    person = lookup(crm.lead_ids, _values(features["person_id"]))
    person[person < 0] = len(crm.lead_ids)  # not a person of these tables: no events
    ev = crm.events(person, features["as_of"].to_numpy("datetime64[ns]"))
    codes = {name: crm.codes(name) for name in ("asset", "topic")}
    return pd.DataFrame(recent_arrays(ev, crm.activities, limit, codes))


def person_of(leads: pd.DataFrame, config: FeatureConfig) -> pd.Series:
    """lead_id -> the person whose merged history the lead is scored on."""
    if config.merge_duplicates:
        return duplicate_groups(leads.reset_index(drop=True))
    return pd.Series(leads.index.to_numpy(), index=leads.index)


def objecting_leads(leads: pd.DataFrame, config: FeatureConfig = FeatureConfig()) -> set[str]:
    """The lead_ids that may not be profiled: the lead objected, or a record merged with it did.

    Features pool a person's records, so one record's objection covers all of them: training
    and scoring leave out the same leads.
    """
    codes, ids = value_codes(leads["lead_id"])
    _, first = np.unique(codes, return_index=True)
    people = leads.iloc[first[codes[first] >= 0]]
    person = person_rows(people) if config.merge_duplicates and len(ids) > 1 else None
    objected = _objected_people(leads, codes, person)
    return {str(lead_id) for lead_id in np.asarray(ids, dtype=object)[objected].tolist()}


def _objected_people(
    leads: pd.DataFrame, lead_codes: np.ndarray, person_code: np.ndarray | None
) -> np.ndarray:
    """Per lead code: the lead or its person objected to profiling (a repeated lead_id: its
    last row says, as a later row of an export updates an earlier one)."""
    n = int(lead_codes.max(initial=-1)) + 1
    objected = np.zeros(n, dtype=bool)
    if CONSENT not in leads or n == 0:
        return objected
    said = _objections(leads[CONSENT])
    if not said.any():
        return objected
    rows = np.flatnonzero(lead_codes >= 0)[::-1]
    _, last = np.unique(lead_codes[rows], return_index=True)
    objected[lead_codes[rows[last]]] = said[rows[last]]
    if person_code is None or not objected.any():
        return objected
    by_person = np.zeros(n, dtype=bool)
    by_person[person_code[objected]] = True
    return by_person[person_code]


def _objections(consent: pd.Series) -> np.ndarray:
    """True where the cell says no; an empty cell is no objection. Without pandas' operators
    where the column is boolean already (every HTTP request reads one)."""
    if pd.api.types.is_bool_dtype(consent.dtype):
        return ~consent.to_numpy(dtype=bool, na_value=True)
    return consent.eq(False).fillna(False).to_numpy(dtype=bool)


class _Crm:
    """The tables reduced to integer codes: each lead record, its person, each activity's person.

    Leads are coded in order of first appearance (a repeated lead_id counts once, its first row
    wins); a person is coded by the code of the lead it is named after.
    """

    def __init__(self, tables: CRMTables, config: FeatureConfig) -> None:
        leads = tables.leads
        self.lead_codes, self.lead_ids = value_codes(leads["lead_id"])
        self.ids = _objects(self.lead_ids)
        n = len(self.lead_ids)
        if n != len(leads):  # repeated lead_ids: keep each one's first row
            _, first = np.unique(self.lead_codes, return_index=True)
            leads = leads.iloc[first[-n:]] if n else leads.iloc[:0]
        self.leads = leads
        if config.merge_duplicates and n > 1:
            self.person_code = person_rows(leads)
        else:
            self.person_code = np.arange(n)
        self.objected = _objected_people(tables.leads, self.lead_codes, self.person_code)
        activities = tables.activities
        act_codes, act_ids = value_codes(activities["lead_id"])
        act_lead = np.append(lookup(self.lead_ids, act_ids), -1)[act_codes]
        self.act_key = np.append(self.person_code, -1)[act_lead]
        self.activities = activities

    def codes(self, column: str) -> tuple[np.ndarray, list]:
        """:func:`value_codes` of an activity column (all -1 when the export has none)."""
        cache = self.__dict__.setdefault("_codes", {})
        if column not in cache:
            cache[column] = _codes(self.activities, column)
        return cache[column]

    def events(self, person: np.ndarray, when: np.ndarray) -> Events:
        """The events of each snapshot's person strictly before its moment."""
        activities = self.activities
        return join_events(
            self.act_key,
            activities["occurred_at"].to_numpy("datetime64[ns]").view(np.int64),
            type_codes(activities["activity_type"]),
            person,
            when.view(np.int64),
        )


def _created_by(created: pd.Series, moment: pd.Timestamp) -> np.ndarray:
    """``created <= moment`` per lead (False where missing)."""
    if created.dtype == "datetime64[ns]" and moment.tzinfo is None:
        return created.to_numpy() <= moment.to_datetime64()
    return (created <= moment).to_numpy(dtype=bool)


def _values(values: pd.Series) -> list:
    """The column as a list of Python objects; pyarrow-backed ones without a detour."""
    array = values.array
    if isinstance(array, pd.arrays.ArrowExtensionArray):
        return array.__arrow_array__().to_pylist()
    return values.tolist()


def _texts(leads: pd.DataFrame, column: str) -> list:
    """A column as a list, None where missing (or where the column is)."""
    if column not in leads:
        return [None] * len(leads)
    values = leads[column]
    if isinstance(values.array, pd.arrays.ArrowExtensionArray):
        return _values(values)
    return values.astype(object).where(values.notna(), None).tolist()


def _objects(items: list) -> np.ndarray:
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


def _codes(activities: pd.DataFrame, column: str) -> tuple[np.ndarray, list]:
    if column in activities:
        return value_codes(activities[column])
    return np.full(len(activities), -1, dtype=np.intp), []


def _lead_columns(leads: pd.DataFrame, config: FeatureConfig) -> dict[str, np.ndarray]:
    """Everything that depends on the lead record alone, computed once per lead."""
    out = fit_columns(leads)
    flags = flag_arrays(leads)
    for flag in QUALITY_FLAGS:
        out[flag.column] = flags[flag.name]
    out["quality_issue_count"] = np.sum([flags[f.name] for f in QUALITY_FLAGS], axis=0, dtype=int)
    out["nearest_location"] = _objects(
        [
            nearest_location(city, code, config.locations)
            for city, code in zip(_texts(leads, "city"), out["country_code"], strict=True)
        ]
    )
    for column in config.extra_features:
        if column not in leads:
            raise KeyError(f"extra feature {column!r} is not a column of the leads table")
        values = leads[column]
        numeric = to_numeric(values)
        out[column] = (
            numeric.astype(float).to_numpy()
            if numeric.notna().sum() == values.notna().sum()
            else values.astype(object).to_numpy()
        )
    return out
