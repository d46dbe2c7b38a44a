"""The command line as a new user types it: demo data, validate, features."""

from __future__ import annotations

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


def test_bad_as_of_and_bad_data_are_named(tmp_path: Path) -> None:
    bad_date = runner.invoke(
        app, ["features", str(tmp_path), "--as-of", "next week", "--out", "x.parquet"]
    )
    assert bad_date.exit_code != 0
    assert "next week" in bad_date.output
    missing = runner.invoke(app, ["validate", str(tmp_path / "nowhere")])
    assert missing.exit_code == 1
    assert "does not exist" in missing.output


@pytest.mark.slow
def test_a_hundred_thousand_demo_leads_pass_validate(tmp_path: Path) -> None:
    crm = tmp_path / "big"
    made = runner.invoke(app, ["demo-data", "--out", str(crm), "--leads", "100000"])
    assert made.exit_code == 0, made.output
    checked = runner.invoke(app, ["validate", str(crm)])
    assert checked.exit_code == 0, checked.output
    assert "100,000 leads" in " ".join(checked.output.split())
