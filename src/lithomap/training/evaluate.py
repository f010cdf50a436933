"""Evaluate a trained model on the test blocks, beside the per-pixel baseline, and publish it.

The test windows are predicted from the region cube by full-scene inference
(``lithomap.mapping.inference``, the path maps use) and blended seam-free onto the region
grid, so every labelled test pixel is scored once (``training.scoring``). Two per-pixel
gradient-boosting baselines (``models.baseline``) are trained on the training pixels of
the same split, with the networks' class weights, and scored on the same pixels: the fair
one on the networks' own per-pixel channels (``baseline``, what the gate compares with)
and the raw-feature one (``baseline_raw``). Outputs: the report files
(``training.reports``) under ``<evaluate.reports_dir>/<region>/<arch>-<experiment>/``
and, with tracking, one MLflow run whose model is registered as the challenger
(``registry.publish``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import xarray as xr

from lithomap.classes import N_CLASSES
from lithomap.config import Params
from lithomap.datasets.features import Architecture, raw_inputs
from lithomap.datasets.manifest import Manifest, load_manifest
from lithomap.datasets.preprocess import SPLIT_FILE
from lithomap.datasets.scene import CubeChannels
from lithomap.datasets.split import SPLITS, TEST, TRAIN, SpatialSplit
from lithomap.datasets.target_normalisation import Normalisation, target_normalisation
from lithomap.datasets.tfdata import shard_origins
from lithomap.io.cube import TRAINING_VARIABLES, cube_path, open_cube
from lithomap.mapping.inference import SceneInputs, blend_scene, keras_predict
from lithomap.models.adapt import adapt_batch_norm
from lithomap.models.baseline import BASELINE_FEATURES, PixelBaseline
from lithomap.models.metrics import confusion_matrix, scores_from_confusion
from lithomap.models.normalisation import load_stats
from lithomap.training.fit import (
    HISTORY_FILE,
    MODEL_FILE,
    STATS_FILE,
    class_weights,
    dataset_dir,
    model_dir,
    read_training_record,
)
from lithomap.training.reports import history_columns, sample_images, write_reports
from lithomap.training.scoring import Scoring, score_map

log = logging.getLogger(__name__)
REGION_BASELINES = ("fair", "raw")
"""The baselines every evaluation reports: ``fair`` (what the gate compares with) and ``raw``."""


@dataclass
class EvaluationResult:
    """Scores of one evaluated model (and the baseline on the same pixels)."""

    region: str
    arch: str
    experiment: str
    scores: dict
    intervals: dict
    baseline: dict
    report_dir: Path
    model_version: str | None = None
    baseline_raw: dict | None = None

    def summary(self) -> str:
        ci = self.intervals.get("macro_f1", (float("nan"), float("nan")))
        version = f"; registered version {self.model_version} (challenger)" if self.model_version else ""
        raw = f" (raw features {self.baseline_raw['macro_f1']:.3f})" if self.baseline_raw else ""
        return (
            f"{self.arch}/{self.experiment}: test OA {self.scores['oa']:.3f}, macro-F1 {self.scores['macro_f1']:.3f} "
            f"[{ci[0]:.3f}, {ci[1]:.3f}], kappa {self.scores['kappa']:.3f}; per-pixel baseline macro-F1 "
            f"{self.baseline['macro_f1']:.3f}{raw}{version}"
        )


@dataclass
class ScoredRegion:
    """A model scored on a region: what the reports and the tracking need."""

    cube: xr.Dataset
    manifest: Manifest
    split: SpatialSplit
    model: keras.Model
    label: np.ndarray
    scoring: Scoring
    probabilities: np.ndarray
    """(H, W, 14) the network's blended probabilities (NaN where no window reached)."""


def score_region(
    region: str,
    arch: Architecture,
    experiment: str,
    trained: Path,
    splits: tuple[str, ...],
    params: Params,
    whole: bool = False,
    normalisation: Normalisation = "model",
) -> ScoredRegion:
    """Predict a region with the model in ``trained`` and score the labelled pixels of ``splits``.

    With ``whole`` every window of the scene is predicted (a held-out region); otherwise
    only the patches of ``splits``, as the dataset cut them. ``normalisation``: ``model``
    normalises with the region's dataset statistics (those a model of the region trained
    with), ``target`` with ``target_normalisation`` of the region's own inputs (a region the
    model did not train on: the definition maps of such regions use); with ``target`` and
    ``loro.adapt_batch_norm`` the model's batch-normalisation moments are first adapted to
    the region (``models.adapt``), as such maps do.
    """
    folder = dataset_dir(params.preprocess, region, experiment)
    manifest = load_manifest(folder)
    cube = open_cube(
        cube_path(params.ingest.interim_dir, region), params.region(region), TRAINING_VARIABLES, "evaluate"
    )
    split = SpatialSplit.load(folder / SPLIT_FILE)
    model = keras.models.load_model(trained / MODEL_FILE, compile=False)
    inputs = scene_inputs(cube, manifest, arch, normalisation)
    if normalisation == "target" and params.loro.adapt_batch_norm:
        adapt_batch_norm(
            model, inputs, manifest.patch_size, max_windows=params.loro.adapt_windows, seed=params.training().seed
        )
    origins = None if whole else np.concatenate([shard_origins(folder, name) for name in splits])
    probabilities = blend_scene(keras_predict(model), inputs, manifest.patch_size, manifest.overlap, origins=origins)
    label = cube["label"].values.astype(np.int64)
    wanted = np.isin(split.pixels, [SPLITS.index(name) for name in splits]) if not whole else np.ones_like(label, bool)
    scoring = score_map(probabilities, label, wanted, split.block_size, params.evaluate, params.training().seed)
    return ScoredRegion(cube, manifest, split, model, label, scoring, probabilities)


def scene_inputs(cube: xr.Dataset, manifest: Manifest, arch: Architecture, normalisation: Normalisation) -> SceneInputs:
    """A region's normalised window inputs, as ``score_region`` predicts them.

    ``model``: the dataset's statistics; ``target``: ``target_normalisation`` of the
    region's own inputs (what ``lithomap map`` uses for a region the model did not train on).
    """
    channels = CubeChannels.from_manifest(cube, manifest)
    stats = target_normalisation(channels) if normalisation == "target" else None
    return SceneInputs(channels, manifest, arch, stats)


@dataclass
class RawSceneInputs(SceneInputs):
    """Scene windows as raw (physical) model inputs: for a registered pyfunc, which normalises them itself."""

    def __call__(self, origins: np.ndarray, patch: int) -> dict[str, np.ndarray]:
        sequence, static = self.channels.read_windows(origins, patch)
        return raw_inputs(
            sequence,
            static,
            self.manifest.times(),
            self.manifest.static_channels,
            self.architecture,
        )


def score_registered_model(region: str, arch: Architecture, experiment: str, params: Params, model_uri: str) -> dict:
    """Test scores of a registered model on the region's current test blocks (a fair gate on new data).

    The model keeps the normalisation it was trained with (the pyfunc applies it). Returns
    what ``lithomap.registry.registry.version_scores`` returns: ``macro_f1``,
    ``per_class_f1`` (classes present in the test pixels) and ``test_blocks``, plus
    ``block_confusions`` (block id → confusion matrix, for the paired gate).
    """
    import mlflow

    from lithomap.classes import class_names
    from lithomap.registry.provenance import blocks_fingerprint

    pyfunc = mlflow.pyfunc.load_model(model_uri)
    folder = dataset_dir(params.preprocess, region, experiment)
    manifest = load_manifest(folder)
    cube = open_cube(cube_path(params.ingest.interim_dir, region), params.region(region), TRAINING_VARIABLES, "promote")
    split = SpatialSplit.load(folder / SPLIT_FILE)
    inputs = RawSceneInputs(CubeChannels.from_manifest(cube, manifest), manifest, arch)
    origins = shard_origins(folder, SPLITS[TEST])

    def predict(batch: dict[str, np.ndarray]) -> np.ndarray:
        return np.asarray(pyfunc.predict(batch), dtype=np.float32)

    probabilities = blend_scene(predict, inputs, manifest.patch_size, manifest.overlap, origins=origins)
    label = cube["label"].values.astype(np.int64)
    wanted = split.pixels == TEST
    scoring = score_map(probabilities, label, wanted, split.block_size, params.evaluate, params.training().seed)
    per_class, names = scoring.scores["per_class"], class_names()
    return {
        "macro_f1": float(scoring.scores["macro_f1"]),
        "per_class_f1": {
            names[c]: float(per_class["f1"][c]) for c in range(1, N_CLASSES) if per_class["support"][c] > 0
        },
        "test_blocks": blocks_fingerprint(scoring.block_ids),
        "block_confusions": scoring.block_confusions(),
    }


def fit_baselines(
    training: Sequence[tuple[xr.Dataset, Manifest, np.ndarray]],
    weights: Sequence[float],
    params: Params,
    kinds: Sequence[str] = REGION_BASELINES,
) -> dict[str, PixelBaseline]:
    """Fit per-pixel baselines (``kinds`` of ``BASELINE_FEATURES``) on the labelled pixels of one or more regions.

    Args:
        training: (cube, manifest, (H, W) training labels with 0 outside the training pixels) per region.
        weights: the networks' per-class loss weights.
        params: ``evaluate.baseline_pixels`` and ``baseline_max_iter``, the training seed.
        kinds: the feature sets to fit (default ``fair`` and ``raw``).
    """
    labels = np.concatenate([train.reshape(-1) for _, _, train in training])
    return {
        kind: PixelBaseline(
            np.concatenate([build(cube, manifest) for cube, manifest, _ in training]),
            labels,
            seed=params.training().seed,
            sample_pixels=params.evaluate.baseline_pixels,
            max_iter=params.evaluate.baseline_max_iter,
            class_weights=weights,
        )
        for kind, build in ((kind, BASELINE_FEATURES[kind]) for kind in kinds)
    }


def baseline_scores(baselines: dict[str, PixelBaseline], scored: ScoredRegion) -> dict[str, dict]:
    """Scores of each fitted baseline on the pixels the model was scored on."""
    test = scored.scoring.scored
    result = {}
    for kind, baseline in baselines.items():
        predicted = baseline.predict(BASELINE_FEATURES[kind](scored.cube, scored.manifest)).reshape(test.shape)
        result[kind] = scores_from_confusion(confusion_matrix(scored.label[test], predicted[test], n_classes=N_CLASSES))
    return result


def region_baselines(scored: ScoredRegion, params: Params) -> dict[str, dict]:
    """Fit the baselines on the region's training pixels; their scores on the scored pixels."""
    train_labels = np.where(scored.split.pixels == TRAIN, scored.label, 0)
    weights = class_weights(params.loss, scored.manifest.region, scored.manifest.class_pixels["train"])
    return baseline_scores(fit_baselines([(scored.cube, scored.manifest, train_labels)], weights, params), scored)


def evaluate_model(
    region: str, arch: Architecture, experiment: str, params: Params, track: bool = True
) -> EvaluationResult:
    """Score a trained model on the test blocks (see the module docstring)."""
    trained = model_dir(params.training(), region, arch, experiment)
    record = read_training_record(trained)
    scored = score_region(region, arch, experiment, trained, (SPLITS[TEST],), params)
    baselines = region_baselines(scored, params)
    baseline = baselines["fair"]
    scoring = scored.scoring

    out = params.evaluate.reports_dir / region / f"{arch}-{experiment}"
    history = pd.read_csv(trained / HISTORY_FILE)
    sample = sample_images(scored.cube, scored.label, scoring)
    write_reports(out, scoring, baseline, history, sample, baseline_raw=baselines["raw"])
    result = EvaluationResult(
        region, arch, experiment, scoring.scores, scoring.intervals, baseline, out, baseline_raw=baselines["raw"]
    )
    if track:
        from lithomap.registry.publish import publish_evaluation  # MLflow only when tracking

        result.model_version = publish_evaluation(
            region=region,
            arch=arch,
            record=record,
            manifest=scored.manifest,
            dataset=dataset_dir(params.preprocess, region, experiment),
            model=scored.model,
            stats=load_stats(trained / STATS_FILE),
            evaluation={
                "scores": scoring.scores,
                "intervals": scoring.intervals,
                "matrix": scoring.matrix,
                "baseline": baseline,
                "baseline_raw": baselines["raw"],
                "history": history_columns(history),
                "sample": sample,
                "block_ids": scoring.block_ids,
                "block_matrices": scoring.block_matrices,
            },
            artifact_root=params.tracking.artifact_root,
            shift_reference=_reference_document(trained),
        )
    return result


def _reference_document(trained: Path) -> dict | None:
    """The model folder's domain-shift reference as a dict (None for a model trained before shift scores)."""
    from lithomap.models.shift import REFERENCE_FILE, load_reference

    reference = load_reference(trained / REFERENCE_FILE)
    return reference.to_dict() if reference is not None else None
