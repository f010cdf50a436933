"""Leave-one-region-out: train on the other regions, score every labelled pixel of the held-out one.

The strongest generalisation test (SCIENCE.md 4): the model never sees the held-out
region. Each training region keeps its own normalisation; class weights come from the
pooled training counts (the thesis's per-region weights do not apply to a mix). The
whole held-out scene is predicted by full-scene inference, and the baseline is trained on
the labelled pixels of the other regions. Nothing is registered.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lithomap.config import Params
from lithomap.datasets.features import Architecture
from lithomap.datasets.manifest import load_manifest
from lithomap.datasets.split import SPLITS, leave_one_region_out
from lithomap.errors import ConfigError
from lithomap.io.cube import TRAINING_VARIABLES, cube_path, open_cube
from lithomap.training.evaluate import EvaluationResult, baseline_scores, fit_baselines, score_region
from lithomap.training.fit import HISTORY_FILE, TrainResult, class_weights, dataset_dir, fit
from lithomap.training.reports import sample_images, write_reports


def leave_one_out_name(held_out: str) -> str:
    """The name models and reports of a held-out region go under: ``loro-<region>``."""
    return f"loro-{held_out}"


def training_regions(params: Params, held_out: str) -> list[str]:
    """The regions a leave-one-region-out model trains on.

    Raises:
        ConfigError: ``held_out`` is the only region.
    """
    roles = leave_one_region_out(list(params.regions), held_out)
    regions = [region for region, role in roles.items() if role == "train"]
    if not regions:
        raise ConfigError(f"leave-one-region-out needs at least two regions in params.yaml; {held_out!r} is alone")
    return regions


def train_leave_one_out(
    held_out: str, arch: Architecture, experiment: str, params: Params, verbose: int = 2
) -> TrainResult:
    """Train on the train/val blocks of every region but ``held_out``."""
    folders = [dataset_dir(params.preprocess, region, experiment) for region in training_regions(params, held_out)]
    weights = _auto_weights(held_out, experiment, params)
    name = leave_one_out_name(held_out)
    out = params.training().models_dir / name / f"{arch}-{experiment}"
    return fit(name, arch, experiment, folders, weights, out, params.training(), params.model, params.loss, verbose)


def _auto_weights(held_out: str, experiment: str, params: Params) -> list[float]:
    """Class weights from the training regions' pooled train counts (one region's thesis table fits none)."""
    folders = [dataset_dir(params.preprocess, region, experiment) for region in training_regions(params, held_out)]
    counts = np.sum([load_manifest(f).class_pixels["train"] for f in folders], axis=0)
    auto = params.loss.model_copy(update={"class_weights": "auto"})
    return class_weights(auto, leave_one_out_name(held_out), counts.tolist())


def evaluate_leave_one_out(held_out: str, arch: Architecture, experiment: str, params: Params) -> EvaluationResult:
    """Score a leave-one-region-out model on every labelled pixel of the held-out region.

    Writes ``<evaluate.reports_dir>/loro-<held_out>/<arch>-<experiment>/``; ``coverage`` in
    the metrics is the fraction of labelled pixels scored.
    """
    name = leave_one_out_name(held_out)
    trained = params.training().models_dir / name / f"{arch}-{experiment}"
    scored = score_region(held_out, arch, experiment, trained, SPLITS, params, whole=True)
    scoring, label = scored.scoring, scored.label
    scoring.scores["coverage"] = float(scoring.scored.sum() / max(int((label > 0).sum()), 1))

    training = []
    for region in training_regions(params, held_out):
        cube = open_cube(
            cube_path(params.ingest.interim_dir, region), params.region(region), TRAINING_VARIABLES, "loro"
        )
        manifest = load_manifest(dataset_dir(params.preprocess, region, experiment))
        training.append((cube, manifest, cube["label"].values.astype(np.int64)))
    baselines = baseline_scores(fit_baselines(training, _auto_weights(held_out, experiment, params), params), scored)
    baseline = baselines["fair"]

    out = params.evaluate.reports_dir / name / f"{arch}-{experiment}"
    history = pd.read_csv(trained / HISTORY_FILE)
    write_reports(
        out, scoring, baseline, history, sample_images(scored.cube, label, scoring), baseline_raw=baselines["raw"]
    )
    return EvaluationResult(
        name, arch, experiment, scoring.scores, scoring.intervals, baseline, out, baseline_raw=baselines["raw"]
    )
