"""The served `retrain` deployment against a real Prefect server on loopback: its cron, and a run of it."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lithomap.orchestration.server import local_server

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[2]
CRON = "15 4 * * 2"
STARTUP_S = 600  # a fresh server migrates its database first: ~5 min on a busy 2-core machine


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_lithomap_serve_creates_the_scheduled_deployment_and_runs_it(toy: Path, tmp_path: Path, monkeypatch):
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment
    from prefect.exceptions import ObjectNotFound
    from prefect.settings import PREFECT_API_URL, temporary_settings

    shutil.copytree(REPO / "flows", toy / "flows", ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect-home"))
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    with local_server(free_port(), log_file=tmp_path / "server.log", timeout_s=STARTUP_S) as url:
        env = {**os.environ, "PREFECT_API_URL": url, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
        log = (tmp_path / "serve.log").open("w")
        served = subprocess.Popen(
            [str(BIN / "lithomap"), "serve", "--project", str(toy), "--cron", CRON],
            cwd=toy,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            with temporary_settings(updates={PREFECT_API_URL: url}), get_client(sync_client=True) as client:
                deployment = None
                deadline = time.monotonic() + STARTUP_S
                while deployment is None and time.monotonic() < deadline:
                    assert served.poll() is None, (tmp_path / "serve.log").read_text()
                    try:
                        deployment = client.read_deployment_by_name("retrain/retrain")
                    except ObjectNotFound:
                        time.sleep(2)
                assert deployment is not None, (tmp_path / "serve.log").read_text()
                assert [s.schedule.cron for s in deployment.schedules] == [CRON]
                flow_run = run_deployment("retrain/retrain", timeout=STARTUP_S)
                assert flow_run.state.is_completed(), (tmp_path / "serve.log").read_text()
            assert (toy / "reports" / "north.json").is_file() and (toy / "reports" / "south.json").is_file()
        finally:
            served.terminate()
            served.wait(timeout=60)
            log.close()
