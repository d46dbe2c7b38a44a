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

    # New leads have no outcome yet: the same export without its label scores, and every
    # score is in the audit log.
    from features.mapping import load_mapping
    from leadscore.settings import Settings
    from serving.audit import AuditLog

    spec = load_mapping(mapping)
    delimiter = spec.read.delimiter or ","
    fresh = pd.read_csv(EXPORTS[name], sep=delimiter, dtype=str, keep_default_na=False).head(300)
    fresh = fresh.drop(columns=[spec.label.column] if spec.label.column else [])
    new_leads = tmp_path / "new" / EXPORTS[name].name
    new_leads.parent.mkdir()
    fresh.to_csv(new_leads, sep=delimiter, index=False)
    log = AuditLog(Settings().audit_url())
    before = log.count()
    out = tmp_path / "new_scores.csv"
    scored = runner.invoke(
        app, ["score", str(new_leads), "--mapping", str(mapping), "--out", str(out)]
    )
    assert scored.exit_code == 0, scored.output
    new_scores = pd.read_csv(out)
    assert len(new_scores) == 300
    assert set(new_scores["action"]) <= {"sales", "nurture", "review"}
    assert log.count() == before + 300
    first = log.history(str(new_scores["lead_id"].iloc[0]))
    assert first["model_name"].iloc[-1] == "leadscore-tabular"
