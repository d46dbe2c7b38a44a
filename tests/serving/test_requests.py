"""JSON requests give exactly the contract frames a CSV export with the same data loads to."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from features.loaders import check_tables
from serving.requests import LeadRequest, request_tables

# any text a store can hold (NUL and lone surrogates are refused:
# test_text_that_the_audit_log_cannot_store_...)
texts = st.one_of(
    st.none(),
    st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=20),
    st.just("  padded  "),
    st.just(""),
)
moments = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
) | st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1))
lead_ids = st.text(alphabet=st.characters(categories=["L", "N"]), min_size=1, max_size=8)


@st.composite
def requests(draw: st.DrawFn) -> LeadRequest:
    lead = {
        "lead_id": draw(lead_ids),
        "created_at": draw(moments),
        "job_title": draw(texts),
        "country": draw(texts),
        "employees": draw(st.one_of(st.none(), st.integers(0, 100_000))),
        "consent_profiling": draw(st.booleans()),
    }
    activities = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "occurred_at": moments,
                    # a CRM's own spellings of our types, and a type of its own
                    "activity_type": st.sampled_from(
                        ["page_view", "demo_request", "x", "Pricing Page View", " Demo-Request "]
                    ),
                    "asset": texts,
                }
            ),
            max_size=6,
        )
    )
    return LeadRequest.model_validate({"lead": lead, "activities": activities})


def _as_file(request: LeadRequest) -> dict[str, pd.DataFrame]:
    """The same lead as text cells, the way a CSV export would hold it."""
    assert request.lead is not None

    def cell(value: object) -> object:
        if isinstance(value, datetime):
            stamp = pd.Timestamp(value)
            return (
                stamp.tz_convert("UTC").tz_localize(None) if stamp.tzinfo else stamp
            ).isoformat()
        return value

    lead = {k: cell(v) for k, v in request.lead.model_dump().items()}
    acts = [
        {k: cell(v) for k, v in a.model_dump().items()} | {"lead_id": request.lead.lead_id}
        for a in request.activities
    ]
    columns = None if acts else ["lead_id", "occurred_at", "activity_type"]
    return {"leads": pd.DataFrame([lead]), "activities": pd.DataFrame(acts, columns=columns)}


@settings(max_examples=80, deadline=None)
@given(request=requests())
def test_json_and_file_paths_give_the_same_tables(request: LeadRequest) -> None:
    from_json = request_tables([request])
    typed, problems = check_tables(_as_file(request) | {"outcomes": None})
    assert not problems
    for table in ("leads", "activities"):
        expected = typed[table][list(from_json.table(table).columns)]
        pd.testing.assert_frame_equal(from_json.table(table), expected, check_index_type=False)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"lead": {"lead_id": "   ", "created_at": "2026-01-01"}}, "lead_id"),
        # features count nanoseconds: 300 years before as_of they would wrap around
        ({"lead": {"lead_id": "A", "created_at": "1699-12-31"}}, "created_at"),
        ({"lead": {"lead_id": "A", "created_at": "1950-01-01T00:30:00+01:00"}}, "created_at"),
        (
            {
                "lead": {"lead_id": "A", "created_at": "2026-01-01"},
                "activities": [{"occurred_at": "2300-01-01T00:00:00", "activity_type": "x"}],
            },
            "occurred_at",
        ),
        ({"lead": {"lead_id": "A", "created_at": "2026-01-01", "budget": {"x": 1}}}, "budget"),
        ({"lead": {"lead_id": "A", "created_at": "2026-01-01", "ext_id": 10**309}}, "ext_id"),
        ({"lead": {"lead_id": "A", "created_at": "2026-01-01", "ext": float("inf")}}, "ext"),
        (  # the store's history is scored: these would be dropped without a word
            {"lead_id": "A", "activities": [{"occurred_at": "2026-01-02", "activity_type": "x"}]},
            "'activities' come with 'lead'",
        ),
        (
            {
                "lead": {"lead_id": "A", "created_at": "2026-01-01"},
                "activities": [{"occurred_at": "2026-01-02", "activity_type": " "}],
            },
            "activity_type",
        ),
    ],
)
def test_what_a_file_would_reject_json_rejects_too(body: dict, field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        LeadRequest.model_validate(body)


def test_the_earliest_and_latest_moments_are_kept_as_sent() -> None:
    request = LeadRequest.model_validate(
        {
            "lead": {"lead_id": "A", "created_at": "1950-01-01T05:00:00+05:00"},
            "activities": [{"occurred_at": "2199-12-31T23:00:00", "activity_type": "x"}],
        }
    )
    tables = request_tables([request])
    assert tables.leads["created_at"].iloc[0] == pd.Timestamp("1950-01-01T00:00:00")
    assert tables.activities["occurred_at"].iloc[0] == pd.Timestamp("2199-12-31T23:00:00")


LONE = "\udbfc"  # half a surrogate pair: no UTF-8 encoder takes it
NUL = "\x00"  # PostgreSQL refuses it in text and JSON


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"lead": {"lead_id": "A", "created_at": "2026-01-01", "company": f"x{LONE}"}}, "company"),
        ({"lead": {"lead_id": "A", "created_at": "2026-01-01", "company": f"x{NUL}"}}, "company"),
        ({"lead": {"lead_id": f"A{NUL}", "created_at": "2026-01-01"}}, "lead_id"),
        ({"lead": {"lead_id": "A", "created_at": "2026-01-01", "budget": LONE}}, "budget"),
        ({"lead": {"lead_id": "A", "created_at": "2026-01-01", "budget": NUL}}, "budget"),
        ({"lead": {"lead_id": "A", "created_at": "2026-01-01", f"b{NUL}": "1"}}, "extra field"),
        ({"lead": {"lead_id": "A", "created_at": "2026-01-01", f"b{LONE}": "1"}}, "lead"),
        (
            {
                "lead": {"lead_id": "A", "created_at": "2026-01-01"},
                "activities": [
                    {"occurred_at": "2026-01-02", "activity_type": "page_view", "asset": NUL}
                ],
            },
            "asset",
        ),
    ],
)
def test_text_that_the_audit_log_cannot_store_is_the_clients_error(body: dict, field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        LeadRequest.model_validate(body)


def test_our_activity_types_are_read_however_a_crm_spells_them() -> None:
    request = LeadRequest.model_validate(
        {
            "lead": {"lead_id": "L1", "created_at": "2026-01-01"},
            "activities": [
                {"occurred_at": "2026-02-01", "activity_type": spelled}
                for spelled in ("Pricing_Page_View", "webinar attended", "TikTok Like")
            ],
        }
    )
    types = request_tables([request]).activities["activity_type"].tolist()
    assert types == ["pricing_page_view", "webinar_attended", "TikTok Like"]


def test_the_openapi_document_says_which_answer_fields_can_be_null() -> None:
    """A client generated from /docs.json failed on a lead that objected to profiling."""
    from serving.service import LeadScore

    found: dict[str, list[dict]] = {}

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.get("properties", {}).items():
                found.setdefault(key, []).append(value)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(LeadScore.openapi_spec.asdict())
    for field in ("probability", "score", "grade", "team", "track"):
        for schema in found[field]:  # in the answer, and in the request where a lead has one
            nullable = schema.get("nullable") or {"type": "null"} in schema.get("anyOf", [])
            assert nullable, (field, schema)


def test_a_bad_extra_field_or_a_boolean_head_count_is_named_by_its_own_location() -> None:
    """A CRM's nested owner object was refused at ``lead``; JSON true was one employee."""
    lead = {"lead_id": "A", "created_at": "2026-01-01"}
    for extra, loc in (
        ({"owner": {"id": 1}}, ("lead", "owner")),
        ({"notes": "x" * 501}, ("lead", "notes")),
        ({"employees": True}, ("lead", "employees")),
    ):
        with pytest.raises(ValidationError) as refused:
            LeadRequest.model_validate({"lead": {**lead, **extra}})
        assert [e["loc"] for e in refused.value.errors()] == [loc]
    kept = LeadRequest.model_validate({"lead": {**lead, "employees": "250", "budget": 3.5}})
    assert kept.lead is not None and kept.lead.employees == 250
    assert kept.lead.model_extra == {"budget": 3.5}
