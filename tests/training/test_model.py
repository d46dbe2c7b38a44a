"""The LeadModel artifact: serving's fast path, explanations that add up, a self-check on load."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from training.baselines import RULES_PATH, load_rules, rules_model
from training.calibration import Calibrator
from training.model import DamagedModelError, LeadModel, ModelMismatchError
from training.train import Prepared, TrainResult


@pytest.fixture(scope="module")
def test_rows(prepared: Prepared) -> pd.DataFrame:
    return prepared.part("test").head(500)


def test_contributions_add_up_to_the_raw_margin(result: TrainResult, test_rows) -> None:
    model = result.model
    matrix = model.encode(test_rows)
    contributions = model.contributions(matrix)
    assert contributions.shape == (len(test_rows), len(model.columns) + 1)
    np.testing.assert_allclose(contributions.sum(axis=1), model.predict_raw(matrix), atol=1e-9)
    bias = contributions[:, -1]
    assert np.ptp(bias) == 0  # the expected value, the same for every lead


def test_contributions_equal_shap_tree_explainer(result: TrainResult, test_rows) -> None:
    import shap

    matrix = result.model.encode(test_rows.head(50))
    explainer = shap.TreeExplainer(result.model.estimator)
    np.testing.assert_allclose(
        explainer.shap_values(matrix), result.model.contributions(matrix)[:, :-1], atol=1e-6
    )


def test_probabilities_are_calibrated_margins(result: TrainResult, test_rows) -> None:
    model = result.model
    matrix = model.encode(test_rows)
    p = model.predict_proba(matrix)
    assert ((p > 0) & (p < 1)).all()
    order = np.argsort(model.predict_raw(matrix))
    assert (np.diff(p[order]) >= -1e-12).all()  # calibration never reorders leads


def test_save_and_load_give_identical_predictions(result: TrainResult, test_rows, tmp_path) -> None:
    result.model.save(tmp_path / "m")
    loaded = LeadModel.load(tmp_path / "m")
    matrix = loaded.encode(test_rows)
    np.testing.assert_array_equal(loaded.predict_proba(matrix), result.model.predict_proba(matrix))
    np.testing.assert_array_equal(loaded.contributions(matrix), result.model.contributions(matrix))
    assert loaded.columns == result.model.columns
    assert loaded.categories == result.model.categories
    assert loaded.thresholds == result.model.thresholds
    assert loaded.feature_config == result.model.feature_config
    assert (tmp_path / "m" / "booster.txt").read_text().startswith("tree")


def test_a_damaged_model_file_is_refused_before_lightgbm_reads_it(result, tmp_path) -> None:
    """LightGBM aborts the process on a cut-short booster file; a serving worker must survive
    it and keep its old model, so the file is checked against its saved checksum first."""
    folder = result.model.save(tmp_path / "m")
    booster = folder / "booster.txt"
    booster.write_bytes(booster.read_bytes()[:5000])
    with pytest.raises(DamagedModelError, match=r"booster\.txt differs from the file saved"):
        LeadModel.load(folder)
    booster.unlink()
    with pytest.raises(DamagedModelError, match=r"booster\.txt is missing"):
        LeadModel.load(folder)
    (folder / "leadmodel.json").write_text('{"format": ')
    with pytest.raises(DamagedModelError, match=r"leadmodel\.json cannot be read"):
        LeadModel.load(folder)


def _edit_meta(directory: Path, **changes) -> None:
    path = directory / "leadmodel.json"
    meta = json.loads(path.read_text())
    meta.update(changes)
    path.write_text(json.dumps(meta))


def test_a_model_from_another_feature_registry_version_is_refused(result, tmp_path) -> None:
    result.model.save(tmp_path / "m")
    _edit_meta(tmp_path / "m", registry_version="0-old")
    with pytest.raises(ModelMismatchError, match=r"registry version '0-old'.*Retrain"):
        LeadModel.load(tmp_path / "m")


def test_a_tabular_model_outlives_a_new_registry_version(result, tmp_path) -> None:
    """An export's columns are read as they are: the CRM feature registry does not feed it."""
    dataclasses.replace(result.model, mode="tabular").save(tmp_path / "m")
    _edit_meta(tmp_path / "m", registry_version="0-old")
    assert LeadModel.load(tmp_path / "m").mode == "tabular"


def test_a_model_expecting_unknown_features_is_refused(result, tmp_path) -> None:
    result.model.save(tmp_path / "m")
    columns = [*result.model.columns[:-1], "n_fax_sent_30d"]
    _edit_meta(tmp_path / "m", columns=columns)
    with pytest.raises(ModelMismatchError, match="n_fax_sent_30d"):
        LeadModel.load(tmp_path / "m")


def test_categories_come_from_training_and_unknown_ones_are_missing(result, test_rows) -> None:
    model = result.model
    column = "industry"
    assert column in model.categories
    row = test_rows.head(1).copy()
    row[column] = "Underwater Basket Weaving"
    matrix = model.encode(row)
    assert np.isnan(matrix[0, model.columns.index(column)])
    known = model.categories[column][0]
    row[column] = known
    assert model.encode(row)[0, model.columns.index(column)] == 0.0


def test_one_row_prediction_is_fast_on_a_numpy_row(result: TrainResult, test_rows) -> None:
    model = result.model
    row = model.encode(test_rows.head(1))
    model.predict_proba(row)
    started = time.perf_counter()
    for _ in range(200):
        model.predict_proba(row)
    per_call = (time.perf_counter() - started) / 200
    assert per_call < 1e-3  # ~30-60 µs on a laptop; generous for a busy CI machine


def test_the_points_model_serves_through_the_same_interface(prepared: Prepared, tmp_path) -> None:
    model = rules_model(load_rules(RULES_PATH))
    cal = prepared.part("cal")
    matrix = model.encode(cal)
    model.calibrator = Calibrator("sigmoid").fit(model.predict_raw(matrix), cal["label"])
    contributions = model.contributions(matrix)
    np.testing.assert_allclose(contributions.sum(axis=1), model.predict_raw(matrix))
    demo_column = model.columns.index("n_demo_request_90d")
    asked = matrix[:, demo_column] >= 1
    assert (contributions[asked, demo_column] == 30).all()
    model.save(tmp_path / "rules")
    loaded = LeadModel.load(tmp_path / "rules")
    assert loaded.kind == "rules"
    np.testing.assert_array_equal(loaded.predict_proba(matrix), model.predict_proba(matrix))


def test_the_booster_is_plain_lightgbm(result: TrainResult) -> None:
    assert isinstance(result.model.estimator, lgb.Booster)
    assert result.model.estimator.feature_name() == result.model.columns


def test_columns_encode_like_the_frame(result: TrainResult, test_rows) -> None:
    """Serving passes feature columns (name -> array) instead of a frame: same matrix."""
    columns = {name: test_rows[name].to_numpy() for name in test_rows.columns}
    np.testing.assert_array_equal(result.model.encode(columns), result.model.encode(test_rows))
