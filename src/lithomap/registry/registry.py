"""Model registry: the registered-model name, registering versions, reading their scores, loading by alias.

Registered models are named ``lithomap-<region>-<arch>`` (``model_name``, the one place
that name is built); the global model, trained on every labelled region, is
``lithomap-global-<arch>``. A newly registered version gets the alias ``challenger``; the
gate in ``registry.promotion`` moves ``champion``. Stages are not used (deprecated in
MLflow 3). A global version carries its expected accuracy on a new region, its
leave-one-region-out score, as tags (``expected_tags``, read back by ``recorded_expectation``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Literal

import mlflow
import numpy as np
from mlflow.entities import Run
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.pyfunc import PyFuncModel
from mlflow.tracking import MlflowClient
from sqlalchemy.exc import SQLAlchemyError

from lithomap.errors import ConfigError, LithomapError
from lithomap.registry.tracking import (
    BLOCK_CONFUSIONS_FILE,
    EVALUATION_ARTIFACTS,
    TAG_PREFIX,
    TEST_PREFIX,
    tracking_failure,
)

Arch = Literal["cnn", "convlstm"]
ARCHES: tuple[str, ...] = ("cnn", "convlstm")
CHAMPION = "champion"
CHALLENGER = "challenger"
HEADLINE = "macro_f1"
# The per-pixel baselines scored on the same test pixels (``lithomap evaluate`` logs both):
# ``fair`` sees the networks' own channels, ``raw`` simple per-pixel temporal features.
BASELINE_METRICS = {"fair": f"baseline_{HEADLINE}", "raw": f"baseline_raw_{HEADLINE}"}
_F1_PREFIX = f"{TEST_PREFIX}f1_"


def model_name(region: str, arch: str) -> str:
    """Registered model name ``lithomap-<region>-<arch>``.

    Raises:
        ConfigError: an unknown arch or a region that is not a lower-case identifier.
    """
    if arch not in ARCHES:
        raise ConfigError(f"unknown model arch {arch!r}; use one of {ARCHES}")
    if not re.fullmatch(r"[a-z][a-z0-9_]*", region):
        raise ConfigError(f"region {region!r} must be a lower-case identifier such as 'santa_olalla'")
    return f"lithomap-{region}-{arch}"


def champion_uri(region: str, arch: str) -> str:
    """``models:/lithomap-<region>-<arch>@champion``."""
    return f"models:/{model_name(region, arch)}@{CHAMPION}"


def load_champion(region: str, arch: str) -> PyFuncModel:
    """The champion model, ready to predict on raw inputs (normalisation included).

    Raises:
        LithomapError: no champion exists yet.
    """
    uri = champion_uri(region, arch)
    try:
        return mlflow.pyfunc.load_model(uri)
    except MlflowException as error:
        raise LithomapError(
            f"{uri}: cannot load the champion ({error.message}); train and promote a model first"
        ) from error


def register(
    model_uri: str,
    region: str,
    arch: str,
    *,
    client: MlflowClient | None = None,
) -> ModelVersion:
    """Register a logged model as a new version and give it the alias ``challenger``.

    The version is tagged with the run's region, arch, experiment, test-block fingerprint
    and test macro-F1 (``lithomap.*`` tags), copied from its run.

    Args:
        model_uri: the logged model (``ModelInfo.model_uri`` or ``runs:/<id>/model``).
        region: study region.
        arch: ``cnn`` or ``convlstm``.
        client: MLflow client (default: the configured store).

    Returns:
        The new model version.
    """
    client = client or MlflowClient()
    name = model_name(region, arch)
    version = mlflow.register_model(model_uri, name)
    run = client.get_run(version.run_id) if version.run_id else None
    tags = {f"{TAG_PREFIX}region": region, f"{TAG_PREFIX}arch": arch}
    if run is not None:
        for key in ("experiment", "test_blocks", "git_commit", "data_version"):
            value = run.data.tags.get(f"{TAG_PREFIX}{key}")
            if value is not None:
                tags[f"{TAG_PREFIX}{key}"] = value
        headline = run.data.metrics.get(f"{TEST_PREFIX}{HEADLINE}")
        if headline is not None:
            tags[f"{TAG_PREFIX}test_{HEADLINE}"] = f"{headline:.6f}"
    for key, value in tags.items():
        client.set_model_version_tag(name, version.version, key, value)
    client.set_registered_model_alias(name, CHALLENGER, version.version)
    return client.get_model_version(name, version.version)


def version_scores(name: str, version: str, client: MlflowClient | None = None) -> dict[str, Any]:
    """Test macro-F1, per-class F1, test-block fingerprint and baselines' macro-F1 of a version, from its run.

    ``baselines`` holds the per-pixel baselines' macro-F1 on the same test pixels by name
    (``fair``, ``raw``; None when the run logged none, e.g. a model published outside
    ``lithomap evaluate``).

    Raises:
        LithomapError: the version's run logged no test macro-F1.
    """
    client = client or MlflowClient()
    model_version, run = version_run(client, name, version)
    metrics = run.data.metrics
    if f"{TEST_PREFIX}{HEADLINE}" not in metrics:
        raise LithomapError(
            f"{name} version {version}: its run {model_version.run_id} has no {TEST_PREFIX}{HEADLINE} metric; "
            "log the test evaluation (tracking.log_evaluation) before registering"
        )
    return {
        HEADLINE: metrics[f"{TEST_PREFIX}{HEADLINE}"],
        "per_class_f1": {
            key.removeprefix(_F1_PREFIX): value for key, value in metrics.items() if key.startswith(_F1_PREFIX)
        },
        "test_blocks": run.data.tags.get(f"{TAG_PREFIX}test_blocks", "unknown"),
        "baselines": {name: metrics.get(metric) for name, metric in BASELINE_METRICS.items()},
    }


def version_block_confusions(
    name: str, version: str, client: MlflowClient | None = None
) -> dict[str, np.ndarray] | None:
    """Test block id → confusion matrix of a version, from its run; None when the run logged none.

    Versions evaluated before the per-block matrices were logged have none; the gate then
    re-scores them (``promotion.promote_model``).
    """
    client = client or MlflowClient()
    _, run = version_run(client, name, version)
    path = f"{EVALUATION_ARTIFACTS}/{BLOCK_CONFUSIONS_FILE}"
    if path not in {item.path for item in client.list_artifacts(run.info.run_id, EVALUATION_ARTIFACTS)}:
        return None
    text = mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/{path}")
    return {block: np.asarray(matrix, dtype=np.int64) for block, matrix in json.loads(text).items()}


ABSENT = ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE")  # no such model / no such alias


def version_run(client: MlflowClient, name: str, version: str) -> tuple[ModelVersion, Run]:
    """A registered version and the run that logged it.

    Raises:
        LithomapError: the version was registered from outside a run, so it has no scores.
    """
    model_version = client.get_model_version(name, version)
    if model_version.run_id is None:
        raise LithomapError(
            f"{name} version {version} has no run (registered from {model_version.source}); "
            "register models through `lithomap evaluate` so their test scores are logged with them"
        )
    return model_version, client.get_run(model_version.run_id)


def alias_version(client: MlflowClient, name: str, alias: str) -> str | None:
    """The version number holding ``alias``, or None when the model or the alias does not exist.

    Raises:
        TrackingError: the store could not be asked (server down, damaged database): an
            unanswered question is not "no champion", so nothing may be promoted on it.
    """
    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException as error:
        if error.error_code in ABSENT:
            return None
        raise tracking_failure(error) from error
    except SQLAlchemyError as error:
        raise tracking_failure(error) from error


def expected_tags(expected: Mapping[str, Any]) -> dict[str, str]:
    """The ``lithomap.expected_*`` tags of a global version: its expected accuracy on a new region.

    Args:
        expected: the leave-one-region-out table's answer for the version's architecture
            and experiment (``training.loro_table.transfer_expectation``).
    """
    low, high = expected["macro_f1_interval"]
    tags = {
        "expected_macro_f1": f"{expected['macro_f1_learnable']:.6f}",
        "expected_macro_f1_low": f"{low:.6f}",
        "expected_macro_f1_high": f"{high:.6f}",
        "expected_held_out": ",".join(expected["held_out"]),
        "expected_from": f"leave-one-region-out, {expected['source']}",
    }
    if expected.get("max_shift_covered") is not None:
        tags["expected_max_shift"] = f"{expected['max_shift_covered']:.6f}"
    if expected.get("baseline_macro_f1_learnable") is not None:
        tags["expected_baseline_macro_f1"] = f"{expected['baseline_macro_f1_learnable']:.6f}"
    return {f"{TAG_PREFIX}{key}": value for key, value in tags.items()}


def recorded_expectation(version: ModelVersion) -> dict[str, Any] | None:
    """A version's expected accuracy from its tags, shaped as ``transfer_expectation`` returns it (None: untagged)."""
    tags = version.tags

    def number(key: str) -> float | None:
        text = tags.get(f"{TAG_PREFIX}{key}")
        return None if text in (None, "", "none") else round(float(text), 4)

    score = number("expected_macro_f1")
    if score is None:
        return None
    return {
        "macro_f1_learnable": score,
        "macro_f1_interval": [number("expected_macro_f1_low"), number("expected_macro_f1_high")],
        "baseline_macro_f1_learnable": number("expected_baseline_macro_f1"),
        "max_shift_covered": number("expected_max_shift"),
        "held_out": [r for r in tags.get(f"{TAG_PREFIX}expected_held_out", "").split(",") if r],
        "source": f"{version.name} version {version.version}: {tags.get(f'{TAG_PREFIX}expected_from', 'tags')}",
    }
