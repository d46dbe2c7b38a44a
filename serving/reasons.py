"""Reasons: the model's own contributions, grouped and put into the lead's actions.

Contributions come from LightGBM ``pred_contrib`` (exact TreeSHAP): per lead they add up to the
model's raw margin, which :func:`check_additivity` asserts. Counts of one activity type over
several windows are one reason for sales ("visited the pricing page"), so their contributions are
summed and the window that contributed most speaks for them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from features.registry import FEATURES
from features.texts import Event, Lang, render_reason


@dataclass(frozen=True)
class Reason:
    feature: str
    contribution: float
    text: str


def check_additivity(contributions: np.ndarray, margin: np.ndarray, atol: float = 1e-6) -> None:
    """Explanations must be faithful: contributions plus bias equal the raw model output."""
    total = contributions.sum(axis=1)
    if not np.allclose(total, margin, atol=atol, rtol=1e-6):
        worst = float(np.max(np.abs(total - margin)))
        raise AssertionError(f"contributions do not add up to the model output (off by {worst})")


def group_of(column: str) -> str:
    feature = FEATURES.get(column)
    return feature.activity_type if feature and feature.activity_type else column


def reasons_for(
    contributions: np.ndarray,
    columns: Sequence[str],
    lead: Mapping[str, object],
    events: Sequence[Event],
    lang: Lang = "en",
    positive: int = 4,
    negative: int = 3,
) -> list[Reason]:
    """Strongest reasons for and against one lead, most important first.

    ``contributions`` is one row of ``pred_contrib`` without the bias column.
    """
    groups: dict[str, list[int]] = {}
    for i, column in enumerate(columns):
        groups.setdefault(group_of(column), []).append(i)
    summed = [
        (
            sum(float(contributions[i]) for i in members),
            max(members, key=lambda i: abs(contributions[i])),
        )
        for members in groups.values()
    ]
    ups = sorted((s for s in summed if s[0] > 1e-9), key=lambda s: -s[0])[:positive]
    downs = sorted((s for s in summed if s[0] < -1e-9), key=lambda s: s[0])[:negative]
    reasons = []
    for total, index in sorted(ups + downs, key=lambda s: -abs(s[0])):
        column = columns[index]
        value = lead.get(column)
        direction = "up" if total > 0 else "down"
        if column in FEATURES:
            text = render_reason(column, value, direction, lead, events, lang)
        else:
            text = f"{column}: {value}"
        reasons.append(Reason(feature=column, contribution=round(total, 6), text=text))
    return reasons
