"""/score_rows: rows of a CRM export scored by the tabular champion, over real HTTP."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from serving.audit import AuditLog
from tests.serving.conftest import Server, leadscore


def export_rows(path: Path, n: int) -> list[dict]:
    """Rows as a CRM sends them: the export's own columns, numbers as numbers, empty as null."""
    table = pd.read_csv(path).drop(columns=["Converted"]).head(n)
    return [
        {k: (None if pd.isna(v) else v) for k, v in row.items()} for row in table.to_dict("records")
    ]


@pytest.fixture(scope="module")
def scored_file(server: Server, export: tuple[Path, Path], tmp_path_factory) -> pd.DataFrame:
    """The same export scored as a file by `leadscore score` (the batch path), converted rows
    too (the rows sent hold no label)."""
    path, mapping = export
    out = tmp_path_factory.mktemp("rows") / "scores.csv"
    done = leadscore(
        *("score", str(path), "--mapping", str(mapping), "--out", str(out), "--include-closed"),
        env=server.env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return pd.read_csv(out, dtype={"lead_id": str}).set_index("lead_id")


def test_rows_get_the_scores_and_reasons_the_file_gets_and_are_audited(
    server: Server, export: tuple[Path, Path], scored_file: pd.DataFrame, audit_url: str
) -> None:
    rows = export_rows(export[0], 40)
    response = server.client().post("/score_rows", json={"rows": rows})
    assert response.status_code == 200, response.text
    answers = response.json()
    assert [a["lead_id"] for a in answers] == [r["Lead Number"] for r in rows]
    for answer in answers:
        expected = scored_file.loc[answer["lead_id"]]
        if not answer["consent_profiling"]:
            assert answer["probability"] is None and answer["route"]["action"] == expected["action"]
            continue
        assert answer["probability"] == pytest.approx(expected["probability"], abs=1e-6)
        assert answer["grade"] == expected["grade"]
        assert answer["route"]["action"] == expected["action"]
        assert answer["reasons"][0]["text"] == expected["reason_1_text"]
        assert answer["model"]["name"] == "leadscore-tabular"
    first = answers[0]
    record = AuditLog(audit_url).history(first["lead_id"])
    record = record[record["request_id"] == first["request_id"]]
    assert len(record) == 1 and record["reasons"].iloc[0] == first["reasons"]


def test_rows_are_read_with_the_champions_mapping(
    server: Server, export: tuple[Path, Path]
) -> None:
    (row,) = export_rows(export[0], 1)
    client = server.client()
    empty = client.post("/score_rows", json={"rows": [{**row, "Industry": None}]})
    select = client.post("/score_rows", json={"rows": [{**row, "Industry": "Select"}]})
    assert empty.status_code == select.status_code == 200, select.text
    assert empty.json()[0]["probability"] == select.json()[0]["probability"]  # 'Select' = empty
    as_text = {k: (str(v) if isinstance(v, int | float) else v) for k, v in row.items()}
    same = client.post("/score_rows", json={"rows": [as_text]}).json()[0]
    english = client.post("/score_rows", json={"rows": [row]}).json()[0]
    german = client.post("/score_rows", json={"rows": [row], "lang": "de"}).json()[0]
    assert same["probability"] == english["probability"] == german["probability"]
    assert german["route"]["why"] != english["route"]["why"]


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"Employees": "about fifty"}, ["rows", 0, "Employees"]),
        ({"Lead Number": None}, ["rows", 0, "Lead Number"]),
        ({"Lead Number": "L" * 201}, ["rows", 0, "Lead Number"]),  # the audit log holds 200
        ({"Country": {"name": "Germany"}}, ["rows", 0, "Country"]),
        ({"Country": ["Germany"]}, ["rows", 0, "Country"]),
    ],
)
def test_a_bad_cell_is_a_4xx_naming_row_and_column(
    server: Server, export: tuple[Path, Path], change: dict, where: list
) -> None:
    (row,) = export_rows(export[0], 1)
    response = server.client().post("/score_rows", json={"rows": [{**row, **change}]})
    assert response.status_code == 400, response.text
    assert [error["loc"] for error in response.json()["detail"]] == [where]  # one error per cell


def test_rows_without_their_id_or_columns_are_refused(
    server: Server, export: tuple[Path, Path]
) -> None:
    rows = export_rows(export[0], 2)
    client = server.client()
    no_id = [{k: v for k, v in rows[0].items() if k != "Lead Number"}]
    assert client.post("/score_rows", json={"rows": no_id}).status_code == 400
    twice = [rows[0], rows[0]]
    assert client.post("/score_rows", json={"rows": twice}).status_code == 400
    lacking = [{"Lead Number": "X-1", "Country": "Germany"}]
    response = client.post("/score_rows", json={"rows": lacking})
    assert response.status_code == 400 and "Employees" in response.text
    notes = {**rows[0], "Notes": "called, left a message. " * 100}  # long text, not read
    assert client.post("/score_rows", json={"rows": [notes]}).status_code == 200
    owner = {**rows[0], "Owner": {"name": "Jana", "team": ["DACH"]}}  # not read: ignored
    assert client.post("/score_rows", json={"rows": [owner]}).status_code == 200
    for body in ({"rows": []}, {"rows": [{"Lead Number": {"nested": 1}}]}, {"rows": "x"}):
        assert client.post("/score_rows", json=body).status_code == 400
    assert server.client(token=None).post("/score_rows", json={"rows": rows}).status_code == 401


def test_model_endpoint_describes_the_tabular_champion(server: Server) -> None:
    tabular = server.client().post("/model").json()["tabular"]
    assert tabular["loaded"] and tabular["name"] == "leadscore-tabular"
    assert "Job Title" in tabular["features"]
    assert tabular["reading"]["mapping"]["id"] == "Lead Number"
