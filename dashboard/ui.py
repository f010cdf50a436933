"""Streamlit pieces shared by the pages: cached reads, problem messages, 'what to run' notes, legend.

Caches: MLflow reads live 30 s (a retrain shows up on the next visit); raster reads are
keyed on the file's content hash, itself cached per (path, size, modification time), so a
large raster is decoded once per version of the file, never on every rerun.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd
import streamlit as st
from mlflow.tracking import MlflowClient

from dashboard import models, rasters, runs
from dashboard.sources import Sources, load_sources, sqlite_file
from lithomap.classes import all_classes
from lithomap.errors import LithomapError

T = TypeVar("T")
MLFLOW_TTL_S = 30
MAX_PX = 512
RUN_PIPELINE = "make demo"


def sources() -> Sources:
    """The locations to read, with any params.yaml problem shown on the page."""
    found = load_sources()
    for problem in found.problems:
        st.warning(f"params.yaml could not be read, so default folders are used: {problem}")
    return found


def guarded(read: Callable[..., T], *args: object) -> T | None:
    """``read(*args)``, or None with the problem shown as a warning (never a traceback)."""
    try:
        return read(*args)
    except (LithomapError, OSError, ValueError) as error:
        st.warning(str(error))
        return None


def need(command: str, what: str) -> None:
    """Say that something is not there yet and which command makes it."""
    st.info(f"{what} Run `{command}` to make it.", icon=":material/info:")


def regions_or_stop(found: Sources) -> list[str]:
    """The regions of params.yaml, or a message and the end of the page when there are none."""
    if not found.regions:
        need("lithomap generate", "No regions are defined in params.yaml.")
        st.stop()
    return list(found.regions)


def client_or_stop(found: Sources) -> MlflowClient:
    """The MLflow client, or a 'nothing tracked yet' message and the end of the page."""
    client = runs.open_client(found.tracking_uri)
    if client is None:
        database = sqlite_file(found.tracking_uri)
        where = f" (no {database} yet)" if database else ""
        need(RUN_PIPELINE, f"No models have been trained and tracked yet{where}.")
        st.caption(f"Tracking store: `{found.tracking_uri}`; set $MLFLOW_TRACKING_URI to read another.")
        st.stop()
    return client


MLFLOW_READS: dict[str, Callable[[MlflowClient], pd.DataFrame]] = {
    "runs": runs.runs_table,
    "champions": models.champions,
    "versions": models.versions_table,
    "promotions": models.promotion_history,
}


@st.cache_data(ttl=MLFLOW_TTL_S, show_spinner=False)
def tracked(uri: str, table: str) -> pd.DataFrame:
    """One of the MLflow tables (``runs``, ``champions``, ``versions``, ``promotions``), cached 30 s."""
    return MLFLOW_READS[table](MlflowClient(tracking_uri=uri, registry_uri=uri))


@st.cache_data(max_entries=64, show_spinner=False)
def run_figure(uri: str, run_id: str, path: str) -> bytes | None:
    """A run's figure artifact (runs never change their artifacts, so it is cached for good)."""
    return runs.run_artifact(MlflowClient(tracking_uri=uri, registry_uri=uri), run_id, path)


@st.cache_data(max_entries=256, show_spinner=False)
def _digest(path: str, size: int, modified_ns: int) -> str:
    return rasters.file_digest(Path(path))


def digest(path: Path) -> str:
    """Content hash of a file or folder, recomputed only when its size or time changes."""
    stat = path.stat()
    return _digest(str(path), stat.st_size, stat.st_mtime_ns)


@st.cache_data(max_entries=64, show_spinner=False)
def _band(path: str, content: str, max_px: int, band: int) -> np.ndarray:
    return rasters.read_band(Path(path), max_px, band)


def band(path: Path, band_index: int = 1, max_px: int = MAX_PX) -> np.ndarray:
    """A raster band at display size, cached on the file's content hash."""
    return _band(str(path), digest(path), max_px, band_index)


@st.cache_data(max_entries=16, show_spinner=False)
def _cube_layers(path: str, content: str, max_px: int) -> dict[str, np.ndarray]:
    return rasters.read_cube_layers(Path(path), max_px)


def cube_layers(path: Path, max_px: int = MAX_PX) -> dict[str, np.ndarray]:
    """Labels and NDVI of a region cube at display size, cached on the cube's hash."""
    return _cube_layers(str(path), digest(path), max_px) if path.exists() else {}


@st.cache_data(max_entries=16, show_spinner=False)
def _test_pixels(path: str, content: str, max_px: int) -> np.ndarray | None:
    return rasters.read_test_pixels(Path(path), max_px)


def test_pixels(path: Path, max_px: int = MAX_PX) -> np.ndarray | None:
    """The test-block mask at display size, cached on the split file's hash."""
    return _test_pixels(str(path), digest(path), max_px) if path.is_file() else None


@st.cache_data(max_entries=16, show_spinner=False)
def _file_bytes(path: str, content: str) -> bytes:
    return Path(path).read_bytes()


def file_bytes(path: Path) -> bytes:
    """A file's bytes for a download button, cached on its hash."""
    return _file_bytes(str(path), digest(path))


def legend(class_ids: list[int]) -> None:
    """The class legend: a colour swatch, the id and the name of each class shown."""
    classes = all_classes()
    items = [
        f'<span style="display:inline-block;width:0.9em;height:0.9em;background:{classes[i].colour};'
        f'border:1px solid #555;margin-right:0.3em;vertical-align:middle"></span>{i} {classes[i].label}'
        for i in class_ids
        if 0 <= i < len(classes)
    ]
    st.markdown("**Legend**")
    st.markdown("<br>".join(items), unsafe_allow_html=True)
