"""The audit log keeps every score, and forgets a person completely when asked."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from serving.audit import AuditLog, now_utc


def record(lead_id: str, note: str) -> dict[str, object]:
    return {
        "request_id": "r1",
        "lead_id": lead_id,
        "scored_at": now_utc(),
        "model_name": "leadscore",
        "model_version": "1",
        "probability": 0.5,
        "score": 50,
        "grade": "B",
        "action": "nurture",
        "route": {"action": "nurture"},
        "reasons": [],
        "quality_flags": [],
        "features": {"as_of": "2026-01-01"},
        "handover_note": note,
    }


def test_an_erased_lead_leaves_no_trace_in_the_sqlite_file(tmp_path: Path) -> None:
    """Deleted rows would stay readable in SQLite's free pages; secure_delete overwrites them."""
    path = tmp_path / "audit.db"
    log = AuditLog(f"sqlite:///{path}")
    secret = "Laura Jaeger (ACME GmbH, Head of Marketing) " * 20
    log.write([record("L1", secret), record("L2", "someone else")])
    assert log.erase("L1") == 1 and log.erase("L1") == 0
    with log.engine.begin() as connection:
        connection.execute(sa.text("PRAGMA wal_checkpoint(TRUNCATE)"))
    log.close()
    assert b"Laura Jaeger" not in path.read_bytes()
    assert AuditLog(f"sqlite:///{path}").history("L2")["handover_note"].tolist() == ["someone else"]
