"""The nurture-email table: counts of distinct recipients, positions read from the send order,
and nothing at or after ``as_of``."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from features.contract import CRMTables
from features.loaders import load_tables
from features.nurture import COLUMNS, default_as_of, nurture_table, won_share
from leadscore.cli import app
from tests.factories import make_crm

WELCOME = {"campaign": "Nurture 1", "asset": "Welcome", "topic": "analytics"}
TIPS = {"campaign": "Nurture 2", "asset": "Tips", "topic": "analytics"}
NEWS = {"campaign": "Newsletter", "asset": "News May"}


def _at(day: int, hour: int, minute: int = 0) -> str:
    moment = pd.Timestamp("2026-05-01") + pd.Timedelta(days=day, hours=hour, minutes=minute)
    return moment.isoformat()


def event(lead: str, day: int, hour: int, kind: str, email: dict[str, str] | None = None) -> dict:
    return {"lead_id": lead, "occurred_at": _at(day, hour), "activity_type": kind, **(email or {})}


def small_crm() -> CRMTables:
    """Three leads in one track; lead C got the two track emails in the other order."""
    activities = [
        event("A", 1, 9, "email_sent", WELCOME),
        event("A", 1, 10, "email_open", WELCOME),
        event("A", 1, 11, "email_click", WELCOME),
        event("A", 1, 12, "pricing_page_view"),
        event("A", 4, 9, "email_sent", TIPS),
        event("A", 12, 9, "email_sent", NEWS),
        event("A", 12, 10, "email_click", NEWS),
        event("A", 14, 10, "blog_read"),  # two days after the click: not what the click led to
        event("B", 2, 9, "email_sent", WELCOME),
        event("B", 5, 9, "email_sent", TIPS),
        event("B", 5, 10, "email_open", TIPS),
        event("B", 12, 9, "email_sent", NEWS),
        event("C", 2, 9, "email_open", TIPS),  # before C was sent it: not an open of that send
        event("C", 3, 9, "email_sent", TIPS),
        event("C", 6, 9, "email_sent", WELCOME),
    ]
    created = "2026-04-30T08:00:00"
    return make_crm(
        leads=[{"lead_id": lead, "created_at": created} for lead in "ABC"],
        activities=activities,
        outcomes=[
            {"lead_id": "A", "closed_at": "2026-05-11T12:00:00", "won": True},
            {"lead_id": "B", "closed_at": "2026-05-20T12:00:00", "won": False},
        ],
    )


def test_each_email_counts_distinct_recipients_and_what_they_did_after_the_send() -> None:
    table = nurture_table(small_crm()).set_index("email")

    assert list(table.index) == ["Welcome", "Tips", "News May"]  # the track in order, then the rest
    welcome, tips, news = (table.loc[name] for name in ("Welcome", "Tips", "News May"))
    assert (welcome["track"], welcome["position"]) == ("analytics", 1)  # 1st for A and B, 2nd for C
    assert (tips["track"], tips["position"]) == ("analytics", 2)
    assert news["track"] is None and pd.isna(news["position"])
    assert welcome[["sent", "opened", "clicked", "won"]].tolist() == [3, 1, 1, 1]
    assert tips[["sent", "opened", "clicked", "won"]].tolist() == [3, 1, 0, 1]  # C's early open
    assert news[["sent", "opened", "clicked", "won"]].tolist() == [2, 0, 1, 0]  # A won before it
    assert welcome["open_rate"] == pytest.approx(1 / 3)
    assert welcome["conversion"] == pytest.approx(1 / 3)
    assert news["click_rate"] == pytest.approx(1 / 2)
    assert welcome["clicks_led_to"] == "pricing page view (100%)"
    assert news["clicks_led_to"] == "nothing within a day (100%)"
    assert tips["clicks_led_to"] == ""


def test_as_of_leaves_out_later_sends_opens_and_deals() -> None:
    table = nurture_table(small_crm(), as_of=pd.Timestamp("2026-05-05")).set_index("email")

    assert list(table.index) == ["Welcome", "Tips"]  # the newsletter came later
    assert table.loc["Welcome", ["sent", "opened", "won"]].tolist() == [2, 1, 0]  # A won later
    assert table.loc["Tips", ["sent", "opened", "position"]].tolist() == [1, 0, 1]  # C alone


def test_by_default_a_deal_won_after_the_last_event_counts() -> None:
    crm = make_crm(
        leads=[{"lead_id": lead, "created_at": "2026-04-30T08:00:00"} for lead in "AB"],
        activities=[
            event("A", 1, 9, "email_sent", WELCOME),
            event("B", 1, 9, "email_sent", WELCOME),
        ],
        outcomes=[{"lead_id": "A", "closed_at": "2026-06-20T12:00:00", "won": True}],
    )
    table = nurture_table(crm)
    assert table[["sent", "won"]].iloc[0].tolist() == [2, 1]
    assert won_share(crm, default_as_of(crm)) == 0.5


def test_clicks_count_once_per_recipient_and_only_on_emails_that_were_sent() -> None:
    """A clicks three times and books a demo each time, B clicks once and reads the blog: half
    the clickers went on to a demo, not three in four clicks. A click on an email nobody was
    sent (a forwarded one) makes no row."""
    orphan = {"campaign": "Promo", "asset": "Forwarded"}
    activities = [event("A", 1, 9, "email_sent", WELCOME), event("B", 1, 9, "email_sent", WELCOME)]
    for hour in (10, 12, 14):
        activities += [
            event("A", 1, hour, "email_click", WELCOME),
            event("A", 1, hour, "demo_request") | {"occurred_at": _at(1, hour, 1)},
        ]
    activities += [
        event("B", 1, 10, "email_click", WELCOME),
        event("B", 1, 11, "blog_read"),
        event("B", 2, 10, "email_click", orphan),
    ]
    crm = make_crm(
        leads=[{"lead_id": lead, "created_at": "2026-04-30T08:00:00"} for lead in "AB"],
        activities=activities,
    )
    table = nurture_table(crm)
    assert table["email"].tolist() == ["Welcome"]
    assert table["sent"].dtype.kind == "i"
    assert table["clicked"].iloc[0] == 2
    assert table["clicks_led_to"].iloc[0] in ("blog read (50%)", "demo request (50%)")


def test_a_crm_without_emails_gives_an_empty_table_with_the_columns() -> None:
    crm = make_crm(
        leads=[{"lead_id": "A", "created_at": "2026-01-01"}],
        activities=[event("A", 1, 9, "page_view")],
    )
    table = nurture_table(crm)
    assert table.empty and list(table.columns) == list(COLUMNS)


def test_positions_read_from_the_send_order_match_the_demo_sequence_numbers(
    demo_parquet: Path,
) -> None:
    """The demo names its nurture emails "Nurture <track> k/6"; the table never reads the name."""
    table = nurture_table(load_tables(demo_parquet))
    nurture = table.loc[table["campaign"].str.startswith("Nurture")]
    numbered = nurture["campaign"].str.extract(r"(\d)/6$")[0].astype(int)
    assert len(nurture) == 30
    assert (nurture["position"].astype(int) == numbered).all()
    assert table.loc[table["campaign"] == "Monatsnewsletter", "position"].isna().all()
    assert (table["opened"] <= table["sent"]).all() and (table["clicked"] <= table["sent"]).all()


@pytest.fixture(scope="module")
def demo_tables(demo_parquet: Path) -> CRMTables:
    return load_tables(demo_parquet)


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(day=st.integers(min_value=30, max_value=600), shift=st.integers(min_value=0, max_value=400))
def test_events_at_or_after_as_of_change_nothing(
    demo_tables: CRMTables, day: int, shift: int
) -> None:
    first = demo_tables.leads["created_at"].min().normalize()
    as_of = first + pd.Timedelta(days=day)
    activities, outcomes = demo_tables.activities, demo_tables.outcomes
    later = activities["occurred_at"] >= as_of
    moved = activities.assign(  # later events moved further on, and every later deal won
        occurred_at=activities["occurred_at"].where(
            ~later, activities["occurred_at"] + pd.Timedelta(days=shift)
        )
    )
    changed = CRMTables(
        demo_tables.leads,
        moved,
        outcomes.assign(won=outcomes["won"].where(outcomes["closed_at"] < as_of, True)),
    )
    cut = CRMTables(
        demo_tables.leads,
        activities.loc[~later],
        outcomes.loc[outcomes["closed_at"] < as_of],
    )

    expected = nurture_table(cut, as_of)
    pd.testing.assert_frame_equal(nurture_table(changed, as_of), expected)
    pd.testing.assert_frame_equal(nurture_table(demo_tables, as_of), expected)


def test_the_command_prints_the_tracks_and_writes_the_table(
    demo_parquet: Path, tmp_path: Path
) -> None:
    out = tmp_path / "emails.csv"
    result = CliRunner().invoke(
        app, ["nurture", str(demo_parquet), "--min-sent", "50", "--out", str(out)]
    )

    assert result.exit_code == 0, result.output
    written = pd.read_csv(out)
    assert len(written) > 0 and (written["sent"] >= 50).all()
    assert list(written.columns) == list(COLUMNS)
    assert "no track" in result.output and "Willkommen" in result.output
    assert "CRM Integration" in result.output  # the track as the routing file names it
    assert re.search(rf"Wrote {len(written)} rows to", result.output)
    narrow = (
        CliRunner()
        .invoke(app, ["nurture", str(demo_parquet), "--min-sent", "50"], env={"COLUMNS": "80"})
        .output
    )
    assert max(len(line) for line in narrow.splitlines()) <= 80
    assert "CRM Integration" in narrow


def test_the_command_names_a_missing_crm(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["nurture", str(tmp_path / "nowhere")])
    assert result.exit_code == 1
    assert "does not exist" in result.output
