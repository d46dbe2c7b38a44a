"""Fit (firmographic) features: who the lead is, read from the leads table.

Job titles are free text in English and German; seniority and function are read with keyword
rules, which are easy to extend and to explain to sales ("Seniority fits: Geschäftsführerin").
Parsing runs once per distinct title, so a million leads cost as much as their distinct titles.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
import pandas as pd

from features.behaviour import value_codes
from features.contract import to_numeric
from features.quality import country_code, email_domain, is_freemail

# First match wins, most senior first; German titles with and without gender endings, and as
# the second half of a compound ("Marketingleiterin", "Vertriebsmanager/in"). An assistant's
# title names the boss ("Assistentin der Geschäftsführung"), so assistants are read first.
SENIORITY_RULES: tuple[tuple[str, str], ...] = (
    ("junior", r"\b(assistant|assistenz\w*|assistent\w*)\b"),
    (
        "c_level",
        r"\b(ceo|cmo|cto|cfo|coo|cro|cio|chief|founder|co-founder|gründer\w*|owner|inhaber\w*|"
        r"geschäftsführ\w*|managing director|president|vorst[aä]nd\w*|partner)\b",
    ),
    ("manager", r"\b(teamleit\w*|teamlead\w*|team lead)\b"),
    (
        "head",
        r"\b(head|vp|vice president|director|direktor\w*|(?!begleit)\w*leit(?:er\w*|ung)|"
        r"prokurist\w*)\b",
    ),
    ("manager", r"\b(\w*manager\w*|lead|senior)\b"),
    (
        "junior",
        r"\b(werkstudent\w*|student\w*|praktikant\w*|intern|internship|trainee|azubi|"
        r"auszubildende\w*|assistant|assistenz|assistent\w*|junior)\b",
    ),
    (
        "specialist",
        r"\b(specialist|spezialist\w*|referent\w*|consultant|berater\w*|analyst\w*|"
        r"coordinator|koordinator\w*|executive|expert\w*|engineer|\w*entwickler\w*|developer|"
        r"sachbearbeiter\w*|mitarbeiter\w*|officer|representative)\b",
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
    return pd.Series(_size_bands(_numbers(employees)), index=employees.index, dtype=object)


def _size_bands(values: np.ndarray) -> np.ndarray:
    bands = np.full(len(values), pd.NA, dtype=object)
    for lower, name in SIZE_BANDS:
        bands[values >= lower] = name
    return bands


def _numbers(values: pd.Series) -> np.ndarray:
    """The column as float (NaN where missing or not a number)."""
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        return values.to_numpy(dtype=float, na_value=np.nan)
    return to_numeric(values).astype(float).to_numpy()


def region(code: str | None) -> str:
    if not isinstance(code, str):
        return "unknown"
    if code in DACH:
        return "DACH"
    return "Europe" if code in EUROPE else "other"


def _as_objects(values: pd.Series) -> np.ndarray:
    """``values.astype(object)`` as an array; pyarrow-backed columns the fast way."""
    array = values.array
    if isinstance(array, pd.arrays.ArrowExtensionArray) and isinstance(
        values.dtype, pd.StringDtype
    ):
        items = array.__arrow_array__().to_pylist()
        if array.isna().any():
            items = [values.dtype.na_value if item is None else item for item in items]
        return _objects(items)
    return values.astype(object).to_numpy()


def _objects(items: list) -> np.ndarray:
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


def _per_distinct(values: pd.Series, function) -> np.ndarray:
    """``function`` once per distinct value; missing values get ``function(None)``."""
    return _mapped(value_codes(values), function)


def _mapped(coded: tuple[np.ndarray, list], function) -> np.ndarray:
    codes, uniques = coded
    return _objects([function(u) for u in uniques] + [function(None)])[codes]  # -1: missing


def _freemail(email: str | None) -> float:
    return np.nan if email is None else float(is_freemail(email))


def fit_columns(leads: pd.DataFrame) -> dict[str, np.ndarray]:
    """The firmographic features of each lead as arrays, in registry order, and email_domain."""
    n = len(leads)

    def text(column: str) -> pd.Series:
        if column in leads:
            return leads[column]
        return pd.Series(np.full(n, pd.NA, dtype=object), index=leads.index, dtype=object)

    codes = _per_distinct(text("country"), country_code)
    emails = value_codes(text("email"))
    titles = value_codes(text("job_title"))
    employees = _numbers(text("employees"))
    return {
        "industry": _as_objects(text("industry")),
        "employees": employees,
        "size_band": _size_bands(employees),
        "country_code": codes,
        "region": _objects([region(c) for c in codes]),
        "seniority": _mapped(titles, seniority),
        "job_function": _mapped(titles, job_function),
        "freemail": _mapped(emails, _freemail).astype(float),
        "source": _as_objects(text("source")),
        "email_domain": _mapped(emails, email_domain),
    }


def fit_features(leads: pd.DataFrame) -> pd.DataFrame:
    """One row per lead (same index), the firmographic features in registry order."""
    return pd.DataFrame(fit_columns(leads), index=leads.index)
