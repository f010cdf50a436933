"""Fixtures of the flow tests: Prefect's test harness, the flow module, a toy DVC project."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests.flows.toy import make_project

REPO = Path(__file__).resolve().parents[2]
HARNESS_STARTUP_S = 240  # a temporary Prefect server on a busy 2-core machine


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[None]:
    """Prefect's test harness: a temporary database and API for the whole session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=HARNESS_STARTUP_S):
        yield


@pytest.fixture(scope="session")
def flows_module() -> ModuleType:
    """flows/retrain.py, loaded as a module."""
    spec = importlib.util.spec_from_file_location("lithomap_flows_retrain", REPO / "flows" / "retrain.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def toy(tmp_path: Path) -> Path:
    """A fresh toy git+DVC project (two regions: north, south)."""
    return make_project(tmp_path / "toy")
