"""The data contract: every loader gives the same typed tables, every problem is named exactly."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from features.contract import to_numeric
from features.loaders import ContractError, Problem, load_tables, read_crm, read_tabular, write_sql
from leadscore.cli import app
from training.tabular import feature_frame


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _edit_csv(folder: Path, table: str, edit) -> None:
    path = folder / f"{table}.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame = edit(frame)
    frame.to_csv(path, index=False)


def _set(row: int, column: str, value: str):
    """Edit one cell; ``row`` counts data rows from 1, like the problems do."""

    def edit(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[row - 1, column] = value
        return frame

    return edit


def _where(problems: list[Problem]) -> set[tuple[str, int | None, str | None]]:
    return {(p.table, p.row, p.column) for p in problems}


def test_demo_data_loads_typed(demo_parquet: Path) -> None:
    tables = load_tables(demo_parquet)
    assert tables.leads["lead_id"].is_unique
    assert str(tables.leads["created_at"].dtype) == "datetime64[ns]"
    assert str(tables.activities["occurred_at"].dtype) == "datetime64[ns]"
    assert str(tables.outcomes["won"].dtype) == "boolean"
    assert tables.activities["lead_id"].isin(tables.leads["lead_id"]).all()


CORRUPTIONS = {
    "unparseable timestamp": (
        "activities",
        _set(5, "occurred_at", "next tuesday"),
        ("activities", 5, "occurred_at"),
    ),
    "duplicate lead_id": (
        "leads",
        lambda f: _set(10, "lead_id", f.loc[2, "lead_id"])(f),
        ("leads", 10, "lead_id"),
    ),
    "lead_id too long for the audit log": (
        "leads",
        _set(6, "lead_id", "L" * 201),
        ("leads", 6, "lead_id"),
    ),
    "created_at centuries ago": (
        "leads",
        _set(3, "created_at", "1700-01-01T00:00:00"),  # its age in nanoseconds would wrap around
        ("leads", 3, "created_at"),
    ),
    "activity for unknown lead": (
        "activities",
        _set(7, "lead_id", "NOBODY"),
        ("activities", 7, "lead_id"),
    ),
    "outcome for unknown lead": (
        "outcomes",
        _set(2, "lead_id", "NOBODY"),
        ("outcomes", 2, "lead_id"),
    ),
    "won not boolean": ("outcomes", _set(3, "won", "maybe"), ("outcomes", 3, "won")),
    "missing required column": (
        "leads",
        lambda f: f.drop(columns=["created_at"]),
        ("leads", None, "created_at"),
    ),
    "empty required value": (
        "activities",
        _set(4, "activity_type", ""),
        ("activities", 4, "activity_type"),
    ),
}


@pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
def test_each_corruption_is_named_exactly(kind: str, demo_csv: Path, tmp_path: Path) -> None:
    table, edit, expected = CORRUPTIONS[kind]
    folder = _copy(demo_csv, tmp_path / "crm")
    _edit_csv(folder, table, edit)
    tables, problems = read_crm(folder)
    assert tables is None
    assert expected in _where(problems), [str(p) for p in problems]


def test_outcome_closed_before_creation(demo_csv: Path, tmp_path: Path) -> None:
    folder = _copy(demo_csv, tmp_path / "crm")
    leads = pd.read_csv(folder / "leads.csv", dtype=str, keep_default_na=False)
    created = leads.set_index("lead_id")["created_at"]

    def edit(frame: pd.DataFrame) -> pd.DataFrame:
        before = pd.Timestamp(created[frame.loc[0, "lead_id"]]) - pd.Timedelta(days=3)
        frame.loc[0, "closed_at"] = before.isoformat()
        return frame

    _edit_csv(folder, "outcomes", edit)
    _, problems = read_crm(folder)
    assert ("outcomes", 1, "closed_at") in _where(problems)
    assert "before the lead was created" in str(problems[0])


def test_file_level_problems(demo_csv: Path, tmp_path: Path) -> None:
    empty = _copy(demo_csv, tmp_path / "empty")
    (empty / "activities.csv").write_text("")
    assert "activities.csv is empty" in str(read_crm(empty)[1][0])

    semicolons = _copy(demo_csv, tmp_path / "semicolons")  # as a German Excel saves CSV
    leads = pd.read_csv(semicolons / "leads.csv", dtype=str, keep_default_na=False)
    leads.to_csv(semicolons / "leads.csv", sep=";", index=False)
    read, problems = read_crm(semicolons)
    assert not problems and read is not None
    pd.testing.assert_frame_equal(read.leads, read_crm(demo_csv)[0].leads)

    latin1 = _copy(demo_csv, tmp_path / "latin1")
    (latin1 / "leads.csv").write_bytes(b"lead_id,created_at,city\nL1,2025-01-01,M\xfcnchen\n")
    problem = read_crm(latin1)[1][0]
    assert problem.table == "leads"
    assert "not UTF-8" in problem.message and "line 2" in problem.message


def test_a_nul_is_named_where_it_is_instead_of_being_lost(
    demo_csv: Path, demo_parquet: Path, tmp_path: Path
) -> None:
    # pandas' CSV reader would cut "White\x00paper" to "White" without a word; PostgreSQL (a
    # source, the audit log) refuses NUL outright
    csv = _copy(demo_csv, tmp_path / "csv")
    _edit_csv(csv, "activities", _set(5, "asset", "White\x00paper"))
    (problem,) = read_crm(csv)[1]
    assert problem.table == "activities" and "NUL byte on line 6" in problem.message

    parquet = _copy(demo_parquet, tmp_path / "parquet")
    leads = pd.read_parquet(parquet / "leads.parquet")
    leads.loc[3, "company"] = "ACME\x00GmbH"
    leads.to_parquet(parquet / "leads.parquet")
    assert _where(read_crm(parquet)[1]) == {("leads", 4, "company")}

    sqlite = f"sqlite:///{tmp_path / 'crm.db'}"
    tables = load_tables(demo_parquet)
    tables.leads.loc[1, "city"] = "Ber\x00lin"
    write_sql(tables, sqlite)
    assert ("leads", None, "city") in {(p.table, None, p.column) for p in read_crm(sqlite)[1]}

    export = tmp_path / "export.parquet"
    city = pd.Series(["Ulm", "U\x00lm"], dtype="category")  # categories are checked too
    pd.DataFrame({"id": ["a", "b"], "city": city, "won": [1, 0]}).to_parquet(export)
    assert _where(read_tabular(export, label="won", id_column="id")[1]) == {
        ("export.parquet", 2, "city")
    }


def test_every_problem_is_reported_at_once(demo_csv: Path, tmp_path: Path) -> None:
    folder = _copy(demo_csv, tmp_path / "crm")
    expected = set()
    for table, edit, where in CORRUPTIONS.values():
        if where[1] is None:  # a missing column hides row checks of that table
            continue
        _edit_csv(folder, table, edit)
        expected.add(where)
    _, problems = read_crm(folder)
    assert expected <= _where(problems)
    with pytest.raises(ContractError) as raised:
        load_tables(folder)
    assert len(raised.value.problems) == len(problems)


def test_csv_and_parquet_load_identically(demo_csv: Path, demo_parquet: Path) -> None:
    from_csv, from_parquet = load_tables(demo_csv), load_tables(demo_parquet)
    for table in ("leads", "activities", "outcomes"):
        pd.testing.assert_frame_equal(from_csv.table(table), from_parquet.table(table))


@pytest.mark.postgres
def test_sqlite_and_postgres_load_identically(
    demo_parquet: Path, tmp_path: Path, postgres_url: str
) -> None:
    expected = load_tables(demo_parquet)
    sqlite_url = f"sqlite:///{tmp_path / 'crm.db'}"
    for url in (sqlite_url, postgres_url):
        write_sql(expected, url)
        loaded = load_tables(url)
        for table in ("leads", "activities", "outcomes"):
            pd.testing.assert_frame_equal(
                _canonical(loaded.table(table)),
                _canonical(expected.table(table)),
                obj=f"{url} {table}",
            )


def test_a_mistyped_sqlite_path_is_named_not_created(tmp_path: Path) -> None:
    tables, problems = read_crm(f"sqlite:///{tmp_path / 'nope.db'}")
    assert tables is None and [p.message for p in problems] == [
        f"{tmp_path / 'nope.db'} does not exist"
    ]
    assert not (tmp_path / "nope.db").exists()


def _canonical(frame: pd.DataFrame) -> pd.DataFrame:
    """Databases keep no row order: compare the same rows, sorted."""
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


def test_tabular_mode_checks_label_and_ids(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(f"id,country,converted\na,DE,1\nb,AT,0\nb,CH,maybe\n{'c' * 201},FR,0\nd,IT,\n")
    data, problems = read_tabular(path, label="converted", id_column="id")
    assert data is None
    assert _where(problems) == {
        ("export.csv", 3, "converted"),
        ("export.csv", 3, "id"),
        ("export.csv", 4, "id"),  # longer than the audit log's 200 characters
        ("export.csv", 5, "converted"),
    }
    assert {p.message for p in problems if p.column == "converted"} == {
        "label 'maybe' is not 0/1 or true/false",
        "label is empty",
    }
    path.write_text("id,slice,converted\na,DE,1\nb,AT,0\n")
    data, problems = read_tabular(path, label="converted", id_column="id")
    assert _where(problems) == {("export.csv", None, "slice")}  # a name training uses itself
    path.write_text("id,country,converted\na,DE,1\nb,AT,0\n")
    data, problems = read_tabular(path, label="converted", id_column="id")
    assert not problems and data is not None
    assert data.frame["converted"].tolist() == [True, False]


def test_validate_command_exit_codes(demo_csv: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["validate", str(demo_csv)])
    assert ok.exit_code == 0, ok.output
    assert "no problems" in ok.output

    folder = _copy(demo_csv, tmp_path / "crm")
    _edit_csv(folder, "outcomes", _set(3, "won", "maybe"))
    report = tmp_path / "problems.csv"
    bad = runner.invoke(app, ["validate", str(folder), "--report", str(report)])
    assert bad.exit_code == 1
    assert "maybe" in bad.output
    written = pd.read_csv(report)
    assert written.loc[0, ["table", "row", "column"]].tolist() == ["outcomes", 3, "won"]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    values=st.lists(
        st.one_of(
            # a NUL is a problem of the whole file (test_a_nul_is_named_where_it_is_...); a lone
            # surrogate cannot be written to a UTF-8 file at all
            st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12),
            st.datetimes(
                min_value=pd.Timestamp("2000-01-01"), max_value=pd.Timestamp("2030-01-01")
            ).map(lambda d: d.isoformat()),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_any_timestamp_text_is_parsed_or_named(values: list[str], tmp_path: Path) -> None:
    folder = tmp_path / "h"
    folder.mkdir(exist_ok=True)
    leads = pd.DataFrame({"lead_id": [f"L{i}" for i in range(len(values))], "created_at": values})
    leads.to_csv(folder / "leads.csv", index=False)
    tables, problems = read_crm(folder)
    raw = pd.read_csv(folder / "leads.csv", dtype=str, keep_default_na=False)["created_at"]
    parsed = pd.to_datetime(
        raw.str.strip().mask(raw.str.strip() == ""), format="ISO8601", utc=True, errors="coerce"
    )
    bad_rows = {i + 1 for i, ok in enumerate(parsed.notna()) if not ok}
    assert {p.row for p in problems if p.column == "created_at"} == bad_rows
    assert (tables is None) == bool(problems)


def test_a_hash_that_looks_like_a_huge_number_is_read_as_text(tmp_path: Path) -> None:
    # pandas 2 crashed the process on "4e746882..." (an exponent beyond any int)
    hashes = ["4e746882294308d42eeed71ba0aacbf8", "1a2b", "9e99999999999999"]
    for dtype in (object, "string", "category"):
        assert to_numeric(pd.Series(hashes, dtype=dtype)).isna().all()
    assert to_numeric(pd.Series(["1e5", "1e00005", "-2.5"], dtype=object)).tolist() == [
        1e5,
        1e5,
        -2.5,
    ]
    # a Parquet export keeps a pandas category column as one; training types it by its values
    frame = pd.DataFrame({"ref": pd.Categorical(hashes), "converted": [1, 0, 1]})
    frame.to_parquet(tmp_path / "export.parquet")
    data, problems = read_tabular(tmp_path / "export.parquet", label="converted")
    assert not problems and data is not None
    features, _ = feature_frame(data)
    assert features["ref"].tolist() == hashes


def test_a_semicolon_export_is_read_with_commas_in_its_cells(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_text("id;note;converted\n1;a,b;1\n2;c;0\n3;d,e,f;1\n")  # German Excel
    data, problems = read_tabular(path, label="converted")
    assert not problems and data is not None
    assert data.frame["note"].tolist() == ["a,b", "c", "d,e,f"]


def test_empty_rows_excel_saves_below_the_data_are_dropped(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_text("id,country,converted\na,DE,1\n,,\nb,AT,0\n,,\n,,\n")
    data, problems = read_tabular(path, label="converted", id_column="id")
    # the empty row between two leads is still a row without an id (row 2), named as such
    assert data is None and _where(problems) == {
        ("excel.csv", 2, "id"),
        ("excel.csv", 2, "converted"),
    }
    path.write_text("id,country,converted\na,DE,1\nb,AT,0\n,,\n,,\n")
    data, problems = read_tabular(path, label="converted", id_column="id")
    assert not problems and data is not None and data.frame["lead_id"].tolist() == ["a", "b"]


def test_parquet_moments_pandas_cannot_hold_are_named_not_a_crash(
    demo_parquet: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "crm"
    folder.mkdir()
    for path in demo_parquet.glob("*.parquet"):
        frame = pd.read_parquet(path)
        if path.stem == "leads":  # microseconds, as pyarrow writes; 9999: a CRM's "never"
            frame["created_at"] = frame["created_at"].astype("datetime64[us]")
            frame.loc[3, "created_at"] = pd.Timestamp("1500-01-01").as_unit("us")
            frame.loc[5, "created_at"] = np.datetime64("9999-12-31", "us")
        frame.to_parquet(folder / path.name)
    tables, problems = read_crm(folder)
    assert tables is None
    outside = {(p.row, p.column) for p in problems if "outside the years" in p.message}
    assert outside == {(4, "created_at"), (6, "created_at")}


def test_dates_outside_the_range_are_named_as_such_in_every_date_column(tmp_path: Path) -> None:
    """Year 2300 does not fit pandas' nanoseconds; 2250 and 1900 do; all three are out of range,
    in a CRM's timestamps and in a plain export's time column alike."""
    path = tmp_path / "export.csv"
    path.write_text(
        "id,signed_up,converted\n"
        "a,2300-01-01,1\nb,2250-06-01,0\nc,1900-01-01,1\nd,2025-02-30,0\ne,2025-03-01,1\n"
    )
    data, problems = read_tabular(path, label="converted", id_column="id", time_column="signed_up")
    assert data is None
    messages = {p.row: p.message for p in problems}
    assert set(messages) == {1, 2, 3, 4}
    assert all("is outside the years 1950 to 2199" in messages[row] for row in (1, 2, 3))
    assert "'2025-02-30' is not a timestamp" in messages[4]  # no such day: not a range problem


def test_a_crm_timestamp_beyond_nanoseconds_is_out_of_range_not_unreadable(
    demo_csv: Path, tmp_path: Path
) -> None:
    folder = _copy(demo_csv, tmp_path / "crm")
    leads = pd.read_csv(folder / "leads.csv", dtype=str)
    leads.loc[0, "created_at"] = "2300-01-01T00:00:00+02:00"
    leads.to_csv(folder / "leads.csv", index=False)
    _, problems = read_crm(folder)
    assert [(p.row, p.column) for p in problems] == [(1, "created_at")]
    assert "is outside the years 1950 to 2199" in problems[0].message
