"""Routing: where a scored lead goes (sales team, nurture track, or a person for review).

The rules live in a YAML file that marketing and sales edit together (``serving/routing.yaml``
by default, ``LEADSCORE_ROUTING_FILE`` to use another). Quality flags send a lead to review, never
to the bin: automate about 90 %, let a person decide where the data is doubtful.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import yaml
from pydantic import BaseModel, Field, PrivateAttr, ValidationError

from features.quality import QUALITY_FLAGS

DEFAULT_ROUTING_FILE = Path(__file__).with_name("routing.yaml")
Action = Literal["sales", "nurture", "review"]
GRADES = ("A", "B", "C")


class TeamRule(BaseModel):
    team: str
    when: dict[str, list[str]] = Field(default_factory=dict)
    _allowed: dict[str, frozenset[str]] = PrivateAttr(default_factory=dict)

    def model_post_init(self, _: object) -> None:
        self._allowed = {
            key: frozenset(str(v) for v in values) for key, values in self.when.items()
        }

    @property
    def allowed(self) -> dict[str, frozenset[str]]:
        """The rule's fields and the texts each may have."""
        return self._allowed

    def matches(self, lead: Mapping[str, object]) -> bool:
        return all(str(lead.get(key)) in allowed for key, allowed in self._allowed.items())


class NoConsentRules(BaseModel):
    sales_if_any: list[str] = Field(default_factory=list)


class RoutingConfig(BaseModel):
    """The routing file, checked: a typo in a flag or grade name is an error, not a no-op."""

    grades: dict[Literal["A", "B", "C"], float] = Field(default_factory=dict)
    sales_grades: list[Literal["A", "B", "C", "D"]] = Field(default_factory=lambda: ["A"])
    review_flags: list[str] = Field(default_factory=list)
    teams: list[TeamRule] = Field(default_factory=lambda: [TeamRule(team="Sales")])
    tracks: dict[str, str] = Field(default_factory=lambda: {"default": "General"})
    no_consent: NoConsentRules = Field(default_factory=NoConsentRules)

    def model_post_init(self, _: object) -> None:
        known = {flag.name for flag in QUALITY_FLAGS}
        unknown = [f for f in self.review_flags if f not in known]
        if unknown:
            raise ValueError(f"review_flags: unknown flags {unknown}; known: {sorted(known)}")

    def track_of(self, interest: object) -> str:
        """The nurture track of an interest field (the default track for any other)."""
        return self.tracks.get(str(interest), self.tracks.get("default", "General"))

    def cutoffs(self, model_thresholds: Mapping[str, float]) -> dict[str, float]:
        """Grade cut-offs: the file's where given, otherwise the model's."""
        return {g: float(self.grades.get(g, model_thresholds.get(g, 1.0))) for g in GRADES}


def load_routing(path: str | Path | None = None) -> RoutingConfig:
    path = Path(path) if path else DEFAULT_ROUTING_FILE
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return RoutingConfig.model_validate(data)
    except FileNotFoundError as error:
        raise ValueError(f"routing file {path} not found") from error
    except (yaml.YAMLError, ValidationError, ValueError) as error:
        raise ValueError(f"routing file {path} is not valid: {error}") from error


def grades_of(probability: np.ndarray, cutoffs: Mapping[str, float]) -> np.ndarray:
    """The grade of each probability: the best grade whose cut-off it reaches, else D."""
    out = np.full(len(probability), "D", dtype=object)
    for grade in reversed(GRADES):
        out[probability >= cutoffs[grade]] = grade
    return out


class Route(BaseModel):
    action: Action = Field(description="sales, nurture or review")
    team: str | None = Field(None, description="Sales team, when the action is sales or review")
    track: str | None = Field(None, description="Nurture track, when the action is nurture")
    why: str = Field("", description="The rule that decided, in words")


def route_lead(
    lead: Mapping[str, object],
    grade: str | None,
    raised_flags: list[str],
    config: RoutingConfig,
    recent_types: set[str] | None = None,
    lang: str = "en",
) -> Route:
    """Where this lead goes. ``grade`` is None for a lead that objected to profiling."""
    team = next((rule.team for rule in config.teams if rule.matches(lead)), None)
    track = config.track_of(lead.get("interest_field"))
    action, team, track, why = _decide(team, track, grade, raised_flags, config, recent_types, lang)
    return Route(action=action, team=team, track=track, why=why)


def route_columns(
    lead: Mapping[str, np.ndarray],
    grades: Sequence[str | None],
    raised_flags: Sequence[Sequence[str]],
    config: RoutingConfig,
    recent_types: Callable[[int], set[str]],
    lang: str = "en",
) -> list[tuple[str, str | None, str | None, str]]:
    """:func:`route_lead` for every row of a batch: (action, team, track, why) per row.

    ``lead`` holds one array per field; the rules read each field's distinct texts once.
    """
    n = len(grades)
    team: list[str | None] = [None] * n
    open_rows = np.ones(n, dtype=bool)
    texts: dict[str, list[str]] = {}
    for rule in config.teams:
        match = open_rows.copy()
        for key, allowed in rule.allowed.items():
            if key not in texts:
                values = lead.get(key)
                texts[key] = ["None"] * n if values is None else [str(v) for v in values]
            match &= np.fromiter((t in allowed for t in texts[key]), dtype=bool, count=n)
        for i in np.flatnonzero(match).tolist():
            team[i] = rule.team
        open_rows &= ~match
    interest = lead.get("interest_field")
    tracks = [config.track_of(v) for v in interest] if interest is not None else None
    default = config.track_of(None)
    return [
        _decide(
            team[i],
            tracks[i] if tracks is not None else default,
            grades[i],
            raised_flags[i],
            config,
            recent_types(i) if grades[i] is None else None,
            lang,
        )
        for i in range(n)
    ]


# The rule that decided, in words, for the people who read a route (cards, notes, the CRM).
WHY: dict[str, dict[str, str]] = {
    "en": {
        "review": "quality flags need a person: {flags}",
        "asked": "no profiling consent; asked for contact: {asked}",
        "rule_only": "no profiling consent: rule route only",
        "sales": "grade {grade} goes to sales",
        "nurture": "grade {grade}: nurture by interest",
    },
    "de": {
        "review": "Qualitätshinweise brauchen einen Menschen: {flags}",
        "asked": "kein Einverständnis zum Profiling; bittet um Kontakt: {asked}",
        "rule_only": "kein Einverständnis zum Profiling: nur der Regelweg",
        "sales": "Note {grade} geht an den Vertrieb",
        "nurture": "Note {grade}: Nurturing nach Interesse",
    },
}


def _decide(
    team: str | None,
    track: str,
    grade: str | None,
    raised_flags: Sequence[str],
    config: RoutingConfig,
    recent_types: set[str] | None,
    lang: str = "en",
) -> tuple[Action, str | None, str | None, str]:
    why = WHY.get(lang, WHY["en"])
    doubtful = [f for f in raised_flags if f in config.review_flags] if raised_flags else []
    if doubtful:
        return "review", team, None, why["review"].format(flags=", ".join(doubtful))
    if grade is None:
        asked = sorted((recent_types or set()) & set(config.no_consent.sales_if_any))
        if asked:
            return "sales", team, None, why["asked"].format(asked=asked)
        default = config.tracks.get("default", "General")
        return "nurture", None, default, why["rule_only"]
    if grade in config.sales_grades:
        return "sales", team, None, why["sales"].format(grade=grade)
    return "nurture", None, track, why["nurture"].format(grade=grade)
