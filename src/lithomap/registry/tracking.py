"""MLflow tracking: where runs go, and what one training run records.

One run per (region, model, experiment), in the MLflow experiment ``lithomap-<region>``,
named ``<arch>-<experiment>``. It records:

- tags: ``lithomap.region``, ``lithomap.arch``, ``lithomap.experiment``,
  ``lithomap.git_commit``, ``lithomap.data_version``, ``lithomap.test_blocks``;
- params: the run's parameters flattened to dotted keys (``train.lr``, ``model.depth``);
- metrics per epoch (step = epoch): every Keras history key (``loss``, ``val_loss``,
  ``macro_f1``, ``val_macro_f1``, …);
- final test metrics: ``test_oa``, ``test_macro_f1``, ``test_weighted_f1``, ``test_miou``,
  ``test_kappa``, ``test_balanced_accuracy``, ``test_quantity_disagreement``,
  ``test_allocation_disagreement``, ``test_n_pixels``, per class present
  ``test_f1_<class>``, ``test_iou_<class>``, ``test_support_<class>``, and the block
  bootstrap intervals ``test_oa_ci_low``/``_high``, ``test_macro_f1_ci_low``/``_high``;
- artifacts: ``evaluation/scores.json`` (all scores and the confusion matrix),
  ``evaluation/block_confusions.json`` (the confusion matrix of each test block, by block
  id: what the paired promotion gate resamples),
  ``figures/confusion_matrix.png``, ``figures/curves.png``, ``figures/sample_prediction.png``,
  ``normalisation/normalisation.json``, and the model (see ``pyfunc``).

Nothing here runs at import time: entry points call ``configure_tracking`` first.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
from mlflow.tracking import MlflowClient

from lithomap.classes import class_names
from lithomap.errors import TrackingError
from lithomap.models.normalisation import ChannelStats, save_stats
from lithomap.registry.provenance import data_version, git_commit

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
DEFAULT_ARTIFACT_ROOT = Path("mlartifacts")
TAG_PREFIX = "lithomap."
TEST_PREFIX = "test_"
FLOW_RUN_ENV = "LITHOMAP_FLOW_RUN_ID"
EVALUATION_ARTIFACTS = "evaluation"
BLOCK_CONFUSIONS_FILE = "block_confusions.json"
_MAX_PARAM_LENGTH = 6000
# MLflow retries an unreachable server 7 times with backoff (about four minutes) before it
# says so; lithomap fails within seconds instead. Both stay configurable through MLflow's own
# variables, which win when set.
HTTP_RETRIES_ENV = "MLFLOW_HTTP_REQUEST_MAX_RETRIES"
HTTP_TIMEOUT_ENV = "MLFLOW_HTTP_REQUEST_TIMEOUT"
DEFAULT_HTTP_RETRIES = 2
DEFAULT_HTTP_TIMEOUT_S = 30


def configure_tracking(uri: str | None = None) -> str:
    """Point MLflow tracking and the model registry at one store.

    Args:
        uri: tracking URI; None uses ``$MLFLOW_TRACKING_URI``, else ``sqlite:///mlflow.db``
            (relative to the working directory).

    HTTP requests to a tracking server are bounded: ``$MLFLOW_HTTP_REQUEST_MAX_RETRIES``
    (default here 2, MLflow's own is 7) and ``$MLFLOW_HTTP_REQUEST_TIMEOUT`` (default 30 s).

    Returns:
        The URI in use.
    """
    os.environ.setdefault(HTTP_RETRIES_ENV, str(DEFAULT_HTTP_RETRIES))
    os.environ.setdefault(HTTP_TIMEOUT_ENV, str(DEFAULT_HTTP_TIMEOUT_S))
    resolved = uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI
    mlflow.set_tracking_uri(resolved)
    mlflow.set_registry_uri(resolved)
    return resolved


def tracking_failure(error: BaseException) -> TrackingError:
    """An MLflow or database failure as one message naming the store and the fix."""
    uri = mlflow.get_tracking_uri()
    first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
    if getattr(error, "error_code", None) == "RESOURCE_DOES_NOT_EXIST":
        fix = "check the region, model and version names, or train, evaluate and promote a model first (`make demo`)"
    elif _is_local_store(uri):
        fix = (
            "if the file is damaged, move it aside (`mv mlflow.db mlflow.db.broken`; its runs are lost) or restore "
            "a backup, or point MLFLOW_TRACKING_URI at another store"
        )
    else:
        fix = (
            "check that the tracking server runs and answers at that address (`make mlflow-ui` starts a local one), "
            f"or point MLFLOW_TRACKING_URI elsewhere; retries and timeout: ${HTTP_RETRIES_ENV}, ${HTTP_TIMEOUT_ENV}"
        )
    return TrackingError(f"MLflow tracking store {uri}: {first_line[:400]}. Fix: {fix}")


def _is_local_store(uri: str) -> bool:
    return uri.startswith(("sqlite:", "file:")) or "://" not in uri


def experiment_name(region: str) -> str:
    """Name of the MLflow experiment holding a region's runs."""
    return f"lithomap-{region}"


def ensure_experiment(name: str, artifact_root: str | Path | None = None) -> str:
    """Id of the MLflow experiment ``name``, created if needed.

    With a local store (SQLite, files) new experiments keep their artifacts under
    ``artifact_root/<name>`` (default ``./mlartifacts``); a tracking server decides itself.

    Returns:
        The experiment id.
    """
    client = MlflowClient()
    existing = client.get_experiment_by_name(name)
    if existing is not None:
        return existing.experiment_id
    location = None
    if artifact_root is not None or _is_local_store(mlflow.get_tracking_uri()):
        location = (Path(artifact_root or DEFAULT_ARTIFACT_ROOT) / name).resolve().as_uri()
    return client.create_experiment(name, artifact_location=location)


def flatten_params(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested parameters (dicts, pydantic models) as ``{"section.key": "value"}`` strings.

    Lists become JSON; values longer than MLflow's limit are cut with an ellipsis.
    """
    flat: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if hasattr(value, "model_dump"):
            value = value.model_dump(mode="json")
        if isinstance(value, Mapping):
            flat.update(flatten_params(value, prefix=f"{name}."))
            continue
        text = json.dumps(list(value)) if isinstance(value, list | tuple) else str(value)
        flat[name] = text if len(text) <= _MAX_PARAM_LENGTH else text[: _MAX_PARAM_LENGTH - 1] + "…"
    return flat


@contextmanager
def training_run(
    region: str,
    arch: str,
    experiment: str,
    params: Mapping[str, Any],
    *,
    data_path: str | Path | None = None,
    test_blocks: str = "unknown",
    repo_dir: str | Path = ".",
    artifact_root: str | Path | None = None,
    extra_tags: Mapping[str, str] | None = None,
) -> Iterator[mlflow.ActiveRun]:
    """Start the MLflow run of one (region, model, experiment) with its tags and params.

    Args:
        region: study region (``puertollano``, …).
        arch: ``cnn`` or ``convlstm``.
        experiment: input selection name (``thermal``, ``day``, …).
        params: everything the run used (model, train, data sections).
        data_path: the processed data folder, for the DVC data version.
        test_blocks: fingerprint of the test blocks (``provenance.blocks_fingerprint``).
        repo_dir: repository root, for git and DVC.
        artifact_root: local artifact folder for a new experiment (default ./mlartifacts).
        extra_tags: more tags to set.

    A run started by an orchestrator that sets ``$LITHOMAP_FLOW_RUN_ID`` (``lithomap retrain``
    does) carries it as the tag ``lithomap.flow_run_id``.

    Yields:
        The active run.
    """
    experiment_id = ensure_experiment(experiment_name(region), artifact_root)
    tags = {
        f"{TAG_PREFIX}region": region,
        f"{TAG_PREFIX}arch": arch,
        f"{TAG_PREFIX}experiment": experiment,
        f"{TAG_PREFIX}git_commit": git_commit(repo_dir),
        f"{TAG_PREFIX}data_version": data_version(data_path, repo_dir),
        f"{TAG_PREFIX}test_blocks": test_blocks,
        **(extra_tags or {}),
    }
    if os.environ.get(FLOW_RUN_ENV):
        tags[f"{TAG_PREFIX}flow_run_id"] = os.environ[FLOW_RUN_ENV]
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"{arch}-{experiment}", tags=tags) as run:
        mlflow.log_params(flatten_params(params))
        yield run


def log_history(history: Mapping[str, Sequence[float]]) -> None:
    """Log every per-epoch value of a Keras history (step = epoch index, from 0)."""
    epochs = max((len(values) for values in history.values()), default=0)
    for epoch in range(epochs):
        values = {key: float(series[epoch]) for key, series in history.items() if epoch < len(series)}
        mlflow.log_metrics({key: value for key, value in values.items() if np.isfinite(value)}, step=epoch)


def flatten_test_scores(
    scores: Mapping[str, Any],
    intervals: Mapping[str, tuple[float, float]] | None = None,
    names: Sequence[str] | None = None,
) -> dict[str, float]:
    """Flat ``test_*`` metric dict from ``scores_from_confusion`` (and ``block_bootstrap``) output.

    Per-class values are named by class (``test_f1_clay``) and kept only for classes present
    in the reference; NaN scalars are left out.
    """
    labels = list(names or class_names())
    metrics = {
        f"{TEST_PREFIX}{key}": float(value)
        for key, value in scores.items()
        if key != "per_class" and np.isfinite(float(value))
    }
    per_class = scores.get("per_class", {})
    support = np.asarray(per_class.get("support", []))
    for index, count in enumerate(support):
        if count <= 0:
            continue
        metrics[f"{TEST_PREFIX}support_{labels[index]}"] = float(count)
        for key in ("f1", "iou"):
            value = float(per_class[key][index])
            if np.isfinite(value):
                metrics[f"{TEST_PREFIX}{key}_{labels[index]}"] = value
    for key, (low, high) in (intervals or {}).items():
        metrics[f"{TEST_PREFIX}{key}_ci_low"] = float(low)
        metrics[f"{TEST_PREFIX}{key}_ci_high"] = float(high)
    return metrics


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, np.ndarray):
        return [_jsonable(item) for item in value.tolist()]
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def log_evaluation(
    scores: Mapping[str, Any],
    confusion: np.ndarray,
    *,
    intervals: Mapping[str, tuple[float, float]] | None = None,
    history: Mapping[str, Sequence[float]] | None = None,
    sample: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    stats: Mapping[str, ChannelStats] | None = None,
    block_confusions: Mapping[str, np.ndarray] | None = None,
) -> dict[str, float]:
    """Log the final test metrics, the scores JSON, the figures and the normalisation stats.

    Args:
        scores: ``scores_from_confusion`` of the test confusion matrix.
        confusion: the test confusion matrix (rows = reference).
        intervals: ``block_bootstrap`` output.
        history: Keras history, for the curves figure.
        sample: (input channel (H, W), reference (H, W), prediction (H, W)) of one test patch.
        stats: normalisation statistics per model input.
        block_confusions: test block id → that block's confusion matrix (they sum to
            ``confusion``), logged as ``evaluation/block_confusions.json``.

    Returns:
        The metrics logged.
    """
    from lithomap.models.plots import plot_confusion, plot_curves, plot_sample

    metrics = flatten_test_scores(scores, intervals)
    mlflow.log_metrics(metrics)
    with tempfile.TemporaryDirectory(prefix="lithomap-eval-") as folder:
        root = Path(folder)
        document = {"scores": _jsonable(scores), "intervals": _jsonable(intervals or {}), "confusion": confusion}
        (root / "scores.json").write_text(json.dumps(_jsonable(document), indent=2), encoding="utf-8")
        mlflow.log_artifact(str(root / "scores.json"), artifact_path=EVALUATION_ARTIFACTS)
        if block_confusions is not None:
            blocks = root / BLOCK_CONFUSIONS_FILE
            blocks.write_text(json.dumps(_jsonable(dict(block_confusions))), encoding="utf-8")
            mlflow.log_artifact(str(blocks), artifact_path=EVALUATION_ARTIFACTS)
        figures = [plot_confusion(confusion, root / "confusion_matrix.png")]
        if history:
            figures.append(plot_curves(history, root / "curves.png"))
        if sample is not None:
            figures.append(plot_sample(*sample, root / "sample_prediction.png"))
        for figure in figures:
            mlflow.log_artifact(str(figure), artifact_path="figures")
        if stats:
            mlflow.log_artifact(str(save_stats(stats, root / "normalisation.json")), artifact_path="normalisation")
    return metrics
