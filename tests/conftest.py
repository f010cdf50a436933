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


@pytest.fixture
def realdata():
    """Return a function giving the path of one real-data folder, or skipping with the reason."""

    def folder(name: str) -> Path:
        path = realdata_root() / name
        if not path.is_dir():
            pytest.skip(f"real data folder {path} is absent; set ${REALDATA_ENV} to the folder holding {name}/")
        return path

    return folder
