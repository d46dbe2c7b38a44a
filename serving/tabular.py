"""Scoring a one-row-per-lead export (tabular mode) with the ``leadscore-tabular`` champion.

The same steps as :class:`serving.scorer.Scorer`, on a table instead of a CRM: the table's
columns through the champion's encoding, a calibrated probability, grade and route from
``routing.yaml``, reasons from the model's own contributions (``pred_contrib``, checked to add up
to its margin), and one audit record per row, written before anything is returned. An export has
no events to cite, so a reason names the column and the lead's value in it
(:func:`features.mapping.column_reason`). A row whose consent column says no gets no model score
and is routed by the no-consent rule, as a CRM lead is.

``leadscore score``, ``leadscore explain`` and ``leadscore thresholds`` all use this one object in
tabular mode.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from features.contract import TabularData
from features.loaders import CONSENT
from features.mapping import COLUMN_TEXTS, calendar_columns, column_reason, value_text
from features.texts import Lang
from serving.audit import AuditLog, now_utc
from serving.reasons import ReasonGroups, check_additivity, top_reasons
from serving.routing import Route, RoutingConfig, grades_of, load_routing, route_lead
from serving.scorer import json_value
from training.model import LeadModel
from training.tabular import (
    TABULAR_MODEL_NAME,
    MissingColumnsError,
    mapping_of,
    model_inputs,
    read_rows,
)

if TYPE_CHECKING:
    from leadscore.settings import Settings

__all__ = ["MissingColumnsError", "TabularScorer", "scored_frame"]
# Reasons kept per row: top_reasons picks 4 for and 3 against.
REASON_SLOTS = 7


@dataclass
class TabularScorer:
    """The tabular champion with its routing and audit log; see the module docstring."""

    model: LeadModel
    version: str
    routing: RoutingConfig
    audit: AuditLog
    lang: Lang = "en"
    name: str = TABULAR_MODEL_NAME
    # the columns that are calendar parts of the export's date, with that date's column
    calendar: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.calendar = calendar_columns(mapping_of(self.model))

    def column_text(self, column: str, value: object, lang: Lang) -> str:
        """What one of the row's columns says, as a reason reads it (a calendar part as a day,
        month or hour of its date). A category the model never saw is scored as missing: the
        reason says so rather than credit the value ("Lead Source: TikTok" with +0.38)."""
        known = self.model.categories.get(column)
        if known is not None and value is not None and value not in known:
            texts = COLUMN_TEXTS.get(lang, COLUMN_TEXTS["en"])
            return texts["unseen"].format(column=column, value=value_text(value, lang))
        return column_reason(column, value, lang, self.calendar)

    @classmethod
    def load(cls, settings: Settings, lang: Lang | None = None) -> TabularScorer:
        """The current tabular champion (raises ``training.registry.RegistryError`` if none)."""
        from training.registry import load_champion

        model, info = load_champion(settings, name=TABULAR_MODEL_NAME)
        return cls(
            model=model,
            version=str(info.version),
            routing=load_routing(settings.routing_file),
            audit=AuditLog(settings.audit_url()),
            lang=lang or settings.language,
        )

    def features(self, table: TabularData, source: str = "the table") -> pd.DataFrame:
        """The columns as the champion learnt them (:func:`training.tabular.model_inputs`)."""
        return model_inputs(self.model, table, source, f"tabular champion v{self.version}")

    def score_table(
        self, table: TabularData, lang: Lang | None = None, source: str = "the table"
    ) -> pd.DataFrame:
        """Every row scored, reasoned, routed and audited; one row per lead, in table order.

        Columns: ``lead_id``, ``probability``, ``score``, ``grade`` (empty without consent),
        ``action``, ``team``, ``track``, ``why``, ``reasons`` (one text), ``reason_k_feature``
        / ``_contribution`` / ``_text`` for each reason slot, ``quality_flags`` (category
        values the model never saw), ``consent_profiling``, ``model_version``.
        """
        records, consent = self.score_records(table, lang, source)
        return scored_frame(records, REASON_SLOTS, consent)

    def score_rows(
        self, rows: list[dict[str, Any]], lang: Lang | None = None, request_id: str | None = None
    ) -> list[dict]:
        """Leads sent as JSON objects (the HTTP service's ``/score_rows``): read as the
        champion's training read its table (:func:`training.tabular.read_rows`), then scored
        and audited as :meth:`score_table` does. One answer per row, in order."""
        table = read_rows(rows, self.model)
        records, consent = self.score_records(table, lang, "rows", request_id)
        return [
            {
                "lead_id": r["lead_id"],
                "probability": r["probability"],
                "score": r["score"],
                "grade": r["grade"],
                "route": r["route"],
                "reasons": r["reasons"],
                "quality_flags": r["quality_flags"],
                "consent_profiling": bool(allowed),
                "model": {"name": r["model_name"], "version": r["model_version"]},
                "scored_at": r["scored_at"].isoformat(),
                "request_id": r["request_id"],
            }
            for r, allowed in zip(records, consent, strict=True)
        ]

    def score_records(
        self, table: TabularData, lang: Lang | None, source: str, request_id: str | None = None
    ) -> tuple[list[dict], np.ndarray]:
        """The audit records of every row (written before they are returned) and consent."""
        lang = lang or self.lang
        model = self.model
        features = self.features(table, source)
        n = len(features)
        consent = (
            table.frame[CONSENT].to_numpy(dtype=bool)
            if CONSENT in table.frame.columns
            else np.ones(n, dtype=bool)
        )
        probability = np.full(n, np.nan)
        picked = np.full((n, REASON_SLOTS), -1, dtype=np.intp)
        totals = np.zeros((n, REASON_SLOTS))
        rows = np.flatnonzero(consent)
        if len(rows):
            matrix = model.encode(features.iloc[rows])
            raw = model.predict_raw(matrix)
            probability[rows] = model.calibrator.transform(raw)
            contributions = model.contributions(matrix)
            check_additivity(contributions, raw)
            found, summed = top_reasons(
                contributions[:, : len(model.columns)],
                ReasonGroups.of(tuple(model.columns), registry=False),
            )
            picked[rows, : found.shape[1]] = found
            totals[rows, : found.shape[1]] = summed
        scores = model.score(np.nan_to_num(probability))
        grades = np.where(
            consent,
            grades_of(scores, self.routing.cutoffs(model.thresholds)),
            None,
        )
        values = features[model.columns].astype(object).where(features[model.columns].notna(), None)
        unseen = unseen_values(features, model, lang)
        far = far_values(features, model, lang)
        inputs = values.to_dict("records")
        fields = table.frame.astype(object).where(table.frame.notna(), None).to_dict("records")
        lead_ids = table.frame["lead_id"].astype(str).tolist()
        request_id, scored_at = request_id or uuid.uuid4().hex, now_utc()
        records = []
        for i, lead_id in enumerate(lead_ids):
            reasons = [
                {
                    "feature": model.columns[c],
                    "contribution": round(float(t), 6),
                    "text": self.column_text(model.columns[c], inputs[i][model.columns[c]], lang),
                }
                for c, t in zip(picked[i], totals[i], strict=True)
                if c >= 0
            ]
            grade = None if grades[i] is None else str(grades[i])
            route = route_lead(fields[i], grade, [], self.routing, (), lang)  # any field
            allowed = bool(consent[i])
            if far[i] and allowed:  # a score on an implausible value is a person's call
                why = FAR_REVIEW.get(lang, FAR_REVIEW["en"]).format(flags="; ".join(far[i]))
                route = Route(action="review", team=route.team, track=None, why=why)
            records.append(
                {
                    "request_id": request_id,
                    "lead_id": lead_id,
                    "scored_at": scored_at,
                    "model_name": self.name,
                    "model_version": self.version,
                    "probability": round(float(probability[i]), 6) if allowed else None,
                    "score": int(scores[i]) if allowed else None,
                    "grade": grade,
                    "action": route.action,
                    "route": route.model_dump(),
                    "reasons": reasons,
                    "quality_flags": unseen[i] + far[i] if allowed else [],
                    "features": (
                        {k: json_value(v) for k, v in inputs[i].items()} if allowed else {}
                    ),
                    "handover_note": "",
                }
            )
        self.audit.write(records)
        return records, consent


UNSEEN_TEXT = {
    "en": "{column}: {value!r} was not seen in training and is scored as not given",
    "de": "{column}: {value!r} kam im Training nicht vor und zählt als nicht angegeben",
}


def unseen_values(features: pd.DataFrame, model: LeadModel, lang: Lang) -> list[list[str]]:
    """Per row, the category values the model never saw ("true" where it learnt "Yes"): the
    encoding scores them as missing, which the lead's reader should know."""
    flags: list[list[str]] = [[] for _ in range(len(features))]
    template = UNSEEN_TEXT.get(lang, UNSEEN_TEXT["en"])
    for column, known in model.categories.items():
        values = features[column]
        for i in np.flatnonzero((values.notna() & ~values.isin(known)).to_numpy()):
            flags[i].append(template.format(column=column, value=value_text(values.iloc[i])))
    return flags


# A number this far outside the values training saw (a whole training range beyond either end)
# is more likely a typo or a placeholder than a lead: 1e308 visits scored 100 and went to sales.
FAR_TEXT = {
    "en": "{column}: {value} is far outside what training saw ({low} to {high}); check it",
    "de": "{column}: {value} liegt weit außerhalb der Werte im Training ({low} bis {high}); "
    "bitte prüfen",
}
FAR_REVIEW = {
    "en": "a value needs a person before the score counts: {flags}",
    "de": "ein Wert braucht einen Menschen, bevor der Score zählt: {flags}",
}


def far_values(features: pd.DataFrame, model: LeadModel, lang: Lang) -> list[list[str]]:
    """Per row, the numbers far outside the range each column had in training
    (``model.params["ranges"]``, kept at training; none for a model trained before)."""
    flags: list[list[str]] = [[] for _ in range(len(features))]
    template = FAR_TEXT.get(lang, FAR_TEXT["en"])
    for column, (low, high) in model.params.get("ranges", {}).items():
        if column not in features.columns:
            continue
        values = pd.to_numeric(features[column], errors="coerce").to_numpy(dtype=float)
        width = max(high - low, 1.0)
        with np.errstate(invalid="ignore"):
            outside = (values < low - width) | (values > high + width)
        for i in np.flatnonzero(outside):
            flags[i].append(
                template.format(
                    column=column,
                    value=value_text(float(values[i]), lang),
                    low=value_text(float(low), lang),
                    high=value_text(float(high), lang),
                )
            )
    return flags


def scored_frame(records: list[dict], slots: int, consent: np.ndarray) -> pd.DataFrame:
    """The audit records as the file ``leadscore score`` writes (reasons also as one text).

    Every column has its type even when no row fills it, so files from different runs share
    one schema."""

    def text(values: list[object]) -> pd.api.extensions.ExtensionArray:
        return pd.array(values, dtype="string")

    out = pd.DataFrame(
        {
            "lead_id": text([r["lead_id"] for r in records]),
            "probability": pd.array([r["probability"] for r in records], dtype="Float64"),
            "score": pd.array([r["score"] for r in records], dtype="Int64"),
            "grade": text([r["grade"] for r in records]),
            "action": text([r["action"] for r in records]),
            "team": text([r["route"]["team"] for r in records]),
            "track": text([r["route"]["track"] for r in records]),
            "why": text([r["route"]["why"] for r in records]),
            "reasons": text(
                [
                    " | ".join(f"{x['text']} ({x['contribution']:+.2f})" for x in r["reasons"])
                    for r in records
                ]
            ),
        }
    )
    for k in range(slots):
        picked = [r["reasons"][k] if k < len(r["reasons"]) else None for r in records]
        out[f"reason_{k + 1}_feature"] = text([p and p["feature"] for p in picked])
        out[f"reason_{k + 1}_contribution"] = pd.array(
            [p and p["contribution"] for p in picked], dtype="Float64"
        )
        out[f"reason_{k + 1}_text"] = text([p and p["text"] for p in picked])
    out["quality_flags"] = text([" | ".join(r["quality_flags"]) or None for r in records])
    out[CONSENT] = pd.array(consent, dtype="boolean")
    out["model_version"] = text([r["model_version"] for r in records])
    return out
