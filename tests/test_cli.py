"""The command line as a new user types it: demo data, validate, features."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from leadscore.cli import app

runner = CliRunner()


def test_demo_data_then_validate_then_features(tmp_path: Path) -> None:
    crm = tmp_path / "crm"
    made = runner.invoke(app, ["demo-data", "--out", str(crm), "--leads", "800", "--format", "csv"])
    assert made.exit_code == 0, made.output
    assert {"leads.csv", "activities.csv", "outcomes.csv", "ground_truth.json"} <= {
        p.name for p in crm.iterdir()
    }

    checked = runner.invoke(app, ["validate", str(crm)])
    assert checked.exit_code == 0, checked.output
    assert "800 leads" in " ".join(checked.output.split())

    out = tmp_path / "features.parquet"
    built = runner.invoke(app, ["features", str(crm), "--as-of", "2026-06-01", "--out", str(out)])
    assert built.exit_code == 0, built.output
    frame = pd.read_parquet(out)
    assert (frame["as_of"] == pd.Timestamp("2026-06-01")).all()
    assert frame["lead_id"].is_unique
    assert len(frame) < 800  # leads created after the as_of date have no snapshot


def test_features_list_shows_the_registry_in_both_languages() -> None:
    english = runner.invoke(app, ["features", "--list"])
    german = runner.invoke(app, ["features", "--list", "--lang", "de"])
    assert english.exit_code == german.exit_code == 0
    assert "n_pricing_page_view_7d" in english.output
    assert "Preisseite" in german.output
    said = " ".join(english.output.split())
    assert "Viewed no web pages" in said  # every text of a feature, not only the first


def test_bad_as_of_and_bad_data_are_named(tmp_path: Path) -> None:
    bad_date = runner.invoke(
        app, ["features", str(tmp_path), "--as-of", "next week", "--out", "x.parquet"]
    )
    assert bad_date.exit_code != 0
    assert "next week" in bad_date.output
    missing = runner.invoke(app, ["validate", str(tmp_path / "nowhere")])
    assert missing.exit_code == 1
    assert "does not exist" in missing.output


def test_as_of_with_a_utc_offset_and_languages_are_checked(tmp_path: Path) -> None:
    crm = tmp_path / "crm"
    assert runner.invoke(app, ["demo-data", "--out", str(crm), "--leads", "300"]).exit_code == 0
    frames = []
    for moment in ("2026-06-01T02:00:00+02:00", "2026-06-01"):  # the same moment in UTC
        out = tmp_path / f"{len(frames)}.parquet"
        built = runner.invoke(app, ["features", str(crm), "--as-of", moment, "--out", str(out)])
        assert built.exit_code == 0, built.output
        frames.append(pd.read_parquet(out))
    pd.testing.assert_frame_equal(frames[0], frames[1])
    far = runner.invoke(app, ["features", str(crm), "--as-of", "2300-01-01", "--out", "x.csv"])
    assert far.exit_code == 2 and "outside" in far.output  # ages would wrap around
    french = runner.invoke(app, ["features", "--list", "--lang", "fr"])
    assert french.exit_code == 2 and "en or de" in french.output


def test_a_bad_setting_in_the_environment_is_named_without_a_traceback() -> None:
    script = Path(sys.executable).with_name("leadscore")
    env = {**os.environ, "LEADSCORE_LANGUAGE": "fr"}
    done = subprocess.run([str(script), "models"], env=env, capture_output=True, text=True)
    assert done.returncode == 2
    assert "LEADSCORE_LANGUAGE" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.slow
def test_a_hundred_thousand_demo_leads_pass_validate(tmp_path: Path) -> None:
    crm = tmp_path / "big"
    made = runner.invoke(app, ["demo-data", "--out", str(crm), "--leads", "100000"])
    assert made.exit_code == 0, made.output
    checked = runner.invoke(app, ["validate", str(crm)])
    assert checked.exit_code == 0, checked.output
    assert "100,000 leads" in " ".join(checked.output.split())


def test_as_of_is_iso_8601_in_utc_and_now_or_today_is_this_moment_in_utc() -> None:
    import typer

    from leadscore.data_commands import parse_moment

    assert parse_moment("2026-06-01T00:00+02:00") == pd.Timestamp("2026-05-31 22:00")
    assert parse_moment(" 2026-06-01 ") == pd.Timestamp("2026-06-01")
    utc_now = pd.Timestamp.now(tz="UTC").tz_localize(None)
    for word in ("now", "today", "Today"):
        assert abs(parse_moment(word) - utc_now) < pd.Timedelta(minutes=1)
    for text, why in (
        ("02.01.2018", "not an ISO 8601 date"),
        ("", "not an ISO 8601 date"),
        ("2300-01-01", "outside the years 1950 to 2199"),
        ("1900-01-01", "outside the years 1950 to 2199"),
        ("2199-01-01", "in the future"),
    ):
        with pytest.raises(typer.BadParameter, match=why):
            parse_moment(text)


def test_a_damaged_model_store_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "mlflow.db").write_bytes(os.urandom(20_000))
    env = {**os.environ, "LEADSCORE_MODELS_DIR": str(tmp_path)}
    env.pop("MLFLOW_TRACKING_URI", None)
    script = Path(sys.executable).with_name("leadscore")
    done = subprocess.run(
        [str(script), "models"], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    said = " ".join(done.stderr.split())
    assert "A database cannot be used: file is not a database" in said
    assert f"sqlite:///{tmp_path / 'mlflow.db'}" in said


@pytest.mark.parametrize(
    ("setting", "args", "says"),
    [
        ("LEADSCORE_AUDIT_DATABASE=notaurl", ["audit", "L1"], "Could not parse SQLAlchemy URL"),
        ("LEADSCORE_AUDIT_DATABASE=mysql://x@localhost/db", ["audit", "L1"], "no driver for it"),
        ("", ["validate", "mysql://x@localhost/crm"], "leadscore reads SQLite and PostgreSQL"),
        ("MLFLOW_TRACKING_URI=notaurl", ["models"], "'notaurl' (MLFLOW_TRACKING_URI) is not a URL"),
        # MLflow retried this for two minutes; our one connection fails at once
        (
            "MLFLOW_TRACKING_URI=postgresql://postgres:s3cr@127.0.0.1:1/x",
            ["models"],
            "port 1 failed",
        ),
    ],
)
def test_a_database_url_that_cannot_work_is_one_line(
    tmp_path: Path, setting: str, args: list[str], says: str
) -> None:
    env = {**os.environ, "LEADSCORE_MODELS_DIR": str(tmp_path)}
    env.pop("MLFLOW_TRACKING_URI", None)
    if setting:
        key, value = setting.split("=", 1)
        env[key] = value
    script = Path(sys.executable).with_name("leadscore")
    done = subprocess.run([str(script), *args], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode in (1, 2), done.stderr
    assert "Traceback" not in done.stderr
    assert says in " ".join(done.stderr.split())
    assert "s3cr" not in done.stderr  # a password in a URL is not printed


@pytest.mark.parametrize("command", ["validate", "audit-data"])
@pytest.mark.parametrize(("option", "says"), [("--id", "declares the id"), ("--time", "the time")])
def test_an_option_a_mapping_owns_is_refused_not_ignored(
    command: str, option: str, says: str
) -> None:
    mapping = Path(__file__).resolve().parents[1] / "examples" / "x-education.yaml"
    result = runner.invoke(
        app, [command, "Leads.csv", "--mapping", str(mapping), option, "Lead Number"]
    )
    assert result.exit_code == 2, result.output
    assert says in " ".join(result.output.split())


def test_audit_reads_at_80_columns(tmp_path: Path) -> None:
    """Each score with the moment it was taken at, its route and its reasons, words unbroken."""
    from serving.audit import AuditLog, now_utc

    url = f"sqlite:///{tmp_path / 'audit.db'}"
    reason = "Visited the pricing page 6 times in the last 90 days, last on 26 Oct 2026"
    AuditLog(url).write(
        [
            {
                "request_id": "abcdef123456", "lead_id": "L1", "scored_at": now_utc(),
                "model_name": "leadscore", "model_version": "12", "probability": 0.3,
                "score": 30, "grade": "A", "action": "sales",
                "route": {"action": "sales", "team": "DACH-Süd"},
                "reasons": [{"feature": "n_pricing_page_view_90d", "text": reason}],
                "quality_flags": [], "features": {"as_of": "2026-10-31T21:53:00"},
                "handover_note": "...",
            }
        ]
    )  # fmt: skip
    shown = runner.invoke(
        app, ["audit", "L1"], env={"LEADSCORE_AUDIT_DATABASE": url, "COLUMNS": "80"}
    ).output
    assert max(len(line) for line in shown.splitlines()) <= 80
    assert "as of 2026-10-31" in shown and "sales DACH-Süd" in shown and "30 A" in shown
    words = " ".join(line.strip("│ ").split("│")[-1].strip() for line in shown.splitlines())
    assert " ".join(reason.split()) in " ".join(words.split())


def test_models_run_from_another_folder_says_where_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The models folder is relative to where the command runs: from a subfolder a user saw
    "no registered versions" of a store they had just trained into."""
    for name in ("LEADSCORE_MODELS_DIR", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    listed = runner.invoke(app, ["models"], env={"COLUMNS": "200"})
    assert listed.exit_code == 0, listed.output
    assert "No registered versions" in listed.output
    assert "'models' of the current folder: run from the project's folder" in listed.output


def test_thresholds_advice_keeps_every_grade_in_order() -> None:
    """Setting A to the model's B cut-off, as the advice said, left grade B empty."""
    from leadscore.train_commands import _advised_grades
    from serving.routing import load_routing

    routing = load_routing()  # A goes to sales
    model = {"A": 0.1, "B": 0.07, "C": 0.04}
    assert _advised_grades(routing, model, 0.2) == {"A": 0.2}
    assert _advised_grades(routing, model, 0.07) == {"A": 0.07, "B": 0.06}
    assert _advised_grades(routing, model, 0.04) == {"A": 0.04, "B": 0.03, "C": 0.02}
    both = routing.model_copy(update={"sales_grades": ["A", "B"]})
    assert _advised_grades(both, model, 0.12) == {"A": 0.13, "B": 0.12}  # A stays above B


def test_thresholds_refuse_a_window_of_centuries_by_its_option() -> None:
    """--weeks 100000 ended in an overflow of pandas' time arithmetic, in its own words."""
    done = runner.invoke(app, ["thresholds", "--capacity", "5", "--weeks", "100000"])
    assert done.exit_code == 2
    assert "--weeks" in done.output and "1040" in done.output
