"""The audit log: every score given, with the model version, features and reasons behind it.

A score response is only sent after its record is committed, so what sales saw can always be
reconstructed. SQLite by default (WAL mode, so concurrent workers do not lose writes), PostgreSQL
by URL. ``erase`` removes a lead everywhere here when it asks to be forgotten.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa

from features.contract import MAX_ID_LENGTH
from features.loaders import sqlalchemy_url

METADATA = sa.MetaData()
AUDIT = sa.Table(
    "score_audit",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("request_id", sa.String(64), nullable=False, index=True),
    sa.Column("lead_id", sa.String(MAX_ID_LENGTH), nullable=False, index=True),
    sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("model_name", sa.String(200), nullable=False),
    sa.Column("model_version", sa.String(50), nullable=False),
    sa.Column("probability", sa.Float, nullable=True),
    sa.Column("score", sa.Integer, nullable=True),
    sa.Column("grade", sa.String(1), nullable=True),
    sa.Column("action", sa.String(20), nullable=False),
    sa.Column("route", sa.Text, nullable=False),
    sa.Column("reasons", sa.Text, nullable=False),
    sa.Column("quality_flags", sa.Text, nullable=False),
    sa.Column("features", sa.Text, nullable=False),
    sa.Column("handover_note", sa.Text, nullable=False),
)
JSON_COLUMNS = ("route", "reasons", "quality_flags", "features")


def _json(value: object) -> str:
    return json.dumps(value, default=str, ensure_ascii=False, allow_nan=False)


class AuditLog:
    """Append-only store of scores; one instance per process, thread-safe through the pool."""

    def __init__(self, url: str) -> None:
        self.url = url
        # a database that does not answer fails the request (503) instead of stalling a worker;
        # SQLite waits for another writer up to 10 s (a write takes milliseconds), well inside
        # a CRM's usual 30 s client timeout (at 30 s the 503 came after the client had gone)
        connect_args: dict[str, Any] = (
            {"timeout": 10}
            if url.startswith("sqlite")
            else {"connect_timeout": 5, "options": "-c statement_timeout=5000"}
        )
        self.engine = sa.create_engine(sqlalchemy_url(url), connect_args=connect_args)
        if url.startswith("sqlite"):
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        METADATA.create_all(self.engine)

    def write(self, records: Iterable[Mapping[str, Any]]) -> int:
        """Insert and commit; returns the number of rows, raises if anything was not stored."""
        rows = [
            {
                **{k: v for k, v in record.items() if k not in JSON_COLUMNS},
                **{k: _json(record[k]) for k in JSON_COLUMNS},
            }
            for record in records
        ]
        if not rows:
            return 0
        with self.engine.begin() as connection:
            connection.execute(AUDIT.insert(), rows)
        return len(rows)

    def history(self, lead_id: str) -> pd.DataFrame:
        query = sa.select(AUDIT).where(AUDIT.c.lead_id == lead_id).order_by(AUDIT.c.id)
        with self.engine.connect() as connection:
            frame = pd.read_sql_query(query, connection)
        for column in JSON_COLUMNS:
            frame[column] = frame[column].map(json.loads)
        return frame

    def count(self) -> int:
        with self.engine.connect() as connection:
            return int(connection.execute(sa.select(sa.func.count()).select_from(AUDIT)).scalar())

    def erase(self, lead_id: str) -> int:
        with self.engine.begin() as connection:
            return connection.execute(AUDIT.delete().where(AUDIT.c.lead_id == lead_id)).rowcount

    def close(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(connection: Any, _: object) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA secure_delete=ON")  # an erased lead's notes are overwritten, not freed
    cursor.close()


def now_utc() -> datetime:
    return pd.Timestamp.now(tz="UTC").to_pydatetime()
