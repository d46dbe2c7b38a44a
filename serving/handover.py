"""The handover note: a ready-to-send message that says what the lead did, not just a number.

"A handover that says 'reached SQL with 15 points, please follow up' helps no one"; the note names
the lead's concrete marketing actions, the strongest reason, the score and what to do next.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from features.registry import MARKETING_ACTIONS
from features.texts import Event, Lang, event_phrase
from serving.routing import Route

ORDINALS = {
    "en": ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth"],
    "de": ["erste", "zweite", "dritte", "vierte", "fünfte", "sechste", "siebte", "achte", "neunte"],
}


def _ordinal(n: int, lang: Lang) -> str:
    words = ORDINALS[lang]
    return words[n - 1] if 1 <= n <= len(words) else (f"{n}th" if lang == "en" else f"{n}.")


def _who(lead: Mapping[str, object]) -> str:
    def text(key: str) -> str:
        value = lead.get(key)
        return value.strip() if isinstance(value, str) else ""

    name = " ".join(p for p in (text("first_name"), text("last_name")) if p) or str(
        lead.get("lead_id", "This lead")
    )
    details = ", ".join(p for p in (text("company"), text("job_title")) if p)
    return f"{name} ({details})" if details else name


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
    who = _who(lead)
    count = int(lead.get("marketing_actions") or 0)
    marketing = [e for e in events if e.activity_type in MARKETING_ACTIONS]
    latest = list(dict.fromkeys(event_phrase(e.activity_type, e.asset, lang) for e in marketing))
    latest = latest[:3][::-1]
    parts = []
    if count and latest:
        actions = ", ".join(latest)
        nth = _ordinal(count, lang)
        if lang == "de":
            joint = ":" if count == len(latest) else "; zuletzt:"
            parts.append(
                f"{who} hat gerade die {nth} Marketing-Aktion ausgeführt{joint} {actions}."
            )
        else:
            joint = ":" if count == len(latest) else "; the latest:"
            parts.append(f"{who} just took the {nth} marketing action{joint} {actions}.")
    else:
        parts.append(
            f"{who}: "
            + ("noch keine Marketing-Aktion." if lang == "de" else "no marketing action yet.")
        )
    if top_reasons:
        parts.append(top_reasons[0] + ".")
    if score is not None:
        parts.append(f"Score {score} ({grade}).")
    else:
        parts.append(
            "Kein Modell-Score (Widerspruch gegen Profiling)."
            if lang == "de"
            else "No model score (objected to profiling)."
        )
    if route.action == "sales":
        team = f" ({route.team})" if route.team else ""
        parts.append(f"Bitte nachfassen{team}." if lang == "de" else f"Please follow up{team}.")
    elif route.action == "review":
        checks = "; ".join(quality_texts) or route.why
        parts.append(
            f"Bitte erst die Kontaktdaten prüfen: {checks}."
            if lang == "de"
            else f"Please check the contact data first: {checks}."
        )
    else:
        parts.append(
            f"Bleibt im Nurture-Track „{route.track}“."
            if lang == "de"
            else f"Stays in the nurture track '{route.track}'."
        )
    return " ".join(parts)
