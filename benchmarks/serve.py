"""Serving speed: our full path against the floor and against `mlflow models serve`, in one run.

Run: ``uv run python -m benchmarks.serve [--leads 10000] [--batch-leads 100000]``.

It generates a demo CRM, trains a champion into a temporary registry, then measures on this
machine, side by side:

- the floor: LightGBM ``predict`` + ``pred_contrib`` on one numpy row (``num_threads=1``);
- our Scorer in-process for one lead, full path (features, score, reasons, route, audit write);
- our BentoML server over HTTP, one client (p50 / p99), and 8 concurrent clients (req/s);
- ``mlflow models serve`` on the same registered model (bare probability), same clients;
- batch: scoring N leads with reason texts, route and note (``Scorer.score_frame``, what
  ``leadscore score`` runs) against ``predict`` + ``pred_contrib`` on the same rows, and against
  loading the registered model with ``mlflow.pyfunc`` and predicting a DataFrame.

The load generator is Python (httpx threads) on the same two cores as the servers; it is the same
for both servers, so the comparison is fair, and absolute numbers are pessimistic.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import mlflow
import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
TOKEN = "bench-token"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(url: str, process: subprocess.Popen[bytes], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} not ready")


def _latencies(call: Callable[[], object], n: int) -> np.ndarray:
    out = np.empty(n)
    for i in range(n):
        start = time.perf_counter()
        call()
        out[i] = time.perf_counter() - start
    return out * 1e3


def _throughput(
    call: Callable[[httpx.Client], int], clients: int, seconds: float
) -> tuple[float, int]:
    """Requests per second from ``clients`` threads, each with its own kept-alive connection."""
    deadline = time.monotonic() + seconds

    def worker() -> tuple[int, int]:
        done = errors = 0
        with httpx.Client(timeout=60) as client:
            while time.monotonic() < deadline:
                status = call(client)
                done += 1
                errors += status >= 400
        return done, errors

    start = time.monotonic()
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(lambda _: worker(), range(clients)))
    elapsed = time.monotonic() - start
    return sum(d for d, _ in results) / elapsed, sum(e for _, e in results)


def _fmt(ms: np.ndarray) -> str:
    return f"{np.median(ms):.2f} / {np.quantile(ms, 0.99):.2f} ms"


def main(n_leads: int, batch_leads: int, seconds: float) -> None:
    from features.demo import write_demo_crm
    from features.loaders import load_tables
    from features.pipeline import build_features, feature_columns_and_events
    from leadscore.settings import Settings
    from serving.requests import LeadRequest, request_tables
    from serving.runtime import Runtime

    console = Console()
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        crm = tmp_path / "crm"
        models = tmp_path / "models"
        env = {
            **os.environ,
            "LEADSCORE_MODELS_DIR": str(models),
            "LEADSCORE_API_TOKENS": TOKEN,
            "LEADSCORE_DATA": str(crm),
            "LEADSCORE_AUDIT_DATABASE": f"sqlite:///{tmp_path / 'audit.db'}",
        }
        env.pop("MLFLOW_TRACKING_URI", None)
        os.environ.update({k: v for k, v in env.items() if k.startswith("LEADSCORE_")})
        with console.status(f"Generating {n_leads:,} leads and training a champion"):
            write_demo_crm(crm, n_leads=n_leads, seed=3)
            script = Path(sys.executable).with_name("leadscore")
            subprocess.run(
                [str(script), "train", str(crm)], env=env, check=True, capture_output=True
            )

        runtime = Runtime(Settings())
        assert runtime.try_reload(), runtime.last_error
        scorer = runtime.scorer
        assert scorer is not None
        tables = load_tables(crm)
        counts = tables.activities.groupby("lead_id").size()
        lead = str(counts.index[np.argmin(np.abs(counts.to_numpy() - 100))])
        one = tables.for_leads([lead])
        n_events = len(one.activities)

        features = build_features(one, as_of=pd.Timestamp.now())
        row = scorer.model.encode(features)
        booster = scorer.model.estimator
        floor = _latencies(
            lambda: (
                booster.predict(row, raw_score=True, num_threads=1),
                booster.predict(row, pred_contrib=True, num_threads=1),
            ),
            2000,
        )
        rows.append(("floor: LightGBM predict + pred_contrib, 1 row", _fmt(floor), "in-process"))
        for _ in range(20):
            scorer.score(one, lead_ids=[lead])
        ours = _latencies(lambda: scorer.score(one, lead_ids=[lead]), 200)
        rows.append(
            (
                "our Scorer, one lead, full path + audit",
                _fmt(ours),
                f"{n_events} events; target p50 <= 6, p99 <= 15 ms",
            )
        )

        lead_row = tables.leads.set_index("lead_id").loc[lead]
        payload = {
            "lead": {"lead_id": lead, "created_at": lead_row["created_at"].isoformat()},
            "activities": [
                {"occurred_at": r.occurred_at.isoformat(), "activity_type": r.activity_type}
                for r in one.activities.itertuples()
            ],
        }

        def from_json() -> None:
            request = LeadRequest.model_validate(payload)
            scorer.score(request_tables([request]), lead_ids=[lead])

        parsed = _latencies(from_json, 200)
        rows.append(
            ("our Scorer, one lead from its JSON", _fmt(parsed), "request model -> tables -> score")
        )
        port = _free_port()
        bento = subprocess.Popen(
            [sys.executable, "-m", "bentoml", "serve", "serving.service:LeadScore",
             "--port", str(port)],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        mlflow_port = _free_port()
        mlflow_env = {
            **env,
            "MLFLOW_TRACKING_URI": Settings().tracking_uri(),
            # mlflow starts `uvicorn` by name: the environment's scripts must be on PATH
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        }
        mlflow_server = subprocess.Popen(
            [sys.executable, "-m", "mlflow", "models", "serve", "-m", "models:/leadscore@champion",
             "--env-manager", "local", "-p", str(mlflow_port), "-h", "127.0.0.1"],
            cwd=ROOT, env=mlflow_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            _wait(f"http://127.0.0.1:{port}/readyz", bento)
            _wait(f"http://127.0.0.1:{mlflow_port}/ping", mlflow_server)
            ours_http = httpx.Client(
                base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {TOKEN}"}
            )
            frame = features[scorer.model.columns].astype(object).where(features.notna(), None)
            mlflow_payload = {"dataframe_split": frame.to_dict(orient="split") | {"index": [0]}}
            mlflow_http = httpx.Client(base_url=f"http://127.0.0.1:{mlflow_port}")
            assert ours_http.post("/score", json=payload).status_code == 200
            probe = mlflow_http.post("/invocations", json=mlflow_payload)
            assert probe.status_code == 200, probe.text

            http_ours = _latencies(lambda: ours_http.post("/score", json=payload), 200)
            http_mlflow = _latencies(
                lambda: mlflow_http.post("/invocations", json=mlflow_payload), 200
            )
            rows.append(("our /score over HTTP, 1 client", _fmt(http_ours), "full path"))
            rows.append(
                ("mlflow models serve, 1 client", _fmt(http_mlflow), "bare probability only")
            )

            auth = {"Authorization": f"Bearer {TOKEN}"}

            def ours_call(client: httpx.Client) -> int:
                url = f"http://127.0.0.1:{port}/score"
                return client.post(url, json=payload, headers=auth).status_code

            def mlflow_call(client: httpx.Client) -> int:
                url = f"http://127.0.0.1:{mlflow_port}/invocations"
                return client.post(url, json=mlflow_payload).status_code

            rps_ours, err_ours = _throughput(ours_call, 8, seconds)
            rps_mlflow, err_mlflow = _throughput(mlflow_call, 8, seconds)
            rows.append(("our /score, 8 clients", f"{rps_ours:.0f} req/s", f"{err_ours} errors"))
            rows.append(
                (
                    "mlflow models serve, 8 clients",
                    f"{rps_mlflow:.0f} req/s",
                    f"{err_mlflow} errors",
                )
            )
            rows.append(
                ("ours / mlflow throughput", f"{rps_ours / rps_mlflow:.2f}x", "target >= 3x")
            )
        finally:
            for process in (bento, mlflow_server):
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()

        if batch_leads:
            big = tmp_path / "big"
            write_demo_crm(big, n_leads=batch_leads, seed=4)
            big_tables = load_tables(big)
            moment = big_tables.activities["occurred_at"].max()
            snapshots = pd.DataFrame({"lead_id": big_tables.leads["lead_id"], "as_of": moment})
            snapshots = snapshots[big_tables.leads["created_at"].to_numpy() <= moment]
            started = time.perf_counter()
            feats, events = feature_columns_and_events(
                big_tables, snapshots, scorer.model.feature_config
            )
            feature_time = time.perf_counter() - started
            matrix = scorer.model.encode(feats)
            started = time.perf_counter()
            booster.predict(matrix, raw_score=True)
            booster.predict(matrix, pred_contrib=True)
            floor_time = time.perf_counter() - started
            started = time.perf_counter()
            scorer.rank(feats)
            rank_time = time.perf_counter() - started
            started = time.perf_counter()
            scorer.score_frame(feats, events, big_tables.leads, "en")
            frame_time = time.perf_counter() - started
            started = time.perf_counter()
            scorer.score_features(feats, events, big_tables.leads, "en")
            one_by_one_time = time.perf_counter() - started
            frame = pd.DataFrame({c: feats[c] for c in scorer.model.columns})
            mlflow.set_tracking_uri(Settings().tracking_uri())
            pyfunc = mlflow.pyfunc.load_model("models:/leadscore@champion")
            started = time.perf_counter()
            pyfunc.predict(frame)
            pyfunc_time = time.perf_counter() - started
            rows.append(
                (
                    f"batch floor: predict + pred_contrib, {len(matrix):,} rows",
                    f"{floor_time:.1f} s",
                    "LightGBM's default threads",
                )
            )
            rows.append(
                (
                    "batch: scores + reasons chosen (feature, contribution)",
                    f"{rank_time:.1f} s",
                    f"{rank_time / floor_time:.2f}x floor",
                )
            )
            rows.append(
                (
                    "batch: the same + reason texts, route, handover note",
                    f"{frame_time:.1f} s",
                    f"{frame_time / floor_time:.2f}x floor; target <= 1.2x (`leadscore score`)",
                )
            )
            rows.append(
                (
                    "batch written lead by lead (the HTTP path)",
                    f"{one_by_one_time:.1f} s",
                    f"{one_by_one_time / floor_time:.2f}x floor; same texts",
                )
            )
            rows.append(
                (
                    "mlflow pyfunc predict on a DataFrame",
                    f"{pyfunc_time:.1f} s",
                    "bare probability only",
                )
            )
            rows.append(("batch: features for the same leads", f"{feature_time:.1f} s", ""))

    table = Table(title="Serving, on this machine (2 cores)")
    for column in ("what", "result", "notes"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    console.print(table)
    if batch_leads:  # a full run: keep it beside the quality results
        RESULTS.mkdir(parents=True, exist_ok=True)
        lines = [
            "# Serving benchmark",
            "",
            "Written by `uv run python -m benchmarks.serve`; do not edit by hand. "
            f"{n_leads:,}-lead demo model, {batch_leads:,} leads in the batch, two workers, "
            f"load for {seconds:.0f} s per server; machine: {os.cpu_count()} cores.",
            "",
            "| what | result | notes |",
            "| --- | --- | --- |",
            *[f"| {what} | {result} | {notes} |" for what, result, notes in rows],
            "",
        ]
        (RESULTS / "serve.md").write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--batch-leads", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    main(args.leads, args.batch_leads, args.seconds)
