"""Tabular mode on every command that takes DATA: validate, features, train, score, explain,
thresholds, audit-data and models, on one small generated export with a column mapping."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
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


def mapped(workspace: Path) -> list[str]:
    """The workspace's export and its mapping, as a command line names them."""
    return [str(workspace / "export.csv"), "--mapping", str(workspace / "mapping.yaml")]


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.output


def test_validate_reads_the_export_through_its_mapping(workspace: Path) -> None:
    code, output = run("validate", *mapped(workspace))
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
    assert "Signed up" in output and "yesterday" in output  # the export's name
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
        *mapped(workspace),
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
    employees = next(line for line in output.splitlines() if "Employees" in line)
    assert ".0" not in employees  # whole numbers are shown as read (23, not 23.0)


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
            "score",
            str(path),
            "--mapping",
            str(workspace / "mapping.yaml"),
            "--out",
            str(out),
            "--lang",
            "de",
            "--show-top",
            "1",
        )
        assert code == 0, output
        assert log.count() == before + 200
        # a person who asks to be forgotten: every score of theirs goes, nobody else's
        gone = str(new["Lead ID"].iloc[0])
        code, shown = run("audit", gone)
        assert code == 0 and "Scores given to" in shown, shown
        code, shown = run("audit", gone, "--erase")
        assert code == 0 and "Erased 1 score record(s)" in shown, shown
        assert log.history(gone).empty and log.count() == before + 199
        code, shown = run("audit", gone + "x", "--erase")  # a typo in a deletion request
        assert code == 0 and "nothing was erased" in shown and "Erased" not in shown, shown
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


def test_rows_that_converted_already_are_not_routed(workspace: Path, tmp_path: Path) -> None:
    """An export of every lead holds customers too: sales would be sent its own buyers."""
    from features.loaders import read_tabular

    export = make_export(60, seed=5)
    path = tmp_path / "all_leads.csv"
    export.to_csv(path, index=False)
    bought = set(export.loc[export["Bought"] == "yes", "Lead ID"])
    assert 0 < len(bought) < 60
    out = tmp_path / "scores.csv"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LEADSCORE_MODELS_DIR", str(workspace / "models"))
        mapping = ["--mapping", str(workspace / "mapping.yaml"), "--out", str(out)]
        code, output = run("score", str(path), *mapping)
        assert code == 0, output
        assert set(pd.read_csv(out)["lead_id"]) == set(export["Lead ID"]) - bought
        said = " ".join(output.split())
        assert f"{len(bought)} row(s) whose label says they converted already left out" in said
        code, output = run("score", str(path), *mapping, "--include-closed")
        assert code == 0, output
        assert len(pd.read_csv(out)) == 60 and "converted already" not in output

        # a bad cell behind converted rows is named by its row in the file, not the rest's
        assert (export["Bought"].iloc[:59] == "yes").any()
        bad = export.assign(Employees=export["Employees"].astype(str))
        bad.loc[59, "Employees"] = "many"
        bad.to_csv(tmp_path / "bad.csv", index=False)
        code, output = run("score", str(tmp_path / "bad.csv"), *mapping)
        assert code == 2 and "row 60" in output and "'many'" in output, output

    plain, _ = read_tabular(path, "Bought", "Lead ID", without_label=True)  # --label, no mapping
    assert plain is not None and set(plain.frame.attrs["converted"]) == bought
    assert "Bought" not in plain.frame.columns  # an outcome is never a feature


def test_explain_shows_one_rows_card(workspace: Path) -> None:
    code, output = run(
        "explain",
        "X-00042",
        *mapped(workspace),
    )
    assert code == 0, output
    assert "X-00042" in output and "What the row says" in output and "Employees:" in output

    code, output = run(
        "explain",
        "nobody",
        *mapped(workspace),
    )
    assert code == 1 and "'nobody' is not in" in output


def test_thresholds_cut_the_tables_recent_rows_at_capacity(workspace: Path) -> None:
    code, output = run(
        "thresholds",
        *mapped(workspace),
        "--capacity",
        "10",
        "--per",
        "week",
        "--weeks",
        "8",
    )
    assert code == 0, output
    weekly = float(output.split("leads up for a decision per week")[1].split()[1].rstrip("│"))
    # about 3000 rows over 52 weeks arrive per week, minus the 5 % that objected
    assert 45 <= weekly <= 70
    handed = output.split("handed over by score per week")[1].split("│")[1].split()
    by_score, share = float(handed[0]), float(handed[1].strip("()%")) / 100
    # a whole score cut-off: at most the capacity, the share of the week's rows it reaches
    assert by_score <= 10 + 0.5 and share <= 10 / weekly + 0.002
    assert by_score == pytest.approx(share * weekly, abs=0.6)
    cutoff = float(output.split("probability cut-off")[1].split("│")[1])
    assert cutoff * 100 == pytest.approx(
        int(output.split("score cut-off (0-100)")[1].split("│")[1])
    )


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
        "score",
        str(workspace / "export.csv"),
        "--mapping",
        str(workspace / "nope.yaml"),
        "--out",
        str(workspace / "x.csv"),
    )
    assert code == 2 and "nope.yaml" in output


def test_output_files_and_dates_are_checked_before_any_work(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEADSCORE_MODELS_DIR", str(workspace / "models"))
    for out, says in ((workspace, "is a folder"), (workspace / "x.xlsx", "write .csv")):
        code, output = run("score", *mapped(workspace), "--out", str(out))
        assert code == 2 and says in output, output
    features = ["features", *mapped(workspace), "--out", str(workspace / "f.csv")]
    code, output = run(*features, "--as-of", "02.01.2025")  # 2 January or 1 February?
    assert code == 2 and "ISO 8601" in output, output
    code, output = run(*features, "--as-of", "2025-01-02")
    assert code == 0, output
    # without --mapping the export is taken for a CRM, whose champion this registry lacks
    code, output = run("score", str(workspace / "export.csv"), "--out", str(workspace / "s.csv"))
    assert code == 1 and "--mapping" in output and "Traceback" not in output, output
    code, output = run("score", *mapped(workspace), "--out", str(workspace / "s.CSV.gz"))
    assert code == 0 and pd.read_csv(workspace / "s.CSV.gz")["probability"].notna().any()


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


def test_a_leads_score_does_not_depend_on_the_other_rows_in_its_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A column learnt as text ("7", "8", "A") stays text in a file where it is all digits."""
    monkeypatch.setenv("LEADSCORE_MODELS_DIR", str(tmp_path / "models"))
    rng = np.random.default_rng(5)
    rows = 2000
    code = rng.choice(["7", "8", "A", "B"], rows)
    won = rng.random(rows) < np.where(code == "8", 0.1, 0.45)
    days = np.sort(rng.integers(0, 300, rows))
    export = pd.DataFrame(
        {
            "key": [f"K{i}" for i in range(rows)],
            "day": (pd.Timestamp("2025-01-01") + pd.to_timedelta(days, "D")).strftime("%Y-%m-%d"),
            "Code": code,
            "won": np.where(won, "1", "0"),
        }
    )
    export.to_csv(tmp_path / "train.csv", index=False)
    code_, output = run(
        "train", str(tmp_path / "train.csv"), "--label", "won", "--id", "key", "--time", "day"
    )
    assert code_ == 0, output
    mixed = export.head(40).drop(columns="won")  # new leads: no outcome yet
    digits = mixed[mixed["Code"].isin(["7", "8"])]
    mixed.to_csv(tmp_path / "mixed.csv", index=False)
    digits.to_csv(tmp_path / "digits.csv", index=False)
    for name in ("mixed", "digits"):
        code_, output = run(
            "score",
            str(tmp_path / f"{name}.csv"),
            "--label",
            "won",
            "--id",
            "key",
            "--out",
            str(tmp_path / f"{name}_scores.csv"),
        )
        assert code_ == 0, output
    both = pd.read_csv(tmp_path / "mixed_scores.csv").merge(
        pd.read_csv(tmp_path / "digits_scores.csv"), on="lead_id", suffixes=("", "_alone")
    )
    assert len(both) == len(digits)
    np.testing.assert_allclose(both["probability"], both["probability_alone"])
    assert (both["reason_1_text"] == both["reason_1_text_alone"]).all()

    # a number column must hold numbers: a text cell is named, not read as missing
    export["Size"] = "10"
    export.to_csv(tmp_path / "sized.csv", index=False)
    monkeypatch.setenv("LEADSCORE_MODELS_DIR", str(tmp_path / "models_sized"))
    code_, output = run(
        "train", str(tmp_path / "sized.csv"), "--label", "won", "--id", "key", "--time", "day"
    )
    assert code_ == 0, output
    bad = export.head(5).copy()
    bad.loc[3, "Size"] = "n/a"
    bad.to_csv(tmp_path / "bad.csv", index=False)
    code_, output = run(
        "score",
        str(tmp_path / "bad.csv"),
        "--label",
        "won",
        "--id",
        "key",
        "--out",
        str(tmp_path / "x.csv"),
    )
    assert code_ == 2 and "row 4" in output and "Size" in output and "'n/a'" in output


def test_a_plain_csv_with_a_lead_id_column_keeps_its_ids(workspace: Path, tmp_path: Path) -> None:
    plain = make_export(50).rename(columns={"Lead ID": "lead_id"})
    plain.to_csv(tmp_path / "plain.csv", index=False)
    for extra in ([], ["--id", "lead_id"]):
        code, output = run(
            "features",
            str(tmp_path / "plain.csv"),
            "--label",
            "Bought",
            "--out",
            str(tmp_path / "f.csv"),
            *extra,
        )
        assert code == 0, output
        assert pd.read_csv(tmp_path / "f.csv")["lead_id"].tolist() == plain["lead_id"].tolist()
    plain.loc[2, "lead_id"] = ""
    plain.to_csv(tmp_path / "plain.csv", index=False)
    code, output = run("validate", str(tmp_path / "plain.csv"), "--label", "Bought")
    assert code == 1 and "id is empty" in output


def test_options_the_mapping_owns_are_refused_with_it(workspace: Path) -> None:
    code, output = run(
        "features",
        *mapped(workspace),
        "--time",
        "Region",
        "--out",
        "x.csv",
    )
    assert code == 2 and "the mapping declares the time" in output


@pytest.mark.parametrize(
    ("consent", "says"),
    [("Bought", "is the label column"), ("lead_key", "is the id column")],
)
def test_consent_cannot_be_the_id_or_the_label(workspace: Path, consent: str, says: str) -> None:
    wrong = workspace / f"consent_{consent}.yaml"
    wrong.write_text(MAPPING.replace("consent: Profiling OK", f"consent: {consent}"))
    code, output = run("validate", str(workspace / "export.csv"), "--mapping", str(wrong))
    assert code == 1 and says in output


def test_training_on_bad_exports_says_why_without_a_traceback(
    workspace: Path, tmp_path: Path
) -> None:
    nobody = make_export(300).assign(**{"Profiling OK": "no"})
    nobody.to_csv(tmp_path / "nobody.csv", index=False)
    code, output = run(
        "train", str(tmp_path / "nobody.csv"), "--mapping", str(workspace / "mapping.yaml")
    )
    assert code == 2 and "all 300 objected to profiling" in output and "Traceback" not in output
    odd = make_export(300)
    odd.loc[4, "Profiling OK"] = "perhaps"
    odd.to_csv(tmp_path / "odd.csv", index=False)
    code, output = run(
        "train", str(tmp_path / "odd.csv"), "--mapping", str(workspace / "mapping.yaml")
    )
    assert code == 2 and "perhaps" in output and "Profiling OK" in output
    make_export(3).to_csv(tmp_path / "three.csv", index=False)
    code, output = run(
        "train", str(tmp_path / "three.csv"), "--mapping", str(workspace / "mapping.yaml")
    )
    assert code == 2 and "Too few won deals" in output and "Traceback" not in output, output


def test_row_order_is_no_date_for_thresholds(workspace: Path) -> None:
    ordered = workspace / "ordered.yaml"
    ordered.write_text(
        MAPPING.replace('time: {column: signed_up, format: "%Y-%m-%d"}', "time: {row_order: true}")
    )
    code, output = run(
        "thresholds", str(workspace / "export.csv"), "--mapping", str(ordered), "--capacity", "10"
    )
    assert code == 1 and "row order is no date" in output


def test_a_row_order_run_reports_row_numbers_not_dates(
    workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEADSCORE_MODELS_DIR", str(tmp_path / "models"))
    ordered = tmp_path / "ordered.yaml"
    ordered.write_text(
        MAPPING.replace('time: {column: signed_up, format: "%Y-%m-%d"}', "time: {row_order: true}")
    )
    code, output = run("train", str(workspace / "export.csv"), "--mapping", str(ordered))
    assert code == 0, output
    flat = " ".join(output.split())
    assert "Test window: from the file's row " in flat and "1970" not in flat
    found = re.search(r"Report: (\S+?report\.md)", output.replace("\n", ""))
    assert found is not None, output
    report = Path(found.group(1)).read_text()
    assert "the last are the test rows" in report and "| test | row " in report
    assert "1970" not in report.split("## Parameters")[0]
    # rows a second apart are no week's leads: capacity takes the default share
    assert "the default share: without dates, a row order included" in " ".join(report.split())


def test_features_as_of_with_a_time_zone(workspace: Path, tmp_path: Path) -> None:
    code, output = run(
        "features",
        *mapped(workspace),
        "--as-of",
        "2025-07-01T00:00+02:00",
        "--out",
        str(tmp_path / "f.csv"),
    )
    assert code == 0, output
    export = make_export()
    before = (pd.to_datetime(export["Signed up"]) < pd.Timestamp("2025-06-30T22:00")).sum()
    assert len(pd.read_csv(tmp_path / "f.csv")) == before


def test_new_leads_without_a_label_can_be_checked_and_featurised(
    workspace: Path, tmp_path: Path
) -> None:
    new = make_export(30, seed=4).drop(columns=["Bought"])
    new.to_csv(tmp_path / "new.csv", index=False)
    mapping = str(workspace / "mapping.yaml")
    code, output = run("validate", str(tmp_path / "new.csv"), "--mapping", mapping)
    assert code == 1 and "Bought" in output  # a training file needs its label
    code, output = run("validate", str(tmp_path / "new.csv"), "--mapping", mapping, "--new-leads")
    assert code == 0 and "30 rows, new leads" in output
    out = tmp_path / "f.csv"
    code, output = run(
        "features",
        str(tmp_path / "new.csv"),
        "--mapping",
        mapping,
        "--new-leads",
        "--out",
        str(out),
    )
    assert code == 0, output
    assert pd.read_csv(out)["lead_id"].tolist() == new["Lead ID"].tolist()


def test_the_card_of_a_nurtured_lead_in_german(workspace: Path, tmp_path: Path) -> None:
    export, mapping = str(workspace / "export.csv"), str(workspace / "mapping.yaml")
    code, output = run("score", export, "--mapping", mapping, "--out", str(tmp_path / "s.csv"))
    assert code == 0, output
    scores = pd.read_csv(tmp_path / "s.csv")
    nurtured = scores.loc[scores["consent_profiling"] & (scores["action"] == "nurture"), "lead_id"]
    code, output = run(
        "explain", str(nurtured.iloc[0]), export, "--mapping", mapping, "--lang", "de"
    )
    assert code == 0, output
    assert "Was die Zeile sagt" in output and "Zuordnung" in output and "Nurturing" in output


def _answers_match(answers: list[dict], expected: pd.DataFrame) -> None:
    assert [a["lead_id"] for a in answers] == expected["lead_id"].tolist()
    got = [np.nan if a["probability"] is None else a["probability"] for a in answers]
    np.testing.assert_allclose(got, expected["probability"].to_numpy(float, na_value=np.nan))
    first = [a["reasons"][0]["text"] if a["reasons"] else None for a in answers]
    texts = expected["reason_1_text"]
    assert first == texts.astype(object).where(texts.notna(), None).tolist()


def test_rows_sent_as_json_score_as_their_file_does(
    workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the service's /score_rows does: JSON rows read with the champion's own mapping."""
    from features.loaders import ContractError
    from leadscore.settings import Settings
    from serving.tabular import TabularScorer
    from training.tabular import read_table

    monkeypatch.setenv("LEADSCORE_MODELS_DIR", str(workspace / "models"))
    scorer = TabularScorer.load(Settings())
    new = make_export(60, seed=11).drop(columns=["Bought"])
    new.to_csv(tmp_path / "new.csv", index=False)
    table = read_table(
        tmp_path / "new.csv", None, None, None, workspace / "mapping.yaml", True,
        scorer.model.categories,
    )  # fmt: skip
    # a JSON client sends numbers as numbers, also for the region codes the model learnt as text
    rows = [{**row, "Region": int(row["Region"])} for row in new.to_dict("records")]
    _answers_match(scorer.score_rows(rows), scorer.score_table(table))
    with pytest.raises(ContractError, match="Lead ID"):
        scorer.score_rows([{k: v for k, v in rows[0].items() if k != "Lead ID"}])
    # a row lacking a column the model reads is refused whatever rows come with it
    with pytest.raises(ContractError) as refused:
        scorer.score_rows([rows[0], {k: v for k, v in rows[1].items() if k != "Source"}])
    assert [(p.row, p.column) for p in refused.value.problems] == [(2, "Source")]
    # keys the model does not read are ignored, also training's own names; the date is not
    # read by this model (no calendar part), so it may be left out
    extra = {k: v for k, v in rows[0].items() if k != "Signed up"}
    extra |= {"lead_id": "x", "label": 1, "slice": "test", "Notes": "called twice"}
    (alone,) = scorer.score_rows([extra])
    assert alone["probability"] == scorer.score_rows([rows[0]])[0]["probability"]
    # a category value the model never saw is scored as missing, and the answer says so
    (odd,) = scorer.score_rows([{**rows[0], "Region": "99", "Profiling OK": "yes"}])
    (unset,) = scorer.score_rows([{**rows[0], "Region": None, "Profiling OK": "yes"}])
    assert odd["probability"] == unset["probability"]
    assert odd["quality_flags"] == [
        "Region: '99' was not seen in training and is scored as not given"
    ]
    # a reason on it says what the model made of it, not that the value counted
    cited = [r["text"] for r in odd["reasons"] if r["feature"] == "Region"]
    assert cited in ([], ["Region: 99 (not seen in training: counts as not given)"]), cited
    said = "Region: 99 (not seen in training: counts as not given)"
    assert scorer.column_text("Region", "99", "en") == said
    assert scorer.column_text("Region", "99", "de").endswith("zählt als nicht angegeben)")
    known = scorer.model.categories["Region"][0]
    assert scorer.column_text("Region", known, "en") == f"Region: {known}"
    # a number far outside what training saw is scored, flagged and goes to a person first
    (absurd,) = scorer.score_rows([{**rows[0], "Employees": 1e308}])
    high = scorer.model.params["ranges"]["Employees"][1]
    assert absurd["route"]["action"] == "review", absurd["route"]
    flagged = [f for f in absurd["quality_flags"] if "far outside what training saw" in f]
    assert flagged and flagged[0].startswith("Employees: ")
    (large,) = scorer.score_rows([{**rows[0], "Employees": high + 1}])  # beyond, not absurd
    assert not any("far outside" in f for f in large["quality_flags"])
    # an id sent as a big JSON integer comes back exactly
    (big,) = scorer.score_rows([{**rows[0], "Lead ID": 2**63 + 1}])
    assert big["lead_id"] == str(2**63 + 1)

    # a plain export (--label/--id/--time, no mapping) is read the same way
    monkeypatch.setenv("LEADSCORE_MODELS_DIR", str(tmp_path / "plain_models"))
    plain = make_export(1500, seed=4).drop(columns=["Profiling OK"])
    plain.to_csv(tmp_path / "plain.csv", index=False)
    code, output = run(
        "train", str(tmp_path / "plain.csv"), "--label", "Bought", "--id", "Lead ID",
        "--time", "Signed up",
    )  # fmt: skip
    assert code == 0, output
    scorer = TabularScorer.load(Settings())
    head = plain.head(30).drop(columns=["Bought"])
    head.to_csv(tmp_path / "head.csv", index=False)
    table = read_table(
        tmp_path / "head.csv", "Bought", "Lead ID", "Signed up", None, True, scorer.model.categories
    )
    rows = [{**row, "Region": int(row["Region"])} for row in head.to_dict("records")]
    _answers_match(scorer.score_rows(rows), scorer.score_table(table))
    # "" is an empty cell, as in a CSV file
    empty = scorer.score_rows([{**rows[0], "Employees": "", "Source": ""}])
    null = scorer.score_rows([{**rows[0], "Employees": None, "Source": None}])
    assert empty[0]["probability"] == null[0]["probability"]
    assert empty[0]["reasons"] == null[0]["reasons"]
    # a number column refuses "inf" instead of scoring it (and failing the audit record)
    with pytest.raises(ContractError) as refused:
        scorer.score_rows([{**rows[0], "Employees": "inf"}])
    assert [(p.row, p.column) for p in refused.value.problems] == [(1, "Employees")]


CELLS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12),
    st.sampled_from(["Select", "organic", "2025-03-01", "10", "no", ""]),
    # what no export cell holds: named by row and column
    st.sampled_from([float("inf"), float("nan"), "a\x00b", "x" * 20_001, {"a": 1}, [1, 2]]),
)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    cells=st.lists(
        st.fixed_dictionaries(
            {c: CELLS for c in ("Signed up", "Source", "Employees", "Region", "Profiling OK")}
        ),
        min_size=1,
        max_size=4,
    )
)
def test_any_cells_in_json_rows_are_scored_or_named(workspace: Path, cells: list[dict]) -> None:
    """Whatever a client puts in the cells, the answer is scores or problems naming a row and a
    column it sent, never another error (the service turns these into 400s)."""
    from features.loaders import ContractError
    from leadscore.settings import Settings
    from serving.tabular import TabularScorer

    rows = [{"Lead ID": f"J-{i}", **row} for i, row in enumerate(cells)]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LEADSCORE_MODELS_DIR", str(workspace / "models"))
        scorer = TabularScorer.load(Settings())
        try:
            answers = scorer.score_rows(rows)
        except ContractError as error:
            sent = {key for row in rows for key in row}
            assert all(p.row is None or 1 <= p.row <= len(rows) for p in error.problems)
            assert all(p.column is None or p.column in sent for p in error.problems), error
            return
    assert [a["lead_id"] for a in answers] == [r["Lead ID"] for r in rows]
    for answer in answers:
        assert answer["probability"] is None or 0 <= answer["probability"] <= 1


def test_serve_says_what_score_rows_expects(workspace: Path, tmp_path: Path) -> None:
    from leadscore.serve_commands import _tabular_hint
    from leadscore.settings import Settings

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LEADSCORE_MODELS_DIR", str(workspace / "models"))
        hint = _tabular_hint(Settings())
        patch.setenv("LEADSCORE_MODELS_DIR", str(tmp_path / "empty"))
        assert _tabular_hint(Settings()) is None
    assert hint is not None and '"Lead ID"' in hint  # the id as the export names it


def test_an_export_column_named_like_a_crm_feature_is_typed_by_its_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """'source' and 'industry' are CRM features (categories there); here they are numbers."""
    monkeypatch.setenv("LEADSCORE_MODELS_DIR", str(tmp_path / "models"))
    rng = np.random.default_rng(2)
    rows = 1200
    source = rng.choice([10, 20, 30, 40], rows)
    export = pd.DataFrame(
        {
            "customer": [f"C{i}" for i in range(rows)],
            "source": source,
            "industry": rng.integers(0, 5, rows),
            "Opted In": rng.choice(["TRUE", "FALSE"], rows),  # as Excel writes booleans
            "won": (rng.random(rows) < np.where(source > 20, 0.5, 0.2)).astype(int),
        }
    )
    export.to_csv(tmp_path / "export.csv", index=False)
    code, output = run("train", str(tmp_path / "export.csv"), "--label", "won", "--id", "customer")
    assert code == 0, output
    from leadscore.settings import Settings
    from training.registry import load_champion
    from training.tabular import TABULAR_MODEL_NAME

    model, _ = load_champion(Settings(), name=TABULAR_MODEL_NAME)
    assert "source" in model.columns and "source" not in model.categories
    assert model.categories["Opted In"] == ["FALSE", "TRUE"]

    # a JSON boolean is read in the export's own spelling of it
    from serving.tabular import TabularScorer

    scorer = TabularScorer.load(Settings())
    row = {"customer": "N1", "source": 30, "industry": 2}
    as_json = scorer.score_rows(
        [{**row, "Opted In": True}, {**row, "customer": "N2", "Opted In": False}]
    )
    as_text = scorer.score_rows(
        [{**row, "Opted In": "TRUE"}, {**row, "customer": "N2", "Opted In": "FALSE"}]
    )
    assert [a["probability"] for a in as_json] == [a["probability"] for a in as_text]
    assert all(not a["quality_flags"] for a in as_json)


def test_a_column_empty_in_training_is_left_out_and_does_not_block_scoring(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its type would be a guess ("number"), which the next file, where it is filled, breaks."""
    monkeypatch.setenv("LEADSCORE_MODELS_DIR", str(tmp_path / "models"))
    export = make_export(1500).drop(columns=["Profiling OK"]).assign(Country=None)
    # a hash pandas 2 took for a huge number (and crashed on); an id-like column for the audit
    export["Ref"] = [f"4e7468822{i:05d}d42eee" for i in range(len(export))]
    export.to_csv(tmp_path / "export.csv", index=False)
    plain = ["--label", "Bought", "--id", "Lead ID", "--time", "Signed up"]
    code, output = run("train", str(tmp_path / "export.csv"), *plain)
    assert code == 0, output
    assert "Left out 2 column(s)" in output, output
    found = re.search(r"Report: (\S+?report\.md)", output.replace("\n", ""))
    assert found is not None, output
    report = Path(found.group(1)).read_text()
    assert "Refused `Country`: empty in every training row" in report
    assert "One row per lead of the export" in report and "scored snapshots" not in report
    # the settings of CRM training that a table does not use are not listed as if used
    assert "snapshot.horizon_days" not in report and "features.half_life_days" not in report
    importance = pd.read_csv(Path(found.group(1)).with_name("importance.csv"))
    assert set(importance["group"]) == {"export column"}  # not the CRM registry's "fit"
    from leadscore.settings import Settings
    from training.registry import load_champion
    from training.tabular import TABULAR_MODEL_NAME

    model, _ = load_champion(Settings(), name=TABULAR_MODEL_NAME)
    assert "Country" not in model.columns and "Ref" not in model.columns
    new = export.head(50).assign(Country="India").drop(columns=["Bought"])
    new.to_csv(tmp_path / "new.csv", index=False)
    out = tmp_path / "scores.csv"
    code, output = run("score", str(tmp_path / "new.csv"), *plain, "--out", str(out))
    assert code == 0, output
    assert pd.read_csv(out)["probability"].notna().all()
    # without --id the champion's id column names the rows, as it did in training
    code, output = run("score", str(tmp_path / "new.csv"), "--label", "Bought", "--out", str(out))
    assert code == 0 and "Ids from column 'Lead ID'" in output, output
    assert pd.read_csv(out)["lead_id"].tolist() == new["Lead ID"].tolist()


def test_another_export_is_not_promoted_over_the_champion_by_itself(
    workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing to compare on when the new table lacks the champion's columns: training on a
    second dataset silently displaced the first one's champion."""
    monkeypatch.setenv("LEADSCORE_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    code, output = run("train", *mapped(workspace))
    assert code == 0 and "promoted to champion" in output, output
    other = tmp_path / "other.csv"
    make_export(seed=5).drop(columns=["Region"]).to_csv(other, index=False)
    code, output = run("train", str(other), "--label", "Bought", "--id", "Lead ID")
    said = " ".join(output.split())
    assert code == 0, output
    assert (
        "Version 2 (challenger): not promoted: not compared: this table lacks 1 column(s)" in said
    )
    assert "leadscore models --tabular --promote VERSION" in said
    # the same export again changes nothing: the gate is the CRM model's (a tie promoted v2)
    code, output = run("train", *mapped(workspace))
    said = " ".join(output.split())
    assert code == 0 and "Version 3 (challenger): not promoted" in said, said
    assert "trained on no newer data" in said and "gain nothing" in said

    # the first export, scored without its mapping, keeps the ids its mapping declared
    out = tmp_path / "scores.csv"
    code, output = run(
        "score", str(workspace / "export.csv"), "--label", "Bought", "--out", str(out)
    )
    assert code == 0, output
    assert "Ids from column 'Lead ID'" in output
    assert pd.read_csv(out)["lead_id"].str.startswith("X-").all()
