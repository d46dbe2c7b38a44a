"""MLflow registry: every challenger is registered, only a better one becomes champion."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from leadscore.settings import Settings
from training import registry
from training.train import Prepared, TrainConfig, TrainResult, fit_and_evaluate
from training.workflow import RunOutcome, register_result, without_groups


@dataclass
class Story:
    settings: Settings
    name: str
    first: RunOutcome  # the fit-only model, registered while there is no champion
    better: RunOutcome  # the full model
    worse: RunOutcome  # the fit-only model again, now facing the full model


@pytest.fixture(scope="module")
def fit_only(prepared: Prepared, config: TrainConfig) -> TrainResult:
    """A deliberately worse model: no behaviour features, only who the lead is."""
    return fit_and_evaluate(prepared, without_groups(config, "behaviour"))


@pytest.fixture(scope="module")
def story(sqlite_settings: Settings, fit_only: TrainResult, result: TrainResult) -> Story:
    name = "leadscore-story"
    first = register_result(fit_only, sqlite_settings, name=name)
    better = register_result(result, sqlite_settings, name=name)
    worse = register_result(fit_only, sqlite_settings, name=name)
    return Story(sqlite_settings, name, first, better, worse)


def test_the_worse_model_without_behaviour_really_is_worse(fit_only, result) -> None:
    assert not any(c.startswith("n_") for c in fit_only.model.columns)
    assert fit_only.metrics["lightgbm"]["roc_auc"] < result.metrics["lightgbm"]["roc_auc"] - 0.05


def test_a_better_model_is_promoted_and_a_worse_one_only_registered(story: Story) -> None:
    assert story.first.promoted and story.first.reason == "no champion yet"
    assert story.better.promoted
    assert not story.worse.promoted
    assert "ROC-AUC" in story.worse.reason and "below the champion" in story.worse.reason
    assert story.worse.version.aliases == ["challenger"]
    champion = registry.version_by_alias(
        registry.client_for(story.settings), registry.CHAMPION, story.name
    )
    assert champion is not None and champion.version == story.better.version.version
    assert story.worse.version.tags["gate"] == "not promoted"


def test_the_champion_is_re_evaluated_on_the_new_test_window(story: Story) -> None:
    champion_metrics = story.worse.metrics["champion"]
    assert champion_metrics is not None
    assert champion_metrics["roc_auc"] == pytest.approx(story.better.metrics["lightgbm"]["roc_auc"])
    assert "champion" in story.worse.result.test_probabilities


def test_history_records_every_decision_with_its_reason(story: Story) -> None:
    events = registry.history(story.settings, story.name)
    assert [e["action"] for e in events] == ["promoted", "promoted", "not promoted"]
    versions = [story.first, story.better, story.worse]
    assert [e["version"] for e in events] == [o.version.version for o in versions]
    assert events[1]["previous"] == story.first.version.version
    assert events[2]["champion"] == story.better.version.version
    assert all(e["reason"] and e["at"] for e in events)


def test_load_champion_gives_the_lead_model_serving_needs(story: Story, prepared) -> None:
    model, info = registry.load_champion(story.settings, story.name)
    assert info.version == story.better.version.version
    assert registry.CHAMPION in info.aliases
    rows = prepared.part("test").head(100)
    expected = story.better.result.model.predict_proba(story.better.result.model.encode(rows))
    np.testing.assert_array_equal(model.predict_proba(model.encode(rows)), expected)
    assert info.metrics["roc_auc"] == pytest.approx(story.better.metrics["lightgbm"]["roc_auc"])


def test_a_damaged_cached_copy_is_fetched_again_from_the_store(story: Story, prepared) -> None:
    version = story.better.version.version
    model = registry.load_version(story.settings, version, story.name)
    cached = registry._cache_dir(story.settings, story.name, version)
    booster = cached / "booster.txt"
    booster.write_bytes(booster.read_bytes()[:5000])  # an interrupted copy
    again = registry.load_version(story.settings, version, story.name)
    rows = again.encode(prepared.part("test").head(50))
    np.testing.assert_array_equal(again.predict_proba(rows), model.predict_proba(rows))


def test_artifacts_and_report_live_under_the_models_folder(story: Story) -> None:
    artifacts = Path(story.settings.models_dir) / "artifacts"
    assert list(artifacts.rglob("booster.txt")), "model artifacts are not under models/"
    assert list(artifacts.rglob("report.md"))
    assert list(artifacts.rglob("shap_groups.png"))
    report = story.worse.report.read_text()
    assert "not promoted" in report and "Logistic regression" in report


def test_the_example_kept_with_the_model_is_nobodys_row(story: Story, prepared) -> None:
    """MLflow keeps an input example with the model for good; no erasure would reach a lead's
    row there, so it is one made-up row of typical values."""
    client = registry.client_for(story.settings)
    logged = client.get_model_version(story.name, story.better.version.version)
    found = list((Path(story.settings.models_dir) / "artifacts").rglob("input_example.json"))
    paths = [p for p in found if logged.source.removeprefix("models:/") in str(p)]
    assert paths
    example = json.loads(paths[0].read_text())
    assert len(example["data"]) == 1
    row = pd.Series(dict(zip(example["columns"], example["data"][0], strict=True)))
    model = story.better.result.model
    test = prepared.part("test")[model.columns]  # the rows it is taken from
    numeric = [c for c in model.columns if c not in model.categories]
    typical = test[numeric].median()
    assert np.allclose(row[numeric].astype(float), typical, equal_nan=True)
    assert not test[numeric].eq(row[numeric].astype(float)).all(axis=1).any()


def test_a_person_can_promote_and_roll_back(story: Story) -> None:
    settings, name = story.settings, story.name
    registry.promote(settings, story.worse.version.version, "sales wants it", name=name)
    _, info = registry.load_champion(settings, name)
    assert info.version == story.worse.version.version
    with pytest.raises(registry.RegistryError, match="champion already"):  # rollback stays true
        registry.promote(settings, story.worse.version.version, "again", name=name)
    back = registry.rollback(settings, name=name)
    assert back.version == story.better.version.version
    back = registry.rollback(settings, name=name)
    assert back.version == story.first.version.version
    with pytest.raises(registry.RegistryError, match="no earlier champion"):
        registry.rollback(settings, name=name)
    actions = [e["action"] for e in registry.history(settings, name)]
    assert actions[-3:] == ["manual promote", "rollback", "rollback"]


def test_a_model_of_another_horizon_is_not_promoted_by_the_gate(
    sqlite_settings: Settings, result: TrainResult
) -> None:
    """A 60-day model judged on the champion's test rows would face 90-day labels (or the
    champion 60-day ones): no comparison, a person decides."""
    name = "leadscore-horizons"
    assert register_result(result, sqlite_settings, name=name).promoted
    window = {**result.model.data_window, "horizon_days": 60}
    shorter = replace(result, model=replace(result.model, data_window=window))
    outcome = register_result(shorter, sqlite_settings, name=name)
    assert not outcome.promoted
    assert "within 90 days, this model within 60" in outcome.reason
    assert outcome.metrics["champion"] is None  # not evaluated on labels of another horizon
    _, info = registry.load_champion(sqlite_settings, name)
    assert info.version != outcome.version.version


def test_no_champion_is_a_clear_error(sqlite_settings: Settings) -> None:
    with pytest.raises(registry.RegistryError, match=r"no 'leadscore-nobody' model is trained yet"):
        registry.load_champion(sqlite_settings, "leadscore-nobody")
    tabular = "train one first: `leadscore train EXPORT --mapping FILE` (or `--label COLUMN`)"
    with pytest.raises(registry.RegistryError, match=re.escape(tabular)):
        registry.load_champion(sqlite_settings, registry.TABULAR_MODEL_NAME)


@pytest.mark.postgres
def test_mlflow_on_postgresql(postgres_settings: Settings, result: TrainResult) -> None:
    outcome = register_result(result, postgres_settings)
    assert outcome.promoted
    assert registry.tracking_uri(postgres_settings).startswith("postgresql+psycopg://")
    model, info = registry.load_champion(postgres_settings)
    assert info.version == "1" and set(info.aliases) == {"champion", "challenger"}
    assert model.columns == result.model.columns
    assert [v.version for v in registry.list_versions(postgres_settings)] == ["1"]
    assert registry.history(postgres_settings)[0]["action"] == "promoted"


def test_the_mlflow_pyfunc_gives_the_same_probabilities(story: Story, prepared) -> None:
    import mlflow

    registry.client_for(story.settings)
    version = story.better.version.version
    pyfunc = mlflow.pyfunc.load_model(f"models:/{story.name}/{version}")
    model = story.better.result.model
    rows = prepared.part("test").head(50)
    frame = rows[model.columns].copy()
    for column in model.categories:
        frame[column] = frame[column].astype("string")
    np.testing.assert_allclose(
        np.asarray(pyfunc.predict(frame)), model.predict_proba(model.encode(rows))
    )


def test_a_moved_models_folder_reads_and_writes_its_own_artifacts(
    story: Story, result: TrainResult, prepared: Prepared, tmp_path: Path
) -> None:
    """MLflow stores absolute artifact paths: a moved folder could load no model, and a copy
    trained into the original's folder."""
    original = Path(story.settings.models_dir)
    moved = tmp_path / "elsewhere" / "models"
    shutil.copytree(original, tmp_path / "first", ignore=shutil.ignore_patterns("cache"))
    shutil.move(tmp_path / "first", moved)  # the place it was copied to first is gone
    settings = Settings(models_dir=moved, mlflow_tracking_uri=f"sqlite:///{moved / 'mlflow.db'}")

    model, info = registry.load_champion(settings, story.name)
    there, there_info = registry.load_champion(story.settings, story.name)
    assert info.version == there_info.version
    rows = prepared.part("test").head(50)
    expected = there.predict_proba(there.encode(rows))
    np.testing.assert_array_equal(model.predict_proba(model.encode(rows)), expected)

    before = set(original.joinpath("artifacts").rglob("booster.txt"))
    again = register_result(result, settings, name=story.name)
    assert set(original.joinpath("artifacts").rglob("booster.txt")) == before
    run = registry.client_for(settings).get_run(again.version.run_id)
    assert run.info.artifact_uri.startswith(moved.resolve().as_uri())


def test_a_models_folder_without_its_artifacts_says_so(story: Story, tmp_path: Path) -> None:
    bare = tmp_path / "models"
    (bare / "artifacts").mkdir(parents=True)  # the folder is there, the files are not
    shutil.copy(Path(story.settings.models_dir) / "mlflow.db", bare / "mlflow.db")
    settings = Settings(models_dir=bare, mlflow_tracking_uri=f"sqlite:///{bare / 'mlflow.db'}")
    with pytest.raises(registry.RegistryError, match="files are missing"):
        registry.load_champion(settings, story.name)


def test_a_retrain_on_the_same_data_does_not_replace_an_equal_champion(
    sqlite_settings: Settings, result: TrainResult
) -> None:
    name = "leadscore-same-data"
    first = register_result(result, sqlite_settings, name=name)
    again = register_result(result, sqlite_settings, name=name)
    assert first.promoted and not again.promoted
    assert "trained on no newer data" in again.reason and "gain nothing" in again.reason
    _, info = registry.load_champion(sqlite_settings, name)
    assert info.version == first.version.version


def test_a_better_model_on_older_data_is_left_to_a_person(
    sqlite_settings: Settings, fit_only: TrainResult, result: TrainResult
) -> None:
    """A cut of last summer's export must not replace October's champion on a metric; and a
    champion that learnt from the challenger's test window is said to be flattered by it."""
    import copy

    name = "leadscore-older-data"
    champion = register_result(fit_only, sqlite_settings, name=name)
    window = result.model.data_window
    older_model = copy.copy(result.model)
    older_model.data_window = {
        **window,
        "data_end": str(pd.Timestamp(window["data_end"]) - pd.Timedelta(days=92)),
        "test_from": str(pd.Timestamp(window["test_from"]) - pd.Timedelta(days=92)),
    }
    older = register_result(replace(result, model=older_model), sqlite_settings, name=name)
    assert result.metrics["lightgbm"]["roc_auc"] > fit_only.metrics["lightgbm"]["roc_auc"]
    assert not older.promoted
    assert "older data" in older.reason and "--promote" in older.reason
    assert any("flatter" in note for note in older.notes)
    # a worse one hears the same: a near miss on a metric would invite a retrain of the cut
    worse_model = copy.copy(fit_only.model)
    worse_model.data_window = {**older_model.data_window}
    worse = register_result(replace(fit_only, model=worse_model), sqlite_settings, name=name)
    assert not worse.promoted and "older data" in worse.reason and "ROC-AUC" not in worse.reason
    _, info = registry.load_champion(sqlite_settings, name)
    assert info.version == champion.version.version
