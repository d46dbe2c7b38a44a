"""One training run end to end: train, compare with the champion, report, register, gate.

This is what ``leadscore train`` and the walkthrough notebook call; the steps themselves live in
:mod:`training.train`, :mod:`training.report` and :mod:`training.registry`.

Usage::

    outcome = run_training(load_tables("demo/crm"), TrainConfig(), Settings())
    outcome.promoted, outcome.reason, outcome.version.version
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd

from features.contract import CRMTables, TabularData
from training import registry
from training.evaluate import (
    PERIOD_DAYS,
    Capacity,
    GateTolerance,
    calibration_moved,
    capacity_share,
    gate,
    volume_per_period,
)
from training.report import write_report
from training.snapshots import open_snapshots
from training.train import (
    Prepared,
    Progress,
    TrainConfig,
    TrainResult,
    cold_start_rules,
    evaluate_on_test,
    fit_and_evaluate,
    prepare,
)

if TYPE_CHECKING:
    from leadscore.settings import Settings
    from training.model import LeadModel


def _noop(_: str) -> None:
    return None


@dataclass
class RunOutcome:
    """What a training run produced and decided."""

    result: TrainResult
    metrics: dict[str, dict[str, float] | None]
    promoted: bool
    reason: str
    version: registry.VersionInfo
    champion_before: registry.VersionInfo | None
    report: Path
    notes: list[str] = field(default_factory=list)


def default_report_dir(settings: Settings) -> Path:
    """``models/reports/<UTC time>``: beside the store, git-ignored, removed by ``make clean``."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")
    return Path(settings.models_dir) / "reports" / stamp


def compare_with_champion(
    prepared: Prepared, result: TrainResult, settings: Settings, name: str, tolerance: GateTolerance
) -> tuple[dict[str, float] | None, registry.VersionInfo | None, bool, str, list[str]]:
    """Re-evaluate the current champion on this run's test window and apply the gate."""
    notes: list[str] = []
    champion, info, problem = registry.current_champion(settings, name)
    champion_metrics = None
    # a champion of another horizon answers another question: its numbers on these labels
    # would sit in the tables as if it had been compared
    other_horizon = champion is not None and _horizon(champion) != _horizon(result.model)
    if champion is not None and not other_horizon:
        champion_metrics, probability = evaluate_on_test(champion, prepared)
        result.test_probabilities["champion"] = probability
        flattered = _champion_saw_the_test_window(champion, result)
        if flattered:
            notes.append(flattered)
    if problem:
        notes.append(
            f"The champion (version {info.version if info else '?'}) cannot be "
            f"evaluated by this code: {problem}"
        )
        promoted, reason = True, "the current champion no longer fits the feature code"
    elif champion is not None and other_horizon:
        # the same test rows, another question: a 90-day model judged on 60-day labels
        promoted = False
        reason = (
            f"not compared: the champion predicts buying within {_horizon(champion)} days, "
            f"this model within {_horizon(result.model)}; promote by hand "
            "(leadscore models --promote) if the horizon is meant to change"
        )
    else:
        promoted, reason = champion_gate(result, champion, champion_metrics, tolerance)
    if info is not None and champion_metrics is not None:
        reason = f"{reason} (champion: version {info.version})"
    return champion_metrics, info, promoted, reason, notes


def champion_gate(
    result: TrainResult,
    champion: LeadModel | None,
    champion_metrics: dict[str, float] | None,
    tolerance: GateTolerance = GateTolerance(),
) -> tuple[bool, str]:
    """Whether ``result`` replaces the champion, CRM and tabular models alike: never on older
    data, "not worse" on newer data, better on the same data."""
    if champion is not None and (older := _older_data(result.model, champion)):
        # said before any metric: a near miss on Brier would invite a retrain of the same cut
        return False, older
    promoted, reason = gate(result.metrics["lightgbm"], champion_metrics, tolerance)
    if promoted and champion is not None and champion_metrics is not None:
        return _fresher_or_better(
            result, champion, result.metrics["lightgbm"], champion_metrics, reason
        )
    return promoted, reason


def _fresher_or_better(
    result: TrainResult,
    champion: LeadModel,
    ours: dict[str, float],
    theirs: dict[str, float],
    reason: str,
) -> tuple[bool, str]:
    """ "Not worse" promotes a model trained on newer data; on the same data it has to be
    better on one metric (retraining on the same export promoted a tie, a new version and a hot
    reload for nothing); on older data it is not compared at all (:func:`_older_data`)."""
    end, their_end = _data_end(result.model), _data_end(champion)
    if ours["roc_auc"] > theirs["roc_auc"] or ours["brier"] < theirs["brier"]:
        return True, reason
    if end is not None and their_end is not None and end > their_end:
        return True, reason
    return False, (
        f"no better than the champion ({reason}) and trained on no newer data "
        f"(data end {result.model.data_window.get('data_end')}): replacing it would gain nothing"
    )


def _older_data(model: LeadModel, champion: LeadModel) -> str | None:
    """Why a model trained on older data than the champion is not promoted on metrics: a cut of
    last summer's export replaced October's champion on +0.0006 ROC-AUC. A person decides."""
    end, their_end = _data_end(model), _data_end(champion)
    if end is None or their_end is None or end >= their_end:
        return None
    return (
        f"trained on older data (data end {end:%Y-%m-%d}) than the champion "
        f"({their_end:%Y-%m-%d}): not promoted on metrics; promote it by hand "
        "(leadscore models --promote VERSION) if it is meant to replace a newer model"
    )


def _data_end(model: LeadModel) -> pd.Timestamp | None:
    return _moment(model.data_window.get("data_end"))


def _moment(value: object) -> pd.Timestamp | None:
    """A moment of a model's data window; None when unknown or not a date ("row 1,234")."""
    try:
        moment = pd.Timestamp(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if pd.isna(moment) else moment


def _champion_saw_the_test_window(champion: LeadModel, result: TrainResult) -> str | None:
    """The champion's numbers on this test window flatter it when it was fitted or calibrated
    on leads of the window (a monthly retrain's test window holds leads that were last month's
    calibration slice). Slices are cut by the lead's creation: a model learns from the leads
    created before its own test window."""
    seen = _moment(champion.data_window.get("test_from"))
    start = _moment(result.model.data_window.get("test_from"))
    if seen is None or start is None or seen <= start:
        return None
    return (
        f"The champion learnt from leads created up to {seen:%Y-%m-%d}, and this test window "
        f"holds leads created from {start:%Y-%m-%d}: its numbers here flatter it, so the "
        "comparison favours the champion."
    )


def _horizon(model: LeadModel) -> int:
    return int(model.data_window.get("horizon_days", 90))


def run_training(
    tables: CRMTables,
    config: TrainConfig,
    settings: Settings,
    progress: Progress = _noop,
    tolerance: GateTolerance = GateTolerance(),
    report_dir: Path | None = None,
    name: str = registry.MODEL_NAME,
    tune_trials: int = 0,
    tune_timeout_s: float = 600.0,
) -> RunOutcome:
    """Train on closed deals, judge against baselines and champion, log, register, gate."""
    prepared = prepare(tables, config, progress)
    params = None
    if tune_trials > 0:
        from training.tune import tune

        progress("Tuning on time-based folds within train")
        params = tune(prepared, config, tune_trials, tune_timeout_s).params
    result = fit_and_evaluate(prepared, config, progress, params=params)
    return register_result(result, settings, progress, tolerance, report_dir, name)


def register_result(
    result: TrainResult,
    settings: Settings,
    progress: Progress = _noop,
    tolerance: GateTolerance = GateTolerance(),
    report_dir: Path | None = None,
    name: str = registry.MODEL_NAME,
) -> RunOutcome:
    """Compare a trained result with the champion, write the report, log, register and gate."""
    prepared, config = result.prepared, result.config
    progress("Comparing with the champion")
    champion_metrics, before, promoted, reason, notes = compare_with_champion(
        prepared, result, settings, name, tolerance
    )
    run_params = {**config.flat(), **{f"lgb.{k}": v for k, v in result.model.params.items()}}
    return report_and_register(
        result,
        settings,
        run_params,
        (champion_metrics, before, promoted, reason),
        notes,
        progress,
        report_dir,
        name,
    )


def report_and_register(
    result: TrainResult,
    settings: Settings,
    run_params: dict[str, Any],
    verdict: tuple[dict[str, float] | None, registry.VersionInfo | None, bool, str],
    notes: list[str],
    progress: Progress = _noop,
    report_dir: Path | None = None,
    name: str = registry.MODEL_NAME,
    shown: list[str] | None = None,
) -> RunOutcome:
    """The end of every training run: report, MLflow run and registered version, gate applied.

    ``verdict`` is (champion's metrics, champion, promoted, reason); ``notes`` go into the
    report, ``shown`` (default: the same) to the command line.
    """
    champion_metrics, before, promoted, reason = verdict
    metrics = {**result.metrics, "champion": champion_metrics}
    moved = calibration_moved(result.metrics["lightgbm"])
    if moved:  # said in the report and on the command line, whatever else is shown
        notes = [*notes, moved]
        shown = None if shown is None else [*shown, moved]
    progress("Writing the report")
    report_dir = report_dir or default_report_dir(settings)
    report = write_report(
        report_dir,
        metrics,
        result.test_probabilities,
        result.test_labels,
        result.importance,
        result.model.data_window,
        (promoted, reason),
        run_params,
        notes,
        result.model.kind,
    )
    progress("Logging to MLflow")
    version = registry.log_and_register(
        settings,
        result.model,
        result.prepared.part("test"),
        run_params,
        metrics,
        report_dir,
        (promoted, reason),
        name,
    )
    shown = notes if shown is None else shown
    return RunOutcome(result, metrics, promoted, reason, version, before, report, shown)


def register_rules(
    tables: CRMTables,
    config: TrainConfig,
    settings: Settings,
    progress: Progress = _noop,
    name: str = registry.MODEL_NAME,
) -> registry.VersionInfo:
    """Cold start: register the points model; it becomes champion only if there is none."""
    model = cold_start_rules(tables, config, progress)
    client = registry.client_for(settings)
    has_champion = registry.version_by_alias(client, registry.CHAMPION, name) is not None
    decision = (
        (False, "a champion exists; the points model is registered for comparison only")
        if has_champion
        else (True, "cold start: too few closed deals to learn from, the points model serves")
    )
    from features.pipeline import build_features, objecting_leads, snapshots_at
    from training.snapshots import data_end

    sample = snapshots_at(tables.leads, data_end(tables))
    sample = sample[~sample["lead_id"].isin(objecting_leads(tables.leads, config.feature_config))]
    sample = sample.head(500)
    frame = build_features(tables, snapshots=sample, config=config.feature_config)
    progress("Logging to MLflow")
    return registry.log_and_register(
        settings,
        model,
        frame,
        {**config.flat(), "model": "rules"},
        {"rules": model.metrics or None},
        None,
        decision,
        name,
    )


@dataclass
class ThresholdAdvice:
    """The cut-off that would have sent ``capacity`` leads per period to sales recently.

    The cut-off is a whole score (as a probability, ``score / 100``): routing grades by the
    whole score, so the volume and precision are those of the leads that reach it.
    """

    cutoff: float
    share: float  # of the leads the cut-off decides, handed over by score
    volume: float  # every lead up for a decision
    expected_precision: float  # NaN: no lead handed over by score
    scored: int
    model_version: str
    grade_cutoffs: dict[str, float] = field(default_factory=dict)  # stored with the model
    # cut from the open leads' scores (False: an older champion's test-window scores)
    open_leads: bool = True
    # per period, leads the cut-off does not decide (None: not known, e.g. without data)
    always: float | None = None  # routing sends them to sales anyway (they asked for contact)
    never: float | None = None  # never by their score (a review flag, no profiling consent)
    always_precision: float | None = None  # their mean probability, where they have one
    # per period, handed over by score one score lower (over the capacity)
    one_lower: float | None = None
    # one batch over every open lead at the end of the data: (moment, by score, who asked)
    at_once: tuple[pd.Timestamp, int, int] | None = None

    @property
    def by_score(self) -> float:
        """Leads per period handed over by their score."""
        return self.share * (self.volume - (self.always or 0) - (self.never or 0))


class Cut(NamedTuple):
    """A whole-score cut-off and what it hands over (:func:`cut_at_capacity`)."""

    cutoff: float  # the score / 100
    share: float  # of the rows, handed over
    expected_precision: float  # their mean probability; NaN for none
    lower_share: float | None  # the share one score lower would hand over


def cut_at_capacity(probability: np.ndarray, wanted: float) -> Cut:
    """The whole score that hands over at most the ``wanted`` share of these rows
    (:func:`training.evaluate.whole_score_cut`), with what it hands over."""
    from training.evaluate import whole_score_cut

    probability = np.asarray(probability, dtype=float)
    if wanted <= 0:  # the capacity is taken (by hand-raisers): none by score
        return Cut(1.0, 0.0, np.nan, None)
    score, share = whole_score_cut(probability, wanted)
    scores = np.rint(probability * 100)
    reached = scores >= score
    lower = float(np.mean(scores >= score - 1)) if probability.size else 0.0
    return Cut(
        min(score, 100) / 100,
        share,
        float(probability[reached].mean()) if reached.any() else np.nan,
        lower if score > 0 else None,
    )


def advice_for(
    probability: np.ndarray,
    volume: float,
    capacity: Capacity,
    version: str,
    grade_cutoffs: dict[str, float] | None = None,
    always: np.ndarray | None = None,
    never: np.ndarray | None = None,
) -> ThresholdAdvice:
    """Cut scored leads at the share of ``volume`` per period that ``capacity`` can take.

    ``always`` and ``never`` mark rows the cut-off does not decide: leads routing sends to sales
    whatever their score take their part of the capacity first, and leads it never sends by score
    are not cut. Without them every row is the cut-off's. The expected precision is the mean
    calibrated probability of the leads handed over by score: the share that should buy, if the
    calibration holds.
    """
    n = len(probability)
    probability = np.asarray(probability, dtype=float)
    always = np.zeros(n, bool) if always is None else np.asarray(always, bool)
    known = never is not None
    never = (np.zeros(n, bool) if never is None else np.asarray(never, bool)) & ~always
    per_row = volume / n if n else 0.0
    free = ~always & ~never
    left = capacity.leads - always.sum() * per_row
    free_volume = free.sum() * per_row
    wanted = 0.0 if left <= 0 else 1.0 if free_volume <= left else left / free_volume
    cut = cut_at_capacity(probability[free], wanted)
    theirs = probability[always & ~np.isnan(probability)]
    lower = cut.lower_share
    return ThresholdAdvice(
        cutoff=cut.cutoff,
        share=cut.share,
        expected_precision=cut.expected_precision,
        volume=volume,
        scored=n,
        model_version=version,
        grade_cutoffs=dict(grade_cutoffs or {}),
        always=float(always.sum() * per_row) if known else None,
        never=float(never.sum() * per_row) if known else None,
        always_precision=float(theirs.mean()) if theirs.size else None,
        one_lower=None if lower is None else lower * free_volume,
    )


def at_once(
    probability: np.ndarray, always: np.ndarray, never: np.ndarray, cut: float
) -> tuple[int, int]:
    """What one batch over every open lead hands over at ``cut``: (by score, who asked only),
    split as routing's ``why`` splits them (a hand-raiser at the cut-off goes by its grade)."""
    scores = np.rint(np.nan_to_num(np.asarray(probability, dtype=float), nan=-1.0) * 100)
    reached = ~np.asarray(never, bool) & (scores >= round(cut * 100))
    asked = np.asarray(always, bool) & ~reached
    return int(reached.sum()), int(asked.sum())


def recent_open(
    tables: CRMTables, model: LeadModel, weeks: int = 13, every_days: int = 30
) -> pd.DataFrame:
    """The open-lead snapshots of the last ``weeks``, as a model of this horizon would score
    them (leads that objected to profiling included: routing still reads their requests)."""
    from training.snapshots import SnapshotConfig

    config = SnapshotConfig(every_days, _horizon(model))
    recent = open_snapshots(tables, config, weeks, model.feature_config, objecting=True)
    if recent.empty:
        raise ValueError("no open leads in the recent data to derive a threshold from")
    return recent


def table_thresholds(
    data: TabularData, settings: Settings, capacity: Capacity, weeks: int = 13
) -> ThresholdAdvice:
    """Tabular mode: score the table's newest ``weeks`` of rows with the tabular champion and cut
    at the capacity share of the rows that arrive per period.

    The volume per period comes from the lead's date, so the table needs a time column. Rows
    that objected to profiling are not scored and do not count.
    """
    from training.tabular import TABULAR_MODEL_NAME, consenting, model_inputs, row_ordered

    if not data.time_column or "created_at" not in data.frame.columns or row_ordered(data):
        raise ValueError(
            "thresholds need the lead's date to know how many leads arrive per period: give "
            "--time COLUMN, or a mapping with a time column (row order is no date)"
        )
    model, info = registry.load_champion(settings, TABULAR_MODEL_NAME)
    data, objected = consenting(data)
    if data.frame.empty:
        raise ValueError(f"no row to score: all {objected:,} objected to profiling")
    created = pd.to_datetime(data.frame["created_at"])
    recent = (created > created.max() - pd.Timedelta(weeks=weeks)).to_numpy(bool)
    if not recent.any():
        raise ValueError("no dated rows in the table to derive a threshold from")
    features = model_inputs(model, data, who=f"tabular champion v{info.version}")
    probability = model.predict_proba(model.encode(features.loc[recent]))
    volume = volume_per_period(created[recent], 7, capacity.per)
    return advice_for(probability, volume, capacity, info.version, model.thresholds)


def stored_thresholds(
    settings: Settings, capacity: Capacity, name: str = registry.MODEL_NAME
) -> ThresholdAdvice:
    """Without data at hand: cut the score distribution the champion stored at training.

    The training run stored 201 quantiles of the calibrated probabilities of the recent open
    leads (older champions: of the test window) and their weekly volume, which is enough to
    place the cut-off and estimate precision.
    """
    model, info = registry.load_champion(settings, name)
    open_leads = model.data_window.get("open_score_quantiles")
    stored = open_leads or model.data_window.get("test_score_quantiles", [])
    quantiles = np.asarray(stored, dtype=float)
    volume = float(model.data_window.get("weekly_volume", 0.0))
    if quantiles.size == 0 or volume <= 0:
        raise ValueError("the champion stores no score distribution; give DATA to score")
    volume = volume * PERIOD_DAYS[capacity.per] / 7
    cut = cut_at_capacity(quantiles, capacity_share(capacity, volume))
    return ThresholdAdvice(
        cutoff=cut.cutoff,
        share=cut.share,
        expected_precision=cut.expected_precision,
        volume=volume,
        one_lower=None if cut.lower_share is None else cut.lower_share * volume,
        scored=0,
        model_version=info.version,
        grade_cutoffs=dict(model.thresholds),
        open_leads=bool(open_leads),
    )


def without_groups(config: TrainConfig, *groups: str) -> TrainConfig:
    """The same configuration with some registry feature groups left out (for comparisons)."""
    return dataclasses.replace(config, exclude_groups=tuple(groups))
