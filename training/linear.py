"""Linear members of the tabular model families: logistic regression on LeadModel's matrix.

Under drift a tree model cannot extrapolate: when the newest leads carry values beyond anything
in training (bank marketing's macro indicators fall below their whole history in the test
window), every tree puts them in its outermost leaf, while a linear term keeps going. So tabular
training also fits logistic regression and logistic regression with boosted trees on top of it,
and keeps whichever the calibration slice prefers (:mod:`training.families`).

The regression is fitted with the baseline's own scikit-learn pipeline
(:func:`training.baselines.logistic_pipeline`: median imputation with missing-indicators,
standardisation, one-hot with rare levels pooled), then turned into plain numbers per column that
act on the matrix :meth:`LeadModel.encode` builds. That keeps serving free of scikit-learn and
pickles, and makes explanations exact: a column's contribution is its term of the linear margin,
centred on the training rows (linear SHAP), and the terms plus the bias add up to the margin.

:class:`LinearModel` and :class:`BoostedLinear` speak LightGBM's ``predict`` contract, like the
points model, so :class:`~training.model.LeadModel` serves them unchanged.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from training.baselines import BASELINE_C, logistic_frame, logistic_pipeline

MISSING = "(missing)"  # the baseline pipeline's fill value for a missing category
# Extracted coefficients must reproduce the pipeline's margin on its own training rows.
EXACTNESS = 1e-6


@dataclass
class NumericTerm:
    """``coef * (x or median - mean) / scale`` plus a missing-indicator term when fitted."""

    median: float
    mean: float
    scale: float
    coef: float
    missing_mean: float = 0.0
    missing_scale: float = 1.0
    missing_coef: float = 0.0
    centre: float = 0.0

    def values(self, column: np.ndarray) -> np.ndarray:
        missing = np.isnan(column)
        filled = np.where(missing, self.median, column)
        indicator = self.missing_coef * (missing - self.missing_mean) / self.missing_scale
        return self.coef * (filled - self.mean) / self.scale + indicator - self.centre


@dataclass
class CategoryTerm:
    """A value per category code (the code is the position in LeadModel's category list)."""

    per_code: list[float]
    # Missing, and a category the model never saw (both encode as NaN): the value the pipeline
    # gives a missing one. The baseline pipeline sends an unseen category to its rare-levels
    # column instead; the two differ only for unseen categories in a column that had missing
    # values in training.
    missing: float
    centre: float = 0.0

    def values(self, column: np.ndarray) -> np.ndarray:
        table = np.append(np.asarray(self.per_code, dtype=float), self.missing) - self.centre
        codes = np.where(np.isnan(column), len(self.per_code), column).astype(int)
        return table[codes]


Term = NumericTerm | CategoryTerm


@dataclass
class LinearModel:
    """Per-column linear terms over an encoded matrix; LightGBM's ``predict`` contract."""

    columns: list[str]
    terms: list[Term]
    bias: float

    def _terms(self, matrix: np.ndarray) -> np.ndarray:
        matrix = np.atleast_2d(np.asarray(matrix, dtype=float))
        out = np.empty((len(matrix), len(self.columns) + 1))
        for j, term in enumerate(self.terms):
            out[:, j] = term.values(matrix[:, j])
        out[:, -1] = self.bias
        return out

    def predict(
        self, data: np.ndarray, raw_score: bool = False, pred_contrib: bool = False, **_: Any
    ) -> np.ndarray:
        """Contributions per column plus the bias (``pred_contrib``), else the margin."""
        terms = self._terms(data)
        return terms if pred_contrib else terms.sum(axis=1)

    def scaled(self, weight: float) -> LinearModel:
        """The same model with every term and the bias times ``weight`` (a blend's share)."""
        terms: list[Term] = []
        for term in self.terms:
            if isinstance(term, NumericTerm):
                terms.append(
                    dataclasses.replace(
                        term,
                        coef=term.coef * weight,
                        missing_coef=term.missing_coef * weight,
                        centre=term.centre * weight,
                    )
                )
            else:
                terms.append(
                    CategoryTerm(
                        [v * weight for v in term.per_code],
                        term.missing * weight,
                        term.centre * weight,
                    )
                )
        return LinearModel(list(self.columns), terms, self.bias * weight)

    def to_dict(self) -> dict[str, Any]:
        return {
            "columns": self.columns,
            "bias": self.bias,
            "terms": [
                {"numeric": term.__dict__}
                if isinstance(term, NumericTerm)
                else {"category": term.__dict__}
                for term in self.terms
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LinearModel:
        terms: list[Term] = [
            NumericTerm(**t["numeric"]) if "numeric" in t else CategoryTerm(**t["category"])
            for t in data["terms"]
        ]
        return cls(list(data["columns"]), terms, float(data["bias"]))


@dataclass
class BoostedLinear:
    """A linear margin with boosted trees on top (the trees learnt its residual), or a blend of
    a regression and a booster, each with its leaves or terms scaled by its weight
    (:func:`training.families.blend_with_linear`).

    Contributions are the linear terms plus the trees' TreeSHAP values, column by column, so
    they still add up to the margin.
    """

    linear: LinearModel
    booster: lgb.Booster = field(repr=False)

    def predict(
        self, data: np.ndarray, raw_score: bool = False, pred_contrib: bool = False, **kwargs: Any
    ) -> np.ndarray:
        trees = self.booster.predict(data, raw_score=True, pred_contrib=pred_contrib, **kwargs)
        return self.linear.predict(data, pred_contrib=pred_contrib) + trees


def scaled_booster(booster: lgb.Booster, weight: float) -> lgb.Booster:
    """A copy of ``booster`` (its best iteration) with every leaf value times ``weight``.

    The margin and the TreeSHAP contributions scale with the leaves, so a blend's trees explain
    their share of the margin exactly, and the copy saves and loads like any booster.
    """
    copy = lgb.Booster(model_str=booster.model_to_string())
    for tree in copy.dump_model()["tree_info"]:
        for leaf in range(tree["num_leaves"]):
            value = copy.get_leaf_output(tree["tree_index"], leaf)
            copy.set_leaf_output(tree["tree_index"], leaf, value * weight)
    return copy


def fit_linear(
    frame: pd.DataFrame,
    columns: list[str],
    categories: dict[str, list[str]],
    matrix: np.ndarray,
    seed: int = 0,
    c: float = BASELINE_C,
) -> LinearModel:
    """The baseline's logistic regression on ``frame``, as terms over the encoded ``matrix``.

    ``matrix`` is ``frame`` encoded by ``LeadModel.encode`` (same rows); it is used to centre the
    terms and to check that the extracted numbers reproduce the pipeline's margin.
    """
    categorical = [c for c in columns if c in categories]
    numeric = [c for c in columns if c not in categories]
    x = logistic_frame(frame, numeric, categorical)
    pipeline = logistic_pipeline(numeric, categorical, seed, c).fit(x, frame["label"].to_numpy())
    coef = pipeline.named_steps["model"].coef_[0]
    prepare = pipeline.named_steps["prepare"]
    terms: dict[str, Term] = {}
    blocks = prepare.output_indices_  # where each transformer's outputs sit among the coefs
    if numeric:
        numbers = prepare.named_transformers_["num"]
        terms |= _numeric_terms(numbers, numeric, coef[blocks["num"]])
    if categorical:
        texts = prepare.named_transformers_["cat"]
        terms |= _category_terms(texts, categorical, categories, coef[blocks["cat"]])
    model = LinearModel(
        columns, [terms[c] for c in columns], float(pipeline.named_steps["model"].intercept_[0])
    )
    # centre every term on the training rows so a contribution reads "against an average lead"
    centre = model.predict(matrix, pred_contrib=True)[:, :-1].mean(axis=0)
    for term, shift in zip(model.terms, centre, strict=True):
        term.centre = float(shift)
    model.bias += float(centre.sum())
    worst = float(np.max(np.abs(model.predict(matrix) - pipeline.decision_function(x))))
    if worst > EXACTNESS:
        raise AssertionError(f"linear terms differ from the fitted pipeline by {worst:.2g}")
    return model


def _numeric_terms(numbers: Any, numeric: list[str], coef: np.ndarray) -> dict[str, Term]:
    """Imputer medians, scaler moments and coefficients, per numeric column."""
    imputer, scaler = numbers.named_steps["simpleimputer"], numbers.named_steps["standardscaler"]
    medians = np.nan_to_num(imputer.statistics_.astype(float))
    indicator = list(imputer.indicator_.features_) if imputer.indicator_ is not None else []
    out: dict[str, Term] = {}
    for j, column in enumerate(numeric):
        term = NumericTerm(
            float(medians[j]), float(scaler.mean_[j]), float(scaler.scale_[j]), float(coef[j])
        )
        if j in indicator:
            k = len(numeric) + indicator.index(j)
            term.missing_mean, term.missing_scale = float(scaler.mean_[k]), float(scaler.scale_[k])
            term.missing_coef = float(coef[k])
        out[column] = term
    return out


def _category_terms(
    texts: Any, categorical: list[str], categories: dict[str, list[str]], coef: np.ndarray
) -> dict[str, Term]:
    """Each known category (and missing) sent through the fitted one-hot step, times its coef.

    The one-hot encoder emits, per column, one output per frequent level and one for all rare
    and unseen levels; rather than rebuild that layout, each value is transformed and the
    column's block of outputs read off by its width.
    """
    encoder = texts.named_steps["onehotencoder"]
    widths = [_width(encoder, i) for i in range(len(categorical))]
    starts = np.concatenate([[0], np.cumsum(widths)[:-1]]).astype(int)
    out: dict[str, Term] = {}
    for i, column in enumerate(categorical):
        values = [*categories[column], MISSING]
        probe = pd.DataFrame({c: [MISSING] * len(values) for c in categorical})
        probe[column] = values
        with warnings.catch_warnings():  # unseen levels (only in valid) encode as rare or zeros
            warnings.simplefilter("ignore", UserWarning)
            encoded = encoder.transform(probe.to_numpy(dtype=object))
        dense = encoded.toarray() if hasattr(encoded, "toarray") else np.asarray(encoded)
        block = dense[:, starts[i] : starts[i] + widths[i]]
        scores = block @ coef[starts[i] : starts[i] + widths[i]]
        out[column] = CategoryTerm([float(v) for v in scores[:-1]], float(scores[-1]))
    return out


def _width(encoder: Any, i: int) -> int:
    """How many outputs the one-hot encoder gives column ``i`` (rare levels share one)."""
    rare = encoder.infrequent_categories_[i]
    n_rare = 0 if rare is None else len(rare)
    return len(encoder.categories_[i]) - n_rare + (1 if n_rare else 0)
