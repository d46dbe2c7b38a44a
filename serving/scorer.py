"""The Scorer: features -> calibrated probability -> reasons -> route -> handover note -> audit.

One object serves the HTTP service, batch scoring and the terminal lead card, so a lead gets the
same score, reasons and route wherever it is scored. Features come from the shared
:func:`features.pipeline.build_features`; the model is the champion's :class:`LeadModel`.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from pydantic import BaseModel, Field, TypeAdapter

from features.batch_texts import BatchEvents
from features.collector import collector_paused
from features.contract import CRMTables, naive_moment
from features.pipeline import feature_columns_and_events
from features.quality import QUALITY_FLAGS, flag_texts
from features.registry import FEATURES, OUTBOUND
from features.texts import Lang, events_by_snap, format_date
from serving.audit import AuditLog, now_utc
from serving.handover import handover_note, handover_notes
from serving.reasons import (
    ReasonGroups,
    check_additivity,
    reason_texts,
    render_reasons,
    top_reasons,
)
from serving.routing import (
    LEAD_FIELDS,
    Route,
    RoutingConfig,
    grades_of,
    route_columns,
    route_lead,
)
from training.model import LeadModel
from training.snapshots import closed_by

FLAG_COLUMNS = [flag.column for flag in QUALITY_FLAGS]
CONTEXT = LEAD_FIELDS  # the CRM fields a text, a note or a routing rule reads beside features


class ReasonOut(BaseModel):
    feature: str = Field(description="The feature behind the reason (registry name)")
    contribution: float = Field(description="Its SHAP contribution to the log-odds (signed)")
    text: str = Field(description="The reason in the lead's own actions")


class QualityFlagOut(BaseModel):
    flag: str
    text: str


class ModelOut(BaseModel):
    name: str
    version: str


class ScoreResult(BaseModel):
    """One scored lead; field names fixed by the HTTP contract."""

    lead_id: str
    # nullable: BentoML's OpenAPI document drops pydantic's "or null" (a generated client then
    # fails on the answer for a lead that objected to profiling)
    probability: float | None = Field(
        description="Calibrated probability of a won deal within the horizon; null without "
        "profiling consent",
        json_schema_extra={"nullable": True},
    )
    score: int | None = Field(
        description="0-100; null without profiling consent", json_schema_extra={"nullable": True}
    )
    grade: str | None = Field(
        description="A-D; null without profiling consent", json_schema_extra={"nullable": True}
    )
    route: Route
    reasons: list[ReasonOut]
    handover_note: str
    quality_flags: list[QualityFlagOut]
    model: ModelOut
    scored_at: str
    request_id: str
    as_of: str = Field(description="The moment the lead was scored at (ISO 8601, UTC)")
    consent_profiling: bool = Field(True, description="False: no model score, rule route only")
    warnings: list[str] = Field(
        default_factory=list,
        description="What the request sent that the score could not use (activities after the "
        "scoring moment), so that an integration error is not a silent one",
    )


_RESULTS = TypeAdapter(list[ScoreResult])


@dataclass(frozen=True)
class Ranked:
    """A batch's numbers before any text (see :meth:`Scorer.rank`)."""

    lead_id: np.ndarray
    probability: np.ndarray
    score: np.ndarray
    grade: np.ndarray
    reason_columns: np.ndarray
    reason_totals: np.ndarray
    names: tuple[str, ...]


@dataclass(frozen=True)
class HandOverBasis:
    """Per snapshot: the probability (NaN without profiling consent) and whether routing sends
    it to sales whatever the cut-off (``always``: it asked for contact and has no review flag)
    or never by its score (``never``: a review flag, or no consent and no request)."""

    probability: np.ndarray
    always: np.ndarray
    never: np.ndarray


@dataclass(frozen=True)
class ModelRef:
    name: str
    version: str


class Scorer:
    """Scores leads with one loaded model; cheap to call, expensive to build (load once)."""

    def __init__(
        self,
        model: LeadModel,
        ref: ModelRef,
        routing: RoutingConfig,
        audit: AuditLog | None = None,
        lang: Lang = "en",
    ) -> None:
        self.model = model
        self.ref = ref
        self.routing = routing
        self.audit = audit
        self.lang = lang
        self.cutoffs = routing.cutoffs(model.thresholds)
        # the handover note says what the lead did: not how many emails we sent it
        self._note_worthy = frozenset(
            c
            for c in model.columns
            if FEATURES.get(c) is None or FEATURES[c].activity_type not in OUTBOUND
        )
        # per model column, and False for "no reason" (-1), to index with the chosen columns
        self._note_worthy_mask = np.array([c in self._note_worthy for c in model.columns] + [False])

    def score(
        self,
        tables: CRMTables,
        lead_ids: Sequence[str] | None = None,
        as_of: pd.Timestamp | None = None,
        lang: Lang | None = None,
        request_id: str | None = None,
    ) -> list[ScoreResult]:
        """Score leads (all that exist at ``as_of`` by default), audit them, return results."""
        features, events = self._features_at(tables, lead_ids, as_of)
        results = self.score_features(features, events, tables.leads, lang or self.lang, request_id)
        if self.audit is not None:
            self.audit.write(self.audit_records(results, features))
        return results

    def _features_at(
        self,
        tables: CRMTables,
        lead_ids: Sequence[str] | None,
        as_of: pd.Timestamp | None,
        include_closed: bool = True,
    ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Features and recent events of these leads (all that exist at ``as_of`` by default,
        without those closed by then unless ``include_closed``)."""
        moment = pd.Timestamp(as_of) if as_of is not None else _now()
        if lead_ids is None:
            return self._features_of(tables, existing_at(tables, moment, include_closed))
        ids = np.asarray(list(lead_ids), dtype=object)
        return self._features_of(tables, pd.DataFrame({"lead_id": ids, "as_of": moment}))

    def _features_of(
        self, tables: CRMTables, snapshots: pd.DataFrame
    ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Features and recent events of snapshots (``lead_id``, ``as_of``), with the requests
        for contact routing looks for kept beyond the cited actions."""
        asking = (self.routing.hand_raisers, self.routing.no_consent)
        types = [t for rules in asking for t in rules.types()]
        days = max(rules.within_days for rules in asking)
        return feature_columns_and_events(
            tables, snapshots, self.model.feature_config, also=(types, days)
        )

    def _asked(self, cited: BatchEvents, consent: np.ndarray) -> list[list[str]]:
        """Per row, the types of its recent requests for contact: those ``hand_raisers``
        lists, or ``no_consent`` for a lead that objected to profiling."""
        row = cited.snap
        hits = np.where(
            consent[row] if len(row) else np.zeros(0, dtype=bool),
            self.routing.hand_raisers.hits(cited.activity_type, cited.asset, cited.age),
            self.routing.no_consent.hits(cited.activity_type, cited.asset, cited.age),
        )
        asked: list[list[str]] = [[] for _ in range(cited.n_rows)]
        for i in np.unique(row[hits]).tolist():
            a, b = cited.start[i], cited.end[i]
            asked[i] = sorted(set(cited.activity_type[a:b][hits[a:b]].tolist()))
        return asked

    def hand_over_basis(self, tables: CRMTables, snapshots: pd.DataFrame) -> HandOverBasis:
        """What a sales cut-off decides for these snapshots under the routing rules in force:
        their probabilities, and the leads it does not decide (capacity planning,
        ``leadscore thresholds``). Nothing is audited: no lead is scored for anyone."""
        columns, events = self._features_of(tables, snapshots)
        n = len(columns["lead_id"])
        consent = _consent(columns["lead_id"], tables.leads, columns)
        probability = np.where(consent, self.rank(columns).probability, np.nan)
        raised = _raised_flags(columns, n)
        asked = self._asked(BatchEvents(events, n), consent)

        def to_sales(grade: str) -> np.ndarray:
            """Routing's own decision, had every consenting lead this grade."""
            grades = [grade if allowed else None for allowed in consent.tolist()]
            routes = route_columns(columns, grades, raised, self.routing, asked)
            return np.array([route[0] == "sales" for route in routes], dtype=bool)

        always = to_sales("D")  # sales at the worst grade: a hand-raiser, or every lead
        return HandOverBasis(probability, always, ~to_sales("A") & ~always)

    def warm_up(self, tables: CRMTables, lead_id: str, as_of: pd.Timestamp) -> None:
        """Score one lead without auditing it: the first lead of a process builds the city and
        country tables (about a second and a half), which a CRM's first request should not
        wait for."""
        features, events = self._features_at(tables, [lead_id], as_of)
        self.score_features(features, events, tables.leads, self.lang)

    @collector_paused()
    def score_features(
        self,
        features: pd.DataFrame | Mapping[str, Any],
        events: pd.DataFrame | Mapping[str, Any],
        leads: pd.DataFrame,
        lang: Lang,
        request_id: str | None = None,
    ) -> list[ScoreResult]:
        """Score, explain, route and write the note for rows of features (a frame or columns).

        Everything that can be done for all rows at once is (model, contributions, choice of
        reasons); only the texts are written lead by lead, from the lead's own events.
        """
        request_id = request_id or uuid.uuid4().hex
        scored_at = now_utc().isoformat()
        columns = _columns(features)
        ids = columns["lead_id"]
        consent = _consent(ids, leads, columns)
        ranked = self.rank(columns)
        probability, scores = np.round(ranked.probability, 6), ranked.score
        picked, totals = ranked.reason_columns, ranked.reason_totals
        names = self.model.columns
        per_snap = events_by_snap(events)
        context = _context(leads, ids)
        raised_flags = _raised_flags(columns, len(ids))
        as_of_text = _iso_texts(columns["as_of"])
        model_out = {"name": self.ref.name, "version": self.ref.version}
        results = []
        for i, lead_id in enumerate(ids.tolist()):
            lead_events = per_snap.get(i, [])
            lead = _Row(columns, context, i)
            raised = raised_flags[i]
            texts = flag_texts(lead, dict.fromkeys(raised, True), lang) if raised else []
            lead.extra["quality_texts"] = texts
            if consent[i]:
                p = float(probability[i])
                grade = str(ranked.grade[i])
                score = int(scores[i])
                reasons = render_reasons(picked[i], totals[i], names, lead, lead_events, lang)
            else:
                p, grade, score, reasons = None, None, None, []
            rules = self.routing.hand_raisers if consent[i] else self.routing.no_consent
            asked = rules.asked(
                np.array([e.activity_type for e in lead_events], dtype=object),
                np.array([e.asset for e in lead_events], dtype=object),
                np.array([e.age_days for e in lead_events], dtype=float),
            )
            route = route_lead(lead, grade, raised, self.routing, asked, lang)
            note = handover_note(
                lead,
                lead_events,
                score,
                grade,
                route,
                [r.text for r in reasons if r.contribution > 0 and r.feature in self._note_worthy],
                texts,
                lang,
            )
            results.append(
                {
                    "lead_id": str(lead_id),
                    "probability": p,
                    "score": score,
                    "grade": grade,
                    "route": route,
                    "reasons": [r.__dict__ for r in reasons],
                    "handover_note": note,
                    "quality_flags": [
                        {"flag": n, "text": t} for n, t in zip(raised, texts, strict=True)
                    ],
                    "model": model_out,
                    "scored_at": scored_at,
                    "request_id": request_id,
                    "as_of": as_of_text[i],
                    "consent_profiling": bool(consent[i]),
                }
            )
        # validated in one call (in Rust): a third of the cost of building models one by one
        return _RESULTS.validate_python(results)

    def score_table(
        self,
        tables: CRMTables,
        as_of: pd.Timestamp | None = None,
        lang: Lang | None = None,
        include_closed: bool = False,
    ) -> pd.DataFrame:
        """Score every lead that exists and is still open at ``as_of`` into one frame (see
        :meth:`score_frame`), with every score in the audit log before the frame is returned.

        A lead that has bought, or lost its last deal, is not routed again: half a review queue
        and a third of the sales hand-overs were such leads.
        """
        features, events = self._features_at(tables, None, as_of, include_closed)
        frame = self.score_frame(features, events, tables.leads, lang or self.lang)
        if self.audit is not None:
            self.audit.write(self.audit_records(results_from_frame(frame), features))
        return frame

    @collector_paused()
    def score_frame(
        self,
        features: pd.DataFrame | Mapping[str, Any],
        events: pd.DataFrame | Mapping[str, Any],
        leads: pd.DataFrame,
        lang: Lang,
        request_id: str | None = None,
        chunk: int = 10_000,
    ) -> pd.DataFrame:
        """:meth:`score_features` for a batch, written column by column: one row per lead.

        Each text is written for all the leads that need it at once, from the event arrays,
        so that a batch costs little more than the model (benchmarks/serve.py). The texts are
        the ones :meth:`score_features` writes lead by lead (tests/serving/test_batch.py).
        Reasons are in columns ``reason_<k>_feature``, ``reason_<k>_contribution`` and
        ``reason_<k>_text``, most important first; :func:`results_from_frame` reads the frame
        back as results.
        """
        request_id = request_id or uuid.uuid4().hex
        scored_at = now_utc().isoformat()
        columns = _columns(features)
        ids = columns["lead_id"]
        consent = _consent(ids, leads, columns)
        context = _context(leads, ids)
        events = _columns_of(events)
        n = len(ids)
        parts = [(a, min(a + chunk, n)) for a in range(0, n, chunk)] or [(0, 0)]

        def rows(a: int, b: int) -> dict[str, np.ndarray]:
            return {name: values[a:b] for name, values in columns.items()}

        # The model runs on LightGBM's threads without the GIL; while it scores the next chunk,
        # this thread writes the texts of the last one: the cores do both at once.
        frames = []
        with ThreadPoolExecutor(1, thread_name_prefix="rank") as pool:
            ahead = pool.submit(self.rank, rows(*parts[0]))
            for i, (a, b) in enumerate(parts):
                ranked = ahead.result()
                if i + 1 < len(parts):
                    ahead = pool.submit(self.rank, rows(*parts[i + 1]))
                frames.append(
                    self._write(
                        ranked,
                        rows(a, b),
                        {name: values[a:b] for name, values in context.items()},
                        consent[a:b],
                        _event_rows(events, a, b),
                        (lang, request_id, scored_at),
                    )
                )
        return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)

    def _write(
        self,
        ranked: Ranked,
        columns: dict[str, np.ndarray],
        context: dict[str, np.ndarray],
        consent: np.ndarray,
        events: Mapping[str, Any],
        stamp: tuple[Lang, str, str],
    ) -> pd.DataFrame:
        """The rows of :meth:`score_frame` for one chunk whose model numbers are ``ranked``."""
        lang, request_id, scored_at = stamp
        ids = columns["lead_id"]
        n = len(ids)
        raised = _raised_flags(columns, n)
        quality_texts: list[list[str]] = [[]] * n
        for i in (i for i, names in enumerate(raised) if names):
            lead_i = _Row(columns, context, i)
            quality_texts[i] = flag_texts(lead_i, dict.fromkeys(raised[i], True), lang)
        lead: dict[str, Any] = {**context, **columns}
        lead["quality_texts"] = _objects(quality_texts)
        cited = BatchEvents(events, n)
        names = self.model.columns
        picked = ranked.reason_columns
        contributions = np.round(ranked.reason_totals, 6)
        texts = reason_texts(picked, ranked.reason_totals, names, lead, cited, lang, consent)
        grades = [str(g) if c else None for g, c in zip(ranked.grade, consent, strict=True)]
        scores = [int(v) if c else None for v, c in zip(ranked.score, consent, strict=True)]

        asked = self._asked(cited, consent)
        routes = route_columns(lead, grades, raised, self.routing, asked, lang)
        worthy = self._note_worthy_mask[picked]
        positive = (picked >= 0) & (contributions > 0) & consent[:, None] & worthy
        first = np.argmax(positive, axis=1)
        top = np.where(positive.any(axis=1), texts[np.arange(n), first], None).tolist()
        notes = handover_notes(lead, cited, scores, grades, routes, top, quality_texts, lang)
        probability = np.where(consent, np.round(ranked.probability, 6), np.nan)
        route = np.empty((n, 4), dtype=object)
        if routes:
            route[:] = routes
        # object arrays, not lists: pandas then takes them as they are instead of inferring
        out: dict[str, Any] = {
            "lead_id": _objects([str(i) for i in ids.tolist()]),
            "probability": probability,
            "score": pd.arrays.IntegerArray(ranked.score.astype(np.int64), ~consent),
            "grade": _objects(grades),
            "consent_profiling": consent,
            "action": route[:, 0],
            "team": route[:, 1],
            "track": route[:, 2],
            "why": route[:, 3],
        }
        explained = (picked >= 0) & consent[:, None]
        for k in range(picked.shape[1]):
            has = explained[:, k]
            feature = np.asarray(names, dtype=object)[np.maximum(picked[:, k], 0)]
            out[f"reason_{k + 1}_feature"] = np.where(has, feature, None)
            out[f"reason_{k + 1}_contribution"] = np.where(has, contributions[:, k], np.nan)
            out[f"reason_{k + 1}_text"] = texts[:, k]
        out |= {
            "quality_flags": _objects(raised),
            "quality_texts": lead["quality_texts"],
            "handover_note": _objects(notes),
            "model_name": np.full(n, self.ref.name, dtype=object),
            "model_version": np.full(n, self.ref.version, dtype=object),
            "scored_at": np.full(n, scored_at, dtype=object),
            "request_id": np.full(n, request_id, dtype=object),
            "as_of": _objects(_iso_texts(columns["as_of"])),
        }
        return pd.DataFrame(out, copy=False)

    def rank(self, features: pd.DataFrame | Mapping[str, Any]) -> Ranked:
        """Probabilities, scores and the reasons chosen (features and contributions), for all
        rows at once and without a word of text: the part of scoring that costs what the model
        costs."""
        columns = _columns(features)
        matrix = self.model.encode(columns)
        if len(matrix):
            raw = self.model.predict_raw(matrix)
            contributions = self.model.contributions(matrix)
        else:  # LightGBM divides by the number of rows
            raw, contributions = np.empty(0), np.empty((0, len(self.model.columns) + 1))
        probability = self.model.calibrator.transform(raw)
        check_additivity(contributions, raw)
        names = self.model.columns
        picked, totals = top_reasons(contributions[:, : len(names)], ReasonGroups.of(tuple(names)))
        scores = self.model.score(probability)
        return Ranked(
            columns["lead_id"],
            probability,
            scores,
            grades_of(scores, self.cutoffs),
            picked,
            totals,
            tuple(names),
        )

    def audit_records(
        self, results: Sequence[ScoreResult], features: pd.DataFrame | Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        columns = _columns(features)
        names = self.model.columns
        values = zip(*(columns[name].tolist() for name in names), strict=True)
        return [
            {
                "request_id": r.request_id,
                "lead_id": r.lead_id,
                "scored_at": pd.Timestamp(r.scored_at).to_pydatetime(),
                "model_name": r.model.name,
                "model_version": r.model.version,
                "probability": r.probability,
                "score": r.score,
                "grade": r.grade,
                "action": r.route.action,
                "route": r.route.model_dump(),
                "reasons": [x.model_dump() for x in r.reasons],
                "quality_flags": [x.model_dump() for x in r.quality_flags],
                # the moment the features were taken at: a backfill is not a live score; no
                # profile is kept of a lead that objected to profiling
                "features": {
                    "as_of": r.as_of,
                    **(
                        {k: json_value(v) for k, v in zip(names, value, strict=True)}
                        if r.consent_profiling
                        else {}
                    ),
                },
                "handover_note": r.handover_note,
            }
            for r, value in zip(results, values, strict=True)
        ]


def existing_at(
    tables: CRMTables, moment: pd.Timestamp, include_closed: bool = False
) -> pd.DataFrame:
    """Snapshots (``lead_id``, ``as_of``) of the leads a batch at ``moment`` scores: those that
    exist by then and, unless ``include_closed``, have not bought or lost their last deal."""
    leads = tables.leads
    wanted = (leads["created_at"] <= moment).to_numpy(bool)
    if not include_closed:
        wanted &= ~leads["lead_id"].isin(closed_by(tables, moment)).to_numpy(bool)
    return pd.DataFrame({"lead_id": leads.loc[wanted, "lead_id"].to_numpy(), "as_of": moment})


def closed_text(tables: CRMTables, lead_id: str, moment: object, lang: Lang = "en") -> str | None:
    """What the outcomes say of a lead that had closed by ``moment`` (None while it is open).

    Scoring one lead still gives its score and route, for reference; this line keeps anyone from
    handing a customer to sales as a new lead.
    """
    when = naive_moment(moment)
    deals = tables.outcomes[tables.outcomes["lead_id"] == lead_id]  # as closed_by, for one lead
    if deals.empty:
        return None
    won = deals.loc[deals["won"].fillna(False).astype(bool), "closed_at"]
    end = won.min() if len(won) else deals["closed_at"].max()
    if not end <= when:
        return None
    on = format_date(end, lang)
    if len(won):
        if lang == "de":
            return f"hat am {on} gekauft: ein Kunde, kein Lead für die Übergabe"
        return f"bought on {on}: a customer, not a lead to hand over"
    if lang == "de":
        return f"hat am {on} das letzte Geschäft verloren: kein offener Lead"
    return f"lost its last deal on {on}: not an open lead"


def results_from_frame(frame: pd.DataFrame) -> list[ScoreResult]:
    """The rows of :meth:`Scorer.score_frame` as the results :meth:`Scorer.score` gives."""
    slots = sum(1 for c in frame.columns if c.startswith("reason_") and c.endswith("_text"))
    reasons = zip(
        *(
            zip(
                frame[f"reason_{k}_feature"].tolist(),
                frame[f"reason_{k}_contribution"].tolist(),
                frame[f"reason_{k}_text"].tolist(),
                strict=True,
            )
            for k in range(1, slots + 1)
        ),
        strict=True,
    )
    rows = zip(
        frame["lead_id"].tolist(),
        frame["probability"].tolist(),
        frame["score"].astype(object).where(frame["score"].notna(), None).tolist(),
        frame["grade"].tolist(),
        frame["consent_profiling"].tolist(),
        frame["action"].tolist(),
        frame["team"].tolist(),
        frame["track"].tolist(),
        frame["why"].tolist(),
        reasons,
        frame["quality_flags"].tolist(),
        frame["quality_texts"].tolist(),
        frame["handover_note"].tolist(),
        frame["model_name"].tolist(),
        frame["model_version"].tolist(),
        frame["scored_at"].tolist(),
        frame["request_id"].tolist(),
        frame["as_of"].tolist(),
        strict=True,
    )
    return _RESULTS.validate_python(
        [
            {
                "lead_id": lead_id,
                "probability": probability if consent else None,
                "score": score,
                "grade": grade,
                "route": {"action": action, "team": team, "track": track, "why": why},
                "reasons": [
                    {"feature": f, "contribution": c, "text": t}
                    for f, c, t in lead_reasons
                    if t is not None
                ],
                "handover_note": note,
                "quality_flags": [
                    {"flag": f, "text": t} for f, t in zip(flags, flag_texts_, strict=True)
                ],
                "model": {"name": name, "version": version},
                "scored_at": scored_at,
                "request_id": request_id,
                "as_of": as_of,
                "consent_profiling": consent,
            }
            for (
                lead_id,
                probability,
                score,
                grade,
                consent,
                action,
                team,
                track,
                why,
                lead_reasons,
                flags,
                flag_texts_,
                note,
                name,
                version,
                scored_at,
                request_id,
                as_of,
            ) in rows
        ]
    )


def _objects(items: Sequence[object]) -> np.ndarray:
    """A list of lists as an object array of lists (numpy would make a 2-d array of it)."""
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


def _columns_of(events: pd.DataFrame | Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Events as arrays, in order of their row (``snap``), newest first within a row."""
    if isinstance(events, pd.DataFrame):
        arrays = {name: events[name].to_numpy() for name in events.columns}
    else:
        arrays = {name: np.asarray(values) for name, values in events.items()}
    snap = arrays.get("snap", np.empty(0, np.int64))
    if len(snap) > 1 and np.any(snap[1:] < snap[:-1]):
        order = np.argsort(snap, kind="stable")
        arrays = {name: values[order] for name, values in arrays.items()}
    return arrays


def _event_rows(events: dict[str, np.ndarray], a: int, b: int) -> dict[str, np.ndarray]:
    """The events of rows ``a`` to ``b``, numbered from 0 again."""
    snap = events.get("snap", np.empty(0, np.int64))
    start, end = np.searchsorted(snap, [a, b])
    out = {name: values[start:end] for name, values in events.items()}
    if "snap" in out:
        out["snap"] = out["snap"] - a
    return out


class _Row(Mapping[str, object]):
    """One lead's features and CRM fields, read from the column arrays only when a text asks.

    Building a dict of a hundred features per lead would cost more than all its texts.
    """

    __slots__ = ("columns", "context", "extra", "i")

    def __init__(
        self, columns: Mapping[str, np.ndarray], context: Mapping[str, np.ndarray], i: int
    ) -> None:
        self.columns = columns
        self.context = context
        self.i = i
        self.extra: dict[str, object] = {}

    def __getitem__(self, key: str) -> object:
        if key in self.extra:
            return self.extra[key]
        source = self.columns if key in self.columns else self.context
        return source[key][self.i]

    def __iter__(self) -> Iterator[str]:
        return iter({**dict.fromkeys(self.context), **dict.fromkeys(self.columns), **self.extra})

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _columns(features: pd.DataFrame | Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Feature columns as numpy arrays (lead ids as objects) from a frame or from columns."""
    out = {
        name: values if isinstance(values, np.ndarray) else np.asarray(values)
        for name, values in features.items()
    }
    out["lead_id"] = np.asarray(features["lead_id"], dtype=object)
    return out


def _context(leads: pd.DataFrame, ids: np.ndarray) -> dict[str, np.ndarray]:
    """The CRM fields that texts cite, aligned with ``ids`` (a repeated lead_id: its first row)."""
    rows: np.ndarray | None = None  # the leads table is already in the order of ids
    in_order = len(leads) == len(ids) and _take(leads["lead_id"], None).tolist() == ids.tolist()
    if not (in_order and len(set(ids.tolist())) == len(ids)):
        index = pd.Index(leads["lead_id"].to_numpy(object))
        first = ~index.duplicated()
        position = pd.Index(index[first]).get_indexer(ids)
        if (position < 0).any():
            raise KeyError(f"lead_id {ids[np.argmax(position < 0)]!r} is not in the leads table")
        rows = np.flatnonzero(first)[position]
    return {column: _take(leads[column], rows) for column in CONTEXT if column in leads}


def _take(values: pd.Series, rows: np.ndarray | None) -> np.ndarray:
    """Some rows (all for None) of a column as Python objects, None where missing; moments
    without a time zone as datetime64 (NaT where missing), which texts format alike."""
    if values.dtype == "datetime64[ns]":
        moments = values.to_numpy()
        return moments if rows is None else moments[rows]
    array = values.array
    if isinstance(array, pd.arrays.ArrowExtensionArray):
        arrow = array.__arrow_array__()
        out = np.empty(len(arrow) if rows is None else len(rows), dtype=object)
        out[:] = (arrow if rows is None else arrow.take(pa.array(rows))).to_pylist()
        return out
    objects = values.to_numpy(dtype=object, copy=True)
    objects[pd.isna(objects)] = None
    return objects if rows is None else objects[rows]


def _iso_texts(moments: np.ndarray) -> list[str]:
    """``as_of`` per row as ISO text with its UTC offset, as ``scored_at`` is written (moments
    are UTC throughout); a batch has one moment, so each is formatted once."""
    texts: dict[int, str] = {}
    stamps = np.asarray(moments, dtype="datetime64[ns]").view(np.int64).tolist()
    for m in set(stamps):
        texts[m] = pd.Timestamp(m, tz="UTC").isoformat()
    return [texts[m] for m in stamps]


def json_value(value: object) -> object:
    """A feature value as JSON can hold it: NaN and infinities (which a client may send as an
    extra field) are stored as null rather than failing the audit write."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    return value if isinstance(value, int | float | str | bool) else str(value)


def _raised_flags(columns: Mapping[str, Any], n: int) -> list[list[str]]:
    """Per row, the names of its raised quality flags (a flag the columns lack is not raised)."""
    absent = np.zeros(n, dtype=bool)
    flags = np.column_stack(
        [np.asarray(columns.get(f.column, absent), dtype=bool) for f in QUALITY_FLAGS]
    )
    raised: list[list[str]] = [[]] * n
    for i in np.flatnonzero(flags.any(axis=1)).tolist():
        raised[i] = [f.name for f, up in zip(QUALITY_FLAGS, flags[i], strict=True) if up]
    return raised


def _consent(ids: np.ndarray, leads: pd.DataFrame, columns: Mapping[str, Any]) -> np.ndarray:
    """Whether each lead may be profiled: as the features say (the person objected on none of
    its merged records), else as its row in ``leads`` says."""
    if "consent_profiling" in columns:
        return np.asarray(columns["consent_profiling"], dtype=bool)
    if "consent_profiling" not in leads:
        return np.ones(len(ids), dtype=bool)
    lead_ids = leads["lead_id"].to_numpy(dtype=object)
    last = ~pd.Index(lead_ids).duplicated(keep="last")  # a repeated lead: its last row says
    given = [_consents(v) for v in leads["consent_profiling"].to_numpy(dtype=object)[last]]
    position = pd.Index(lead_ids[last]).get_indexer(ids)
    return np.where(position >= 0, np.array([*given, True], dtype=bool)[position], True)


def _consents(value: object) -> bool:
    """Profiling is allowed unless the lead said no; an empty cell is not an objection."""
    return value is None or value is pd.NA or bool(value)


def _now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC").tz_localize(None)
