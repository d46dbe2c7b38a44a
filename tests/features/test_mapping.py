"""Column mappings: each example loads its real export, and every mistake names its YAML key."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.contract import TabularData
from features.loaders import ContractError, read_tabular
from features.mapping import (
    MappingError,
    apply_mapping,
    calendar_columns,
    column_reason,
    feature_names,
    load_mapping,
    to_numbers,
)

DATASETS = Path(__file__).resolve().parents[3] / "shared" / "datasets"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
needs_data = pytest.mark.skipif(not DATASETS.exists(), reason="../shared/datasets is missing")


def export() -> pd.DataFrame:
    """A CRM export as it comes: odd names, a dropdown placeholder, yes/no label, German dates."""
    return pd.DataFrame(
        {
            "Lead ID": ["L1", "L2", "L3", "L4"],
            "Created": ["03.01.2025", "04.01.2025", "06.01.2025", "07.01.2025"],
            "Branche": ["Software", "Select", "Retail", "Software"],
            "Employees": ["12", "250", "", "40"],
            "Postcode": ["01067", "80331", "10115", "20095"],
            "Kunde": ["ja", "nein", "nein", "ja"],
        }
    )


MAPPING = {
    "rename": {"Branche": "industry", "Kunde": "customer"},
    "missing_values": ["Select"],
    "id": "Lead ID",
    "label": {"column": "customer"},
    "time": {"column": "Created", "format": "%d.%m.%Y", "calendar": ["weekday"]},
    "features": {"categorical": ["Postcode"]},
}


def problems_of(error: pytest.ExceptionInfo[MappingError]) -> list[str]:
    return error.value.problems


# --------------------------------------------------------------------------- what a mapping does


def test_a_mapping_turns_an_export_into_tabular_data() -> None:
    data = apply_mapping(export(), MAPPING)
    assert isinstance(data, TabularData)
    frame = data.frame
    assert (data.label, data.id_column, data.time_column) == ("customer", "lead_id", "Created")
    assert frame["customer"].tolist() == [True, False, False, True]
    assert frame["lead_id"].tolist() == ["L1", "L2", "L3", "L4"]
    assert frame["created_at"].tolist()[0] == pd.Timestamp("2025-01-03")
    assert frame["Created_weekday"].tolist() == [4, 5, 0, 1]  # Friday 3 January 2025
    assert pd.isna(frame.loc[1, "industry"])  # "Select" means missing
    assert frame["Employees"].dtype == "Float64" and pd.isna(frame.loc[2, "Employees"])
    assert frame["Postcode"].tolist()[0] == "01067"  # declared categorical: the 0 stays
    assert frame.attrs["categorical"] == ["industry", "Postcode"]
    assert feature_names(data) == ["industry", "Employees", "Postcode", "Created_weekday"]


def test_new_leads_without_an_outcome_map_for_scoring() -> None:
    """Scoring reads leads whose outcome is not known yet: no label column needed."""
    fresh = export().drop(columns=["Kunde"])
    with pytest.raises(MappingError) as error:
        apply_mapping(fresh, MAPPING)
    assert any(p.startswith("rename.Kunde") for p in problems_of(error))
    data = apply_mapping(fresh, MAPPING, without_label=True)
    assert "customer" not in data.frame.columns
    assert feature_names(data) == ["industry", "Employees", "Postcode", "Created_weekday"]
    labelled = apply_mapping(export(), MAPPING, without_label=True)
    assert feature_names(labelled) == feature_names(data)  # a label that is there is no feature


def test_features_can_be_chosen_and_positive_values_named() -> None:
    mapping = {
        "label": {"column": "Kunde", "positive": ["ja"]},
        "features": {"include": ["Branche", "Employees"], "numeric": ["Employees"]},
    }
    data = apply_mapping(export(), mapping)
    assert feature_names(data) == ["Branche", "Employees"]
    assert data.frame["lead_id"].tolist() == ["row-1", "row-2", "row-3", "row-4"]
    assert data.time_column is None


def test_a_label_can_come_from_a_second_file(tmp_path: Path) -> None:
    pd.DataFrame({"deal": [1, 2], "lead": ["L4", "L2"]}).to_csv(tmp_path / "deals.csv", index=False)
    mapping = {
        "id": "Lead ID",
        "label": {"name": "won", "join": {"file": "deals.csv", "key": "lead"}},
        "features": {"exclude": ["Kunde"]},
    }
    data = apply_mapping(export(), mapping, base_dir=tmp_path)
    assert data.label == "won"
    assert data.frame["won"].tolist() == [False, True, False, True]


def test_row_order_is_a_time_axis_when_rows_are_chronological() -> None:
    data = apply_mapping(export(), {"label": {"column": "Kunde"}, "time": {"row_order": True}})
    assert data.time_column == "row_order"
    assert data.frame["row_order"].tolist() == [1, 2, 3, 4]
    assert data.frame["created_at"].is_monotonic_increasing


# --------------------------------------------------------------------------- the three examples


@needs_data
def test_x_education_mapping_loads_leads_csv() -> None:
    data = apply_mapping(DATASETS / "x-education" / "Leads.csv", EXAMPLES / "x-education.yaml")
    frame = data.frame
    assert len(frame) == 9240 and frame["lead_id"].is_unique
    assert frame[data.label].sum() == 3561
    assert frame["Specialization"].isna().sum() >= 1942  # "Select" counted as missing
    assert frame["Total Time Spent on Website"].dtype == "Float64"
    assert data.time_column is None


@needs_data
def test_bank_marketing_mapping_reads_semicolons_gzip_and_sentinels() -> None:
    path = DATASETS / "bank-marketing" / "bank-additional-full.csv.gz"
    data = apply_mapping(path, EXAMPLES / "bank-marketing.yaml")
    frame = data.frame
    assert len(frame) == 41188 and frame[data.label].sum() == 4640
    assert data.time_column == "row_order"
    assert frame["pdays"].isna().mean() == pytest.approx(0.963, abs=0.001)  # 999 = never
    assert frame["job"].isna().sum() == 330  # "unknown"
    assert frame["euribor3m"].dtype == "Float64"


@needs_data
def test_olist_mapping_labels_mqls_by_the_closed_deals_file() -> None:
    folder = DATASETS / "olist-funnel"
    data = apply_mapping(
        folder / "olist_marketing_qualified_leads_dataset.csv", EXAMPLES / "olist.yaml"
    )
    frame = data.frame
    assert len(frame) == 8000 and frame["won"].sum() == 842
    assert feature_names(data) == ["origin", "landing_page_id", "first_contact_date_weekday"]
    assert frame["created_at"].min() == pd.Timestamp("2017-06-14")
    assert frame["origin"].isna().sum() == 60 + 1099  # empty and "unknown"


# --------------------------------------------------------------------------- mistakes


def test_a_typo_in_a_key_is_named_with_its_path() -> None:
    with pytest.raises(MappingError) as error:
        apply_mapping(export(), {"label": {"colum": "Kunde"}})
    assert "label.colum: unknown key" in problems_of(error)[0]


def test_a_missing_label_section_is_named() -> None:
    with pytest.raises(MappingError) as error:
        apply_mapping(export(), {"id": "Lead ID"})
    assert problems_of(error) == ["label: required key is missing"]


def test_conflicting_choices_name_their_section() -> None:
    mapping = {
        "label": {"column": "Kunde", "join": {"file": "d.csv", "key": "x"}},
        "time": {"row_order": True, "format": "%Y"},
    }
    with pytest.raises(MappingError) as error:
        apply_mapping(export(), mapping)
    assert [p.split(":")[0] for p in problems_of(error)] == ["label", "time"]


def test_an_unknown_encoding_or_date_format_is_named_by_its_key() -> None:
    mapping = {
        **MAPPING,
        "read": {"encoding": "latin1x"},
        "time": {"column": "Created", "format": "%d.%Q.%Y"},
    }
    with pytest.raises(MappingError) as error:
        apply_mapping(export(), mapping)
    assert [p.split(":")[0] for p in problems_of(error)] == ["read.encoding", "time.format"]


@pytest.mark.parametrize("text", ["id;y\n1;1\n2;0\n", "id;note;y\n1;a,b;1\n2;c,d,e;0\n"])
def test_a_delimiter_other_than_the_mappings_is_named(tmp_path: Path, text: str) -> None:
    path = tmp_path / "excel.csv"
    path.write_text(text)
    with pytest.raises(ContractError, match=r"separated by ';': set read\.delimiter"):
        apply_mapping(path, {"label": {"column": "y"}, "id": "id"})


def test_an_export_marking_only_conversions_can_say_that_empty_means_no() -> None:
    marked = export().assign(Kunde=["Converted", "", "", "Converted"])
    label = {"column": "customer", "positive": ["Converted"]}
    with pytest.raises(ContractError, match="empty_is_negative"):
        apply_mapping(marked, {**MAPPING, "label": label})
    data = apply_mapping(marked, {**MAPPING, "label": {**label, "empty_is_negative": True}})
    assert data.frame["customer"].tolist() == [True, False, False, True]
    yes_no = export().assign(Kunde=["ja", "", "nein", ""])
    data = apply_mapping(
        yes_no, {**MAPPING, "label": {"column": "customer", "empty_is_negative": True}}
    )
    assert data.frame["customer"].tolist() == [True, False, False, False]


def test_dates_with_a_utc_offset_are_read_in_utc() -> None:
    offsets = export().assign(
        Created=["2025-01-03 09:00 +0100"] * 2 + ["2025-01-06 09:00 +0000"] * 2
    )
    time = {"column": "Created", "format": "%Y-%m-%d %H:%M %z"}
    data = apply_mapping(offsets, {**MAPPING, "time": time})
    assert data.frame["created_at"].tolist() == [
        pd.Timestamp("2025-01-03 08:00"),
        pd.Timestamp("2025-01-03 08:00"),
        pd.Timestamp("2025-01-06 09:00"),
        pd.Timestamp("2025-01-06 09:00"),
    ]


def test_columns_the_data_lacks_are_named_with_key_and_a_suggestion() -> None:
    mapping = {
        "id": "LeadID",
        "label": {"column": "Kunde"},
        "features": {"categorical": ["Branche", "Postleitzahl"]},
        "missing_by_column": {"Employes": [0]},
    }
    with pytest.raises(MappingError) as error:
        apply_mapping(export(), mapping)
    found = problems_of(error)
    assert found[0].startswith("id: column 'LeadID' is not in the table (did you mean 'Lead ID'")
    assert any(p.startswith("missing_by_column.Employes:") for p in found)
    assert any(p.startswith("features.categorical[1]: column 'Postleitzahl'") for p in found)


def test_a_join_key_missing_from_the_second_file_is_named(tmp_path: Path) -> None:
    pd.DataFrame({"lead": ["L1"]}).to_csv(tmp_path / "deals.csv", index=False)
    mapping = {"id": "Lead ID", "label": {"join": {"file": "deals.csv", "key": "lead_id"}}}
    with pytest.raises(MappingError, match=r"label\.join\.key: column 'lead_id'"):
        apply_mapping(export(), mapping, base_dir=tmp_path)


def test_bad_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("label:\n  column: y\n  positive: [yes\n")
    with pytest.raises(MappingError, match="line"):
        load_mapping(path)


def test_data_problems_name_row_and_column() -> None:
    table = export()
    table.loc[2, "Kunde"] = "vielleicht"
    table.loc[1, "Lead ID"] = "L1"
    table.loc[3, "Created"] = "2025-01-07"
    with pytest.raises(ContractError) as error:
        apply_mapping(table, MAPPING)
    where = {(p.row, p.column) for p in error.value.problems}
    assert where == {(3, "Kunde"), (2, "Lead ID"), (4, "Created")}
    assert "time.format" in str(error.value)


def test_compressed_exports_are_read_and_checked_for_nul_inside(tmp_path: Path) -> None:
    mapping = {"id": "id", "label": {"column": "won"}}
    for name in ("export.csv.zip", "export.csv.gz", "export.csv.bz2", "export.csv.xz"):
        pd.DataFrame({"id": ["a", "b"], "won": [1, 0]}).to_csv(tmp_path / name, index=False)
        assert len(apply_mapping(tmp_path / name, mapping).frame) == 2  # headers hold NULs
        pd.DataFrame({"id": ["a", "b\x00c"], "won": [1, 0]}).to_csv(tmp_path / name, index=False)
        with pytest.raises(ContractError, match="NUL byte on line 3"):
            apply_mapping(tmp_path / name, mapping)
    bom = tmp_path / "bom.csv"
    bom.write_bytes("id,won\na\x00b,1\n".encode("utf-8-sig"))
    with pytest.raises(ContractError, match="NUL byte on line 2"):
        apply_mapping(bom, {**mapping, "read": {"encoding": "utf-8-sig"}})


def test_a_nul_in_an_export_is_named_not_cut_off(tmp_path: Path) -> None:
    csv = tmp_path / "export.csv"
    csv.write_bytes("id;Stadt;won\na;Köln;1\nb;Ul\x00m;0\n".encode("latin-1"))
    mapping = {
        "id": "id",
        "label": {"column": "won"},
        "read": {"delimiter": ";", "encoding": "latin-1"},
    }
    with pytest.raises(ContractError, match="NUL byte on line 3"):
        apply_mapping(csv, mapping)
    parquet = tmp_path / "export.parquet"
    pd.DataFrame({"id": ["a", "b"], "Stadt": ["Köln", "Ul\x00m"], "won": [1, 0]}).to_parquet(
        parquet
    )
    with pytest.raises(ContractError) as error:
        apply_mapping(parquet, {"id": "id", "label": {"column": "won"}})
    assert [(p.row, p.column) for p in error.value.problems] == [(2, "Stadt")]


def test_a_german_export_reads_decimal_commas(tmp_path: Path) -> None:
    csv = tmp_path / "export.csv"
    csv.write_text("id;Umsatz;won\na;3,5;1\nb;12;0\nc;;1\n", encoding="utf-8")
    mapping = {"id": "id", "label": {"column": "won"}, "read": {"delimiter": ";", "decimal": ","}}
    data = apply_mapping(csv, mapping)
    assert data.frame["Umsatz"].tolist()[:2] == [3.5, 12.0] and pd.isna(data.frame["Umsatz"][2])


def test_a_rename_onto_a_column_the_export_has_is_named() -> None:
    table = export().assign(industry="x")  # MAPPING renames Branche to industry
    with pytest.raises(MappingError, match=r"rename\.Branche"):
        apply_mapping(table, MAPPING)
    twice = {**MAPPING, "rename": {"Branche": "industry", "Kunde": "industry"}}
    with pytest.raises(MappingError, match="more than one column"):
        apply_mapping(export(), twice)


def test_a_decimal_comma_export_refuses_a_thousands_point() -> None:
    numbers = to_numbers(pd.Series(["3,5", "1.000", "12", None, "inf"]), ",")
    assert numbers.tolist()[:1] == [3.5] and numbers[2] == 12
    assert numbers[[1, 3, 4]].isna().all()  # "1.000" is no number here, not 1


def test_yaml_numbers_and_booleans_are_compared_as_text(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("label: {column: Kunde}\nmissing_by_column: {Employees: [250]}\n")
    data = apply_mapping(export(), path)
    assert data.frame["Employees"].isna().tolist() == [False, True, True, False]


def test_consent_column_is_read_not_learnt_and_empty_means_yes(tmp_path: Path) -> None:
    export = pd.DataFrame(
        {
            "id": ["a", "b", "c", "d"],
            "won": ["1", "0", "1", "0"],
            "size": ["10", "20", "30", "40"],
            "may_profile": ["yes", "no", "", "0"],
        }
    )
    mapping = {"id": "id", "label": {"column": "won"}, "consent": "may_profile"}
    data = apply_mapping(export, mapping)
    assert data.frame["consent_profiling"].tolist() == [True, False, True, False]
    assert feature_names(data) == ["size"]

    export.loc[2, "may_profile"] = "perhaps"
    with pytest.raises(ContractError) as error:
        apply_mapping(export, mapping)
    problem = error.value.problems[0]
    assert (problem.row, problem.column) == (3, "may_profile") and "perhaps" in problem.message


def test_a_column_named_like_the_contracts_consent_is_consent(tmp_path: Path) -> None:
    export = pd.DataFrame(
        {"won": ["1", "0"], "size": ["1", "2"], "consent_profiling": ["false", "true"]}
    )
    data = apply_mapping(export, {"label": {"column": "won"}})
    assert data.frame["consent_profiling"].tolist() == [False, True]
    assert feature_names(data) == ["size"]
    path = tmp_path / "plain.csv"
    export.to_csv(path, index=False)
    plain, problems = read_tabular(path, "won")
    assert not problems and plain is not None
    assert plain.frame["consent_profiling"].tolist() == [False, True]


@pytest.mark.parametrize(
    ("value", "lang", "text"),
    [
        ("Google", "en", "Lead Source: Google"),
        (None, "en", "Lead Source: not given"),
        (None, "de", "Lead Source: nicht angegeben"),
        (3.0, "en", "Lead Source: 3"),
        (2.5, "de", "Lead Source: 2,5"),
        (float("nan"), "de", "Lead Source: nicht angegeben"),
        ("called twice " * 50, "en", "Lead Source: " + ("called twice " * 5)[:59].rstrip() + "…"),
    ],
)
def test_column_reasons_name_the_column_and_the_leads_value(
    value: object, lang: str, text: str
) -> None:
    assert column_reason("Lead Source", value, lang) == text


@pytest.mark.parametrize(
    ("column", "value", "lang", "text"),
    [
        ("first_contact_date_weekday", 3.0, "en", "first_contact_date: on a Thursday"),
        ("first_contact_date_weekday", 0.0, "de", "first_contact_date: an einem Montag"),
        ("signed_up_month", 3.0, "de", "signed_up: im März"),
        ("signed_up_hour", 14.0, "en", "signed_up: at 14:00"),
        ("signed_up_weekday", 9.0, "en", "signed_up_weekday: 9"),  # no day: said as it is
    ],
)
def test_calendar_parts_of_a_date_are_said_as_a_person_says_them(
    column: str, value: float, lang: str, text: str
) -> None:
    calendar = {column: column.rpartition("_")[0]}  # as calendar_columns() names them
    assert column_reason(column, value, lang, calendar) == text
    if value < 7:  # a column that is no calendar part of a date stays a number
        assert column_reason(column, value, lang).startswith(f"{column}: ")


def test_calendar_columns_are_those_the_mapping_adds() -> None:
    mapping = {"time": {"column": "signed_up", "calendar": ["weekday", "month"]}}
    calendar = calendar_columns(mapping)
    assert set(calendar) == {"signed_up_weekday", "signed_up_month"}
    assert column_reason("signed_up_weekday", None, "en", calendar) == (
        "signed_up (weekday): not given"
    )
    assert column_reason("signed_up_month", None, "de", calendar) == (
        "signed_up (Monat): nicht angegeben"
    )
    assert column_reason("tenure_month", 7.0, "en", calendar) == "tenure_month: 7"
    assert calendar_columns(None) == {} and calendar_columns({"time": {"row_order": True}}) == {}


def test_two_consent_columns_cannot_both_decide() -> None:
    export = pd.DataFrame(
        {"won": ["1", "0"], "ok": ["yes", "yes"], "consent_profiling": ["no", "no"]}
    )
    with pytest.raises(MappingError, match="two consent columns"):
        apply_mapping(export, {"label": {"column": "won"}, "consent": "ok"})


@pytest.mark.parametrize(
    ("value", "text"), [(1234.5, "1234.5"), (12.345678, "12.345678"), (123456.7, "123456.7")]
)
def test_column_reasons_keep_the_digits_of_a_number(value: float, text: str) -> None:
    assert column_reason("x", value, "en") == f"x: {text}"
    assert column_reason("x", value, "de") == f"x: {text.replace('.', ',')}"


def test_a_parquet_date_column_needs_no_format_and_new_leads_may_lack_it(tmp_path: Path) -> None:
    export = pd.DataFrame(
        {
            "id": ["a", "b", "c"],
            "won": ["1", "0", "1"],
            "when": pd.to_datetime(["2025-01-07", "2025-02-01 10:30", None], format="ISO8601"),
            "size": [1, 2, 3],
        }
    )
    export.to_parquet(tmp_path / "export.parquet")
    mapping = {
        "id": "id",
        "label": {"column": "won"},
        "time": {"column": "when", "format": "%Y-%m-%d"},
    }
    with pytest.raises(ContractError) as error:
        apply_mapping(tmp_path / "export.parquet", mapping)  # training needs every date
    assert [(p.row, p.column) for p in error.value.problems] == [(3, "when")]
    new = apply_mapping(tmp_path / "export.parquet", mapping, without_label=True)
    assert new.frame["created_at"].tolist()[:2] == [
        pd.Timestamp("2025-01-07"),
        pd.Timestamp("2025-02-01 10:30"),
    ]
    assert pd.isna(new.frame["created_at"].iloc[2])


def test_a_mapped_date_outside_the_range_is_named_as_such(tmp_path: Path) -> None:
    text = export().assign(Created=["03.01.2025", "04.01.2300", "06.01.1900", "31.02.2025"])
    with pytest.raises(ContractError) as error:
        apply_mapping(text, MAPPING)
    assert [(p.row, p.message) for p in error.value.problems] == [
        (2, "'04.01.2300' is outside the years 1950 to 2199 (in UTC)"),
        (3, "'06.01.1900' is outside the years 1950 to 2199 (in UTC)"),
        (4, "'31.02.2025' is not a date in the format '%d.%m.%Y' (time.format)"),
    ]
    typed = pd.DataFrame(  # Parquet keeps microseconds: 9999-12-31 is a CRM's "never"
        {
            "id": ["a", "b"],
            "won": ["1", "0"],
            "when": np.array(["2025-01-07", "9999-12-31"], dtype="datetime64[us]"),
        }
    )
    typed.to_parquet(tmp_path / "export.parquet")
    mapping = {"id": "id", "label": {"column": "won"}, "time": {"column": "when"}}
    with pytest.raises(ContractError) as error:
        apply_mapping(tmp_path / "export.parquet", mapping)
    assert [(p.row, p.column) for p in error.value.problems] == [(2, "when")]
    assert "'9999-12-31 00:00:00+00:00' is outside the years" in error.value.problems[0].message
