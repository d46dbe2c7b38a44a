"""Tabular model families: the calibration slice picks one, and every family serves the same way.

Two generated tables with a known answer: one whose buying odds are linear in a number that
drifts upwards over time (the newest leads sit beyond the range training saw, where trees go
flat), one whose odds depend only on an interaction a linear model cannot express.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.contract import TabularData
from leadscore.settings import Settings
from serving.reasons import check_additivity
from training import registry
from training.calibration import Calibrator
from training.families import (
    BLEND_WEIGHTS,
    FAMILIES,
    Family,
    Slices,
    blend_with_linear,
    choose,
    fit_family,
    row_losses,
)
from training.linear import BoostedLinear, LinearModel, scaled_booster
from training.model import LeadModel, categorical_of, learn_categories
from training.tabular import calibration_for, drift_defaults, prepare_tabular, run_tabular
from training.train import TrainConfig, TrainResult, families_for, fit_and_evaluate

ROWS = 4000


def _table(kind: str, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, ROWS)
    channel = rng.choice(["ads", "referral", "webinar"], ROWS, p=[0.5, 0.3, 0.2])
    noise = rng.normal(size=ROWS)
    noise[rng.random(ROWS) < 0.1] = np.nan  # missing numbers take the imputer's path
    if kind == "linear-drift":
        x = 4 * t + rng.normal(size=ROWS)
        effect = pd.Series(channel).map({"ads": 0.0, "referral": 0.8, "webinar": -0.5}).to_numpy()
        logit = -4 + 1.1 * x + effect
    else:  # an interaction only: the sign of a * b
        x = rng.uniform(-1, 1, ROWS)
        b = rng.uniform(-1, 1, ROWS)
        logit = -0.5 + 3.0 * np.sign(x * b)
        channel = np.where(b > 0, "b-up", "b-down")  # b reaches the model as a category...
        noise = np.round(b, 2)  # ...and as a number
    won = (rng.random(ROWS) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame(
        {
            "lead_id": [f"L{i}" for i in range(ROWS)],
            "created_at": pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(ROWS), "h"),
            "x": x,
            "channel": channel,
            "noise": noise,
            "won": won,
        }
    )


def _data(frame: pd.DataFrame) -> TabularData:
    return TabularData(frame, label="won", id_column="lead_id", time_column="created_at")


def _train(frame: pd.DataFrame) -> TrainResult:
    """The tabular path's own steps: drift defaults, split, calibration rule, fit, evaluate."""
    data = _data(frame)
    config = drift_defaults(data, TrainConfig())
    prepared = prepare_tabular(data, config)
    return fit_and_evaluate(prepared, calibration_for(prepared, config))


@pytest.fixture(scope="module")
def linear_drift() -> TrainResult:
    return _train(_table("linear-drift"))


@pytest.fixture(scope="module")
def interaction() -> TrainResult:
    return _train(_table("interaction"))


def test_linear_odds_under_drift_choose_the_linear_model(linear_drift: TrainResult) -> None:
    model = linear_drift.model
    assert model.kind == "linear" and isinstance(model.estimator, LinearModel)
    losses = model.params["family_cal_logloss"]
    assert set(losses) == set(FAMILIES)
    assert losses["linear"] < losses["lightgbm"]  # the flat trees lose on the newest rows
    # the linear family is the baseline's regression on the same rows, calibrated alike
    np.testing.assert_allclose(
        linear_drift.test_probabilities["lightgbm"],
        linear_drift.test_probabilities["logistic"],
        atol=1e-9,
    )


def test_an_interaction_chooses_a_family_with_trees(interaction: TrainResult) -> None:
    model = interaction.model
    family = model.params["family"]
    assert family in ("lightgbm", "linear+lightgbm")
    assert model.kind == "linear+lightgbm" if model.params["linear_weight"] else family
    losses = model.params["family_cal_logloss"]
    assert losses[family] < losses["linear"] - 0.05
    assert interaction.metrics["lightgbm"]["roc_auc"] > interaction.metrics["logistic"]["roc_auc"]


@pytest.mark.parametrize("kind", ["linear-drift", "interaction"])
def test_the_choice_never_reads_the_test_window(kind: str) -> None:
    """Family, blend weight, calibration and margins come from fit/valid/cal alone (the
    interaction table keeps a family with trees, so its blend weight is chosen too)."""
    frame = _table(kind)
    before = _train(frame)
    test = before.prepared.frame["slice"].to_numpy() == "test"
    changed = frame.copy()
    changed.loc[test, "won"] = 1 - changed.loc[test, "won"]
    changed.loc[test, "x"] = -changed.loc[test, "x"]
    changed.loc[test, "channel"] = "a channel only the test window has"
    after = _train(changed)
    assert after.model.kind == before.model.kind
    assert after.model.params["family_cal_logloss"] == before.model.params["family_cal_logloss"]
    assert after.model.params.get("linear_weight") == before.model.params.get("linear_weight")
    assert after.model.calibrator.to_dict() == before.model.calibrator.to_dict()
    rows = before.prepared.part("valid", "cal")
    np.testing.assert_array_equal(
        after.model.predict_raw(after.model.encode(rows)),
        before.model.predict_raw(before.model.encode(rows)),
    )


def test_one_standard_error_rule_prefers_the_simpler_family() -> None:
    rng = np.random.default_rng(0)
    linear = rng.exponential(0.4, 1000)
    noise = rng.normal(0, 0.05, 1000)
    noise -= noise.mean()  # the standard error of the gap is 0.05 / sqrt(1000), about 0.0016
    slightly_better = linear - 0.001 + noise
    clearly_better = linear - 0.01 + noise
    trees = {"linear": 0, "lightgbm": 200, "linear+lightgbm": 3}
    assert choose({"linear": linear, "lightgbm": slightly_better}, trees) == "linear"
    assert choose({"linear": linear, "lightgbm": clearly_better}, trees) == "lightgbm"
    # a boosted linear model with three trees is simpler than a booster of two hundred
    other = rng.normal(0, 0.05, 1000)
    losses: dict[Family, np.ndarray] = {
        "linear": linear,
        "lightgbm": clearly_better - 0.001 + other - other.mean(),
        "linear+lightgbm": clearly_better,
    }
    assert choose(losses, trees) == "linear+lightgbm"


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_explains_additively_and_round_trips(family: Family, tmp_path: Path) -> None:
    data = _data(_table("linear-drift"))
    prepared = prepare_tabular(data, TrainConfig())
    columns = prepared.columns
    fit, valid, cal = (prepared.part(name) for name in ("fit", "valid", "cal"))
    categorical = categorical_of(fit, columns)
    categories = learn_categories(prepared.part("fit", "valid"), categorical)
    slices = Slices(fit, valid, columns, categorical, categories)
    estimator, settings = fit_family(family, slices, TrainConfig().booster)
    model = LeadModel(
        estimator, columns, categories, Calibrator("sigmoid"), kind=family, mode="tabular"
    )
    model.calibrator.fit(model.predict_raw(model.encode(cal)), cal["label"].to_numpy())
    rows = prepared.part("test")
    matrix = model.encode(rows)
    contributions = model.contributions(matrix)
    assert contributions.shape == (len(rows), len(columns) + 1)
    check_additivity(contributions, model.predict_raw(matrix))
    if family != "lightgbm":
        # linear terms are centred on the rows the regression learnt from (fit + valid for the
        # linear family, fit under the trees): an average lead gets zero from each column
        boosted = isinstance(estimator, BoostedLinear)
        terms = estimator.linear if boosted else estimator
        learnt = fit if boosted else pd.concat([fit, valid])
        centred = terms.predict(slices.matrix(learnt), pred_contrib=True)[:, :-1].mean(axis=0)
        np.testing.assert_allclose(centred, 0, atol=1e-9)
    loaded = LeadModel.load(model.save(tmp_path / family))
    assert loaded.kind == family and type(loaded.estimator) is type(estimator)
    np.testing.assert_allclose(loaded.predict_raw(matrix), model.predict_raw(matrix), atol=1e-12)
    np.testing.assert_allclose(loaded.contributions(matrix), contributions, atol=1e-12)
    np.testing.assert_allclose(loaded.predict_proba(matrix), model.predict_proba(matrix))
    assert ("best_iteration" in settings) == (family != "linear")


def test_a_linear_champion_registers_loads_and_scores(
    tmp_path: Path, sqlite_settings: Settings
) -> None:
    import mlflow

    path = tmp_path / "drift.csv"
    _table("linear-drift").to_csv(path, index=False)
    name = "leadscore-tabular-linear-family"
    outcome = run_tabular(
        path, "won", TrainConfig(), sqlite_settings, "lead_id", "created_at", name=name
    )
    model = outcome.result.model
    assert model.kind == "linear"
    assert any("Model family: `linear`" in note for note in outcome.notes)
    # the report names the kept model by its family, not as LightGBM
    report = outcome.report.read_text()
    test_window = report.split("## Test window")[1].split("\n## ")[0]
    assert "| linear (challenger) |" in test_window and "LightGBM" not in test_window
    loaded, info = registry.load_champion(sqlite_settings, name)
    assert loaded.kind == "linear" and info.version == "1"
    rows = outcome.result.prepared.part("test").head(50)
    np.testing.assert_allclose(
        loaded.predict_proba(loaded.encode(rows)), model.predict_proba(model.encode(rows))
    )
    pyfunc = mlflow.pyfunc.load_model(f"models:/{name}/{info.version}")
    frame = rows[model.columns].copy()
    frame["channel"] = frame["channel"].astype("string")
    np.testing.assert_allclose(
        np.asarray(pyfunc.predict(frame)), model.predict_proba(model.encode(rows))
    )


def test_the_crm_path_keeps_lightgbm(linear_drift: TrainResult) -> None:
    crm = dataclasses.replace(linear_drift.prepared, mode="crm")
    assert families_for(crm, TrainConfig()) == ("lightgbm",)
    assert families_for(linear_drift.prepared, TrainConfig()) == FAMILIES


def _slices(frame: pd.DataFrame) -> tuple[Slices, pd.DataFrame, pd.DataFrame]:
    """The shared encoding of a generated table, and its cal and test rows."""
    prepared = prepare_tabular(_data(frame), TrainConfig())
    fit, valid = prepared.part("fit"), prepared.part("valid")
    categorical = categorical_of(fit, prepared.columns)
    categories = learn_categories(prepared.part("fit", "valid"), categorical)
    slices = Slices(fit, valid, prepared.columns, categorical, categories)
    return slices, prepared.part("cal"), prepared.part("test")


@pytest.fixture(scope="module")
def fitted_interaction() -> tuple[dict, Slices, pd.DataFrame, pd.DataFrame]:
    slices, cal, test = _slices(_table("interaction"))
    params = TrainConfig().booster
    fitted = {family: fit_family(family, slices, params) for family in FAMILIES}
    return fitted, slices, cal, test


def test_scaled_members_scale_margins_and_contributions(fitted_interaction: tuple) -> None:
    fitted, slices, _, test = fitted_interaction
    matrix = slices.matrix(test)
    linear = fitted["linear"][0]
    booster = fitted["lightgbm"][0]
    np.testing.assert_allclose(linear.scaled(0.3).predict(matrix), 0.3 * linear.predict(matrix))
    np.testing.assert_allclose(
        linear.scaled(0.3).predict(matrix, pred_contrib=True),
        0.3 * linear.predict(matrix, pred_contrib=True),
    )
    shrunk = scaled_booster(booster, 0.7)
    np.testing.assert_allclose(
        shrunk.predict(matrix, raw_score=True), 0.7 * booster.predict(matrix, raw_score=True)
    )
    np.testing.assert_allclose(
        shrunk.predict(matrix, pred_contrib=True),
        0.7 * booster.predict(matrix, pred_contrib=True),
        atol=1e-12,
    )
    # a copy of the best iteration's trees; the original keeps its leaves (compared above)
    assert shrunk.num_trees() == booster.best_iteration


@pytest.mark.parametrize("family", ["lightgbm", "linear+lightgbm"])
def test_the_blend_is_the_calibration_slice_argmin_and_explains_additively(
    family: Family, fitted_interaction: tuple, tmp_path: Path
) -> None:
    fitted, slices, cal, test = fitted_interaction
    x_cal, y_cal = slices.matrix(cal), cal["label"].to_numpy()
    estimator, kind, settings = blend_with_linear(family, fitted, x_cal, y_cal)
    chosen, _ = fitted[family]
    boosted = isinstance(chosen, BoostedLinear)
    regression = chosen.linear if boosted else fitted["linear"][0]
    trees = chosen.booster if boosted else chosen
    tree_cal = trees.predict(x_cal, raw_score=True)

    def blend(w: float) -> np.ndarray:
        if boosted:
            return regression.predict(x_cal) + (1 - w) * tree_cal
        return w * regression.predict(x_cal) + (1 - w) * tree_cal

    losses = [row_losses(blend(w), y_cal).mean() for w in BLEND_WEIGHTS]
    weight = settings["linear_weight"]
    assert weight == BLEND_WEIGHTS[int(np.argmin(losses))]
    assert 0 < weight < 1, "this table should need a blend for the test to mean anything"
    assert kind == "linear+lightgbm" and isinstance(estimator, BoostedLinear)
    assert settings["best_iteration"] == fitted[family][1]["best_iteration"]
    np.testing.assert_allclose(estimator.predict(x_cal, raw_score=True), blend(weight), atol=1e-9)
    # the blended model explains each score additively and saves and loads like any model
    model = LeadModel(
        estimator,
        slices.columns,
        slices.categories,
        Calibrator("sigmoid"),
        kind=kind,
        mode="tabular",
    )
    model.calibrator.fit(model.predict_raw(x_cal), y_cal)
    matrix = slices.matrix(test)
    contributions = model.contributions(matrix)
    check_additivity(contributions, model.predict_raw(matrix))
    loaded = LeadModel.load(model.save(tmp_path / family))
    np.testing.assert_allclose(loaded.predict_raw(matrix), model.predict_raw(matrix), atol=1e-12)
    np.testing.assert_allclose(loaded.contributions(matrix), contributions, atol=1e-12)


def test_blend_keeps_linear_lightgbm_alone_and_ties_unchanged(fitted_interaction: tuple) -> None:
    fitted, slices, cal, _ = fitted_interaction
    x_cal, y_cal = slices.matrix(cal), cal["label"].to_numpy()
    linear, settings = fitted["linear"]
    # the linear family has no trees to blend
    assert blend_with_linear("linear", fitted, x_cal, y_cal) == (linear, "linear", settings)
    # "LightGBM alone" (no linear family fitted) stays LightGBM alone
    alone = {"lightgbm": fitted["lightgbm"]}
    estimator, kind, _ = blend_with_linear("lightgbm", alone, x_cal, y_cal)
    assert kind == "lightgbm" and estimator is fitted["lightgbm"][0]
    # when every weight gives the same margin, the family is kept as it is (weight 0)
    same = {"linear": fitted["linear"], "lightgbm": (linear, {"best_iteration": 5})}
    estimator, kind, found = blend_with_linear("lightgbm", same, x_cal, y_cal)
    assert (estimator, kind, found["linear_weight"]) == (linear, "lightgbm", 0.0)


@pytest.mark.parametrize("family", ["lightgbm", "linear+lightgbm"])
def test_the_one_se_blend_takes_the_most_regression_within_noise_of_the_best(
    family: Family, fitted_interaction: tuple
) -> None:
    fitted, slices, cal, _ = fitted_interaction
    x_cal, y_cal = slices.matrix(cal), cal["label"].to_numpy()
    _, _, best = blend_with_linear(family, fitted, x_cal, y_cal)
    _, _, simple = blend_with_linear(family, fitted, x_cal, y_cal, simplest_within_se=True)
    assert simple["linear_weight"] >= best["linear_weight"]
    # same rule as choose(): its losses at the picked weight are within one SE of the best's
    chosen, _ = fitted[family]
    boosted = isinstance(chosen, BoostedLinear)
    regression = chosen.linear if boosted else fitted["linear"][0]
    trees = chosen.booster if boosted else chosen
    tree_cal, linear_cal = trees.predict(x_cal, raw_score=True), regression.predict(x_cal)

    def losses(w: float) -> np.ndarray:
        margin = linear_cal + (1 - w) * tree_cal if boosted else w * linear_cal + (1 - w) * tree_cal
        return row_losses(margin, y_cal)

    gap = losses(simple["linear_weight"]) - losses(best["linear_weight"])
    assert gap.mean() <= gap.std(ddof=1) / np.sqrt(len(gap))
    heavier = [w for w in BLEND_WEIGHTS if w > simple["linear_weight"]]
    for w in heavier:  # every weight with more regression is worse by more than the noise
        gap = losses(w) - losses(best["linear_weight"])
        assert gap.mean() > gap.std(ddof=1) / np.sqrt(len(gap))
