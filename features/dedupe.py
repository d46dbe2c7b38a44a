"""De-duplication: one person, one contact card (docs/domain.md, "One picture of each contact").

A CRM holds the same person several times: the webinar form, the trade-fair scan and the
whitepaper download each created a record. Two records are the same person when

- their email addresses are equal (trimmed, lower case, googlemail.com read as gmail.com) and,
  for a role address that a whole office shares (info@, kontakt@, sales@), so are their names, or
- their full names are equal (accents, case and spacing ignored) and so are their companies
  (legal form and punctuation ignored, "ACME GmbH" = "Acme"), the company not empty.

The rules chain: A and B share an email, B and C name and company, so A, B and C are one person.
A person's events are pooled for scoring, so a wrong merge scores two people as one: Anna Weber
and Jonas Koch both writing from info@weber-bau.de stay two people, and a record without a name
proves nothing through a role address.
The person is named after the record created first, so the id stays put as records arrive.
Placeholders ("Test Test", test@test.de, company "n/a") and random typing are shared by strangers
and never count as evidence.

Nothing is deleted; `duplicate_groups` only says which records belong together.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pandas as pd

from features.quality import (
    fold_text,
    is_keyboard_mash,
    is_keyboard_mash_name,
    is_placeholder_company,
    is_placeholder_email,
    is_placeholder_name,
    normalise_company,
)

__all__ = [
    "company_key",
    "duplicate_groups",
    "duplicate_report",
    "email_key",
    "is_role_email",
    "name_key",
]

_EMAIL_SHAPE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_APOSTROPHES = re.compile(r"['’`´]")
_GERMAN_SPELLING = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue"})


# Mailboxes of a team or a whole company, read by whoever is on duty.
_ROLE_LOCAL_PARTS = frozenset(
    re.split(
        r"[\s,]+",
        """
        info, infos, information, kontakt, contact, contacts, hello, hallo, hi, mail, email,
        e-mail, post, office, buero, büro, sekretariat, zentrale, empfang, reception, welcome,
        team, sales, vertrieb, verkauf, marketing, service, kundenservice, customerservice,
        support, help, hilfe, anfrage, anfragen, enquiries, inquiries, einkauf, purchasing,
        procurement, order, orders, bestellung, auftrag, buchhaltung, accounting, billing,
        rechnung, invoice, finance, hr, personal, jobs, karriere, career, careers, bewerbung,
        presse, press, media, admin, administrator, webmaster, postmaster, it, verwaltung,
        geschaeftsfuehrung, management
        """.strip(),
    )
)


def email_key(email: object) -> str | None:
    """The comparable form of an email address; None where it cannot identify anybody."""
    if not isinstance(email, str):
        return None
    key = email.strip().lower()
    if key.endswith("@googlemail.com"):
        key = key.removesuffix("googlemail.com") + "gmail.com"
    if not _EMAIL_SHAPE.fullmatch(key) or is_placeholder_email(key):
        return None
    return key


def is_role_email(email: object) -> bool:
    """True for a mailbox a team shares (info@, kontakt@, sales@, office@): the address says
    which company wrote, not which person. Read from an `email_key`."""
    if not isinstance(email, str):
        return False
    local = email.rpartition("@")[0].split("+", 1)[0]
    return local.strip(" .-_0123456789") in _ROLE_LOCAL_PARTS


def name_key(first_name: object, last_name: object, *, german: bool = False) -> str | None:
    """The comparable full name; None where it says nothing about who somebody is: no name, a
    placeholder ("Test Test", "n/a") or random typing ("asdf qwer").

    "O'Neill" and "ONeill" are one spelling, as are "Jean-Luc" and "Jean Luc". Plain keys drop
    accents ("Müller" = "Muller"); German keys spell umlauts out ("Müller" = "Mueller"). Records
    match on either, so no rule is needed that would also make "Michael" equal "Michal".
    """
    first = first_name if isinstance(first_name, str) else ""
    last = last_name if isinstance(last_name, str) else ""
    if is_placeholder_name(first or None, last or None):
        return None
    if is_keyboard_mash_name(first or None, last or None):
        return None
    full = _APOSTROPHES.sub("", f"{first} {last}")
    return fold_text(full.casefold().translate(_GERMAN_SPELLING) if german else full) or None


def company_key(company: object, *, german: bool = False) -> str | None:
    """The comparable company; None where it names no company ("", "n/a", "-", "asdf").

    `german` as for `name_key`: "Müller & Söhne GmbH" = "Mueller Soehne".
    """
    if not isinstance(company, str) or not company.strip():
        return None
    if is_placeholder_company(company) or is_keyboard_mash(company, person=False):
        return None
    return normalise_company(company.casefold().translate(_GERMAN_SPELLING) if german else company)


_SMALL = 64  # fewer rows than this (a request's few records): plain Python, no vectorised setup


def _arrow_strings(values: pd.Series) -> bool:
    return isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow"


def _text(leads: pd.DataFrame, column: str) -> np.ndarray:
    """The column as objects: str where given, NA (which `pd.factorize` skips) where not."""
    if column not in leads.columns:
        return np.full(len(leads), None, dtype=object)
    values = leads[column]
    if len(values) < _SMALL and _arrow_strings(values):
        return _objects(values.array.__arrow_array__().to_pylist())  # None where missing
    return values.astype("string").to_numpy(dtype=object)


def _objects(items: list) -> np.ndarray:
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


def _factorize(values: np.ndarray) -> tuple[np.ndarray, list]:
    """`pd.factorize` (codes in order of first appearance, -1 for missing, and the distinct
    values); a few values are coded in a dict, to the same codes."""
    if len(values) >= _SMALL:
        codes, uniques = pd.factorize(values)
        return codes, list(uniques)
    where: dict[object, int] = {}
    codes = [-1 if _missing(value) else where.setdefault(value, len(where)) for value in values]
    return np.array(codes, dtype=np.intp), list(where)


def _missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


def _codes(values: np.ndarray, key: Callable[[str], str | None]) -> np.ndarray:
    """Integer code of each value's key (-1 where it has none); the key is computed once per
    distinct value, and a million leads have far fewer distinct names and companies."""
    codes, uniques = _factorize(values)
    key_codes, _ = _factorize(_objects([key(value) for value in uniques] + [None]))
    return key_codes[codes]  # code -1 (missing value) picks the None at the end


def _name_codes(first: np.ndarray, last: np.ndarray, german: bool) -> np.ndarray:
    """Code of the full-name key per row, computed once per distinct (first, last) pair."""
    first_codes, first_values = _factorize(first)
    last_codes, last_values = _factorize(last)
    width = len(last_values) + 1
    pair_codes, pairs = _factorize(first_codes.astype(np.int64) * width + last_codes + 1)
    keys = []
    for pair in pairs:
        i, j = divmod(int(pair), width)  # i == -1: no first name; j == 0: no last name
        first_name = first_values[i] if i >= 0 else None
        keys.append(name_key(first_name, last_values[j - 1] if j else None, german=german))
    key_codes, _ = _factorize(_objects(keys))
    return key_codes[pair_codes]


def _pair_codes(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Code per (left, right) pair; -1 where either is missing."""
    present = (left >= 0) & (right >= 0)
    combined = np.where(present, left.astype(np.int64) * (right.max(initial=0) + 1) + right, -1)
    codes, _ = _factorize(combined)
    return np.where(present, codes, -1)


def _email_codes(emails: np.ndarray, role: bool) -> np.ndarray:
    """Codes of the personal addresses, or (`role`) of the role addresses; -1 for the others."""

    def key(email: str) -> str | None:
        found = email_key(email)
        return found if found is not None and is_role_email(found) == role else None

    return _codes(emails, key)


def _match_keys(leads: pd.DataFrame) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per rule, a code per row (-1 where the rule cannot match the row): the email rules
    (personal address; role address with the name in plain or German spelling) and the
    name+company rules in plain and German spelling."""
    first, last, company = (_text(leads, c) for c in ("first_name", "last_name", "company"))
    emails = _text(leads, "email")
    names = _name_codes(first, last, german=False)
    german_names = _name_codes(first, last, german=True)
    role = _email_codes(emails, role=True)
    email_rules = [
        _email_codes(emails, role=False),
        _pair_codes(role, names),
        _pair_codes(role, german_names),
    ]
    name_rules = [
        _pair_codes(names, _codes(company, company_key)),
        _pair_codes(german_names, _codes(company, lambda value: company_key(value, german=True))),
    ]
    return email_rules, name_rules


def _creation_order(leads: pd.DataFrame) -> np.ndarray:
    """Row positions by (created_at, lead_id), missing dates last: the first names the person."""
    if "created_at" in leads.columns:
        created = leads["created_at"]
        if not pd.api.types.is_datetime64_any_dtype(created):  # an untyped export: best effort
            created = pd.to_datetime(created, errors="coerce", utc=True, format="mixed")
        if created.dt.tz is not None:
            created = created.dt.tz_convert(None)  # to UTC, naive
        ticks = created.to_numpy(dtype="int64", na_value=np.iinfo(np.int64).max)
    else:
        ticks = np.zeros(len(leads), dtype=np.int64)
    ids = leads["lead_id"]
    if len(ids) < _SMALL and _arrow_strings(ids):
        lead_ids = np.array([v or "" for v in ids.array.__arrow_array__().to_pylist()], dtype=str)
    else:
        lead_ids = ids.astype("string").fillna("").to_numpy(dtype=str)
    return np.lexsort((lead_ids, ticks))


def _components(n: int, *groupings: np.ndarray) -> np.ndarray:
    """For each row, the smallest row it is linked to through any chain of shared groups.

    Union-find done vectorised: every row takes the smallest label in each of its groups, then
    follows its label's label (pointer jumping), until nothing changes. Rows are in creation
    order, so the smallest label is the earliest record.
    """
    members = [(np.flatnonzero(codes >= 0), codes[codes >= 0]) for codes in groupings]
    labels = np.arange(n)
    while True:
        updated = labels
        for rows, codes in members:
            if len(rows) == 0:
                continue
            smallest = np.full(codes.max() + 1, n)
            np.minimum.at(smallest, codes, updated[rows])
            updated = updated.copy()
            updated[rows] = smallest[codes]
            updated = updated[updated]
        if np.array_equal(updated, labels):
            return labels
        labels = updated


def person_rows(leads: pd.DataFrame) -> np.ndarray:
    """Per row, the row of the record its person is named after: `duplicate_groups` as row
    positions, for callers that need no Series."""
    order = _creation_order(leads)
    email_rules, name_rules = _match_keys(leads)
    labels = _components(len(leads), *(codes[order] for codes in email_rules + name_rules))
    rows = np.empty(len(leads), dtype=np.intp)
    rows[order] = order[labels]
    return rows


def duplicate_groups(leads: pd.DataFrame) -> pd.Series:
    """person_id per lead (index lead_id, input order): the lead_id of the earliest-created
    record of its group (ties by lead_id). A lead with no duplicate is its own person."""
    person = leads["lead_id"].to_numpy()[person_rows(leads)]
    return pd.Series(
        person,
        index=pd.Index(leads["lead_id"], name="lead_id"),
        name="person_id",
        dtype=leads["lead_id"].dtype,
    )


def _shared(codes: np.ndarray) -> np.ndarray:
    """True where another row has the same code."""
    present = codes >= 0
    counts = np.bincount(codes[present], minlength=codes.max(initial=0) + 1)
    shared = np.zeros(len(codes), dtype=bool)
    shared[present] = counts[codes[present]] > 1
    return shared


def _aligned(groups: pd.Series, leads: pd.DataFrame) -> np.ndarray:
    """person_id per row of `leads`, whatever order `groups` comes in."""
    if groups.index.is_unique:
        return groups.reindex(pd.Index(leads["lead_id"])).to_numpy()
    return groups.to_numpy()


def duplicate_report(leads: pd.DataFrame, groups: pd.Series) -> pd.DataFrame:
    """One row per person with more than one record, for a person to review the merges:
    person_id, lead_ids (earliest first), n_records and matched_on ("email", "name+company" or
    "email, name+company"). Largest groups first."""
    order = _creation_order(leads)
    email_rules, name_rules = _match_keys(leads)
    frame = pd.DataFrame(
        {
            "person_id": _aligned(groups, leads)[order],
            "lead_id": leads["lead_id"].to_numpy()[order],
            "email": np.logical_or.reduce([_shared(codes) for codes in email_rules])[order],
            "name_company": np.logical_or.reduce([_shared(codes) for codes in name_rules])[order],
        }
    )
    frame = frame[frame.duplicated("person_id", keep=False)]
    report = frame.groupby("person_id", sort=False).agg(
        lead_ids=("lead_id", list),
        n_records=("lead_id", "size"),
        email=("email", "any"),
        name_company=("name_company", "any"),
    )
    rules = np.array(["", "name+company", "email", "email, name+company"], dtype=object)
    report["matched_on"] = rules[report["email"] * 2 + report["name_company"]]
    report = report.drop(columns=["email", "name_company"]).reset_index()
    return report.sort_values(
        ["n_records", "person_id"], ascending=[False, True], ignore_index=True
    )
