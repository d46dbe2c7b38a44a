"""Tabular mode on every command that takes DATA: validate, features, train, score, explain,
thresholds, audit-data and models, on one small generated export with a column mapping."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from leadscore.cli import app

ROWS = 3000
MAPPING = """
version: 1
rename: {"Lead ID": lead_key, "Signed up": signed_up}
missing_values: [Select]
id: lead_key
label: {column: Bought, positive: ["yes"]}
time: {column: signed_up, format: "%Y-%m-%d"}
consent: Profiling OK
features: {categorical: [Region]}
"""


def make_export(rows: int = ROWS, seed: int = 3) -> pd.DataFrame:
    """Leads from three sources over a year; paid search and big companies buy more often."""
    rng = np.random.default_rng(seed)
    source = rng.choice(["paid_search", "organic", "event", "Select"], rows)
    employees = rng.lognormal(4, 1.2, rows).round()
    region = rng.choice(["10", "20", "30"], rows)  # codes: categories although they are digits
    margin = (
        -1.5 + 1.2 * (source == "paid_search") + 0.5 * np.log10(employees) - 0.4 * (region == "30")
    )
    bought = rng.random(rows) < 1 / (1 + np.exp(-margin))
    days = np.sort(rng.integers(0, 365, rows))
    return pd.DataFrame(
        {
            "Lead ID": [f"X-{i:05d}" for i in range(rows)],
            "Signed up": (pd.Timestamp("2025-01-01") + pd.to_timedelta(days, "D")).strftime(
                "%Y-%m-%d"
            ),
            "Source": source,
            "Employees": employees.astype(int),
            "Region": region,
            "Profiling OK": np.where(rng.random(rows) < 0.05, "no", "yes"),
            "Bought": np.where(bought, "yes", "no"),
        }
    )


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """An export, its mapping, and a registry where the export's model is the champion."""
    root = tmp_path_factory.mktemp("tabular_commands")
    make_export().to_csv(root / "export.csv", index=False)
    (root / "mapping.yaml").write_text(MAPPING)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LEADSCORE_MODELS_DIR", str(root / "models"))
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        trained = CliRunner().invoke(
            app, ["train", str(root / "export.csv"), "--mapping", str(root / "mapping.yaml")]
        )
        assert trained.exit_code == 0, trained.output
        assert "promoted to champion" in trained.output
        yield root


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.output


def test_validate_reads_the_export_through_its_mapping(workspace: Path) -> None:
    code, output = run(
        "validate", str(workspace / "export.csv"), "--mapping", str(workspace / "mapping.yaml")
    )
    assert code == 0, output
    assert f"{ROWS:,} rows, label 'Bought'" in output


def test_validate_names_row_and_column_of_bad_cells_and_the_yaml_key(workspace: Path) -> None:
    broken = make_export(50)
    broken.loc[6, "Profiling OK"] = "maybe"
    broken.loc[9, "Signed up"] = "yesterday"
    path = workspace / "broken.csv"
    broken.to_csv(path, index=False)
    code, output = run("validate", str(path), "--mapping", str(workspace / "mapping.yaml"))
    assert code == 1
    assert "Profiling OK" in output and "maybe" in output
    assert "signed_up" in output and "yesterday" in output
    # rows are counted as in a spreadsheet without its header: data row 7 and 10
    assert " 7 " in output and " 10 " in output

    wrong = workspace / "wrong.yaml"
    wrong.write_text(MAPPING.replace("consent: Profiling OK", "consent: Profiling"))
    code, output = run("validate", str(workspace / "export.csv"), "--mapping", str(wrong))
    assert code == 1
    assert "consent: column 'Profiling' is not in export.csv" in output


def test_features_writes_the_columns_training_sees(workspace: Path) -> None:
    out = workspace / "features.parquet"
    code, output = run(
        "features",
        str(workspace / "export.csv"),
        "--mapping",
        str(workspace / "mapping.yaml"),
        "--as-of",
        "2025-07-01",
        "--out",
        str(out),
    )
    assert code == 0, output
    frame = pd.read_parquet(out)
    export = make_export()
    assert len(frame) == int((pd.to_datetime(export["Signed up"]) < "2025-07-01").sum())
    assert list(frame.columns) == ["lead_id", "Source", "Employees", "Region"]
    assert frame["Region"].dtype == object  # declared categorical, although all digits
    assert frame["Source"].isna().any()  # "Select" means missing
    assert "Profiling OK" not in frame.columns and "Bought" not in frame.columns
    assert "category" in output and "number" in output


def test_score_writes_reasons_routes_and_audit_for_new_leads(workspace: Path) -> None:
    from leadscore.settings import Settings
    from serving.audit import AuditLog

    new = make_export(200, seed=9).drop(columns=["Bought"])
    path = workspace / "new.csv"
    new.to_csv(path, index=False)
    out = workspace / "scores.csv"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LEADSCORE_MODELS_DIR", str(workspace / "models"))
        log = AuditLog(Settings().audit_url())
        before = log.count()
        code, output = run(
            "score", str(path), "--mapping", str(workspace / "mapping.yaml"), "--out", str(out),
            "--lang", "de", "--show-top", "1",
        )  # fmt: skip
        assert code == 0, output
        assert log.count() == before + 200
    scores = pd.read_csv(out)
    assert scores["lead_id"].tolist() == new["Lead ID"].tolist()
    objected = new["Profiling OK"].eq("no").to_numpy()
    assert scores.loc[objected, "probability"].isna().all()
    assert (scores.loc[objected, "action"] == "nurture").all()
    assert scores.loc[~objected, "probability"].between(0, 1).all()
    assert set(scores.loc[~objected, "grade"]) <= {"A", "B", "C", "D"}
    first = scores.loc[~objected].iloc[0]
    assert first["reason_1_text"].startswith(f"{first['reason_1_feature']}: ")
    assert (
        "nicht angegeben" in " ".join(scores["reasons"].dropna())
        or new["Source"].ne("Select").all()
    )
    assert "leadscore lead card (tabular)" in output


def test_explain_shows_one_rows_card(workspace: Path) -> None:
    code, output = run(
        "explain", "X-00042", str(workspace / "export.csv"), "--mapping",
        str(workspace / "mapping.yaml"),
    )  # fmt: skip
    assert code == 0, output
    assert "X-00042" in output and "What the row says" in output and "Employees:" in output

    code, output = run(
        "explain", "nobody", str(workspace / "export.csv"), "--mapping",
        str(workspace / "mapping.yaml"),
    )  # fmt: skip
    assert code == 1 and "'nobody' is not in" in output


def test_thresholds_cut_the_tables_recent_rows_at_capacity(workspace: Path) -> None:
    code, output = run(
        "thresholds", str(workspace / "export.csv"), "--mapping", str(workspace / "mapping.yaml"),
        "--capacity", "10", "--per", "week", "--weeks", "8",
    )  # fmt: skip
    assert code == 0, output
    weekly = float(output.split("leads up for a decision per week")[1].split()[1].rstrip("│"))
    # about 3000 rows over 52 weeks arrive per week, minus the 5 % that objected
    assert 45 <= weekly <= 70
    share = float(output.split("share handed over")[1].split()[1].rstrip("%│")) / 100
    assert share == pytest.approx(10 / weekly, abs=0.002)


def test_thresholds_without_a_date_say_why(workspace: Path) -> None:
    undated = workspace / "undated.yaml"
    undated.write_text(MAPPING.replace('time: {column: signed_up, format: "%Y-%m-%d"}\n', ""))
    code, output = run(
        "thresholds", str(workspace / "export.csv"), "--mapping", str(undated), "--capacity", "10"
    )
    assert code == 1 and "need the lead's date" in output


def test_models_lists_the_tabular_registry(workspace: Path) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LEADSCORE_MODELS_DIR", str(workspace / "models"))
        code, output = run("models", "--tabular")
    assert code == 0, output
    assert "'leadscore-tabular'" in output and "champion" in output


def test_commands_name_a_missing_label_or_mapping(workspace: Path) -> None:
    code, output = run(
        "score", str(workspace / "export.csv"), "--mapping", str(workspace / "nope.yaml"),
        "--out", str(workspace / "x.csv"),
    )  # fmt: skip
    assert code == 2 and "nope.yaml" in output


def test_tabular_reasons_are_the_models_own_contributions(workspace: Path) -> None:
    from features.mapping import apply_mapping
    from leadscore.settings import Settings
    from serving.tabular import TabularScorer

    table = apply_mapping(workspace / "export.csv", workspace / "mapping.yaml")
    table.frame = table.frame.head(300).copy()
    scorer = TabularScorer.load(Settings())
    scored = scorer.score_table(table)
    model = scorer.model
    consenting = table.frame["consent_profiling"].to_numpy(bool)
    matrix = model.encode(scorer.features(table).loc[consenting])
    contributions = model.contributions(matrix)
    np.testing.assert_allclose(contributions.sum(axis=1), model.predict_raw(matrix), atol=1e-9)
    rows = scored.loc[consenting].reset_index(drop=True)
    for i in range(len(rows)):
        feature = rows.loc[i, "reason_1_feature"]
        expected = contributions[i, model.columns.index(feature)]
        assert rows.loc[i, "reason_1_contribution"] == pytest.approx(expected, abs=1e-6)
        # the first reason is the strongest column, whichever its sign
        strongest = np.abs(contributions[i, : len(model.columns)]).max()
        assert abs(expected) == pytest.approx(strongest, abs=1e-9)
