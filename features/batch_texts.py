"""The reason sentences of :mod:`features.texts`, written for a whole batch of leads at once.

A batch of 100,000 leads cites millions of events; finding them lead by lead costs more than the
model. Here each citation (the newest pricing-page visit, the first three whitepapers, ...) is
found for all leads with numpy over the event arrays, and each template is filled for all the
leads that need it. The sentences are the ones :func:`features.texts.render_reason` writes for
one lead, character for character; tests/serving/test_batch.py holds the two to that.
"""

from __future__ import annotations

import itertools
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from features.behaviour import TYPE_INDEX, type_codes
from features.contract import ACTIVITY_TYPES
from features.registry import (
    FEATURES,
    HIGH_INTENT,
    MARKETING_ACTIONS,
    NOT_CONTENT,
    OUTBOUND,
    PHYSICAL,
)
from features.texts import (
    Lang,
    calendar_day_counts,
    calendar_days,
    days_before,
    event_phrase,
    format_date,
    is_missing,
    join_words,
    number_field,
    number_text,
    percent_text,
    raised,
    trend_text,
    value_label,
    without_gaps,
)

DASH = "—"
_NOT_CONTENT_CODES = np.array([TYPE_INDEX[t] for t in NOT_CONTENT])


class BatchEvents:
    """A batch's recent events (:func:`features.behaviour.recent_arrays`), indexed for citing.

    Events stay in their order: by row (``snap``), newest first within a row.
    """

    def __init__(self, events: Mapping[str, Any], n_rows: int) -> None:
        snap = np.asarray(events.get("snap", ()), dtype=np.int64)
        order = np.argsort(snap, kind="stable") if np.any(snap[1:] < snap[:-1]) else None
        n = len(snap)

        def column(name: str, dtype: object = object) -> np.ndarray:
            values = events.get(name)
            array = np.full(n, None, dtype=object) if values is None else np.asarray(values, dtype)
            return array if order is None else array[order]

        self.n_rows = n_rows
        self.snap = snap if order is None else snap[order]
        self.activity_type = column("activity_type")
        self.asset = column("asset")
        self.topic = column("topic")
        self.occurred_at = column("occurred_at", "datetime64[ns]")
        self.age = column("age_days", float)
        self.asset_code = column("asset_code", np.int64) if "asset_code" in events else None
        self.topic_code = column("topic_code", np.int64) if "topic_code" in events else None
        if "type_code" in events:
            self.type_code = column("type_code", np.int64)
        else:
            self.type_code = type_codes(pd.Series(self.activity_type, dtype=object)).astype(int)
        rows = np.arange(n_rows)
        self.start = np.searchsorted(self.snap, rows, side="left")
        self.end = np.searchsorted(self.snap, rows, side="right")

    @cached_property
    def _by_type(self) -> dict[int, np.ndarray]:
        if not len(self.type_code):
            return {}
        order = np.argsort(self.type_code.astype(np.int16), kind="stable")  # a radix sort
        codes = self.type_code[order]
        bounds = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1], True])
        return {int(codes[a]): order[a:b] for a, b in itertools.pairwise(bounds)}

    def of_types(self, types: tuple[str, ...]) -> np.ndarray:
        """Positions of the events of these types, in event order."""
        cache = self.__dict__.setdefault("_of_types", {})
        if types not in cache:
            cache[types] = self._positions_of(types)
        return cache[types]

    def _positions_of(self, types: tuple[str, ...]) -> np.ndarray:
        if len(types) == 1:
            return self._by_type.get(TYPE_INDEX.get(types[0], -2), np.empty(0, np.intp))
        table = np.zeros(len(TYPE_INDEX) + 1, dtype=bool)  # code -1 reads the last entry
        table[[TYPE_INDEX[t] for t in types if t in TYPE_INDEX]] = True
        return np.flatnonzero(table[self.type_code])

    @cached_property
    def is_own(self) -> np.ndarray:
        """Per event: one of the lead's own actions, not an email we sent."""
        mask = np.ones(len(self.snap), dtype=bool)
        mask[self.of_types(OUTBOUND)] = False
        return mask

    @cached_property
    def own(self) -> np.ndarray:
        """Positions of the lead's own actions, in event order."""
        return np.flatnonzero(self.is_own)

    def own_in_rows(self, rows: np.ndarray) -> np.ndarray:
        """:meth:`in_rows`, the lead's own actions only."""
        positions = self.in_rows(rows)
        return positions[self.is_own[positions]]

    def in_rows(self, rows: np.ndarray) -> np.ndarray:
        """Positions of all events of these rows, in event order (``rows`` ascending)."""
        start, length = self.start[rows], self.end[rows] - self.start[rows]
        offsets = np.repeat(start - np.cumsum(np.r_[0, length[:-1]]), length)
        return offsets + np.arange(int(length.sum()))

    def first(self, positions: np.ndarray) -> np.ndarray:
        """Per row, the first of ``positions`` (in event order) that falls in it; -1 for none."""
        out = np.full(self.n_rows, -1, dtype=np.intp)
        snap = self.snap[positions]
        new = np.r_[True, snap[1:] != snap[:-1]] if len(snap) else np.empty(0, bool)
        out[snap[new]] = positions[new]
        return out

    def first_k(self, positions: np.ndarray, k: int, key: np.ndarray | None = None) -> np.ndarray:
        """The first ``k`` of ``positions`` per row, skipping repeats of ``key`` (-1: skip)."""
        if key is not None:
            keep = key >= 0
            positions, key = positions[keep], key[keep]
            pair = self.snap[positions] * (int(key.max(initial=0)) + 1) + key
            positions = positions[~pd.Series(pair).duplicated().to_numpy()]
        snap = self.snap[positions]
        starts = np.flatnonzero(np.r_[True, snap[1:] != snap[:-1]]) if len(snap) else snap
        rank = np.arange(len(snap)) - np.repeat(starts, np.diff(np.r_[starts, len(snap)]))
        return positions[rank < k]

    def lists(self, positions: np.ndarray, values: Sequence[str], rows: np.ndarray) -> list[list]:
        """``values`` (one per position) gathered per row of ``rows``, in event order."""
        snap = self.snap[positions]
        left = np.searchsorted(snap, rows, side="left").tolist()
        right = np.searchsorted(snap, rows, side="right").tolist()
        return [values[a:b] for a, b in zip(left, right, strict=True)]

    def codes(self, positions: np.ndarray, name: str) -> np.ndarray:
        """An id per distinct usable value of ``name`` at ``positions`` (-1: none or empty)."""
        given = getattr(self, f"{name}_code")
        if given is not None:  # coded by the feature pipeline already
            return given[positions]
        values = getattr(self, name)[positions]
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        unusable = [i for i, u in enumerate(uniques) if not (isinstance(u, str) and u)]
        if unusable:
            codes = np.where(np.isin(codes, unusable), -1, codes)
        return codes

    def phrases(self, positions: np.ndarray, lang: Lang) -> list[str]:
        """Each event as words ("whitepaper 'Marketing Automation Guide'")."""
        if len(positions) < 64 or np.any(self.type_code[positions] < 0):
            types = self.activity_type[positions].tolist()
            assets = self.asset[positions].tolist()
            return [event_phrase(str(t), a, lang) for t, a in zip(types, assets, strict=True)]
        words, ids = self.phrase_ids(positions, lang)
        return [words[i] for i in ids.tolist()]

    def phrase_ids(self, positions: np.ndarray, lang: Lang) -> tuple[list[str], np.ndarray]:
        """Distinct phrases and, per position, which one it is: each distinct (type, asset)
        is put into words once. For events of the registry's types only."""
        codes = self.codes(positions, "asset")
        width = int(codes.max(initial=-1)) + 2
        pair = self.type_code[positions] * width + (codes + 1)
        inverse, distinct = pd.factorize(pair)  # in order of first appearance
        first = np.flatnonzero(~pd.Series(pair).duplicated().to_numpy())
        names = list(ACTIVITY_TYPES)
        assets = self.asset[positions[first]].tolist()
        texts = [
            event_phrase(names[p // width], a if p % width else None, lang)
            for p, a in zip(distinct.tolist(), assets, strict=True)
        ]
        words = list(dict.fromkeys(texts))
        which = {w: i for i, w in enumerate(words)}
        return words, np.array([which[t] for t in texts], dtype=np.intp)[inverse]

    def dates(self, positions: np.ndarray, lang: Lang) -> list[str]:
        """Each event's date as the texts write it; a dash for position -1."""
        moments = np.full(len(positions), np.datetime64("NaT"), dtype="datetime64[ns]")
        found = positions >= 0
        moments[found] = self.occurred_at[positions[found]]
        return dates_of(moments, lang)

    def dated(self, positions: np.ndarray, lang: Lang) -> list[str]:
        """ "whitepaper 'X' on 12 Nov 2026" per position; a dash for position -1."""
        found = positions >= 0
        word = "am" if lang == "de" else "on"
        phrases = iter(self.phrases(positions[found], lang))
        days = iter(self.dates(positions[found], lang))
        return [f"{next(phrases)} {word} {next(days)}" if f else DASH for f in found.tolist()]


def dates_of(moments: np.ndarray, lang: Lang) -> list[str]:
    """:func:`format_date` for many moments (NaT: a dash), formatting each distinct day once."""
    days = np.asarray(moments, dtype="datetime64[ns]").astype("datetime64[D]")
    absent = np.isnat(days)
    distinct, inverse = np.unique(days.view(np.int64), return_inverse=True)
    texts = [
        DASH if np.isnat(d) else format_date(pd.Timestamp(d), lang)
        for d in distinct.view("datetime64[D]")
    ]
    return [DASH if a else texts[i] for i, a in zip(inverse.tolist(), absent.tolist(), strict=True)]


@dataclass(frozen=True)
class Citing:
    """What the placeholders of one feature's reasons read, for the rows that have it."""

    feature: str
    rows: np.ndarray
    values: np.ndarray
    known: list[bool]
    labels: list[str] | None
    lead: Mapping[str, np.ndarray]
    events: BatchEvents
    lang: Lang

    @cached_property
    def plain(self) -> list[str | None]:
        """Each known number as the texts write it ("3", "2.5")."""
        if self.values.dtype.kind in "iuf" and all(self.known):
            whole = (np.floor(self.values) == self.values) & (np.abs(self.values) < 2**53)
            whole &= ~((self.values == 0) & np.signbit(self.values))  # "-0" stays "-0"
            if whole.all():
                return [str(v) for v in self.values.astype(np.int64).tolist()]
        return [
            number_text(float(v), self.lang) if k else None
            for v, k in zip(self.values, self.known, strict=True)
        ]


def _window_events(c: Citing) -> np.ndarray:
    """The events behind a count feature (its type and window), or all events of the rows."""
    spec = FEATURES[c.feature]
    if spec.activity_type is None:
        return c.events.own_in_rows(c.rows)
    window = int(c.feature.rsplit("_", 1)[1].rstrip("d"))
    positions = c.events.of_types((spec.activity_type,))
    return positions[c.events.age[positions] < window]


def _last(c: Citing) -> list[str]:
    return c.events.dates(c.events.first(_window_events(c))[c.rows], c.lang)


def _assets(c: Citing) -> list[str]:
    if c.feature == "physical_touches":
        positions = c.events.of_types(PHYSICAL)
    elif c.feature == "distinct_assets":  # content: not our emails, not a call's name
        positions = c.events.in_rows(c.rows)
        positions = positions[~np.isin(c.events.type_code[positions], _NOT_CONTENT_CODES)]
    else:
        positions = _window_events(c)
    kept = c.events.first_k(positions, 3, c.events.codes(positions, "asset"))
    if c.lang == "de":
        quoted = [f"„{a}“" for a in c.events.asset[kept].tolist()]
    else:
        quoted = [f"'{a}'" for a in c.events.asset[kept].tolist()]
    return [", ".join(names) or DASH for names in c.events.lists(kept, quoted, c.rows)]


def _recent(c: Citing) -> list[str]:
    return c.events.dated(c.events.first(c.events.own)[c.rows], c.lang)


def _intent(c: Citing) -> list[str]:
    found = c.events.first(c.events.of_types(HIGH_INTENT))[c.rows]
    texts = c.events.dated(found, c.lang)
    as_of = _lead_field(c, "as_of")
    for i in np.flatnonzero((found < 0) & np.asarray(c.known, dtype=bool)).tolist():
        # older than the recent events a reason cites: the day follows from the value itself
        texts[i] = format_date(days_before(as_of[i], c.values[i]), c.lang)
    return texts


def _actions(c: Citing) -> list[str]:
    """The latest three different marketing actions, oldest first ("the pricing page" once)."""
    positions = c.events.of_types(MARKETING_ACTIONS)
    _, which = c.events.phrase_ids(positions, c.lang)
    kept = c.events.first_k(positions, 3, which)
    phrases = c.events.phrases(kept, c.lang)
    return [
        join_words(latest[::-1], c.lang) or DASH for latest in c.events.lists(kept, phrases, c.rows)
    ]


def _topics(c: Citing) -> list[str]:
    positions = c.events.own_in_rows(c.rows)
    kept = c.events.first_k(positions, 4, c.events.codes(positions, "topic"))
    topics = [value_label("topic", t, c.lang) for t in c.events.topic[kept].tolist()]
    return [", ".join(names) or DASH for names in c.events.lists(kept, topics, c.rows)]


def _value(c: Citing) -> list[str]:
    if c.labels is not None:
        return c.labels
    return [
        (p or "0") if k else (DASH if is_missing(v) else value_label(c.feature, v, c.lang))
        for v, k, p in zip(c.values, c.known, c.plain, strict=True)
    ]


def _lead_field(c: Citing, key: str) -> list[Any]:
    values = c.lead.get(key)
    return [None] * len(c.rows) if values is None else list(values[c.rows])


def _stripped(c: Citing, key: str) -> list[str]:
    return [(v.strip() or DASH) if isinstance(v, str) else DASH for v in _lead_field(c, key)]


def _days(c: Citing) -> list[str]:
    """:func:`features.texts.calendar_days` for many rows, at numpy speed where ``as_of`` is."""
    as_of = c.lead.get("as_of")
    if not (isinstance(as_of, np.ndarray) and as_of.dtype.kind == "M"):
        return [
            calendar_days(a, v) if k else DASH
            for a, v, k in zip(_lead_field(c, "as_of"), c.values, c.known, strict=True)
        ]
    end = as_of[c.rows].astype("datetime64[ns]")
    values = np.asarray(c.values, dtype=float)
    known = np.asarray(c.known, dtype=bool) & ~np.isnat(end) & np.isfinite(values)
    days = np.zeros(len(values), dtype=np.int64)
    days[known] = calendar_day_counts(end[known], values[known])
    return [
        str(d) if ok else (f"{v:.0f}" if k else DASH)
        for d, ok, k, v in zip(days.tolist(), known.tolist(), c.known, values.tolist(), strict=True)
    ]


def _created(c: Citing) -> list[str]:
    moments = c.lead.get("created_at")
    if isinstance(moments, np.ndarray) and moments.dtype.kind == "M":
        return dates_of(moments[c.rows], c.lang)
    return [format_date(v, c.lang) for v in _lead_field(c, "created_at")]


def _flags(c: Citing) -> list[str]:
    return ["; ".join(texts or []) or DASH for texts in _lead_field(c, "quality_texts")]


# One entry per placeholder of features.texts, each for many rows at once.
_PLACEHOLDERS: dict[str, Callable[[Citing], list[str]]] = {
    "n": lambda c: [p or "0" for p in c.plain],
    "trend": lambda c: [
        trend_text(float(v), c.lang) if k else DASH for v, k in zip(c.values, c.known, strict=True)
    ],
    "days": _days,
    "value": _value,
    "pct": lambda c: [
        percent_text(float(v), c.lang) if k else DASH
        for v, k in zip(c.values, c.known, strict=True)
    ],
    "last": _last,
    "assets": _assets,
    "recent": _recent,
    "intent": _intent,
    "actions": _actions,
    "topics": _topics,
    "created": _created,
    "title": lambda c: _stripped(c, "job_title"),
    "email_domain": lambda c: _stripped(c, "email_domain"),
    "flags": _flags,
}


def _positional(template: str, order: Sequence[str] = ()) -> tuple[str, tuple[str, ...]]:
    """ "{n} times, last on {last}" -> ("{0} times, last on {1}", ("n", "last")).

    Names in ``order`` keep their positions there, new ones follow.
    """
    names: list[str] = list(order)
    parts = []
    for literal, name, spec, conversion in string.Formatter().parse(template):
        parts.append(literal.replace("{", "{{").replace("}", "}}"))
        if name is not None:
            if name not in names:
                names.append(name)
            tail = (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
            parts.append("{" + str(names.index(name)) + tail + "}")
    return "".join(parts), tuple(names)


class _Kinds(NamedTuple):
    """Per value, as :func:`render_reason` sees it: missing? a known number? And, for words, the
    text ``{value}`` shows (None: computed from the value)."""

    missing: list[bool]
    known: list[bool]
    labels: list[str] | None


def _kinds(values: np.ndarray, feature: str, lang: Lang) -> _Kinds:
    if values.dtype.kind in "iuf":
        missing = np.isnan(values).tolist() if values.dtype.kind == "f" else [False] * len(values)
        return _Kinds(missing, [not m for m in missing], None)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    gaps = values[codes < 0]
    if all(isinstance(u, str) for u in uniques) and all(
        v is None or v is pd.NA or isinstance(v, float) for v in gaps
    ):  # words and gaps (the usual category column): each distinct word is looked at once
        absent = np.array([is_missing(u) for u in uniques] + [True])[codes]
        labels = [DASH if is_missing(u) else value_label(feature, u, lang) for u in uniques]
        labels.append(DASH)
        return _Kinds(
            absent.tolist(),
            [False] * len(values),
            [labels[c] for c in codes.tolist()],
        )
    numeric = [isinstance(v, int | float | np.number) and not isinstance(v, bool) for v in values]
    missing = [is_missing(v) for v in values]
    return _Kinds(missing, [n and not m for n, m in zip(numeric, missing, strict=True)], None)


def feature_reasons(
    feature: str,
    rows: np.ndarray,
    up: np.ndarray,
    lead: Mapping[str, np.ndarray],
    events: BatchEvents,
    lang: Lang,
) -> np.ndarray:
    """The reason text of ``feature`` for each of ``rows`` (ascending, distinct).

    ``up`` says per row whether the feature pushed towards buying; ``lead`` holds the feature
    columns and the CRM fields the templates cite, one entry per row of the batch.
    """
    spec = FEATURES[feature]
    values = np.asarray(lead[feature])[rows]
    kinds = _kinds(values, feature, lang)
    if spec.by_value:  # what the lead did or did not do, whichever way the model weighs it
        known = np.asarray(kinds.known, dtype=bool)
        some = np.zeros(len(values), dtype=bool)
        some[known] = values[known].astype(float) > 0
        up = np.where(known, some, up)
    direction = np.where(np.asarray(kinds.missing, dtype=bool), 2, np.where(up, 0, 1))
    if spec.neutral_values or spec.neutral_when:  # unread or doubtful: no judgement
        unread = np.fromiter((str(v) in spec.neutral_values for v in values), bool, len(values))
        flags = lead.get(spec.neutral_when) if spec.neutral_when else None
        if flags is not None:
            unread |= np.fromiter((raised(f) for f in np.asarray(flags)[rows]), bool, len(rows))
        direction = np.where(unread & (direction != 2), 3, direction)
    out = np.empty(len(rows), dtype=object)
    for code, key in enumerate(("up", "down", "missing", "neutral")):
        chosen = np.flatnonzero(direction == code)
        if not len(chosen):
            continue
        fmt, names = _positional(spec.template(lang, key))  # type: ignore[arg-type]
        if not names:
            out[chosen] = fmt
            continue
        picked = chosen.tolist()
        known_part = [kinds.known[i] for i in picked]
        labels = None if kinds.labels is None else [kinds.labels[i] for i in picked]
        citing = Citing(
            feature, rows[chosen], values[chosen], known_part, labels, lead, events, lang
        )
        filled = [_PLACEHOLDERS[name](citing) for name in names]
        one = _positional(spec.template(lang, key, one=True), names)[0]  # type: ignore[arg-type]
        out[chosen] = _formatted(fmt, one, names, filled)
    return out


def _formatted(fmt: str, one: str, names: tuple[str, ...], filled: list[list[str]]) -> list[str]:
    """Each row's sentence from its placeholders' texts; in the singular form ``one`` (over the
    same positions) where the template's number reads "1", as :func:`render_reason` decides."""
    number = number_field(names)
    texts = None
    if one != fmt and number is not None:
        ones = np.asarray(filled[names.index(number)], dtype=object) == "1"
        if ones.any():
            texts = list(map(str.format, np.where(ones, one, fmt).tolist(), *filled))
    if texts is None:
        texts = [fmt.format(*args) for args in zip(*filled, strict=True)]
    return [without_gaps(text) for text in texts]
