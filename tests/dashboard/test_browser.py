"""The dashboard in a real browser: Streamlit on a loopback port, every page opened in headless Chromium.

Uses Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them; nothing is
downloaded at run time). Each page must render its title without Streamlit's exception
box; a screenshot per page is saved under the test's temporary folder, and the time to
first render is reported (``render_times.json``, and the test's user properties), not asserted.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.dashboard.conftest import REGION
from tests.dashboard.contract import write_map_folder, write_science_reports

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
CHROMEDRIVER = Path("/usr/bin/chromedriver")
PAGES = {
    "": "lithomap",
    "experiments": "Experiments",
    "maps": "Maps",
    "signatures": "Thermal signatures",
    "quality": "Data quality",
    "registry": "Model registry",
}
START_TIMEOUT_S = 120
PAGE_TIMEOUT_S = 120


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_healthy(url: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"streamlit exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"streamlit did not answer on {url} within {START_TIMEOUT_S} s")


@pytest.fixture
def served_dashboard(dashboard_env, own_outputs, tmp_path):
    """The dashboard served on 127.0.0.1 over the tiny run, with contract maps and reports."""
    write_map_folder(tmp_path, REGION, dashboard_env.root / "interim" / REGION / "cube.zarr")
    write_science_reports(tmp_path, REGION)
    port = _free_port()
    log = (tmp_path / "streamlit.log").open("w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(APP),
            "--server.address",
            "127.0.0.1",
            "--server.port",
            str(port),
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=tmp_path,
        env=os.environ.copy(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, server)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


@pytest.fixture
def browser():
    """Headless system Chromium driven by the system chromedriver."""
    if not shutil.which("chromium") or not CHROMEDRIVER.is_file():
        pytest.skip("chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1800"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    yield driver
    driver.quit()


@pytest.mark.slow  # 40 s on 2 cores; the default suite stays under 10 min
def test_every_page_renders_in_chromium(served_dashboard, browser, tmp_path, record_property):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    times = {}
    for path, title in PAGES.items():
        started = time.monotonic()
        browser.get(f"{served_dashboard}/{path}")
        WebDriverWait(browser, PAGE_TIMEOUT_S).until(
            ready.text_to_be_present_in_element((By.CSS_SELECTOR, "h1"), title)
        )
        times[path or "overview"] = round(time.monotonic() - started, 2)
        WebDriverWait(browser, PAGE_TIMEOUT_S).until(
            lambda driver: not driver.find_elements(By.CSS_SELECTOR, '[data-testid="stStatusWidget"]')
        )
        WebDriverWait(browser, PAGE_TIMEOUT_S).until(
            lambda driver: driver.execute_script(
                "return Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)"
            )
        )
        time.sleep(1.0)  # Vega charts draw after the script finishes
        browser.save_screenshot(str(tmp_path / f"{path or 'overview'}.png"))
        body = browser.find_element(By.TAG_NAME, "body").text
        assert not browser.find_elements(By.CSS_SELECTOR, '[data-testid="stException"]'), body[:2000]
        assert "Traceback" not in body
    (tmp_path / "render_times.json").write_text(json.dumps(times, indent=1))
    record_property("time_to_first_render_s", times)
    print(f"time to first render (s): {times}; screenshots in {tmp_path}")
    assert all((tmp_path / f"{name}.png").stat().st_size > 10_000 for name in times)
