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
difference (:func:`choose`). The winner is then calibrated on ``cal`` as any model is.

Why: on bank marketing (base rate 6 % -> 31 %, macro indicators that leave their historic range)
trees cannot extrapolate and logistic regression ranks the newest leads better; on X Education
the trees' interactions win; on Olist (three columns) the margins are nearly equal. One family
for every table would give up one of them. CRM event features are counts and recencies, where
LightGBM is clearly better on the demo CRM; the CRM path keeps LightGBM alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from training.calibration import Calibrator
from training.linear import BoostedLinear, fit_linear
from training.model import BoosterParams, Estimator, encode_frame, fit_booster

Family = Literal["lightgbm", "linear", "linear+lightgbm"]
EPS = 1e-15
# On equal numbers of trees the earlier family counts as simpler (:func:`choose`).
FAMILIES: tuple[Family, ...] = ("linear", "lightgbm", "linear+lightgbm")


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
