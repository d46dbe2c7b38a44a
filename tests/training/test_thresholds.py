"""Capacity planning: the cut-off is a whole score, because routing grades by the whole score,
and the leads a cut-off does not decide (hand-raisers, review flags) are counted apart."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from training.evaluate import Capacity, whole_score_cut
from training.workflow import advice_for


def test_a_cut_between_two_scores_does_not_hand_over_the_whole_lower_score() -> None:
    probability = np.array([0.054, 0.056, 0.058, 0.064, 0.07, 0.2])  # scores 5 6 6 6 7 20
    assert whole_score_cut(probability, 0.5) == (7, pytest.approx(2 / 6))
    assert whole_score_cut(probability, 5 / 6) == (6, pytest.approx(5 / 6))
    assert whole_score_cut(probability, 1.0) == (0, 1.0)
    assert whole_score_cut(np.array([0.999, 0.998]), 0.4) == (101, 0.0)  # both read 100


@given(
    st.lists(st.floats(0, 1), min_size=1, max_size=200),
    st.floats(0, 1),
)
def test_the_whole_score_cut_is_the_lowest_within_the_share(
    probabilities: list[float], share: float
) -> None:
    probability = np.array(probabilities)
    scores = np.rint(probability * 100)
    score, reached = whole_score_cut(probability, share)
    assert reached == pytest.approx(np.mean(scores >= score))
    assert reached <= share + 1e-9
    if 0 < score <= 101:  # one score lower would hand over more than the share
        assert np.mean(scores >= score - 1) > share


def test_hand_raisers_take_their_part_of_the_capacity_first() -> None:
    rng = np.random.default_rng(0)
    probability = rng.permutation(np.arange(100) / 100)  # 100 rows, one per whole score
    always = np.zeros(100, bool)
    never = np.zeros(100, bool)
    always[:10], never[10:30] = True, True
    # 100 rows a week: each row is one lead a week
    advice = advice_for(probability, 100.0, Capacity(30, "week"), "1", None, always, never)
    assert (advice.always, advice.never) == (pytest.approx(10), pytest.approx(20))
    assert advice.by_score == pytest.approx(20)  # 30 - the 10 who asked
    assert advice.one_lower == pytest.approx(21)
    free = ~always & ~never
    handed = free & (np.rint(probability * 100) >= advice.cutoff * 100)
    assert handed.sum() == 20
    assert advice.expected_precision == pytest.approx(probability[handed].mean())
    assert advice.always_precision == pytest.approx(probability[always].mean())

    full = advice_for(probability, 100.0, Capacity(10, "week"), "1", None, always, never)
    assert full.by_score == 0 and full.cutoff == 1.0  # the hand-raisers fill the capacity
    assert np.isnan(full.expected_precision)


def test_without_routing_every_lead_is_the_cut_offs() -> None:
    probability = np.arange(200) / 200  # two rows per whole score
    advice = advice_for(probability, 50.0, Capacity(5, "week"), "1")
    assert advice.always is None and advice.never is None
    assert advice.by_score <= 5
    assert advice.by_score == pytest.approx(np.mean(np.rint(probability * 100) >= 91) * 50)
    assert round(advice.cutoff * 100) == 91
