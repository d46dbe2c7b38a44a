"""Every feature explains itself in English and German, citing the lead's real events."""

from __future__ import annotations

import string
from pathlib import Path

import pandas as pd
import pytest

from features.loaders import load_tables
from features.pipeline import build_features, explain_events, model_columns
from features.registry import FEATURES, registry_frame
from features.texts import Event, events_by_snap, format_date, render_reason

PLACEHOLDERS = {
    "n", "days", "value", "pct", "last", "assets", "recent", "intent", "actions", "topics",
    "created", "title", "email_domain", "flags",
}  # fmt: skip


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize("name", sorted(FEATURES))
def test_every_feature_has_all_templates(name: str) -> None:
    feature = FEATURES[name]
    for lang in ("en", "de"):
        for direction in ("up", "down", "missing"):
            template = feature.template(lang, direction)
            assert template.strip(), f"{name}: empty {direction}_{lang}"
            assert _fields(template) <= PLACEHOLDERS, f"{name}: unknown placeholder in {template}"
    assert feature.up_en != feature.up_de


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
