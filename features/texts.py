"""Turning a feature value into a sentence about the lead's own actions.

A reason is only as good as the evidence it cites, so the context for a template is built from
the events behind the value: the same window, the same activity type, the real asset names and
dates. Templates themselves live in :mod:`features.registry`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Literal

import pandas as pd

from features.registry import EVENT_NAMES, FEATURES, HIGH_INTENT, MARKETING_ACTIONS, PHYSICAL

Lang = Literal["en", "de"]
MONTHS_EN = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
EVENT_COLUMNS = ("occurred_at", "activity_type", "asset", "topic", "age_days")


def format_date(moment: object, lang: Lang) -> str:
    if moment is None or pd.isna(moment):
        return "—"
    ts = pd.Timestamp(moment)
    if lang == "de":
        return f"{ts.day:02d}.{ts.month:02d}.{ts.year}"
    return f"{ts.day} {MONTHS_EN[ts.month - 1]} {ts.year}"


def event_phrase(activity_type: str, asset: object, lang: Lang) -> str:
    """One event as words: "whitepaper 'Marketing Automation Guide'"."""
    en, de = EVENT_NAMES.get(activity_type, (activity_type.replace("_", " "), activity_type))
    name = asset if isinstance(asset, str) and asset else "?"
    text = (de if lang == "de" else en).format(asset=name)
    return text.replace(" '?'", "").replace(" „?“", "")


def _event_with_date(event: Mapping[str, object], lang: Lang) -> str:
    word = "am" if lang == "de" else "on"
    phrase = event_phrase(str(event["activity_type"]), event.get("asset"), lang)
    return f"{phrase} {word} {format_date(event['occurred_at'], lang)}"


def _join(items: list[str], lang: Lang) -> str:
    if len(items) <= 1:
        return "".join(items)
    last = " und " if lang == "de" else " and "
    return ", ".join(items[:-1]) + last + items[-1]


def _quoted_assets(events: pd.DataFrame, lang: Lang, limit: int = 3) -> str:
    names = [a for a in events["asset"].dropna().drop_duplicates().head(limit)]
    if not names:
        return "—"
    return ", ".join(f"„{a}“" if lang == "de" else f"'{a}'" for a in names)


def _number(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def reason_context(
    feature: str, value: object, lead: Mapping[str, object], events: pd.DataFrame, lang: Lang
) -> dict[str, str]:
    """Everything a template may cite. ``events``: this lead's recent events, newest first."""
    spec = FEATURES[feature]
    if events.empty:
        events = pd.DataFrame(columns=list(EVENT_COLUMNS))
    relevant = events
    if spec.activity_type is not None:
        window = int(feature.rsplit("_", 1)[1].rstrip("d"))
        relevant = events[
            (events["activity_type"] == spec.activity_type) & (events["age_days"] < window)
        ]
    newest = relevant.iloc[0] if len(relevant) else None
    intent = events[events["activity_type"].isin(HIGH_INTENT)]
    marketing = events[events["activity_type"].isin(MARKETING_ACTIONS)].head(3).iloc[::-1]
    physical = events[events["activity_type"].isin(PHYSICAL)]
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    missing = value is None or (numeric and math.isnan(value))
    topics = events["topic"].dropna().drop_duplicates().head(4).tolist()
    return {
        "n": _number(value) if numeric and not missing else "0",
        "days": _number(value) if numeric and not missing else "—",
        "value": _number(value) if numeric and not missing else str(value),
        "pct": f"{value:.0%}" if numeric and not missing else "—",
        "last": format_date(newest["occurred_at"] if newest is not None else None, lang),
        "assets": _quoted_assets(relevant, lang),
        "recent": _event_with_date(events.iloc[0], lang) if len(events) else "—",
        "intent": _event_with_date(intent.iloc[0], lang) if len(intent) else "—",
        "actions": _join(
            [event_phrase(r.activity_type, r.asset, lang) for r in marketing.itertuples()], lang
        )
        or "—",
        "topics": ", ".join(topics) or "—",
        "created": format_date(lead.get("created_at"), lang),
        "title": str(lead.get("job_title") or "—"),
        "email_domain": str(lead.get("email_domain") or "—"),
        "flags": "; ".join(lead.get("quality_texts") or []) or "—",
    } | ({"assets": _quoted_assets(physical, lang)} if feature == "physical_touches" else {})


def render_reason(
    feature: str,
    value: object,
    direction: Literal["up", "down"],
    lead: Mapping[str, object],
    events: pd.DataFrame,
    lang: Lang = "en",
) -> str:
    """The sentence sales reads for one feature of one lead."""
    spec = FEATURES[feature]
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    template = spec.template(lang, "missing" if missing else direction)
    return template.format(**reason_context(feature, value, lead, events, lang))
