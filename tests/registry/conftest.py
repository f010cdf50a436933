"""A real MLflow SQLite store in a temporary folder, shared by the tests of this session.

Creating a store runs MLflow's migrations (seconds), so the database is made once; tests
keep apart by using different regions and architectures.
"""

from __future__ import annotations

import mlflow
import pytest

from lithomap.registry.tracking import configure_tracking


@pytest.fixture(scope="session")
def _store_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("mlflow-store")


@pytest.fixture
def tracking_store(_store_dir, tmp_path, monkeypatch):
    """Tracking and registry on ``<store>/mlflow.db``, artifacts in ``<store>/mlartifacts``; cwd is tmp_path."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    configure_tracking(f"sqlite:///{_store_dir / 'mlflow.db'}")
    yield _store_dir
    if mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.set_tracking_uri(None)
    mlflow.set_registry_uri(None)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    assert not (tmp_path / "mlruns").exists(), "a test wrote to ./mlruns instead of the temporary store"
