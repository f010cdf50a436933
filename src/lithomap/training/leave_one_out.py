"""Leave-one-region-out: train on the other regions, score every labelled pixel of the held-out one.

The strongest generalisation test (SCIENCE.md 4): the model never sees the held-out
region. Each training region keeps its own normalisation; class weights come from the
pooled training counts (the thesis's per-region weights do not apply to a mix). The
whole held-out scene is predicted by full-scene inference, its inputs normalised with
statistics of its own inputs (``datasets.target_normalisation``: every valid pixel, no
labels), as ``lithomap map`` normalises a region a model did not train on, so the score
is the expected accuracy of such a map; the baseline is trained on
the labelled pixels of the other regions. Nothing is registered. Regions without labels
(new areas listed only to be mapped) are never trained on. ``train_pooled`` is the one
training path of models that span regions: the global model (``training.global_model``)
is the same training on every labelled region.

Classes no training region holds cannot be learnt: besides macro-F1 over every class of
the held-out region, the evaluation states macro-F1 over the *learnable* classes (present
in the training regions' train blocks), with its block-bootstrap interval, and the
held-out region's domain shift against the model's training pixels
(``lithomap.models.shift``), in ``transfer.json`` beside the usual reports. For
experiments with the thermal summaries ``transfer.json`` also scores, on the same pixels,
the summary model fitted on the training regions and the transfer model that blends it
with the network (``transfer_model``; ``lithomap.models.transfer``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from lithomap.atomic import write_json
from lithomap.classes import N_CLASSES, class_names
from lithomap.config import Params, TrainParams
from lithomap.datasets.features import Architecture
from lithomap.datasets.manifest import Manifest, load_manifest
from lithomap.datasets.scene import CubeChannels
from lithomap.datasets.split import SPLITS, leave_one_region_out
from lithomap.errors import ConfigError
from lithomap.io.cube import TRAINING_VARIABLES, cube_path, open_cube
from lithomap.models.baseline import SUMMARY, PixelBaseline, has_summaries, summary_features
from lithomap.models.metrics import bootstrap_macro_f1_over, macro_f1_over
from lithomap.models.shift import REFERENCE_FILE, load_reference
from lithomap.models.transfer import blend_probabilities
from lithomap.training.evaluate import (
    REGION_BASELINES,
    EvaluationResult,
    ScoredRegion,
    baseline_scores,
    fit_baselines,
    score_region,
)
from lithomap.training.fit import (
    HISTORY_FILE,
    SUMMARY_FILE,
    TrainResult,
    changed_settings,
    class_weights,
    dataset_dir,
    fit,
    read_training_record,
    training_settings,
)
from lithomap.training.reports import sample_images, write_reports
from lithomap.training.scoring import Scoring, per_block_confusions, score_map

TRANSFER_FILE = "transfer.json"
HELD_OUT_NORMALISATION = "target"
"""How the held-out region's inputs are normalised (``transfer.json``): as maps of regions a model never saw."""


def leave_one_out_name(held_out: str) -> str:
    """The name models and reports of a held-out region go under: ``loro-<region>``."""
    return f"loro-{held_out}"


def labelled_regions(params: Params) -> list[str]:
    """The regions of params.yaml whose cube holds labels: those a model can train on.

    A region without labels (a new area added only to be mapped) is left out.

    Raises:
        MissingSourceError: a region has no cube yet, so whether it holds labels is unknown.
    """
    regions = []
    for region in params.regions:
        cube = open_cube(cube_path(params.ingest.interim_dir, region), step="pooled training")
        if "label" in cube.data_vars:
            regions.append(region)
    return regions


def training_regions(params: Params, held_out: str) -> list[str]:
    """The regions a leave-one-region-out model trains on: every labelled region but ``held_out``.

    Raises:
        ConfigError: no other labelled region.
    """
    roles = leave_one_region_out(list(params.regions), held_out)
    labelled = labelled_regions(params)
    regions = [region for region, role in roles.items() if role == "train" and region in labelled]
    if not regions:
        raise ConfigError(
            f"leave-one-region-out needs at least two labelled regions in params.yaml; {held_out!r} is alone"
        )
    return regions


def train_pooled(
    name: str, regions: Sequence[str], arch: Architecture, experiment: str, params: Params, verbose: int = 2
) -> TrainResult:
    """Train one model on the train/val blocks of ``regions`` pooled, into ``<models_dir>/<name>/``.

    The one training path of models that span regions (leave-one-region-out, global): each
    region keeps its own normalisation; class weights come from the pooled train counts;
    climate augmentation is on for the architectures of ``loro.climate_augment`` (``pooled_training``).
    """
    folders, weights = pooled_datasets(name, regions, experiment, params)
    out = pooled_dir(name, arch, experiment, params)
    return fit(
        name, arch, experiment, folders, weights, out, pooled_training(params, arch), params.model, params.loss, verbose
    )


def pooled_datasets(
    name: str, regions: Sequence[str], experiment: str, params: Params
) -> tuple[list[Path], list[float]]:
    """The dataset folders of a pooled model's regions and its class weights from their pooled counts."""
    folders = [dataset_dir(params.preprocess, region, experiment) for region in regions]
    return folders, pooled_weights(name, regions, experiment, params)


def pooled_settings_changes(
    name: str, regions: Sequence[str], arch: Architecture, experiment: str, params: Params
) -> list[str] | None:
    """How a finished pooled model's training settings differ from what ``train_pooled`` would use now.

    Compares the whole recorded settings (datasets, class weights, the train preset,
    climate augmentation, model and loss) with today's, so a model trained before a
    change of ``params.yaml`` or of the datasets is not taken for today's.

    Returns:
        ``"<key>: <then> → <now>"`` per difference (empty: the model is today's); None when
        no finished model is there.
    """
    trained = pooled_dir(name, arch, experiment, params)
    if not (trained / SUMMARY_FILE).is_file():
        return None
    folders, weights = pooled_datasets(name, regions, experiment, params)
    manifests = [load_manifest(folder) for folder in folders]
    now = training_settings(
        arch, experiment, folders, manifests, weights, pooled_training(params, arch), params.model, params.loss
    )
    then = read_training_record(trained).get("settings", {})
    return changed_settings(then, json.loads(json.dumps(now, default=str)))


def pooled_training(params: Params, arch: Architecture) -> TrainParams:
    """The ``train`` section of ``arch`` models spanning regions (climate augmentation per ``loro.climate_augment``).

    Architectures it lists train with climate augmentation; the others, and a region's own
    models, train as ``train.climate_augment.enabled`` says.
    """
    train = params.training()
    if arch not in params.loro.climate_augment or train.climate_augment.enabled:
        return train
    return train.model_copy(update={"climate_augment": train.climate_augment.model_copy(update={"enabled": True})})


def train_leave_one_out(
    held_out: str, arch: Architecture, experiment: str, params: Params, verbose: int = 2
) -> TrainResult:
    """Train on the train/val blocks of every labelled region but ``held_out``."""
    regions = training_regions(params, held_out)
    return train_pooled(leave_one_out_name(held_out), regions, arch, experiment, params, verbose)


def pooled_dir(name: str, arch: Architecture, experiment: str, params: Params) -> Path:
    """The model folder of a pooled model: ``<models_dir>/<name>/<arch>-<experiment>``."""
    return params.training().models_dir / name / f"{arch}-{experiment}"


def leave_one_out_dir(held_out: str, arch: Architecture, experiment: str, params: Params) -> Path:
    """The model folder of a leave-one-region-out model."""
    return pooled_dir(leave_one_out_name(held_out), arch, experiment, params)


def pooled_counts(regions: Sequence[str], experiment: str, params: Params) -> np.ndarray:
    """(14,) labelled train-block pixels per class, summed over ``regions``."""
    folders = [dataset_dir(params.preprocess, region, experiment) for region in regions]
    return np.sum([load_manifest(f).class_pixels["train"] for f in folders], axis=0)


def learnable_classes(held_out: str, experiment: str, params: Params) -> list[int]:
    """Class ids (1–13) a leave-one-region-out model can learn: present in its training regions' train blocks."""
    counts = pooled_counts(training_regions(params, held_out), experiment, params)
    return [c for c in range(1, N_CLASSES) if counts[c] > 0]


def pooled_weights(name: str, regions: Sequence[str], experiment: str, params: Params) -> list[float]:
    """Class weights from the regions' pooled train counts (one region's thesis table fits none)."""
    auto = params.loss.model_copy(update={"class_weights": "auto"})
    return class_weights(auto, name, pooled_counts(regions, experiment, params).tolist())


def evaluate_leave_one_out(held_out: str, arch: Architecture, experiment: str, params: Params) -> EvaluationResult:
    """Score a leave-one-region-out model on every labelled pixel of the held-out region.

    Writes ``<evaluate.reports_dir>/loro-<held_out>/<arch>-<experiment>/``; ``coverage`` in
    the metrics is the fraction of labelled pixels scored; ``transfer.json`` holds the
    learnable and not-learnable classes, macro-F1 over the learnable ones (model, interval,
    baseline), the held-out region's domain shift and its ``normalisation`` (``target``).
    """
    name = leave_one_out_name(held_out)
    trained = leave_one_out_dir(held_out, arch, experiment, params)
    scored = score_region(held_out, arch, experiment, trained, SPLITS, params, whole=True, normalisation="target")
    scoring, label = scored.scoring, scored.label
    scoring.scores["coverage"] = float(scoring.scored.sum() / max(int((label > 0).sum()), 1))

    regions = training_regions(params, held_out)
    training = labelled_pixels(regions, experiment, params, "loro")
    weights = pooled_weights(name, regions, experiment, params)
    kinds = (*REGION_BASELINES, *((SUMMARY,) if has_summaries(scored.manifest) else ()))
    fitted = fit_baselines(training, weights, params, kinds)
    baselines = baseline_scores({kind: fitted[kind] for kind in REGION_BASELINES}, scored)
    baseline = baselines["fair"]

    out = params.evaluate.reports_dir / name / f"{arch}-{experiment}"
    history = pd.read_csv(trained / HISTORY_FILE)
    learnable = learnable_classes(held_out, experiment, params)
    add_learnable_scores(scoring, label, scored.split.block_size, learnable, params)
    scoring.scores["domain_shift"] = held_out_shift(trained, scored)
    write_reports(
        out, scoring, baseline, history, sample_images(scored.cube, label, scoring), baseline_raw=baselines["raw"]
    )
    names = class_names()
    present = [c for c in range(1, N_CLASSES) if scoring.scores["per_class"]["support"][c] > 0]
    baseline_learnable = [c for c in learnable if baseline["per_class"]["support"][c] > 0]
    write_json(
        out / TRANSFER_FILE,
        {
            "held_out": held_out,
            "model": arch,
            "experiment": experiment,
            "training_regions": regions,
            "learnable": [names[c] for c in learnable if c in present],
            "not_learnable": [names[c] for c in present if c not in learnable],
            "macro_f1_learnable": _finite(scoring.scores["macro_f1_learnable"]),
            "macro_f1_learnable_ci": [_finite(v) for v in scoring.intervals["macro_f1_learnable"]],
            "baseline_macro_f1_learnable": _finite(
                np.nanmean([baseline["per_class"]["f1"][c] for c in baseline_learnable])
                if baseline_learnable
                else float("nan")
            ),
            "domain_shift": _finite(scoring.scores["domain_shift"]),
            "normalisation": HELD_OUT_NORMALISATION,
            "adapted_batch_norm": params.loro.adapt_batch_norm,
            "transfer_model": (
                transfer_model_scores(fitted[SUMMARY], scored, learnable, params) if SUMMARY in fitted else None
            ),
        },
    )
    return EvaluationResult(
        name, arch, experiment, scoring.scores, scoring.intervals, baseline, out, baseline_raw=baselines["raw"]
    )


def labelled_pixels(
    regions: Sequence[str], experiment: str, params: Params, step: str
) -> list[tuple[xr.Dataset, Manifest, np.ndarray]]:
    """(cube, manifest, every label) of each region: what the per-pixel models spanning regions are fitted on."""
    training = []
    for region in regions:
        cube = open_cube(cube_path(params.ingest.interim_dir, region), params.region(region), TRAINING_VARIABLES, step)
        manifest = load_manifest(dataset_dir(params.preprocess, region, experiment))
        training.append((cube, manifest, cube["label"].values.astype(np.int64)))
    return training


def add_learnable_scores(
    scoring: Scoring, label: np.ndarray, block_size: int, learnable: Sequence[int], params: Params
) -> None:
    """Add macro-F1 over the ``learnable`` classes and its block-bootstrap interval to ``scoring``."""
    blocks, _ = per_block_confusions(label, scoring.predicted, scoring.scored, block_size)
    scoring.scores["macro_f1_learnable"] = macro_f1_over(scoring.matrix, learnable)
    scoring.intervals["macro_f1_learnable"] = bootstrap_macro_f1_over(
        blocks, learnable, n_boot=params.evaluate.n_boot, seed=params.training().seed, alpha=params.evaluate.alpha
    )


def transfer_model_scores(
    summary: PixelBaseline, scored: ScoredRegion, learnable: Sequence[int], params: Params
) -> dict[str, Any]:
    """Scores of the summary model alone and of the transfer model (``models.transfer``) on the scored pixels.

    The summary model was fitted on the training regions' labelled pixels; the transfer
    model averages its probabilities with the network's, weight ``loro.summary_blend``.
    Both are scored on the pixels the network was scored on, with block-bootstrap
    intervals; ``per_class_f1`` lists F1 by class id (None where the class is absent).

    Returns:
        ``{"weight": w, "summary": {...}, "blend": {...}}``, each with ``oa``, ``macro_f1``,
        ``macro_f1_ci``, ``macro_f1_learnable``, ``macro_f1_learnable_ci``, ``kappa``,
        ``quantity_disagreement``, ``allocation_disagreement`` and ``per_class_f1``.
    """
    weight = params.loro.summary_blend
    network = scored.probabilities
    alone = summary_probabilities(summary, scored)
    result: dict[str, Any] = {"weight": weight}
    for key, probabilities in (("summary", alone), ("blend", blend_probabilities(network, alone, weight))):
        scoring = score_like(probabilities, scored, params)
        add_learnable_scores(scoring, scored.label, scored.split.block_size, learnable, params)
        scores, intervals = scoring.scores, scoring.intervals
        result[key] = {
            **{name: _finite(scores[name]) for name in _TRANSFER_SCORES},
            "macro_f1_ci": [_finite(v) for v in intervals["macro_f1"]],
            "macro_f1_learnable_ci": [_finite(v) for v in intervals["macro_f1_learnable"]],
            "per_class_f1": [_finite(v) for v in scores["per_class"]["f1"]],
        }
    return result


def summary_probabilities(summary: PixelBaseline, scored: ScoredRegion) -> np.ndarray:
    """(H, W, 14) the fitted summary model's probabilities on the scored region (NaN where the network has none)."""
    network = scored.probabilities
    alone = summary.predict_proba(summary_features(scored.cube, scored.manifest)).reshape(network.shape)
    return np.where(np.isfinite(network[..., :1]), alone, np.nan)


def score_like(probabilities: np.ndarray, scored: ScoredRegion, params: Params) -> Scoring:
    """Score (H, W, 14) ``probabilities`` on the pixels and blocks the network was scored on."""
    seed = params.training().seed
    return score_map(probabilities, scored.label, scored.scoring.scored, scored.split.block_size, params.evaluate, seed)


_TRANSFER_SCORES = (
    "oa",
    "macro_f1",
    "macro_f1_learnable",
    "kappa",
    "quantity_disagreement",
    "allocation_disagreement",
)


def held_out_shift(trained: Path, scored: ScoredRegion) -> float:
    """The scored region's domain shift against the model's training pixels (NaN without a reference)."""
    reference = load_reference(trained / REFERENCE_FILE)
    if reference is None:
        return float("nan")
    channels = CubeChannels.from_manifest(scored.cube, scored.manifest)
    _, static = channels.read(0, 0, channels.shape)
    return reference.shift(reference.distance(static, channels.static_names))


def _finite(value: float) -> float | None:
    value = float(value)
    return round(value, 6) if np.isfinite(value) else None
