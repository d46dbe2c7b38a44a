"""The command line: cold start stops with advice, the points model fills in, training registers."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from features.loaders import load_tables
from leadscore.cli import app
from leadscore.settings import Settings
from serving.routing import DEFAULT_ROUTING_FILE
from training import registry
from training.snapshots import SnapshotConfig
from training.train import ColdStartError, TrainConfig, prepare

runner = CliRunner()


@pytest.fixture(scope="module")
def small_crm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A young CRM: 600 leads, a few dozen won deals in the training period."""
    from features.demo import write_demo_crm

    out = tmp_path_factory.mktemp("small_crm")
    write_demo_crm(out, n_leads=600, seed=3)
    return out


def _env(tmp_path: Path) -> dict[str, str]:
    return {
        "LEADSCORE_MODELS_DIR": str(tmp_path / "models"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'models' / 'mlflow.db'}",
        "COLUMNS": "200",
    }


def test_too_few_won_deals_stop_with_a_pointer_to_the_points_model(small_crm: Path) -> None:
    tables = load_tables(small_crm)
    # a won deal is a positive in each of its snapshots: the message counts both
    pattern = r"only (\d+) won example\(s\) \(from (\d+) won deal\(s\)\).*--rules"
    with pytest.raises(ColdStartError, match=pattern) as error:
        prepare(tables, TrainConfig(min_positives=100))
    assert error.value.positives < 100
    examples, deals = map(int, re.search(pattern, str(error.value)).groups())  # type: ignore[union-attr]
    assert examples == error.value.positives and deals < examples
    assert deals <= int(tables.outcomes["won"].sum())
    assert "horizon" not in str(error.value)  # the usual horizon: the data is what is short

    short = TrainConfig(snapshots=SnapshotConfig(horizon_days=14), min_positives=100)
    with pytest.raises(ColdStartError, match="closes within 14 days; a horizon of 90 days"):
        prepare(tables, short)


def test_cli_cold_start_exits_with_the_message_and_registers_nothing(
    small_crm: Path, tmp_path: Path
) -> None:
    result = runner.invoke(app, ["train", str(small_crm)], env=_env(tmp_path))
    assert result.exit_code == 2
    assert "Cold start" in result.output and "leadscore train DATA --rules" in result.output
    assert not list((tmp_path / "models").rglob("booster.txt"))


@pytest.mark.parametrize("rules", [[], ["--rules"]])
def test_cli_training_on_an_empty_crm_says_why_without_a_traceback(
    tmp_path: Path, rules: list[str]
) -> None:
    crm = tmp_path / "crm"
    crm.mkdir()
    for table, header in (
        ("leads", "lead_id,created_at"),
        ("activities", "lead_id,occurred_at,activity_type"),
        ("outcomes", "lead_id,closed_at,won"),
    ):
        (crm / f"{table}.csv").write_text(header + "\n")
    result = runner.invoke(app, ["train", str(crm), *rules], env=_env(tmp_path))
    assert result.exit_code == 2, result.output
    assert "no timestamps at all" in result.output and result.exception is not None
    assert not isinstance(result.exception, ValueError)  # typer's exit, not a traceback


def test_cli_rules_registers_the_points_model_as_champion(small_crm: Path, tmp_path) -> None:
    result = runner.invoke(app, ["train", str(small_crm), "--rules"], env=_env(tmp_path))
    assert result.exit_code == 0, result.output
    assert "Points model registered as version 1" in result.output
    settings = Settings(
        models_dir=tmp_path / "models", mlflow_tracking_uri=_env(tmp_path)["MLFLOW_TRACKING_URI"]
    )
    model, info = registry.load_champion(settings)
    assert model.kind == "rules" and info.tags["kind"] == "rules"
    from features.pipeline import build_features

    tables = load_tables(small_crm)
    frame = build_features(tables, as_of=tables.leads["created_at"].max())
    matrix = model.encode(frame)
    probability = model.predict_proba(matrix)
    assert ((probability > 0) & (probability < 1)).all()
    np.testing.assert_allclose(model.contributions(matrix).sum(axis=1), model.predict_raw(matrix))
    from serving.runtime import Runtime

    runtime = Runtime(settings)  # the service loads it, scoring a made-up lead first
    assert runtime.try_reload() and runtime.scorer is not None, runtime.last_error


@pytest.mark.slow
def test_cli_train_models_and_thresholds(demo_dir: Path, tmp_path: Path) -> None:
    env = _env(tmp_path)
    trained = runner.invoke(app, ["train", str(demo_dir), "--seed", "0"], env=env)
    assert trained.exit_code == 0, trained.output
    for words in ("LightGBM", "points model", "logistic reg.", "champion", "ROC-AUC"):
        assert words in trained.output
    assert "promoted to champion: no champion yet" in trained.output

    listed = runner.invoke(app, ["models"], env=env)
    assert listed.exit_code == 0, listed.output
    assert "Champion history" in listed.output and "promoted" in listed.output
    assert "champion" in listed.output and "challenger" in listed.output
    narrow = runner.invoke(app, ["models"], env={**env, "COLUMNS": "80"}).output
    assert max(len(line) for line in narrow.splitlines()) <= 80
    # which question each version answers, and on which data it was trained
    assert "90 days" in listed.output
    assert "Trained on" in listed.output and str(demo_dir.resolve()) in listed.output
    settings = Settings(
        models_dir=tmp_path / "models", mlflow_tracking_uri=env["MLFLOW_TRACKING_URI"]
    )
    info = registry.list_versions(settings)[0]
    assert info.tags["data"] == str(demo_dir.resolve()) and info.tags["horizon_days"] == "90"
    # a folder refreshed each month reads the same: the window tells the versions apart
    assert "data ends" in listed.output and info.tags["data_end"][:10] in listed.output
    assert "lightgbm" in narrow and "challenger" in narrow  # no word broken in two

    stored = runner.invoke(app, ["thresholds", "--capacity", "50", "--per", "week"], env=env)
    assert stored.exit_code == 0, stored.output
    assert "probability cut-off" in stored.output and "expected precision" in stored.output
    said = " ".join(stored.output.split())
    assert "leads that asked for contact in their last 30 days go to sales" in said
    assert "give DATA to count them" in said

    scored = runner.invoke(
        app, ["thresholds", str(demo_dir), "--capacity", "50", "--per", "week"], env=env
    )
    assert scored.exit_code == 0, scored.output
    said = " ".join(scored.output.split())
    assert "open-lead snapshots of the last 13 weeks" in scored.output
    assert "open leads stored at training" in stored.output

    def number(output: str, row: str) -> float:
        return float(re.search(rf"{row}\W+([0-9.,]+)", output).group(1).replace(",", ""))

    # routing grades whole scores: the cut-off is one, and what reaches it fits the capacity;
    # with DATA the leads that asked for contact are counted first and fill part of it
    asked = number(scored.output, "asked for contact: sales at any score")
    assert asked > 0 and "Counted first: leads that asked" in " ".join(scored.output.split())
    for output, first in ((stored.output, 0), (scored.output, asked)):
        cut = number(output, "probability cut-off")
        assert cut * 100 == pytest.approx(number(output, "score cut-off [(]0-100[)]"))
        by_score = number(output, "handed over by score per week")
        lower = number(output, "from score [0-9]+ instead")
        assert first + by_score <= 51 and first + lower > 49  # each shown as a whole lead

    # a batch routes the whole open pool at once: weeks of decisions, said with its count,
    # which `score` with the advised grades reproduces
    pool = re.search(
        r"One batch over every open lead \(leadscore score at (\S+) \S+\) would send ([0-9,]+)",
        said,
    )
    assert pool is not None, said
    grades = re.search(r"grades: (\{[^}]*\})", " ".join(scored.output.split()))
    routing = tmp_path / "routing.yaml"
    original = DEFAULT_ROUTING_FILE.read_text(encoding="utf-8")
    if grades is not None:  # the routing in force may hand over from the advised score already
        original = original.replace("grades: {}", f"grades: {grades.group(1)}")
    routing.write_text(original, encoding="utf-8")
    day_after = (pd.Timestamp(pool.group(1)) + pd.Timedelta(days=1)).strftime("%Y-%m-%d")
    batch = runner.invoke(
        app,
        ["score", str(demo_dir), "--as-of", day_after, "--out", str(tmp_path / "s.parquet")],
        env={**env, "LEADSCORE_ROUTING_FILE": str(routing)},
    )
    assert batch.exit_code == 0, batch.output
    sent = int((pd.read_parquet(tmp_path / "s.parquet")["action"] == "sales").sum())
    predicted = int(pool.group(2).replace(",", ""))
    assert abs(predicted - sent) <= max(5, 0.05 * sent), (predicted, sent)

    # a registered version scores on request, audited under its own number
    lead = str(load_tables(demo_dir).leads["lead_id"].iloc[0])
    card = runner.invoke(app, ["explain", lead, str(demo_dir), "--version", "1"], env=env)
    assert card.exit_code == 0, card.output
    assert "v1," in card.output
    missing = runner.invoke(app, ["explain", lead, str(demo_dir), "--version", "99"], env=env)
    assert missing.exit_code == 1 and "has no version '99' (versions: 1)" in missing.output

    rollback = runner.invoke(app, ["models", "--rollback"], env=env)
    assert rollback.exit_code == 1 and "no earlier champion" in rollback.output
