"""Routing: where a scored lead goes (sales team, nurture track, or a person for review).

The rules live in a YAML file that marketing and sales edit together (``serving/routing.yaml``
by default, ``LEADSCORE_ROUTING_FILE`` to use another). Quality flags send a lead to review, never
to the bin: automate about 90 %, let a person decide where the data is doubtful.

The file is checked as a whole when it is loaded: a misspelt key, field, flag, activity type or
interest field would otherwise change who gets which lead without a word, so each is an error that
names the file, the key path and the line.
"""

from __future__ import annotations

import difflib
import itertools
import numbers
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, get_args

import numpy as np
import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from features.contract import ACTIVITY_TYPES, known_activity_type
from features.pipeline import CONTEXT_COLUMNS, FLAG_COLUMNS, model_columns
from features.quality import QUALITY_FLAGS, flag_label
from features.registry import FEATURES, VALUE_WORDS
from features.texts import event_phrase, join_words

DEFAULT_ROUTING_FILE = Path(__file__).with_name("routing.yaml")
Action = Literal["sales", "nurture", "review"]
GRADES = ("A", "B", "C")
# The CRM fields the scorer hands to routing beside the features (serving.scorer reads them).
LEAD_FIELDS = (
    "first_name",
    "last_name",
    "company",
    "job_title",
    "email",
    "phone",
    "country",
    "city",
    "created_at",
)
ROUTABLE_FIELDS = frozenset((*model_columns(), *FLAG_COLUMNS, *CONTEXT_COLUMNS, *LEAD_FIELDS))
NUMERIC_FIELDS = frozenset(name for name, f in FEATURES.items() if f.kind == "numeric")
INTEREST_FIELDS = tuple(VALUE_WORDS["interest_field"])
_DECIMAL = re.compile(r"[+-]?\d+(\.\d+)?")


class RoutingProblems(ValueError):
    """Problems that need the whole file to see, each with its key path."""

    def __init__(self, problems: list[tuple[tuple[str | int, ...], str]]) -> None:
        super().__init__("; ".join(f"{_dotted(loc)}: {message}" for loc, message in problems))
        self.problems = problems


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def value_text(value: object) -> str:
    """A value as a rule compares it: 200, 200.0 and "200" alike, since the CRM stores employees
    as floats and YAML may give a number or its text."""
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, numbers.Real):
        return _number_text(float(value))
    text = str(value)
    return _number_text(float(text)) if _DECIMAL.fullmatch(text.strip()) else text


def value_number(value: object) -> float | None:
    """A value as a range compares it; None for anything that is not a number."""
    if isinstance(value, bool | np.bool_):
        return None
    if isinstance(value, str):
        if not _DECIMAL.fullmatch(value.strip()):
            return None
    elif not isinstance(value, numbers.Real):
        return None
    number = float(value)
    return None if np.isnan(number) else number


def _number_text(number: float) -> str:
    return str(int(number)) if number.is_integer() else repr(number)


def _rule_value(value: object) -> str:
    if isinstance(value, bool):
        raise ValueError(
            f"{value} is how YAML reads yes/no/on/off/true/false (and NO, for Norway): "
            "put the value in quotes ('NO', or 'True' for a flag)"
        )
    if not isinstance(value, str | int | float):
        raise ValueError(f"{value!r} is not a value: give text or a number")
    return value_text(value)


class Condition(_Strict):
    """What a rule asks of one field: one of some values (``[DE, AT]``), or a number in a range
    (``{min: 200, max: 999}``, both ends included)."""

    KEYS: ClassVar[tuple[str, ...]] = ("min", "max")
    values: frozenset[str] | None = None
    min: float | None = None
    max: float | None = None

    @model_validator(mode="before")
    @classmethod
    def _read(cls, data: object) -> object:
        if isinstance(data, list):
            if not data:
                raise ValueError("an empty list matches no lead; list values or drop the field")
            return {"values": frozenset(_rule_value(v) for v in data)}
        if isinstance(data, dict):
            if "values" in data:
                raise ValueError("a range has min and/or max; give values as a list: [DE, AT]")
            if not data:
                raise ValueError("a range needs min and/or max")
            return data
        raise ValueError(
            f"got {data!r}: give a list of values ([DE, AT]) or a range ({{min: 200}})"
        )

    @model_validator(mode="after")
    def _ordered(self) -> Condition:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min:g} is above max {self.max:g}")
        return self

    @property
    def is_range(self) -> bool:
        return self.values is None

    def holds(self, value: object) -> bool:
        if self.values is not None:
            return value_text(value) in self.values
        number = value_number(value)
        return number is not None and bool(self.within(np.array([number]))[0])

    def within(self, numbers_: np.ndarray) -> np.ndarray:
        """The range test for many numbers at once (NaN for no number: never within)."""
        inside = ~np.isnan(numbers_)
        if self.min is not None:
            inside &= numbers_ >= self.min
        if self.max is not None:
            inside &= numbers_ <= self.max
        return inside


class TeamRule(_Strict):
    team: str
    when: dict[str, Condition] = Field(default_factory=dict)

    def matches(self, lead: Mapping[str, object]) -> bool:
        return all(condition.holds(lead.get(key)) for key, condition in self.when.items())


class Request(_Strict):
    """An action that asks for contact: its type, and which of its assets count (all if none
    are listed: a form can be a contact form or a newsletter sign-up)."""

    type: str
    assets: list[str] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _plain(cls, data: object) -> object:
        return {"type": data} if isinstance(data, str) else data

    @field_validator("type")
    @classmethod
    def _known_spelling(cls, value: str) -> str:
        """Types as the loaders write them ("Demo Request" -> demo_request), so they match."""
        return known_activity_type(value)


class ContactRules(_Strict):
    """The lead's own recent requests for contact that send it to sales."""

    sales_if_any: list[Request] = Field(default_factory=list)
    # an old request was answered long ago: only the lead's last weeks count
    within_days: int = Field(30, gt=0)

    def types(self) -> list[str]:
        return list(dict.fromkeys(r.type for r in self.sales_if_any))

    def hits(self, types: np.ndarray, assets: np.ndarray, ages: np.ndarray) -> np.ndarray:
        """Which of these events (arrays of type, asset, age in days) are such requests."""
        young = np.asarray(ages) < self.within_days
        hit = np.zeros(len(types), dtype=bool)
        for request in self.sales_if_any:
            match = young & (types == request.type)
            if request.assets and match.any():  # "kontaktformular" is the same form
                rows = np.flatnonzero(match)
                wanted = {a.casefold() for a in request.assets}
                match[rows] = [isinstance(a, str) and a.casefold() in wanted for a in assets[rows]]
            hit |= match
        return hit

    def asked(self, types: np.ndarray, assets: np.ndarray, ages: np.ndarray) -> list[str]:
        """The request types among one lead's events, sorted."""
        return sorted(set(types[self.hits(types, assets, ages)].tolist()))


class CustomNames(_Strict):
    """Names of the CRM's own that the checks would otherwise take for typos."""

    fields: list[str] = Field(default_factory=list)
    activity_types: list[str] = Field(default_factory=list)
    interest_fields: list[str] = Field(default_factory=list)


def _probability(value: float) -> float:
    if not 0 <= value <= 1:  # 1: no lead gets the grade, 0: every lead does
        raise ValueError(f"a cut-off is a probability from 0 to 1, not {value}")
    return value


Cutoff = Annotated[float, AfterValidator(_probability)]


class RoutingConfig(_Strict):
    """The routing file, checked: a typo in any key or name is an error, not a no-op."""

    grades: dict[Literal["A", "B", "C"], Cutoff] = Field(default_factory=dict)
    sales_grades: list[Literal["A", "B", "C", "D"]] = Field(default_factory=lambda: ["A"])
    review_flags: list[str] = Field(default_factory=list)
    teams: list[TeamRule] = Field(default_factory=lambda: [TeamRule(team="Sales")])
    tracks: dict[str, str] = Field(default_factory=lambda: {"default": "General"})
    hand_raisers: ContactRules = Field(default_factory=ContactRules)
    no_consent: ContactRules = Field(default_factory=ContactRules)
    custom: CustomNames = Field(default_factory=CustomNames)

    @model_validator(mode="after")
    def _consistent(self) -> RoutingConfig:
        problems = [
            *_flag_problems(self.review_flags),
            *_grade_problems(self.grades),
            *_team_problems(self.teams, self.custom.fields),
            *_track_problems(self.tracks, self.custom.interest_fields),
            *_activity_problems("hand_raisers", self.hand_raisers, self.custom.activity_types),
            *_activity_problems("no_consent", self.no_consent, self.custom.activity_types),
        ]
        if problems:
            raise RoutingProblems(problems)
        return self

    def track_of(self, interest: object) -> str:
        """The nurture track of an interest field (the default track for any other)."""
        return self.tracks.get(str(interest), self.tracks.get("default", "General"))

    def cutoffs(self, model_thresholds: Mapping[str, float]) -> dict[str, float]:
        """Grade cut-offs: the file's where given, otherwise the model's."""
        return {g: float(self.grades.get(g, model_thresholds.get(g, 1.0))) for g in GRADES}


Problems = list[tuple[tuple[str | int, ...], str]]


def _flag_problems(flags: Sequence[str]) -> Problems:
    known = sorted(flag.name for flag in QUALITY_FLAGS)
    return [
        (("review_flags", i), f"unknown flag {flag!r}{_hint(flag, known)}; known: {known}")
        for i, flag in enumerate(flags)
        if flag not in known
    ]


def _grade_problems(grades: Mapping[str, float]) -> Problems:
    """A above B above C: a lower grade with a higher cut-off would never be given."""
    given = [g for g in GRADES if g in grades]
    return [
        (
            ("grades", lower),
            f"{lower}'s cut-off {grades[lower]} must be below {upper}'s {grades[upper]}",
        )
        for upper, lower in itertools.pairwise(given)
        if grades[lower] >= grades[upper]
    ]


def _team_problems(teams: Sequence[TeamRule], custom: Sequence[str]) -> Problems:
    if not teams:
        return [(("teams",), "no team: the last rule, without `when`, takes every other lead")]
    problems: Problems = []
    for i, rule in enumerate(teams):
        for key, condition in rule.when.items():
            loc = ("teams", i, "when", key)
            if key not in ROUTABLE_FIELDS and key not in custom:
                problems.append((loc, _unknown_field(key)))
            elif condition.is_range and key in ROUTABLE_FIELDS and key not in NUMERIC_FIELDS:
                problems.append((loc, f"{key} is not a number: list its values instead of a range"))
        if not rule.when and i < len(teams) - 1:
            problems.append(
                (("teams", i), f"{rule.team} takes every lead, so the rules after it never match")
            )
    if teams[-1].when:
        problems.append(
            (
                ("teams", len(teams) - 1),
                "the last rule needs no `when`, so it takes every lead no other rule matches "
                f"(without one, such a lead would go to sales with no team); e.g. "
                f"`- team: Sales` after {teams[-1].team}",
            )
        )
    return problems


def _unknown_field(key: str) -> str:
    counts = sorted(f for f in ROUTABLE_FIELDS if f.startswith("n_"))
    named = sorted(ROUTABLE_FIELDS.difference(counts))
    return (
        f"a rule cannot read {key!r}{_hint(key, sorted(ROUTABLE_FIELDS))}; it can read: "
        f"{', '.join(named)}, and the activity counts n_<type>_<7d|30d|90d>. "
        "A column of your own (a tabular export, an extra feature) goes under custom.fields"
    )


def _track_problems(tracks: Mapping[str, str], custom: Sequence[str]) -> Problems:
    known = [*INTEREST_FIELDS, "default"]
    return [
        (
            ("tracks", key),
            f"unknown interest field {key!r}{_hint(key, known)}; known: {known}. "
            "A topic of your CRM's own goes under custom.interest_fields",
        )
        for key in tracks
        if key not in known and key not in custom
    ]


def _activity_problems(section: str, rules: ContactRules, custom: Sequence[str]) -> Problems:
    return [
        (
            (section, "sales_if_any", i),
            f"unknown activity type {request.type!r}{_hint(request.type, ACTIVITY_TYPES)}; "
            f"known: {', '.join(ACTIVITY_TYPES)}. A type of your CRM's own goes under "
            "custom.activity_types",
        )
        for i, request in enumerate(rules.sales_if_any)
        if request.type not in ACTIVITY_TYPES and request.type not in custom
    ]


def _hint(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def load_routing(path: str | Path | None = None) -> RoutingConfig:
    """The routing file, checked; any problem is one ValueError listing each with its line."""
    path = Path(path) if path else DEFAULT_ROUTING_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as error:
        raise ValueError(f"routing file {path} not found") from error
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ValueError(f"routing file {path} is not valid YAML: {error}") from error
    if data is None:
        raise ValueError(
            f"routing file {path} is empty: give the rules (serving/routing.yaml has every key), "
            "or leave LEADSCORE_ROUTING_FILE unset to use that file"
        )
    if not isinstance(data, dict):
        raise ValueError(
            f"routing file {path} is not valid: it should hold keys such as grades, teams and "
            f"tracks, not a {type(data).__name__}"
        )
    problems = _duplicate_keys(root, ())
    try:
        config = RoutingConfig.model_validate(data)
    except ValidationError as error:
        problems += [p for e in error.errors(include_url=False) for p in _problems_of(e)]
    if problems:
        raise ValueError(_report(path, root, problems)) from None
    return config


def _duplicate_keys(node: yaml.Node | None, loc: tuple[str | int, ...]) -> Problems:
    """Keys given twice: YAML keeps the later one and drops the first without a word."""
    problems: Problems = []
    if isinstance(node, yaml.MappingNode):
        first: dict[str, int] = {}
        for key, value in node.value:
            name, line = str(key.value), key.start_mark.line + 1
            if name in first:
                problems.append(
                    ((*loc, name), f"given twice (lines {first[name]} and {line}); keep one")
                )
            first.setdefault(name, line)
            problems += _duplicate_keys(value, (*loc, name))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            problems += _duplicate_keys(item, (*loc, i))
    return problems


def _problems_of(error: Mapping[str, Any]) -> Problems:
    """One pydantic error as problems in the file's own terms (key path, plain words)."""
    loc = tuple(part for part in error["loc"] if part != "[key]")
    cause = error.get("ctx", {}).get("error")
    if isinstance(cause, RoutingProblems):
        return [((*loc, *inner), message) for inner, message in cause.problems]
    kind, message = error["type"], str(error["msg"]).removeprefix("Value error, ")
    if kind == "extra_forbidden":
        allowed = _keys_at(loc[:-1])
        message = f"unknown key {loc[-1]!r}{_hint(str(loc[-1]), allowed)}; allowed here: " + (
            ", ".join(allowed)
        )
    elif kind == "missing":
        message = f"{loc[-1]!r} is missing"
    elif kind != "value_error" and not isinstance(error["input"], dict | list):
        message = f"{message} (got {error['input']!r})"
    return [(loc, message)]


def _keys_at(loc: tuple[str | int, ...]) -> list[str]:
    """The keys the file may hold at ``loc``, read from the models above."""
    kind: Any = RoutingConfig
    for part in loc:
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            field = kind.model_fields.get(str(part))
            kind = field.annotation if field else None
        else:
            args = [a for a in get_args(kind) if a is not type(None)]
            kind = args[-1] if args else None
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        return list(getattr(kind, "KEYS", kind.model_fields))
    return []


def _report(path: Path, root: yaml.Node | None, problems: Problems) -> str:
    lines = []
    for loc, message in problems:
        line = _line(root, loc)
        where = f"line {line}, " if line else ""
        lines.append(f"{where}{_dotted(loc) or 'the file'}: {message}")
    head = f"routing file {path} is not valid"
    if len(lines) == 1:
        return f"{head}: {lines[0]}"
    return f"{head} ({len(lines)} problems):\n" + "\n".join(f"  {line}" for line in lines)


def _line(node: yaml.Node | None, loc: tuple[str | int, ...]) -> int | None:
    """The line of the key or item at ``loc`` (of the nearest one above where it is absent)."""
    line = node.start_mark.line + 1 if node is not None and loc else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            pairs = [(k, v) for k, v in node.value if str(k.value) == str(part)]
            if not pairs:
                break
            key, node = pairs[-1]
            line = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                break
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _dotted(loc: Sequence[str | int]) -> str:
    return ".".join(map(str, loc))


def grades_of(scores: np.ndarray, cutoffs: Mapping[str, float]) -> np.ndarray:
    """The grade of each 0-100 score: the best grade whose cut-off it reaches, else D.

    A cut-off is a probability; it is compared as the whole score it rounds up to, so that two
    leads with one score have one grade (0.553 and 0.557 both read 56, and a cut-off of 0.556
    made one of them A and the other B).
    """
    out = np.full(len(scores), "D", dtype=object)
    for grade in reversed(GRADES):
        if cutoffs[grade] < 1:  # 1: no lead gets the grade, not those who read 100
            out[scores >= score_cutoff(cutoffs[grade])] = grade
    return out


def score_cutoff(probability: float) -> int:
    """The lowest whole score at or above a probability cut-off (0.556 -> 56, 0.3 -> 30)."""
    return int(np.ceil(round(probability * 100, 9)))


class Route(BaseModel):
    action: Action = Field(description="sales, nurture or review")
    team: str | None = Field(
        None,
        description="Sales team, when the action is sales or review",
        json_schema_extra={"nullable": True},  # OpenAPI 3.0: BentoML drops pydantic's "or null"
    )
    track: str | None = Field(
        None,
        description="Nurture track, when the action is nurture",
        json_schema_extra={"nullable": True},
    )
    why: str = Field("", description="The rule that decided, in words")


def route_lead(
    lead: Mapping[str, object],
    grade: str | None,
    raised_flags: list[str],
    config: RoutingConfig,
    asked: Sequence[str] = (),
    lang: str = "en",
) -> Route:
    """Where this lead goes. ``grade`` is None for a lead that objected to profiling;
    ``asked``: the types of its recent requests for contact (:meth:`ContactRules.asked` of
    ``hand_raisers``, or of ``no_consent`` for such a lead)."""
    team = next((rule.team for rule in config.teams if rule.matches(lead)), None)
    track = config.track_of(lead.get("interest_field"))
    action, team, track, why = _decide(team, track, grade, raised_flags, config, asked, lang)
    return Route(action=action, team=team, track=track, why=why)


def route_columns(
    lead: Mapping[str, np.ndarray],
    grades: Sequence[str | None],
    raised_flags: Sequence[Sequence[str]],
    config: RoutingConfig,
    asked: Sequence[Sequence[str]],
    lang: str = "en",
) -> list[tuple[str, str | None, str | None, str]]:
    """:func:`route_lead` for every row of a batch: (action, team, track, why) per row.

    ``lead`` holds one array per field; the rules read each field's values once.
    """
    n = len(grades)
    team: list[str | None] = [None] * n
    open_rows = np.ones(n, dtype=bool)
    texts: dict[str, list[str]] = {}
    numbers_: dict[str, np.ndarray] = {}
    for rule in config.teams:
        match = open_rows.copy()
        for key, condition in rule.when.items():
            values = lead.get(key)
            if condition.values is None:
                if key not in numbers_:
                    numbers_[key] = _numbers(values, n)
                match &= condition.within(numbers_[key])
                continue
            if key not in texts:
                texts[key] = _texts(values, n)
            allowed = condition.values
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
            asked[i],
            lang,
        )
        for i in range(n)
    ]


def _texts(values: Iterable[object] | None, n: int) -> list[str]:
    """:func:`value_text` of a column, each distinct value written once."""
    if values is None:
        return [value_text(None)] * n
    seen: dict[object, str] = {}
    return [seen[v] if v in seen else seen.setdefault(v, value_text(v)) for v in values]


def _numbers(values: Iterable[object] | None, n: int) -> np.ndarray:
    """:func:`value_number` of a column, NaN where a value is no number."""
    if values is None:
        return np.full(n, np.nan)
    return np.array([value_number(v) for v in values], dtype=float)


# The rule that decided, in words, for the people who read a route (cards, notes, the CRM).
WHY: dict[str, dict[str, str]] = {
    "en": {
        "review": "quality flags need a person: {flags}",
        "asked": "no profiling consent; asked for contact: {asked}",
        "hand_raiser": "asked for contact: {asked} (grade {grade})",
        "asked_too": "asked for contact: {asked}",
        "rule_only": "no profiling consent: rule route only",
        "sales": "grade {grade} goes to sales",
        "nurture": "grade {grade}: nurture by interest",
    },
    "de": {
        "review": "Qualitätshinweise brauchen einen Menschen: {flags}",
        "asked": "kein Einverständnis zum Profiling; bittet um Kontakt: {asked}",
        "hand_raiser": "bittet um Kontakt: {asked} (Note {grade})",
        "asked_too": "bittet um Kontakt: {asked}",
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
    asked: Sequence[str],
    lang: str = "en",
) -> tuple[Action, str | None, str | None, str]:
    why = WHY.get(lang, WHY["en"])
    said = join_words([event_phrase(a, None, lang) for a in asked], lang) if asked else ""
    doubtful = [f for f in raised_flags if f in config.review_flags] if raised_flags else []
    if doubtful:
        flags = "; ".join(flag_label(f, lang) for f in doubtful)
        request = f"; {why['asked_too'].format(asked=said)}" if asked else ""  # call back soon
        return "review", team, None, why["review"].format(flags=flags) + request
    if grade is None:
        if asked:
            return "sales", team, None, why["asked"].format(asked=said)
        default = config.tracks.get("default", "General")
        return "nurture", None, default, why["rule_only"]
    if grade in config.sales_grades:
        return "sales", team, None, why["sales"].format(grade=grade)
    if asked:  # a hand-raiser: whatever its grade, a person who asked is called back
        return "sales", team, None, why["hand_raiser"].format(asked=said, grade=grade)
    return "nurture", None, track, why["nurture"].format(grade=grade)
