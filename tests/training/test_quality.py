"""On the demo CRM, whose buying drivers are known, the model learns them and beats baselines."""

from __future__ import annotations

import pytest

from features.registry import FEATURES
from training.train import Prepared, TrainConfig, TrainResult, fit_and_evaluate

# Ground-truth fit drivers and the features that carry them.
FIT_DRIVERS = {
    "seniority": {"seniority"},
    "industry": {"industry"},
    "company_size": {"employees", "size_band"},
}


def test_lightgbm_beats_both_baselines_on_the_newest_leads(result: TrainResult) -> None:
    m = result.metrics
    assert m["lightgbm"]["positives"] >= 300  # enough won deals for the comparison to mean much
    for baseline in ("rules", "logistic"):
        assert m["lightgbm"]["roc_auc"] > m[baseline]["roc_auc"], baseline
        assert m["lightgbm"]["brier"] < m[baseline]["brier"], baseline
        assert m["lightgbm"]["pr_auc"] > m[baseline]["pr_auc"], baseline


def test_probabilities_are_calibrated_on_the_test_window(result: TrainResult) -> None:
    m = result.metrics["lightgbm"]
    assert m["ece"] <= 0.03
    assert m["mean_probability"] == pytest.approx(m["base_rate"], abs=0.02)


def test_the_top_decile_is_several_times_richer_in_buyers(result: TrainResult) -> None:
    m = result.metrics["lightgbm"]
    assert m["lift_top10"] > 3
    assert m["capture_top20"] > 0.5
    assert m["precision_at_capacity"] > 2 * m["base_rate"]


def _rank(importance, names: set[str]) -> int:
    ranks = [i for i, f in enumerate(importance["feature"], start=1) if f in names]
    return min(ranks) if ranks else 10_000


def test_the_fit_drivers_of_the_ground_truth_are_top_shap_features(
    result: TrainResult, ground_truth: dict
) -> None:
    assert set(FIT_DRIVERS) <= set(ground_truth["drivers"]["fit"])
    for driver, features in FIT_DRIVERS.items():
        assert _rank(result.importance, features) <= 15, driver


def test_the_heaviest_actions_outweigh_the_weightless_ones(
    result: TrainResult, ground_truth: dict
) -> None:
    weights = ground_truth["drivers"]["event_weights"]
    heavy = sorted((t for t in weights if weights[t] >= 0.4), key=weights.get, reverse=True)
    light = [t for t in weights if weights[t] <= 0.05]
    by_type = (
        result.importance.assign(
            activity=[FEATURES[f].activity_type for f in result.importance["feature"]]
        )
        .groupby("activity")["mean_abs"]
        .sum()
    )
    in_top = {FEATURES[f].activity_type for f in result.importance["feature"].head(15)} & set(heavy)
    assert len(in_top) >= 2, (heavy, in_top)
    assert by_type[heavy].sum() > 3 * by_type[light].sum()


def test_training_twice_with_the_same_seed_gives_identical_metrics(
    prepared: Prepared, config: TrainConfig, result: TrainResult
) -> None:
    again = fit_and_evaluate(prepared, config)
    assert again.metrics == result.metrics
    assert again.model.estimator.model_to_string() == result.model.estimator.model_to_string()
