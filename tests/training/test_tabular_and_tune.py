"""Tabular mode (one row per lead, a label column) and the Optuna search inside training."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from leadscore.settings import Settings
from training import registry
from training.split import time_folds
from training.tabular import TABULAR_MODEL_NAME, run_tabular
from training.train import Prepared, TrainConfig
from training.tune import tune


@pytest.fixture(scope="module")
def export(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A plain CRM export: firmographics, the lead's source and whether it ever bought."""
    leads = pd.read_parquet(demo_dir / "leads.parquet")
    outcomes = pd.read_parquet(demo_dir / "outcomes.parquet")
    won = set(outcomes.loc[outcomes["won"], "lead_id"])
    table = leads[["lead_id", "created_at", "industry", "employees", "country", "job_title"]]
    table = table.assign(
        source=leads["source"], bought=leads["lead_id"].isin(won).map({True: "yes", False: "no"})
    )
    path = tmp_path_factory.mktemp("export") / "export.csv"
    table.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("time_column", ["created_at", None])
def test_tabular_mode_trains_and_registers_separately(
    export: Path, sqlite_settings: Settings, time_column: str | None
) -> None:
    name = f"{TABULAR_MODEL_NAME}-{time_column or 'stratified'}"
    outcome = run_tabular(
        export, "bought", TrainConfig(), sqlite_settings, "lead_id", time_column, name=name
    )
    model = outcome.result.model
    assert model.mode == "tabular"
    assert set(model.columns) == {"industry", "employees", "country", "job_title", "source"}
    assert set(model.categories) == {"industry", "country", "job_title", "source"}
    assert outcome.metrics["lightgbm"]["roc_auc"] > 0.6
    assert "rules" not in outcome.metrics  # the points model speaks about events
    loaded, info = registry.load_champion(sqlite_settings, name)
    assert loaded.columns == model.columns and info.version == "1"
    test = outcome.result.prepared.part("test")
    if time_column:
        assert test["created_at"].min() > outcome.result.prepared.part("fit")["created_at"].max()


@pytest.mark.slow
def test_tuning_searches_within_train_and_is_bounded(prepared: Prepared) -> None:
    config = TrainConfig()
    tuned = tune(prepared, config, trials=2, timeout_s=120)
    assert tuned.trials == 2
    assert tuned.loss <= tuned.default_loss  # trial one is the defaults
    assert tuned.params.seed == config.booster.seed
    assert tuned.params.max_rounds == config.booster.max_rounds  # only searched fields change


def test_tuning_folds_never_look_at_calibration_or_test(prepared: Prepared) -> None:
    train = prepared.part("fit", "valid").reset_index(drop=True)
    folds = time_folds(train["created_at"])
    assert len(folds) == 3
    for fit_rows, valid_rows in folds:
        assert train.loc[fit_rows, "created_at"].max() < train.loc[valid_rows, "created_at"].min()
    assert train["created_at"].max() < prepared.part("cal")["created_at"].min()


def test_rows_that_objected_to_profiling_are_not_learnt_from(
    export: Path, sqlite_settings: Settings, tmp_path: Path
) -> None:
    table = pd.read_csv(export)
    objected = table["lead_id"].sample(frac=0.1, random_state=1)
    table["consent_profiling"] = ~table["lead_id"].isin(objected)
    path = tmp_path / "with_consent.csv"
    table.to_csv(path, index=False)
    name = f"{TABULAR_MODEL_NAME}-consent"
    outcome = run_tabular(
        path, "bought", TrainConfig(), sqlite_settings, "lead_id", "created_at", name=name
    )
    learnt = set(outcome.result.prepared.frame["lead_id"])
    assert learnt.isdisjoint(objected) and len(learnt) == len(table) - len(objected)
    assert "consent_profiling" not in outcome.result.model.columns
