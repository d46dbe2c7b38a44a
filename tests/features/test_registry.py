"""Every feature explains itself in English and German, citing the lead's real events."""

from __future__ import annotations

import re
import string
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.contract import ACTIVITY_TYPES
from features.loaders import load_tables
from features.pipeline import build_features, explain_events, model_columns
from features.registry import FEATURES, NUMBER_FIELDS, SINGULAR_DE, registry_frame
from features.texts import Event, event_phrase, events_by_snap, format_date, render_reason

PLACEHOLDERS = {
    "n", "days", "value", "pct", "last", "assets", "recent", "intent", "actions", "topics",
    "created", "title", "email_domain", "flags", "trend",
}  # fmt: skip


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize("name", sorted(FEATURES))
def test_every_feature_has_all_templates(name: str) -> None:
    feature = FEATURES[name]
    for lang in ("en", "de"):
        for direction in feature.directions():
            template = feature.template(lang, direction)
            assert template.strip(), f"{name}: empty {direction}_{lang}"
            assert _fields(template) <= PLACEHOLDERS, f"{name}: unknown placeholder in {template}"
    assert feature.up_en != feature.up_de


@pytest.mark.parametrize(
    ("ratio", "says"), [(3.0, "more actions"), (1.0, "as many actions"), (0.5, "fewer actions")]
)
def test_the_pace_of_activity_says_which_way_it_went_whatever_the_sign(
    ratio: float, says: str
) -> None:
    # velocity_14d is a smoothed ratio; it once read "1 action in the last 14 days" for 0.5
    for direction in ("up", "down"):
        text = render_reason("velocity_14d", ratio, direction, {}, [], "en")
        assert text == f"Pace of activity: {says} in the last 14 days " + (
            "as in the 14 before" if ratio == 1 else "than in the 14 before"
        )


def test_registry_and_model_columns_agree() -> None:
    assert list(registry_frame()["name"]) == list(FEATURES)
    assert model_columns()[: len(FEATURES)] == list(FEATURES)


@pytest.fixture(scope="module")
def demo_features(demo_parquet: Path) -> tuple[pd.DataFrame, dict]:
    tables = load_tables(demo_parquet)
    as_of = tables.activities["occurred_at"].quantile(0.8)
    frame = build_features(tables, as_of=as_of).head(300)
    return frame, events_by_snap(explain_events(tables, frame))


@pytest.mark.parametrize("lang", ["en", "de"])
def test_every_template_renders_for_real_values(
    demo_features: tuple[pd.DataFrame, dict], lang: str
) -> None:
    frame, events = demo_features
    rendered = 0
    for position, lead in frame.head(60).iterrows():
        lead_events = events.get(position, [])
        for name in FEATURES:
            for direction in ("up", "down"):
                text = render_reason(name, lead[name], direction, lead.to_dict(), lead_events, lang)
                assert "{" not in text and text.strip()
                rendered += 1
    assert rendered == 60 * len(FEATURES) * 2


def test_reasons_cite_the_leads_real_assets_and_dates(
    demo_features: tuple[pd.DataFrame, dict],
) -> None:
    frame, events = demo_features
    with_whitepaper = frame.index[frame["n_whitepaper_download_90d"] > 0]
    assert len(with_whitepaper) > 0
    position = with_whitepaper[0]
    lead_events = events[position]
    downloads = [
        e for e in lead_events if e.activity_type == "whitepaper_download" and e.age_days < 90
    ]
    text = render_reason(
        "n_whitepaper_download_90d",
        frame.loc[position, "n_whitepaper_download_90d"],
        "up",
        frame.loc[position].to_dict(),
        lead_events,
        "en",
    )
    assert f"'{downloads[0].asset}'" in text
    assert format_date(downloads[0].occurred_at, "en") in text


def test_dates_read_naturally_in_both_languages() -> None:
    moment = pd.Timestamp("2026-11-20 14:00")
    assert format_date(moment, "en") == "20 Nov 2026"
    assert format_date(moment, "de") == "20.11.2026"
    text = render_reason("days_since_last_activity", float("nan"), "down", {}, [], "de")
    assert text == "Noch keine Aktivität erfasst"


def test_english_reasons_use_the_singular_for_one() -> None:
    event = Event(pd.Timestamp("2026-11-20"), "sales_call", None, None, 2.0)
    text = render_reason("n_sales_call_30d", 1.0, "up", {}, [event], "en")
    assert text == "Had 1 sales call in the last 30 days, last on 20 Nov 2026"
    pricing = Event(pd.Timestamp("2026-11-20"), "pricing_page_view", None, None, 2.0)
    text = render_reason("n_pricing_page_view_7d", 1.0, "up", {}, [pricing], "en")
    assert text.startswith("Visited the pricing page once in the last 7 days")


def test_german_reasons_use_the_singular_for_one() -> None:
    webinar = Event(pd.Timestamp("2026-11-20"), "webinar_attended", "Webinar: CRM", None, 2.0)
    text = render_reason("n_webinar_attended_30d", 1.0, "up", {}, [webinar], "de")
    assert text.startswith("Hat in den letzten 30 Tagen an 1 Webinar teilgenommen")
    pricing = Event(pd.Timestamp("2026-11-20"), "pricing_page_view", None, None, 2.0)
    text = render_reason("n_pricing_page_view_7d", 1.0, "up", {}, [pricing], "de")
    assert text.startswith("Hat die Preisseite in den letzten 7 Tagen einmal besucht")
    assert render_reason("days_since_last_activity", 1.0, "down", {}, [], "de") == (
        "Seit 1 Tag keine Aktivität"
    )
    text = render_reason("n_webinar_attended_30d", 3.0, "up", {}, [webinar], "de")
    assert "an 3 Webinaren teilgenommen" in text


# A number placeholder and what follows it: "-mal", or a word (after "verschiedenen").
COUNTED = re.compile(r"\{(?:" + "|".join(NUMBER_FIELDS) + r")\}(-mal|(?: verschiedenen)? [\w-]+)")


@pytest.mark.parametrize("lang", ["en", "de"])
def test_every_template_that_counts_something_has_a_singular(lang: str) -> None:
    """A template counting a noun says it in the singular for one: German nouns come from
    SINGULAR_DE, so a new template's noun must be declared there."""
    counted = 0
    for feature in FEATURES.values():
        for direction in feature.directions():
            template = feature.template(lang, direction)
            one = feature.template(lang, direction, one=True)
            found = COUNTED.search(template)
            if found is None:
                assert one == template
                continue
            counted += 1
            noun = found.group(1).split()[-1]
            if lang == "de" and noun != "-mal":
                assert noun in SINGULAR_DE, f"{feature.name}: no singular for {noun!r}"
                if SINGULAR_DE[noun] == noun and "verschiedenen" not in found.group(1):
                    assert one == template
                    continue
            assert one != template, f"{feature.name}: {template!r} has no singular form"
            assert set(_fields(one)) <= set(_fields(template))
    assert counted > 50


# days: the number is written rounded (f"{days:.0f}": round half to even, as numpy's rint), and
# the singular follows the number as written
DAYS = [
    (0.5000001, "1 day", "1 Tag"),
    (0.7, "1 day", "1 Tag"),
    (1, "1 day", "1 Tag"),
    (1.0, "1 day", "1 Tag"),
    (np.float32(1.0), "1 day", "1 Tag"),
    (np.int64(1), "1 day", "1 Tag"),
    (1.4, "1 day", "1 Tag"),
    (1.4999999, "1 day", "1 Tag"),
    (1.5, "2 days", "2 Tagen"),
    (2, "2 days", "2 Tagen"),
    (2.5, "2 days", "2 Tagen"),
    (3.5, "4 days", "4 Tagen"),
    (-0.7, "-1 days", "-1 Tagen"),
]


@pytest.mark.parametrize("days", [0.0, 0.4999999, 0.5])
def test_days_that_read_zero_are_less_than_a_day(days: float) -> None:
    assert render_reason("days_since_last_activity", days, "down", {}, [], "en") == (
        "No activity for less than a day"
    )
    assert render_reason("days_since_last_activity", days, "down", {}, [], "de") == (
        "Seit weniger als einem Tag keine Aktivität"
    )
    assert render_reason("lead_age_days", days, "up", {}, [], "en") == (
        "Lead for less than a day (created —)"
    )
    assert render_reason("days_since_high_intent", days, "up", {}, [], "de") == (
        "Hat vor weniger als einem Tag Kaufinteresse gezeigt"
    )


@pytest.mark.parametrize(("days", "en", "de"), DAYS)
def test_days_are_singular_when_they_read_one(days: float, en: str, de: str) -> None:
    assert render_reason("days_since_last_activity", days, "down", {}, [], "en") == (
        f"No activity for {en}"
    )
    assert render_reason("days_since_last_activity", days, "down", {}, [], "de") == (
        f"Seit {de} keine Aktivität"
    )
    assert render_reason("lead_age_days", days, "up", {}, [], "en") == (
        f"Lead for {en} (created —)"
    )
    assert render_reason("lead_age_days", days, "up", {}, [], "de") == (
        f"Lead seit {de} (angelegt am —)"
    )
    intent = Event(pd.Timestamp("2026-11-20"), "demo_request", None, None, 1.0)
    assert render_reason("days_since_high_intent", days, "up", {}, [intent], "en") == (
        f"Showed buying intent {en} ago (a demo request on 20 Nov 2026)"
    )
    assert render_reason("days_since_high_intent", days, "up", {}, [intent], "de") == (
        f"Hat vor {de} Kaufinteresse gezeigt (eine Demo-Anfrage am 20.11.2026)"
    )


# counts and other numbers are written as they are ("0.7", "1.0" for 0.96; German "0,7"): one
# only for 1
COUNTS = [
    (0.7, "0.7 webinars", "0,7 Webinaren", "0.7 times", "0,7-mal"),
    (0.96, "1.0 webinars", "1,0 Webinaren", "1.0 times", "1,0-mal"),
    (1, "1 webinar", "1 Webinar", "once", "einmal"),
    (1.0, "1 webinar", "1 Webinar", "once", "einmal"),
    (np.int64(1), "1 webinar", "1 Webinar", "once", "einmal"),
    (1.4, "1.4 webinars", "1,4 Webinaren", "1.4 times", "1,4-mal"),
    (1.5, "1.5 webinars", "1,5 Webinaren", "1.5 times", "1,5-mal"),
    (2, "2 webinars", "2 Webinaren", "2 times", "2-mal"),
]


@pytest.mark.parametrize(("n", "en", "de", "times_en", "times_de"), COUNTS)
def test_counts_are_singular_when_they_read_one(
    n: float, en: str, de: str, times_en: str, times_de: str
) -> None:
    webinar = Event(pd.Timestamp("2026-11-20"), "webinar_attended", "CRM 101", None, 2.0)
    assert render_reason("n_webinar_attended_30d", n, "up", {}, [webinar], "en") == (
        f"Attended {en} in the last 30 days ('CRM 101'), last on 20 Nov 2026"
    )
    assert render_reason("n_webinar_attended_30d", n, "up", {}, [webinar], "de") == (
        f"Hat in den letzten 30 Tagen an {de} teilgenommen („CRM 101“), zuletzt am 20.11.2026"
    )
    pricing = Event(pd.Timestamp("2026-11-20"), "pricing_page_view", None, None, 2.0)
    assert render_reason("n_pricing_page_view_7d", n, "up", {}, [pricing], "en") == (
        f"Visited the pricing page {times_en} in the last 7 days, last on 20 Nov 2026"
    )
    assert render_reason("n_pricing_page_view_7d", n, "up", {}, [pricing], "de") == (
        f"Hat die Preisseite in den letzten 7 Tagen {times_de} besucht, zuletzt am 20.11.2026"
    )


@pytest.mark.parametrize(
    ("feature", "n", "direction", "text"),
    [
        ("marketing_actions", 1, "up", "Hat 1 Marketing-Aktion ausgeführt"),
        ("distinct_topics", 1, "up", "Hat sich über 1 Thema informiert"),
        ("physical_touches", 1, "up", "Hatte 1 Offline-Kontakt mit uns"),
        ("distinct_assets", 1, "up", "Hat sich mit 1 einzigen Inhalt beschäftigt"),
        ("n_blog_read_7d", 1, "up", "Hat in den letzten 7 Tagen einmal einen Blogartikel gelesen"),
        ("distinct_topics", 2, "up", "Hat sich über 2 Themen informiert"),
        ("employees", 1, "up", "Unternehmensgröße passt: 1 Person"),
    ],
)
def test_german_uses_the_singular_of_every_counted_noun(
    feature: str, n: int, direction: str, text: str
) -> None:
    """Nouns the old word list missed said "1 Marketing-Aktionen", "1 Themen"."""
    assert render_reason(feature, n, direction, {}, [], "de") == text  # type: ignore[arg-type]


@pytest.mark.parametrize("direction", ["up", "down"])
def test_a_count_says_what_the_lead_did_whichever_way_the_model_weighs_it(direction: str) -> None:
    """The sign is the model's (shown beside the text); the sentence is about the lead. A model
    may weigh 8 blog reads down: they were still read, and "read no blog article" would be false."""
    read = Event(pd.Timestamp("2026-11-20"), "blog_read", "Lead Scoring 101", None, 3.0)
    assert render_reason("n_blog_read_90d", 8, direction, {}, [read], "en") == (  # type: ignore[arg-type]
        "Read blog articles 8 times in the last 90 days ('Lead Scoring 101')"
    )
    assert render_reason("n_blog_read_90d", 0, direction, {}, [], "en") == (  # type: ignore[arg-type]
        "Read no blog article in the last 90 days"
    )
    assert render_reason("marketing_actions", 0, direction, {}, [], "de") == (  # type: ignore[arg-type]
        "Hat noch keine Marketing-Aktion ausgeführt"
    )
    assert render_reason("n_activities_30d", 0, direction, {}, [], "en") == (  # type: ignore[arg-type]
        "Took no action in the last 30 days"
    )
    assert render_reason("physical_touches", 2, direction, {}, [], "en") == (  # type: ignore[arg-type]
        "Had 2 offline contacts with us"
    )


def test_emails_we_sent_are_not_cited_as_the_leads_actions() -> None:
    sent = Event(pd.Timestamp("2026-11-20"), "email_sent", "Newsletter November", None, 2.0)
    visit = Event(pd.Timestamp("2026-10-01"), "pricing_page_view", None, "pricing", 52.0)
    lead = {"as_of": pd.Timestamp("2026-11-22")}
    assert render_reason("days_since_last_activity", 52.0, "up", lead, [sent, visit], "en") == (
        "Last action 52 days ago (the pricing page on 1 Oct 2026)"
    )
    assert render_reason("distinct_topics", 1, "up", lead, [sent, visit], "en") == (
        "Looked into 1 topic, e.g. pricing"
    )


def test_a_buying_signal_older_than_the_cited_events_is_dated_by_its_value() -> None:
    lead = {"as_of": pd.Timestamp("2026-12-07 10:00")}
    assert render_reason("days_since_high_intent", 739.0, "down", lead, [], "en") == (
        "No buying signal for 739 days (last: 28 Nov 2024)"
    )
    assert render_reason("days_since_high_intent", 739.0, "down", lead, [], "de") == (
        "Seit 739 Tagen kein Kaufsignal (zuletzt: 28.11.2024)"
    )


def test_the_singular_changes_the_templates_words_never_the_cited_names() -> None:
    guide = Event(pd.Timestamp("2026-11-20"), "whitepaper_download", "1 Minute Guides", None, 2.0)
    assert render_reason("n_whitepaper_download_30d", 1, "up", {}, [guide], "en") == (
        "Downloaded whitepapers once in the last 30 days ('1 Minute Guides'), last on 20 Nov 2026"
    )
    fair = Event(pd.Timestamp("2026-11-20"), "trade_fair_visit", "1 Messen", None, 2.0)
    assert render_reason("physical_touches", 1, "up", {}, [fair], "de") == (
        "Hatte 1 Offline-Kontakt mit uns („1 Messen“)"
    )


def test_a_size_band_that_reads_one_is_one_employee() -> None:
    assert render_reason("employees", 1, "up", {}, [], "en") == "Company size fits: 1 employee"
    assert render_reason("employees", 0.7, "up", {}, [], "en") == (
        "Company size fits: 0.7 employees"
    )
    assert render_reason("size_band", "1", "up", {}, [], "en") == "Company size fits: 1 employee"
    assert render_reason("size_band", "1-9", "up", {}, [], "en") == (
        "Company size fits: 1-9 employees"
    )


@pytest.mark.parametrize(("lang", "shown"), [("en", "Index 2.5"), ("de", "Index 2,5")])
def test_german_texts_write_a_decimal_comma(lang: str, shown: str) -> None:
    text = render_reason("engagement_decayed", 2.5, "down", {}, [], lang)  # type: ignore[arg-type]
    assert shown.lower() in text.lower()


def test_category_codes_read_as_words_in_both_languages() -> None:
    director = {"job_title": "Sales Director"}
    assert render_reason("seniority", "head", "up", director, [], "de") == (
        "Hierarchiestufe passt: Sales Director (Bereichsleitung)"
    )
    assert render_reason("seniority", "head", "down", director, [], "en") == (
        "Seniority fits less well: Sales Director (head of department)"
    )
    assert render_reason("source", "webinar", "up", {}, [], "de") == "Kam über ein Webinar"
    assert render_reason("source", "trade_fair", "up", {}, [], "en") == (
        "Came in through a trade fair"
    )
    # a CRM's own values are its words: shown as they are
    assert render_reason("source", "Partner_Portal", "up", {}, [], "de") == (
        "Kam über Partner Portal"
    )
    assert render_reason("interest_field", "crm_integration", "up", {}, [], "de") == (
        "Hauptinteresse: CRM-Integration"
    )


def test_evidence_not_among_the_cited_events_is_left_out_not_a_dash() -> None:
    """A trade fair a year and forty events ago is counted, but not among the recent events a
    reason cites: the sentence ends without "(—)"."""
    assert (
        render_reason("physical_touches", 1, "up", {}, [], "en") == "Had 1 offline contact with us"
    )
    assert render_reason("marketing_actions", 3, "up", {}, [], "en") == (
        "Has taken 3 marketing actions"
    )
    assert render_reason("n_pricing_page_view_90d", 2, "up", {}, [], "de") == (
        "Hat die Preisseite in den letzten 90 Tagen 2-mal besucht"
    )


def test_latest_actions_are_different_ones_and_content_is_not_a_call() -> None:
    form = Event(pd.Timestamp("2026-11-01"), "form_submit", "Kontakt", None, 20.0)
    pricing = [
        Event(pd.Timestamp(f"2026-11-{d}"), "pricing_page_view", None, None, 1.0)
        for d in (20, 19, 18)
    ]
    assert render_reason("marketing_actions", 4, "up", {}, [*pricing, form], "en") == (
        "Has taken 4 marketing actions, the latest: form 'Kontakt' and the pricing page"
    )
    call = Event(pd.Timestamp("2026-11-21"), "sales_call", "Qualifizierungsanruf", None, 0.5)
    blog = Event(pd.Timestamp("2026-11-02"), "blog_read", "Lead Scoring 101", None, 19.0)
    assert render_reason("distinct_assets", 2, "up", {}, [call, blog], "en") == (
        "Engaged with 2 different pieces of content, e.g. 'Lead Scoring 101'"
    )


@pytest.mark.parametrize("lang", ["en", "de"])
def test_an_event_without_an_asset_reads_as_words_not_a_question_mark(lang: str) -> None:
    """A CRM that names no trade fair or form: 'visit at ?' went into a note for sales."""
    for activity_type in ACTIVITY_TYPES:
        phrase = event_phrase(activity_type, None, lang)
        assert phrase and "?" not in phrase and "{" not in phrase and "''" not in phrase
        assert "„“" not in phrase and not phrase.endswith(" "), phrase
    assert event_phrase("trade_fair_visit", None, "en") == "a trade fair visit"
    assert event_phrase("form_submit", "", "de") == "ein Formular"
    assert event_phrase("form_submit", "Kontakt", "de") == "Formular „Kontakt“"
    assert event_phrase("partner_referral", None, "de") == "partner referral"  # the CRM's own


@pytest.mark.parametrize("lang", ["en", "de"])
def test_engagement_is_its_index_without_a_judgement_the_sign_cannot_back(lang: str) -> None:
    """'High recent engagement' stood beside 'No activity for 41 days' on one card."""
    call = Event(pd.Timestamp("2026-10-27"), "page_view", "Preise", None, 5.0)
    up = render_reason("engagement_decayed", 14.0, "up", {}, [call], lang)  # type: ignore[arg-type]
    down = render_reason("engagement_decayed", 14.0, "down", {}, [call], lang)  # type: ignore[arg-type]
    for text in (up, down):
        assert text.lower().startswith("engagement"), text
        assert not {"high", "low", "hohes", "geringes"} & set(text.lower().split())
    assert ("27 Oct 2026" if lang == "en" else "27.10.2026") in up


def test_a_share_is_written_as_each_language_writes_it() -> None:
    rate = "email_open_rate"
    assert render_reason(rate, 0.43, "up", {}, [], "en") == "Opened 43% of the emails we sent"
    assert (
        render_reason(rate, 0.43, "up", {}, [], "de") == "Hat 43 % der gesendeten E-Mails geöffnet"
    )


def test_a_rate_without_sends_says_what_the_data_holds() -> None:
    """A CRM that logs opens but not sends: 'Has not been sent any email yet' stood beside
    'Opened emails 3 times'."""
    assert render_reason("email_open_rate", float("nan"), "down", {}, [], "en") == (
        "No email we sent is on record"
    )
    assert render_reason("email_click_rate", float("nan"), "up", {}, [], "de") == (
        "Keine gesendete E-Mail erfasst"
    )
