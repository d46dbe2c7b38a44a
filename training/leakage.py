"""Leakage audit of a one-row-per-lead table: columns a model must not learn from.

A CRM export mixes what was known when the lead came in with what sales wrote down later: the
status, the rep's tags and quality rating, the last logged activity, scores from another tool,
the length of the call that already decided the outcome. Trained on, those columns give
wonderful test numbers and a useless model, and they show up as the "top drivers" in the report.
This module finds them from the data and the column names alone, with no per-dataset list.

Six checks, each a pure function of the frame (no I/O, no fitted state kept):

``too_predictive``
    One column on its own ranks a held-out part of the rows almost perfectly, or some of its
    values decide the label almost surely for a large share of the rows.
``post_outcome``
    The name says the value is recorded during or after the sale (status, stage, tags, quality,
    rating, score/index, last activity, won/lost/closed, duration, reason), or many of its values
    do (``Closed by ...``, ``Lost to ...``, ``Ringing``, ``SMS Sent``), or many of its values
    judge the lead (``Potential Lead``, ``Hot lead``, ``Junk Leads``, ``Sales Qualified Lead``,
    ``MQL``, ``Not interested``): a classification a person makes after contact, whatever the
    column is called (X Education's ``Lead Profile``).
``id_like``
    Unique per row (text or whole numbers), or UUIDs/hashes: it can only memorise rows, and a
    sequence number carries the creation order into the model.
``future_timestamp``
    A date that lies after the lead's own time (the ``time_column``) in more than a few rows.
``period_proxy``
    A number almost fully determined by when the row was recorded (macro indicators, price
    lists); not a leak but a drift risk, so its findings are ``watch``, not ``leak``.
``personal_data``
    Who the lead is rather than what it did: email addresses or phone numbers (by their values),
    a person's names or street address (by the column's name). Refused like a leak: a model
    would score people by surname and keep the values in its files.

Findings of severity ``leak`` are refused by :func:`refuse_flagged` unless allowed by name;
``watch`` findings (near misses, period proxies) are reported only.

Usage::

    report = audit_columns(frame, label="Converted")
    kept, dropped = refuse_flagged(feature_columns, report, allow=["Lead Quality"])

Thresholds (:class:`Thresholds`), and why:

* held-out single-column ROC-AUC >= 0.95 is ``leak``: a full model with every honest field of
  a lead-scoring table typically reaches 0.75-0.90; one field alone at 0.95 means the field
  was written knowing the answer. >= 0.85 is ``watch``.
* a value is *decisive* when >= 98 % of its rows (at least 30, and the 95 % Wilson lower bound
  >= 95 %) have the same label. Decisive values covering >= 5 % of all rows are ``leak``: an honest
  field shifts the odds for a segment, it does not decide them for one lead in twenty. Fewer
  rows than that are ``watch`` (e.g. a lead source almost always converting).
* post-outcome values: >= 5 % of a column's non-empty values match one of the two value
  patterns (sales contact or outcome; a judgement of the lead), counted per pattern. An honest
  field may hold the odd such word; a twentieth of its rows means people write it there. The
  judgement pattern wants a value that ends in a judging word and "lead"/"prospect" (``Lead Add
  Form``, ``Lead Import``, ``Converted to Lead``, ``Web lead``, a catch-all ``Other Leads`` and a
  campaign called ``Hot Leads Campaign`` do not count) or a whole value such as ``MQL`` or
  ``Unqualified``; ``SQL`` alone may be the language, so it counts only beside at least 5 rows
  and 1 % of values that are plainly judgements.
* id-like: >= 95 % distinct among >= 50 non-empty values (text or whole numbers), or >= 90 %
  of values shaped like a UUID or hex hash with >= 50 % distinct.
* future timestamps: >= 1 % of rows with a date after the row's own time.
* personal data: >= 50 % of a text column's values shaped like email addresses or phone numbers
  (with a + or 0, or separators, and 7 digits; not dates or decimals), or a name such as
  ``First Name``, ``Nachname``, ``Street`` over >= 20 different text values (names repeat: a
  share of distinct values would miss them; a yes/no "Name given" has two).
* period proxies: >= 90 % of a number's variance explained by 20 equal-size time blocks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from features.contract import to_numeric

Kind = Literal[
    "too_predictive", "post_outcome", "id_like", "future_timestamp", "period_proxy", "personal_data"
]
Severity = Literal["leak", "watch"]
KINDS: tuple[Kind, ...] = (
    "too_predictive",
    "post_outcome",
    "id_like",
    "future_timestamp",
    "period_proxy",
    "personal_data",
)
# Columns training adds itself (features.mapping / training.tabular); never audited.
SYSTEM_COLUMNS = frozenset({"lead_id", "created_at", "as_of", "slice", "consent_profiling"})

# Normalised names ("Last Notable Activity" -> "last notable activity", "wonDate" -> "won date").
NAME_RULES: tuple[tuple[str, str], ...] = (
    (r"\bstatus\b", "a status is updated as the lead moves through the funnel"),
    (r"\bstage\b", "a pipeline stage is set by sales as the deal progresses"),
    (r"\btags?\b", "tags are notes a sales rep adds after contacting the lead"),
    (r"\bquality\b", "a quality judgement is made by a rep after talking to the lead"),
    (r"\b(rating|rated|grade)\b", "a rating is given by a person, usually after contact"),
    (
        r"\b(score|scores|index)\b",
        "a score or index assigned by another process, often computed from later activity",
    ),
    (
        r"\b(last|latest|recent)\b.*\b(activity|action|event|touch|contact|interaction|"
        r"engagement|visit|call|email|modified|update|updated)\b",
        "the last logged activity can happen after the outcome (it keeps changing)",
    ),
    (
        r"\b(converted|conversion|won|lost|closed|close|closing|churn|churned|outcome|"
        r"disqualified)\b",
        "the name refers to the outcome itself or its date",
    ),
    (r"\bduration\b", "a duration is only known once the call or meeting is over"),
    (r"\breason\b", "a won/lost reason is recorded when the deal closes"),
)
# Values that describe what sales did or what came of it.
VALUE_RULE = re.compile(
    r"\b(closed|won|lost|converted|revert|reverted|enrolled|purchased|churned|ringing|"
    r"switched off|busy|wrong number|hang ?up|hangup|unreachable|not reachable|"
    r"phone conversation|sms sent|call ?back|voicemail)\b"
)
# Values that judge the lead: a person's classification of it after contact, not a fact about it.
# A judging word before "lead(s)"/"prospect(s)", or a whole value that is a qualification state.
LEAD_JUDGEMENT_RULE = re.compile(
    r"\b((very|highly|not|less|least|most) )?"
    r"(potential|promising|hot|warm|lukewarm|cold|dead|junk|spam|fake|bogus|"
    r"good|bad|poor|strong|weak|(sales |marketing )?(un|dis|non|not |pre )?qualified|"
    r"sales accepted|(high|medium|low) (quality|potential|priority|intent|value)) "
    r"(leads?|prospects?)$"
    r"|^((mql|sal|sql)s?|(sales |marketing )?(un|dis|non|not |pre )?qualified|sales accepted|"
    r"(not |un)?interested|no interest)$"
)
# Whole values the judgement rule matches that can also be a plain fact ("SQL" the language,
# "Interested" ticked by the lead in a form): they count only beside at least 5 rows and 1 % of
# values that are plainly judgements (a rep's "Hot lead", "MQL", "Junk Lead").
AMBIGUOUS_JUDGEMENTS = frozenset(
    {"sql", "sqls", "interested", "not interested", "uninterested", "no interest"}
)
AMBIGUOUS_SUPPORT_ROWS = 5
AMBIGUOUS_SUPPORT_SHARE = 0.01
UUID_OR_HASH = re.compile(
    r"^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{16,64})$"
)
# Who a person is, not what a lead does: names, contact details, a street address.
PERSON_NAME_RULE = re.compile(
    r"^(names?|vorname|nachname|surname|forename|firstname|lastname|fullname)$"
    r"|\b(first|last|given|family|full|middle|sur|fore|contact|person|lead|customer) ?names?\b"
)
ADDRESS_RULE = re.compile(
    r"\b(street|strasse|stra(ss|ß)e|anschrift|house number|hausnummer)\b"
    r"|^(?!.*\b(ip|web|url|mac|mail|email|e mail|wallet)\b).*\b(address|addr|adresse)\b"
)
EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", re.IGNORECASE)
# "+49 30 1234567", "0049 30 ...", "030/1234567", "(030) 1234567", "03012345678"; a plain
# run of digits only with a leading 0 and then an area code ("00012345" is a padded number)
PHONE_SHAPE = re.compile(r"^(\+|00?[1-9])[\d\s()./-]{5,}$|^\(0?\d{1,5}\)\s?\d[\d\s/-]{4,}$")
NOT_PHONE_SHAPE = re.compile(
    r"^[+-]?\d*[.,]\d+$"  # a decimal number
    r"|^\d{1,4}[-./]\d{1,2}[-./]\d{1,4}([ T].*)?$"  # a date, either order, any separator
)
DATE_SHAPE = re.compile(r"^(\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[./]\d{1,2}[./]\d{2,4})([ T].*)?$")


@dataclass(frozen=True)
class Thresholds:
    """The audit's cut-offs; see the module docstring for the reasoning behind each."""

    auc_leak: float = 0.95
    auc_watch: float = 0.85
    decisive_share: float = 0.98
    decisive_lower_bound: float = 0.95
    decisive_min_rows: int = 30
    decisive_coverage: float = 0.05
    value_words_share: float = 0.05
    id_distinct_share: float = 0.95
    id_min_values: int = 50
    personal_share: float = 0.5
    personal_min_values: int = 20
    hash_share: float = 0.9
    hash_distinct_share: float = 0.5
    future_share: float = 0.01
    period_eta2: float = 0.9
    period_blocks: int = 20
    holdout_share: float = 0.3
    bins: int = 20
    smoothing: float = 20.0
    seed: int = 0


@dataclass(frozen=True)
class Finding:
    """One reason not to trust one column, with the numbers behind it."""

    column: str
    kind: Kind
    reason: str
    evidence: dict[str, float | str] = field(default_factory=dict)
    severity: Severity = "leak"


@dataclass
class LeakageReport:
    """All findings of one audit; ``flagged`` are the columns training refuses by default."""

    label: str
    time_column: str | None
    rows: int
    audited: list[str]
    findings: list[Finding]
    single_column_auc: dict[str, float]
    thresholds: Thresholds = field(default_factory=Thresholds)

    @property
    def flagged(self) -> list[str]:
        """Columns with at least one ``leak`` finding, in the order they were audited."""
        leaking = {f.column for f in self.findings if f.severity == "leak"}
        return [c for c in self.audited if c in leaking]

    @property
    def watched(self) -> list[str]:
        """Columns with only ``watch`` findings: reported, not refused."""
        flagged = set(self.flagged)
        watch = {f.column for f in self.findings if f.severity == "watch"}
        return [c for c in self.audited if c in watch and c not in flagged]

    def for_column(self, column: str) -> list[Finding]:
        return [f for f in self.findings if f.column == column]

    def reasons(self, column: str, severity: Severity = "leak") -> str:
        return "; ".join(f.reason for f in self.for_column(column) if f.severity == severity)

    def to_frame(self) -> pd.DataFrame:
        """One row per finding (evidence as ``key=value`` text), for CSV export and tests."""
        rows = [
            {
                **{k: v for k, v in asdict(f).items() if k != "evidence"},
                "evidence": ", ".join(f"{k}={_fmt(v)}" for k, v in f.evidence.items()),
                "single_column_auc": self.single_column_auc.get(f.column, float("nan")),
            }
            for f in self.findings
        ]
        columns = ["column", "kind", "severity", "reason", "evidence", "single_column_auc"]
        return pd.DataFrame(rows, columns=columns)


def _fmt(value: float | str) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


# --------------------------------------------------------------------------- helpers


def normalise_name(name: str) -> str:
    """``"Last Notable Activity"``, ``"last_notable_activity"``, ``"lastNotableActivity"`` alike."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", str(name))
    return " ".join(re.findall(r"[a-z]+|\d+", spaced.lower()))


def _is_numeric(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def as_analysable(values: pd.Series) -> pd.Series:
    """Numbers stay numbers, text that is all numbers becomes numbers, dates become dates."""
    if pd.api.types.is_bool_dtype(values):
        return values.astype("Float64").astype(float)
    if _is_numeric(values):
        return to_numeric(values).astype(float)
    if pd.api.types.is_datetime64_any_dtype(values):
        return values
    text = values.astype(object).where(values.notna(), None)
    text = pd.Series(
        [None if v is None else str(v).strip() or None for v in text], index=values.index
    )
    numbers = to_numeric(text)
    if text.notna().any() and numbers.notna().sum() == text.notna().sum():
        return numbers.astype(float)
    dates = _as_dates(text)
    if dates is not None:
        return dates
    return text


def _as_dates(text: pd.Series) -> pd.Series | None:
    present = text.dropna()
    if present.empty or present.map(lambda v: bool(DATE_SHAPE.match(v))).mean() < 0.9:
        return None
    parsed = pd.to_datetime(text, errors="coerce", format="mixed")
    return parsed if parsed.notna().sum() >= 0.9 * len(present) else None


def _date_numbers(values: pd.Series) -> np.ndarray:
    """Dates as float nanoseconds, NaT as NaN (binning and ordering need numbers)."""
    dates = values.to_numpy("datetime64[ns]")
    numbers = dates.astype("int64").astype(float)
    numbers[np.isnat(dates)] = np.nan
    return numbers


def _binary(values: pd.Series, name: str) -> np.ndarray:
    """0/1 from booleans, numbers or their text; anything else is an error naming the column."""
    words = {"true": 1.0, "false": 0.0, "yes": 1.0, "no": 0.0}
    text = values.astype(object).map(lambda v: words.get(str(v).strip().lower(), v))
    numbers = to_numeric(text)
    if numbers.isna().any() or not set(np.unique(numbers)) <= {0.0, 1.0}:
        raise ValueError(f"label column {name!r} must hold only 0/1, yes/no or true/false")
    return numbers.to_numpy(dtype=float).astype(int)


def _holdout(label: np.ndarray, order: np.ndarray | None, share: float, seed: int) -> np.ndarray:
    """Rows to judge on: the newest ``share`` by time, else a stratified random ``share``."""
    held = np.zeros(len(label), dtype=bool)
    if order is not None:
        ranked = np.argsort(order, kind="stable")
        held[ranked[round(len(label) * (1 - share)) :]] = True
        return held
    rng = np.random.default_rng(seed)
    for value in np.unique(label):
        rows = np.flatnonzero(label == value)
        held[rng.choice(rows, size=round(len(rows) * share), replace=False)] = True
    return held


def _codes(values: pd.Series, train: np.ndarray, bins: int) -> np.ndarray:
    """Bin numbers by training quantiles, categories by value; missing is a code of its own."""
    if pd.api.types.is_datetime64_any_dtype(values):
        values = pd.Series(_date_numbers(values), index=values.index)
    if _is_numeric(values):
        numbers = values.to_numpy(dtype=float)
        known = numbers[train & ~np.isnan(numbers)]
        if known.size == 0:
            return np.where(np.isnan(numbers), -1, 0)
        edges = np.unique(np.quantile(known, np.linspace(0, 1, bins + 1))[1:-1])
        codes = np.searchsorted(edges, numbers, side="right")
        return np.where(np.isnan(numbers), -1, codes)
    codes, _ = pd.factorize(values, use_na_sentinel=True)
    return codes


def single_column_auc(
    values: pd.Series, label: np.ndarray, holdout: np.ndarray, thresholds: Thresholds
) -> float:
    """ROC-AUC on ``holdout`` of the column's smoothed label rate per value or quantile bin.

    The rates are learnt on the other rows only, so a column that merely memorises rows (an id)
    scores about 0.5, and one that decides the label scores near 1.
    """
    train = ~holdout
    if len(np.unique(label[holdout])) < 2 or len(np.unique(label[train])) < 2:
        return float("nan")
    codes = _codes(values, train, thresholds.bins) + 1  # missing -> 0
    size = int(codes.max()) + 1
    prior = label[train].mean()
    positives = np.bincount(codes[train], weights=label[train], minlength=size)
    counts = np.bincount(codes[train], minlength=size)
    rate = (positives + thresholds.smoothing * prior) / (counts + thresholds.smoothing)
    return float(roc_auc_score(label[holdout], rate[codes[holdout]]))


def wilson_lower(successes: np.ndarray, n: np.ndarray, z: float = 1.96) -> np.ndarray:
    """Lower bound of the 95 % Wilson interval: small groups cannot look decisive by chance."""
    n = np.asarray(n, dtype=float)
    p = np.asarray(successes, dtype=float) / n
    centre = p + z * z / (2 * n)
    spread = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre - spread) / (1 + z * z / n)


# --------------------------------------------------------------------------- the checks


def decisive_values(
    values: pd.Series, label: np.ndarray, thresholds: Thresholds = Thresholds()
) -> pd.DataFrame:
    """Values (missing included) whose rows almost all share one label; largest first."""
    text = values.astype(object).where(values.notna(), "(missing)").astype(str)
    grouped = pd.DataFrame({"value": text.to_numpy(), "y": label}).groupby("value")["y"]
    table = grouped.agg(positives="sum", rows="count")
    table["majority"] = np.maximum(table["positives"], table["rows"] - table["positives"])
    table["share"] = table["majority"] / table["rows"]
    table["lower_bound"] = wilson_lower(table["majority"].to_numpy(), table["rows"].to_numpy())
    table["positive_rate"] = table["positives"] / table["rows"]
    keep = (
        (table["rows"] >= thresholds.decisive_min_rows)
        & (table["share"] >= thresholds.decisive_share)
        & (table["lower_bound"] >= thresholds.decisive_lower_bound)
    )
    return table[keep].sort_values("rows", ascending=False)


def check_predictive(
    column: str,
    values: pd.Series,
    label: np.ndarray,
    auc: float,
    thresholds: Thresholds = Thresholds(),
) -> list[Finding]:
    """Too good to be true: near-perfect ranking alone, or decisive values for many rows."""
    findings = []
    if auc == auc and auc >= thresholds.auc_leak:
        findings.append(
            Finding(
                column,
                "too_predictive",
                f"on its own it ranks held-out rows with ROC-AUC {auc:.3f} "
                f"(>= {thresholds.auc_leak}); no honest single field is that good",
                {"held_out_auc": auc},
            )
        )
    strong = auc == auc and thresholds.auc_watch <= auc < thresholds.auc_leak
    watch_strong = Finding(
        column,
        "too_predictive",
        f"strong on its own (held-out ROC-AUC {auc:.3f}); check when it is filled in",
        {"held_out_auc": auc},
        "watch",
    )
    if _is_numeric(values) or pd.api.types.is_datetime64_any_dtype(values):
        return [*findings, watch_strong] if strong else findings
    decisive = decisive_values(values, label, thresholds)
    if decisive.empty:
        return [*findings, watch_strong] if strong else findings
    coverage = float(decisive["rows"].sum() / len(label))
    top = decisive.head(3)
    examples = ", ".join(
        f"{value!r} {row.positive_rate:.0%} positive of {int(row.rows)}"
        for value, row in top.iterrows()
    )
    evidence: dict[str, float | str] = {
        "decisive_values": float(len(decisive)),
        "rows_covered": coverage,
        "largest": str(top.index[0]),
    }
    if coverage >= thresholds.decisive_coverage:
        findings.append(
            Finding(
                column,
                "too_predictive",
                f"{len(decisive)} value(s) decide the label for {coverage:.1%} of rows "
                f"(>= {thresholds.decisive_share:.0%} one class)"
                + (": " if len(decisive) <= len(top) else f"; the largest {len(top)}: ")
                + examples,
                evidence,
            )
        )
    else:
        findings.append(
            Finding(
                column,
                "too_predictive",
                f"{examples} ({coverage:.1%} of rows, below {thresholds.decisive_coverage:.0%}); "
                "kept, but ask how that value is assigned",
                evidence,
                "watch",
            )
        )
        if strong:
            findings.append(watch_strong)
    return findings


def check_post_outcome(
    column: str, values: pd.Series, thresholds: Thresholds = Thresholds()
) -> list[Finding]:
    """Names and values that describe what sales did, what came of it, or what a rep made of it."""
    findings = []
    name = normalise_name(column)
    for pattern, why in NAME_RULES:
        match = re.search(pattern, name)
        if match:
            findings.append(
                Finding(
                    column,
                    "post_outcome",
                    f"name {column!r} ({match.group(0)!r}): {why}",
                    {"name_match": match.group(0)},
                )
            )
            break
    if _is_numeric(values) or pd.api.types.is_datetime64_any_dtype(values):
        return findings
    present = values.dropna().astype(str)
    if present.empty:
        return findings
    counts = present.value_counts()
    normalised = {v: normalise_name(v) for v in counts.index}
    contact = [v for v in counts.index if VALUE_RULE.search(normalised[v])]
    judged = [v for v in counts.index if LEAD_JUDGEMENT_RULE.search(normalised[v])]
    plain = [v for v in judged if normalised[v] not in AMBIGUOUS_JUDGEMENTS]
    plain_rows = int(counts[plain].sum()) if plain else 0
    if plain_rows < max(AMBIGUOUS_SUPPORT_ROWS, AMBIGUOUS_SUPPORT_SHARE * len(present)):
        judged = plain  # "SQL" means a qualified lead only where other judgements are common
    for hits, says in (
        (contact, "describe sales contact or the outcome ({examples})"),
        (judged, "judge the lead ({examples}): a classification a rep makes after contact"),
    ):
        share = float(counts[hits].sum() / len(present)) if hits else 0.0
        if share >= thresholds.value_words_share:
            examples = ", ".join(repr(v) for v in hits[:4])
            findings.append(
                Finding(
                    column,
                    "post_outcome",
                    f"{share:.0%} of its values " + says.format(examples=examples),
                    {"value_share": share, "values_matched": float(len(hits))},
                )
            )
    return findings


def check_id_like(
    column: str, values: pd.Series, order: np.ndarray | None, thresholds: Thresholds = Thresholds()
) -> list[Finding]:
    """Unique per row, UUID/hash-shaped, or a counter that follows the row order."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return []
    present = values.dropna()
    if len(present) < thresholds.id_min_values:
        return []
    distinct = float(present.nunique() / len(present))
    numeric = _is_numeric(values)
    evidence: dict[str, float | str] = {"distinct_share": distinct}
    if numeric:
        whole = bool(np.all(np.mod(present.to_numpy(dtype=float), 1) == 0))
        if not whole or distinct < thresholds.id_distinct_share:
            return []
        position = np.arange(len(values)) if order is None else order
        rho = pd.Series(values.to_numpy(dtype=float)).corr(
            pd.Series(position, dtype=float), method="spearman"
        )
        evidence["rank_correlation_with_order"] = float(rho)
        counter = abs(rho) >= 0.95
        reason = (
            f"whole numbers, {distinct:.0%} distinct"
            + (
                f", in step with {'time' if order is not None else 'the row order'} "
                f"(Spearman {rho:+.2f}): a counter"
                if counter
                else ""
            )
            + "; it identifies rows instead of describing leads"
        )
        return [Finding(column, "id_like", reason, evidence)]
    text = present.astype(str).str.strip().str.lower()
    hashed = float(text.map(lambda v: bool(UUID_OR_HASH.match(v))).mean())
    evidence["uuid_or_hash_share"] = hashed
    if distinct >= thresholds.id_distinct_share:
        reason = f"{distinct:.0%} of its values are distinct: an identifier, not a feature"
    elif hashed >= thresholds.hash_share and distinct >= thresholds.hash_distinct_share:
        reason = f"{hashed:.0%} UUIDs or hashes, {distinct:.0%} distinct: an identifier"
    else:
        return []
    return [Finding(column, "id_like", reason, evidence)]


def check_personal_data(
    column: str, raw: pd.Series, thresholds: Thresholds = Thresholds()
) -> list[Finding]:
    """Email addresses, phone numbers, a person's names or street address: who the lead is.

    A model that learns them scores people by name (a surname, a number's area), keeps them in
    its files, where no erasure reaches, and says "Last Name: Herrmann" as a reason. Judged on
    the text cells as the export holds them (before numbers are read from them).
    """
    if _is_numeric(raw) or pd.api.types.is_datetime64_any_dtype(raw):
        return []
    present = raw.dropna().astype(str).str.strip()
    present = present[present != ""]
    if len(present) < thresholds.id_min_values:
        return []
    # names and numbers repeat (a demo's first names are 4 % distinct); a yes/no has two values
    values = present.nunique()
    if values < thresholds.personal_min_values:
        return []
    text = present.sample(min(len(present), 5000), random_state=thresholds.seed)
    for test, what in ((_is_email, "email addresses"), (_is_phone, "phone numbers")):
        share = float(text.map(test).mean())
        if share >= thresholds.personal_share:
            return [_personal(column, f"{share:.0%} of its values are {what}", {"share": share})]
    name = normalise_name(column)
    for rule, what in ((PERSON_NAME_RULE, "a person's name"), (ADDRESS_RULE, "a street address")):
        match = rule.search(name)
        if match:
            found = f"name {column!r}: {what}, {values:,} different"
            return [_personal(column, found, {"different_values": float(values)})]
    return []


def _is_email(value: str) -> bool:
    return bool(EMAIL_SHAPE.match(value))


def _is_phone(value: str) -> bool:
    """ "+49 30 1234567", "030/1234567", "(030) 1234567"; not a date or a decimal number."""
    return (
        bool(PHONE_SHAPE.match(value))
        and sum(c.isdigit() for c in value) >= 7
        and not NOT_PHONE_SHAPE.match(value)
    )


def _personal(column: str, found: str, evidence: dict[str, float | str]) -> Finding:
    return Finding(
        column,
        "personal_data",
        f"{found}: personal data, not behaviour; a model would score people by who they are and "
        "keep the values in its files",
        evidence,
    )


def check_future_timestamp(
    column: str, values: pd.Series, time: pd.Series | None, thresholds: Thresholds = Thresholds()
) -> list[Finding]:
    """Dates after the row's own time were written after the moment we score at."""
    if time is None or not pd.api.types.is_datetime64_any_dtype(values):
        return []
    both = values.notna() & time.notna()
    if not both.any():
        return []
    lag = (values[both] - time[both]) / pd.Timedelta(days=1)
    after = float((lag > 0).mean())
    if after < thresholds.future_share:
        return []
    return [
        Finding(
            column,
            "future_timestamp",
            f"{after:.0%} of its dates are after the row's time (median {lag[lag > 0].median():.0f}"
            " days later): recorded after the moment the lead is scored",
            {"share_after": after, "median_days_after": float(lag[lag > 0].median())},
        )
    ]


def check_period_proxy(
    column: str, values: pd.Series, order: np.ndarray | None, thresholds: Thresholds = Thresholds()
) -> list[Finding]:
    """A number fixed by the period (eta² over time blocks) cannot be learnt for a new period."""
    if order is None or not _is_numeric(values):
        return []
    numbers = values.to_numpy(dtype=float)
    known = ~np.isnan(numbers)
    if known.sum() < thresholds.period_blocks * 10 or np.unique(numbers[known]).size < 3:
        return []
    ranks = np.argsort(np.argsort(order[known], kind="stable"), kind="stable")
    blocks = ranks * thresholds.period_blocks // known.sum()
    x = numbers[known]
    means = np.bincount(blocks, weights=x) / np.maximum(np.bincount(blocks), 1)
    total = float(((x - x.mean()) ** 2).sum())
    if total == 0:
        return []
    eta2 = 1 - float(((x - means[blocks]) ** 2).sum()) / total
    if eta2 < thresholds.period_eta2:
        return []
    return [
        Finding(
            column,
            "period_proxy",
            f"{eta2:.0%} of its variance is explained by when the row was recorded: it marks "
            "the period, and a later period brings values the model never saw",
            {"eta_squared": eta2},
            "watch",
        )
    ]


# --------------------------------------------------------------------------- the audit


def audit_columns(
    frame: pd.DataFrame,
    label: str,
    time_column: str | None = None,
    columns: Sequence[str] | None = None,
    thresholds: Thresholds = Thresholds(),
) -> LeakageReport:
    """Audit ``columns`` (default: all but the label, the time and training's own columns).

    ``label`` must hold 0/1 or booleans. With ``time_column`` the held-out rows are the newest
    and dates in other columns are compared with it; it may hold dates or any sortable value
    (e.g. a row number when the rows are chronological).
    """
    if label not in frame.columns:
        raise KeyError(f"label column {label!r} is not in the table")
    y_array = _binary(frame[label], label)
    time = order = None
    if time_column is not None:
        time = as_analysable(frame[time_column])
        if pd.api.types.is_datetime64_any_dtype(time):
            order = _date_numbers(time)
        else:
            order = to_numeric(time).to_numpy(dtype=float)
            time = None
    skip = {label, time_column, *SYSTEM_COLUMNS}
    audited = [c for c in (columns or frame.columns) if c not in skip]
    holdout = _holdout(y_array, order, thresholds.holdout_share, thresholds.seed)
    findings: list[Finding] = []
    aucs: dict[str, float] = {}
    for column in audited:
        values = as_analysable(frame[column])
        auc = single_column_auc(values, y_array, holdout, thresholds)
        aucs[column] = auc
        found = [
            *check_post_outcome(column, values, thresholds),
            *check_predictive(column, values, y_array, auc, thresholds),
            *check_id_like(column, values, order, thresholds),
            *check_future_timestamp(column, values, time, thresholds),
            *check_period_proxy(column, values, order, thresholds),
            *check_personal_data(column, frame[column], thresholds),
        ]
        findings.extend(found)
    return LeakageReport(label, time_column, len(frame), audited, findings, aucs, thresholds)


def refuse_flagged(
    columns: Iterable[str], report: LeakageReport, allow: Iterable[str] = ()
) -> tuple[list[str], dict[str, str]]:
    """Split ``columns`` into those training may use and those refused, with the reasons.

    A column with a ``leak`` finding is refused unless ``allow`` names it (an informed decision,
    e.g. a score that is provably computed before contact). ``watch`` findings never refuse.
    """
    allowed = set(allow)
    flagged = set(report.flagged)
    kept: list[str] = []
    dropped: dict[str, str] = {}
    for column in columns:
        if column in flagged and column not in allowed:
            dropped[column] = report.reasons(column)
        else:
            kept.append(column)
    return kept, dropped


def columns_of_kind(report: LeakageReport, kind: Kind) -> list[str]:
    """Columns with a finding of ``kind`` (any severity), e.g. the period proxies."""
    found = {f.column for f in report.findings if f.kind == kind}
    return [c for c in report.audited if c in found]
