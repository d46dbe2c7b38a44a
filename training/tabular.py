"""Tabular mode: one row per lead and a label column (a plain CRM export, no events).

The simpler path: the features are the table's own columns (numbers stay numbers, everything
else is a category), the split is by the time column if there is one and stratified otherwise,
and there is no points model (its rules speak about events). The model is the family the
calibration slice prefers (LightGBM, logistic regression, or trees boosted on top of the
regression: :mod:`training.families`), blended with its regression at a weight the same slice
prefers; calibration, evaluation, report and registry are the same
as for a CRM; versions are registered as ``leadscore-tabular`` so they never compete with
event-based models for the champion alias.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from features.contract import TabularData, storable
from features.mapping import ROW_ORDER_COLUMN, to_numbers
from training import registry
from training.evaluate import PERIOD_DAYS, capacity_share
from training.report import challenger_name
from training.snapshots import LabelledSnapshots
from training.split import Split, recency_shares, stratified_split, time_split
from training.train import ColdStartError, Prepared, Progress, TrainConfig, fit_and_evaluate

if TYPE_CHECKING:
    from features.loaders import Problem
    from leadscore.settings import Settings
    from training.model import LeadModel
    from training.workflow import RunOutcome

TABULAR_MODEL_NAME = registry.TABULAR_MODEL_NAME
# Never features: what training adds itself, and consent to profiling (features.loaders.CONSENT).
RESERVED = {"lead_id", "created_at", "as_of", "label", "slice", "consent_profiling"}
# Without dates there is no volume per week to set sales capacity against.
DEFAULT_SALES_SHARE = 0.1
# settings of CRM training a table does not use (one row per lead: no snapshots, no events)
CRM_ONLY = ("snapshot.", "features.", "split.purge", "exclude_groups")


def _noop(_: str) -> None:
    return None


def numeric_ranges(frame: pd.DataFrame, model: LeadModel) -> dict[str, list[float]]:
    """Each number column's smallest and largest value in the rows the model learnt from: what
    scoring checks a new row's numbers against (serving.tabular.far_values)."""
    ranges = {}
    for column in model.columns:
        if column in model.categories or column not in frame.columns:
            continue
        values = pd.to_numeric(frame[column], errors="coerce")
        values = values[np.isfinite(values)]
        if len(values):
            ranges[column] = [float(values.min()), float(values.max())]
    return ranges


def decimal_of(data: TabularData) -> str:
    """The export's decimal mark (a mapping's ``read.decimal``; "." for a plain CSV)."""
    return ((data.frame.attrs.get("mapping") or {}).get("read") or {}).get("decimal") or "."


def feature_frame(data: TabularData) -> tuple[pd.DataFrame, list[str]]:
    """The table's columns as features: text that is all numbers becomes numbers.

    Columns a mapping declared categorical (``frame.attrs["categorical"]``, set by
    :func:`features.mapping.apply_mapping`) stay text even when they look like numbers (postcodes,
    product codes).
    """
    skip = {data.label, data.id_column, data.time_column, *RESERVED}
    declared = set(data.frame.attrs.get("categorical", ()))
    columns = [c for c in data.frame.columns if c not in skip]
    out = pd.DataFrame(index=data.frame.index)
    for column in columns:
        values = data.frame[column]
        numbers = to_numbers(values, decimal_of(data))
        if pd.api.types.is_bool_dtype(values):
            out[column] = values.astype("Float64").astype(float)
        elif column not in declared and numbers.notna().sum() == values.notna().sum():
            out[column] = numbers.astype(float)
        else:
            out[column] = values.astype(object).where(values.notna(), None)
    return out, columns


class MissingColumnsError(ValueError):
    """The export lacks columns the model was trained on."""


def model_inputs(
    model: LeadModel, table: TabularData, source: str = "the table", who: str = "the model"
) -> pd.DataFrame:
    """The table's columns as ``model``'s inputs, typed as the model learnt them.

    A column it learnt as text stays text even where this file's values all look like numbers,
    and a number column must hold numbers: a lead gets the same score whatever other rows share
    its file. Every column it was trained on must be there (extra columns are ignored); a cell
    that is not a number where one is due is a :class:`ContractError` naming row and column.
    """
    from features.loaders import ContractError, Problem

    frame = table.frame.copy(deep=False)
    declared = {*table.frame.attrs.get("categorical", ()), *model.categories}
    frame.attrs = {**table.frame.attrs, "categorical": sorted(declared)}
    features, _ = feature_frame(dataclasses.replace(table, frame=frame))
    missing = [c for c in model.columns if c not in features.columns]
    if missing:
        shown = ", ".join(map(repr, missing[:8])) + (" ..." if len(missing) > 8 else "")
        raise MissingColumnsError(
            f"{source} lacks {len(missing)} column(s) {who} was trained on: {shown}"
        )
    problems = []
    for column in model.columns:
        if column in model.categories or pd.api.types.is_float_dtype(features[column]):
            continue
        numbers = to_numbers(features[column], decimal_of(table))
        for row in np.flatnonzero((numbers.isna() & features[column].notna()).to_numpy())[:20]:
            problems.append(
                Problem(
                    source,
                    f"{features[column].iloc[row]!r} is not a number, and the model learnt "
                    f"{column!r} as a number",
                    row=int(row) + 1,
                    column=column,
                )
            )
        features[column] = numbers.astype(float)
    if problems:
        from features.mapping import as_exported

        raise ContractError(as_exported(problems, table.frame.attrs.get("mapping")))
    return features


def row_ordered(data: TabularData) -> bool:
    """True when the mapping's time is the row order: an order, not a date to count weeks by."""
    time = (data.frame.attrs.get("mapping") or {}).get("time") or {}
    return bool(time.get("row_order"))


def consenting(data: TabularData) -> tuple[TabularData, int]:
    """The rows that may be profiled, and how many objected: a lead that objected to profiling
    is neither scored nor learnt from (as on the CRM path, :mod:`training.snapshots`)."""
    if "consent_profiling" not in data.frame.columns:
        return data, 0
    allowed = data.frame["consent_profiling"].to_numpy(dtype=bool)
    if allowed.all():
        return data, 0
    frame = data.frame.loc[allowed].reset_index(drop=True)
    frame.attrs = dict(data.frame.attrs)
    return dataclasses.replace(data, frame=frame), int((~allowed).sum())


def weekly_rows(created_at: pd.Series) -> float:
    """New leads per week over the table's time span (the volume capacity is measured against)."""
    span_days = (created_at.max() - created_at.min()) / pd.Timedelta(days=1)
    return float(len(created_at) / max(span_days, 7.0) * 7)


def prepare_tabular(data: TabularData, config: TrainConfig) -> Prepared:
    """Features, label and slice per row; split by time if the table has a time column."""
    features, columns = feature_frame(data)
    frame = features.assign(
        lead_id=data.frame["lead_id"].astype(str).to_numpy(),
        label=data.frame[data.label].astype(int).to_numpy(),
    )
    if data.time_column:
        frame["created_at"] = data.frame["created_at"].to_numpy()
        frame["as_of"] = frame["created_at"]
        split: Split = time_split(frame[["lead_id", "as_of", "created_at"]], None, config.split)
        frame["slice"] = split.frame["slice"].to_numpy()
    else:
        frame["created_at"] = pd.NaT
        frame["as_of"] = pd.NaT
        split = stratified_split(frame["label"], config.split)
        frame["slice"] = split.frame["slice"].to_numpy()
    counts = {"rows": len(frame), "positives": int(frame["label"].sum())}
    labelled = LabelledSnapshots(
        frame[["lead_id", "as_of", "created_at", "label"]],
        pd.Timestamp(frame["created_at"].max()) if data.time_column else pd.NaT,
        counts,
    )
    # a row order is no date: 41,188 rows a second apart read as one week's leads
    dated = data.time_column and not row_ordered(data)
    weekly = weekly_rows(frame["created_at"]) if dated else 0.0
    per_period = weekly * PERIOD_DAYS[config.capacity.per] / 7
    share = capacity_share(config.capacity, per_period) if weekly else DEFAULT_SALES_SHARE
    return Prepared(
        frame=frame,
        split=split,
        labelled=labelled,
        sales_share=share,
        weekly_volume=weekly,
        feature_config=config.feature_config,
        columns=columns,
        mode="tabular",
        row_order=data.time_column == ROW_ORDER_COLUMN,
    )


def drift_defaults(data: TabularData, config: TrainConfig) -> TrainConfig:
    """The split for a time-ordered table: valid and cal as small as their positives allow.

    Without a time column, or with ``config.drift_defaults`` off, the config is returned as is.
    """
    if not data.time_column or not config.drift_defaults:
        return config
    order = np.argsort(data.frame["created_at"].to_numpy(), kind="stable")
    labels = data.frame[data.label].to_numpy(dtype=int)[order]
    cal_share, valid_share = recency_shares(labels, config.split.test_share)
    split = dataclasses.replace(config.split, cal_share=cal_share, valid_share=valid_share)
    return dataclasses.replace(config, split=split)


def calibration_for(prepared: Prepared, config: TrainConfig, positives: int = 200) -> TrainConfig:
    """Sigmoid when the calibration slice holds fewer than ``positives`` positives.

    Isotonic regression fits a free step function to the slice; on few positives its blocks
    are few and noisy, where a sigmoid needs two parameters. On Olist (about 130 positives in
    the slice) sigmoid beat isotonic on the validation windows before the test, and still beats
    the centred isotonic map (``benchmarks/model_choice.py``, third decision).
    """
    if not config.drift_defaults or int(prepared.part("cal")["label"].sum()) >= positives:
        return config
    return dataclasses.replace(config, calibration="sigmoid")


def family_note(model: LeadModel) -> str:
    """Which model family the calibration slice kept, with the losses that decided it, and the
    weight of the regression it was blended with (:func:`training.families.blend_with_linear`)."""
    losses = model.params.get("family_cal_logloss", {})
    shown = ", ".join(f"{family} {loss:.4f}" for family, loss in losses.items())
    family = model.params.get("family", model.kind)
    weight = float(model.params.get("linear_weight", 0.0))
    blend = (
        f", blended with its regression at weight {weight:.1f} (stored as `{model.kind}`)"
        if weight
        else ""
    )
    simpler = (
        "; the family with fewer trees is kept unless one with more is better by over one "
        "standard error of the loss"
        if losses and losses.get(family, 0.0) > min(losses.values())
        else ""
    )
    return (
        f"Model family: `{family}`{blend}, kept by the calibration slice (log-loss after a "
        f"sigmoid: {shown or 'one family only'}{simpler}); the tables call it "
        f'"{challenger_name(model.kind)}" (MLflow: metrics `lightgbm_*`, as for every family).'
    )


def audit_and_refuse(
    data: TabularData, prepared: Prepared, allow: tuple[str, ...] = ()
) -> tuple[Prepared, dict[str, str]]:
    """Leakage audit on the training rows only; flagged columns leave the model unless allowed,
    and so do columns no training row fills."""
    from training.leakage import audit_columns, refuse_flagged

    training = prepared.frame["slice"].to_numpy() != "test"
    report = audit_columns(
        data.frame.loc[training].reset_index(drop=True), data.label, data.time_column
    )
    kept, dropped = refuse_flagged(prepared.columns, report, allow)
    # a column no training row fills teaches nothing, and its type would be a guess that
    # the next file (where it is filled) contradicts
    rows = prepared.frame.loc[training]
    for column in [c for c in kept if rows[c].isna().all()]:
        kept.remove(column)
        dropped[column] = "empty in every training row: nothing to learn from"
    return dataclasses.replace(prepared, columns=kept), dropped


def read_table(
    source: str | Path,
    label: str | None,
    id_column: str | None,
    time_column: str | None,
    mapping: Path | None,
    without_label: bool = False,
    categorical: Iterable[str] = (),
) -> TabularData:
    """Through a column mapping if given (``features.mapping``), else as a plain CSV export.

    ``without_label``: new leads to score, whose label column may be missing.
    ``categorical``: columns a mapping keeps as text (a model's categories, when scoring).
    """
    from features.loaders import read_tabular

    if mapping is not None:
        from features.mapping import apply_mapping

        return apply_mapping(source, mapping, without_label=without_label, categorical=categorical)
    if label is None:
        raise ValueError("tabular mode needs --label or a --mapping that declares the label")
    return _plain_table(
        read_tabular(source, label, id_column, time_column, without_label), id_column
    )


def _plain_table(
    read: tuple[TabularData | None, list[Problem]], id_column: str | None
) -> TabularData:
    """A plain export's rows as read, or a ContractError for its problems. The id is copied
    into ``lead_id``; the original column is no feature."""
    from features.loaders import ContractError

    data, problems = read
    if problems or data is None:
        raise ContractError(problems)
    if id_column and id_column != data.id_column:
        data.frame = data.frame.drop(columns=[id_column])
    return data


def reading_of(data: TabularData, id_column: str | None, time_column: str | None) -> dict[str, Any]:
    """How new rows are read for this model, kept with it so that a service, which gets rows
    and no files or options, reads them as training read its table: the mapping (renames,
    missing-value tokens, dates), or the plain export's label, id and time columns."""
    mapping = data.frame.attrs.get("mapping")
    if mapping:
        return {"mapping": mapping}
    return {"label": data.label, "id": id_column, "time": time_column}


def mapping_of(model: LeadModel) -> dict[str, Any]:
    """The mapping the model's training read its export with ({} for a plain CSV)."""
    return (model.params.get("reading") or {}).get("mapping") or {}


def id_of(reading: dict[str, Any]) -> str:
    """The id column of new rows: the mapping's, else the plain export's, else ``lead_id``."""
    return (reading.get("mapping") or reading).get("id") or "lead_id"


# A JSON cell may be long (an export's free-text notes); the request size limit bounds the whole.
CELL_LENGTH = 20_000


def cell_problem(value: object) -> str | None:
    """Why a JSON value cannot be a cell of an export (None when it can): a cell is text, a
    finite number, true/false or null, and text the audit log can store."""
    if value is None or isinstance(value, bool | int):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{value} is not a number a file can hold"
    if isinstance(value, str):
        if len(value) > CELL_LENGTH:
            return f"the cell is longer than {CELL_LENGTH:,} characters"
        if not storable(value):
            return "the cell holds NUL or half a surrogate pair"
        return None
    kind = {dict: "an object", list: "a list"}.get(type(value), type(value).__name__)
    return f"the cell is {kind}: send text, a number, true/false or null"


def request_cell(value: object) -> object:
    """A JSON value as the cell a CSV export holds: text, or missing ("" is an empty cell)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def row_columns(model: LeadModel) -> tuple[list[str], list[str]]:
    """The columns of a new row as the export names them: those every row must carry (its id
    first, then what the model reads) and those the reading names but the model does not need
    (an excluded column, a date with no calendar part, consent), which may be left out; when
    sent they are read and checked as in a file."""
    from features.loaders import CONSENT
    from features.mapping import calendar_columns, exported_names

    reading = model.params.get("reading") or {}
    mapping = mapping_of(model)
    exported = exported_names(mapping)

    def sent(column: str) -> str:
        return exported.get(column, column)

    calendar = calendar_columns(mapping)
    needed = [sent(id_of(reading))]
    for column in model.columns:
        name = sent(calendar.get(column, column))
        if name not in needed:
            needed.append(name)
    features = mapping.get("features") or {}
    named = [
        *(mapping.get("rename") or {}),
        *(features.get("include") or []),
        *features.get("exclude", []),
        *features.get("numeric", []),
        *features.get("categorical", []),
        *(mapping.get("missing_by_column") or {}),
        ((mapping.get("time") or {}).get("column") or reading.get("time") or ""),
        mapping.get("consent") or CONSENT,
    ]
    optional = list(dict.fromkeys(sent(c) for c in named if c and sent(c) not in needed))
    return needed, optional


def boolean_spellings(model: LeadModel) -> dict[str, dict[bool, str]]:
    """Per category column (as the export names it) that the model learnt as "True"/"FALSE"
    text, how a JSON ``true``/``false`` is spelt there: the export's own spelling, so a client
    sending a JSON boolean is read as the file's row would be."""
    from features.mapping import exported_names

    exported = exported_names(mapping_of(model))
    out: dict[str, dict[bool, str]] = {}
    for column, known in model.categories.items():
        spelt = {k.strip().lower(): k for k in known}
        found = {b: spelt[str(b).lower()] for b in (True, False) if str(b).lower() in spelt}
        if found:
            out[exported.get(column, column)] = found
    return out


def read_rows(rows: list[dict[str, Any]], model: LeadModel, table: str = "rows") -> TabularData:
    """New leads sent as JSON objects (one per lead), read as the model's training read its
    table (:func:`reading_of`) and typed as it learnt them.

    Every row carries its id and the columns the model reads (:func:`row_columns`; null for an
    empty cell), so whether a row scores never depends on the other rows sent with it; keys the
    reading does not name are ignored, whatever they hold. Raises
    :class:`features.loaders.ContractError` (rows counted from 1, columns as the export names
    them) or :class:`features.mapping.MappingError`.
    """
    from features.loaders import ContractError, Problem, tabular_from_frame

    reading = model.params.get("reading")
    if not reading:
        raise ContractError(
            [Problem(table, "this model was trained before tabular models kept how to read rows")]
        )
    needed, optional = row_columns(model)
    missing = [
        Problem(table, "column is missing (send null for an empty cell)", row=i + 1, column=c)
        for i, row in enumerate(rows)
        for c in needed
        if c not in row
    ]
    if missing:
        raise ContractError(missing[:20])
    bad = [
        Problem(table, why, row=i + 1, column=c)
        for i, row in enumerate(rows)
        for c in needed + optional
        if c in row and (why := cell_problem(row[c]))
    ]
    if bad:
        raise ContractError(bad[:20])
    spelled = boolean_spellings(model)
    frame = pd.DataFrame(
        [
            {
                c: spelled[c][row[c]]
                if isinstance(row.get(c), bool) and row[c] in spelled.get(c, {})
                else request_cell(row.get(c))
                for c in needed + optional
            }
            for row in rows
        ],
        columns=needed + optional,
        dtype=object,
    )
    mapping, id_column = reading.get("mapping"), id_of(reading)
    if mapping:
        from features.mapping import apply_mapping

        return apply_mapping(
            frame, {**mapping, "id": id_column}, without_label=True, categorical=model.categories
        )
    read = tabular_from_frame(
        frame, table, reading["label"], id_column, reading.get("time"), without_label=True
    )
    return _plain_table(read, id_column)


def run_tabular(
    source: str | Path,
    label: str,
    config: TrainConfig,
    settings: Settings,
    id_column: str | None = None,
    time_column: str | None = None,
    progress: Progress = _noop,
    name: str = TABULAR_MODEL_NAME,
    mapping: Path | None = None,
    allow: tuple[str, ...] = (),
) -> RunOutcome:
    """Read, audit, train, evaluate, register and gate a table with a label column.

    Columns the leakage audit flags (on the training rows) are refused unless ``allow`` names
    them; the report lists each refused column with its reason.
    """
    from training.train import check_positives, evaluate_on_test
    from training.workflow import champion_gate, report_and_register

    data, objected = consenting(read_table(source, label, id_column, time_column, mapping))
    if data.frame.empty:
        why = f"all {objected:,} objected to profiling" if objected else "the table has none"
        raise ColdStartError(0, config.min_positives, f"the rows that may be profiled ({why})")
    label = data.label
    positives = int(data.frame[label].sum())
    if positives < config.min_positives:  # before the split, which a handful of rows breaks
        raise ColdStartError(positives, config.min_positives, "the table")
    progress("Splitting")
    config = drift_defaults(data, config)
    prepared = prepare_tabular(data, config)
    check_positives(prepared.frame, config.min_positives)
    config = calibration_for(prepared, config)
    prepared, refused = audit_and_refuse(data, prepared, allow)
    result = fit_and_evaluate(prepared, config, progress)
    result.model.params["reading"] = reading_of(data, id_column, time_column)
    result.model.params["ranges"] = numeric_ranges(
        prepared.part("fit", "valid", "cal"), result.model
    )
    champion, before, problem = registry.current_champion(settings, name)
    champion_metrics = None
    if champion is not None and set(champion.columns) <= set(prepared.frame.columns):
        champion_metrics, probability = evaluate_on_test(champion, prepared)
        result.test_probabilities["champion"] = probability
    promoted, reason = champion_gate(result, champion, champion_metrics)
    if problem:
        promoted, reason = True, f"the current champion cannot serve with this code: {problem}"
    elif champion is not None and champion_metrics is None:
        # another export (or one that lost a column): nothing to compare on, so a person decides
        missing = sorted(set(champion.columns) - set(prepared.frame.columns))
        promoted = False
        reason = (
            f"not compared: this table lacks {len(missing)} column(s) the champion "
            f"(version {before.version if before else '?'}) reads ({', '.join(missing[:3])}"
            f"{', ...' if len(missing) > 3 else ''}); if it replaces that export, promote it by "
            "hand: leadscore models --tabular --promote VERSION"
        )
    # a table's rows are its examples: the snapshot, purge and event-feature settings of CRM
    # training do not apply, and a report listing them would say they had been used
    params = {
        **{k: v for k, v in config.flat().items() if not k.startswith(CRM_ONLY)},
        "mode": "tabular",
        "label": label,
        "refused_columns": ",".join(refused) or "-",
        "allowed_columns": ",".join(allow) or "-",
        "family": result.model.kind,
    }
    family = family_note(result.model)
    notes = [
        "Tabular mode: features are the table's columns minus those the leakage audit "
        "refused (see `leadscore audit-data`) and those no training row fills.",
        *[f"Refused `{column}`: {why}" for column, why in refused.items()],
        family,
    ]
    if objected:
        notes.append(f"{objected:,} row(s) objected to profiling and were left out of training.")
    verdict = (champion_metrics, before, promoted, reason)
    shown = [family]
    if refused:
        listed = ", ".join(refused)
        shown.insert(0, f"Left out {len(refused)} column(s), why in the report: {listed}")
    return report_and_register(
        result, settings, params, verdict, notes, progress, name=name, shown=shown
    )
