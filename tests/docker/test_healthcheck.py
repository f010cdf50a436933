"""docker/healthcheck.py against a real local HTTP server."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.docker.files import HEALTHCHECK


class Handler(BaseHTTPRequestHandler):
    """200 on /ok, 503 elsewhere."""

    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/ok" else 503)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output quiet."""


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def check(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(HEALTHCHECK), *args], capture_output=True, text=True, timeout=30, env=env, check=False
    )


def test_healthy_when_the_endpoint_answers_2xx(server):
    result = check(f"{server}/ok")
    assert result.returncode == 0, result.stderr
    assert "answered 200" in result.stdout


def test_unhealthy_when_the_endpoint_answers_an_error(server):
    result = check(f"{server}/_stcore/health")
    assert result.returncode == 1
    assert "answered 503" in result.stderr


def test_unhealthy_when_nothing_listens():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = check(f"http://127.0.0.1:{port}/health")
    assert result.returncode == 1
    assert "did not answer" in result.stderr


def test_the_url_comes_from_the_environment_without_an_argument(server):
    result = check(env={"LITHOMAP_HEALTHCHECK_URL": f"{server}/ok"})
    assert result.returncode == 0, result.stderr
