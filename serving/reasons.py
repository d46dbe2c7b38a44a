"""Reasons: the model's own contributions, grouped and put into the lead's actions.

Contributions come from LightGBM ``pred_contrib`` (exact TreeSHAP): per lead they add up to the
model's raw margin, which :func:`check_additivity` asserts. Counts of one activity type over
several windows are one reason for sales ("visited the pricing page"), so their contributions are
summed and the window that contributed most speaks for them; features of one
``Feature.reason_group`` likewise (email open and click rates: "has not been sent any email yet"
once, not twice).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from features.batch_texts import BatchEvents, feature_reasons
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
    """The reason a registry feature speaks in; group names never clash with column names."""
    feature = FEATURES.get(column)
    group = feature and (feature.activity_type or feature.reason_group)
    return f"group:{group}" if group else column


@dataclass(frozen=True)
class ReasonGroups:
    """Which model columns speak as one reason, as a 0/1 matrix (columns x groups)."""

    columns: tuple[str, ...]
    members: tuple[np.ndarray, ...]
    matrix: np.ndarray

    @classmethod
    @lru_cache(maxsize=16)
    def of(cls, columns: tuple[str, ...], registry: bool = True) -> ReasonGroups:
        """``registry``: the columns are the feature registry's (a CRM model). An export's
        columns are each a reason of their own, whatever they are called."""
        groups: dict[str, list[int]] = {}
        for i, column in enumerate(columns):
            groups.setdefault(group_of(column) if registry else column, []).append(i)
        matrix = np.zeros((len(columns), len(groups)))
        for g, members in enumerate(groups.values()):
            matrix[members, g] = 1.0
        return cls(columns, tuple(np.array(m) for m in groups.values()), matrix)


def top_reasons(
    contributions: np.ndarray, groups: ReasonGroups, positive: int = 4, negative: int = 3
) -> tuple[np.ndarray, np.ndarray]:
    """The strongest groups for and against each row, most important first, for all rows at once.

    ``contributions`` is ``pred_contrib`` without the bias column. Returns the column that speaks
    for each picked group (the member that contributed most, -1 for no reason) and the group's
    summed contribution, both shaped (rows, positive + negative).
    """
    n = len(contributions)
    # Sequential sums per group, not a matrix product: BLAS sums in an order that depends on
    # the number of rows, and a lead must get the same reasons alone as in a batch.
    summed = np.empty((n, len(groups.members)))
    for g, members in enumerate(groups.members):
        total = contributions[:, members[0]].copy()
        for j in members[1:]:
            total += contributions[:, j]
        summed[:, g] = total
    speaker = np.empty(summed.shape, dtype=np.intp)
    for g, members in enumerate(groups.members):
        if len(members) == 1:
            speaker[:, g] = members[0]
        else:
            speaker[:, g] = members[np.argmax(np.abs(contributions[:, members]), axis=1)]
    ups = np.argsort(-summed, axis=1, kind="stable")[:, :positive]
    downs = np.argsort(summed, axis=1, kind="stable")[:, :negative]
    picked = np.concatenate([ups, downs], axis=1)
    total = np.take_along_axis(summed, picked, axis=1)
    k = ups.shape[1]
    valid = np.concatenate([total[:, :k] > 1e-9, total[:, k:] < -1e-9], axis=1)
    order = np.argsort(np.where(valid, -np.abs(total), np.inf), axis=1, kind="stable")
    picked = np.take_along_axis(picked, order, axis=1)
    total = np.take_along_axis(total, order, axis=1)
    valid = np.take_along_axis(valid, order, axis=1)
    rows = np.arange(n)[:, None]
    column = np.where(valid, speaker[rows, picked], -1)
    return column, np.where(valid, total, 0.0)


def render_reasons(
    picked: np.ndarray,
    totals: np.ndarray,
    columns: Sequence[str],
    lead: Mapping[str, object],
    events: Sequence[Event],
    lang: Lang = "en",
) -> list[Reason]:
    """One row of :func:`top_reasons` as reasons in the lead's own actions."""
    reasons = []
    # numpy's rounding, as reason_texts' batches round: the same digits either way
    for index, total, rounded in zip(
        picked.tolist(), totals.tolist(), np.round(totals, 6).tolist(), strict=True
    ):
        if index < 0:
            break
        column = columns[index]
        value = lead.get(column)
        direction = "up" if total > 0 else "down"
        if column in FEATURES:
            text = render_reason(column, value, direction, lead, events, lang)
        else:
            text = f"{column}: {value}"
        reasons.append(Reason(feature=column, contribution=rounded, text=text))
    return reasons


def reason_texts(
    picked: np.ndarray,
    totals: np.ndarray,
    columns: Sequence[str],
    lead: Mapping[str, np.ndarray],
    events: BatchEvents,
    lang: Lang,
    explained: np.ndarray,
) -> np.ndarray:
    """:func:`render_reasons` for every row of a batch at once: texts shaped like ``picked``
    (None where there is no reason, and in rows that are not ``explained``)."""
    texts = np.full(picked.shape, None, dtype=object)
    rows, slots = np.nonzero((picked >= 0) & explained[:, None])
    which = picked[rows, slots]
    order = np.argsort(which.astype(np.int32), kind="stable")  # rows stay ascending per column
    rows, slots, which = rows[order], slots[order], which[order]
    bounds = np.flatnonzero(np.r_[True, which[1:] != which[:-1], True]) if len(which) else []
    for a, b in itertools.pairwise(bounds):
        column, r, s = columns[which[a]], rows[a:b], slots[a:b]
        if column in FEATURES:
            texts[r, s] = feature_reasons(column, r, totals[r, s] > 0, lead, events, lang)
        else:
            out = np.empty(len(r), dtype=object)
            out[:] = [f"{column}: {value}" for value in np.asarray(lead[column])[r]]
            texts[r, s] = out
    return texts
