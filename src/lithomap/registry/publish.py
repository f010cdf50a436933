"""Publish a model: one MLflow run with what it was trained and scored on, then register it.

The run's params are the values training actually used (the model folder's training
record), not what params.yaml says at evaluation time; the registered version gets the
alias ``challenger`` (``registry.register``). ``publish_evaluation`` publishes a region's
evaluated model; ``publish_global`` the global model, whose expected accuracy is its
leave-one-region-out score.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import keras
import mlflow
import numpy as np
from mlflow.tracking import MlflowClient

from lithomap.config import GLOBAL_MODEL, Architecture
from lithomap.datasets.features import raw_inputs
from lithomap.datasets.manifest import Manifest
from lithomap.models.normalisation import ChannelStats, save_stats
from lithomap.models.transfer import SummaryModel
from lithomap.registry.provenance import blocks_fingerprint
from lithomap.registry.pyfunc import log_pyfunc_model
from lithomap.registry.registry import expected_tags, register
from lithomap.registry.tracking import TAG_PREFIX, configure_tracking, log_evaluation, log_history, training_run


def input_example(dataset: Path, manifest: Manifest, arch: Architecture, split: str) -> dict[str, np.ndarray]:
    """One raw (un-normalised) patch of a dataset's ``split`` shards, as the registered model takes it."""
    with np.load(sorted(dataset.glob(f"{split}-*.npz"))[0]) as shard:
        return raw_inputs(
            shard["sequence"][:1].astype(np.float32),
            shard["static"][:1].astype(np.float32),
            manifest.times(),
            manifest.static_channels,
            arch,
        )


def logged_params(record: Mapping[str, Any], manifest: Manifest) -> dict[str, Any]:
    """The run's params: training settings from the training record, the dataset from its manifest."""
    settings = record["settings"]
    return {
        "train": settings["train"],
        "model": settings["model"],
        "loss": settings["loss"],
        "data": {
            "experiment": manifest.experiment,
            "patch_size": manifest.patch_size,
            "sequence_length": manifest.sequence_length,
            "static": manifest.static_channels,
            "dates_selected": manifest.dates_selected,
            "train_patches": record["train_patches"],
        },
        "fit": {"epochs_run": record["epochs_run"], "seconds": round(record["seconds"], 1)},
    }


def publish_evaluation(
    *,
    region: str,
    arch: Architecture,
    record: Mapping[str, Any],
    manifest: Manifest,
    dataset: Path,
    model: keras.Model,
    stats: Mapping[str, ChannelStats],
    evaluation: Mapping[str, Any],
    artifact_root: Path | None,
    shift_reference: Mapping[str, Any] | None = None,
) -> str:
    """Log the run of an evaluated model and register it as the region/arch challenger.

    Args:
        region: study region.
        arch: ``cnn`` or ``convlstm``.
        record: the model folder's training record (``train.json``).
        manifest: the manifest of the dataset it was trained and tested on.
        dataset: that dataset's folder (for the DVC data version and an input example).
        model: the trained Keras model.
        stats: its normalisation statistics per input.
        evaluation: ``scores``, ``intervals``, ``matrix``, ``baseline`` (the fair per-pixel
            baseline: ``baseline_*`` metrics, the gate's), ``baseline_raw`` (optional:
            ``baseline_raw_*``), ``history`` (Keras keys → values), ``sample`` (three
            images), ``block_ids`` of the test blocks and optionally ``block_matrices``
            (their confusion matrices, in the same order).
        artifact_root: local artifact folder for a new MLflow experiment.
        shift_reference: the model's domain-shift reference (``ShiftReference.to_dict``), kept
            in the registered model's metadata for ``lithomap map``; None when it has none.

    Returns:
        The registered version number.
    """
    configure_tracking()
    example = input_example(dataset, manifest, arch, "test")
    with training_run(
        region,
        arch,
        manifest.experiment,
        logged_params(record, manifest),
        data_path=dataset,
        test_blocks=blocks_fingerprint(evaluation["block_ids"]),
        artifact_root=artifact_root,
    ):
        log_history(evaluation["history"])
        log_evaluation(
            evaluation["scores"],
            evaluation["matrix"],
            intervals=evaluation["intervals"],
            history=evaluation["history"],
            sample=evaluation["sample"],
            stats=stats,
            block_confusions=(
                dict(zip(evaluation["block_ids"], evaluation["block_matrices"], strict=True))
                if evaluation.get("block_matrices") is not None
                else None
            ),
        )
        for name in ("baseline", "baseline_raw"):
            if evaluation.get(name) is not None:
                scores = evaluation[name]
                mlflow.log_metrics({f"{name}_{k}": float(scores[k]) for k in ("oa", "macro_f1", "kappa")})
        info = log_pyfunc_model(model, stats, example, arch=arch, shift_reference=shift_reference)
    return str(register(info.model_uri, region, arch).version)


def publish_global(
    *,
    arch: Architecture,
    regions: Sequence[str],
    record: Mapping[str, Any],
    manifest: Manifest,
    dataset: Path,
    curves: Path,
    model: keras.Model,
    stats: Mapping[str, ChannelStats],
    history: Mapping[str, Sequence[float]],
    expected: Mapping[str, Any],
    artifact_root: Path | None,
    shift_reference: Mapping[str, Any] | None = None,
    summary_model: SummaryModel | None = None,
) -> str:
    """Log the run of the global model and register it as the ``lithomap-global-<arch>`` challenger.

    Args:
        arch: ``cnn`` or ``convlstm``.
        regions: the labelled regions it was trained on.
        record: its training record (``train.json``).
        manifest: the first region's dataset manifest (patch size, sequence, static layers).
        dataset: that dataset's folder (an input example).
        curves: its training-curves picture.
        model: the trained Keras model.
        stats: its normalisation statistics per input.
        history: Keras keys → per-epoch values.
        expected: the leave-one-region-out table's answer for its architecture and
            experiment (``training.loro_table.transfer_expectation``): its expected
            accuracy, logged as ``loro_*`` metrics and tagged on the version.
        artifact_root: local artifact folder for a new MLflow experiment.
        shift_reference: its domain-shift reference, for ``lithomap map``.
        summary_model: the transfer model's summary model, carried by the pyfunc (maps blend with it).

    Returns:
        The registered version number.
    """
    configure_tracking()
    example = input_example(dataset, manifest, arch, "train")
    params = logged_params(record, manifest)
    params["data"]["regions"] = list(regions)
    tags = {f"{TAG_PREFIX}scope": GLOBAL_MODEL, f"{TAG_PREFIX}training_regions": ",".join(regions)}
    low, high = expected["macro_f1_interval"]
    scores = {
        "loro_macro_f1_learnable": expected["macro_f1_learnable"],
        "loro_macro_f1_learnable_ci_low": low,
        "loro_macro_f1_learnable_ci_high": high,
        "loro_baseline_macro_f1_learnable": expected.get("baseline_macro_f1_learnable"),
        "loro_max_shift": expected.get("max_shift_covered"),
    }
    with training_run(
        GLOBAL_MODEL,
        arch,
        manifest.experiment,
        params,
        test_blocks="none",
        artifact_root=artifact_root,
        extra_tags=tags,
    ):
        log_history(history)
        mlflow.log_metrics({key: float(value) for key, value in scores.items() if value is not None})
        mlflow.log_artifact(str(curves), artifact_path="figures")
        with tempfile.TemporaryDirectory(prefix="lithomap-global-") as folder:
            path = save_stats(stats, Path(folder) / "normalisation.json")
            mlflow.log_artifact(str(path), artifact_path="normalisation")
        if summary_model is not None:
            mlflow.log_param("summary_blend", summary_model.weight)
        info = log_pyfunc_model(
            model, stats, example, arch=arch, shift_reference=shift_reference, summary_model=summary_model
        )
    client = MlflowClient()
    version = register(info.model_uri, GLOBAL_MODEL, arch, client=client)
    for key, value in (tags | expected_tags(expected)).items():
        client.set_model_version_tag(version.name, version.version, key, value)
    return str(version.version)
