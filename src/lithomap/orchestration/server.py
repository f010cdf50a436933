"""A local Prefect server for schedules: started on loopback when no ``PREFECT_API_URL`` is set.

Schedules need a real Prefect API (ephemeral mode has no scheduler). This module starts
``prefect server start`` as a child process and waits until its health endpoint answers;
it does not import Prefect, so the caller can point Prefect at the server before importing it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lithomap.errors import PipelineError

API_ENV = "PREFECT_API_URL"
HOST = "127.0.0.1"


def api_url(port: int) -> str:
    """``http://127.0.0.1:<port>/api``."""
    return f"http://{HOST}:{port}/api"


def wait_for_api(url: str, timeout_s: float = 300.0) -> None:
    """Block until ``<url>/health`` answers.

    Raises:
        PipelineError: no answer within ``timeout_s``.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(1.0)
    raise PipelineError(
        f"Prefect API {url} did not answer within {timeout_s:.0f} s. Fix: check the server's log, "
        "or start it yourself (`prefect server start`) and set PREFECT_API_URL."
    )


@contextmanager
def local_server(port: int, log_file: Path | None = None, timeout_s: float = 300.0) -> Iterator[str]:
    """Start ``prefect server start`` on 127.0.0.1:``port``, yield its API URL, stop it on exit."""
    url = api_url(port)
    command = [sys.executable, "-m", "prefect", "server", "start", "--host", HOST, "--port", str(port)]
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    env.pop(API_ENV, None)
    log = log_file.open("ab") if log_file else subprocess.DEVNULL
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_api(url, timeout_s)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        if not isinstance(log, int):
            log.close()
