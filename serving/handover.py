"""The handover note: a ready-to-send message that says what the lead did, not just a number.

"A handover that says 'reached SQL with 15 points, please follow up' helps no one"; the note names
the lead's concrete marketing actions, the strongest reason, the score and what to do next.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from features.batch_texts import BatchEvents, dates_of
from features.registry import MARKETING_ACTIONS
from features.texts import Event, Lang, event_phrase, format_date
from serving.routing import Route

# A marketing action this recent is news to sales ("just took"); an older one is dated.
JUST_DAYS = 7
# "The latest" actions of the note lie within this many days of the newest one: a webinar
# registration of last year listed beside last week's form reads as news that is not.
LATEST_DAYS = 30

ORDINALS = {
    "en": ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth"],
    "de": ["erste", "zweite", "dritte", "vierte", "fünfte", "sechste", "siebte", "achte", "neunte"],
}


def _ordinal(n: int, lang: Lang) -> str:
    words = ORDINALS[lang]
    if 1 <= n <= len(words):
        return words[n - 1]
    if lang == "de":
        return f"{n}."
    suffix = "th" if n % 100 in (11, 12, 13) else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"  # 21st, 22nd, 23rd, 111th


def _who(lead: Mapping[str, object]) -> str:
    return who_text(
        lead.get("first_name"),
        lead.get("last_name"),
        lead.get("company"),
        lead.get("job_title"),
        lead.get("lead_id", "This lead"),
    )


def who_text(first: object, last: object, company: object, title: object, lead_id: object) -> str:
    """ "Anna Müller (ACME GmbH, Head of Marketing)"; the lead id when there is no name."""
    first, last = _text(first), _text(last)
    name = (f"{first} {last}" if first and last else first or last) or str(lead_id)
    company, title = _text(company), _text(title)
    details = f"{company}, {title}" if company and title else company or title
    return f"{name} ({details})" if details else name


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def handover_note(
    lead: Mapping[str, object],
    events: Sequence[Event],
    score: int | None,
    grade: str | None,
    route: Route,
    top_reasons: Sequence[str],
    quality_texts: Sequence[str],
    lang: Lang = "en",
) -> str:
    """A short note in English or German, built from the lead's own events."""
    marketing = [e for e in events if e.activity_type in MARKETING_ACTIONS]
    newest = marketing[0] if marketing else None
    lately = [e for e in marketing if newest and e.age_days <= newest.age_days + LATEST_DAYS]
    latest = list(dict.fromkeys(event_phrase(e.activity_type, e.asset, lang) for e in lately))
    return compose_note(
        _who(lead),
        int(lead.get("marketing_actions") or 0),  # type: ignore[call-overload]
        latest[:3][::-1],
        top_reasons[0] if top_reasons else None,
        score,
        grade,
        (route.action, route.team, route.track, route.why),
        quality_texts,
        lang,
        None
        if newest is None or newest.age_days <= JUST_DAYS
        else format_date(newest.occurred_at, lang),
        _same_as(lead.get("lead_id"), lead.get("person_id")),
    )


def _same_as(lead_id: object, person_id: object) -> str | None:
    """The person's first record, when this lead is another of theirs."""
    if person_id is None or lead_id is None or str(person_id) == str(lead_id):
        return None
    return str(person_id)


def compose_note(
    who: str,
    count: int,
    latest: Sequence[str],
    top_reason: str | None,
    score: int | None,
    grade: str | None,
    route: tuple[str, str | None, str | None, str],
    quality_texts: Sequence[str],
    lang: Lang,
    latest_on: str | None = None,
    same_as: str | None = None,
) -> str:
    """The note from its parts: who, the latest distinct marketing actions (oldest first), the
    strongest reason for buying, the score and what to do next. ``latest_on``: the date of the
    newest action when it is older than :data:`JUST_DAYS` (a "just" would be news that is
    not). ``same_as``: the person's first record, when this is another one of theirs (their
    actions are pooled, and both records can be handed over: one person, two calls)."""
    action, team, track, why = route
    parts = []
    if count and latest:
        actions = ", ".join(latest)
        nth = _ordinal(count, lang)
        if lang == "de":
            joint = ":" if count == len(latest) else "; zuletzt:"
            when = f"am {latest_on}" if latest_on else "gerade"
            parts.append(
                f"{who} hat {when} die {nth} Marketing-Aktion ausgeführt{joint} {actions}."
            )
        else:
            joint = ":" if count == len(latest) else "; the latest:"
            when = (
                f"took the {nth} marketing action on {latest_on}"
                if latest_on
                else (f"just took the {nth} marketing action")
            )
            parts.append(f"{who} {when}{joint} {actions}.")
    else:
        parts.append(
            f"{who}: "
            + ("noch keine Marketing-Aktion." if lang == "de" else "no marketing action yet.")
        )
    if top_reason is not None:
        parts.append(top_reason + ".")
    if score is not None:
        parts.append(f"Score {score} ({grade}).")
    else:
        parts.append(
            "Kein Modell-Score (Widerspruch gegen Profiling)."
            if lang == "de"
            else "No model score (objected to profiling)."
        )
    if action == "sales":
        team_text = f" ({team})" if team else ""
        checks = "; ".join(quality_texts)  # flags routing lets through still need a look
        if lang == "de":
            parts.append(
                f"Bitte nachfassen{team_text}" + (f"; vorher prüfen: {checks}." if checks else ".")
            )
        else:
            parts.append(
                f"Please follow up{team_text}" + (f"; check first: {checks}." if checks else ".")
            )
    elif action == "review":
        checks = "; ".join(quality_texts) or why
        parts.append(
            f"Bitte erst die Kontaktdaten prüfen: {checks}."
            if lang == "de"
            else f"Please check the contact data first: {checks}."
        )
    else:
        parts.append(
            f"Bleibt im Nurture-Track „{track}“."
            if lang == "de"
            else f"Stays in the nurture track '{track}'."
        )
    if same_as is not None:
        parts.append(
            f"Dieselbe Person wie Datensatz {same_as}."
            if lang == "de"
            else f"The same person as record {same_as}."
        )
    return " ".join(parts)


def handover_notes(
    lead: Mapping[str, np.ndarray],
    events: BatchEvents,
    scores: Sequence[int | None],
    grades: Sequence[str | None],
    routes: Sequence[tuple[str, str | None, str | None, str]],
    top_reasons: Sequence[str | None],
    quality_texts: Sequence[Sequence[str]],
    lang: Lang = "en",
) -> list[str]:
    """:func:`handover_note` for every row of a batch, from its columns and events."""
    n = len(routes)

    def column(key: str) -> list[object]:
        values = lead.get(key)
        return [None] * n if values is None else list(values)

    marketing = events.of_types(MARKETING_ACTIONS)  # registry types: phrase_ids applies
    newest = events.first(marketing)
    found = newest >= 0
    newest_age = np.full(n, np.inf)
    newest_age[found] = events.age[newest[found]]
    lately = marketing[events.age[marketing] <= newest_age[events.snap[marketing]] + LATEST_DAYS]
    words, ids = events.phrase_ids(lately, lang)
    distinct = events.first_k(lately, 3, ids)
    kept = [words[i] for i in ids[np.searchsorted(lately, distinct)].tolist()]
    latest = events.lists(distinct, kept, np.arange(n))
    counts = column("marketing_actions") if "marketing_actions" in lead else [0] * n
    old = np.zeros(n, dtype=bool)
    old[found] = events.age[newest[found]] > JUST_DAYS
    on = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    on[old] = events.occurred_at[newest[old]]
    dates = [d if o else None for d, o in zip(dates_of(on, lang), old.tolist(), strict=True)]
    return [
        compose_note(
            who,
            int(count or 0),  # type: ignore[call-overload]
            recent[::-1],
            top,
            score,
            grade,
            route,
            flags,
            lang,
            date,
            _same_as(lead_id, person),
        )
        for who, count, recent, top, score, grade, route, flags, date, lead_id, person in zip(
            _who_column(lead, n),
            counts,
            latest,
            top_reasons,
            scores,
            grades,
            routes,
            quality_texts,
            dates,
            column("lead_id"),
            column("person_id"),
            strict=True,
        )
    ]


def _who_column(lead: Mapping[str, np.ndarray], n: int) -> list[str]:
    """:func:`who_text` for every row."""

    def column(key: str) -> list[object]:
        values = lead.get(key)
        return [None] * n if values is None else values.tolist()

    fields = ("first_name", "last_name", "company", "job_title", "lead_id")
    return [who_text(*row) for row in zip(*(column(k) for k in fields), strict=True)]
