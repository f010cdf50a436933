"""Where the dashboard reads from: params.yaml's folders, the MLflow store, maps and reports.

The dashboard never writes. In particular it opens a SQLite tracking store only when the
file exists: MLflow would otherwise create an empty database (a write) before any
pipeline run.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

from lithomap.config import Params, RegionParams, load_params, params_path
from lithomap.errors import LithomapError
from lithomap.registry.tracking import DEFAULT_TRACKING_URI

MAPS_DIR = Path("maps")
"""Default ``lithomap map`` output (params ``map.maps_dir``): ``maps/<region>/<model>-<experiment>/``."""
SCIENCE_DIR = Path("reports")
"""Default ``lithomap report`` output (params ``report.reports_dir``): ``reports/<region>/``."""
MLFLOW_UI_ENV = "LITHOMAP_MLFLOW_UI"
DEFAULT_MLFLOW_UI = "http://127.0.0.1:5000"


class DashboardDataError(LithomapError):
    """A file or store the dashboard reads is missing or unreadable; the message says what to run."""


@dataclass(frozen=True)
class Sources:
    """Every location the dashboard reads, resolved once per page run."""

    params_file: Path
    regions: dict[str, RegionParams]
    experiments: tuple[str, ...]
    tracking_uri: str
    evaluation_dir: Path
    validation_dir: Path
    matrix_dir: Path
    loro_dir: Path
    promotion_dir: Path
    datasets_dir: Path
    interim_dir: Path
    processed_dir: Path
    maps_dir: Path = MAPS_DIR
    science_dir: Path = SCIENCE_DIR
    mlflow_ui: str = DEFAULT_MLFLOW_UI
    problems: tuple[str, ...] = field(default=())

    @classmethod
    def from_params(cls, params: Params, params_file: Path, tracking_uri: str) -> Sources:
        """Locations taken from a loaded params file."""
        return cls(
            params_file=params_file,
            regions=dict(params.regions),
            experiments=tuple(params.experiments),
            tracking_uri=tracking_uri,
            evaluation_dir=params.evaluate.reports_dir,
            validation_dir=params.validation.reports_dir,
            matrix_dir=params.matrix.reports_dir,
            loro_dir=params.loro.reports_dir,
            promotion_dir=params.promote.reports_dir,
            datasets_dir=params.preprocess.reports_dir,
            interim_dir=params.ingest.interim_dir,
            processed_dir=params.preprocess.processed_dir,
            maps_dir=params.map.maps_dir,
            science_dir=params.report.reports_dir,
            mlflow_ui=os.environ.get(MLFLOW_UI_ENV, DEFAULT_MLFLOW_UI),
        )


def tracking_uri() -> str:
    """The pipeline's tracking URI: ``$MLFLOW_TRACKING_URI``, else ``sqlite:///mlflow.db``."""
    return os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


def load_sources() -> Sources:
    """Read params.yaml (``$LITHOMAP_PARAMS``) into the dashboard's locations.

    Never raises: an unreadable params file leaves the default folders and no regions,
    with the reason in ``problems`` for the page to show.
    """
    path = params_path()
    uri = tracking_uri()
    try:
        return Sources.from_params(load_params(path), path, uri)
    except LithomapError as error:
        sources = Sources.from_params(Params(regions={}), path, uri)
        return dataclasses.replace(sources, problems=(str(error),))


def sqlite_file(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI (None for other stores)."""
    prefix = "sqlite:///"
    return Path(uri.removeprefix(prefix)) if uri.startswith(prefix) else None


def store_exists(uri: str) -> bool:
    """Whether the tracking store can be read without creating it."""
    database = sqlite_file(uri)
    if database is not None:
        return database.is_file()
    if uri.startswith("file:") or "://" not in uri:
        return Path(uri.removeprefix("file://")).is_dir()
    return True
