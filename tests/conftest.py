"""Shared fixtures: the real-data folder and tiny seeded GeoTIFFs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REALDATA_ENV = "LITHOMAP_REALDATA"
REPO_ROOT = Path(__file__).resolve().parents[1]


def realdata_root() -> Path:
    """$LITHOMAP_REALDATA, else ../shared/realdata next to the repository."""
    return Path(os.environ.get(REALDATA_ENV) or REPO_ROOT.parent / "shared" / "realdata")


@pytest.fixture(autouse=True)
def _tracking_uri_does_not_leak():
    """Give every test mlflow's default store settings, in-process and in the environment.

    ``lithomap.registry.tracking.configure_tracking`` (as ``mlflow.set_tracking_uri`` /
    ``set_registry_uri``) sets module globals *and* ``$MLFLOW_TRACKING_URI`` /
    ``$MLFLOW_REGISTRY_URI``. Left in place, a test that maps or promotes in-process would
    point a later test on the same xdist worker (its ``MlflowClient()`` or its ``lithomap``
    subprocesses) at its own store.
    """
    import mlflow

    saved = {name: os.environ.get(name) for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    yield
    mlflow.set_tracking_uri(None)  # clears the global and unsets $MLFLOW_TRACKING_URI
    mlflow.set_registry_uri(None)  # clears the global (leaves the variable: restored below)
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture
def realdata():
    """Return a function giving the path of one real-data folder, or skipping with the reason."""

    def folder(name: str) -> Path:
        path = realdata_root() / name
        if not path.is_dir():
            pytest.skip(f"real data folder {path} is absent; set ${REALDATA_ENV} to the folder holding {name}/")
        return path

    return folder


def tiny_params_dict(
    root: Path, size_px: int = 96, acquisitions: int = 10, seed: int = 7, sentinel1_dates: int = 1
) -> dict:
    """Params of one small synthetic region whose outputs all live under ``root``."""
    return {
        "regions": {
            "tiny": {
                "raw_dir": str(root / "raw" / "tiny"),
                "crs": "EPSG:32630",
                "resolution": 70,
                "synthetic": {
                    "seed": seed,
                    "centre_lon": -4.11,
                    "centre_lat": 38.69,
                    "utm_epsg": 32630,
                    "mgrs_tile": "30SVH",
                    "mean_air_temperature_c": 15.5,
                    "class_mix": {
                        "sand": 0.2,
                        "clay": 0.2,
                        "carbonate": 0.25,
                        "volcanic": 0.1,
                        "detritic": 0.2,
                        "water": 0.05,
                    },
                },
            }
        },
        "generate": {
            "size_px": size_px,
            "thermal_acquisitions": acquisitions,
            "cloudy_fraction": 0.0,
            "sentinel1_dates": sentinel1_dates,
            "sentinel2_dates": 1,
            "quicklook_dir": str(root / "quicklook"),
            # the clean scenes: the shared fixture tests the pipeline, not the nuisances
            "realism": {"nuisance": 0.0},
        },
        "ingest": {"interim_dir": str(root / "interim"), "chunk_px": 64},
        "experiments": {
            "thermal": {"time_of_day": "any"},
            "day": {"time_of_day": "day"},
            "night": {"time_of_day": "night"},
            "all": {"static": ["vv", "vh", "ndvi"]},
        },
        "preprocess": {
            "processed_dir": str(root / "processed"),
            "reports_dir": str(root / "reports" / "datasets"),
            "patch_size": 16,
            "block_size": 16,
            "sequence_length": 4,
            "shard_size": 8,
        },
        "validation": {"reports_dir": str(root / "reports" / "validation")},
        "train": {
            "preset": "tiny",
            "presets": {
                "tiny": {
                    "epochs": 3,
                    "batch_size": 4,
                    "learning_rate": {"cnn": 0.005, "convlstm": 0.005},
                    "l2": 0.0001,
                    "patience": 3,
                },
            },
            "models_dir": str(root / "models"),
        },
        "model": {
            "cnn": {"base_filters": 8, "depth": 2},
            "convlstm": {"base_filters": 8, "depth": 2, "lstm_filters": 8},
        },
        "loss": {"class_weights": "auto"},
        "evaluate": {
            "reports_dir": str(root / "reports" / "evaluation"),
            "n_boot": 50,
            "baseline_pixels": 2000,
            "baseline_max_iter": 20,
        },
        # A 3-epoch toy net need not beat the per-pixel baseline; tests/registry tests that check.
        "promote": {"reports_dir": str(root / "reports" / "promotion"), "beat_baseline": False},
        "tracking": {"artifact_root": str(root / "mlartifacts")},
        "matrix": {"reports_dir": str(root / "reports" / "matrix"), "experiments": ["thermal", "night"]},
    }


def generated_region(raw: dict):
    """Generate and ingest the region ``tiny`` of params ``raw``; return the parsed params."""
    from lithomap.config import parse_params
    from lithomap.io.ingest import ingest_region
    from lithomap.scenes.generate import generate_region

    params = parse_params(raw)
    region = params.region("tiny")
    generate_region("tiny", region, params.generate, quicklook=False, progress=False)
    ingest_region("tiny", region, params.ingest, progress=False)
    return params


@pytest.fixture(scope="session")
def tiny_region(tmp_path_factory):
    """A generated and ingested small synthetic region: (params, root), shared by many tests."""
    root = tmp_path_factory.mktemp("tiny_region")
    return generated_region(tiny_params_dict(root)), root


@pytest.fixture(scope="session")
def tiny_sar_region(tmp_path_factory):
    """A smaller region with three Sentinel-1 dates and the experiment ``thermal_sar_series``: (params, root)."""
    root = tmp_path_factory.mktemp("tiny_sar_region")
    raw = tiny_params_dict(root, size_px=48, sentinel1_dates=3)
    raw["experiments"]["thermal_sar_series"] = {"sar_series": True}
    return generated_region(raw), root
