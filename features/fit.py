"""Fit (firmographic) features: who the lead is, read from the leads table.

Job titles are free text in English and German; seniority and function are read with keyword
rules, which are easy to extend and to explain to sales ("Decision maker: Geschäftsführerin").
Parsing runs once per distinct title, so a million leads cost as much as their distinct titles.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
import pandas as pd

# First match wins, most senior first; German titles with and without gender endings.
SENIORITY_RULES: tuple[tuple[str, str], ...] = (
    (
        "c_level",
        r"\b(ceo|cmo|cto|cfo|coo|cro|cio|chief|founder|co-founder|gründer\w*|owner|inhaber\w*|"
        r"geschäftsführ\w*|managing director|president|vorstand\w*|partner)\b",
    ),
    (
        "head",
        r"\b(head|vp|vice president|director|direktor\w*|leiter\w*|leitung|bereichsleit\w*|"
        r"abteilungsleit\w*|prokurist\w*)\b",
    ),
    ("manager", r"\b(manager\w*|teamlead\w*|team lead|lead|teamleit\w*|senior)\b"),
    (
        "junior",
        r"\b(werkstudent\w*|student\w*|praktikant\w*|intern|internship|trainee|azubi|"
        r"auszubildende\w*|assistant|assistenz|assistent\w*|junior)\b",
    ),
    (
        "specialist",
        r"\b(specialist|spezialist\w*|referent\w*|consultant|berater\w*|analyst\w*|"
        r"coordinator|koordinator\w*|executive|expert\w*|engineer|entwickler\w*|developer|"
        r"sachbearbeiter\w*|mitarbeiter\w*|officer)\b",
    ),
)
FUNCTION_RULES: tuple[tuple[str, str], ...] = (
    ("marketing", r"(marketing|cmo|brand|kommunikation|communication|content|seo|growth|pr\b)"),
    ("sales", r"(sales|vertrieb|verkauf|account|business development|cro\b|key account)"),
    ("it", r"\b(it|cto|cio|informatik|software|developer|entwickler|engineer|digital|data)\b"),
    (
        "management",
        r"(ceo|geschäftsführ|managing director|gründer|founder|owner|inhaber|vorstand|president|"
        r"coo\b)",
    ),
    ("finance", r"(finance|finanz|cfo|controlling|buchhaltung|accounting|einkauf|procurement)"),
)
_SENIORITY = [(name, re.compile(rx, re.IGNORECASE)) for name, rx in SENIORITY_RULES]
_FUNCTION = [(name, re.compile(rx, re.IGNORECASE)) for name, rx in FUNCTION_RULES]

SIZE_BANDS = ((0, "1-9"), (10, "10-49"), (50, "50-249"), (250, "250-999"), (1000, "1000+"))
DACH = frozenset({"DE", "AT", "CH", "LI"})
EUROPE = frozenset(
    [
        "AD",
        "AL",
        "BA",
        "BE",
        "BG",
        "BY",
        "CY",
        "CZ",
        "DK",
        "EE",
        "ES",
        "FI",
        "FO",
        "FR",
        "GB",
        "GI",
        "GR",
        "HR",
        "HU",
        "IE",
        "IS",
        "IT",
        "LT",
        "LU",
        "LV",
        "MC",
        "MD",
        "ME",
        "MK",
        "MT",
        "NL",
        "NO",
        "PL",
        "PT",
        "RO",
        "RS",
        "SE",
        "SI",
        "SK",
        "SM",
        "UA",
        "VA",
        "XK",
    ]
)


@lru_cache(maxsize=100_000)
def seniority(title: str | None) -> str:
    if not isinstance(title, str) or not title.strip():
        return "unknown"
    for name, pattern in _SENIORITY:
        if pattern.search(title):
            return name
    return "other"


@lru_cache(maxsize=100_000)
def job_function(title: str | None) -> str:
    if not isinstance(title, str) or not title.strip():
        return "unknown"
    for name, pattern in _FUNCTION:
        if pattern.search(title):
            return name
    return "other"


def size_band(employees: pd.Series) -> pd.Series:
    values = pd.to_numeric(employees, errors="coerce").astype(float)
    bands = pd.Series(pd.NA, index=employees.index, dtype=object)
    for lower, name in SIZE_BANDS:
        bands[(values >= lower).to_numpy()] = name
    return bands


def region(code: str | None) -> str:
    if not isinstance(code, str):
        return "unknown"
    if code in DACH:
        return "DACH"
    return "Europe" if code in EUROPE else "other"


def _per_distinct(values: pd.Series, function) -> np.ndarray:
    codes, uniques = pd.factorize(values.astype(object), use_na_sentinel=True)
    mapped = np.array([function(u) for u in uniques] + [function(None)], dtype=object)
    return mapped[codes]  # -1 picks the trailing "missing" entry


def fit_features(leads: pd.DataFrame) -> pd.DataFrame:
    """One row per lead (same index), the firmographic features in registry order."""
    from features.quality import country_code, email_domain, is_freemail

    def text(column: str) -> pd.Series:
        if column in leads:
            return leads[column]
        return pd.Series(pd.NA, index=leads.index, dtype=object)

    codes = _per_distinct(text("country"), country_code)
    emails = text("email")
    freemail = _per_distinct(emails, lambda e: None if e is None else bool(is_freemail(e)))
    out = pd.DataFrame(
        {
            "industry": text("industry").astype(object),
            "employees": pd.to_numeric(text("employees"), errors="coerce").astype(float),
            "size_band": size_band(text("employees")),
            "country_code": codes,
            "region": [region(c) for c in codes],
            "seniority": _per_distinct(text("job_title"), seniority),
            "job_function": _per_distinct(text("job_title"), job_function),
            "freemail": pd.array(freemail, dtype="boolean").astype(float),
            "source": text("source").astype(object),
        },
        index=leads.index,
    )
    out["email_domain"] = _per_distinct(emails, email_domain)
    return out
