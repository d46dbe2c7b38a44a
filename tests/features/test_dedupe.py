"""De-duplication: which CRM records are one person, and on what evidence."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from features.dedupe import (
    company_key,
    duplicate_groups,
    duplicate_report,
    email_key,
    is_role_email,
    name_key,
)
from features.quality import fold_text


def leads(*rows: dict[str, Any]) -> pd.DataFrame:
    """Records in the order given, created one day apart unless a row says otherwise."""
    frame = pd.DataFrame(
        [
            {"lead_id": f"L{i}", "created_at": pd.Timestamp("2025-01-01") + pd.Timedelta(days=i)}
            | row
            for i, row in enumerate(rows, 1)
        ]
    )
    text = [c for c in ("lead_id", "email", "first_name", "last_name", "company") if c in frame]
    return frame.astype(dict.fromkeys(text, "string"))


def persons(frame: pd.DataFrame) -> list[str]:
    return duplicate_groups(frame).tolist()


ANNA = {"first_name": "Anna", "last_name": "Müller", "company": "ACME GmbH"}


def test_the_same_email_in_another_case_is_the_same_person() -> None:
    frame = leads(
        {"email": "anna.mueller@acme.de"},
        {"email": " Anna.Mueller@ACME.de "},
        {"email": "anna@gmail.com"},
        {"email": "anna@googlemail.com"},
    )
    assert persons(frame) == ["L1", "L1", "L3", "L3"]


def test_the_same_name_at_the_same_company_is_the_same_person() -> None:
    frame = leads(
        {**ANNA, "email": "anna.mueller@acme.de"},
        {"first_name": "ANNA", "last_name": "Muller", "company": "Acme", "email": "anna@web.de"},
        {"first_name": "Anna", "last_name": "Mueller", "company": "ACME GmbH & Co. KG"},
    )
    assert persons(frame) == ["L1", "L1", "L1"]


def test_the_same_name_at_another_company_is_another_person() -> None:
    frame = leads(ANNA, {**ANNA, "company": "Beta AG"}, {**ANNA, "company": None})
    assert persons(frame) == ["L1", "L2", "L3"]


def test_matches_chain_across_both_rules() -> None:
    frame = leads(
        {**ANNA, "email": "anna@acme.de"},
        {"first_name": "A.", "last_name": "M.", "email": "ANNA@acme.de"},
        {**ANNA, "company": "Acme", "email": "a.mueller@acme.de"},
        {"first_name": "Annie", "email": "a.mueller@acme.de"},
    )
    assert persons(frame) == ["L1", "L1", "L1", "L1"]


def test_the_person_is_named_after_the_earliest_record_ties_by_lead_id() -> None:
    frame = leads(
        {"email": "anna@acme.de", "created_at": pd.Timestamp("2025-03-01")},
        {"email": "anna@acme.de", "created_at": pd.Timestamp("2025-02-01")},
        {"email": "anna@acme.de", "created_at": pd.Timestamp("2025-02-01")},
    )
    frame["lead_id"] = ["A", "C", "B"]
    assert persons(frame) == ["B", "B", "B"]


def test_placeholders_and_empty_fields_never_prove_identity() -> None:
    frame = leads(
        {"first_name": "Test", "last_name": "Test", "company": "Alpha GmbH"},
        {"first_name": "Test", "last_name": "Test", "company": "Beta GmbH"},
        {"first_name": "Test", "last_name": "Test", "company": "Beta GmbH"},
        {"first_name": "asdf", "last_name": "qwer", "company": "asdf"},
        {"first_name": "asdf", "last_name": "qwer", "company": "asdf"},
        {"email": "", "first_name": "Jan", "last_name": "Berg", "company": "n/a"},
        {"email": "   ", "first_name": "Jan", "last_name": "Berg", "company": "n/a"},
        {"email": "test@test.de"},
        {"email": "test@test.de"},
    )
    assert persons(frame) == [f"L{i}" for i in range(1, 10)]


def test_colleagues_writing_from_one_role_address_stay_two_people() -> None:
    """Events are pooled per person: merging Anna and Jonas would score both on what each did."""
    anna = {"first_name": "Anna", "last_name": "Weber", "email": "info@weber-bau.de"}
    frame = leads(
        anna,
        {"first_name": "Jonas", "last_name": "Koch", "email": "info@weber-bau.de"},
        {**anna, "email": " Info@Weber-Bau.de "},
        {"first_name": "Anna", "last_name": "Wéber", "email": "info@weber-bau.de"},
        {"email": "info@weber-bau.de"},
        {"first_name": "Jonas", "last_name": "Koch", "email": "kontakt@koch.de"},
    )
    assert persons(frame) == ["L1", "L2", "L1", "L1", "L5", "L6"]


def test_strangers_sharing_a_test_address_stay_strangers() -> None:
    frame = leads(
        {"first_name": "Lea", "last_name": "Berg", "email": "info@test.de"},
        {"first_name": "Tom", "last_name": "Ried", "email": "info@test.de"},
        {"first_name": "Ida", "last_name": "Kranz", "email": "max@test.de"},
        {"first_name": "Ole", "last_name": "Sand", "email": "max@test.de"},
    )
    assert persons(frame) == ["L1", "L2", "L3", "L4"]


def test_the_report_says_email_for_a_role_address_with_the_same_name() -> None:
    frame = leads(
        {"first_name": "Anna", "last_name": "Weber", "email": "sales@weber-bau.de"},
        {"first_name": "Anna", "last_name": "Weber", "email": "sales@weber-bau.de"},
    )
    report = duplicate_report(frame, duplicate_groups(frame))
    assert report["matched_on"].tolist() == ["email"]


def test_keys_say_what_counts_as_the_same() -> None:
    assert email_key("  Max@GoogleMail.com ") == "max@gmail.com"
    assert email_key("asdf@") is None
    assert name_key("Jean-Luc", "O'Neill") == name_key("jean luc", "ONeill") == "jean luc oneill"
    assert name_key("Zoë", "Ødegård") == "zoe odegard"
    assert name_key(None, "  ") is None
    assert company_key("ACME GmbH") == company_key("Acme") == company_key("A.C.M.E. AG") == "acme"
    assert company_key("Vertex B.V.") == company_key("Vertex") == "vertex"
    assert company_key("Müller & Söhne GmbH & Co. KG") == company_key("Muller Sohne")
    assert company_key("Müller & Söhne KG", german=True) == company_key(
        "Mueller Soehne", german=True
    )
    assert name_key("Jürgen", "Müller", german=True) == name_key("Juergen", "Mueller", german=True)
    assert name_key("Michael", "Müller") != name_key("Michal", "Müller")
    assert name_key("Michael", "Müller", german=True) != name_key("Michal", "Müller", german=True)
    assert company_key("-") is None
    assert name_key("Hans", "Test") == "hans test"
    assert name_key("abc", "def ghi") is None
    assert email_key("info@test.de") is None
    assert is_role_email("info@weber-bau.de")
    assert is_role_email("kontakt@acme.de") and is_role_email("vertrieb@acme.de")
    assert is_role_email("office+web@acme.de") and is_role_email("info2@acme.de")
    assert not is_role_email("anna.weber@weber-bau.de") and not is_role_email("max@gmail.com")


def test_the_report_lists_each_merged_group_and_the_rule_that_merged_it() -> None:
    frame = leads(
        {**ANNA, "email": "anna@acme.de"},
        {"email": "ANNA@ACME.DE"},
        {"first_name": "Bo", "last_name": "Lind", "company": "Nordic AB", "email": "bo@nordic.se"},
        {
            "first_name": "Bo",
            "last_name": "Lind",
            "company": "Nordic",
            "email": "bo.lind@gmail.com",
        },
        {**ANNA, "company": "Acme AG", "email": "anna@acme.de"},
        {"first_name": "Solo", "last_name": "Person", "email": "solo@person.de"},
    )
    report = duplicate_report(frame, duplicate_groups(frame))
    assert report.to_dict("records") == [
        {
            "person_id": "L1",
            "lead_ids": ["L1", "L2", "L5"],
            "n_records": 3,
            "matched_on": "email, name+company",
        },
        {"person_id": "L3", "lead_ids": ["L3", "L4"], "n_records": 2, "matched_on": "name+company"},
    ]


def test_no_duplicates_give_an_empty_report() -> None:
    frame = leads({"email": "a@acme.de"}, {"email": "b@acme.de"})
    report = duplicate_report(frame, duplicate_groups(frame))
    assert report.empty
    assert list(report.columns) == ["person_id", "lead_ids", "n_records", "matched_on"]


def test_an_export_with_emails_only_still_dedupes() -> None:
    frame = pd.DataFrame({"lead_id": ["x", "y"], "email": ["a@acme.de", "A@acme.de"]})
    assert duplicate_groups(frame).tolist() == ["x", "x"]


# --- properties ------------------------------------------------------------------------------

COLUMNS = ["email", "first_name", "last_name", "company", "created_at"]
RECORD = st.fixed_dictionaries(
    {
        "email": st.sampled_from(
            [None, "", "a@x.de", " A@X.de", "b@y.de", "test@test.de", "info@x.de", "INFO@x.de"]
        ),
        "first_name": st.sampled_from([None, "Anna", "anna", "Ánna", "Test", "Bo"]),
        "last_name": st.sampled_from([None, "Müller", "Mueller", "Test", "Lind"]),
        "company": st.sampled_from([None, "", "ACME GmbH", "Acme", "Beta AG", "n/a"]),
        "created_at": st.sampled_from(
            [pd.Timestamp("2025-01-01"), pd.Timestamp("2025-01-02"), pd.NaT]
        ),
    }
)


@settings(max_examples=200, deadline=None)
@given(records=st.lists(RECORD, max_size=12), data=st.data())
def test_groups_do_not_depend_on_row_order(records: list[dict[str, Any]], data: Any) -> None:
    frame = pd.DataFrame(records, columns=COLUMNS)
    frame.insert(0, "lead_id", [f"L{i:02d}" for i in range(len(records))])
    shuffled = frame.iloc[data.draw(st.permutations(range(len(frame))))]
    assert duplicate_groups(shuffled).sort_index().equals(duplicate_groups(frame).sort_index())


@settings(max_examples=200, deadline=None)
@given(records=st.lists(RECORD, max_size=12))
def test_every_person_id_is_a_member_of_its_own_group(records: list[dict[str, Any]]) -> None:
    frame = pd.DataFrame(records, columns=COLUMNS)
    frame.insert(0, "lead_id", [f"L{i:02d}" for i in range(len(records))])
    groups = duplicate_groups(frame)
    assert (groups.loc[groups.to_numpy()].to_numpy() == groups.to_numpy()).all()
    report = duplicate_report(frame, groups)
    assert report["n_records"].sum() == groups.duplicated(keep=False).sum()


@settings(max_examples=200, deadline=None)
@given(records=st.lists(RECORD, max_size=12))
def test_a_role_address_only_joins_records_of_one_name(records: list[dict[str, Any]]) -> None:
    frame = pd.DataFrame(records, columns=COLUMNS)
    frame.insert(0, "lead_id", [f"L{i:02d}" for i in range(len(records))])
    frame["email"] = frame["email"].map(lambda email: None if email is None else "info@x.de")
    frame["company"] = None
    frame["group"] = duplicate_groups(frame).to_numpy()
    frame["name"] = [
        name_key(*pair) for pair in zip(frame.first_name, frame.last_name, strict=True)
    ]
    frame["first"] = frame["first_name"].map(lambda name: fold_text(name or ""))
    merged = frame[frame.duplicated("group", keep=False)]
    assert merged["name"].notna().all()
    assert (merged.groupby("group")["first"].nunique() == 1).all()


# --- on the demo CRM -------------------------------------------------------------------------


def test_every_planted_duplicate_in_the_demo_crm_is_found(demo_parquet: Path) -> None:
    from features.loaders import load_tables

    crm = load_tables(demo_parquet)
    truth = pd.read_parquet(demo_parquet / "ground_truth_leads.parquet")
    planted = truth.dropna(subset=["duplicate_of"])
    groups = duplicate_groups(crm.leads)
    assert len(planted) > 0
    assert (
        groups[planted["lead_id"]].to_numpy() == groups[planted["duplicate_of"]].to_numpy()
    ).all()
