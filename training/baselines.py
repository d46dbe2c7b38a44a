"""The two models every LightGBM candidate is compared with, on the same split.

* The points model: rules from ``training/rules.yaml`` (points per action and fit attribute, as
  marketing automation tools score), summed and calibrated to a probability. It speaks LightGBM's
  ``predict`` contract, so it serves through :class:`~training.model.LeadModel` exactly like the
  learned model: this is what runs while a CRM has too few closed deals (cold start).
* Logistic regression: a scikit-learn pipeline whose imputer, scaler and one-hot encoder are
  fitted on the training slice only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from features.contract import to_numeric
from features.pipeline import FeatureConfig
from training.calibration import Calibrator
from training.model import LeadModel

RULES_PATH = Path(__file__).with_name("rules.yaml")
CONDITIONS = ("at_least", "at_most", "in", "equals")


@dataclass(frozen=True)
class Rule:
    """``points`` when ``feature`` meets the condition (one of at_least/at_most/in/equals)."""

    feature: str
    points: float
    at_least: float | None = None
    at_most: float | None = None
    in_: tuple[str, ...] | None = None
    equals: float | None = None
    why: str = ""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Rule:
        given = [c for c in CONDITIONS if c in data]
        if len(given) != 1 or "feature" not in data or "points" not in data:
            raise ValueError(
                f"rule {data!r}: needs feature, points and exactly one of {', '.join(CONDITIONS)}"
            )
        return cls(
            feature=str(data["feature"]),
            points=float(data["points"]),
            at_least=_float_or_none(data.get("at_least")),
            at_most=_float_or_none(data.get("at_most")),
            in_=tuple(str(v) for v in data["in"]) if "in" in data else None,
            equals=_float_or_none(data.get("equals")),
            why=str(data.get("why", "")),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"feature": self.feature, "points": self.points, "why": self.why}
        for name in ("at_least", "at_most", "equals"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        if self.in_ is not None:
            out["in"] = list(self.in_)
        return out

    def hits(self, column: np.ndarray, categories: list[str] | None) -> np.ndarray:
        """Where the rule fires on an encoded column (codes for categories, NaN never fires)."""
        with np.errstate(invalid="ignore"):
            if self.in_ is not None:
                codes = [categories.index(v) for v in self.in_ if categories and v in categories]
                return np.isin(column, codes)
            if self.at_least is not None:
                return column >= self.at_least
            if self.at_most is not None:
                return column <= self.at_most
            return column == self.equals


def _float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass
class RulesConfig:
    """The parsed ``rules.yaml``."""

    rules: list[Rule]
    prior: tuple[float, float] = (0.04, -4.0)

    @property
    def features(self) -> list[str]:
        return list(dict.fromkeys(r.feature for r in self.rules))


def load_rules(path: str | Path = RULES_PATH, known: list[str] | None = None) -> RulesConfig:
    """Read the rules file; a rule on a feature the pipeline does not compute is an error."""
    data = yaml.safe_load(Path(path).read_text())
    rules = [Rule.from_dict(r) for r in data.get("rules", [])]
    if not rules:
        raise ValueError(f"{path}: no rules")
    if known is not None:
        unknown = sorted({r.feature for r in rules} - set(known))
        if unknown:
            raise ValueError(
                f"{path}: rules on unknown features {unknown}; see `leadscore features --list`"
            )
    prior = data.get("prior", {})
    return RulesConfig(rules, (float(prior.get("a", 0.04)), float(prior.get("b", -4.0))))


@dataclass
class PointsModel:
    """Sums rule points over an encoded matrix; LightGBM's ``predict`` contract, no trees."""

    rules: list[Rule]
    columns: list[str]
    categories: dict[str, list[str]] = field(default_factory=dict)

    def _points(self, matrix: np.ndarray) -> np.ndarray:
        matrix = np.atleast_2d(matrix)
        points = np.zeros((len(matrix), len(self.columns) + 1))
        for rule in self.rules:
            j = self.columns.index(rule.feature)
            hit = rule.hits(matrix[:, j], self.categories.get(rule.feature))
            points[:, j] += np.where(hit, rule.points, 0.0)
        return points

    def predict(
        self,
        data: np.ndarray,
        raw_score: bool = False,
        pred_contrib: bool = False,
        **_: Any,
    ) -> np.ndarray:
        points = self._points(data)
        return points if pred_contrib else points.sum(axis=1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rules": [r.to_dict() for r in self.rules],
            "columns": self.columns,
            "categories": self.categories,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PointsModel:
        return cls(
            [Rule.from_dict(r) for r in data["rules"]],
            list(data["columns"]),
            {k: list(v) for k, v in data["categories"].items()},
        )


def rule_categories(rules: RulesConfig) -> dict[str, list[str]]:
    """Per categorical feature, the values the rules name: all the points model must tell apart.

    Any other value encodes as missing, which no rule rewards, so no data is needed to build it.
    """
    named: dict[str, set[str]] = {}
    for rule in rules.rules:
        if rule.in_ is not None:
            named.setdefault(rule.feature, set()).update(rule.in_)
    return {feature: sorted(values) for feature, values in named.items()}


def rules_model(rules: RulesConfig, feature_config: FeatureConfig = FeatureConfig()) -> LeadModel:
    """The points model as a LeadModel; its calibrator starts as the prior from the rules file.

    Calibrate it on data with ``model.calibrator = Calibrator(...).fit(model.predict_raw(m), y)``.
    """
    columns = rules.features
    categories = rule_categories(rules)
    return LeadModel(
        estimator=PointsModel(rules.rules, columns, categories),
        columns=columns,
        categories=categories,
        calibrator=Calibrator("sigmoid", a_=rules.prior[0], b_=rules.prior[1]),
        feature_config=feature_config,
        kind="rules",
        num_threads=1,
    )


# --------------------------------------------------------------------------- logistic regression


# The baseline's inverse regularisation strength (scikit-learn's C).
BASELINE_C = 0.1


def logistic_pipeline(
    numeric: list[str], categorical: list[str], seed: int = 0, c: float = BASELINE_C
):
    """Impute (with missing-indicators), standardise, one-hot; all fitted on train rows only.

    Deliberately the textbook baseline: no hand-made transforms. (Log-scaling the counts makes it
    nearly as good as LightGBM on the demo CRM, whose hidden buying odds are additive.)
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numbers = make_pipeline(
        SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
        StandardScaler(),
    )
    texts = make_pipeline(
        SimpleImputer(strategy="constant", fill_value="(missing)"),
        OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=20),
    )
    columns = ColumnTransformer([("num", numbers, numeric), ("cat", texts, categorical)])
    model = LogisticRegression(C=c, max_iter=2000, random_state=seed)
    return Pipeline([("prepare", columns), ("model", model)])


def logistic_frame(frame: pd.DataFrame, numeric: list[str], categorical: list[str]) -> pd.DataFrame:
    """Numbers as float with NaN, categories as object with NaN, as the pipeline expects."""
    out = pd.DataFrame(index=frame.index)
    for column in numeric:
        out[column] = to_numeric(frame[column]).astype(float)
    for column in categorical:
        out[column] = frame[column].astype(object).where(frame[column].notna(), np.nan)
        out[column] = out[column].map(lambda v: v if isinstance(v, float) else str(v))
    return out


@dataclass
class LogisticBaseline:
    """Fitted pipeline plus its calibrator; evaluated only, never registered."""

    pipeline: Any
    numeric: list[str]
    categorical: list[str]
    calibrator: Calibrator

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        x = logistic_frame(frame, self.numeric, self.categorical)
        return self.calibrator.transform(self.pipeline.decision_function(x))


def fit_logistic(
    fit: pd.DataFrame,
    cal: pd.DataFrame,
    numeric: list[str],
    categorical: list[str],
    method: str = "isotonic",
    seed: int = 0,
) -> LogisticBaseline:
    """Fit on the training rows, calibrate the decision function on the calibration slice."""
    pipeline = logistic_pipeline(numeric, categorical, seed)
    pipeline.fit(logistic_frame(fit, numeric, categorical), fit["label"].to_numpy())
    raw = pipeline.decision_function(logistic_frame(cal, numeric, categorical))
    calibrator = Calibrator(method).fit(raw, cal["label"].to_numpy())  # type: ignore[arg-type]
    return LogisticBaseline(pipeline, numeric, categorical, calibrator)
