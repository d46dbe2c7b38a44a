"""Real public CRM exports train and score through the normal commands with their mappings."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from leadscore.cli import app

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"
EXPORTS = {
    "x-education": DATASETS / "x-education" / "Leads.csv",
    "bank-marketing": DATASETS / "bank-marketing" / "bank-additional-full.csv.gz",
    "olist": DATASETS / "olist-funnel" / "olist_marketing_qualified_leads_dataset.csv",
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPORTS))
def test_export_trains_and_scores_with_its_mapping(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEADSCORE_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    mapping = ROOT / "examples" / f"{name}.yaml"
    runner = CliRunner()

    trained = runner.invoke(app, ["train", str(EXPORTS[name]), "--mapping", str(mapping)])
    assert trained.exit_code == 0, trained.output
    assert "promoted to champion" in trained.output

    out = tmp_path / "scores.csv"
    scored = runner.invoke(
        app, ["score", str(EXPORTS[name]), "--mapping", str(mapping), "--out", str(out)]
    )
    assert scored.exit_code == 0, scored.output
    scores = pd.read_csv(out)
    assert scores["probability"].between(0, 1).all()
    assert set(scores["grade"]) <= {"A", "B", "C", "D"}
    assert scores["reasons"].str.contains(r"\(\+|\(-", regex=True).any()
