"""Loading the CRM from a folder of CSV/Parquet files, a single export, or a database URL.

Loading and validating are one path: every reader returns raw frames plus the problems it met,
:func:`check_tables` turns them into typed frames and collects *every* problem at once, each naming
table, row and column. :func:`load_tables` refuses to hand out data with problems, so nothing
downstream ever works on a half-read CRM.

Rows are numbered from 1 in the order of the source, not counting a CSV header (row 1 is the
second line of a CSV file); database tables are read ordered by their required columns.
"""

from __future__ import annotations

import csv
import gzip
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow as pyarrow
import pyarrow.parquet as pq
import sqlalchemy as sa

from features.contract import (
    COLUMNS,
    DEFAULTS,
    EARLIEST,
    LATEST,
    MAX_ID_LENGTH,
    MOMENT_RANGE,
    PANDAS_DTYPES,
    REQUIRED,
    SCHEMAS,
    STRING,
    TABLES,
    CRMTables,
    TabularData,
    empty_table,
    known_activity_types,
    naive_utc,
    outside_moments,
    to_numeric,
    within_moments,
)

FILE_SUFFIXES = (".parquet", ".csv", ".csv.gz")
# The contract's consent column; in a one-row-per-lead export it says whether the row may be
# profiled and is never a feature (features.mapping, training.tabular).
CONSENT = "consent_profiling"
TRUE_WORDS = frozenset({"true", "t", "1", "yes", "y", "ja", "wahr", "1.0"})
FALSE_WORDS = frozenset({"false", "f", "0", "no", "n", "nein", "falsch", "0.0"})
MAX_PROBLEMS_PER_CHECK = 10_000
_ARROW_STRINGS = {pyarrow.string(): STRING, pyarrow.large_string(): STRING}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input, precise enough to fix by hand."""

    table: str
    message: str
    row: int | None = None
    column: str | None = None

    def __str__(self) -> str:
        where = [self.table]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        return f"{', '.join(where)}: {self.message}"


class ContractError(ValueError):
    """Raised when input breaks the data contract; carries every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        shown = "\n".join(f"  - {p}" for p in problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(f"{len(problems)} problem(s) in the input:\n{shown}{more}")


def is_database_url(source: str | Path) -> bool:
    return "://" in str(source)


def sqlalchemy_url(url: str) -> str:
    """Let users write plain ``postgresql://`` URLs; we ship the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


# --------------------------------------------------------------------------- raw readers


def _find_table_file(folder: Path, table: str) -> Path | None:
    for suffix in FILE_SUFFIXES:
        path = folder / f"{table}{suffix}"
        if path.exists():
            return path
    return None


def _first_bad_line(path: Path, encoding: str = "utf-8") -> tuple[int, str]:
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                line.decode(encoding)
            except UnicodeDecodeError as error:
                return number, str(error)
    return 0, "unknown decoding error"


def nul_line(path: Path, encoding: str = "utf-8") -> int | None:
    """The first line holding a NUL byte: pandas' CSV reader silently cuts a cell there, so the
    rest of the cell would be lost without a word. None when there is none, and for encodings
    such as UTF-16 where NUL bytes are part of ordinary characters. Compressed exports (zip,
    gzip, ...) are opened as pandas opens them."""
    from pandas.io.common import get_handle

    if len("\n\n".encode(encoding)) - len("\n".encode(encoding)) != 1:  # no BOM counted
        return None
    lines = 1
    with get_handle(path, "rb", compression="infer", is_text=False) as opened:
        for chunk in iter(lambda: opened.handle.read(1 << 22), b""):
            position = chunk.find(b"\x00")
            if position >= 0:
                return lines + chunk.count(b"\n", 0, position)
            lines += chunk.count(b"\n")
    return None


def nul_problem(path: Path, table: str, encoding: str = "utf-8") -> list[Problem]:
    line = nul_line(path, encoding)
    if line is None:
        return []
    return [
        Problem(
            table,
            f"{path.name} holds a NUL byte on line {line} (first one); a CSV reader cuts the "
            "cell there and no database can store it: remove it from the export",
        )
    ]


def read_csv_raw(path: Path, table: str) -> tuple[pd.DataFrame | None, list[Problem]]:
    """Every cell as text; the contract decides types later, so all formats end up alike.

    The delimiter is the one the header uses: a German Excel saves CSV with semicolons.
    """
    if path.stat().st_size == 0:
        return None, [Problem(table, f"{path.name} is empty (not even a header row)")]
    delimiter = sniffed_delimiter(path, ",") or ","
    try:
        frame = pd.read_csv(
            path, sep=delimiter, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8"
        )
    except UnicodeDecodeError:
        line, detail = _first_bad_line(path)
        return None, [
            Problem(
                table,
                f"{path.name} is not UTF-8 (first bad byte on line {line}: {detail}); "
                "save the export as UTF-8",
            )
        ]
    except pd.errors.EmptyDataError:
        return None, [Problem(table, f"{path.name} is empty (not even a header row)")]
    except pd.errors.ParserError as error:
        other = sniffed_delimiter(path, delimiter)
        hint = (
            f"; it is separated by {DELIMITER_WORDS[other]}: export it with ',' as the "
            f"delimiter (an export of one row per lead can also be read with a mapping: "
            f"read: {{delimiter: {other!r}}})"
            if other
            else ""
        )
        return None, [
            Problem(table, f"{path.name} cannot be read as CSV: {str(error).strip()}{hint}")
        ]
    problems = _delimiter_problem(frame, table, path.name) + nul_problem(path, table)
    return (None, problems) if problems else (without_trailing_blank_rows(frame), [])


def without_trailing_blank_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Excel saves rows of empty cells (",,,,") below the data; they hold nothing. Only those at
    the end go, so every other row keeps its number."""
    filled = np.flatnonzero(frame.notna().any(axis=1).to_numpy())
    end = int(filled[-1]) + 1 if len(filled) else 0
    return frame if end == len(frame) else frame.iloc[:end]


DELIMITER_WORDS = {";": "semicolons", "\t": "tabs", "|": "pipes", ",": "commas"}


def sniffed_delimiter(path: Path, used: str, encoding: str = "utf-8") -> str | None:
    """The delimiter the header line uses when it is not ``used`` (a German Excel export
    separates by semicolons), else None."""
    try:
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rt", encoding=encoding, errors="replace") as file:
            header = file.readline()
    except (OSError, LookupError, EOFError):
        return None
    counts = {d: header.count(d) for d in DELIMITER_WORDS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > counts.get(used, 0) and best != used else None


def _delimiter_problem(frame: pd.DataFrame, table: str, name: str) -> list[Problem]:
    if len(frame.columns) != 1:
        return []
    header = str(frame.columns[0])
    for delimiter, word in ((";", "semicolons"), ("\t", "tabs"), ("|", "pipes")):
        if delimiter in header:
            return [
                Problem(
                    table,
                    f"{name} is separated by {word}, not commas (header {header[:60]!r}); "
                    "export it with ',' as the delimiter",
                )
            ]
    return []


def read_file_raw(path: Path, table: str) -> tuple[pd.DataFrame | None, list[Problem]]:
    if path.name.endswith(".parquet"):
        try:
            frame = pq.read_table(path).to_pandas(types_mapper=_ARROW_STRINGS.get)
        except Exception as error:  # pyarrow raises several unrelated types
            return None, [Problem(table, f"{path.name} cannot be read as Parquet: {error}")]
        if frame.empty and len(frame.columns) == 0:
            return None, [Problem(table, f"{path.name} is empty")]
        return frame, unstorable_cells(frame.reset_index(drop=True), table)
    return read_csv_raw(path, table)


def read_folder_raw(folder: Path) -> tuple[dict[str, pd.DataFrame | None], list[Problem]]:
    frames: dict[str, pd.DataFrame | None] = {}
    problems: list[Problem] = []
    for table in TABLES:
        path = _find_table_file(folder, table)
        if path is None:
            if table == "leads":
                problems.append(Problem(table, f"no leads.parquet or leads.csv in {folder}"))
            frames[table] = None
            continue
        frame, found = read_file_raw(path, table)
        frames[table] = frame
        problems.extend(found)
    return frames, problems


def read_sql_raw(url: str) -> tuple[dict[str, pd.DataFrame | None], list[Problem]]:
    parsed = sa.engine.make_url(sqlalchemy_url(url))
    file = parsed.database if parsed.get_backend_name() == "sqlite" else None
    if file and file != ":memory:" and not file.startswith("file:") and not Path(file).is_file():
        # SQLite would create an empty database there and report its tables missing
        return dict.fromkeys(TABLES), [Problem("database", f"{file} does not exist")]
    engine = sa.create_engine(parsed)
    frames: dict[str, pd.DataFrame | None] = {}
    problems: list[Problem] = []
    try:
        names = set(sa.inspect(engine).get_table_names())
        with engine.connect() as connection:
            for table in TABLES:
                if table not in names:
                    frames[table] = None
                    if table == "leads":
                        problems.append(Problem(table, f"the database has no table {table!r}"))
                    continue
                frames[table] = pd.read_sql_query(_ordered_select(table), connection)
                problems += unstorable_cells(frames[table], table)
    except sa.exc.SQLAlchemyError as error:
        problems.append(Problem("database", f"cannot read {url}: {error}"))
    finally:
        engine.dispose()
    return frames, problems


def _ordered_select(table: str) -> sa.Select:
    """SQL has no row order; rows are numbered in the order of the required columns."""
    columns = [sa.column(name) for name in REQUIRED[table]]
    return sa.select(sa.text("*")).select_from(sa.table(table)).order_by(*columns)


# --------------------------------------------------------------------------- typing


def _rows(mask: pd.Series | np.ndarray) -> np.ndarray:
    return np.flatnonzero(np.asarray(mask))[:MAX_PROBLEMS_PER_CHECK] + 1


def _as_text(values: pd.Series) -> pd.Series:
    text = values.astype(STRING).str.strip()
    return text.mask(text == "")


def unstorable_cells(frame: pd.DataFrame, table: str) -> list[Problem]:
    """NUL, which PostgreSQL (a SQL source, the audit log) cannot store: a score whose audit
    record cannot be written is not given, so such a cell is named at reading, not found by the
    audit log after the scoring. (Half a surrogate pair cannot reach here: files are UTF-8.)"""
    problems: list[Problem] = []
    for column in frame.columns:
        values = frame[column]
        if isinstance(values.dtype, pd.CategoricalDtype):
            values = values.astype(object)
        if not (values.dtype == object or isinstance(values.dtype, pd.StringDtype)):
            continue
        if isinstance(values.dtype, pd.StringDtype):
            bad = values.str.contains("\x00", regex=False, na=False)
        else:  # cells of any kind (Parquet read as objects, SQL rows)
            bad = values.map(lambda v: isinstance(v, str) and "\x00" in v).astype(bool)
        for row in _rows(bad):
            problems.append(
                Problem(
                    table,
                    "text holds a NUL character, which no database can store; remove it",
                    row=int(row),
                    column=str(column),
                )
            )
    return problems


def _coerce_timestamp(values: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values):
        return within_moments(values)
    text = _as_text(values)
    parsed = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")
    return parsed.dt.tz_localize(None).astype("datetime64[ns]")


def _coerce_bool(values: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(values):
        return values.astype("boolean")
    words = _as_text(values).str.lower()
    result = pd.Series(pd.NA, index=values.index, dtype="boolean")
    result[words.isin(TRUE_WORDS).fillna(False).to_numpy(bool)] = True
    result[words.isin(FALSE_WORDS).fillna(False).to_numpy(bool)] = False
    return result


def _coerce_number(values: pd.Series, kind: str) -> pd.Series:
    if kind == "int" and pd.api.types.is_integer_dtype(values):
        return values.astype("Int64")
    if kind == "float" and pd.api.types.is_numeric_dtype(values):
        return values.astype("Float64")
    numbers = to_numeric(_as_text(values))
    if kind == "int":
        whole = numbers.notna() & (numbers % 1 == 0)
        return numbers.where(whole).astype("Float64").astype("Int64")
    return numbers.astype("Float64")


_KIND_WORDS = {
    "timestamp": "a timestamp (ISO 8601, e.g. 2026-03-01T09:30:00)",
    "bool": "true or false",
    "int": "a whole number",
    "float": "a number",
}


def moment_problems(
    raw: pd.Series,
    parsed: pd.Series,
    table: str,
    column: str,
    expected: str | None = None,
    fmt: str | None = None,
) -> list[Problem]:
    """Cells of a date column that are no date (``expected`` says what is), or a date outside
    :data:`MOMENT_RANGE`; ``parsed`` is the column as read (NaT where it was neither)."""
    expected = expected or _KIND_WORDS["timestamp"]
    if pd.api.types.is_datetime64_any_dtype(raw):
        outside, text = outside_moments(naive_utc(raw)), raw  # as text only where named
        unparsed = pd.Series(False, index=raw.index)
    else:
        text = _as_text(raw)
        unparsed = text.notna() & parsed.isna()
        outside = outside_moments(parsed)
        for row in _rows(unparsed):  # rare: read cell by cell
            outside.iloc[row - 1] = _beyond_nanoseconds(str(text.iloc[row - 1]), fmt)
    problems = [
        Problem(
            table,
            f"{str(text.iloc[row - 1])!r} is outside {MOMENT_RANGE}",
            row=int(row),
            column=column,
        )
        for row in _rows(outside)
    ]
    problems += [
        Problem(table, f"{text.iloc[row - 1]!r} is not {expected}", row=int(row), column=column)
        for row in _rows(unparsed & ~outside)
    ]
    return problems


def _beyond_nanoseconds(cell: str, fmt: str | None) -> bool:
    """A date pandas could not hold in nanoseconds (year 2300, 1500) but Python can read."""
    try:
        moment = datetime.strptime(cell, fmt) if fmt else datetime.fromisoformat(cell.strip())
    except ValueError:
        return False
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return not EARLIEST <= moment <= LATEST


def type_table(frame: pd.DataFrame, table: str) -> tuple[pd.DataFrame, list[Problem]]:
    """Contract columns to their dtypes; a value that does not convert is a problem."""
    problems: list[Problem] = []
    typed = frame.reset_index(drop=True).copy()
    for column, kind in COLUMNS[table].items():
        default = DEFAULTS.get(table, {}).get(column)
        if column not in typed.columns:
            if column in REQUIRED[table]:
                problems.append(Problem(table, "required column is missing", column=column))
                continue
            typed[column] = pd.Series(default, index=typed.index, dtype=PANDAS_DTYPES[kind])
            continue
        raw = typed[column]
        if kind in ("id", "str"):
            typed[column] = _as_text(raw)
            if (table, column) == ("activities", "activity_type"):
                typed[column] = known_activity_types(typed[column])
            continue
        coerce = {
            "timestamp": _coerce_timestamp,
            "bool": _coerce_bool,
        }.get(kind)
        converted = coerce(raw) if coerce else _coerce_number(raw, kind)
        given = (
            _as_text(raw) if raw.dtype == object or isinstance(raw.dtype, pd.StringDtype) else raw
        )
        if kind == "timestamp":  # typed moments out of range are NaT in ``converted``
            problems += moment_problems(raw, converted, table, column)
        else:
            problems += [
                Problem(
                    table,
                    f"{given.iloc[row - 1]!r} is not {_KIND_WORDS[kind]}",
                    row=int(row),
                    column=column,
                )
                for row in _rows(given.notna() & converted.isna())
            ]
        if default is not None:
            converted = converted.fillna(default)
        typed[column] = converted
    return typed, problems


def schema_problems(frame: pd.DataFrame, table: str) -> list[Problem]:
    """Missing required values and duplicate ids, via the pandera schema."""
    present = [c for c in COLUMNS[table] if c in frame.columns]
    schema = SCHEMAS[table].select_columns(present)
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as error:
        return [_pandera_problem(table, case) for case in error.failure_cases.itertuples()][
            :MAX_PROBLEMS_PER_CHECK
        ]
    return []


def _pandera_problem(table: str, case: object) -> Problem:
    check = str(case.check)
    row = None if pd.isna(case.index) else int(case.index) + 1
    if check == "not_nullable":
        message = "required value is empty"
    elif check == "field_uniqueness":
        message = f"duplicate {case.column} {case.failure_case!r}"
    elif check.startswith("str_length"):
        message = f"id is longer than {MAX_ID_LENGTH} characters"
    else:
        message = f"fails check {check}: {case.failure_case!r}"
    return Problem(table, message, row=row, column=case.column)


def reference_problems(tables: dict[str, pd.DataFrame]) -> list[Problem]:
    """Activities and outcomes must belong to a known lead; deals close after creation."""
    leads = tables["leads"]
    problems: list[Problem] = []
    known = leads["lead_id"].dropna()
    for table in ("activities", "outcomes"):
        frame = tables[table]
        if "lead_id" not in frame.columns:
            continue
        unknown = frame["lead_id"].notna() & ~frame["lead_id"].isin(known)
        for row in _rows(unknown):
            lead = frame["lead_id"].iloc[row - 1]
            problems.append(
                Problem(table, f"lead_id {lead!r} is not in leads", row=int(row), column="lead_id")
            )
    outcomes = tables["outcomes"]
    if {"closed_at", "lead_id"} <= set(outcomes.columns) and "created_at" in leads.columns:
        created = leads.drop_duplicates("lead_id").set_index("lead_id")["created_at"]
        created_for = outcomes["lead_id"].map(created)
        early = (outcomes["closed_at"] < created_for).fillna(False)
        for row in _rows(early):
            problems.append(
                Problem(
                    "outcomes",
                    f"closed_at {outcomes['closed_at'].iloc[row - 1]} is before the lead was "
                    f"created ({created_for.iloc[row - 1]})",
                    row=int(row),
                    column="closed_at",
                )
            )
    return problems


def check_tables(
    raw: dict[str, pd.DataFrame | None],
) -> tuple[dict[str, pd.DataFrame], list[Problem]]:
    typed: dict[str, pd.DataFrame] = {}
    problems: list[Problem] = []
    for table in TABLES:
        frame = raw.get(table)
        if frame is None:
            typed[table] = empty_table(table)
            continue
        typed_frame, found = type_table(frame, table)
        reported = {(p.row, p.column) for p in found}
        problems.extend(found)
        problems.extend(
            p for p in schema_problems(typed_frame, table) if (p.row, p.column) not in reported
        )
        typed[table] = typed_frame
    if all(set(REQUIRED[t]) <= set(typed[t].columns) for t in TABLES):
        problems.extend(reference_problems(typed))
    return typed, problems


# --------------------------------------------------------------------------- public API


def read_crm(source: str | Path) -> tuple[CRMTables | None, list[Problem]]:
    """Read and check a CRM; the tables are only returned when there are no problems."""
    if is_database_url(source):
        raw, problems = read_sql_raw(str(source))
    else:
        folder = Path(source)
        if not folder.exists():
            return None, [Problem("input", f"{folder} does not exist")]
        if not folder.is_dir():
            return None, [
                Problem(
                    "input",
                    f"{folder} is a single file; pass --label COLUMN for tabular mode "
                    "or a folder with leads, activities and outcomes",
                )
            ]
        raw, problems = read_folder_raw(folder)
    if any(p.row is None and p.column is None for p in problems):
        return None, problems
    typed, found = check_tables(raw)
    problems = sort_problems(problems + found)
    if problems:
        return None, problems
    return CRMTables(typed["leads"], typed["activities"], typed["outcomes"]), []


def load_tables(source: str | Path) -> CRMTables:
    """The CRM as typed frames, or a :class:`ContractError` listing every problem."""
    tables, problems = read_crm(source)
    if problems or tables is None:
        raise ContractError(problems)
    return tables


def read_consent(values: pd.Series, column: str, table: str) -> tuple[pd.Series, list[Problem]]:
    """Consent to profiling per row: yes/no, true/false or 1/0; an empty cell is no objection
    (as in the data contract, where the column defaults to true)."""
    given = _coerce_bool(values)
    text = _as_text(values)
    problems = [
        Problem(
            table,
            f"consent {text.iloc[r - 1]!r} is not yes/no, true/false or 1/0",
            row=int(r),
            column=column,
        )
        for r in _rows(given.isna() & text.notna())
    ]
    return given.fillna(True).astype(bool), problems


def export_columns(source: str | Path) -> list[str]:
    """The header of a plain export, or [] when it cannot be read (reading it names why)."""
    path = Path(source)
    try:
        if path.name.endswith(".parquet"):
            return list(pq.read_schema(path).names)
        delimiter = sniffed_delimiter(path, ",") or ","
        return [str(c) for c in pd.read_csv(path, nrows=0, sep=delimiter, encoding="utf-8-sig")]
    except Exception:
        return []


def read_tabular(
    source: str | Path,
    label: str,
    id_column: str | None = None,
    time_column: str | None = None,
    without_label: bool = False,
) -> tuple[TabularData | None, list[Problem]]:
    """A one-row-per-lead export: the label must be binary, the ids unique.

    ``without_label``: new leads to score; the label column may be absent (and is not read).
    """
    path = Path(source)
    table = path.name
    if not path.is_file():
        return None, [Problem("input", f"{path} is not a file")]
    if path.name.endswith(".parquet"):
        frame, problems = read_file_raw(path, table)
    else:
        frame, problems = read_csv_raw(path, table)
    if frame is None:
        return None, problems
    data, found = tabular_from_frame(frame, table, label, id_column, time_column, without_label)
    problems += found
    return (None, problems) if problems else (data, [])


def id_problems(ids: pd.Series, table: str, column: str) -> list[Problem]:
    """An export's id column (as text): every row needs one of its own, short enough for the
    audit log."""
    problems = [
        Problem(table, f"duplicate id {ids.iloc[row - 1]!r}", row=int(row), column=column)
        for row in _rows(ids.duplicated(keep="first") & ids.notna())
    ]
    problems += [
        Problem(table, "id is empty", row=int(row), column=column) for row in _rows(ids.isna())
    ]
    problems += [
        Problem(table, f"id is longer than {MAX_ID_LENGTH} characters", row=int(row), column=column)
        for row in _rows((ids.str.len() > MAX_ID_LENGTH).fillna(False))
    ]
    return problems


def tabular_from_frame(
    frame: pd.DataFrame,
    table: str,
    label: str,
    id_column: str | None = None,
    time_column: str | None = None,
    without_label: bool = False,
) -> tuple[TabularData | None, list[Problem]]:
    """:func:`read_tabular` on rows already read (cells as text): a file's, or a request's."""
    problems: list[Problem] = []
    frame = frame.reset_index(drop=True)
    if id_column is None and "lead_id" in frame.columns:
        id_column = "lead_id"  # the contract's name for the id: never replaced by row numbers
    for column in (None if without_label else label, id_column, time_column):
        if column and column not in frame.columns:
            problems.append(Problem(table, "column is missing", column=column))
    # names training gives its own columns (created_at too, but that is the contract's date
    # and stays the export's unless --time names it)
    for column in sorted({"as_of", "label", "slice"} & set(frame.columns)):
        if column != label:
            why = "the name is training's own; rename the column or read it with a mapping"
            problems.append(Problem(table, why, column=column))
    if problems:
        return None, problems
    converted = None  # a file to score that holds outcomes: the rows already converted
    if without_label:
        if label in frame.columns:
            converted = _coerce_bool(frame[label]).fillna(False).to_numpy(dtype=bool)
        frame = frame.drop(columns=[label], errors="ignore")
    else:
        labels = _coerce_bool(frame[label])
        given = _as_text(frame[label])
        for row in _rows(labels.isna()):
            cell = given.iloc[row - 1]
            why = "label is empty" if pd.isna(cell) else f"label {cell!r} is not 0/1 or true/false"
            problems.append(Problem(table, why, row=int(row), column=label))
        frame[label] = labels
    if id_column:
        ids = _as_text(frame[id_column])
        problems += id_problems(ids, table, id_column)
        frame["lead_id"] = ids
    else:
        frame["lead_id"] = pd.Series([f"row-{i + 1}" for i in range(len(frame))], dtype=STRING)
    if time_column:
        times = _coerce_timestamp(frame[time_column])
        problems += moment_problems(frame[time_column], times, table, time_column)
        frame["created_at"] = times
    if CONSENT in frame.columns:
        frame[CONSENT], found = read_consent(frame[CONSENT], CONSENT, table)
        problems += found
    if problems:
        return None, problems
    if converted is not None:
        frame.attrs["converted"] = frame["lead_id"].to_numpy(dtype=object)[converted].tolist()
    return TabularData(frame, label=label, time_column=time_column), []


def write_sql(tables: CRMTables, url: str, if_exists: str = "replace") -> None:
    """Store a CRM in a database (used to set up SQL sources and by the tests)."""
    engine = sa.create_engine(sqlalchemy_url(url))
    try:
        with engine.begin() as connection:
            for table in TABLES:
                frame = tables.table(table)
                _sql_ready(frame).to_sql(
                    table, connection, if_exists=if_exists, index=False, chunksize=50_000
                )
    finally:
        engine.dispose()


def _sql_ready(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in out.columns:
        if isinstance(out[column].dtype, pd.StringDtype):
            out[column] = out[column].astype(object).where(out[column].notna(), None)
    return out


def sort_problems(problems: list[Problem]) -> list[Problem]:
    """Table by table in contract order, then by row, as a person would fix them."""
    order = {table: i for i, table in enumerate(TABLES)}
    return sorted(problems, key=lambda p: (order.get(p.table, -1), p.row or 0, p.column or ""))


def problem_frame(problems: Iterable[Problem]) -> pd.DataFrame:
    return pd.DataFrame(
        [(p.table, p.row, p.column, p.message) for p in problems],
        columns=["table", "row", "column", "problem"],
    )


def write_csv_problems(problems: Iterable[Problem], path: Path) -> None:
    problem_frame(problems).to_csv(path, index=False, quoting=csv.QUOTE_MINIMAL)
