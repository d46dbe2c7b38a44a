"""Model quality on three real CRM exports: our training path against the two baselines.

Run: ``uv run python -m benchmarks.quality`` (as a module: a script named after a package would
shadow it). Prints one table and writes ``benchmarks/results/quality.md`` and ``quality.csv``.

Per dataset, the honest protocol the data allows:

* **bank-marketing**: rows are chronological; the newest 20 % is the test window.
* **olist**: split by ``first_contact_date``; the newest 20 % of MQLs is the test window.
* **x-education**: no date at all, so stratified 5-fold cross-validation (numbers are the mean
  over folds; a time split would be more honest, the data does not allow one).

Inside the training part, the slices are those of ``leadscore train --label``: ``fit`` (trees),
``valid`` (early stopping), ``cal`` (calibration), each the newest before the next under a time
split. The leakage audit (:func:`training.leakage.audit_columns`) runs on the training part
only and its flagged columns are dropped for every model.

Models, all on the same rows and columns:

* **ours**: :func:`training.train.fit_and_evaluate`, i.e. what ``leadscore train --label``
  fits: LightGBM, logistic regression and logistic regression with boosted trees on top, of
  which the calibration slice keeps one and blends it with its regression
  (:mod:`training.families`; the report names the family per dataset), calibrated on that
  slice, with the drift default below;
* **logistic regression**: the baseline ``fit_and_evaluate`` fits beside it;
* **points model**: hand-written rules per dataset (``examples/*.rules.yaml``), calibrated on
  the same calibration slice;
* contrast rows: LightGBM alone (the family choice switched off), ours *with* the flagged
  columns (what leakage does to the numbers), and LightGBM alone with fixed 15 % valid/cal
  slices (the setting the drift default replaces).

Drift default (chosen on validation windows before the test window, never on it): under a
time split the ``valid`` and ``cal`` slices are as small as their job allows, the newest rows
holding 200 positives, between 5 % and 15 %, so the model learns from rows as close to the
test window as possible. See :func:`training.split.recency_shares` and
:func:`training.tabular.calibration_for`, which this benchmark calls.

Family choice (also made before the test window): the training path fits LightGBM, logistic
regression and logistic regression with boosted trees on top, and keeps the one with the lowest
log-loss on the calibration slice, preferring fewer trees unless more trees win by over one
standard error (:func:`training.families.choose`); a kept family with trees is then blended with
its regression at the weight the calibration slice prefers
(:func:`training.families.blend_with_linear`, adopted on pseudo-tests inside the training
windows: ``benchmarks/model_choice.py``). The report names the family and blend weight per
dataset and the loss of each candidate; ``quality.csv`` names them per fold.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from features.contract import TabularData
from features.mapping import apply_mapping
from training.baselines import load_rules, rules_model
from training.calibration import Calibrator
from training.evaluate import metrics
from training.leakage import LeakageReport, audit_columns, refuse_flagged
from training.split import SplitConfig, recency_shares, stratified_slices
from training.tabular import calibration_for, prepare_tabular
from training.train import Prepared, TrainConfig, fit_and_evaluate

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"
EXAMPLES = ROOT / "examples"
RESULTS = ROOT / "benchmarks" / "results"
FOLDS = 5
AUC_TOLERANCE = 0.005
# Gaps this small are floating-point rounding (the same model computed two ways), not "worse".
FLOAT_NOISE = 1e-9
OURS = "ours (family chosen on cal)"
LIGHTGBM_ALONE = "LightGBM alone"
METRICS = (
    ("roc_auc", "ROC-AUC", "{:.3f}"),
    ("pr_auc", "PR-AUC", "{:.3f}"),
    ("brier", "Brier", "{:.4f}"),
    ("ece", "ECE", "{:.3f}"),
    ("lift_top10", "lift@10%", "{:.2f}"),
)


@dataclass(frozen=True)
class Dataset:
    """One export, its mapping and points rules, and the protocol its data allows."""

    name: str
    path: Path
    mapping: Path
    rules: Path
    protocol: str


DATASET_LIST = (
    Dataset(
        "x-education",
        DATASETS / "x-education" / "Leads.csv",
        EXAMPLES / "x-education.yaml",
        EXAMPLES / "x-education.rules.yaml",
        f"stratified {FOLDS}-fold CV (no date in the data)",
    ),
    Dataset(
        "bank-marketing",
        DATASETS / "bank-marketing" / "bank-additional-full.csv.gz",
        EXAMPLES / "bank-marketing.yaml",
        EXAMPLES / "bank-marketing.rules.yaml",
        "time split: newest 20 % of rows",
    ),
    Dataset(
        "olist",
        DATASETS / "olist-funnel" / "olist_marketing_qualified_leads_dataset.csv",
        EXAMPLES / "olist.yaml",
        EXAMPLES / "olist.rules.yaml",
        "time split: newest 20 % by first_contact_date",
    ),
)


@dataclass
class SplitResult:
    """One split's numbers per model, its audit, and the test rows' paired probabilities."""

    scores: dict[str, dict[str, float]]
    report: LeakageReport
    dropped: dict[str, str]
    paired: np.ndarray
    calibration: str
    family: str
    family_losses: dict[str, float]


@dataclass
class Outcome:
    """One dataset's numbers: model -> metric means (and per-fold rows for the CSV)."""

    dataset: Dataset
    rows: int
    positives: int
    scores: dict[str, dict[str, float]]
    folds: list[dict[str, object]]
    dropped: dict[str, str]
    watched: list[str]
    shares: tuple[float, float]
    calibration: str
    gaps: dict[str, float]
    seconds: float
    families: list[tuple[str, dict[str, float]]]


# --------------------------------------------------------------------------- protocol pieces


def with_slices(prepared: Prepared, slices: np.ndarray) -> Prepared:
    """The same prepared rows with other slices (cross-validation folds)."""
    frame = prepared.frame.assign(slice=slices)
    split = dataclasses.replace(prepared.split, frame=prepared.split.frame.assign(slice=slices))
    return dataclasses.replace(prepared, frame=frame, split=split)


def fold_slices(labels: np.ndarray, config: SplitConfig, folds: int) -> list[np.ndarray]:
    """Stratified folds as test; the rest split into fit/valid/cal like ``stratified_split``."""
    from sklearn.model_selection import StratifiedKFold

    splitter = StratifiedKFold(folds, shuffle=True, random_state=config.seed)
    return [
        stratified_slices(labels, rest, test, config)
        for rest, test in splitter.split(np.zeros(len(labels)), labels)
    ]


def audit_training_part(data: TabularData, prepared: Prepared) -> LeakageReport:
    """The audit sees only rows the models learn from: the test window stays unseen."""
    training = prepared.frame["slice"].to_numpy() != "test"
    frame = data.frame.loc[training].reset_index(drop=True)
    return audit_columns(frame, data.label, data.time_column)


def points_scores(dataset: Dataset, prepared: Prepared, config: TrainConfig) -> np.ndarray:
    """The hand-written points, calibrated on the calibration slice, on the test rows."""
    rules = load_rules(dataset.rules, known=prepared.columns)
    model = rules_model(rules)
    cal = prepared.part("cal")
    model.calibrator = Calibrator(config.calibration).fit(
        model.predict_raw(model.encode(cal)), cal["label"].to_numpy()
    )
    return model.predict_proba(model.encode(prepared.part("test")))


def evaluate_split(
    dataset: Dataset,
    data: TabularData,
    prepared: Prepared,
    config: TrainConfig,
    contrast: TrainConfig | None,
) -> SplitResult:
    """All models on one split; the audit decides the columns for every one of them."""
    config = calibration_for(prepared, config)
    report = audit_training_part(data, prepared)
    kept, dropped = refuse_flagged(prepared.columns, report)
    honest = dataclasses.replace(prepared, columns=kept)
    result = fit_and_evaluate(honest, config)
    test = honest.part("test")
    labels = test["label"].to_numpy()
    paired = np.column_stack(
        [labels, result.test_probabilities["lightgbm"], result.test_probabilities["logistic"]]
    )
    lightgbm = dataclasses.replace(config, families=("lightgbm",))
    scores = {
        OURS: result.metrics["lightgbm"],
        "logistic regression": result.metrics["logistic"],
        "points model": metrics(labels, points_scores(dataset, honest, config), honest.sales_share),
        LIGHTGBM_ALONE: fit_and_evaluate(honest, lightgbm).metrics["lightgbm"],
    }
    if contrast is not None:
        shares = dataclasses.replace(
            contrast.split, test_share=config.split.test_share, seed=config.split.seed
        )
        fixed_config = dataclasses.replace(lightgbm, split=shares)
        fixed = prepare_tabular(data, fixed_config)
        fixed = dataclasses.replace(fixed, columns=kept)
        scores["LightGBM alone, fixed 15 % valid/cal (old default)"] = fit_and_evaluate(
            fixed, fixed_config
        ).metrics["lightgbm"]
    if dropped:
        leaky = fit_and_evaluate(prepared, config).metrics["lightgbm"]
        scores["ours incl. flagged columns (leaky)"] = leaky
    model = result.model
    losses = dict(model.params.get("family_cal_logloss", {}))
    family = str(model.params.get("family", model.kind))
    weight = float(model.params.get("linear_weight", 0.0))
    if weight:
        family += f" + regression w={weight:.1f}"  # its margin blended with its regression's
    return SplitResult(scores, report, dropped, paired, config.calibration, family, losses)


def paired_bootstrap(paired: np.ndarray, draws: int = 1000, seed: int = 0) -> dict[str, float]:
    """Ours minus logistic on resampled test rows: is a gap bigger than the test set's noise?

    ``paired`` holds label, our probability and logistic's per test row (all folds pooled).
    Returns the point differences and their 5th and 95th percentiles (a 90 % interval).
    """
    from scipy.stats import rankdata

    rng = np.random.default_rng(seed)
    label, ours, base = paired[:, 0], paired[:, 1], paired[:, 2]

    def auc(y: np.ndarray, p: np.ndarray) -> float:
        positives = y.sum()
        ranks = rankdata(p)
        return float(
            (ranks[y == 1].sum() - positives * (positives + 1) / 2)
            / (positives * (len(y) - positives))
        )

    def gaps(rows: np.ndarray) -> tuple[float, float]:
        y = label[rows]
        brier = np.mean((ours[rows] - y) ** 2) - np.mean((base[rows] - y) ** 2)
        return auc(y, ours[rows]) - auc(y, base[rows]), float(brier)

    auc_gap, brier_gap = gaps(np.arange(len(label)))
    samples = np.array([gaps(rng.integers(0, len(label), len(label))) for _ in range(draws)])
    low, high = np.percentile(samples, [5, 95], axis=0)
    return {
        "auc_gap": auc_gap,
        "auc_gap_low": float(low[0]),
        "auc_gap_high": float(high[0]),
        "brier_gap": brier_gap,
        "brier_gap_low": float(low[1]),
        "brier_gap_high": float(high[1]),
    }


def run_dataset(dataset: Dataset, config: TrainConfig) -> Outcome:
    """The protocol for one dataset; folds are averaged."""
    start = time.perf_counter()
    data = apply_mapping(dataset.path, dataset.mapping)
    labels = data.frame[data.label].to_numpy(dtype=int)
    if data.time_column:
        order = np.argsort(data.frame["created_at"].to_numpy(), kind="stable")
        shares = recency_shares(labels[order], config.split.test_share)
        split = dataclasses.replace(config.split, cal_share=shares[0], valid_share=shares[1])
        timed = dataclasses.replace(config, split=split)
        prepared = prepare_tabular(data, timed)
        contrast = config if shares != (config.split.cal_share, config.split.valid_share) else None
        splits = [evaluate_split(dataset, data, prepared, timed, contrast)]
    else:
        shares = (config.split.cal_share, config.split.valid_share)
        base = prepare_tabular(data, config)
        splits = [
            evaluate_split(dataset, data, with_slices(base, slices), config, None)
            for slices in fold_slices(base.frame["label"].to_numpy(), config.split, FOLDS)
        ]
    per_fold = [split.scores for split in splits]
    dropped = {c: why for split in splits for c, why in split.dropped.items()}
    watched = {c for split in splits for c in split.report.watched}
    models = list(per_fold[0])
    keys = [k for k, _, _ in METRICS]
    means = {m: {k: float(np.mean([f[m][k] for f in per_fold])) for k in keys} for m in models}
    for model in models:
        means[model]["roc_auc_sd"] = float(np.std([f[model]["roc_auc"] for f in per_fold]))
    folds = [
        {
            "dataset": dataset.name,
            "fold": i,
            "model": m,
            **{k: f[m][k] for k in keys},
            "family": splits[i].family if m == OURS else "",
        }
        for i, f in enumerate(per_fold)
        for m in models
    ]
    return Outcome(
        dataset,
        len(data.frame),
        int(labels.sum()),
        means,
        folds,
        dropped,
        sorted(watched),
        shares,
        "/".join(sorted({split.calibration for split in splits})),
        paired_bootstrap(np.vstack([split.paired for split in splits])),
        time.perf_counter() - start,
        [(split.family, split.family_losses) for split in splits],
    )


# --------------------------------------------------------------------------- reporting


def brier_text(gap: float) -> str:
    """Four decimals, or the exact size of a gap that four decimals would show as zero."""
    return f"{gap:+.4f}" if gap == 0 or abs(gap) >= 5e-5 else f"{gap:+.1e}"


def verdict(outcome: Outcome) -> tuple[bool, str]:
    """Not worse than logistic regression: ROC-AUC within 0.005 and Brier no higher.

    The mean-over-folds numbers decide; the 90 % bootstrap interval of each gap says whether a
    failed check is more than the noise of the test rows.
    """
    ours, logistic = outcome.scores[OURS], outcome.scores["logistic regression"]
    auc_gap = ours["roc_auc"] - logistic["roc_auc"]
    brier_gap = ours["brier"] - logistic["brier"]
    ok_auc, ok_brier = auc_gap >= -AUC_TOLERANCE, brier_gap <= FLOAT_NOISE
    g = outcome.gaps

    def judged(ok: bool, interval_reaches_zero: bool) -> str:
        if ok:
            return "ok"
        return "worse, within noise" if interval_reaches_zero else "WORSE"

    text = (
        f"ROC-AUC {auc_gap:+.3f} (90 % CI {g['auc_gap_low']:+.3f} to {g['auc_gap_high']:+.3f}: "
        f"{judged(ok_auc, g['auc_gap_high'] >= 0)}), Brier {brier_text(brier_gap)} (90 % CI "
        f"{g['brier_gap_low']:+.4f} to {g['brier_gap_high']:+.4f}: "
        f"{judged(ok_brier, g['brier_gap_low'] <= 0)})"
    )
    return ok_auc and ok_brier, text


def family_text(families: list[tuple[str, dict[str, float]]]) -> str:
    """The family each split kept, and the calibration-slice log-loss that decided it."""
    if len(families) == 1:
        family, losses = families[0]
        shown = ", ".join(f"{f} {v:.4f}" for f, v in losses.items())
        return f"`{family}` (log-loss on the calibration slice after a sigmoid: {shown})"
    counts = pd.Series([family for family, _ in families]).value_counts()
    folds = ", ".join(f"`{family}` in {n} of {len(families)} folds" for family, n in counts.items())
    return f"{folds} (per fold in quality.csv)"


def results_frame(outcomes: list[Outcome]) -> pd.DataFrame:
    rows = []
    for outcome in outcomes:
        for model, values in outcome.scores.items():
            rows.append(
                {
                    "dataset": outcome.dataset.name,
                    "protocol": outcome.dataset.protocol,
                    "model": model,
                    **{k: values[k] for k, _, _ in METRICS},
                    "roc_auc_sd": values["roc_auc_sd"],
                }
            )
    return pd.DataFrame(rows)


def rich_table(outcomes: list[Outcome]) -> Table:
    table = Table(title="Lead scoring quality on real CRM exports (test windows only)")
    table.add_column("dataset")
    table.add_column("model")
    for _, label, _ in METRICS:
        table.add_column(label, justify="right")
    for outcome in outcomes:
        for i, (model, values) in enumerate(outcome.scores.items()):
            table.add_row(
                outcome.dataset.name if i == 0 else "",
                model,
                *[pattern.format(values[key]) for key, _, pattern in METRICS],
                end_section=i == len(outcome.scores) - 1,
            )
    return table


def markdown(outcomes: list[Outcome], config: TrainConfig) -> str:
    header = "| dataset | model | " + " | ".join(label for _, label, _ in METRICS) + " |"
    lines = [
        "# Quality benchmark: real CRM exports",
        "",
        "Written by `uv run python -m benchmarks.quality`; do not edit by hand. Numbers are on "
        "test rows the models, the calibration and the leakage audit never saw.",
        "",
        header,
        "|" + " --- |" * (len(METRICS) + 2),
    ]
    for outcome in outcomes:
        for model, values in outcome.scores.items():
            cells = [pattern.format(values[key]) for key, _, pattern in METRICS]
            lines.append(f"| {outcome.dataset.name} | {model} | " + " | ".join(cells) + " |")
    lines += ["", "## Ours against logistic regression (ROC-AUC within 0.005, Brier no higher)", ""]
    for outcome in outcomes:
        ok, text = verdict(outcome)
        lines.append(f"- **{outcome.dataset.name}**: {'not worse' if ok else 'worse'}: {text}")
    lines += ["", "## Model family chosen (on the calibration slice, never the test window)", ""]
    lines += [
        "`+ regression w=...`: the family's margin blended with its regression's, the "
        "regression's weight chosen on the calibration slice "
        "(`training.families.blend_with_linear`).",
        "",
    ]
    lines += [f"- **{o.dataset.name}**: {family_text(o.families)}" for o in outcomes]
    lines += ["", "## Protocol per dataset", ""]
    for outcome in outcomes:
        lines.append(
            f"- **{outcome.dataset.name}** ({outcome.rows:,} rows, {outcome.positives:,} "
            f"positive): {outcome.dataset.protocol}; cal/valid shares "
            f"{outcome.shares[0]:.0%}/{outcome.shares[1]:.0%}, {outcome.calibration} "
            "calibration. Refused by the audit: "
            + (", ".join(f"`{c}`" for c in outcome.dropped) or "nothing")
            + ". Watched, kept: "
            + (", ".join(f"`{c}`" for c in outcome.watched) or "nothing")
            + "."
        )
    lines += [
        "",
        f"Settings: LightGBM {dataclasses.asdict(config.booster)}; metrics from "
        "`training.evaluate.metrics` (ECE: 10 equal-width bins; lift@10%: positive rate of the "
        "top 10 % over the base rate). Cross-validated numbers are means over "
        f"{FOLDS} folds; see quality.csv for every fold.",
        "",
    ]
    return "\n".join(lines)


def main(out: Path, only: list[str] | None) -> list[Outcome]:
    console = Console()
    config = TrainConfig()
    outcomes = []
    for dataset in DATASET_LIST:
        if only and dataset.name not in only:
            continue
        if not dataset.path.exists():
            console.print(f"[yellow]{dataset.path} is missing; skipping {dataset.name}[/yellow]")
            continue
        with console.status(f"{dataset.name}: {dataset.protocol}"):
            outcome = run_dataset(dataset, config)
        console.print(f"{dataset.name}: {outcome.seconds:.0f} s")
        outcomes.append(outcome)
    console.print(rich_table(outcomes))
    for outcome in outcomes:
        ok, text = verdict(outcome)
        colour = "green" if ok else "red"
        console.print(f"[{colour}]{outcome.dataset.name}: ours vs logistic: {text}[/{colour}]")
    out.mkdir(parents=True, exist_ok=True)
    (out / "quality.md").write_text(markdown(outcomes, config))
    frame = results_frame(outcomes)
    folds = pd.DataFrame([row for outcome in outcomes for row in outcome.folds])
    pd.concat([frame.assign(fold="mean"), folds], ignore_index=True).to_csv(
        out / "quality.csv", index=False, float_format="%.5f"
    )
    console.print(f"Wrote {out / 'quality.md'} and {out / 'quality.csv'}")
    return outcomes


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--only", nargs="*", help="dataset names (default: all three)")
    args = parser.parse_args()
    main(args.out, args.only)
