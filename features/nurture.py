"""Nurture emails compared in one table: position in the sequence, opens, clicks, conversion.

Marketing asks which email of a nurture track works ("compare nurture emails in one table:
email, position in the sequence, call to action, open / click / conversion", domain.md). A CRM
export carries no sequence number and no call to action, so both are read from what the leads
did: an email's *position* is the place it usually takes among the emails of its track (the
activity's ``topic``, the interest field nurture tracks are built on) that one lead was sent, and
*clicks led to* is what recipients most often did within a day of clicking.

Everything counts distinct recipients and only events strictly before ``as_of``, like the
features. Conversion is descriptive, not causal: a lead that was sent the fifth email stayed in
the track long enough to get it.
"""

from __future__ import annotations

import pandas as pd

from features.contract import CRMTables

COLUMNS = (
    "track",
    "position",
    "email",
    "campaign",
    "sent",
    "opened",
    "open_rate",
    "clicked",
    "click_rate",
    "clicks_led_to",
    "won",
    "conversion",
)
FOLLOW_UP = pd.Timedelta(days=1)
_KEY = ["campaign", "email"]


def nurture_table(tables: CRMTables, as_of: pd.Timestamp | None = None) -> pd.DataFrame:
    """One row per email sent (``email_sent`` events by campaign and asset), tracks in order.

    ``as_of`` defaults to just after the newest event or deal, so every one counts.
    """
    activities = tables.activities
    as_of = as_of if as_of is not None else default_as_of(tables)
    events = activities.loc[activities["occurred_at"] < as_of].assign(
        campaign=lambda f: _text(f, "campaign"), email=lambda f: _text(f, "asset")
    )
    kind = events["activity_type"].astype(object)
    sends = _first_send(events.loc[kind.eq("email_sent").to_numpy()])
    if sends.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})

    opened = _responded(sends, events.loc[kind.eq("email_open").to_numpy()])
    clicked = _responded(sends, events.loc[kind.eq("email_click").to_numpy()])
    later = events.loc[~kind.str.startswith("email_").fillna(False).to_numpy()]
    won = _won_after(sends, tables.outcomes, as_of)

    per_email = sends.groupby(_KEY, sort=False)
    sent = per_email.size()
    table = pd.DataFrame(
        {
            "track": per_email["topic"].agg(_most_common),
            "position": per_email["rank"].median().round().astype("Int64"),
            "first_sent": per_email["sent_at"].min(),
            "sent": sent,
            "opened": opened.groupby(_KEY).size(),
            "clicked": clicked.groupby(_KEY).size(),
            "clicks_led_to": _next_actions(clicked, later),
            "won": won.groupby(_KEY).size(),
        }
    )
    table = table.reindex(sent.index)  # an email clicked but never sent is no row
    for column in ("opened", "clicked", "won"):
        table[column] = table[column].fillna(0).astype(int)
    table["open_rate"] = table["opened"] / table["sent"]
    table["click_rate"] = table["clicked"] / table["sent"]
    table["conversion"] = table["won"] / table["sent"]
    table["clicks_led_to"] = table["clicks_led_to"].fillna("")
    table = table.reset_index().sort_values(
        ["track", "position", "first_sent", "campaign", "email"], na_position="last"
    )
    return table[list(COLUMNS)].reset_index(drop=True)


def default_as_of(tables: CRMTables) -> pd.Timestamp:
    """Just after the newest event or deal (a deal won after the last event still counts), or
    now in UTC for an empty CRM."""
    moments = [tables.activities["occurred_at"].max(), tables.outcomes["closed_at"].max()]
    known = [m for m in moments if pd.notna(m)]
    newest = max(known) if known else pd.Timestamp.now(tz="UTC").tz_localize(None)
    return pd.Timestamp(newest) + pd.Timedelta(1, "ns")


def won_share(tables: CRMTables, as_of: pd.Timestamp) -> float:
    """The share of leads created before ``as_of`` with a deal won before it: the table's
    conversions read against this."""
    leads = tables.leads.loc[tables.leads["created_at"] < as_of, "lead_id"]
    outcomes = tables.outcomes
    won = outcomes["won"].fillna(False).astype(bool) & (outcomes["closed_at"] < as_of)
    return float(leads.isin(outcomes.loc[won, "lead_id"]).mean()) if len(leads) else 0.0


def _text(frame: pd.DataFrame, column: str) -> pd.Series:
    """A text column as plain strings, "" where empty: emails are grouped by these."""
    if column not in frame:
        return pd.Series("", index=frame.index, dtype=object)
    return frame[column].astype(object).where(frame[column].notna(), "").astype(str)


def _first_send(sent: pd.DataFrame) -> pd.DataFrame:
    """Each lead's first send of each email, with its rank among the lead's emails of its track."""
    sends = (
        sent.groupby([*_KEY, "lead_id"], sort=False, observed=True)
        .agg(sent_at=("occurred_at", "min"), topic=("topic", "first"))
        .reset_index()
    )
    sends["topic"] = sends["topic"].astype(object).where(sends["topic"].notna(), None)
    in_track = sends["topic"].notna()
    tracked = sends.loc[in_track].sort_values(["sent_at", *_KEY])
    sends["rank"] = pd.Series(pd.NA, index=sends.index, dtype="Float64")
    sends.loc[in_track, "rank"] = tracked.groupby(["lead_id", "topic"]).cumcount() + 1
    return sends


def _responded(sends: pd.DataFrame, responses: pd.DataFrame) -> pd.DataFrame:
    """The sends answered (opened, clicked) at or after the lead's first send of that email,
    one row per recipient, with the first such answer (``responded_at``)."""
    both = sends.merge(
        responses[[*_KEY, "lead_id", "occurred_at"]].rename(
            columns={"occurred_at": "responded_at"}
        ),
        on=[*_KEY, "lead_id"],
    )
    both = both.loc[both["responded_at"] >= both["sent_at"]]
    return both.sort_values("responded_at").drop_duplicates([*_KEY, "lead_id"])


def _won_after(sends: pd.DataFrame, outcomes: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """The recipients whose deal was won after they were sent the email (and before as_of)."""
    won = outcomes.loc[outcomes["won"].fillna(False).astype(bool) & (outcomes["closed_at"] < as_of)]
    last_won = won.groupby("lead_id")["closed_at"].max().rename("won_at").reset_index()
    both = sends.merge(last_won, on="lead_id")
    return both.loc[both["won_at"] >= both["sent_at"]]


def _next_actions(clicked: pd.DataFrame, later: pd.DataFrame) -> pd.Series:
    """Per email, what its clickers most often did next (within a day of their first click
    after the send), with the share of clickers: one vote per recipient."""
    if clicked.empty or later.empty:
        return pd.Series(dtype=object)
    left = clicked[[*_KEY, "lead_id", "responded_at"]].rename(
        columns={"responded_at": "occurred_at"}
    )
    left = left.sort_values("occurred_at")
    right = later[["lead_id", "occurred_at", "activity_type"]].sort_values("occurred_at")
    for frame in (left, right):
        frame["lead_id"] = frame["lead_id"].astype(object)
    nxt = pd.merge_asof(
        left,
        right.rename(columns={"occurred_at": "next_at"}),
        left_on="occurred_at",
        right_on="next_at",
        by="lead_id",
        direction="forward",
        tolerance=FOLLOW_UP,
        allow_exact_matches=False,
    )
    nxt["activity_type"] = nxt["activity_type"].astype(object).fillna("nothing within a day")
    return nxt.groupby(_KEY)["activity_type"].agg(_share_text)


def _most_common(values: pd.Series) -> object:
    """The value most rows hold (None if none): an email's track."""
    counts = values.dropna().value_counts()
    return counts.index[0] if len(counts) else None


def _share_text(values: pd.Series) -> str:
    """ "blog read (80%)": the most common next action and the share of clickers taking it."""
    counts = values.value_counts()
    return f"{str(counts.index[0]).replace('_', ' ')} ({counts.iloc[0] / len(values):.0%})"
