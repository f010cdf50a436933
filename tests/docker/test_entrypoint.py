"""docker/entrypoint.sh runs the compose file's commands: resolved and checked here, without Docker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.docker.files import ENTRYPOINT, REPO_ROOT, app_services, compose, dockerfile_instructions

COMPOSE_SERVICES = sorted(app_services(compose()))


def entrypoint(*args: str, check: bool = True, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    """Run the entry script as the image does, with this environment's programs on PATH."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["LITHOMAP_ENTRYPOINT_CHECK"] = "1" if check else "0"
    return subprocess.run(
        [str(ENTRYPOINT), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=180, check=False
    )


@pytest.mark.parametrize("service", COMPOSE_SERVICES)
def test_every_compose_command_resolves(service):
    command = app_services(compose())[service]["command"]
    if service == "dashboard" and not (REPO_ROOT / command[2]).is_file():
        pytest.skip(f"{command[2]} is not in this checkout yet (the dashboard is written on its own branch)")
    result = entrypoint(*command)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"entrypoint: ok: {' '.join(command)}" in result.stdout


def test_the_image_default_command_resolves():
    (arguments,) = [i.arguments for i in dockerfile_instructions() if i.keyword == "CMD"]
    result = entrypoint(*json.loads(arguments))
    assert result.returncode == 0, result.stderr


def test_a_bare_verb_is_a_lithomap_verb():
    result = entrypoint("generate", "--region", "puertollano")
    assert result.returncode == 0, result.stderr
    assert "entrypoint: ok: lithomap generate --region puertollano" in result.stdout


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (["lithomap", "retrian"], "does not resolve"),
        (["lithomap", "generate", "--regoin", "puertollano"], "does not resolve"),
        (["prefect", "worker", "start", "--pol", "lithomap"], "'--pol' is not an option"),
        (["streamlit", "run", "dashboard/missing.py"], "'dashboard/missing.py' does not exist"),
        (["bash", "-c", "true"], "cannot check 'bash'"),
    ],
    ids=["unknown verb", "unknown option", "unknown prefect option", "missing script", "unchecked program"],
)
def test_a_command_that_would_fail_in_the_container_fails_the_check(command, message):
    result = entrypoint(*command)
    assert result.returncode == 64
    assert message in result.stderr


def test_a_script_that_is_not_python_fails_the_check(tmp_path):
    (tmp_path / "app.py").write_text("def broken(:\n", encoding="utf-8")
    result = entrypoint("streamlit", "run", "app.py", cwd=tmp_path)
    assert result.returncode == 64
    assert "'app.py' is not valid Python" in result.stderr


def test_without_check_mode_the_command_runs():
    result = entrypoint("classes", "Granodioritas", check=False)
    assert result.returncode == 0, result.stderr
    assert "plutonic" in result.stdout
    assert "entrypoint:" not in result.stdout


def test_the_dashboard_command_resolves_with_a_stand_in_app(tmp_path):
    command = app_services(compose())["dashboard"]["command"]
    app = tmp_path / command[2]
    app.parent.mkdir(parents=True)
    app.write_text('import streamlit as st\n\nst.title("lithomap")\n', encoding="utf-8")
    result = entrypoint(*command, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
