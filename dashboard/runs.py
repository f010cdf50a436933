"""MLflow runs as tables: one row per (region, model, experiment) run, filters, curves, figures.

Reads the MLflow layout the pipeline writes (experiments ``lithomap-<region>``, tags
``lithomap.region/arch/experiment``, ``test_*`` metrics, figures as artifacts) through
``MlflowClient`` only.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pandas as pd
from mlflow.entities import Run
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from dashboard.sources import DashboardDataError, store_exists
from lithomap.registry.tracking import TAG_PREFIX, TEST_PREFIX

EXPERIMENT_PREFIX = "lithomap-"
F1_PREFIX = f"{TEST_PREFIX}f1_"
RUN_COLUMNS = (
    "region",
    "model",
    "experiment",
    "macro_f1",
    "macro_f1_low",
    "macro_f1_high",
    "accuracy",
    "kappa",
    "baseline_macro_f1",
    "started",
    "run_id",
    "experiment_id",
)
CURVE_KEYS = ("loss", "val_loss", "macro_f1", "val_macro_f1")


def open_client(uri: str) -> MlflowClient | None:
    """A client on the pipeline's store, or None when the store does not exist yet."""
    if not store_exists(uri):
        return None
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def as_timestamp(milliseconds: int | None) -> pd.Timestamp | None:
    """An MLflow time (milliseconds since the epoch) as a UTC timestamp."""
    if milliseconds is None:
        return None
    return pd.Timestamp(datetime.fromtimestamp(milliseconds / 1000, tz=UTC))


def _row(run: Run) -> dict:
    tags, metrics = run.data.tags, run.data.metrics
    return {
        "region": tags.get(f"{TAG_PREFIX}region", ""),
        "model": tags.get(f"{TAG_PREFIX}arch", ""),
        "experiment": tags.get(f"{TAG_PREFIX}experiment", ""),
        "macro_f1": metrics.get(f"{TEST_PREFIX}macro_f1"),
        "macro_f1_low": metrics.get(f"{TEST_PREFIX}macro_f1_ci_low"),
        "macro_f1_high": metrics.get(f"{TEST_PREFIX}macro_f1_ci_high"),
        "accuracy": metrics.get(f"{TEST_PREFIX}oa"),
        "kappa": metrics.get(f"{TEST_PREFIX}kappa"),
        "baseline_macro_f1": metrics.get("baseline_macro_f1"),
        "started": as_timestamp(run.info.start_time),
        "run_id": run.info.run_id,
        "experiment_id": run.info.experiment_id,
    }


def runs_table(client: MlflowClient) -> pd.DataFrame:
    """Every finished lithomap run, newest first, with its headline scores.

    Raises:
        DashboardDataError: the store cannot be read.
    """
    try:
        experiments = [e for e in client.search_experiments() if e.name.startswith(EXPERIMENT_PREFIX)]
        runs = (
            client.search_runs(
                [e.experiment_id for e in experiments],
                filter_string=f"tags.`{TAG_PREFIX}region` != ''",
                order_by=["attributes.start_time DESC"],
                max_results=5000,
            )
            if experiments
            else []
        )
    except MlflowException as error:
        raise DashboardDataError(
            f"the MLflow store cannot be read ({error.message}); check $MLFLOW_TRACKING_URI"
        ) from error
    return pd.DataFrame([_row(run) for run in runs], columns=list(RUN_COLUMNS))


def filter_runs(
    runs: pd.DataFrame,
    regions: Sequence[str] = (),
    models: Sequence[str] = (),
    experiments: Sequence[str] = (),
) -> pd.DataFrame:
    """The runs whose region, model and experiment are among those chosen (empty = any)."""
    keep = pd.Series(True, index=runs.index)
    for column, chosen in (("region", regions), ("model", models), ("experiment", experiments)):
        if chosen:
            keep &= runs[column].isin(list(chosen))
    return runs[keep]


def run_label(row: pd.Series) -> str:
    """Short name of a run for pickers and chart legends: ``region · model · experiment · id``."""
    return f"{row['region']} · {row['model']} · {row['experiment']} · {str(row['run_id'])[:6]}"


def per_class_f1(client: MlflowClient, run_ids: Sequence[str]) -> pd.DataFrame:
    """Long table (run_id, class, f1) of the per-class test F1 of each run."""
    rows = [
        {"run_id": run_id, "class": key.removeprefix(F1_PREFIX), "f1": value}
        for run_id in run_ids
        for key, value in client.get_run(run_id).data.metrics.items()
        if key.startswith(F1_PREFIX)
    ]
    return pd.DataFrame(rows, columns=["run_id", "class", "f1"])


def training_curves(client: MlflowClient, run_id: str, keys: Sequence[str] = CURVE_KEYS) -> pd.DataFrame:
    """Long table (epoch, metric, value) of the per-epoch history logged for a run."""
    rows = [
        {"epoch": point.step, "metric": key, "value": point.value}
        for key in keys
        for point in client.get_metric_history(run_id, key)
    ]
    return pd.DataFrame(rows, columns=["epoch", "metric", "value"])


def run_artifact(client: MlflowClient, run_id: str, path: str) -> bytes | None:
    """The bytes of one run artifact (e.g. ``figures/confusion_matrix.png``), None if absent.

    The artifact is copied into a temporary folder that is removed at once.
    """
    with tempfile.TemporaryDirectory(prefix="lithomap-dashboard-") as folder:
        try:
            local = client.download_artifacts(run_id, path, folder)
        except (MlflowException, OSError):
            return None
        file = Path(local)
        return file.read_bytes() if file.is_file() else None


def mlflow_ui_link(base_url: str, runs: pd.DataFrame) -> str:
    """URL of the MLflow UI comparing the given runs (one run: its own page)."""
    base = base_url.rstrip("/")
    if len(runs) == 1:
        row = runs.iloc[0]
        return f"{base}/#/experiments/{row['experiment_id']}/runs/{row['run_id']}"
    run_ids = quote(json.dumps(list(runs["run_id"])))
    experiment_ids = quote(json.dumps(sorted(set(runs["experiment_id"]))))
    return f"{base}/#/compare-runs?runs={run_ids}&experiments={experiment_ids}"


def last_run_by_region(runs: pd.DataFrame) -> dict[str, pd.Timestamp]:
    """The start time of the newest run of each region."""
    if runs.empty:
        return {}
    return runs.groupby("region")["started"].max().to_dict()
