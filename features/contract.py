"""The data contract: the three CRM tables leadscore reads, as declarations and pandera schemas.

Every loader (CSV, Parquet, SQL) ends in the same typed frames, so everything downstream can rely
on these dtypes: ids and texts are pyarrow-backed strings, timestamps are timezone-naive UTC
``datetime64[ns]``, flags are nullable booleans.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

import pandas as pd
import pandera.pandas as pa

TABLES = ("leads", "activities", "outcomes")

# column -> kind; kinds: id, str, timestamp, bool, int, float
COLUMNS: dict[str, dict[str, str]] = {
    "leads": {
        "lead_id": "id",
        "created_at": "timestamp",
        "email": "str",
        "first_name": "str",
        "last_name": "str",
        "phone": "str",
        "company": "str",
        "job_title": "str",
        "industry": "str",
        "employees": "int",
        "country": "str",
        "city": "str",
        "source": "str",
        "team": "str",
        "consent_profiling": "bool",
    },
    "activities": {
        "lead_id": "id",
        "occurred_at": "timestamp",
        "activity_type": "str",
        "asset": "str",
        "topic": "str",
        "channel": "str",
        "campaign": "str",
    },
    "outcomes": {
        "lead_id": "id",
        "closed_at": "timestamp",
        "won": "bool",
        "amount": "float",
    },
}

REQUIRED: dict[str, tuple[str, ...]] = {
    "leads": ("lead_id", "created_at"),
    "activities": ("lead_id", "occurred_at", "activity_type"),
    "outcomes": ("lead_id", "closed_at", "won"),
}

# Filled in where the column is absent or a cell is empty, so an export without it still loads.
DEFAULTS: dict[str, dict[str, object]] = {"leads": {"consent_profiling": True}}

# The activity types the demo data uses; the column itself is open-ended.
ACTIVITY_TYPES = (
    "page_view",
    "pricing_page_view",
    "blog_read",
    "whitepaper_download",
    "webinar_registration",
    "webinar_attended",
    "email_sent",
    "email_open",
    "email_click",
    "form_submit",
    "demo_request",
    "trade_fair_visit",
    "qr_code_scan",
    "workshop_registration",
    "sales_call",
    "meeting",
)


@lru_cache(maxsize=4096)
def known_activity_type(value: str) -> str:
    """A type of :data:`ACTIVITY_TYPES` however a CRM writes it ("Pricing Page View",
    "pricing-page-view"); a type of the CRM's own stays as it is. "Pricing_Page_View" scored
    as an unknown type, without the pricing page's weight."""
    key = re.sub(r"[\s\-]+", "_", value.strip().lower())
    return key if key in ACTIVITY_TYPES else value


def known_activity_types(values: pd.Series) -> pd.Series:
    """:func:`known_activity_type` for a column, looking at each distinct value once."""
    distinct = values.dropna().unique()
    renamed = {v: known for v in distinct if (known := known_activity_type(v)) != v}
    return values.replace(renamed) if renamed else values


STRING = pd.StringDtype("pyarrow")
PANDAS_DTYPES: dict[str, object] = {
    "id": STRING,
    "str": STRING,
    "timestamp": "datetime64[ns]",
    "bool": "boolean",
    "int": "Int64",
    "float": "Float64",
}


# The moments a CRM's timestamps may hold. Features count nanoseconds between a lead's events
# and ``as_of``, which overflow beyond 292 years and wrap around silently, so anything outside
# is refused where it comes in.
EARLIEST = datetime(1950, 1, 1)
LATEST = datetime(2199, 12, 31, 23, 59, 59)
MOMENT_RANGE = "the years 1950 to 2199 (in UTC)"


def naive_utc(values: pd.Series) -> pd.Series:
    """Typed timestamps in UTC without a zone, in their own unit, as the contract holds them."""
    if getattr(values.dt, "tz", None) is not None:
        return values.dt.tz_convert("UTC").dt.tz_localize(None)
    return values


def naive_moment(moment: object) -> pd.Timestamp:
    """One moment (text, datetime or Timestamp) in UTC without its zone, as events are held:
    answers write ``as_of`` with its offset, the tables compare without one."""
    stamp = pd.Timestamp(moment)  # type: ignore[arg-type]
    return stamp.tz_convert("UTC").tz_localize(None) if stamp.tzinfo is not None else stamp


def outside_moments(values: pd.Series) -> pd.Series:
    """Naive timestamps (any unit) outside :data:`EARLIEST` - :data:`LATEST`."""
    return values.notna() & ((values < EARLIEST) | (values > LATEST))


def within_moments(values: pd.Series) -> pd.Series:
    """Typed timestamps (any unit: Parquet keeps microseconds) as nanoseconds, those outside
    :data:`EARLIEST` - :data:`LATEST` as NaT: nanoseconds cannot hold year 1500 or 9999 (a
    CRM's placeholder for "never"), and converting them would raise."""
    values = naive_utc(values)
    return values.mask(outside_moments(values)).astype("datetime64[ns]")


def storable(value: str) -> bool:
    """False for text no store can hold: NUL (PostgreSQL text and JSON refuse it) or half a
    surrogate pair (no UTF-8 encoder takes it)."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# The audit log (PostgreSQL included) stores a lead id in 200 characters; longer is refused
# where it comes in, named, instead of failing the audit write.
MAX_ID_LENGTH = 200


# pandas 2 crashes the process (a segfault, pandas#63650) on text whose exponent overflows an
# int, such as the hash "4e746882294308d4...": no file means a number that large, so such text
# is not a number before pandas reads the rest.
_HUGE_EXPONENT = r"[eE][+-]?0*[1-9]\d{4,}"
NUMBERS = frozenset({"floating", "integer", "mixed-integer-float", "decimal", "boolean", "empty"})


def to_numeric(values: pd.Series) -> pd.Series:
    """``pd.to_numeric(values, errors="coerce")``, safe for any text."""
    if isinstance(values.dtype, pd.CategoricalDtype):  # pandas parses its text the same way
        values = values.astype(object)
    texts = isinstance(values.dtype, pd.StringDtype) or (
        values.dtype == object and pd.api.types.infer_dtype(values, skipna=True) not in NUMBERS
    )  # numbers in an object column (one lead's row on the scoring path) cannot crash it
    if texts:
        huge = values.astype("string").str.contains(_HUGE_EXPONENT, regex=True, na=False)
        if huge.any():
            values = values.mask(huge.to_numpy(dtype=bool))
    return pd.to_numeric(values, errors="coerce")


def _schema(table: str) -> pa.DataFrameSchema:
    columns = {
        name: pa.Column(
            PANDAS_DTYPES[kind],
            checks=pa.Check.str_length(max_value=MAX_ID_LENGTH) if kind == "id" else None,
            nullable=name not in REQUIRED[table],
            required=name in REQUIRED[table],
            unique=(table == "leads" and name == "lead_id"),
        )
        for name, kind in COLUMNS[table].items()
    }
    return pa.DataFrameSchema(columns, strict=False, name=table)


SCHEMAS: dict[str, pa.DataFrameSchema] = {table: _schema(table) for table in TABLES}


def empty_table(table: str) -> pd.DataFrame:
    """A typed frame with no rows, for a CRM that has, say, no outcomes yet."""
    return pd.DataFrame(
        {name: pd.Series(dtype=PANDAS_DTYPES[kind]) for name, kind in COLUMNS[table].items()}
    )


@dataclass
class CRMTables:
    """The three contract tables, typed. Extra columns of the source are kept."""

    leads: pd.DataFrame
    activities: pd.DataFrame = field(default_factory=lambda: empty_table("activities"))
    outcomes: pd.DataFrame = field(default_factory=lambda: empty_table("outcomes"))

    def table(self, name: str) -> pd.DataFrame:
        return getattr(self, name)

    def for_leads(self, lead_ids: list[str] | pd.Index) -> CRMTables:
        """The same CRM cut down to some leads (used to score one lead alone)."""
        ids = pd.Index(lead_ids)
        return CRMTables(
            leads=self.leads[self.leads["lead_id"].isin(ids)],
            activities=self.activities[self.activities["lead_id"].isin(ids)],
            outcomes=self.outcomes[self.outcomes["lead_id"].isin(ids)],
        )


@dataclass
class TabularData:
    """Tabular mode: a plain CRM export, one row per lead, the label in a column."""

    frame: pd.DataFrame
    label: str
    id_column: str = "lead_id"
    time_column: str | None = None
