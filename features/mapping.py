"""Column mapping: a small YAML file that turns a real CRM export into tabular-mode data.

Real exports never look like the data contract: columns are called ``Prospect ID``, missing
values are spelled ``Select`` or ``unknown``, a file is semicolon-separated and gzipped, the label
lives in a second file (a lead is won when its id appears in the closed deals). A mapping says all
of that once, as data, so the same export loads the same way for ``audit-data``, training and the
quality benchmark, and a reviewer can read what was assumed. It only describes the export: which
columns leak the outcome is for the leakage audit (:mod:`training.leakage`) to find, not for a
hand-kept list in the mapping.

A mapping, every key but ``label`` optional (names after ``rename``)::

    read: {delimiter: ";", encoding: utf-8}      # how to read the file (.csv, .csv.gz, .parquet)
    rename: {"Prospect ID": prospect_id}         # old name -> new name, applied first
    missing_values: [Select, unknown]            # cell values that mean "missing", any column
    missing_by_column: {pdays: [999]}            # sentinels that are missing in one column only
    id: prospect_id                              # unique per row; row numbers without it
    label: {column: Converted, positive: ["1"]}  # or {column: y} for yes/no, 1/0, true/false
    # label: {column: Status, positive: [Converted], empty_is_negative: true}  # "" means no
    # label: {name: won, join: {file: closed_deals.csv, key: mql_id}}  # positive if id listed
    time: {column: first_contact_date, format: "%Y-%m-%d", calendar: [weekday]}
    # time: {row_order: true}                    # rows are chronological, no date column
    consent: marketing_ok                        # yes/no: may this lead be profiled? (empty: yes)
    features: {include: [...], exclude: [...], categorical: [...], numeric: [...]}

Usage::

    mapping = load_mapping("examples/bank-marketing.yaml")
    data = apply_mapping("bank-additional-full.csv.gz", mapping)   # a TabularData
    data.frame, data.label, data.time_column

Errors name the YAML key (``label.join.key: ...``); problems in the data itself come as a
:class:`~features.loaders.ContractError` naming file, row and column, like ``validate`` does.
"""

from __future__ import annotations

import codecs
import dataclasses
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from features.contract import STRING, TabularData, to_numeric, within_moments
from features.loaders import (
    _KIND_WORDS,
    CONSENT,
    MAX_PROBLEMS_PER_CHECK,
    ContractError,
    Problem,
    _coerce_bool,
    id_problems,
    moment_problems,
    nul_problem,
    read_consent,
    sniffed_delimiter,
    unstorable_cells,
    without_trailing_blank_rows,
)

# Names training gives a meaning of its own (training.tabular.RESERVED); a feature called so
# would silently disappear, so the mapping asks for a rename instead.
RESERVED = ("lead_id", "created_at", "as_of", "label", "slice")
ROW_ORDER_COLUMN = "row_order"
ROW_ORDER_ORIGIN = pd.Timestamp("1970-01-01")
CalendarPart = Literal["weekday", "month", "hour"]


class MappingError(ValueError):
    """The mapping itself is wrong; every problem starts with the YAML key to fix."""

    def __init__(self, problems: list[str], source: str = "the mapping") -> None:
        self.problems = problems
        self.source = source
        shown = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{len(problems)} problem(s) in {source}:\n{shown}")


def _text_list(value: Any) -> Any:
    """YAML reads ``999`` and ``yes`` as numbers and booleans; cells are compared as text."""
    if isinstance(value, (list, tuple)):
        return [_as_cell_text(v) for v in value]
    return value


def _as_cell_text(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (int, float)):
        return str(value)
    return value


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _known_encoding(value: str) -> str:
    try:
        codecs.lookup(value)
    except LookupError:
        raise ValueError(f"unknown encoding {value!r} (e.g. utf-8, latin-1, cp1252)") from None
    return value


Encoding = Annotated[str, AfterValidator(_known_encoding)]


def _date_format(value: str | None) -> str | None:
    """A strptime format pandas can read dates with ("%d.%m.%Y")."""
    if value is None:
        return None
    try:
        sample = datetime(2024, 12, 31, 23, 59, 58, tzinfo=UTC).strftime(value)
        pd.to_datetime(pd.Series([sample]), format=value)
    except ValueError as error:
        raise ValueError(f"{value!r} is not a date format pandas can read: {error}") from None
    return value


class ReadSpec(_Section):
    """How to read the file; pandas decompresses ``.gz`` by itself."""

    delimiter: str = Field(",", min_length=1)
    encoding: Encoding = "utf-8"
    decimal: str = Field(".", min_length=1, max_length=1)


class JoinSpec(_Section):
    """Label from a second file: a row is positive when its ``on`` value appears under ``key``."""

    file: str
    key: str
    on: str | None = None
    delimiter: str = Field(",", min_length=1)
    encoding: Encoding = "utf-8"


class LabelSpec(_Section):
    """Either an existing ``column`` or a ``join``; ``name`` is the label column's name."""

    column: str | None = None
    positive: list[str] | None = None
    name: str | None = None
    join: JoinSpec | None = None
    # an export that marks only conversions ("Converted" or nothing): an empty cell is a no
    empty_is_negative: bool = False

    _texts = field_validator("positive", mode="before")(_text_list)

    @model_validator(mode="after")
    def _one_source(self) -> LabelSpec:
        if (self.column is None) == (self.join is None):
            raise ValueError("give either column (the label is in the file) or join")
        if self.join is not None and (self.positive is not None or self.empty_is_negative):
            raise ValueError(
                "positive and empty_is_negative only apply to a label column, not to a join"
            )
        return self

    @property
    def output_name(self) -> str:
        return self.name or self.column or "label"


class TimeSpec(_Section):
    """The lead's date (``column`` with an optional strptime ``format``) or ``row_order``."""

    column: str | None = None
    format: Annotated[str | None, AfterValidator(_date_format)] = None
    row_order: bool = False
    calendar: list[CalendarPart] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_source(self) -> TimeSpec:
        if (self.column is None) == (not self.row_order):
            raise ValueError("give either column or row_order: true")
        if self.row_order and (self.format or self.calendar):
            raise ValueError("format and calendar need a date column, not row_order")
        return self

    @property
    def output_name(self) -> str:
        return self.column or ROW_ORDER_COLUMN


class FeatureSpec(_Section):
    """Which columns are features (all but id/label/time by default) and their kinds."""

    include: list[str] | None = None
    exclude: list[str] = Field(default_factory=list)
    categorical: list[str] = Field(default_factory=list)
    numeric: list[str] = Field(default_factory=list)


class Mapping(_Section):
    """A validated mapping file; see the module docstring for an example of every key."""

    version: Literal[1] = 1
    description: str = ""
    read: ReadSpec = Field(default_factory=ReadSpec)
    rename: dict[str, str] = Field(default_factory=dict)
    missing_values: list[str] = Field(default_factory=list)
    missing_by_column: dict[str, list[str]] = Field(default_factory=dict)
    id: str | None = None
    label: LabelSpec
    time: TimeSpec | None = None
    consent: str | None = None
    features: FeatureSpec = Field(default_factory=FeatureSpec)

    _texts = field_validator("missing_values", mode="before")(_text_list)

    @field_validator("missing_by_column", mode="before")
    @classmethod
    def _column_texts(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: _text_list(v if isinstance(v, list) else [v]) for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _kinds_disjoint(self) -> Mapping:
        both = sorted(set(self.features.categorical) & set(self.features.numeric))
        if both:
            raise ValueError(f"features: {both} cannot be both categorical and numeric")
        targets = list(self.rename.values())
        twice = sorted({t for t in targets if targets.count(t) > 1})
        if twice:
            raise ValueError(f"rename: {twice} is the new name of more than one column")
        return self


# --------------------------------------------------------------------------- loading the YAML


def _key(location: tuple[Any, ...]) -> str:
    out = ""
    for part in location:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _pydantic_problems(error: ValidationError) -> list[str]:
    problems = []
    for item in error.errors():
        key = _key(tuple(p for p in item["loc"] if p not in ("function-after",)))
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown key (a typo? see features/mapping.py for the keys)"
        elif item["type"] == "missing":
            message = "required key is missing"
        problems.append(f"{key}: {message}")
    return problems


def parse_mapping(data: Any, source: str = "the mapping") -> Mapping:
    """A :class:`Mapping` from parsed YAML, or a :class:`MappingError` naming each bad key."""
    if not isinstance(data, dict):
        raise MappingError(["(top level): expected keys such as label, id, time"], source)
    try:
        return Mapping.model_validate(data)
    except ValidationError as error:
        raise MappingError(_pydantic_problems(error), source) from error


def load_mapping(path: str | Path) -> Mapping:
    """Read and validate a mapping file."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise MappingError([f"(file): {path} does not exist"], str(path)) from error
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "(file)"
        raise MappingError([f"{where}: not valid YAML: {error}"], str(path)) from error
    return parse_mapping(data, str(path))


# --------------------------------------------------------------------------- applying it


def read_export(path: Path, spec: ReadSpec) -> pd.DataFrame:
    """Every cell as text (the mapping decides the types), or a ContractError for the file."""
    table = path.name
    if not path.is_file():
        raise ContractError([Problem("input", f"{path} is not a file")])
    parquet = path.name.endswith(".parquet")
    try:
        if parquet:
            frame = pd.read_parquet(path).astype(object)
        else:
            frame = pd.read_csv(
                path,
                sep=spec.delimiter,
                encoding=spec.encoding,
                decimal=spec.decimal,
                dtype=str,
                keep_default_na=False,
                na_values=[""],
            )
    except UnicodeDecodeError as error:
        message = f"{path.name} is not {spec.encoding} ({error}); set read.encoding"
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, OSError) as error:
        message = (
            f"{path.name} cannot be read with delimiter {spec.delimiter!r}: {str(error).strip()}"
        )
        other = None if parquet else sniffed_delimiter(path, spec.delimiter, spec.encoding)
        if other:
            message += f"; its header is separated by {other!r}: set read.delimiter"
    else:
        one_column = not parquet and len(frame.columns) == 1
        other = sniffed_delimiter(path, spec.delimiter, spec.encoding) if one_column else None
        if other:
            raise ContractError(
                [
                    Problem(
                        table,
                        f"{path.name} has one column with delimiter {spec.delimiter!r}; its "
                        f"header is separated by {other!r}: set read.delimiter",
                    )
                ]
            )
        unstorable = unstorable_cells(frame.reset_index(drop=True), table)
        if not parquet:
            unstorable = nul_problem(path, table, spec.encoding) + unstorable
        if unstorable:
            raise ContractError(unstorable)
        return frame if parquet else without_trailing_blank_rows(frame)
    raise ContractError([Problem(table, message)])


def _text(values: pd.Series) -> pd.Series:
    text = values.astype(STRING).str.strip()
    return text.mask(text == "")


def _holds_dates(values: pd.Series) -> bool:
    """An object column of timestamps (a Parquet date column read as cells)."""
    if values.dtype != object:
        return False
    known = values.dropna()
    return bool(len(known)) and all(isinstance(v, pd.Timestamp) for v in known.head(100))


def _as_dates(values: pd.Series) -> pd.Series:
    """Timestamp cells as a UTC date column, in microseconds where nanoseconds cannot hold one
    (9999-12-31, a CRM's "never"): the range check then names it instead of a crash."""
    try:
        return pd.to_datetime(values, utc=True)
    except pd.errors.OutOfBoundsDatetime:
        stamps = [pd.Timestamp(v) for v in values]  # None stays NaT
        utc = [
            t if pd.isna(t) or t.tzinfo is None else t.tz_convert("UTC").tz_localize(None)
            for t in stamps
        ]
        return pd.Series(utc, index=values.index, dtype="datetime64[us]").dt.tz_localize("UTC")


def _rows(mask: pd.Series) -> np.ndarray:
    return np.flatnonzero(mask.to_numpy(bool))[:MAX_PROBLEMS_PER_CHECK] + 1


def _missing_columns(
    mapping: Mapping, columns: list[str], table: str, without_label: bool = False
) -> list[str]:
    """Every column the mapping names must exist; each problem names its key."""
    present = set(columns)
    named: list[tuple[str, str]] = []
    if mapping.id:
        named.append(("id", mapping.id))
    if mapping.label.column and not without_label:
        named.append(("label.column", mapping.label.column))
    if mapping.label.join and not without_label:
        named.append(("label.join.on", mapping.label.join.on or mapping.id or ""))
    if mapping.time and mapping.time.column:
        named.append(("time.column", mapping.time.column))
    if mapping.consent:
        named.append(("consent", mapping.consent))
    named += [(f"missing_by_column.{c}", c) for c in mapping.missing_by_column]
    for part in ("include", "exclude", "categorical", "numeric"):
        names = getattr(mapping.features, part) or []
        named += [(f"features.{part}[{i}]", c) for i, c in enumerate(names)]
    problems = []
    for key, column in named:
        if key == "label.join.on" and not column:
            problems.append(f"{key}: a join needs the column to match (give on, or id)")
        elif column not in present:
            problems.append(f"{key}: column {column!r} is not in {table} {_close(column, columns)}")
    roles = {
        "the id": mapping.id,
        "the label": mapping.label.column,
        "the time": mapping.time.column if mapping.time else None,
    }
    for role, column in roles.items():
        if mapping.consent and mapping.consent == column:
            problems.append(f"consent: {column!r} is {role} column; name the consent column")
    if mapping.consent and mapping.consent != CONSENT and CONSENT in present:
        problems.append(
            f"consent: {table} also has a {CONSENT!r} column; two consent columns cannot both "
            f"decide (rename or exclude one)"
        )
    return problems


def _close(name: str, columns: list[str]) -> str:
    import difflib

    near = difflib.get_close_matches(name, columns, n=3, cutoff=0.6)
    return f"(did you mean {', '.join(map(repr, near))}?)" if near else f"(columns: {columns[:12]})"


def consent_column(mapping: Mapping, columns: list[str]) -> str | None:
    """The column that holds consent to profiling: the mapping's, else one named like the
    contract's (``consent_profiling``), else none (every lead may be profiled)."""
    if mapping.consent:
        return mapping.consent
    return CONSENT if CONSENT in columns else None


def _feature_columns(mapping: Mapping, columns: list[str]) -> list[str]:
    special = {
        mapping.id,
        mapping.label.column,
        mapping.time.column if mapping.time else None,
        consent_column(mapping, columns),
    }
    chosen = mapping.features.include if mapping.features.include is not None else columns
    excluded = set(mapping.features.exclude) | special
    return [c for c in chosen if c not in excluded]


def to_numbers(values: pd.Series, decimal: str = ".") -> pd.Series:
    """Numbers, or missing where a cell is none ("inf" is no count of anything).

    ``decimal`` is the export's decimal mark (``read.decimal``): with "," a cell "3,5" is 3.5,
    and a cell with a "." is no number ("1.000" is a thousand in a German export, and reading
    it as 1 would be silently wrong)."""
    if decimal != "." and not pd.api.types.is_numeric_dtype(values):
        values = values.map(
            lambda v: (None if "." in v else v.replace(decimal, ".")) if isinstance(v, str) else v
        )
    numbers = to_numeric(values).astype("Float64")
    return numbers.mask(~np.isfinite(numbers.to_numpy(float, na_value=np.nan)))


def _label_from_column(
    raw: pd.Series, spec: LabelSpec, table: str
) -> tuple[pd.Series, list[Problem]]:
    column = spec.column or ""
    text = _text(raw)
    why = "label is empty (set label.empty_is_negative if an empty cell means no)"
    problems = (
        []
        if spec.empty_is_negative
        else [Problem(table, why, row=int(r), column=column) for r in _rows(text.isna())]
    )
    if spec.positive is not None:
        positive = {p.strip() for p in spec.positive}
        labels = text.isin(positive).fillna(False).astype("boolean")
        if not labels.any():
            seen = sorted(text.dropna().unique().tolist())[:10]
            problems.append(
                Problem(table, f"no value is in label.positive {spec.positive} (values: {seen})")
            )
        return (labels if spec.empty_is_negative else labels.mask(text.isna())), problems
    labels = _coerce_bool(text)
    if spec.empty_is_negative:
        labels = labels.mask(text.isna(), False)
    for row in _rows(labels.isna() & text.notna()):
        problems.append(
            Problem(
                table,
                f"label {text.iloc[row - 1]!r} is not 0/1, yes/no or true/false; "
                "list the positive values under label.positive",
                row=int(row),
                column=column,
            )
        )
    return labels, problems


def _known_conversions(
    cells: pd.DataFrame, mapping: Mapping, table: str, folder: Path
) -> np.ndarray | None:
    """Rows of a file to score whose outcome is in it already: an export of every lead holds
    the converted ones too, and routing them to sales would send sales its own customers.
    None when the file (or the join file) holds no outcome."""
    try:
        if mapping.label.join:
            labels = _label_from_join(cells, mapping.label.join, mapping.id, folder)
        elif mapping.label.column and mapping.label.column in cells.columns:
            labels, _ = _label_from_column(cells[mapping.label.column], mapping.label, table)
        else:
            return None
    except (OSError, MappingError, ContractError):  # no join file at hand: nothing is known
        return None
    return labels.fillna(False).to_numpy(dtype=bool)


def _label_from_join(
    frame: pd.DataFrame, spec: JoinSpec, id_column: str | None, folder: Path
) -> pd.Series:
    path = Path(spec.file) if Path(spec.file).is_absolute() else folder / spec.file
    other = read_export(path, ReadSpec(delimiter=spec.delimiter, encoding=spec.encoding))
    if spec.key not in other.columns:
        raise MappingError(
            [
                f"label.join.key: column {spec.key!r} is not in {path.name} "
                + _close(spec.key, list(other.columns))
            ]
        )
    keys = set(_text(other[spec.key]).dropna())
    on = _text(frame[spec.on or id_column or ""])
    labels = on.isin(keys).fillna(False).astype("boolean")
    if not labels.any():
        raise MappingError(
            [
                f"label.join: no value of {spec.on or id_column!r} appears under {spec.key!r} "
                f"in {path.name}; check label.join.on and label.join.key"
            ]
        )
    return labels


def _parse_time(
    raw: pd.Series, spec: TimeSpec, table: str, required: bool = True
) -> tuple[pd.Series, list[Problem]]:
    """The lead's date per row; ``required``: an empty one is a problem (training splits by it;
    a new lead to score may lack it)."""
    column = spec.column or ""
    why = "time is empty; every row needs its date for a time split"
    if pd.api.types.is_datetime64_any_dtype(raw):  # typed dates (Parquet): nothing to parse
        parsed = within_moments(raw)
        empty = raw.isna() if required else pd.Series(False, index=raw.index)
        problems = moment_problems(raw, parsed, table, column)
        problems += [Problem(table, why, row=int(r), column=column) for r in _rows(empty)]
        return parsed.astype("datetime64[ns]"), problems
    text = _text(raw)
    if spec.format:
        parsed = pd.to_datetime(text, format=spec.format, errors="coerce", utc=True)
        parsed = parsed.dt.tz_localize(None)  # a format with %z: in UTC, as ISO dates are
        expected = f"a date in the format {spec.format!r} (time.format)"
    else:
        parsed = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True)
        parsed = parsed.dt.tz_localize(None)
        expected = _KIND_WORDS["timestamp"] + "; or set time.format"
    problems = moment_problems(text, parsed, table, column, expected, spec.format)
    problems += [
        Problem(table, why, row=int(r), column=column)
        for r in _rows(text.isna() if required else pd.Series(False, index=text.index))
    ]
    return parsed.astype("datetime64[ns]"), problems


def _calendar(times: pd.Series, column: str, parts: list[CalendarPart]) -> dict[str, pd.Series]:
    """Calendar features are the only honest use of a date when the split is by that date."""
    getters = {
        "weekday": lambda t: t.dt.weekday,
        "month": lambda t: t.dt.month,
        "hour": lambda t: t.dt.hour,
    }
    return {f"{column}_{part}": getters[part](times).astype("Float64") for part in parts}


def apply_mapping(
    source: str | Path | pd.DataFrame,
    mapping: Mapping | dict[str, Any] | str | Path,
    base_dir: str | Path | None = None,
    without_label: bool = False,
    categorical: Iterable[str] = (),
) -> TabularData:
    """The export as :class:`TabularData`: typed features, ``lead_id``, the label, the time.

    ``without_label``: new leads to score, whose outcome is not known yet; the label is neither
    required nor read (a label column that is there is still no feature).
    ``categorical``: more columns to keep as text, as if declared (a model's categories: a
    column it learnt as text stays text even in a file where every value looks like a number).

    ``source`` is the export file or an already-read frame (cells as text or values);
    ``mapping`` a :class:`Mapping`, a mapping file, or the parsed YAML as a dict;
    ``base_dir`` is where ``label.join.file`` is looked up (default: the export's folder, or the
    working directory for a frame). Declared categorical columns are kept as text and listed in
    ``frame.attrs["categorical"]``; undeclared columns whose every value is a number become
    numbers, all others text.
    """
    where = "the mapping"
    if isinstance(mapping, dict):
        mapping = parse_mapping(mapping)
    elif not isinstance(mapping, Mapping):
        where = str(mapping)
        mapping = load_mapping(mapping)
    if isinstance(source, pd.DataFrame):
        raw, table = source.copy(), "the table"
        folder = Path(base_dir) if base_dir else Path.cwd()
    else:
        path = Path(source)
        raw, table = read_export(path, mapping.read), path.name
        folder = Path(base_dir) if base_dir else path.parent
    raw = raw.reset_index(drop=True)

    unknown = [
        f"rename.{old}: column {old!r} is not in {table} {_close(old, list(raw.columns))}"
        for old, new in mapping.rename.items()
        if old not in raw.columns and not (without_label and new == mapping.label.column)
    ]
    renamed = set(mapping.rename)
    unknown += [
        f"rename.{old}: {table} has a column {new!r} already; rename that one too or drop it"
        for old, new in mapping.rename.items()
        if old in raw.columns and new in raw.columns and new not in renamed
    ]
    if unknown:
        raise MappingError(unknown, where)
    raw = raw.rename(columns=mapping.rename)
    columns = [str(c) for c in raw.columns]
    problems = _missing_columns(mapping, columns, table, without_label)
    features = _feature_columns(mapping, columns) if not problems else []
    label_name = mapping.label.output_name
    problems += [
        f"features: column {c!r} has a name training reserves; rename it (rename: {{{c}: ...}})"
        for c in features
        if c in RESERVED
    ]
    if mapping.label.join and label_name in features:
        problems.append(f"label.name: {label_name!r} is also a column of {table}; pick another")
    if problems:
        raise MappingError(problems, where)

    missing = set(mapping.missing_values)
    time_source = mapping.time.column if mapping.time else None
    cells = pd.DataFrame(index=raw.index)
    for column in columns:
        values = raw[column]
        if column == time_source and _holds_dates(values):  # other dates stay text for the audit
            values = _as_dates(values)
        elif not pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_datetime64_any_dtype(
            values
        ):
            values = _text(values)
        tokens = missing | set(mapping.missing_by_column.get(column, []))
        if tokens:
            values = values.mask(values.astype(str).str.strip().isin(tokens))
        cells[column] = values

    data_problems: list[Problem] = []
    out = pd.DataFrame(index=raw.index)
    forced = set(categorical)
    categorical = []
    for column in features:
        values = cells[column]
        numbers = to_numbers(values, mapping.read.decimal)
        if column in mapping.features.numeric:
            for row in _rows(numbers.isna() & values.notna()):
                data_problems.append(
                    Problem(
                        table,
                        f"{values.iloc[row - 1]!r} is not a number (features.numeric); add it to "
                        "missing_values or missing_by_column if it means 'missing'",
                        row=int(row),
                        column=column,
                    )
                )
            out[column] = numbers
        elif (
            column not in mapping.features.categorical
            and column not in forced
            and numbers.notna().sum() == values.notna().sum()
        ):
            out[column] = numbers
        else:
            out[column] = _text(values)
            categorical.append(column)

    if mapping.id:
        ids = _text(cells[mapping.id])
        data_problems += id_problems(ids, table, mapping.id)
        out["lead_id"] = ids
    else:
        out["lead_id"] = pd.Series([f"row-{i + 1}" for i in range(len(raw))], dtype=STRING)

    if without_label:
        converted = _known_conversions(cells, mapping, table, folder)
        if converted is not None:
            out.attrs["converted"] = out["lead_id"].to_numpy(dtype=object)[converted].tolist()
    elif mapping.label.join:
        out[label_name] = _label_from_join(cells, mapping.label.join, mapping.id, folder)
    else:
        labels, found = _label_from_column(cells[mapping.label.column], mapping.label, table)
        data_problems += found
        out[label_name] = labels

    time_column = None
    if mapping.time is not None:
        time_column = mapping.time.output_name
        if mapping.time.row_order:
            order = np.arange(1, len(raw) + 1)
            out[time_column] = order
            out["created_at"] = ROW_ORDER_ORIGIN + pd.to_timedelta(order, unit="s")
        else:
            times, found = _parse_time(
                cells[time_column], mapping.time, table, required=not without_label
            )
            data_problems += found
            out[time_column] = times
            out["created_at"] = times
            for name, values in _calendar(times, time_column, mapping.time.calendar).items():
                out[name] = values
    consent = consent_column(mapping, columns)
    if consent:
        allowed, found = read_consent(cells[consent], consent, table)
        data_problems += found
        out[CONSENT] = allowed
    if data_problems:
        raise ContractError(as_exported(data_problems, mapping.model_dump(mode="json")))
    if not without_label:
        out[label_name] = out[label_name].astype(bool)
    out.attrs["categorical"] = categorical
    out.attrs["mapping"] = mapping.model_dump(mode="json")
    return TabularData(out, label=label_name, id_column="lead_id", time_column=time_column)


def exported_names(mapping: dict[str, Any] | None) -> dict[str, str]:
    """Each renamed column's name in the export, by its name after the mapping."""
    return {new: old for old, new in ((mapping or {}).get("rename") or {}).items()}


def as_exported(problems: list[Problem], mapping: dict[str, Any] | None) -> list[Problem]:
    """Problems naming each column as the export does, before the mapping renamed it: that is
    the name the user finds in the file (or sent over HTTP) and fixes."""
    exported = exported_names(mapping)
    return [
        dataclasses.replace(p, column=exported.get(p.column, p.column)) if p.column else p
        for p in problems
    ]


# Reason texts for a table's columns: an export has no events to cite, so a reason names the
# column and the lead's value (numbers with the digits they were read with, whole ones without
# ".0"; a German decimal comma).
COLUMN_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "value": "{column}: {value}",
        "missing": "{column}: not given",
        "unseen": "{column}: {value} (not seen in training: counts as not given)",
    },
    "de": {
        "value": "{column}: {value}",
        "missing": "{column}: nicht angegeben",
        "unseen": "{column}: {value} (im Training nicht vorgekommen: zählt als nicht angegeben)",
    },
}


# The calendar parts of a date (time.calendar) read as a person says them, not as a number.
CALENDAR_TEXTS: dict[str, dict[str, tuple[str, list[str] | None]]] = {
    "en": {
        "weekday": ("{column}: on a {value}", ["Monday", "Tuesday", "Wednesday", "Thursday",
                                               "Friday", "Saturday", "Sunday"]),
        "month": ("{column}: in {value}", ["January", "February", "March", "April", "May",
                                           "June", "July", "August", "September", "October",
                                           "November", "December"]),
        "hour": ("{column}: at {value}:00", None),
    },
    "de": {
        "weekday": ("{column}: an einem {value}", ["Montag", "Dienstag", "Mittwoch", "Donnerstag",
                                                   "Freitag", "Samstag", "Sonntag"]),
        "month": ("{column}: im {value}", ["Januar", "Februar", "März", "April", "Mai", "Juni",
                                           "Juli", "August", "September", "Oktober", "November",
                                           "Dezember"]),
        "hour": ("{column}: um {value} Uhr", None),
    },
}  # fmt: skip
CALENDAR_RANGES = {"weekday": (0, 6), "month": (1, 12), "hour": (0, 23)}
CALENDAR_PART_NAMES = {
    "en": {"weekday": "weekday", "month": "month", "hour": "hour"},
    "de": {"weekday": "Wochentag", "month": "Monat", "hour": "Stunde"},
}


def calendar_columns(mapping: dict[str, Any] | None) -> dict[str, str]:
    """The calendar columns a mapping adds (:func:`_calendar`), each with its date column."""
    time = (mapping or {}).get("time") or {}
    if not time.get("column"):
        return {}
    return {f"{time['column']}_{part}": time["column"] for part in time.get("calendar") or []}


def calendar_reason(date: str, part: str, value: object, lang: str) -> str | None:
    """``signed_up: on a Thursday`` for the weekday of ``signed_up``; None for a value that is
    no day, month or hour (then the number is said as it is)."""
    low, high = CALENDAR_RANGES[part]
    if not isinstance(value, float | np.floating) or not value.is_integer():
        return None
    if not low <= value <= high:
        return None
    template, names = CALENDAR_TEXTS.get(lang, CALENDAR_TEXTS["en"])[part]
    shown = names[int(value) - low] if names else str(int(value))
    return template.format(column=date, value=shown)


def column_reason(
    column: str, value: object, lang: str = "en", calendar: dict[str, str] | None = None
) -> str:
    """The reason text for one column of one row, e.g. ``Lead Source: Google``.

    ``calendar``: the columns that are calendar parts of a date, with the date's column
    (:func:`calendar_columns`), said as a day, month or hour of that date."""
    texts = COLUMN_TEXTS.get(lang, COLUMN_TEXTS["en"])
    date = (calendar or {}).get(column)
    part = column.removeprefix(f"{date}_") if date else ""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        if date:  # "signed_up (weekday): not given": one line per part of the date
            shown = f"{date} ({CALENDAR_PART_NAMES.get(lang, CALENDAR_PART_NAMES['en'])[part]})"
            return texts["missing"].format(column=shown)
        return texts["missing"].format(column=column)
    if date and (said := calendar_reason(date, part, value, lang)):
        return said
    return texts["value"].format(column=column, value=value_text(value, lang))


# A reason quotes a cell; a free-text cell of pages would swamp the reasons, the flags and the
# audit log, so a quote stops here.
QUOTE_LENGTH = 60


def value_text(value: object, lang: str = "en") -> str:
    """A cell as read: numbers with the digits they were read with, whole ones without ".0"
    (23, not 23.0), a German decimal comma; long text cut at :data:`QUOTE_LENGTH`."""
    if not isinstance(value, float | np.floating):
        text = str(value)
        return text if len(text) <= QUOTE_LENGTH else text[: QUOTE_LENGTH - 1].rstrip() + "…"
    number = float(value)
    whole = number.is_integer() and abs(number) < 1e15
    shown = str(int(number)) if whole else f"{number:.15g}"
    return shown.replace(".", ",") if lang == "de" else shown


def feature_names(data: TabularData) -> list[str]:
    """The mapped feature columns, in order (everything but id, label and time columns)."""
    skip = {data.label, data.id_column, data.time_column, CONSENT, *RESERVED}
    return [c for c in data.frame.columns if c not in skip]


def describe(mapping: Mapping) -> str:
    """One line for logs and reports: what the mapping reads and how it labels."""
    label = (
        f"label {mapping.label.output_name} = {mapping.label.join.on or mapping.id} in "
        f"{mapping.label.join.file}:{mapping.label.join.key}"
        if mapping.label.join
        else f"label {mapping.label.column}"
    )
    time = (
        "no time column"
        if mapping.time is None
        else ("row order is time" if mapping.time.row_order else f"time {mapping.time.column}")
    )
    return re.sub(r"\s+", " ", f"{label}; {time}; id {mapping.id or '(row numbers)'}")
