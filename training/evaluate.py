"""How good a scorer is, in the numbers sales and data science both care about.

Ranking (ROC-AUC, PR-AUC, lift and capture in the top 10 % / 20 %), honesty of the probabilities
(Brier, log-loss, expected calibration error) and what happens at the agreed sales capacity
(precision and recall of the leads that would be handed over). All functions take labels and
calibrated probabilities and return plain numbers or small frames.

Sales capacity: sales can take ``capacity`` leads per ``per`` (e.g. 50 a week). Scoring volume is
estimated from the snapshots: every open lead is looked at once per snapshot interval, so the
snapshots of a window divided by its weeks approximate the leads up for a decision each week.
The top ``capacity / weekly volume`` share is what gets handed over.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

PERIOD_DAYS = {"day": 1, "week": 7, "month": 30}


@dataclass(frozen=True)
class Capacity:
    """How many leads sales can take per period."""

    leads: int = 50
    per: str = "week"

    def __post_init__(self) -> None:
        if self.leads <= 0 or self.per not in PERIOD_DAYS:
            raise ValueError(f"capacity must be positive per one of {sorted(PERIOD_DAYS)}")


def volume_per_period(as_of: pd.Series, every_days: int, per: str = "week") -> float:
    """Open leads up for a decision per period, from the snapshot count of a window.

    Each snapshot stands for ``every_days`` of a lead being open, so the volume per period is
    ``snapshots * period / every_days`` spread over the window's length (at least one interval).
    """
    if as_of.empty:
        return 0.0
    span_days = max((as_of.max() - as_of.min()) / pd.Timedelta(days=1), float(every_days))
    return len(as_of) / span_days * PERIOD_DAYS[per]


def capacity_share(capacity: Capacity, volume: float) -> float:
    """The top share of scored leads sales can take (capped to 1)."""
    return 1.0 if volume <= 0 else float(min(1.0, capacity.leads / volume))


def top_mask(probability: np.ndarray, share: float) -> np.ndarray:
    """The ``share`` highest-scored rows (ties broken by position, so the size is exact)."""
    n = max(1, round(share * len(probability)))
    order = np.argsort(-np.asarray(probability), kind="stable")
    mask = np.zeros(len(probability), dtype=bool)
    mask[order[:n]] = True
    return mask


def whole_score_cut(probability: np.ndarray, share: float) -> tuple[int, float]:
    """The lowest whole score (0-100) that at most ``share`` of the rows reach, and their share.

    Routing grades by the whole score (a probability of 0.055 reads 6), so a cut-off between
    two scores hands over everyone with the higher one: on the demo CRM's low probabilities a
    cut-off of 0.059 handed over 50 leads a week where the capacity left 34. 101 when even the
    top score is too many.
    """
    scores = np.rint(np.asarray(probability, dtype=float) * 100).astype(int)
    if scores.size == 0:
        return 101, 0.0
    counts = np.bincount(np.clip(scores, 0, 100), minlength=101)
    reach = counts[::-1].cumsum()[::-1] / scores.size  # reach[s]: the share with score >= s
    fits = np.flatnonzero(reach <= share + 1e-12)
    return (int(fits[0]), float(reach[fits[0]])) if fits.size else (101, 0.0)


def expected_calibration_error(label: np.ndarray, probability: np.ndarray, bins: int = 10) -> float:
    """Mean |observed rate - mean probability| over equal-width bins, weighted by bin size."""
    label = np.asarray(label, dtype=float)
    probability = np.asarray(probability, dtype=float)
    index = np.minimum((probability * bins).astype(int), bins - 1)
    count = np.bincount(index, minlength=bins)
    gap = np.abs(
        np.bincount(index, weights=label, minlength=bins)
        - np.bincount(index, weights=probability, minlength=bins)
    )
    return float(gap.sum() / max(count.sum(), 1))


def lift_at(label: np.ndarray, probability: np.ndarray, share: float) -> tuple[float, float]:
    """(lift, capture) of the top ``share``: how much richer in buyers, and which part of them."""
    label = np.asarray(label, dtype=float)
    top = top_mask(probability, share)
    base = label.mean()
    rate = label[top].mean()
    capture = label[top].sum() / max(label.sum(), 1.0)
    return (float(rate / base) if base > 0 else float("nan")), float(capture)


def metrics(label: np.ndarray, probability: np.ndarray, sales_share: float) -> dict[str, float]:
    """All headline numbers for one scorer on one window."""
    label = np.asarray(label, dtype=int)
    probability = np.clip(np.asarray(probability, dtype=float), 1e-6, 1 - 1e-6)
    both = len(np.unique(label)) == 2
    out = {
        "n": float(len(label)),
        "positives": float(label.sum()),
        "base_rate": float(label.mean()) if len(label) else float("nan"),
        "roc_auc": float(roc_auc_score(label, probability)) if both else float("nan"),
        "pr_auc": float(average_precision_score(label, probability)) if both else float("nan"),
        "brier": float(brier_score_loss(label, probability)),
        "log_loss": float(log_loss(label, probability, labels=[0, 1])),
        "ece": expected_calibration_error(label, probability),
        "mean_probability": float(probability.mean()),
    }
    for share in (0.1, 0.2):
        lift, capture = lift_at(label, probability, share)
        out[f"lift_top{int(share * 100)}"] = lift
        out[f"capture_top{int(share * 100)}"] = capture
    sent = top_mask(probability, sales_share)
    out["sales_share"] = sales_share
    out["precision_at_capacity"] = float(label[sent].mean())
    out["recall_at_capacity"] = float(label[sent].sum() / max(label.sum(), 1))
    return out


def calibration_moved(values: dict[str, float] | None, ratio: float = 1.25) -> str | None:
    """A note when the model's mean probability on the test window is off the rate observed
    there by more than ``ratio`` either way: the rate has moved since the slice it was
    calibrated on (Olist: 14.5 % predicted, 9.7 % converted), so its probabilities, and the
    precision ``thresholds`` expects, are off by as much; the ranking may still hold."""
    if not values or values.get("positives", 0) < 20:
        return None
    predicted, observed = values["mean_probability"], values["base_rate"]
    if observed <= 0 or 1 / ratio <= predicted / observed <= ratio:
        return None
    way = "overstate" if predicted > observed else "understate"
    factor = max(predicted / observed, observed / predicted)
    return (
        f"On the test window the model predicted {predicted:.1%} on average where "
        f"{observed:.1%} converted: the rate has moved since its calibration slice, so its "
        f"probabilities (and the precision thresholds expects) {way} by a factor of about "
        f"{factor:.1f}; its ranking (ROC-AUC, lift) is unaffected. Training on "
        "newer data calibrates it to the newer rate."
    )


def reliability_table(label: np.ndarray, probability: np.ndarray, bins: int = 15) -> pd.DataFrame:
    """Per bin of equally many leads: mean predicted, observed rate, count.

    Equal-count bins, because most leads sit at low probabilities: equal-width bins would leave
    the top bins with a handful of leads and a diagram of noise.
    """
    order = np.argsort(np.asarray(probability), kind="stable")
    bin_of = np.empty(len(order), dtype=int)
    bin_of[order] = np.arange(len(order)) * bins // max(len(order), 1)
    frame = pd.DataFrame({"label": label, "p": probability, "bin": bin_of})
    grouped = frame.groupby("bin").agg(
        predicted=("p", "mean"), observed=("label", "mean"), count=("p", "size")
    )
    return grouped.reset_index()


def gains_table(label: np.ndarray, probability: np.ndarray, points: int = 50) -> pd.DataFrame:
    """Cumulative share of buyers captured against share of leads contacted, best first."""
    order = np.argsort(-np.asarray(probability), kind="stable")
    hits = np.cumsum(np.asarray(label, dtype=float)[order])
    share = np.arange(1, len(order) + 1) / len(order)
    capture = hits / max(hits[-1], 1.0)
    picks = np.unique(np.linspace(0, len(order) - 1, points).astype(int))
    return pd.DataFrame(
        {"share": share[picks], "capture": capture[picks], "lift": capture[picks] / share[picks]}
    )


def contribution_importance(
    contributions: np.ndarray, columns: list[str], groups: dict[str, str]
) -> pd.DataFrame:
    """Mean |contribution| per feature (bias column dropped), with its registry group, sorted."""
    mean_abs = np.abs(contributions[:, : len(columns)]).mean(axis=0)
    frame = pd.DataFrame(
        {"feature": columns, "group": [groups[c] for c in columns], "mean_abs": mean_abs}
    )
    return frame.sort_values("mean_abs", ascending=False, kind="stable").reset_index(drop=True)


def group_importance(importance: pd.DataFrame) -> pd.DataFrame:
    """Feature importance summed by registry group (behaviour, fit, quality, interest)."""
    return (
        importance.groupby("group", as_index=False)["mean_abs"]
        .sum()
        .sort_values("mean_abs", ascending=False)
        .reset_index(drop=True)
    )


@dataclass(frozen=True)
class GateTolerance:
    """How much worse than the champion a challenger may look and still replace it."""

    roc_auc_drop: float = 0.005
    brier_rise: float = 0.0


def gate(
    challenger: dict[str, float],
    champion: dict[str, float] | None,
    tolerance: GateTolerance = GateTolerance(),
) -> tuple[bool, str]:
    """Promote only if the challenger is not worse on the same newest test window."""
    if champion is None:
        return True, "no champion yet"
    auc_gap = challenger["roc_auc"] - champion["roc_auc"]
    brier_gap = challenger["brier"] - champion["brier"]
    problems = []
    if auc_gap < -tolerance.roc_auc_drop:
        problems.append(
            f"ROC-AUC {challenger['roc_auc']:.4f} is {-auc_gap:.4f} below the champion's "
            f"{champion['roc_auc']:.4f} (allowed: {tolerance.roc_auc_drop})"
        )
    if brier_gap > tolerance.brier_rise:
        problems.append(
            f"Brier {challenger['brier']:.4f} is above the champion's {champion['brier']:.4f}"
            + (f" (allowed: +{tolerance.brier_rise})" if tolerance.brier_rise else "")
        )
    if problems:
        return False, "; ".join(problems)
    return True, (
        f"ROC-AUC {challenger['roc_auc']:.4f} vs {champion['roc_auc']:.4f}, "
        f"Brier {challenger['brier']:.4f} vs {champion['brier']:.4f} on the same test window"
    )
