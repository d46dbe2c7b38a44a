"""Which model family a tabular run keeps: decided on the calibration slice, never on test.

Three candidates, fitted on the same slices:

* ``lightgbm``: the booster on ``fit``, early stopping on ``valid``;
* ``linear``: logistic regression on ``fit`` + ``valid`` (the baseline's own model and rows);
* ``linear+lightgbm``: logistic regression on ``fit``, with boosted trees on top that learn its
  residual (early stopping on ``valid``, so the trees stay few when they add little).

Each candidate's margin is scored on ``cal``, the newest slice before the test window and the
one no candidate learnt from (``valid`` stops the trees early, and the linear model trains on
it): a two-parameter sigmoid maps the margin to a probability and the log-loss of that decides,
so a family wins by ranking and by how well its scores can be calibrated, not by its base rate.
A model with more trees must beat the simpler ones by more than one standard error of the loss
difference (:func:`choose`).

A winner with trees is then blended with its regression (:func:`blend_with_linear`): its margin
times ``1 - w`` plus the regression's times ``w``, the weight from a grid of 0, 0.1, ..., 1 with
the lowest log-loss on ``cal`` after a sigmoid (0, the family alone, on ties). The sigmoid
rescales the sum, so ``w`` sets the ratio of the two margins: a two-input logistic stacker on
``cal`` with non-negative weights on a grid, not the share of the final probability. For
``linear+lightgbm`` the regression is the one under its trees, so the blend shrinks the trees;
for ``lightgbm`` it is the ``linear`` family. Both members' terms and leaves are scaled by their
weights, so the blend is one linear model plus one booster and its contributions still add up to
its margin. The blend was adopted on pseudo-tests inside the training windows of the three real
datasets, never their test windows (``benchmarks/model_choice.py``). The result is calibrated on
``cal`` as any model is.

Why: on bank marketing (base rate 6 % -> 31 %, macro indicators that leave their historic range)
trees cannot extrapolate and logistic regression ranks the newest leads better; on X Education
the trees' interactions win; on Olist (three columns) the margins are nearly equal. One family
for every table would give up one of them. CRM event features are counts and recencies, where
LightGBM is better on a large demo CRM (100,000 leads: ROC-AUC 0.844 against 0.837); the CRM
path keeps LightGBM alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from training.calibration import Calibrator
from training.linear import BoostedLinear, LinearModel, fit_linear, scaled_booster
from training.model import BoosterParams, Estimator, Kind, encode_frame, fit_booster

Family = Literal["lightgbm", "linear", "linear+lightgbm"]
EPS = 1e-15
# On equal numbers of trees the earlier family counts as simpler (:func:`choose`).
FAMILIES: tuple[Family, ...] = ("linear", "lightgbm", "linear+lightgbm")
# The regression's share in a blend (:func:`blend_with_linear`); 0 keeps the chosen family.
BLEND_WEIGHTS: tuple[float, ...] = tuple(round(0.1 * i, 1) for i in range(11))


@dataclass
class Slices:
    """The rows and encoding every candidate shares."""

    fit: pd.DataFrame
    valid: pd.DataFrame
    columns: list[str]
    categorical: list[str]
    categories: dict[str, list[str]]

    def matrix(self, frame: pd.DataFrame) -> np.ndarray:
        return encode_frame(frame, self.columns, self.categories)


def fit_family(
    family: Family, slices: Slices, params: BoosterParams
) -> tuple[Estimator, dict[str, object]]:
    """One candidate's estimator and the settings to record with it."""
    fit, valid = slices.fit, slices.valid
    x_fit, x_valid = slices.matrix(fit), slices.matrix(valid)
    y_fit, y_valid = fit["label"].to_numpy(), valid["label"].to_numpy()
    if family == "lightgbm":
        booster = fit_booster(
            (x_fit, y_fit), (x_valid, y_valid), slices.columns, slices.categorical, params
        )
        return booster, {"best_iteration": booster.best_iteration}
    if family == "linear":
        both = pd.concat([fit, valid])
        linear = fit_linear(
            both, slices.columns, slices.categories, np.vstack([x_fit, x_valid]), params.seed
        )
        return linear, {}
    linear = fit_linear(fit, slices.columns, slices.categories, x_fit, params.seed)
    booster = fit_booster(
        (x_fit, y_fit),
        (x_valid, y_valid),
        slices.columns,
        slices.categorical,
        params,
        init=(linear.predict(x_fit), linear.predict(x_valid)),
    )
    return BoostedLinear(linear, booster), {"best_iteration": booster.best_iteration}


def row_losses(raw: np.ndarray, label: np.ndarray) -> np.ndarray:
    """Per-row log-loss on ``cal`` after a sigmoid fitted there: ranking plus calibratability."""
    probability = np.clip(Calibrator("sigmoid").fit(raw, label).transform(raw), EPS, 1 - EPS)
    return -(label * np.log(probability) + (1 - label) * np.log(1 - probability))


def choose(losses: dict[Family, np.ndarray], trees: dict[Family, int]) -> Family:
    """The simplest family whose loss is within one standard error of the best (paired rows).

    Simplest: the fewest trees (the linear model has none; a boosted linear model whose early
    stopping kept two trees is simpler than a booster of two hundred), then the order of
    :data:`FAMILIES`. The one-standard-error rule: a more complex model has to beat a simpler
    one by more than the noise of the slice, because under drift the simpler model is the safer
    bet when the newest rows cannot tell them apart.
    """
    best = min(losses, key=lambda f: float(losses[f].mean()))
    for family in sorted(losses, key=lambda f: (trees.get(f, 0), FAMILIES.index(f))):
        gap = losses[family] - losses[best]
        if gap.mean() <= gap.std(ddof=1) / np.sqrt(len(gap)):
            return family
    return best


def blend_with_linear(
    family: Family,
    fitted: dict[Family, tuple[Estimator, dict[str, object]]],
    cal_matrix: np.ndarray,
    cal_label: np.ndarray,
    simplest_within_se: bool = False,
) -> tuple[Estimator, Kind, dict[str, object]]:
    """The chosen family's margin blended with its regression's, the weight chosen on ``cal``.

    ``(1 - w) * family + w * regression`` for ``w`` in :data:`BLEND_WEIGHTS`; the lowest mean
    calibration-slice log-loss after a sigmoid (:func:`row_losses`) wins, the smallest weight on
    ties. The regression of ``linear+lightgbm`` is the one under its trees (the blend shrinks the
    trees by ``1 - w``), that of ``lightgbm`` the ``linear`` family (absent: no blend). The
    ``linear`` family has no trees and is returned as it is.

    ``simplest_within_se``: the largest weight within one standard error of the best instead
    (the rule :func:`choose` applies to families). Off: on the pseudo-tests of
    ``benchmarks/model_choice.py`` it raised X Education's Brier and changed nothing elsewhere.

    Returns the estimator, the artifact kind (a blend of trees and a regression is a
    ``linear+lightgbm`` model: one linear model plus one booster, contributions additive; weight
    1 is the regression alone, ``linear``) and the settings, with ``linear_weight`` added.
    """
    estimator, settings = fitted[family]
    if family == "linear" or (family == "lightgbm" and "linear" not in fitted):
        return estimator, family, settings
    if isinstance(estimator, BoostedLinear):
        regression, trees = estimator.linear, estimator.booster
        tree_margin = trees.predict(cal_matrix, raw_score=True)
        linear_margin = regression.predict(cal_matrix)

        def margin(w: float) -> np.ndarray:
            return linear_margin + (1 - w) * tree_margin
    else:
        regression = fitted["linear"][0]
        trees = estimator  # type: ignore[assignment]
        tree_margin = trees.predict(cal_matrix, raw_score=True)
        linear_margin = regression.predict(cal_matrix, raw_score=True)

        def margin(w: float) -> np.ndarray:
            return (1 - w) * tree_margin + w * linear_margin

    rows = [row_losses(margin(w), cal_label) for w in BLEND_WEIGHTS]
    best = int(np.argmin([r.mean() for r in rows]))
    weight = BLEND_WEIGHTS[best]
    if simplest_within_se:  # as choose(): the most regression within one SE of the best
        for w, r in reversed(list(zip(BLEND_WEIGHTS, rows, strict=True))):
            gap = r - rows[best]
            if gap.mean() <= gap.std(ddof=1) / np.sqrt(len(gap)):
                weight = w
                break
    settings = {**settings, "linear_weight": weight}
    if weight == 0:
        return estimator, family, settings
    if weight == 1:
        assert isinstance(regression, LinearModel)
        return regression, "linear", settings
    assert isinstance(regression, LinearModel)
    shrunk = scaled_booster(trees, 1 - weight)  # type: ignore[arg-type]
    if isinstance(estimator, BoostedLinear):
        return BoostedLinear(regression, shrunk), "linear+lightgbm", settings
    return BoostedLinear(regression.scaled(weight), shrunk), "linear+lightgbm", settings
