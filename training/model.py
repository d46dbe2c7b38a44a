"""The scoring artifact: a LightGBM booster (or the points model, or on a table a linear model
with or without trees on top, :mod:`training.linear`) that checks itself on load.

A :class:`LeadModel` holds everything serving needs to turn a feature row into a calibrated
probability and into per-feature contributions: the ordered columns, the category lists learnt
on the training slice, the calibrator, the feature configuration and registry version it was
built with, the thresholds sales agreed to, and the numbers it was judged by. Loading refuses a
model whose features this code would compute differently, with a message saying what to do.

The serving fast path works on numpy, never on a one-row DataFrame::

    model = LeadModel.load(path)
    matrix = model.encode(features)          # float64, categoricals as codes, unknown -> NaN
    probability = model.predict_proba(matrix)
    contributions = model.contributions(matrix)  # last column = bias; rows sum to the raw margin
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Protocol

import lightgbm as lgb
import numpy as np
import pandas as pd

from features.contract import to_numeric
from features.interest import Location
from features.pipeline import FeatureConfig, model_columns
from features.registry import FEATURES, REGISTRY_VERSION
from training.calibration import Calibrator

ARTIFACT_FORMAT = 1
META_FILE = "leadmodel.json"
BOOSTER_FILE = "booster.txt"
RULES_FILE = "rules.json"
LINEAR_FILE = "linear.json"
# "linear" and "linear+lightgbm": tabular model families (training.families); the booster of
# "linear+lightgbm" learnt what it adds to the linear margin.
Kind = Literal["lightgbm", "rules", "linear", "linear+lightgbm"]
Mode = Literal["crm", "tabular"]


class ModelMismatchError(RuntimeError):
    """A saved model does not fit the feature code that would feed it."""


class DamagedModelError(ModelMismatchError):
    """A saved model's file differs from what was saved (a cut-short copy, a full disk).

    Checked before LightGBM reads it: LightGBM aborts the whole process on a damaged model
    file instead of raising, which would take a serving worker down with the old model in it.
    """


class Estimator(Protocol):
    """What a LeadModel needs from its engine: LightGBM's ``predict`` contract."""

    def predict(
        self, data: np.ndarray, raw_score: bool = ..., pred_contrib: bool = ..., **kwargs: Any
    ) -> np.ndarray: ...


@dataclass(frozen=True)
class BoosterParams:
    """LightGBM settings; fixed seed, ``deterministic`` and thread count make runs repeatable."""

    learning_rate: float = 0.05
    num_leaves: int = 31
    min_data_in_leaf: int = 50
    feature_fraction: float = 0.5
    bagging_fraction: float = 0.8
    bagging_freq: int = 1
    lambda_l2: float = 30.0
    min_data_per_group: int = 50
    cat_smooth: float = 20.0
    max_rounds: int = 2000
    early_stopping_rounds: int = 100
    seed: int = 0
    # One thread: on a busy two-core machine two OpenMP threads spin against other processes and
    # boosting ran 5x slower (100k leads: 70 s end to end with one thread, 105 s with two).
    num_threads: int = 1

    def lightgbm(self) -> dict[str, Any]:
        return {
            "objective": "binary",
            "metric": "binary_logloss",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_data_in_leaf,
            "feature_fraction": self.feature_fraction,
            "bagging_fraction": self.bagging_fraction,
            "bagging_freq": self.bagging_freq,
            "lambda_l2": self.lambda_l2,
            "min_data_per_group": self.min_data_per_group,
            "cat_smooth": self.cat_smooth,
            "seed": self.seed,
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": self.num_threads,
            "verbosity": -1,
        }


def categorical_of(frame: pd.DataFrame, columns: list[str], registry: bool = True) -> list[str]:
    """Registry categories, plus declared extra columns that hold text.

    ``registry=False`` for an export's columns (tabular mode): a column there that happens to
    share a registry feature's name ("region", "source") is the export's, typed by its values.
    """
    out = []
    for column in columns:
        feature = FEATURES.get(column) if registry else None
        if feature is not None:
            if feature.kind == "category":
                out.append(column)
        elif not pd.api.types.is_numeric_dtype(frame[column]) or pd.api.types.is_bool_dtype(
            frame[column]
        ):
            out.append(column)
    return out


def _text(values: pd.Series) -> np.ndarray:
    array = values.to_numpy(dtype=object, na_value=None)
    return np.array([None if v is None else str(v) for v in array], dtype=object)


def learn_categories(frame: pd.DataFrame, categorical: list[str]) -> dict[str, list[str]]:
    """Category lists from the training rows only; anything else is "unknown" later."""
    return {
        column: sorted({v for v in _text(frame[column]) if v is not None}) for column in categorical
    }


def encode_frame(
    frame: pd.DataFrame | Mapping[str, Any], columns: list[str], categories: dict[str, list[str]]
) -> np.ndarray:
    """Features to a float64 matrix in ``columns`` order; categories become codes, unknown NaN.

    Runs inside every HTTP request, so it avoids per-column pandas conversions where the dtype
    is already numeric, and codes categories with a dict lookup. ``frame`` may also be columns
    (name -> array), as :func:`features.pipeline.feature_columns_and_events` gives them.
    """
    if not isinstance(frame, pd.DataFrame):
        return _encode_columns(frame, columns, categories)
    matrix = np.empty((len(frame), len(columns)), dtype=np.float64)
    numeric = [j for j, c in enumerate(columns) if c not in categories]
    block = frame[[columns[j] for j in numeric]]
    if all(
        pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_bool_dtype(t) for t in block.dtypes
    ):
        matrix[:, numeric] = block.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        for j in numeric:
            matrix[:, j] = to_numeric(frame[columns[j]]).to_numpy(dtype=np.float64, na_value=np.nan)
    for j, column in enumerate(columns):
        if column in categories:
            lookup = _category_codes(column, tuple(categories[column]))
            matrix[:, j] = [lookup.get(v, np.nan) for v in _text(frame[column])]
    return matrix


def _encode_columns(
    data: Mapping[str, Any], columns: list[str], categories: dict[str, list[str]]
) -> np.ndarray:
    n = len(data[columns[0]]) if columns else 0
    matrix = np.empty((n, len(columns)), dtype=np.float64)
    for j, column in enumerate(columns):
        values = data[column]
        if column in categories:
            lookup = _category_codes(column, tuple(categories[column]))
            matrix[:, j] = _category_column(values, lookup)
        elif isinstance(values, np.ndarray) and values.dtype.kind in "biuf":
            matrix[:, j] = values
        else:
            matrix[:, j] = to_numeric(pd.Series(values)).to_numpy(dtype=np.float64, na_value=np.nan)
    return matrix


def _category_column(values: Any, lookup: Mapping[str, float]) -> np.ndarray | list[float]:
    """The code of each value's text (NaN for unknown or missing values)."""
    if len(values) > 256:  # a batch: look up each distinct word once
        codes, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=True)
        if all(isinstance(u, str) for u in uniques):
            table = np.array([lookup.get(u, np.nan) for u in uniques] + [np.nan])
            return table[codes]
    return [lookup.get(v, np.nan) for v in _plain_texts(values)]


def _plain_texts(values: Any) -> list[str | None]:
    """:func:`_text` for an array: str per value, None where missing."""
    return [
        None if v is None or v is pd.NA or (isinstance(v, float) and v != v) else str(v)
        for v in np.asarray(values, dtype=object).tolist()
    ]


@lru_cache(maxsize=256)
def _category_codes(column: str, categories: tuple[str, ...]) -> dict[str, float]:
    return {value: float(code) for code, value in enumerate(categories)}


def fit_booster(
    fit: tuple[np.ndarray, np.ndarray],
    valid: tuple[np.ndarray, np.ndarray],
    columns: list[str],
    categorical: list[str],
    params: BoosterParams,
    init: tuple[np.ndarray, np.ndarray] | None = None,
) -> lgb.Booster:
    """Gradient boosting with early stopping on the validation slice; no class weighting.

    ``init``: margins (fit, valid) the trees start from, e.g. a linear model's; the booster then
    predicts only what it adds to them.
    """
    cat_index = [columns.index(c) for c in categorical]
    train_set = lgb.Dataset(
        fit[0],
        label=fit[1],
        feature_name=columns,
        categorical_feature=cat_index,
        free_raw_data=False,
        init_score=None if init is None else init[0],
        params={"verbosity": -1},
    )
    valid_set = lgb.Dataset(
        valid[0], label=valid[1], reference=train_set, init_score=None if init is None else init[1]
    )
    return lgb.train(
        params.lightgbm(),
        train_set,
        num_boost_round=params.max_rounds,
        valid_sets=[valid_set],
        valid_names=["valid"],
        callbacks=[lgb.early_stopping(params.early_stopping_rounds, verbose=False)],
    )


def feature_config_to_dict(config: FeatureConfig) -> dict[str, Any]:
    return dataclasses.asdict(config)


def feature_config_from_dict(data: dict[str, Any]) -> FeatureConfig:
    known = {f.name for f in dataclasses.fields(FeatureConfig)}
    kwargs = {k: v for k, v in data.items() if k in known}
    if "extra_features" in kwargs:
        kwargs["extra_features"] = tuple(kwargs["extra_features"])
    if "locations" in kwargs:
        kwargs["locations"] = tuple(Location(**loc) for loc in kwargs["locations"])
    return FeatureConfig(**kwargs)


@dataclass
class LeadModel:
    """A trained, calibrated scorer with its contract; see the module docstring for the API."""

    estimator: Estimator
    columns: list[str]
    categories: dict[str, list[str]]
    calibrator: Calibrator
    feature_config: FeatureConfig = field(default_factory=FeatureConfig)
    kind: Kind = "lightgbm"
    mode: Mode = "crm"
    registry_version: str = REGISTRY_VERSION
    thresholds: dict[str, float] = field(default_factory=dict)
    data_window: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    num_threads: int = 1
    batch_threads: int = 0  # prediction on more than a few rows; 0: every core (not saved)

    # ---- serving fast path

    def encode(self, features: pd.DataFrame | Mapping[str, Any]) -> np.ndarray:
        missing = [c for c in self.columns if c not in features]
        if missing:
            raise KeyError(f"feature frame lacks model columns: {missing[:5]}")
        return encode_frame(features, self.columns, self.categories)

    def _threads(self, matrix: np.ndarray) -> int:
        """One thread for a request's few rows; ``batch_threads`` for more, where prediction,
        unlike training on a shared machine, scales with the cores."""
        return 1 if len(matrix) <= 16 else self.batch_threads

    def predict_raw(self, matrix: np.ndarray) -> np.ndarray:
        """The margin (log-odds for LightGBM, points for the rules model)."""
        return self.estimator.predict(matrix, raw_score=True, num_threads=self._threads(matrix))

    def predict_proba(self, matrix: np.ndarray) -> np.ndarray:
        """Calibrated probability of a won deal within the horizon."""
        return self.calibrator.transform(self.predict_raw(matrix))

    def contributions(self, matrix: np.ndarray) -> np.ndarray:
        """Per-feature contributions to the raw margin (TreeSHAP); last column is the bias."""
        return self.estimator.predict(matrix, pred_contrib=True, num_threads=self._threads(matrix))

    def score(self, probability: np.ndarray) -> np.ndarray:
        """The 0-100 score shown to sales: the calibrated probability in percent."""
        return np.rint(np.asarray(probability) * 100).astype(int)

    def feature_groups(self) -> dict[str, str]:
        """Column -> registry group; declared extra columns count as ``fit``. A table's
        columns are the export's, whatever their names: one group, ``export column``."""
        if self.mode == "tabular":
            return dict.fromkeys(self.columns, "export column")
        return {c: FEATURES[c].group if c in FEATURES else "fit" for c in self.columns}

    # ---- persistence

    def meta(self) -> dict[str, Any]:
        return {
            "format": ARTIFACT_FORMAT,
            "kind": self.kind,
            "mode": self.mode,
            "registry_version": self.registry_version,
            "columns": self.columns,
            "categories": self.categories,
            "calibrator": self.calibrator.to_dict(),
            "feature_config": feature_config_to_dict(self.feature_config),
            "thresholds": self.thresholds,
            "data_window": self.data_window,
            "metrics": self.metrics,
            "params": self.params,
            "num_threads": self.num_threads,
            "lightgbm_version": lgb.__version__,
        }

    def save(self, directory: str | Path) -> Path:
        """Write ``leadmodel.json`` plus the booster as LightGBM text (linear terms and rules as
        JSON)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        if self.kind == "lightgbm":
            self.estimator.save_model(str(directory / BOOSTER_FILE))  # type: ignore[attr-defined]
        elif self.kind in ("linear", "linear+lightgbm"):
            _save_linear(self.estimator, directory)
        else:
            (directory / RULES_FILE).write_text(
                json.dumps(self.estimator.to_dict(), indent=1)  # type: ignore[attr-defined]
            )
        meta = {**self.meta(), "files": _checksums(directory)}
        (directory / META_FILE).write_text(json.dumps(meta, indent=1, default=str))
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> LeadModel:
        """Read a saved model and refuse it if this code would feed it different features."""
        directory = Path(directory)
        path = directory / META_FILE
        if not path.exists():
            raise FileNotFoundError(f"{path} not found: {directory} is not a saved LeadModel")
        try:
            meta = json.loads(path.read_text())
        except (ValueError, UnicodeDecodeError) as error:
            raise DamagedModelError(f"{path} cannot be read: {error}") from error
        check_compatible(meta, directory)
        check_files(meta, directory)
        config = feature_config_from_dict(meta["feature_config"])
        if meta["kind"] == "lightgbm":
            estimator: Estimator = _load_booster(directory, meta["columns"])
        elif meta["kind"] in ("linear", "linear+lightgbm"):
            estimator = _load_linear(directory, meta["kind"], meta["columns"])
        else:
            from training.baselines import PointsModel

            estimator = PointsModel.from_dict(json.loads((directory / RULES_FILE).read_text()))
        return cls(
            estimator=estimator,
            columns=list(meta["columns"]),
            categories={k: list(v) for k, v in meta["categories"].items()},
            calibrator=Calibrator.from_dict(meta["calibrator"]),
            feature_config=config,
            kind=meta["kind"],
            mode=meta["mode"],
            registry_version=meta["registry_version"],
            thresholds=meta["thresholds"],
            data_window=meta["data_window"],
            metrics=meta["metrics"],
            params=meta["params"],
            num_threads=int(meta["num_threads"]),
        )


def _load_booster(directory: Path, columns: list[str]) -> lgb.Booster:
    booster = lgb.Booster(model_file=str(directory / BOOSTER_FILE))
    names = booster.feature_name()
    if names != [_lightgbm_name(c) for c in columns]:
        raise ModelMismatchError(
            f"the booster in {directory} was trained on columns {names[:5]}..., but its "
            f"metadata lists {columns[:5]}...; the artifact is corrupt, retrain"
        )
    return booster


def _save_linear(estimator: Estimator, directory: Path) -> None:
    """The linear terms as JSON; a boosted linear model also writes its booster."""
    from training.linear import BoostedLinear

    linear = estimator.linear if isinstance(estimator, BoostedLinear) else estimator
    (directory / LINEAR_FILE).write_text(json.dumps(linear.to_dict(), indent=1))  # type: ignore[attr-defined]
    if isinstance(estimator, BoostedLinear):
        estimator.booster.save_model(str(directory / BOOSTER_FILE))


def _load_linear(directory: Path, kind: str, columns: list[str]) -> Estimator:
    from training.linear import BoostedLinear, LinearModel

    linear = LinearModel.from_dict(json.loads((directory / LINEAR_FILE).read_text()))
    if linear.columns != columns:
        raise ModelMismatchError(
            f"the linear terms in {directory} are for columns {linear.columns[:5]}..., but its "
            f"metadata lists {columns[:5]}...; the artifact is corrupt, retrain"
        )
    if kind == "linear":
        return linear
    return BoostedLinear(linear, _load_booster(directory, columns))


def _checksums(directory: Path) -> dict[str, str]:
    return {
        name: hashlib.sha256((directory / name).read_bytes()).hexdigest()
        for name in (BOOSTER_FILE, LINEAR_FILE, RULES_FILE)
        if (directory / name).exists()
    }


def check_files(meta: dict[str, Any], directory: Path) -> None:
    """Raise :class:`DamagedModelError` if a model file differs from the one saved."""
    found = _checksums(directory)
    for name, digest in meta.get("files", {}).items():
        if found.get(name) != digest:
            why = "is missing" if name not in found else "differs from the file saved"
            raise DamagedModelError(f"{directory / name} {why}; the copy is damaged")


def _lightgbm_name(column: str) -> str:
    """LightGBM stores feature names with whitespace replaced by underscores."""
    return re.sub(r"\s", "_", column)


def check_compatible(meta: dict[str, Any], where: str | Path = "the model") -> None:
    """Raise :class:`ModelMismatchError` if the saved model cannot be fed by this code.

    The registry version concerns the CRM features; a tabular model reads an export's columns
    as they are, so a new registry version leaves it usable.
    """
    if meta.get("format") != ARTIFACT_FORMAT:
        raise ModelMismatchError(
            f"{where} has artifact format {meta.get('format')!r}, this code reads "
            f"{ARTIFACT_FORMAT}; retrain with `leadscore train DATA`"
        )
    if meta["mode"] == "crm" and meta["registry_version"] != REGISTRY_VERSION:
        raise ModelMismatchError(
            f"{where} was trained with feature registry version {meta['registry_version']!r}, "
            f"but this code computes features of version {REGISTRY_VERSION!r}. Retrain it "
            "(`leadscore train DATA`) or run the code version it was trained with."
        )
    if meta["mode"] != "crm":
        return
    config = feature_config_from_dict(meta["feature_config"])
    available = set(model_columns(config))
    unknown = [c for c in meta["columns"] if c not in available]
    if unknown:
        raise ModelMismatchError(
            f"{where} expects features this code does not compute: {unknown[:10]}. The feature "
            "list changed without a new registry version; retrain with `leadscore train DATA`."
        )
