"""The Scorer: features -> calibrated probability -> reasons -> route -> handover note -> audit.

One object serves the HTTP service, batch scoring and the terminal lead card, so a lead gets the
same score, reasons and route wherever it is scored. Features come from the shared
:func:`features.pipeline.build_features`; the model is the champion's :class:`LeadModel`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from features.contract import CRMTables
from features.pipeline import features_and_events
from features.quality import QUALITY_FLAGS, flag_texts
from features.texts import Lang, events_by_snap
from serving.audit import AuditLog, now_utc
from serving.handover import handover_note
from serving.reasons import check_additivity, reasons_for
from serving.routing import Route, RoutingConfig, grade_of, route_lead
from training.model import LeadModel

FLAG_COLUMNS = [flag.column for flag in QUALITY_FLAGS]
CONTEXT = (
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
    probability: float | None = Field(
        description="Calibrated probability of a won deal within the horizon; null without "
        "profiling consent"
    )
    score: int | None = Field(description="0-100")
    grade: str | None = Field(description="A-D")
    route: Route
    reasons: list[ReasonOut]
    handover_note: str
    quality_flags: list[QualityFlagOut]
    model: ModelOut
    scored_at: str
    request_id: str
    as_of: str
    consent_profiling: bool = Field(True, description="False: no model score, rule route only")


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

    def score(
        self,
        tables: CRMTables,
        lead_ids: Sequence[str] | None = None,
        as_of: pd.Timestamp | None = None,
        lang: Lang | None = None,
        request_id: str | None = None,
    ) -> list[ScoreResult]:
        """Score leads (all that exist at ``as_of`` by default), audit them, return results."""
        lang = lang or self.lang
        moment = pd.Timestamp(as_of) if as_of is not None else _now()
        if lead_ids is None:
            ids = tables.leads.loc[tables.leads["created_at"] <= moment, "lead_id"].to_numpy()
        else:
            ids = np.asarray(list(lead_ids), dtype=object)
        snapshots = pd.DataFrame({"lead_id": ids, "as_of": moment})
        features, events = features_and_events(tables, snapshots, self.model.feature_config)
        results = self.score_features(features, events, tables.leads, lang, request_id)
        if self.audit is not None:
            self.audit.write(self.audit_records(results, features))
        return results

    def score_features(
        self,
        features: pd.DataFrame,
        events: pd.DataFrame,
        leads: pd.DataFrame,
        lang: Lang,
        request_id: str | None = None,
    ) -> list[ScoreResult]:
        request_id = request_id or uuid.uuid4().hex
        scored_at = now_utc().isoformat()
        consent = _consent(features, leads)
        matrix = self.model.encode(features)
        raw = self.model.predict_raw(matrix)
        probability = self.model.calibrator.transform(raw)
        scores = self.model.score(probability)
        contributions = self.model.contributions(matrix)
        check_additivity(contributions, raw)
        n_columns = len(self.model.columns)
        per_snap = events_by_snap(events)
        wanted = leads[np.isin(leads["lead_id"].to_numpy(object), features["lead_id"].to_numpy())]
        context = [c for c in ("lead_id", *CONTEXT) if c in wanted.columns]
        lead_info = {r["lead_id"]: r for r in reversed(_records(wanted[context]))}
        results = []
        for i, row in enumerate(_records(features)):
            lead_events = per_snap.get(i, [])
            lead = {**lead_info[row["lead_id"]], **row}
            raised = [f.name for f in QUALITY_FLAGS if bool(row.get(f.column))]
            texts = flag_texts(lead, {name: True for name in raised}, lang)
            lead["quality_texts"] = texts
            if consent[i]:
                p = float(probability[i])
                grade = grade_of(p, self.cutoffs)
                score = int(scores[i])
                reasons = reasons_for(
                    contributions[i, :n_columns], self.model.columns, lead, lead_events, lang
                )
            else:
                p, grade, score, reasons = None, None, None, []
            route = route_lead(
                lead, grade, raised, self.routing, {e.activity_type for e in lead_events[:10]}
            )
            note = handover_note(
                lead,
                lead_events,
                score,
                grade,
                route,
                [r.text for r in reasons if r.contribution > 0],
                texts,
                lang,
            )
            results.append(
                ScoreResult(
                    lead_id=str(row["lead_id"]),
                    probability=None if p is None else round(p, 6),
                    score=score,
                    grade=grade,
                    route=route,
                    reasons=[ReasonOut(**r.__dict__) for r in reasons],
                    handover_note=note,
                    quality_flags=[
                        QualityFlagOut(flag=n, text=t) for n, t in zip(raised, texts, strict=True)
                    ],
                    model=ModelOut(name=self.ref.name, version=self.ref.version),
                    scored_at=scored_at,
                    request_id=request_id,
                    as_of=pd.Timestamp(row["as_of"]).isoformat(),
                    consent_profiling=bool(consent[i]),
                )
            )
        return results

    def audit_records(
        self, results: Sequence[ScoreResult], features: pd.DataFrame
    ) -> list[dict[str, Any]]:
        columns = self.model.columns
        values = [
            dict(zip(columns, row, strict=True)) for row in features[columns].to_numpy(dtype=object)
        ]
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
                "features": {k: _plain(v) for k, v in value.items()},
                "handover_note": r.handover_note,
            }
            for r, value in zip(results, values, strict=True)
        ]


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts; ``DataFrame.to_dict("records")`` costs milliseconds per wide row."""
    names = list(frame.columns)
    return [dict(zip(names, row, strict=True)) for row in frame.to_numpy(dtype=object)]


def _plain(value: object) -> object:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value if isinstance(value, int | float | str | bool) else str(value)


def _consent(features: pd.DataFrame, leads: pd.DataFrame) -> np.ndarray:
    if "consent_profiling" not in leads:
        return np.ones(len(features), dtype=bool)
    given = dict(zip(leads["lead_id"], leads["consent_profiling"], strict=True))
    return np.array([_consents(given.get(i)) for i in features["lead_id"]], dtype=bool)


def _consents(value: object) -> bool:
    """Profiling is allowed unless the lead said no; an empty cell is not an objection."""
    return value is None or value is pd.NA or bool(value)


def _now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC").tz_localize(None)
