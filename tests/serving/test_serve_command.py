"""`leadscore serve` under a supervisor: its SIGTERM stops the server, workers included."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.serving.conftest import ROOT, free_port


@pytest.mark.slow
def test_sigterm_to_leadscore_serve_stops_the_server_and_frees_the_port(
    models_dir: Path, tmp_path: Path
) -> None:
    """systemd, supervisord and containers signal the process they started; the workers were
    left answering on the port and the next start failed with 'Address already in use'."""
    port = free_port()
    env = {
        **os.environ,
        "LEADSCORE_MODELS_DIR": str(models_dir),
        "LEADSCORE_API_TOKENS": "serve-token",
        "LEADSCORE_AUDIT_DATABASE": f"sqlite:///{tmp_path / 'audit.db'}",
        "LEADSCORE_WORKERS": "1",
        "BENTOML_HOME": str(tmp_path / "bentoml_home"),
    }
    env.pop("MLFLOW_TRACKING_URI", None)
    script = Path(sys.executable).with_name("leadscore")
    with (tmp_path / "serve.log").open("wb") as log:
        process = subprocess.Popen(
            [str(script), "serve", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}/readyz"
        try:
            ready, deadline = False, time.monotonic() + 120
            while not ready and time.monotonic() < deadline and process.poll() is None:
                try:
                    ready = httpx.get(url, timeout=2).status_code == 200
                except httpx.HTTPError:
                    time.sleep(0.5)
            assert ready, (tmp_path / "serve.log").read_text()[-3000:]
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
    with pytest.raises(httpx.HTTPError):
        httpx.get(url, timeout=2)  # nobody is left on the port
