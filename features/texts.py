"""Turning a feature value into a sentence about the lead's own actions.

A reason is only as good as the evidence it cites, so the context for a template is built from
the events behind the value: the same window, the same activity type, the real asset names and
dates. Templates themselves live in :mod:`features.registry`.

Events are plain tuples here, not DataFrames: this runs for every reason of every scored lead.
"""

from __future__ import annotations

import math
import string
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from itertools import repeat
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd

from features.contract import naive_moment
from features.registry import (
    EVENT_NAMES,
    EVENT_NAMES_BARE,
    FEATURES,
    HIGH_INTENT,
    MARKETING_ACTIONS,
    NOT_CONTENT,
    NUMBER_FIELDS,
    OUTBOUND,
    PHYSICAL,
    UNKNOWN,
    VALUE_WORDS,
    Direction,
)

Lang = Literal["en", "de"]
MONTHS_EN = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


class Event(NamedTuple):
    """One of a lead's events before its scoring moment."""

    occurred_at: datetime | pd.Timestamp
    activity_type: str
    asset: str | None
    topic: str | None
    age_days: float


def events_by_snap(events: Mapping[str, Any]) -> dict[int, list[Event]]:
    """Split :func:`features.behaviour.recent_arrays` output (or its frame) into one list per
    snapshot, keeping each list's order (newest first)."""
    if "snap" not in events or len(events["snap"]) == 0:
        return {}
    snaps = np.asarray(events["snap"])
    # tuple.__new__ through map builds the tuples in C: millions of events in a batch
    rows = list(
        map(
            tuple.__new__,
            repeat(Event),
            zip(
                np.asarray(events["occurred_at"], dtype="datetime64[us]").tolist(),
                [str(t) for t in np.asarray(events["activity_type"], dtype=object).tolist()],
                [
                    a if isinstance(a, str) else None
                    for a in _objects(events.get("asset"), len(snaps))
                ],
                [
                    t if isinstance(t, str) else None
                    for t in _objects(events.get("topic"), len(snaps))
                ],
                np.asarray(events["age_days"], dtype=float).tolist(),
                strict=True,
            ),
        )
    )
    if np.any(snaps[1:] < snaps[:-1]):
        out: dict[int, list[Event]] = {}
        for snap, event in zip(snaps.tolist(), rows, strict=True):
            out.setdefault(int(snap), []).append(event)
        return out
    starts = np.flatnonzero(np.r_[True, snaps[1:] != snaps[:-1]])
    ends = np.r_[starts[1:], len(snaps)]
    return {int(snaps[a]): rows[a:b] for a, b in zip(starts.tolist(), ends.tolist(), strict=True)}


def _objects(values: object, n: int) -> list[object]:
    if values is None:
        return [None] * n
    return np.asarray(values, dtype=object).tolist()


def format_date(moment: object, lang: Lang) -> str:
    if moment is None or pd.isna(moment):
        return "—"
    ts = pd.Timestamp(moment)
    if lang == "de":
        return f"{ts.day:02d}.{ts.month:02d}.{ts.year}"
    return f"{ts.day} {MONTHS_EN[ts.month - 1]} {ts.year}"


@lru_cache(maxsize=65536)
def percent_text(share: float, lang: Lang) -> str:
    """0.43 as "43%", in German "43 %" (German typography sets a space before the sign)."""
    text = f"{share:.0%}"
    return text.replace("%", " %") if lang == "de" else text


def event_phrase(activity_type: str, asset: object, lang: Lang) -> str:
    """One event as words: "whitepaper 'Marketing Automation Guide'"."""
    named = isinstance(asset, str) and asset
    if not named and activity_type in EVENT_NAMES_BARE:
        en, de = EVENT_NAMES_BARE[activity_type]
        return de if lang == "de" else en
    plain = activity_type.replace("_", " ")  # a type of the CRM's own, in its own words
    en, de = EVENT_NAMES.get(activity_type, (plain, plain))
    return (de if lang == "de" else en).replace("{asset}", str(asset) if named else "")


def _dated(event: Event, lang: Lang) -> str:
    word = "am" if lang == "de" else "on"
    phrase = event_phrase(event.activity_type, event.asset, lang)
    return f"{phrase} {word} {format_date(event.occurred_at, lang)}"


def join_words(items: list[str], lang: Lang) -> str:
    if len(items) <= 1:
        return "".join(items)
    last = " und " if lang == "de" else " and "
    return ", ".join(items[:-1]) + last + items[-1]


def _quoted_assets(events: Sequence[Event], lang: Lang, limit: int = 3) -> str:
    names = list(dict.fromkeys(e.asset for e in events if e.asset))[:limit]
    if not names:
        return "—"
    return ", ".join(f"„{a}“" if lang == "de" else f"'{a}'" for a in names)


def field_text(lead: Mapping[str, object], key: str) -> str:
    value = lead.get(key)
    return value.strip() or "—" if isinstance(value, str) else "—"


def number_text(value: float, lang: str = "en", spec: str | None = None) -> str:
    """ "3", "2.5"; in German "2,5". ``spec``: a format of one's own (".3f", "+.2f")."""
    if spec is not None:
        text = format(value, spec)
    else:
        text = f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
    return text.replace(".", ",") if lang == "de" else text


def label_text(value: object) -> str:
    """Category codes as words: "lead_management" -> "lead management"."""
    return str(value).replace("_", " ")


def value_label(feature: str, value: object, lang: Lang) -> str:
    """A category value as a sentence says it: the registry's words for known codes
    ("head" -> "Bereichsleitung"), otherwise the value with its underscores as spaces."""
    words = VALUE_WORDS.get(feature, {}).get(str(value))
    if words is None:
        return label_text(value)
    return words[1] if lang == "de" else words[0]


def raised(flag: object) -> bool:
    """A quality flag's cell is set (an absent or empty one is not)."""
    return not is_missing(flag) and bool(flag)


def is_missing(value: object) -> bool:
    if value is None or value is pd.NA or value in UNKNOWN:
        return True
    return isinstance(value, float | np.floating) and math.isnan(value)


def _own(events: Sequence[Event]) -> list[Event]:
    """The lead's own actions: an email we sent is not one."""
    return [e for e in events if e.activity_type not in OUTBOUND]


def _relevant(feature: str, events: Sequence[Event]) -> list[Event]:
    spec = FEATURES[feature]
    if spec.activity_type is None:
        return _own(events)
    window = int(feature.rsplit("_", 1)[1].rstrip("d"))
    return [e for e in events if e.activity_type == spec.activity_type and e.age_days < window]


@lru_cache(maxsize=1024)
def template_fields(template: str) -> tuple[str, ...]:
    return tuple(name for _, name, _, _ in string.Formatter().parse(template) if name)


class _Cited(NamedTuple):
    """What one reason is about; each placeholder below reads what it needs from it."""

    feature: str
    value: object
    lead: Mapping[str, object]
    events: Sequence[Event]
    lang: Lang
    known: bool
    plain: str | None


def _of_types(c: _Cited, types: tuple[str, ...]) -> list[Event]:
    return [e for e in c.events if e.activity_type in types]


def _actions(c: _Cited) -> str:
    """The latest three different marketing actions, oldest first ("the pricing page" once)."""
    phrases = [
        event_phrase(e.activity_type, e.asset, c.lang) for e in _of_types(c, MARKETING_ACTIONS)
    ]
    return join_words(list(dict.fromkeys(phrases))[:3][::-1], c.lang) or "—"


def _assets(c: _Cited) -> str:
    if c.feature == "physical_touches":
        return _quoted_assets(_of_types(c, PHYSICAL), c.lang)
    if c.feature == "distinct_assets":  # content: not our emails, not a call's name
        return _quoted_assets([e for e in c.events if e.activity_type not in NOT_CONTENT], c.lang)
    return _quoted_assets(_relevant(c.feature, c.events), c.lang)


def _last(c: _Cited) -> str:
    relevant = _relevant(c.feature, c.events)
    return format_date(relevant[0].occurred_at if relevant else None, c.lang)


def _intent(c: _Cited) -> str:
    found = _of_types(c, HIGH_INTENT)
    if found:
        return _dated(found[0], c.lang)
    # older than the recent events a reason cites: the day follows from the value itself
    return format_date(days_before(c.lead.get("as_of"), c.value), c.lang) if c.known else "—"


_MINUTE = 60_000_000_000  # nanoseconds


def moments_before(as_of: np.ndarray, days: np.ndarray) -> np.ndarray:
    """``days`` before each ``as_of``, to the minute.

    A day count is a float (float32 in a feature file is seconds off after a year): a lead
    created at midnight would otherwise be dated, and counted, from the day before.
    """
    end = np.asarray(as_of, dtype="datetime64[ns]").view(np.int64)
    ns = end - np.round(np.asarray(days, dtype=float) * 86_400e9).astype(np.int64)
    return ((ns + _MINUTE // 2) // _MINUTE * _MINUTE).view("datetime64[ns]")


def calendar_day_counts(as_of: np.ndarray, days: np.ndarray) -> np.ndarray:
    """``days`` as the calendar counts them, from the cited event's date to ``as_of``'s date.

    The reason cites the date beside the number: elapsed time rounded read "8 days ago" for one
    lead and "9" for another whose action was on the same date. ``as_of`` and ``days`` are known.
    """
    start = moments_before(as_of, days).astype("datetime64[D]")
    return (np.asarray(as_of, dtype="datetime64[ns]").astype("datetime64[D]") - start).astype(
        np.int64
    )


def _wall_clock(as_of: object) -> np.datetime64:
    """``as_of`` in UTC without its zone, as the events' moments are."""
    return naive_moment(as_of).to_datetime64()


def days_before(as_of: object, days: object) -> pd.Timestamp | None:
    """The moment ``days`` days before ``as_of`` (None if either is unknown)."""
    if as_of is None or is_missing(as_of) or is_missing(days):
        return None
    return pd.Timestamp(moments_before(np.array([_wall_clock(as_of)]), np.array([days]))[0])


def calendar_days(as_of: object, days: object) -> str:
    """:func:`calendar_day_counts` for one number, as written; without ``as_of``: rounded."""
    if as_of is None or is_missing(as_of):
        return f"{float(days):.0f}"  # type: ignore[arg-type]
    return str(calendar_day_counts(np.array([_wall_clock(as_of)]), np.array([days]))[0])


def _value(c: _Cited) -> str:
    if c.known:
        return c.plain or "0"
    return "—" if is_missing(c.value) else value_label(c.feature, c.value, c.lang)


TRENDS = {
    "en": (
        "fewer actions in the last 14 days than in the 14 before",
        "as many actions in the last 14 days as in the 14 before",
        "more actions in the last 14 days than in the 14 before",
    ),
    "de": (
        "weniger Aktionen in den letzten 14 Tagen als in den 14 davor",
        "so viele Aktionen in den letzten 14 Tagen wie in den 14 davor",
        "mehr Aktionen in den letzten 14 Tagen als in den 14 davor",
    ),
}


def trend_text(ratio: float, lang: Lang) -> str:
    """Recent actions against the period before (``velocity_14d``, a ratio around 1)."""
    return TRENDS.get(lang, TRENDS["en"])[(ratio > 1) - (ratio < 1) + 1]


_PLACEHOLDERS: dict[str, Callable[[_Cited], str]] = {
    "n": lambda c: c.plain or "0",
    "trend": lambda c: trend_text(float(c.value), c.lang) if c.known else "—",  # type: ignore[arg-type]
    "days": lambda c: calendar_days(c.lead.get("as_of"), c.value) if c.known else "—",
    "value": _value,
    "pct": lambda c: percent_text(float(c.value), c.lang) if c.known else "—",  # type: ignore[arg-type]
    "last": _last,
    "assets": _assets,
    "recent": lambda c: _dated(own[0], c.lang) if (own := _own(c.events)) else "—",
    "intent": _intent,
    "actions": _actions,
    "topics": lambda c: (
        ", ".join(
            value_label("topic", t, c.lang)
            for t in list(dict.fromkeys(e.topic for e in _own(c.events) if e.topic))[:4]
        )
        or "—"
    ),
    "created": lambda c: format_date(c.lead.get("created_at"), c.lang),
    "title": lambda c: field_text(c.lead, "job_title"),
    "email_domain": lambda c: field_text(c.lead, "email_domain"),
    "flags": lambda c: "; ".join(c.lead.get("quality_texts") or []) or "—",  # type: ignore[arg-type]
}


def reason_context(
    feature: str,
    value: object,
    lead: Mapping[str, object],
    events: Sequence[Event],
    lang: Lang,
    wanted: Sequence[str] | None = None,
) -> dict[str, str]:
    """What a template may cite; ``events`` are the lead's recent events, newest first.

    Only the ``wanted`` placeholders are computed (all when None).
    """
    numeric = isinstance(value, int | float | np.number) and not isinstance(value, bool)
    known = numeric and not is_missing(value)
    plain = number_text(float(value), lang) if known else None  # type: ignore[arg-type]
    cited = _Cited(feature, value, lead, events, lang, known, plain)
    names = wanted if wanted is not None else _PLACEHOLDERS
    return {name: _PLACEHOLDERS[name](cited) for name in names}


def number_field(fields: Sequence[str]) -> str | None:
    """The placeholder among ``fields`` that writes the template's number, if any."""
    return next((name for name in fields if name in NUMBER_FIELDS), None)


def render_reason(
    feature: str,
    value: object,
    direction: Literal["up", "down"],
    lead: Mapping[str, object],
    events: Sequence[Event],
    lang: Lang = "en",
) -> str:
    """The sentence sales reads for one feature of one lead."""
    spec = FEATURES[feature]
    key: Direction = "missing" if is_missing(value) else direction
    numeric = isinstance(value, int | float | np.number) and not isinstance(value, bool)
    if spec.by_value and key != "missing" and numeric:
        key = "up" if float(value) > 0 else "down"  # type: ignore[arg-type]
    if key != "missing" and (
        str(value) in spec.neutral_values
        or (spec.neutral_when is not None and raised(lead.get(spec.neutral_when)))
    ):
        key = "neutral"
    template = spec.template(lang, key)
    wanted = template_fields(template)
    context = reason_context(feature, value, lead, events, lang, wanted)
    number = number_field(wanted)
    if number is not None and context[number] == "1":
        # the singular iff the number reads "1" as written: 0.7 and 1.4 days read "1 day"
        template = spec.template(lang, key, one=True)
    return without_gaps(template.format(**context))


# What a template says about evidence it could not find among the recent events it cites (a
# trade fair a year and forty events ago): left out, rather than a dash in brackets.
GAPS = (
    ", the latest: —",
    ", zuletzt: —",
    " (last: —)",
    " (zuletzt: —)",
    " (—)",
    ", e.g. —",
    ", z. B. —",
    ", last on —",
    ", zuletzt am —",
    ", most recently —",
    ", zuletzt —",
    ": —",
)


# A number of days that reads "0" (the same date, or under half a day), said as a person says it.
NO_DAYS = (
    (" 0 days ago", " less than a day ago"),
    (" for 0 days", " for less than a day"),
    (" since 0 days", " for less than a day"),
    (" vor 0 Tagen", " vor weniger als einem Tag"),
    ("eit 0 Tagen", "eit weniger als einem Tag"),  # "Seit", "seit"
)


def without_gaps(text: str) -> str:
    """The sentence without dashes for evidence it could not cite, and without "0 days"."""
    if "—" in text:
        for gap in GAPS:
            text = text.replace(gap, "")
    if "0 days" in text or "0 Tagen" in text:
        for zero, words in NO_DAYS:
            text = text.replace(zero, words)
    return text
