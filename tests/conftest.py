"""Shared fixtures: small generated CRMs, written once per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import settings

# CI (.ci/run sets CI=1) replays the same examples every run, without a time limit per example:
# a red CI there must mean a change broke something, not that a slow machine or a new random
# draw did. Locally each run draws new examples, which is where new cases get found.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture(scope="session")
def demo_parquet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from features.demo import write_demo_crm

    out = tmp_path_factory.mktemp("demo_parquet")
    write_demo_crm(out, n_leads=1500, seed=11, fmt="parquet")
    return out


@pytest.fixture(scope="session")
def demo_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from features.demo import write_demo_crm

    out = tmp_path_factory.mktemp("demo_csv")
    write_demo_crm(out, n_leads=1500, seed=11, fmt="csv")
    return out


@pytest.fixture()
def postgres_url() -> str:
    """A fresh schema-less database URL on the local server; skips loudly if it is down."""
    engine = sa.create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect():
            pass
    except sa.exc.OperationalError as error:  # pragma: no cover - CI always has it
        pytest.fail(f"PostgreSQL at 127.0.0.1:5432 is required for this test: {error}")
    finally:
        engine.dispose()
    return POSTGRES_URL
