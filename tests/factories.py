"""Tiny CRMs written as Python literals, typed through the real loader path."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from features.contract import CRMTables
from features.loaders import check_tables


def make_crm(
    leads: Sequence[dict[str, Any]],
    activities: Sequence[dict[str, Any]] = (),
    outcomes: Sequence[dict[str, Any]] = (),
) -> CRMTables:
    raw = {
        "leads": pd.DataFrame(list(leads)),
        "activities": pd.DataFrame(list(activities), columns=_columns(activities, "activities")),
        "outcomes": pd.DataFrame(list(outcomes), columns=_columns(outcomes, "outcomes")),
    }
    typed, problems = check_tables(raw)
    assert not problems, [str(p) for p in problems]
    return CRMTables(typed["leads"], typed["activities"], typed["outcomes"])


def _columns(records: Sequence[dict[str, Any]], table: str) -> list[str] | None:
    if records:
        return None
    return {
        "activities": ["lead_id", "occurred_at", "activity_type"],
        "outcomes": ["lead_id", "closed_at", "won"],
    }[table]
