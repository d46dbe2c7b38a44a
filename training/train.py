"""Training on closed deals: snapshots -> time split -> LightGBM and baselines -> evaluation.

Two steps, so tests and tuning can reuse the expensive one:

* :func:`prepare` labels snapshots, splits them by time and computes features once.
* :func:`fit_and_evaluate` fits LightGBM (on a table: the model family the calibration slice
  prefers, :mod:`training.families`), the points model and logistic regression on the same
  split, calibrates all three on the calibration slice and scores them on the test window.

Nothing here touches MLflow or the disk; :mod:`training.registry` and :mod:`training.report` do.

Usage::

    prepared = prepare(tables, TrainConfig())
    result = fit_and_evaluate(prepared, TrainConfig())
    result.metrics["lightgbm"]["roc_auc"]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.contract import CRMTables
from features.mapping import ROW_ORDER_ORIGIN
from features.pipeline import FeatureConfig, model_columns
from features.registry import FEATURES
from training.baselines import RULES_PATH, LogisticBaseline, fit_logistic, load_rules, rules_model
from training.calibration import Calibrator, Method
from training.evaluate import (
    PERIOD_DAYS,
    Capacity,
    capacity_share,
    contribution_importance,
    metrics,
    volume_per_period,
    whole_score_cut,
)
from training.families import (
    FAMILIES,
    Family,
    Slices,
    blend_with_linear,
    choose,
    fit_family,
    row_losses,
)
from training.model import (
    BoosterParams,
    Kind,
    LeadModel,
    Mode,
    categorical_of,
    feature_config_to_dict,
    learn_categories,
)
from training.snapshots import (
    LabelledSnapshots,
    SnapshotConfig,
    label_snapshots,
    open_snapshots,
    training_frame,
)
from training.split import Split, SplitConfig, time_split

Progress = Callable[[str], None]
GRADE_SHARES = {"B": 0.3, "C": 0.6}
IMPORTANCE_ROWS = 3000


class ColdStartError(RuntimeError):
    """Too few closed deals to learn from; the points model is the way to start."""

    def __init__(
        self,
        positives: int,
        minimum: int,
        where: str,
        deals: int | None = None,
        horizon_days: int | None = None,
    ) -> None:
        self.positives = positives
        self.minimum = minimum
        self.where = where
        # CRM snapshots: a won deal is a positive in each snapshot of the 90 days before it
        # closed, so the examples a model learns from outnumber the deals
        counted = (
            f"{positives} won example(s) (from {deals} won deal(s))"
            if deals is not None
            else f"{positives} won deal(s)"
        )
        # a short horizon counts only deals won soon after a snapshot: the data may be rich
        usual = SnapshotConfig().horizon_days
        shorter = (
            f" (a snapshot is won when its deal closes within {horizon_days} days; a horizon "
            f"of {usual} days counts more)"
            if horizon_days is not None and horizon_days < usual
            else ""
        )
        super().__init__(
            f"Cold start: only {counted} in {where}{shorter}, a learned model needs at "
            f"least {minimum}. Score with the points model instead: `leadscore train DATA "
            f"--rules` registers the rules in {RULES_PATH.name} (edit them with sales), "
            "calibrated on the deals you have; it serves through the same interface and is "
            "replaced automatically once a trained model beats it."
        )


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run may vary; logged as MLflow params."""

    snapshots: SnapshotConfig = field(default_factory=SnapshotConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    booster: BoosterParams = field(default_factory=BoosterParams)
    feature_config: FeatureConfig = field(default_factory=FeatureConfig)
    calibration: Method = "isotonic"
    # Tabular time splits: newest valid/cal slices sized by positives, sigmoid calibration when
    # the calibration slice is small (training.tabular.drift_defaults). False: fixed shares.
    drift_defaults: bool = True
    # Tabular runs: model families the calibration slice chooses among (training.families).
    families: tuple[Family, ...] = FAMILIES
    min_positives: int = 100
    capacity: Capacity = field(default_factory=Capacity)
    exclude_groups: tuple[str, ...] = ()
    rules_path: Path = RULES_PATH
    # what was trained on, in words (a folder, a file, a database without its password): kept
    # with the run and the version, so three exports' versions can be told apart
    source: str = ""

    def flat(self) -> dict[str, Any]:
        """Flat key/value view for MLflow params and the report."""
        out: dict[str, Any] = {}
        for name, value in (
            ("snapshot", self.snapshots),
            ("split", self.split),
            ("lgb", self.booster),
            ("capacity", self.capacity),
        ):
            out.update({f"{name}.{k}": v for k, v in dataclasses.asdict(value).items()})
        features = feature_config_to_dict(self.feature_config)
        out["features.half_life_days"] = features["half_life_days"]
        out["features.merge_duplicates"] = features["merge_duplicates"]
        out["features.extra"] = ",".join(features["extra_features"]) or "-"
        out["calibration"] = self.calibration
        out["drift_defaults"] = self.drift_defaults
        out["families"] = ",".join(self.families)
        out["min_positives"] = self.min_positives
        out["exclude_groups"] = ",".join(self.exclude_groups) or "-"
        out["data"] = self.source or "-"
        return out


RECENT_SAMPLE = 20_000  # open-lead snapshots scored at training for `leadscore thresholds`


@dataclass
class Prepared:
    """Labelled, split and featurised snapshots: the expensive part of a run, done once."""

    frame: pd.DataFrame
    split: Split
    labelled: LabelledSnapshots
    sales_share: float
    weekly_volume: float
    feature_config: FeatureConfig = field(default_factory=FeatureConfig)
    tables: CRMTables | None = None
    columns: list[str] = field(default_factory=list)
    mode: Mode = "crm"
    # a table whose rows are chronological without dates (a mapping's ``time: {row_order:
    # true}``): its "dates" count rows, and the report says row numbers
    row_order: bool = False
    # features of (a sample of) the recent open snapshots: the leads the weekly volume counts
    recent: pd.DataFrame | None = None

    def part(self, *names: str) -> pd.DataFrame:
        return self.frame[self.frame["slice"].isin(names)]


@dataclass
class TrainResult:
    """The trained model, the baselines, and their numbers on the same test window."""

    model: LeadModel
    rules: LeadModel | None
    logistic: LogisticBaseline
    metrics: dict[str, dict[str, float]]
    test_probabilities: dict[str, np.ndarray]
    test_labels: np.ndarray
    importance: pd.DataFrame
    prepared: Prepared
    config: TrainConfig
    notes: list[str] = field(default_factory=list)


def _noop(_: str) -> None:
    return None


def check_positives(frame: pd.DataFrame, minimum: int, horizon_days: int | None = None) -> None:
    """Stop with :class:`ColdStartError` unless training has ``minimum`` won deals and every
    other slice has both outcomes. ``frame`` needs ``slice`` and ``label``."""
    slices = frame["slice"]
    training = frame.loc[slices.isin(("fit", "valid"))]
    positives = int(training["label"].sum())
    if positives < minimum:
        deals = int(training.loc[training["label"] == 1, "lead_id"].nunique())
        raise ColdStartError(
            positives,
            minimum,
            "the training period",
            deals if deals != positives else None,
            horizon_days,
        )
    for name in ("valid", "cal", "test"):
        labels = frame.loc[slices == name, "label"]
        if labels.nunique() < 2:
            raise ColdStartError(
                int(labels.sum()), minimum, f"the {name} slice (it needs won and not-won deals)"
            )


def prepare(tables: CRMTables, config: TrainConfig, progress: Progress = _noop) -> Prepared:
    """Label snapshots, split by time, stop early on cold start, then compute features."""
    progress("Labelling snapshots")
    labelled = label_snapshots(tables, config.snapshots, config.feature_config)
    if labelled.snapshots.empty:
        raise ColdStartError(0, config.min_positives, "the data (no snapshot has a known label)")
    split = time_split(labelled.snapshots, config.snapshots.horizon_days, config.split)
    check_positives(split.frame, config.min_positives, config.snapshots.horizon_days)
    recent = open_snapshots(tables, config.snapshots, 13, config.feature_config)
    weekly = volume_per_period(recent["as_of"], config.snapshots.every_days, "week")
    progress("Computing point-in-time features")
    if len(recent) > RECENT_SAMPLE:
        recent = recent.sample(RECENT_SAMPLE, random_state=config.split.seed)
    # one feature build for both: each build reads every lead's record (flags, fit) once
    both = pd.concat([split.frame, recent], ignore_index=True)
    features = training_frame(tables, both, config.feature_config)
    frame = features.iloc[: len(split.frame)].reset_index(drop=True)
    frame["label"] = split.frame["label"].to_numpy()  # the open leads' NaN made it float
    frame["slice"] = split.frame["slice"].to_numpy()
    share = capacity_share(config.capacity, weekly * PERIOD_DAYS[config.capacity.per] / 7)
    return Prepared(
        frame,
        split,
        labelled,
        share,
        weekly,
        config.feature_config,
        tables,
        model_columns(config.feature_config),
        recent=features.iloc[len(split.frame) :].drop(columns="label").reset_index(drop=True),
    )


def used_columns(config: TrainConfig, available: list[str] | None = None) -> list[str]:
    """The model's inputs: the pipeline's columns (or ``available``) minus excluded groups."""
    columns = model_columns(config.feature_config) if available is None else available
    return [
        c for c in columns if c not in FEATURES or FEATURES[c].group not in config.exclude_groups
    ]


def thresholds_from(probability: np.ndarray, sales_share: float) -> dict[str, float]:
    """Sales cut-off at the capacity share and grade cut-offs, from calibration-slice scores.

    A: would be handed to sales at the agreed capacity; B: the rest of the top 30 %; C: the rest
    of the top 60 %; D: everything below. Each is a whole score (as ``score / 100``) that at most
    that share reaches, because routing grades whole scores
    (:func:`training.evaluate.whole_score_cut`).
    """

    def cut(share: float) -> float:
        return min(whole_score_cut(probability, share)[0], 100) / 100

    sales = cut(sales_share)
    b = min(sales, cut(max(GRADE_SHARES["B"], sales_share)))
    c = min(b, cut(max(GRADE_SHARES["C"], sales_share)))
    return {"sales": sales, "A": sales, "B": b, "C": c, "sales_share": sales_share}


def data_window(prepared: Prepared, config: TrainConfig) -> dict[str, Any]:
    def bound(value: object) -> str | None:
        if value is None:
            return None
        if prepared.row_order:  # rows counted as seconds from the origin
            return f"row {int((pd.Timestamp(value) - ROW_ORDER_ORIGIN).total_seconds()):,}"
        return str(value)

    bounds = {k: bound(v) for k, v in prepared.split.boundaries.items()}
    return {
        "first_snapshot": str(prepared.frame["as_of"].min()),
        "last_snapshot": str(prepared.frame["as_of"].max()),
        "data_end": str(prepared.labelled.data_end),
        "horizon_days": config.snapshots.horizon_days,
        "snapshot_every_days": config.snapshots.every_days,
        "purge": config.split.purge,
        **bounds,
        "sizes": prepared.split.sizes(),
        "purged": prepared.split.purged,
        "counts": prepared.labelled.counts,
        "weekly_volume": prepared.weekly_volume,
        "mode": prepared.mode,
        "row_order": prepared.row_order,
    }


def families_for(prepared: Prepared, config: TrainConfig) -> tuple[Family, ...]:
    """Tabular runs choose among ``config.families``; the CRM path keeps LightGBM alone.

    CRM event features are counts and recencies, where the trees clearly win on the demo CRM;
    see :mod:`training.families` for why tables are different.
    """
    return config.families if prepared.mode == "tabular" else ("lightgbm",)


def fit_model(
    prepared: Prepared, config: TrainConfig, params: BoosterParams | None = None
) -> LeadModel:
    """Each candidate family on ``fit``/``valid``; the one ``cal`` prefers, blended with its
    regression at the weight ``cal`` prefers (:func:`training.families.blend_with_linear`),
    calibrated on ``cal``.

    With one family (the CRM path) that is LightGBM with early stopping on ``valid``. The test
    window is not read here.
    """
    params = params or config.booster
    columns = used_columns(config, prepared.columns)
    fit, valid, cal = prepared.part("fit"), prepared.part("valid"), prepared.part("cal")
    categorical = categorical_of(fit, columns, registry=prepared.mode == "crm")
    categories = learn_categories(prepared.part("fit", "valid"), categorical)
    slices = Slices(fit, valid, columns, categorical, categories)
    families = families_for(prepared, config)
    fitted = {family: fit_family(family, slices, params) for family in families}
    cal_matrix, cal_label = slices.matrix(cal), cal["label"].to_numpy()
    family = families[0]
    losses = {}
    if len(families) > 1:
        losses = {
            name: row_losses(estimator.predict(cal_matrix, raw_score=True), cal_label)
            for name, (estimator, _) in fitted.items()
        }
        trees = {name: int(found.get("best_iteration", 0)) for name, (_, found) in fitted.items()}
        family = choose(losses, trees)
    estimator, settings = fitted[family]
    kind: Kind = family
    if len(families) > 1:
        estimator, kind, settings = blend_with_linear(family, fitted, cal_matrix, cal_label)
    model = LeadModel(
        estimator=estimator,
        columns=columns,
        categories=categories,
        calibrator=Calibrator(config.calibration),
        feature_config=config.feature_config,
        kind=kind,
        mode=prepared.mode,
        params={**dataclasses.asdict(params), **settings, "family": family},
        num_threads=params.num_threads,
    )
    if losses:
        model.params["family_cal_logloss"] = {
            f: round(float(v.mean()), 6) for f, v in losses.items()
        }
    model.calibrator.fit(model.predict_raw(cal_matrix), cal_label)
    model.thresholds = thresholds_from(model.predict_proba(cal_matrix), prepared.sales_share)
    model.data_window = data_window(prepared, config)
    return model


def fit_rules(prepared: Prepared, config: TrainConfig) -> LeadModel:
    """The points model from ``rules.yaml``, its points calibrated on the ``cal`` slice."""
    rules = load_rules(config.rules_path, model_columns(config.feature_config))
    cal = prepared.part("cal")
    model = rules_model(rules, config.feature_config)
    matrix = model.encode(cal)
    model.calibrator = Calibrator(config.calibration).fit(
        model.predict_raw(matrix), cal["label"].to_numpy()
    )
    model.thresholds = thresholds_from(model.predict_proba(matrix), prepared.sales_share)
    model.data_window = data_window(prepared, config)
    return model


def importance_of(model: LeadModel, frame: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Mean |SHAP contribution| per feature on (a sample of) ``frame``."""
    if len(frame) > IMPORTANCE_ROWS:
        frame = frame.sample(IMPORTANCE_ROWS, random_state=seed)
    contributions = model.contributions(model.encode(frame))
    return contribution_importance(contributions, model.columns, model.feature_groups())


def fit_and_evaluate(
    prepared: Prepared,
    config: TrainConfig,
    progress: Progress = _noop,
    params: BoosterParams | None = None,
) -> TrainResult:
    """Fit LightGBM and both baselines on the same split; score all on the test window."""
    test = prepared.part("test")
    progress("Fitting LightGBM" if prepared.mode == "crm" else "Fitting and choosing a family")
    model = fit_model(prepared, config, params)
    progress("Fitting baselines")
    rules = fit_rules(prepared, config) if prepared.mode == "crm" else None
    columns = used_columns(config, prepared.columns)
    categorical = categorical_of(prepared.part("fit"), columns, registry=prepared.mode == "crm")
    numeric = [c for c in columns if c not in categorical]
    logistic = fit_logistic(
        prepared.part("fit", "valid"),
        prepared.part("cal"),
        numeric,
        categorical,
        config.calibration,
        config.booster.seed,
    )
    progress("Evaluating on the test window")
    probabilities = {"lightgbm": model.predict_proba(model.encode(test))}
    if rules is not None:
        probabilities["rules"] = rules.predict_proba(rules.encode(test))
    probabilities["logistic"] = logistic.predict_proba(test)
    labels = test["label"].to_numpy()
    results = {name: metrics(labels, p, prepared.sales_share) for name, p in probabilities.items()}
    model.metrics = results["lightgbm"]
    quantiles = np.quantile(probabilities["lightgbm"], np.linspace(0, 1, 201))
    model.data_window["test_score_quantiles"] = [round(float(q), 6) for q in quantiles]
    if prepared.recent is not None and len(prepared.recent):
        # what `leadscore thresholds` cuts without data: the open leads the volume counts (the
        # test window's snapshots score higher, and its cut-off sent a third of the capacity)
        recent = model.predict_proba(model.encode(prepared.recent))
        quantiles = np.quantile(recent, np.linspace(0, 1, 201))
        model.data_window["open_score_quantiles"] = [round(float(q), 6) for q in quantiles]
    if rules is not None:
        rules.metrics = results["rules"]
    importance = importance_of(model, test, config.booster.seed)
    return TrainResult(
        model=model,
        rules=rules,
        logistic=logistic,
        metrics=results,
        test_probabilities=probabilities,
        test_labels=labels,
        importance=importance,
        prepared=prepared,
        config=config,
    )


def evaluate_on_test(
    model: LeadModel, prepared: Prepared, tables: CRMTables | None = None
) -> tuple[dict[str, float], np.ndarray]:
    """Another model (the champion) on this run's test window, with its own feature settings."""
    test = prepared.part("test")
    same_features = model.feature_config == prepared.feature_config
    if not same_features or any(c not in test.columns for c in model.columns):
        source = tables or prepared.tables
        if source is None:
            raise ValueError("the champion needs other features; pass the CRM tables")
        snapshots = test[["lead_id", "as_of", "created_at", "label"]]
        test = training_frame(source, snapshots, model.feature_config)
    probability = model.predict_proba(model.encode(test))
    return metrics(test["label"].to_numpy(), probability, prepared.sales_share), probability


def cold_start_rules(
    tables: CRMTables, config: TrainConfig, progress: Progress = _noop, max_rows: int = 20_000
) -> LeadModel:
    """The points model for a CRM with too few deals: calibrated on every labelled snapshot.

    A two-parameter sigmoid is all a handful of deals can support; with no won or no lost deal
    at all, the prior from the rules file maps points to a probability.
    """
    progress("Labelling snapshots")
    labelled = label_snapshots(tables, config.snapshots, config.feature_config)
    rules = load_rules(config.rules_path, model_columns(config.feature_config))
    snapshots = labelled.snapshots
    if len(snapshots) > max_rows:
        snapshots = snapshots.sample(max_rows, random_state=config.split.seed)
    model = rules_model(rules, config.feature_config)
    recent = open_snapshots(tables, config.snapshots, 13, config.feature_config)
    weekly = volume_per_period(recent["as_of"], config.snapshots.every_days, "week")
    calibrated = snapshots["label"].nunique() == 2
    if len(snapshots):
        progress("Computing point-in-time features")
        frame = training_frame(tables, snapshots, config.feature_config)
        matrix = model.encode(frame)
        if calibrated:
            model.calibrator = Calibrator("sigmoid").fit(
                model.predict_raw(matrix), frame["label"].to_numpy()
            )
        share = capacity_share(config.capacity, weekly * PERIOD_DAYS[config.capacity.per] / 7)
        model.thresholds = thresholds_from(model.predict_proba(matrix), share)
    model.data_window = {
        "data_end": str(labelled.data_end),
        "horizon_days": config.snapshots.horizon_days,
        "snapshot_every_days": config.snapshots.every_days,
        "counts": labelled.counts,
        "weekly_volume": weekly,
        "calibrated_on": "all labelled snapshots" if calibrated else "prior from rules file",
    }
    return model
