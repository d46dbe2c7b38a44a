"""The service picks up a new champion without a restart, and keeps serving if one fails to load.

Runs after the other serving tests (it changes the registry the shared server reads).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from features.contract import CRMTables
from leadscore.settings import Settings
from serving.audit import AuditLog
from serving.routing import DEFAULT_ROUTING_FILE
from serving.runtime import Runtime
from tests.serving.conftest import Server
from training.registry import (
    CHAMPION,
    MODEL_NAME,
    client_for,
    load_champion,
    load_version,
    log_and_register,
)


def _every_worker(server: Server, done: Callable[[dict], bool], timeout: float = 60) -> list[dict]:
    """Each worker process reloads on its own: ask until every one of them answers ``done``.

    Concurrent calls reach different workers; ``/model`` says which one answered.
    """
    workers = int(server.env.get("LEADSCORE_WORKERS", Settings().workers))
    latest: dict[int, dict] = {}
    deadline = time.monotonic() + timeout
    with ThreadPoolExecutor(max_workers=8) as pool:
        while time.monotonic() < deadline:
            for body in pool.map(lambda _: server.client().post("/model").json(), range(8)):
                latest[body["worker"]] = body
            if len(latest) >= workers and all(done(body) for body in latest.values()):
                break
            time.sleep(0.5)
    return list(latest.values())


def test_concurrent_scores_all_have_their_audit_record(
    server: Server, crm_dir: Path, audit_url: str
) -> None:
    log = AuditLog(audit_url)
    before = log.count()
    ids = [f"L{i:07d}" for i in range(100, 140)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(
            pool.map(lambda i: server.client().post("/score", json={"lead_id": i}), ids)
        )
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses][:2]
    assert log.count() == before + len(ids)
    for response in responses[:5]:
        body = response.json()
        history = log.history(body["lead_id"])
        assert body["request_id"] in set(history["request_id"])


def test_loading_a_champion_scores_a_made_up_lead_first_and_audits_nothing(
    models_dir: Path, tmp_path: Path
) -> None:
    """The first lead of a process builds lookup tables; the load pays for it, not a request."""
    from features import interest

    settings = Settings(models_dir=models_dir, audit_database=f"sqlite:///{tmp_path / 'a.db'}")
    interest.nearest_location.cache_clear()  # as in a new worker process
    interest._city_coordinates.cache_clear()
    runtime = Runtime(settings)
    assert runtime.try_reload() and runtime.scorer is not None
    assert interest._city_coordinates.cache_info().currsize == 1
    assert runtime.audit.count() == 0


def test_new_champion_is_picked_up_and_a_broken_one_is_refused(
    server: Server, models_dir: Path
) -> None:
    settings = Settings(models_dir=models_dir)
    model, info = load_champion(settings)
    sample = pd.DataFrame({c: [None] for c in model.columns})
    newer = log_and_register(
        settings, model, sample, {}, {}, None, (True, "test: same model, new version")
    )
    assert newer.version != info.version
    bodies = _every_worker(server, lambda body: body["version"] == newer.version)
    assert [body["version"] for body in bodies] == [newer.version] * len(bodies), bodies

    broken = replace(model, registry_version="0-incompatible")
    bad = log_and_register(settings, broken, sample, {}, {}, None, (True, "test: broken"))
    bodies = _every_worker(server, lambda body: body["last_reload_error"] is not None)
    for body in bodies:
        assert body["version"] == newer.version, body
        assert "registry version" in (body["last_reload_error"] or ""), body
    assert server.client().post("/score", json={"lead_id": "L0000100"}).status_code == 200
    assert bad.version != newer.version


def test_a_damaged_champion_file_leaves_the_old_model_serving(
    server: Server, models_dir: Path
) -> None:
    """LightGBM aborts the process on a cut-short model file: a worker that read it would die,
    and restart, and die again, with no model serving. The checksum stops it first."""
    settings = Settings(models_dir=models_dir)
    serving = str(server.client().post("/model").json()["version"])  # the alias may be a broken one
    model = load_version(settings, serving)
    sample = pd.DataFrame({c: [None] for c in model.columns})
    damaged = log_and_register(settings, model, sample, {}, {}, None, (False, "test: damaged"))
    client = client_for(settings)
    stored = client.get_model_version_download_uri(MODEL_NAME, damaged.version)
    (booster,) = Path(stored.removeprefix("file://")).rglob("booster.txt")
    booster.write_bytes(booster.read_bytes()[:5000])  # an interrupted copy in the store
    client.set_registered_model_alias(MODEL_NAME, CHAMPION, damaged.version)
    try:
        bodies = _every_worker(server, lambda body: "damaged" in (body["last_reload_error"] or ""))
        for body in bodies:
            assert body["version"] == serving, body
            assert "booster.txt differs from the file saved" in body["last_reload_error"], body
        assert server.client().post("/score", json={"lead_id": "L0000100"}).status_code == 200
        assert server.process.poll() is None
    finally:
        client.set_registered_model_alias(MODEL_NAME, CHAMPION, serving)


def test_the_tabular_champion_reloads_too_and_a_broken_one_is_refused(
    server: Server, models_dir: Path, export: tuple[Path, Path]
) -> None:
    from training.tabular import TABULAR_MODEL_NAME

    settings = Settings(models_dir=models_dir)
    model, _ = load_champion(settings, name=TABULAR_MODEL_NAME)
    sample = pd.DataFrame({c: [None] for c in model.columns})

    def register(candidate: object, why: str) -> str:
        version = log_and_register(
            settings, candidate, sample, {}, {}, None, (True, why), name=TABULAR_MODEL_NAME
        ).version
        return str(version)

    newer = register(model, "test: same tabular model, new version")
    bodies = _every_worker(server, lambda body: body["tabular"].get("version") == newer)
    assert [body["tabular"]["version"] for body in bodies] == [newer] * len(bodies), bodies

    broken = log_and_register(
        settings, model, sample, {}, {}, None, (False, "test: broken"), name=TABULAR_MODEL_NAME
    ).version
    client = client_for(settings)
    stored = client.get_model_version_download_uri(TABULAR_MODEL_NAME, broken)
    (meta,) = Path(stored.removeprefix("file://")).rglob("leadmodel.json")
    meta.write_text(meta.read_text().replace('"format": ', '"format": "from the future", "_": '))
    client.set_registered_model_alias(TABULAR_MODEL_NAME, CHAMPION, broken)
    bodies = _every_worker(server, lambda body: body["tabular"]["last_reload_error"] is not None)
    for body in bodies:
        assert body["tabular"]["version"] == newer, body
        assert "artifact format 'from the future'" in body["tabular"]["last_reload_error"], body
    row = pd.read_csv(export[0]).drop(columns=["Converted"]).head(1)
    rows = [{k: (None if pd.isna(v) else v) for k, v in r.items()} for r in row.to_dict("records")]
    response = server.client().post("/score_rows", json={"rows": rows})
    assert response.status_code == 200 and response.json()[0]["model"]["version"] == newer


def test_an_edited_routing_file_takes_effect_without_a_restart_and_a_broken_one_does_not(
    models_dir: Path, crm: CRMTables, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Sales ops rename a team while the service runs; then save a file with a typo."""
    rules = tmp_path / "routing.yaml"
    shipped = DEFAULT_ROUTING_FILE.read_text(encoding="utf-8")
    rules.write_text(shipped, encoding="utf-8")
    runtime = Runtime(Settings(models_dir=models_dir, routing_file=rules))
    runtime.try_reload()
    assert runtime.scorer is not None

    def teams() -> set[str | None]:
        results = runtime.scorer.score(crm, lead_ids=list(crm.leads["lead_id"].head(400)))  # type: ignore[union-attr]
        return {r.route.team for r in results}

    assert "International" in teams()
    renamed = shipped.replace("team: International", "team: Worldwide")
    rules.write_text(renamed + "\n", encoding="utf-8")  # another size: a new stamp for sure
    assert runtime.try_reload()
    assert "Worldwide" in teams() and "International" not in teams()

    rules.write_text(renamed.replace("review_flags:", "review_flag:"), encoding="utf-8")
    with caplog.at_level(logging.ERROR, logger="leadscore.runtime"):
        assert not runtime.try_reload()
    assert "review_flag" in caplog.text and "rules in force stay" in caplog.text
    assert "review_flag" in (runtime.describe()["routing_file_error"] or "")  # GET /model
    assert "Worldwide" in teams()
    assert runtime.routing.review_flags  # the old rules, not the misspelt ones


def test_a_load_error_is_answered_and_logged_without_the_database_password() -> None:
    """The reason a model did not load is answered in 503s and GET /model; a model store or lead
    store given as a database URL keeps its password to itself."""
    from serving.runtime import error_text
    from training.registry import RegistryError

    url = "postgresql+psycopg://scoring:s3cr@t@db.internal:5432/mlflow"
    text = error_text(RegistryError(f"no 'leadscore' model is trained yet (model store {url})"))
    assert "s3cr" not in text
    assert "postgresql+psycopg://scoring:***@db.internal:5432/mlflow" in text
    assert error_text(ValueError("sqlite:////srv/models/mlflow.db")).endswith("mlflow.db")
