"""How the tabular path picks its model, judged on pseudo-tests inside the training windows.

Run: ``.venv/bin/python -m benchmarks.model_choice``. Prints one table and writes
``benchmarks/results/model_choice.md``.

The real test windows of :mod:`benchmarks.quality` are never read here. Per dataset, the rows the
quality benchmark trains on (everything before its test window; for x-education, each outer
fold's training folds) are split again by the training path's own rules, and that split's
``test`` slice is the pseudo-test:

* **bank-marketing** and **olist** (time order): the newest 20 % of the training window is the
  pseudo-test, with the drift-default fit/valid/cal slices before it; two earlier origins
  repeat that on the rows before the previous pseudo-test (three pseudo-tests per dataset);
* **x-education** (no time order): in each of the benchmark's 5 outer folds, the training folds
  are split stratified into fit/valid/cal/pseudo-test as ``leadscore train --label`` does
  (five pseudo-tests).

The leakage audit runs on each pseudo-training part only. Rules compared, all on the same
families (:func:`training.families.fit_family`) and the same calibration method:

* ``current``: the family the calibration slice prefers under the one-SE rule
  (:func:`training.families.choose`), which was all ``training.train.fit_model`` did before
  the blend was adopted;
* ``refit``: every family refitted on fit + valid with its early-stopped tree count, then the
  same choice;
* ``choose+blend``: the current choice, then its margin blended with its regression's
  (``(1 - w) * chosen + w * regression``, ``w`` on a grid of 0, 0.1, ..., 1 chosen by the
  calibration slice's log-loss after a sigmoid); for ``linear+lightgbm`` the regression is its
  own (fit rows only), so the blend shrinks its trees. This is the training path's own
  :func:`training.families.blend_with_linear`, adopted by the decision below;
* ``refit+choose+blend``: both;
* ``blend``: the best of both two-member grids (lightgbm with the linear family,
  linear+lightgbm with its own regression) by the calibration slice's log-loss, without the
  one-SE rule.

Decision (declared before the first run): a rule is adopted only if, on every dataset, its
pseudo-test Brier (mean over the dataset's pseudo-tests) is no higher than ``current``'s and its
ROC-AUC no more than 0.005 lower; among rules that pass, the one with the lowest mean Brier
relative to ``current`` over the three datasets. Logistic regression is shown for reference.
(A first dry run on olist alone used two time origins; three were set before any other dataset
was run, for less noise.)

Second decision (declared in a later session, before its first run): ``choose+blend-1se`` is
the adopted ``choose+blend`` with the blend weight chosen as :func:`training.families.choose`
chooses a family: the largest regression weight whose calibration-slice loss is within one
standard error of the best weight's, instead of the best weight itself. It was proposed because
the blend broke the one-SE rule's preference for the simpler model, and it was proposed knowing
that on the real Olist test window the adopted rule was 7e-7 Brier behind logistic regression.
It replaces ``choose+blend`` only if, on every dataset, its pseudo-test Brier is no higher than
``choose+blend``'s and its ROC-AUC no more than 0.005 lower, and its mean Brier relative to
``choose+blend`` over the three datasets is lower.

Third decision (declared in a later session, before its first run): isotonic calibration became
*centred* (:mod:`training.calibration`: through the block centres, logistic tails, no ties),
because plain isotonic tied leads in a sales list. Sigmoid calibration below 200 positives in the
calibration slice (:func:`training.tabular.calibration_for`) was chosen for the old step
function's ties and cut tails, which the centred map no longer has. ``choose+blend/isotonic`` and
``choose+blend/sigmoid`` are ``choose+blend`` calibrated by one method whatever the slice holds.
``calibration_for`` is dropped (isotonic everywhere) only if, on every dataset,
``choose+blend/isotonic``'s pseudo-test Brier is no higher than ``choose+blend``'s and its
ROC-AUC no more than 0.005 lower. This too was proposed knowing the real Olist gap (7e-7 Brier,
Olist is the dataset where ``calibration_for`` picks sigmoid); the real test window is read again
only if the rule is adopted.

Fourth decision (declared in the same later session, before its first run): ``choose+blend+c``
is ``choose+blend`` with the ``linear`` family's regularisation chosen on the ``valid`` slice
(C from 0.01, 0.03, 0.1, 0.3, 1; :func:`linear_c`) instead of the baseline's
fixed C = 0.1; the regression under ``linear+lightgbm``'s trees is unchanged. Item 4 of the issue
names regularisation; on Olist's pseudo-tests every rule so far kept ``linear``, the baseline's
own model, so only a change to the linear family can tell anything there. Proposed knowing the
real Olist gap. It replaces ``choose+blend`` only if, on every dataset, its pseudo-test Brier is
no higher than ``choose+blend``'s and its ROC-AUC no more than 0.005 lower, and its mean Brier
relative to ``choose+blend`` over the three datasets is lower; the real test windows are read
again only if it is adopted.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from benchmarks.quality import DATASET_LIST, FOLDS, RESULTS, Dataset, audit_training_part
from features.contract import TabularData
from features.mapping import apply_mapping
from training.baselines import BASELINE_C, fit_logistic
from training.calibration import Calibrator
from training.families import (
    BLEND_WEIGHTS,
    EPS,
    FAMILIES,
    Family,
    Slices,
    blend_with_linear,
    choose,
    fit_family,
    row_losses,
)
from training.leakage import refuse_flagged
from training.linear import BoostedLinear, fit_linear
from training.model import BoosterParams, Estimator, categorical_of, learn_categories
from training.split import recency_shares
from training.tabular import calibration_for, prepare_tabular
from training.train import Prepared, TrainConfig

GRID = BLEND_WEIGHTS
RULES = ("current", "refit", "choose+blend", "refit+choose+blend", "blend", "choose+blend-1se")
# choose+blend calibrated by one method whatever the slice holds (the third decision)
CALIBRATED = ("choose+blend/isotonic", "choose+blend/sigmoid")
TUNED = "choose+blend+c"  # the linear family's C chosen on valid (the fourth decision)
C_GRID: tuple[float, ...] = (0.01, 0.03, 0.1, 0.3, 1.0)
AUC_TOLERANCE = 0.005
# Pseudo-tests per time-ordered dataset, newest first (each the newest 20 % of what is left).
ORIGINS = 3


@dataclass
class Members:
    """The families (fitted or refitted), their margins on cal and pseudo-test, tree counts."""

    estimators: dict[Family, Estimator]
    cal: dict[str, np.ndarray]
    test: dict[str, np.ndarray]
    trees: dict[Family, int]


def timed_config(data: TabularData, config: TrainConfig) -> TrainConfig:
    """The drift-default slices for a time-ordered table (as the quality benchmark sets them)."""
    labels = data.frame[data.label].to_numpy(dtype=int)
    order = np.argsort(data.frame["created_at"].to_numpy(), kind="stable")
    cal_share, valid_share = recency_shares(labels[order], config.split.test_share)
    split = dataclasses.replace(config.split, cal_share=cal_share, valid_share=valid_share)
    return dataclasses.replace(config, split=split)


def subset(data: TabularData, rows: np.ndarray) -> TabularData:
    frame = data.frame.loc[rows].reset_index(drop=True)
    frame.attrs = dict(data.frame.attrs)
    return dataclasses.replace(data, frame=frame)


def training_window(data: TabularData, config: TrainConfig) -> TabularData:
    """The rows before the test window of ``data`` under the training path's time split."""
    prepared = prepare_tabular(data, timed_config(data, config))
    return subset(data, prepared.frame["slice"].to_numpy() != "test")


def pseudo_splits(dataset: Dataset, config: TrainConfig) -> list[tuple[TabularData, TrainConfig]]:
    """(rows, config) per pseudo-test; the real test rows are removed before anything else."""
    data = apply_mapping(dataset.path, dataset.mapping)
    if data.time_column:
        windows = [training_window(data, config)]  # drops the real test window
        while len(windows) < ORIGINS:  # an earlier origin: drops the previous pseudo-test
            windows.append(training_window(windows[-1], config))
        return [(window, timed_config(window, config)) for window in windows]
    from sklearn.model_selection import StratifiedKFold

    labels = data.frame[data.label].to_numpy(dtype=int)
    splitter = StratifiedKFold(FOLDS, shuffle=True, random_state=config.split.seed)
    return [(subset(data, rest), config) for rest, _ in splitter.split(labels, labels)]


def linear_c(slices: Slices, seed: int, grid: tuple[float, ...] = C_GRID) -> float:
    """The regression's C (inverse regularisation) with the lowest log-loss on ``valid`` when
    fitted on ``fit``; the baseline's C on ties."""
    x_fit, x_valid = slices.matrix(slices.fit), slices.matrix(slices.valid)
    label = slices.valid["label"].to_numpy()
    losses = {}
    for c in grid:
        margin = fit_linear(slices.fit, slices.columns, slices.categories, x_fit, seed, c).predict(
            x_valid
        )
        probability = np.clip(1 / (1 + np.exp(-margin)), EPS, 1 - EPS)
        losses[c] = float(
            -np.mean(label * np.log(probability) + (1 - label) * np.log(1 - probability))
        )
    best = min(losses.values())
    return (
        BASELINE_C
        if losses.get(BASELINE_C, np.inf) <= best + 1e-12
        else min(losses, key=losses.get)
    )


def refit_family(family: Family, slices: Slices, params: BoosterParams, rounds: int) -> Estimator:
    """``family`` refitted on fit + valid with the tree count early stopping found on valid."""
    both = pd.concat([slices.fit, slices.valid])
    x, y = slices.matrix(both), both["label"].to_numpy()
    if family == "linear":  # already on fit + valid
        return fit_family("linear", slices, params)[0]
    linear = fit_linear(both, slices.columns, slices.categories, x, params.seed)
    init = linear.predict(x) if family == "linear+lightgbm" else None
    cat_index = [slices.columns.index(c) for c in slices.categorical]
    train_set = lgb.Dataset(
        x,
        label=y,
        feature_name=slices.columns,
        categorical_feature=cat_index,
        init_score=init,
        params={"verbosity": -1},
    )
    booster = lgb.train(params.lightgbm(), train_set, num_boost_round=max(rounds, 1))
    return booster if init is None else BoostedLinear(linear, booster)


def members(
    slices: Slices, cal: pd.DataFrame, test: pd.DataFrame, config: TrainConfig
) -> tuple[Members, Members]:
    """The families as fitted today, and refitted on fit + valid."""
    params = config.booster
    fitted = {family: fit_family(family, slices, params) for family in FAMILIES}
    trees = {f: int(found.get("best_iteration", 0)) for f, (_, found) in fitted.items()}
    plain = {f: e for f, (e, _) in fitted.items()}
    refitted = {f: refit_family(f, slices, params, trees[f]) for f in FAMILIES}
    x_cal, x_test = slices.matrix(cal), slices.matrix(test)

    def margins(estimators: dict[Family, Estimator]) -> Members:
        out_cal = {f: e.predict(x_cal, raw_score=True) for f, e in estimators.items()}
        out_test = {f: e.predict(x_test, raw_score=True) for f, e in estimators.items()}
        boosted = estimators["linear+lightgbm"]
        assert isinstance(boosted, BoostedLinear)
        # the regression under the trees (fit only; fit + valid when refitted)
        out_cal["under"] = boosted.linear.predict(x_cal)
        out_test["under"] = boosted.linear.predict(x_test)
        return Members(estimators, out_cal, out_test, trees)

    return margins(plain), margins(refitted)


def blend_of(m: Members, family: str, w: float, part: str) -> np.ndarray:
    """``(1 - w) * family + w * its linear partner``, on cal or test."""
    margins = m.cal if part == "cal" else m.test
    partner = "under" if family == "linear+lightgbm" else "linear"
    return (1 - w) * margins[family] + w * margins[partner]


def best_weight(m: Members, family: str, label: np.ndarray) -> tuple[float, float]:
    """The grid weight with the lowest calibration-slice log-loss, and that loss."""
    losses = [row_losses(blend_of(m, family, w, "cal"), label).mean() for w in GRID]
    i = int(np.argmin(losses))
    return float(GRID[i]), float(losses[i])


def rule_margins(
    m: Members, x_cal: np.ndarray, x_test: np.ndarray, label: np.ndarray, blend: str
) -> tuple[str, np.ndarray, np.ndarray]:
    """The kept model's name and its margins on cal and pseudo-test under one rule."""
    losses = {f: row_losses(m.cal[f], label) for f in FAMILIES}
    family = choose(losses, m.trees)  # type: ignore[arg-type]
    if blend == "none":
        return family, m.cal[family], m.test[family]
    if blend in ("after-choice", "after-choice-1se"):  # the training path's own blend
        fitted = {f: (e, {"best_iteration": m.trees[f]}) for f, e in m.estimators.items()}
        estimator, kind, settings = blend_with_linear(
            family, fitted, x_cal, label, simplest_within_se=blend == "after-choice-1se"
        )
        w = float(settings.get("linear_weight", 0.0))  # type: ignore[arg-type]
        name = f"{family} w={w:.1f}" if w > 0 else family
        if kind == "linear" and family != "linear":
            name = f"{family} w=1: its linear model"
        raw = estimator.predict(x_cal, raw_score=True), estimator.predict(x_test, raw_score=True)
        return name, *raw
    # the best of both grids, no one-SE rule
    options = {f: best_weight(m, f, label) for f in ("lightgbm", "linear+lightgbm")}
    family = min(options, key=lambda f: options[f][1])
    w = options[family][0]
    name = f"{family} w={w:.1f}" if w > 0 else family
    return name, blend_of(m, family, w, "cal"), blend_of(m, family, w, "test")


def evaluate(data: TabularData, config: TrainConfig) -> dict[str, dict[str, object]]:
    """Every rule and logistic regression on one pseudo-test."""
    prepared: Prepared = prepare_tabular(data, config)
    config = calibration_for(prepared, config)
    kept, _ = refuse_flagged(prepared.columns, audit_training_part(data, prepared))
    fit, valid, cal = (prepared.part(name) for name in ("fit", "valid", "cal"))
    test = prepared.part("test")
    categorical = categorical_of(fit, kept, registry=False)
    categories = learn_categories(prepared.part("fit", "valid"), categorical)
    slices = Slices(fit, valid, kept, categorical, categories)
    y_cal, y_test = cal["label"].to_numpy(), test["label"].to_numpy()
    plain, refitted = members(slices, cal, test, config)
    x_cal, x_test = slices.matrix(cal), slices.matrix(test)
    out: dict[str, dict[str, object]] = {}
    for rule in RULES:
        m = refitted if rule.startswith("refit") else plain
        blend = {
            "blend": "free",
            "choose+blend": "after-choice",
            "choose+blend-1se": "after-choice-1se",
        }.get(rule.removeprefix("refit+"), "none")
        name, raw_cal, raw_test = rule_margins(m, x_cal, x_test, y_cal, blend)
        probability = Calibrator(config.calibration).fit(raw_cal, y_cal).transform(raw_test)
        out[rule] = {"kept": name, **scores(y_test, probability)}
        if rule == "choose+blend":
            for method in ("isotonic", "sigmoid"):
                fixed = Calibrator(method).fit(raw_cal, y_cal).transform(raw_test)  # type: ignore[arg-type]
                out[f"{rule}/{method}"] = {"kept": name, **scores(y_test, fixed)}
    c = linear_c(slices, config.booster.seed)
    both = pd.concat([fit, valid])
    tuned = fit_linear(both, kept, categories, slices.matrix(both), config.booster.seed, c)
    with_c = dataclasses.replace(
        plain,
        estimators={**plain.estimators, "linear": tuned},
        cal={**plain.cal, "linear": tuned.predict(x_cal, raw_score=True)},
        test={**plain.test, "linear": tuned.predict(x_test, raw_score=True)},
    )
    name, raw_cal, raw_test = rule_margins(with_c, x_cal, x_test, y_cal, "after-choice")
    probability = Calibrator(config.calibration).fit(raw_cal, y_cal).transform(raw_test)
    name += f" C={c}"
    out[TUNED] = {"kept": name, **scores(y_test, probability)}
    numeric = [c for c in kept if c not in categorical]
    logistic = fit_logistic(
        prepared.part("fit", "valid"), cal, numeric, categorical, config.calibration, 0
    )
    out["logistic regression"] = {"kept": "-", **scores(y_test, logistic.predict_proba(test))}
    return out


def scores(label: np.ndarray, probability: np.ndarray) -> dict[str, float]:
    return {
        "roc_auc": float(roc_auc_score(label, probability)),
        "brier": float(np.mean((probability - label) ** 2)),
    }


def decide(
    table: pd.DataFrame,
    rules: tuple[str, ...] = RULES[1:-1],
    reference: str = "current",
    lower_mean: bool = False,
) -> tuple[str, list[str]]:
    """The rule the declared decision adopts, and one line per rule saying why.

    ``lower_mean``: a rule must also lower the mean relative Brier (the second decision).
    """
    means = table.groupby(["dataset", "rule"])[["roc_auc", "brier"]].mean()
    lines, passing = [], {}
    for rule in rules:
        failed, relative = [], []
        for dataset in table["dataset"].unique():
            ours, now = means.loc[(dataset, rule)], means.loc[(dataset, reference)]
            if ours["brier"] > now["brier"] + 1e-12:
                failed.append(f"{dataset} Brier {ours['brier'] - now['brier']:+.5f}")
            if ours["roc_auc"] < now["roc_auc"] - AUC_TOLERANCE:
                failed.append(f"{dataset} ROC-AUC {ours['roc_auc'] - now['roc_auc']:+.4f}")
            relative.append(ours["brier"] / now["brier"] - 1)
        if lower_mean and not failed and np.mean(relative) >= 0:
            failed.append("no lower mean Brier")
        if not failed:
            passing[rule] = float(np.mean(relative))
        verdict = "passes" if not failed else "fails: " + ", ".join(failed)
        lines.append(f"- `{rule}`: mean Brier vs {reference} {np.mean(relative):+.2%}; {verdict}")
    adopted = min(passing, key=lambda r: passing[r]) if passing else reference
    return adopted, lines


def markdown_table(frame: pd.DataFrame) -> str:
    def cell(value: object) -> str:
        return f"{value:.4f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(frame.columns) + " |", "|" + " --- |" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(False)]
    return "\n".join(lines)


def main(out: Path, only: list[str] | None) -> pd.DataFrame:
    config = TrainConfig()
    rows = []
    for dataset in DATASET_LIST:
        if only and dataset.name not in only:
            continue
        start = time.perf_counter()
        for i, (data, split_config) in enumerate(pseudo_splits(dataset, config)):
            for rule, values in evaluate(data, split_config).items():
                rows.append({"dataset": dataset.name, "pseudo_test": i, "rule": rule, **values})
        print(f"{dataset.name}: {time.perf_counter() - start:.0f} s", flush=True)
    table = pd.DataFrame(rows)
    means = (
        table.groupby(["dataset", "rule"], sort=False)[["roc_auc", "brier"]].mean().reset_index()
    )
    kept = table.groupby(["dataset", "rule"], sort=False)["kept"].agg(lambda k: ", ".join(k))
    means["kept per pseudo-test"] = kept.to_numpy()
    adopted, lines = decide(table)
    second, second_lines = decide(table, ("choose+blend-1se",), "choose+blend", lower_mean=True)
    third, third_lines = decide(table, ("choose+blend/isotonic",), "choose+blend")
    fourth, fourth_lines = decide(table, (TUNED,), "choose+blend", lower_mean=True)
    text = "\n".join(
        [
            "# Model choice on pseudo-tests inside the training windows",
            "",
            "Written by `.venv/bin/python -m benchmarks.model_choice`; the real test windows are "
            "never read. Means over each dataset's pseudo-tests (bank-marketing, olist: 3 time "
            "origins; x-education: 5 outer folds).",
            "",
            markdown_table(means),
            "",
            "## Decision (no higher Brier and ROC-AUC within 0.005 of `current` on every dataset)",
            "",
            *lines,
            "",
            f"Adopted: `{adopted}`.",
            "",
            "## Second decision (the blend weight by the one-SE rule, against `choose+blend`)",
            "",
            *second_lines,
            "",
            f"Kept: `{second}`.",
            "",
            "## Third decision (centred isotonic everywhere, against `choose+blend`'s "
            "`calibration_for`)",
            "",
            *third_lines,
            "- for reference, `choose+blend/sigmoid`: sigmoid everywhere (not a candidate)",
            "",
            f"Kept: `{third}`.",
            "",
            "## Fourth decision (the linear family's C chosen on the valid slice)",
            "",
            *fourth_lines,
            "",
            f"Kept: `{fourth}`.",
            "",
            "## Every pseudo-test",
            "",
            markdown_table(table),
            "",
        ]
    )
    print(text)
    out.mkdir(parents=True, exist_ok=True)
    (out / "model_choice.md").write_text(text)
    return table


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--only", nargs="*", help="dataset names (default: all three)")
    args = parser.parse_args()
    main(args.out, args.only)
