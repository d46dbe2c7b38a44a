"""From a model's raw margin to a probability sales can read as "x in 100 such leads buy".

Both calibrators are fitted on the calibration slice only and store plain numbers, so a saved
model needs no pickle and applying one is a ``np.interp`` or a logistic on a single row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

Method = Literal["isotonic", "sigmoid"]
# No lead is certain to buy or not: a hard 0 would make one surprise cost infinite log-loss.
EPSILON = 1e-4


@dataclass
class Calibrator:
    """Maps raw scores to probabilities; ``fit`` returns self, learned state ends in ``_``."""

    method: Method = "isotonic"
    x_: list[float] = field(default_factory=list)
    y_: list[float] = field(default_factory=list)
    a_: float = 1.0
    b_: float = 0.0

    def fit(self, raw: np.ndarray, label: np.ndarray) -> Calibrator:
        raw = np.asarray(raw, dtype=float)
        label = np.asarray(label, dtype=float)
        if len(np.unique(label)) < 2:
            raise ValueError("the calibration slice needs both won and not-won snapshots")
        if self.method == "isotonic":
            from sklearn.isotonic import IsotonicRegression

            iso = IsotonicRegression(out_of_bounds="clip", y_min=EPSILON, y_max=1 - EPSILON)
            iso.fit(raw, label)
            self.x_ = iso.X_thresholds_.tolist()
            self.y_ = iso.y_thresholds_.tolist()
        elif self.method == "sigmoid":
            from sklearn.linear_model import LogisticRegression

            lr = LogisticRegression(C=1e6, max_iter=1000).fit(raw.reshape(-1, 1), label)
            self.a_, self.b_ = float(lr.coef_[0, 0]), float(lr.intercept_[0])
        else:
            raise ValueError(f"calibration must be 'isotonic' or 'sigmoid', not {self.method!r}")
        return self

    def transform(self, raw: np.ndarray) -> np.ndarray:
        raw = np.asarray(raw, dtype=float)
        if self.method == "isotonic":
            if not self.x_:
                raise RuntimeError("calibrator is not fitted")
            return np.interp(raw, self.x_, self.y_)
        return 1.0 / (1.0 + np.exp(-(self.a_ * raw + self.b_)))

    def to_dict(self) -> dict[str, object]:
        return {"method": self.method, "x": self.x_, "y": self.y_, "a": self.a_, "b": self.b_}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Calibrator:
        return cls(
            method=data["method"],  # type: ignore[arg-type]
            x_=list(data["x"]),  # type: ignore[arg-type]
            y_=list(data["y"]),  # type: ignore[arg-type]
            a_=float(data["a"]),  # type: ignore[arg-type]
            b_=float(data["b"]),  # type: ignore[arg-type]
        )
