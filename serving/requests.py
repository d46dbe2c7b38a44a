"""What the CRM sends: pydantic request models, and their conversion into contract tables.

A bad request is answered 4xx naming the JSON field (``lead.created_at``,
``activities[3].occurred_at``): the pydantic models below are the data contract for JSON, and a
test checks that an accepted request gives exactly the frames the file loader would give.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Annotated, Any

import numpy as np
import pandas as pd
import pyarrow as pa
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)

from features.contract import (
    COLUMNS,
    EARLIEST,
    LATEST,
    MAX_ID_LENGTH,
    MOMENT_RANGE,
    PANDAS_DTYPES,
    STRING,
    CRMTables,
    empty_table,
    known_activity_type,
    storable,
)
from training.tabular import CELL_LENGTH

# What no store can hold: NUL (PostgreSQL text and JSON refuse it) and a lone surrogate (no
# UTF-8 encoder takes it). Declared text fields refuse both through this pattern (pydantic
# itself refuses lone surrogates); extra fields are checked by :func:`features.contract.storable`.
NO_NUL = r"^[^\x00]*$"


Text = Annotated[str, StringConstraints(max_length=500, pattern=NO_NUL)]
Identifier = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=MAX_ID_LENGTH, pattern=NO_NUL
    ),
]
MAX_ACTIVITIES = 5000


def _in_range(moment: datetime) -> datetime:
    """As a file's timestamps (:data:`features.contract.EARLIEST` to ``LATEST``, in UTC): beyond,
    the features' nanosecond arithmetic would wrap around silently."""
    inside = EARLIEST.year - 1 <= moment.year <= LATEST.year + 1  # UTC is then within reach
    if inside and moment.tzinfo is not None:
        moment_utc = moment.astimezone(UTC).replace(tzinfo=None)
        inside = EARLIEST <= moment_utc <= LATEST
    elif inside:
        inside = EARLIEST <= moment <= LATEST
    if not inside:
        raise ValueError(f"{moment.isoformat()} is outside {MOMENT_RANGE}")
    return moment


Moment = Annotated[datetime, AfterValidator(_in_range)]


def _not_ahead(moment: datetime) -> datetime:
    """A score sees what happened before its moment: one ahead of now would read the future as
    past. A minute's grace for clocks that differ."""
    now = datetime.now(UTC).replace(tzinfo=None)
    if utc_naive(moment) > now + timedelta(minutes=1):
        raise ValueError(f"{moment.isoformat()} is in the future; as_of is a past moment")
    return moment


# The moment a request scores at (a backfill: "what did this lead score on 1 Nov?"); default now.
AsOf = Annotated[datetime, AfterValidator(_in_range), AfterValidator(_not_ahead)]
AS_OF_HELP = (
    "Score as of this past moment (UTC unless it carries an offset): features see only what "
    "happened before it, for a backfill of what a lead scored then. Default: now."
)
MAX_BATCH = 1000

# A CRM's own id for a request (``X-Request-ID``): kept as the answer's and the audit record's
# request_id, so that a call, its answer and its record can be found by one id.
REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def _plain_extra(value: Any) -> Any:
    """Extra fields may become declared features: only plain values are accepted (checked per
    field, so that an error names it: ``lead.owner``)."""
    if not (value is None or isinstance(value, str | int | float | bool)):
        raise ValueError("an extra field must be a string, number or boolean")
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        raise ValueError("a number too large to store")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("not a finite number")
    if isinstance(value, str) and len(value) > 500:
        raise ValueError("longer than 500 characters")
    if isinstance(value, str) and not storable(value):
        raise ValueError("holds NUL or half a surrogate")
    return value


def _not_a_truth_value(value: Any) -> Any:
    """JSON true is 1 to pydantic: "employees": true scored a one-person company."""
    if isinstance(value, bool):
        raise ValueError("a number of employees, not true or false")
    return value


class LeadIn(BaseModel):
    """A lead as the CRM holds it; extra fields are kept (declared extra features)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "example": {
                "lead_id": "L-1001",
                "created_at": "2026-10-02T09:30:00",
                "first_name": "Anna",
                "last_name": "Müller",
                "email": "anna.mueller@acme.de",
                "company": "ACME GmbH",
                "job_title": "Head of Marketing",
                "country": "Germany",
                "city": "Hamburg",
                "employees": 120,
                "source": "webinar",
            }
        },
    )

    lead_id: Identifier
    created_at: Moment
    email: Text | None = None
    first_name: Text | None = None
    last_name: Text | None = None
    phone: Text | None = None
    company: Text | None = None
    job_title: Text | None = None
    industry: Text | None = None
    employees: Annotated[int | None, BeforeValidator(_not_a_truth_value)] = Field(
        None, ge=0, le=10_000_000
    )
    country: Text | None = None
    city: Text | None = None
    source: Text | None = None
    team: Text | None = None
    consent_profiling: bool = True
    __pydantic_extra__: dict[str, Annotated[Any, AfterValidator(_plain_extra)]]  # type: ignore[assignment]

    @model_validator(mode="after")
    def _storable_names(self) -> LeadIn:
        for key in self.model_extra or {}:
            if not storable(key):
                raise ValueError(f"the name of extra field {key!a} holds NUL or half a surrogate")
        return self


class ActivityIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "occurred_at": "2026-11-20T14:03:00",
                "activity_type": "whitepaper_download",
                "asset": "Whitepaper: Marketing Automation Guide",
                "topic": "marketing_automation",
            }
        },
    )

    occurred_at: Moment
    activity_type: Identifier
    asset: Text | None = None
    topic: Text | None = None
    channel: Text | None = None
    campaign: Text | None = None


# A row of an export for the tabular champion (/score_rows): the export's columns as keys, its
# cells as JSON values (a number, true/false, text, or null for an empty cell).
ColumnName = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=NO_NUL)]
# Any JSON value: the cells of the columns the champion reads are checked when the rows are
# read (:func:`training.tabular.read_rows` names row and column), the others are ignored.
Cell = Annotated[
    Any,
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "maxLength": CELL_LENGTH},
                {"type": "number"},
                {"type": "boolean"},
                {"type": "null"},
            ]
        }
    ),
]
Row = Annotated[dict[ColumnName, Cell], Field(min_length=1, max_length=1000)]


# the store's history is what is scored: activities beside a lead_id would be dropped unsaid
STORED_WITH_ACTIVITIES = (
    "'activities' come with 'lead'; a lead sent by 'lead_id' is scored from the lead store's "
    "history (send the whole lead with its activities instead)"
)


class LeadRequest(BaseModel):
    """One lead with its history, or the id of a lead in the store."""

    # a misspelt "activites" would be dropped, and the lead scored as if it had done nothing
    model_config = ConfigDict(extra="forbid")

    lead: LeadIn | None = None
    activities: list[ActivityIn] = Field(default_factory=list, max_length=MAX_ACTIVITIES)
    lead_id: Identifier | None = None

    @model_validator(mode="after")
    def _one_of(self) -> LeadRequest:
        if (self.lead is None) == (self.lead_id is None):
            raise ValueError("give either 'lead' (with 'activities') or 'lead_id'")
        if self.lead_id is not None and self.activities:
            raise ValueError(STORED_WITH_ACTIVITIES)
        return self


def utc_naive(moment: datetime) -> datetime:
    """A request's moment as the tables hold it: naive is UTC, an offset is converted."""
    return moment if moment.tzinfo is None else moment.astimezone(UTC).replace(tzinfo=None)


def _naive_utc(moment: datetime) -> np.datetime64:
    return np.datetime64(utc_naive(moment), "ns")


def _timestamps(values: list[datetime | None]) -> np.ndarray:
    if any(v is None or v.tzinfo is not None for v in values):
        return np.array([_naive_utc(v) for v in values], dtype="datetime64[ns]")
    return np.array(values, dtype="datetime64[ns]")  # all naive: converted in C


def _text(value: object) -> str | None:
    """As the file loader does: surrounding blanks dropped, an empty text is a missing value."""
    if not isinstance(value, str):
        return None
    return value.strip() or None


def typed_table(table: str, rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Contract dtypes straight from validated JSON; the same frame a file would load to.

    Pydantic has already checked every type, so this only converts; no per-cell parsing.
    """
    names = list(COLUMNS[table]) + sorted({k for row in rows for k in row} - set(COLUMNS[table]))
    return typed_columns(table, {name: [row.get(name) for row in rows] for name in names})


def typed_columns(table: str, columns: dict[str, list[Any]]) -> pd.DataFrame:
    """:func:`typed_table` from values by column (contract columns missing here are empty)."""
    n = len(next(iter(columns.values()))) if columns else 0
    data: dict[str, Any] = {}
    for column, kind in COLUMNS[table].items():
        values = columns.get(column) or [None] * n
        if (table, column) == ("activities", "activity_type"):  # as the file loader reads it
            data[column] = _strings(
                [known_activity_type(t) if (t := _text(v)) else t for v in values]
            )
        elif kind in ("id", "str"):
            data[column] = _strings([_text(v) for v in values])
        elif kind == "timestamp":
            data[column] = _timestamps(values)
        else:
            data[column] = pd.array(values, dtype=PANDAS_DTYPES[kind])
    for column in sorted(set(columns) - set(COLUMNS[table])):
        data[column] = columns[column]
    return pd.DataFrame(data, index=pd.RangeIndex(n), copy=False)


def _strings(values: list[str | None]) -> pd.api.extensions.ExtensionArray:
    """The contract's string dtype, built straight from Arrow (four times faster than pd.array)."""
    array = pd.arrays.ArrowStringArray(pa.array(values, type=pa.large_string()))
    assert array.dtype == STRING
    return array


@cache
def _no_outcomes() -> pd.DataFrame:
    """Requests carry no outcomes; one shared empty table (nothing writes to it)."""
    return empty_table("outcomes")


def request_tables(items: list[LeadRequest]) -> CRMTables:
    """Contract tables from inline leads (``lead`` given) of validated requests."""
    leads: list[dict[str, Any]] = []
    activities: dict[str, list[Any]] = {name: [] for name in ("lead_id", *ActivityIn.model_fields)}
    for item in items:
        assert item.lead is not None
        leads.append(item.lead.model_dump())
        activities["lead_id"] += [item.lead.lead_id] * len(item.activities)
        for name in ActivityIn.model_fields:
            activities[name] += [getattr(a, name) for a in item.activities]
    return CRMTables(
        typed_table("leads", leads), typed_columns("activities", activities), _no_outcomes()
    )
