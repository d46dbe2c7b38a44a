"""A trained champion and a real BentoML server on a free port, shared by the serving tests.

The server's audit log is a fresh PostgreSQL database, so the HTTP tests also prove that every
response has its committed record in the real database.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd
import psycopg
import pytest

from features.contract import CRMTables
from features.loaders import load_tables

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "test-token-123"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


def leadscore(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).with_name("leadscore")
    return subprocess.run(
        [str(script), *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="session")
def crm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from features.demo import write_demo_crm

    out = tmp_path_factory.mktemp("serving_crm")
    write_demo_crm(out, n_leads=4000, seed=5, fmt="parquet")
    return out


@pytest.fixture(scope="session")
def crm(crm_dir: Path) -> CRMTables:
    return load_tables(crm_dir)


# How a CRM export of the same leads is read: its own column names, 'Select' for "not chosen".
EXPORT_MAPPING = """
version: 1
id: Lead Number
label: {column: Converted}
missing_values: [Select]
rename: {Employees: company_size}
features:
  include: [Job Title, Industry, company_size, Country, Lead Source]
"""


@pytest.fixture(scope="session")
def export(tmp_path_factory: pytest.TempPathFactory, crm: CRMTables) -> tuple[Path, Path]:
    """The demo CRM's leads as a one-row-per-lead export (label: won at any time), and its
    mapping."""
    leads = crm.leads.drop_duplicates("lead_id")
    won = set(crm.outcomes.loc[crm.outcomes["won"], "lead_id"])
    table = pd.DataFrame(
        {
            "Lead Number": leads["lead_id"],
            "Job Title": leads["job_title"],
            "Industry": leads["industry"].fillna("Select"),
            "Employees": leads["employees"],
            "Country": leads["country"],
            "Lead Source": leads["source"],
            "consent_profiling": leads["consent_profiling"].map({True: "yes", False: "no"}),
            "Converted": leads["lead_id"].isin(won).astype(int),
        }
    )
    folder = tmp_path_factory.mktemp("export")
    (folder / "mapping.yaml").write_text(EXPORT_MAPPING)
    table.to_csv(folder / "leads.csv", index=False)
    return folder / "leads.csv", folder / "mapping.yaml"


@pytest.fixture(scope="session")
def models_dir(
    tmp_path_factory: pytest.TempPathFactory, crm_dir: Path, export: tuple[Path, Path]
) -> Path:
    """A registry with a CRM champion and a tabular one (trained on the export), both trained
    through the real command line."""
    models = tmp_path_factory.mktemp("models")
    env = {**os.environ, "LEADSCORE_MODELS_DIR": str(models)}
    env.pop("MLFLOW_TRACKING_URI", None)
    done = leadscore("train", str(crm_dir), env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    path, mapping = export
    done = leadscore("train", str(path), "--mapping", str(mapping), env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    return models


@pytest.fixture(scope="session")
def audit_url() -> Iterator[str]:
    name = f"leadscore_audit_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    url: str
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log: Path

    def client(self, token: str | None = TOKEN) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)


@pytest.fixture(scope="session")
def server(
    models_dir: Path, crm_dir: Path, audit_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    port = free_port()
    env = {
        **os.environ,
        "LEADSCORE_MODELS_DIR": str(models_dir),
        "LEADSCORE_API_TOKENS": f"{TOKEN},second-token",
        "LEADSCORE_DATA": str(crm_dir),
        "LEADSCORE_AUDIT_DATABASE": audit_url,
        "LEADSCORE_RELOAD_SECONDS": "1",
        "LEADSCORE_WORKERS": "2",
        "BENTOML_HOME": str(tmp_path_factory.mktemp("bentoml_home")),
    }
    env.pop("MLFLOW_TRACKING_URI", None)
    log = (tmp_path_factory.mktemp("server_log") / "server.log").open("wb")
    command = [
        sys.executable, "-m", "bentoml", "serve", "serving.service:LeadScore",
        "--port", str(port), "--host", "127.0.0.1",
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {Path(log.name).read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    else:
        process.kill()
        raise RuntimeError(f"server not ready: {Path(log.name).read_text()[-3000:]}")
    yield Server(url, env, process, Path(log.name))
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()
