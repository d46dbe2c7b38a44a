"""The feature function: point in time, one lead alone, and the two entry points agree."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features import behaviour, dedupe, pipeline, quality
from features.behaviour import value_codes
from features.contract import ACTIVITY_TYPES, STRING
from features.pipeline import (
    FeatureConfig,
    build_features,
    explain_events,
    features_and_events,
    model_columns,
)
from tests.factories import make_crm

AS_OF = pd.Timestamp("2025-06-15 12:00")
ASSETS = ["Whitepaper: Marketing Automation Guide", "Blog: 7 Fehler", "Pricing", None]
TOPICS = ["marketing_automation", "lead_management", "analytics", None]

PEOPLE = [
    {
        "first_name": "Anna",
        "last_name": "Müller",
        "company": "ACME GmbH",
        "email": "anna@acme.de",
        "job_title": "Head of Marketing",
        "country": "Germany",
        "city": "Hamburg",
        "phone": "+49 40 1234567",
        "industry": "Software",
        "employees": 120,
        "source": "webinar",
    },
    {
        "first_name": "Jean-Luc",
        "last_name": "O'Neill",
        "company": "Lyon Data SAS",
        "email": "jl@lyondata.fr",
        "job_title": "Werkstudent",
        "country": "France",
        "city": "Lyon",
        "industry": "Retail",
        "employees": 8,
        "source": "trade_fair",
    },
    {
        "first_name": "Anna",
        "last_name": "Müller",
        "company": "Acme",
        "email": "ANNA@acme.de",
        "job_title": "Geschäftsführerin",
        "country": "Deutschland",
        "city": "München",
        "industry": "Software",
        "employees": 120,
        "source": "web_form",
    },
    {
        "first_name": "asdf",
        "last_name": "qwer",
        "company": "x",
        "email": "asdf@",
        "country": "Afghanistan",
        "city": "London",
        "phone": "12345",
        "source": "web_form",
    },
]


def event_strategy(n_leads: int) -> st.SearchStrategy[dict]:
    return st.fixed_dictionaries(
        {
            "lead_id": st.integers(0, n_leads - 1).map(lambda i: f"L{i}"),
            "occurred_at": st.integers(-200 * 24, 30 * 24).map(
                lambda hours: (AS_OF + pd.Timedelta(hours=hours)).isoformat()
            ),
            "activity_type": st.sampled_from([*ACTIVITY_TYPES, "chat_message"]),
            "asset": st.sampled_from(ASSETS),
            "topic": st.sampled_from(TOPICS),
        }
    )


@st.composite
def crms(draw: st.DrawFn) -> dict:
    n = draw(st.integers(1, len(PEOPLE)))
    leads = [
        {
            "lead_id": f"L{i}",
            "created_at": (AS_OF - pd.Timedelta(days=300 - 10 * i)).isoformat(),
            **PEOPLE[i],
        }
        for i in range(n)
    ]
    activities = draw(st.lists(event_strategy(n), max_size=40))
    return {"leads": leads, "activities": activities}


def _features(data: dict, **kwargs) -> pd.DataFrame:
    tables = make_crm(data["leads"], data["activities"], data.get("outcomes", ()))
    return build_features(tables, as_of=AS_OF, **kwargs)


def _before(events: list[dict]) -> list[dict]:
    return [e for e in events if pd.Timestamp(e["occurred_at"]) < AS_OF]


@settings(max_examples=40, deadline=None)
@given(data=crms(), later=st.data())
def test_events_at_or_after_as_of_change_nothing(data: dict, later: st.DataObject) -> None:
    expected = _features(data)
    n = len(data["leads"])
    future = later.draw(
        st.lists(
            event_strategy(n).map(
                lambda e: (
                    e | {"occurred_at": max(pd.Timestamp(e["occurred_at"]), AS_OF).isoformat()}
                )
            ),
            max_size=15,
        )
    )
    outcomes = [
        {"lead_id": "L0", "closed_at": (AS_OF + pd.Timedelta(days=3)).isoformat(), "won": True}
    ]
    changed = {
        "leads": data["leads"],
        "activities": _before(data["activities"]) + future,
        "outcomes": outcomes,
    }
    pd.testing.assert_frame_equal(_features(changed), expected)


@settings(max_examples=30, deadline=None)
@given(data=crms())
def test_one_lead_alone_equals_its_row_in_the_batch(data: dict) -> None:
    tables = make_crm(data["leads"], data["activities"])
    batch = build_features(tables, as_of=AS_OF).set_index("lead_id")
    for lead_id, row in batch.iterrows():
        group = batch.index[batch["person_id"] == row["person_id"]]
        alone = build_features(tables.for_leads(group), as_of=AS_OF).set_index("lead_id")
        pd.testing.assert_series_equal(alone.loc[lead_id], row, check_names=False)


@settings(max_examples=20, deadline=None)
@given(data=crms(), days_back=st.lists(st.integers(0, 120), min_size=1, max_size=4, unique=True))
def test_snapshots_equal_single_as_of_runs(data: dict, days_back: list[int]) -> None:
    tables = make_crm(data["leads"], data["activities"])
    moments = [AS_OF - pd.Timedelta(days=d) for d in days_back]
    snapshots = pd.DataFrame(
        [(lead["lead_id"], m) for m in moments for lead in data["leads"]],
        columns=["lead_id", "as_of"],
    )
    many = build_features(tables, snapshots=snapshots)
    for moment in moments:
        one = build_features(tables, as_of=moment).reset_index(drop=True)
        part = many[many["as_of"] == moment].reset_index(drop=True)
        pd.testing.assert_frame_equal(part, one)


def test_counts_windows_and_recency_on_a_known_history() -> None:
    events = [
        {"lead_id": "L0", "occurred_at": "2025-06-14T09:00", "activity_type": "pricing_page_view"},
        {"lead_id": "L0", "occurred_at": "2025-06-10T09:00", "activity_type": "pricing_page_view"},
        {"lead_id": "L0", "occurred_at": "2025-05-01T09:00", "activity_type": "pricing_page_view"},
        {"lead_id": "L0", "occurred_at": "2025-06-01T09:00", "activity_type": "email_sent"},
        {"lead_id": "L0", "occurred_at": "2025-06-02T09:00", "activity_type": "email_open"},
        {"lead_id": "L0", "occurred_at": "2025-06-15T12:00", "activity_type": "demo_request"},
    ]
    leads = [{"lead_id": "L0", "created_at": "2025-01-01", **PEOPLE[0]}]
    row = build_features(make_crm(leads, events), as_of=AS_OF).iloc[0]
    assert row["n_pricing_page_view_7d"] == 2
    assert row["n_pricing_page_view_30d"] == 2
    assert row["n_pricing_page_view_90d"] == 3
    assert row["n_demo_request_90d"] == 0  # at as_of exactly: not yet seen
    assert row["email_open_rate"] == 1.0
    assert math.isclose(row["days_since_last_activity"], 1 + 3 / 24)
    assert row["marketing_actions"] == 3
    assert row["seniority"] == "head" and row["job_function"] == "marketing"
    assert row["country_code"] == "DE" and row["region"] == "DACH"
    assert row["nearest_location"] == "Hamburg"


def test_a_call_sales_made_is_no_buying_signal_a_meeting_the_lead_agreed_to_is() -> None:
    leads = [{"lead_id": f"L{i}", "created_at": "2025-01-01", **PEOPLE[i]} for i in (0, 1)]
    events = [
        {"lead_id": "L0", "occurred_at": "2025-06-10T09:00", "activity_type": "sales_call"},
        {"lead_id": "L1", "occurred_at": "2025-06-10T09:00", "activity_type": "sales_call"},
        {"lead_id": "L1", "occurred_at": "2025-06-05T09:00", "activity_type": "meeting"},
    ]
    rows = build_features(make_crm(leads, events), as_of=AS_OF).set_index("lead_id")
    assert math.isnan(rows.at["L0", "days_since_high_intent"])
    assert rows.at["L0", "n_sales_call_30d"] == 1  # still counted, as sales activity
    assert math.isclose(rows.at["L1", "days_since_high_intent"], 10 + 3 / 24)


def test_duplicates_share_their_history() -> None:
    leads = [
        {"lead_id": "L0", "created_at": "2025-01-01", **PEOPLE[0]},
        {"lead_id": "L2", "created_at": "2025-02-01", **PEOPLE[2]},
    ]
    events = [
        {"lead_id": "L0", "occurred_at": "2025-06-01", "activity_type": "demo_request"},
        {"lead_id": "L2", "occurred_at": "2025-06-02", "activity_type": "demo_request"},
    ]
    merged = build_features(make_crm(leads, events), as_of=AS_OF).set_index("lead_id")
    assert merged.loc["L2", "person_id"] == "L0"
    assert (merged["n_demo_request_30d"] == 2).all()
    separate = build_features(
        make_crm(leads, events), as_of=AS_OF, config=FeatureConfig(merge_duplicates=False)
    ).set_index("lead_id")
    assert (separate["n_demo_request_30d"] == 1).all()


def test_leads_created_later_get_no_snapshot_and_extra_columns_pass_through() -> None:
    leads = [
        {"lead_id": "L0", "created_at": "2025-01-01", "budget_eur": 5000},
        {"lead_id": "L1", "created_at": "2025-07-01", "budget_eur": 100},
    ]
    out = build_features(
        make_crm(leads), as_of=AS_OF, config=FeatureConfig(extra_features=("budget_eur",))
    )
    assert out["lead_id"].tolist() == ["L0"]
    assert out["budget_eur"].tolist() == [5000.0]
    assert model_columns(FeatureConfig(extra_features=("budget_eur",)))[-1] == "budget_eur"
    with pytest.raises(KeyError, match="not_there"):
        build_features(
            make_crm(leads), as_of=AS_OF, config=FeatureConfig(extra_features=("not_there",))
        )


@contextmanager
def vectorised_only() -> Iterator[None]:
    """Every size switch set so that even one lead takes the path built for 100k leads."""
    with (
        mock.patch.object(behaviour, "SMALL", 0),
        mock.patch.object(behaviour, "DICT_LOOKUP", 0),
        mock.patch.object(dedupe, "_SMALL", 0),
        mock.patch.object(quality, "_SMALL", 0),
        mock.patch.object(pipeline, "GROUPED_FRAME", 0),
    ):
        yield


@settings(max_examples=40, deadline=None)
@given(data=crms(), days_back=st.lists(st.integers(0, 60), min_size=1, max_size=3, unique=True))
def test_small_inputs_get_the_same_features_as_the_vectorised_path(
    data: dict, days_back: list[int]
) -> None:
    """A request's few rows go through dicts and lists instead of factorize and indexes; the
    features must not notice."""
    tables = make_crm(data["leads"], data["activities"])
    snapshots = pd.DataFrame(
        [
            (lead["lead_id"], AS_OF - pd.Timedelta(days=d))
            for d in days_back
            for lead in data["leads"]
        ],
        columns=["lead_id", "as_of"],
    )
    small = build_features(tables, as_of=AS_OF)
    small_many = build_features(tables, snapshots=snapshots)
    small_events = explain_events(tables, small_many, limit=5)
    with vectorised_only():
        pd.testing.assert_frame_equal(build_features(tables, as_of=AS_OF), small)
        large_many = build_features(tables, snapshots=snapshots)
        pd.testing.assert_frame_equal(large_many, small_many)
        pd.testing.assert_frame_equal(explain_events(tables, large_many, limit=5), small_events)


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.sampled_from(["a", "b", "Ä", "", "a ", None]), max_size=30),
    dtype=st.sampled_from([STRING, object]),
)
def test_value_codes_are_the_codes_of_pd_factorize(values: list, dtype: object) -> None:
    series = pd.Series(values, dtype=dtype)
    expected_codes, expected_uniques = pd.factorize(series, use_na_sentinel=True)
    for small in (0, 10**6):
        with mock.patch.object(behaviour, "SMALL", small):
            codes, uniques = value_codes(series)
        np.testing.assert_array_equal(codes, expected_codes)
        assert uniques == list(expected_uniques)


def _topic_events(topics: list[tuple[str | None, str]]) -> list[dict]:
    return [
        {"lead_id": "L0", "occurred_at": when, "activity_type": "blog_read", "topic": topic}
        for topic, when in topics
    ]


def test_interest_field_weighs_recent_topics_and_breaks_ties_alphabetically() -> None:
    leads = [
        {"lead_id": "L0", "created_at": "2025-01-01", **PEOPLE[0]},
        {"lead_id": "L1", "created_at": "2025-01-01", **PEOPLE[1]},
    ]

    def interest(topics: list[tuple[str | None, str]]) -> object:
        frame = build_features(make_crm(leads, _topic_events(topics)), as_of=AS_OF)
        return frame.set_index("lead_id").loc["L0", "interest_field"]

    # Two old reads lose against one recent one (half-life 30 days).
    old = [("analytics", "2025-02-01"), ("analytics", "2025-02-02")]
    assert interest([*old, ("lead_management", "2025-06-14")]) == "lead_management"
    # Equal weight: the alphabetically first topic wins, whatever the order of events.
    assert interest([("lead_management", "2025-06-01"), ("analytics", "2025-06-01")]) == (
        "analytics"
    )
    # Events without a topic, or only at or after as_of, give no interest field at all.
    assert interest([(None, "2025-06-01"), ("analytics", "2025-06-15T12:00")]) is None
    row = build_features(make_crm(leads, _topic_events(old)), as_of=AS_OF).iloc[1]
    assert row["lead_id"] == "L1" and row["interest_field"] is None


def test_one_lead_builds_one_frame_with_the_batch_columns_and_dtypes() -> None:
    events = [
        {"lead_id": "L0", "occurred_at": "2025-06-10", "activity_type": "demo_request"},
        {"lead_id": "L0", "occurred_at": "2025-06-11", "activity_type": "chat_message"},
    ]
    leads = [{"lead_id": f"L{i}", "created_at": "2025-01-01", **PEOPLE[i]} for i in range(3)]
    batch = build_features(make_crm(leads, events), as_of=AS_OF)
    alone = build_features(make_crm(leads[:1], events), as_of=AS_OF)
    assert list(alone.columns) == list(batch.columns)
    assert alone.dtypes.equals(batch.dtypes)
    assert isinstance(alone.index, pd.RangeIndex)
    assert alone["n_demo_request_7d"].iloc[0] == 1.0
    assert alone["quality_issue_count"].dtype == np.int64


def test_snapshots_keep_their_order_and_lead_id_dtype() -> None:
    leads = [{"lead_id": f"L{i}", "created_at": "2025-01-01", **PEOPLE[i]} for i in range(2)]
    tables = make_crm(leads)
    snapshots = pd.DataFrame(
        {
            "lead_id": pd.Series(["L1", "L0", "L1"], dtype=STRING, index=[7, 3, 5]),
            "as_of": pd.Series([AS_OF, AS_OF, AS_OF - pd.Timedelta(days=1)], index=[7, 3, 5]),
        }
    )
    out = build_features(tables, snapshots=snapshots)
    assert out["lead_id"].tolist() == ["L1", "L0", "L1"]
    assert out["lead_id"].dtype == STRING
    assert out["as_of"].tolist() == snapshots["as_of"].tolist()
    with pytest.raises(KeyError, match="'LX'"):
        build_features(tables, snapshots=pd.DataFrame({"lead_id": ["LX"], "as_of": [AS_OF]}))


@settings(max_examples=20, deadline=None)
@given(data=crms())
def test_features_and_events_together_equal_the_two_calls(data: dict) -> None:
    tables = make_crm(data["leads"], data["activities"])
    snapshots = pd.DataFrame(
        {"lead_id": [lead["lead_id"] for lead in data["leads"]], "as_of": AS_OF}
    )
    features, events = features_and_events(tables, snapshots)
    expected = build_features(tables, snapshots=snapshots)
    pd.testing.assert_frame_equal(features, expected)
    pd.testing.assert_frame_equal(events, explain_events(tables, expected))
