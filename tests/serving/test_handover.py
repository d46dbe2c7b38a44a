"""The handover note says what the lead did, and when, in the lead's own actions."""

from __future__ import annotations

import pandas as pd
import pytest

from features.texts import Event
from serving.handover import handover_note
from serving.routing import Route

AS_OF = pd.Timestamp("2026-11-20")
LEAD = {"first_name": "Anna", "last_name": "Müller", "company": "ACME GmbH", "marketing_actions": 3}
ROUTE = Route(action="sales", team="DACH-Nord", why="grade A goes to sales")


def events(days_ago: float) -> list[Event]:
    """Three marketing actions, the newest ``days_ago`` before the scoring moment."""
    kinds = [("demo_request", None), ("whitepaper_download", "Guide"), ("blog_read", "Post")]
    return [
        Event(AS_OF - pd.Timedelta(days=days_ago + i), kind, asset, None, days_ago + i)
        for i, (kind, asset) in enumerate(kinds)
    ]


@pytest.mark.parametrize(
    ("days_ago", "lang", "says"),
    [
        (2, "en", "Anna Müller (ACME GmbH) just took the third marketing action:"),
        (40, "en", "Anna Müller (ACME GmbH) took the third marketing action on 11 Oct 2026:"),
        (2, "de", "Anna Müller (ACME GmbH) hat gerade die dritte Marketing-Aktion ausgeführt:"),
        (40, "de", "Anna Müller (ACME GmbH) hat am 11.10.2026 die dritte Marketing-Aktion"),
    ],
)
def test_the_note_says_just_only_for_recent_actions(days_ago: int, lang: str, says: str) -> None:
    note = handover_note(LEAD, events(days_ago), 71, "A", ROUTE, ["Asked for a demo"], [], lang)  # type: ignore[arg-type]
    assert note.startswith(says), note
    assert ("Guide" in note) and ("DACH-Nord" in note) and "71 (A)" in note


def test_english_ordinals_past_ninth() -> None:
    from serving.handover import _ordinal

    said = {n: _ordinal(n, "en") for n in (10, 11, 12, 13, 21, 22, 23, 101, 111, 112)}
    assert said == {
        10: "10th", 11: "11th", 12: "12th", 13: "13th", 21: "21st",
        22: "22nd", 23: "23rd", 101: "101st", 111: "111th", 112: "112th",
    }  # fmt: skip
    assert _ordinal(21, "de") == "21."


@pytest.mark.parametrize(
    ("lang", "ends"),
    [
        ("en", "Please follow up (DACH-Nord); check first: Phone number '0000000' is not valid."),
        (
            "de",
            "Bitte nachfassen (DACH-Nord); vorher prüfen: Telefonnummer „0000000“ ist ungültig.",
        ),
    ],
)
def test_a_flag_routing_lets_through_to_sales_is_in_the_note(lang: str, ends: str) -> None:
    """A fake phone number does not stop a hot lead, but sales should not dial it blind."""
    flag = ends.split(": ", 1)[1].removesuffix(".")
    note = handover_note(LEAD, events(2), 71, "A", ROUTE, [], [flag], lang)  # type: ignore[arg-type]
    assert note.endswith(ends), note
    clean = handover_note(LEAD, events(2), 71, "A", ROUTE, [], [], lang)  # type: ignore[arg-type]
    assert clean.endswith("(DACH-Nord).")


def test_the_latest_actions_are_those_of_the_last_weeks_not_of_last_year() -> None:
    """'Took the 8th action on 14 Oct; the latest: registration for webinar ...' (of Feb 2025)."""
    history = [
        Event(AS_OF - pd.Timedelta(days=10), "form_submit", "Kontaktformular", None, 10.0),
        Event(AS_OF - pd.Timedelta(days=400), "webinar_registration", "Live-Demo", None, 400.0),
    ]
    note = handover_note(LEAD, history, 71, "A", ROUTE, [], [], "en")  # type: ignore[arg-type]
    assert "the latest: form 'Kontaktformular'." in note, note
    assert "Live-Demo" not in note
