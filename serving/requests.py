"""What the CRM sends: pydantic request models, and their conversion into contract tables.

A bad request is answered 4xx naming the JSON field (``lead.created_at``,
``activities[3].occurred_at``); the conversion goes through the same contract checks as a CSV
export, so a value that would not load from a file does not load from JSON either.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from features.contract import CRMTables
from features.loaders import Problem, check_tables

Text = Annotated[str, StringConstraints(max_length=500)]
MAX_ACTIVITIES = 5000
MAX_BATCH = 1000


class LeadIn(BaseModel):
    """A lead as the CRM holds it; extra fields are kept (declared extra features)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "example": {
                "lead_id": "L-1001",
                "created_at": "2026-10-02T09:30:00",
                "first_name": "Anna",
                "last_name": "Müller",
                "email": "anna.mueller@acme.de",
                "company": "ACME GmbH",
                "job_title": "Head of Marketing",
                "country": "Germany",
                "city": "Hamburg",
                "employees": 120,
                "source": "webinar",
            }
        },
    )

    lead_id: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    created_at: datetime
    email: Text | None = None
    first_name: Text | None = None
    last_name: Text | None = None
    phone: Text | None = None
    company: Text | None = None
    job_title: Text | None = None
    industry: Text | None = None
    employees: int | None = Field(None, ge=0, le=10_000_000)
    country: Text | None = None
    city: Text | None = None
    source: Text | None = None
    team: Text | None = None
    consent_profiling: bool = True


class ActivityIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "occurred_at": "2026-11-20T14:03:00",
                "activity_type": "whitepaper_download",
                "asset": "Whitepaper: Marketing Automation Guide",
                "topic": "marketing_automation",
            }
        },
    )

    occurred_at: datetime
    activity_type: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    asset: Text | None = None
    topic: Text | None = None
    channel: Text | None = None
    campaign: Text | None = None


class LeadRequest(BaseModel):
    """One lead with its history, or the id of a lead in the store."""

    lead: LeadIn | None = None
    activities: list[ActivityIn] = Field(default_factory=list, max_length=MAX_ACTIVITIES)
    lead_id: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None

    @model_validator(mode="after")
    def _one_of(self) -> LeadRequest:
        if (self.lead is None) == (self.lead_id is None):
            raise ValueError("give either 'lead' (with 'activities') or 'lead_id'")
        return self


def _naive_utc(moment: datetime) -> str:
    ts = pd.Timestamp(moment)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts.isoformat()


def request_tables(items: list[LeadRequest], prefix: str = "") -> tuple[CRMTables, list[str]]:
    """Contract tables from inline leads; problems come back as JSON paths, not table rows."""
    leads: list[dict[str, Any]] = []
    activities: list[dict[str, Any]] = []
    origin: list[str] = []
    for i, item in enumerate(items):
        assert item.lead is not None
        where = f"{prefix}[{i}]." if prefix else ""
        lead = item.lead.model_dump()
        lead["created_at"] = _naive_utc(item.lead.created_at)
        leads.append(lead)
        for j, activity in enumerate(item.activities):
            row = activity.model_dump()
            row["occurred_at"] = _naive_utc(activity.occurred_at)
            row["lead_id"] = item.lead.lead_id
            activities.append(row)
            origin.append(f"{where}activities[{j}]")
    raw = {
        "leads": pd.DataFrame(leads),
        "activities": pd.DataFrame(
            activities, columns=None if activities else ["lead_id", "occurred_at", "activity_type"]
        ),
        "outcomes": None,
    }
    typed, problems = check_tables(raw)
    messages = [_json_path(p, prefix, origin) for p in problems]
    return CRMTables(typed["leads"], typed["activities"], typed["outcomes"]), messages


def _json_path(problem: Problem, prefix: str, origin: list[str]) -> str:
    if problem.table == "activities" and problem.row is not None:
        where = origin[problem.row - 1]
    elif problem.table == "leads" and problem.row is not None:
        where = f"{prefix}[{problem.row - 1}].lead" if prefix else "lead"
    else:
        where = problem.table
    column = f".{problem.column}" if problem.column else ""
    return f"{where}{column}: {problem.message}"


Language = Literal["en", "de"]
