"""Evaluate a trained model on the test blocks, beside the per-pixel baseline, and track it.

Test patches are predicted and blended seam-free onto the region grid, so every labelled
test pixel is scored once. Scores come with block-bootstrap confidence intervals
(resampling spatial blocks, not pixels). The gradient-boosting baseline is trained on the
training pixels of the same split and scored on the same test pixels. Outputs:

- ``<evaluate.reports_dir>/<region>/<arch>-<experiment>/metrics.json`` (``dvc metrics``),
  ``per_class.csv`` and ``history.csv`` (``dvc plots``), ``confusion_matrix.png``,
  ``curves.png``, ``sample_prediction.png``;
- one MLflow run with params, per-epoch metrics, test metrics, artifacts and the model
  (with its normalisation) registered as a new version with the alias ``challenger``.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import xarray as xr

from lithomap.classes import N_CLASSES, class_names
from lithomap.config import Params
from lithomap.datasets.experiments import select_dates
from lithomap.datasets.features import model_inputs, raw_inputs
from lithomap.datasets.preprocess import SPLIT_FILE, load_manifest, open_cube
from lithomap.datasets.split import TEST, TRAIN, SpatialSplit
from lithomap.mapping.blending import Blender
from lithomap.models.baseline import fit_baseline, pixel_features
from lithomap.models.metrics import block_bootstrap, confusion_matrix, scores_from_confusion
from lithomap.models.normalisation import load_stats
from lithomap.models.plots import plot_confusion, plot_sample
from lithomap.timing import is_day
from lithomap.training.fit import HISTORY_FILE, MODEL_FILE, STATS_FILE, dataset_dir, model_dir

log = logging.getLogger(__name__)
PREDICT_BATCH = 16


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

    def summary(self) -> str:
        ci = self.intervals.get("macro_f1", (float("nan"), float("nan")))
        version = f"; registered version {self.model_version} (challenger)" if self.model_version else ""
        return (
            f"{self.arch}/{self.experiment}: test OA {self.scores['oa']:.3f}, macro-F1 {self.scores['macro_f1']:.3f} "
            f"[{ci[0]:.3f}, {ci[1]:.3f}], kappa {self.scores['kappa']:.3f}; per-pixel baseline macro-F1 "
            f"{self.baseline['macro_f1']:.3f}{version}"
        )


def predict_patches(
    model: keras.Model, folder: Path, manifest: dict, arch: str, shape: tuple[int, int], splits: tuple[str, ...]
) -> np.ndarray:
    """Blended (H, W, C) probabilities of the patches of ``splits``; NaN outside them."""
    blender = Blender(shape, manifest["patch_size"], N_CLASSES)
    times = np.asarray(manifest["time_features"], dtype=np.float32)
    for split in splits:
        for path in sorted(folder.glob(f"{split}-*.npz")):
            with np.load(path) as shard:
                inputs = model_inputs(
                    shard["sequence"].astype(np.float32),
                    shard["static"].astype(np.float32),
                    times,
                    manifest["normalisation"],
                    manifest["static_channels"],
                    arch,
                )
                blender.add(model.predict(inputs, batch_size=PREDICT_BATCH, verbose=0), shard["origin"])
    return blender.probabilities()


def per_block_confusions(
    truth: np.ndarray, predicted: np.ndarray, mask: np.ndarray, block_size: int
) -> tuple[list[np.ndarray], list[str]]:
    """Confusion matrices of each spatial block holding masked pixels, and the block ids."""
    rows, cols = np.nonzero(mask)
    block = (rows // block_size) * 10_000 + cols // block_size
    matrices, ids = [], []
    for value in np.unique(block):
        here = block == value
        matrices.append(
            confusion_matrix(truth[rows[here], cols[here]], predicted[rows[here], cols[here]], n_classes=N_CLASSES)
        )
        ids.append(f"{value // 10_000}-{value % 10_000}")
    return matrices, ids


def pixel_table(cube: xr.Dataset, params: Params, experiment: str) -> np.ndarray:
    """(H·W, F) baseline features of a region cube for an experiment's dates."""
    selection = params.experiment(experiment)
    times = cube["time"].values
    solar = cube["solar_time"].values.astype(float)
    chosen = select_dates(times, solar, selection, params.preprocess, experiment, Path("cube"))
    lst = cube["lst"].isel(time=chosen.tolist()).values
    emissivity = cube["emissivity"].isel(time=chosen.tolist()).values if "emissivity" in cube else None
    day = is_day(solar[chosen], params.preprocess.day_hours)
    static = np.stack([cube[name].values for name in selection.static], axis=-1) if selection.static else None
    features, _ = pixel_features(lst, np.isfinite(lst), day, emissivity, static, selection.static)
    return features


class PixelBaseline:
    """The gradient-boosting baseline on the feature columns that carry information.

    A column without two distinct finite values in the training sample (the day–night
    difference of a day-only experiment, say) is left out: it cannot inform the model.
    """

    def __init__(self, features: np.ndarray, labels: np.ndarray, params: Params) -> None:
        candidates = np.flatnonzero(labels > 0)
        rng = np.random.default_rng(params.training().seed)
        sample = rng.choice(candidates, size=min(candidates.size, params.evaluate.baseline_pixels), replace=False)
        chosen = features[sample]
        self.columns = np.array([np.unique(column[np.isfinite(column)]).size > 1 for column in chosen.T])
        self.classifier = fit_baseline(
            chosen[:, self.columns],
            labels[sample],
            seed=params.training().seed,
            max_iter=params.evaluate.baseline_max_iter,
        )

    def predict(self, features: np.ndarray) -> np.ndarray:
        return self.classifier.predict(features[:, self.columns])


def baseline_scores(cube: xr.Dataset, params: Params, experiment: str, split: SpatialSplit, label: np.ndarray) -> dict:
    """Train the per-pixel baseline on training pixels; its scores on the test pixels."""
    features = pixel_table(cube, params, experiment)
    train_labels = np.where(split.pixels == TRAIN, label, 0).reshape(-1)
    predicted = PixelBaseline(features, train_labels, params).predict(features).reshape(label.shape)
    test = (split.pixels == TEST) & (label > 0)
    return scores_from_confusion(confusion_matrix(label[test], predicted[test], n_classes=N_CLASSES))


def _open(
    region: str, experiment: str, trained: Path, params: Params
) -> tuple[Path, dict, xr.Dataset, SpatialSplit, keras.Model]:
    """What scoring a model on a region needs: dataset folder, manifest, cube, split, model."""
    folder = dataset_dir(params, region, experiment)
    cube = open_cube(region, params.region(region), params.ingest)
    model = keras.models.load_model(trained / MODEL_FILE, compile=False)
    return folder, load_manifest(folder), cube, SpatialSplit.load(folder / SPLIT_FILE), model


@dataclass
class _Scoring:
    label: np.ndarray
    predicted: np.ndarray
    scored: np.ndarray
    matrix: np.ndarray
    scores: dict
    intervals: dict
    block_ids: list[str]


def _score(
    model: keras.Model,
    folder: Path,
    manifest: dict,
    arch: str,
    cube: xr.Dataset,
    split: SpatialSplit,
    splits: tuple[str, ...],
    params: Params,
) -> _Scoring:
    """Predict the patches of ``splits``, blend them and score their labelled pixels.

    Only pixels of those splits count (``test`` alone for a region model; every split for
    a held-out region, whose pixels the model never saw).
    """
    from lithomap.datasets.split import SPLITS

    label = cube["label"].values.astype(np.int64)
    probabilities = predict_patches(model, folder, manifest, arch, label.shape, splits)
    covered = np.isfinite(probabilities[..., 0])
    in_splits = np.isin(split.pixels, [SPLITS.index(name) for name in splits]) if len(splits) < len(SPLITS) else True
    scored = in_splits & (label > 0) & covered
    predicted = np.where(covered, np.nan_to_num(probabilities).argmax(-1), 0)
    matrix = confusion_matrix(label[scored], predicted[scored], n_classes=N_CLASSES)
    blocks, block_ids = per_block_confusions(label, predicted, scored, split.block_size)
    intervals = block_bootstrap(
        blocks, n_boot=params.evaluate.n_boot, seed=params.training().seed, alpha=params.evaluate.alpha
    )
    return _Scoring(label, predicted, scored, matrix, scores_from_confusion(matrix), intervals, block_ids)


def evaluate_model(region: str, arch: str, experiment: str, params: Params, track: bool = True) -> EvaluationResult:
    """Score a trained model on the test blocks (see the module docstring)."""
    trained = model_dir(params, region, arch, experiment)
    folder, manifest, cube, split, model = _open(region, experiment, trained, params)
    scoring = _score(model, folder, manifest, arch, cube, split, ("test",), params)
    label, predicted, scored, matrix = scoring.label, scoring.predicted, scoring.scored, scoring.matrix
    scores, intervals, block_ids = scoring.scores, scoring.intervals, scoring.block_ids
    baseline = baseline_scores(cube, params, experiment, split, label)

    out = params.evaluate.reports_dir / region / f"{arch}-{experiment}"
    history = pd.read_csv(trained / HISTORY_FILE)
    _write_reports(out, scores, intervals, baseline, matrix, history, trained)
    sample = _sample(cube, label, predicted, scored)
    plot_sample(*sample, out / "sample_prediction.png")
    result = EvaluationResult(region, arch, experiment, scores, intervals, baseline, out)
    if track:
        result.model_version = _track(result, params, model, manifest, trained, matrix, history, sample, block_ids)
    return result


def _sample(cube: xr.Dataset, label: np.ndarray, predicted: np.ndarray, scored: np.ndarray):
    """The test area's bounding box: one LST image, the reference and the prediction."""
    rows, cols = np.nonzero(scored)
    box = (slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1))
    lst = cube["lst"].values
    best = int(np.argmax(np.isfinite(lst[(slice(None), *box)]).mean(axis=(1, 2))))
    shown = np.where(scored[box], predicted[box], 0)
    return lst[best][box], np.where(scored[box], label[box], 0), shown


def _write_reports(
    out: Path, scores: dict, intervals: dict, baseline: dict, matrix: np.ndarray, history: pd.DataFrame, trained: Path
) -> None:
    out.mkdir(parents=True, exist_ok=True)
    names = class_names()
    metrics = {key: _plain(value) for key, value in scores.items() if key != "per_class"}
    metrics.update({f"{key}_ci": [float(v) for v in value] for key, value in intervals.items()})
    metrics["baseline"] = {key: _plain(baseline[key]) for key in ("oa", "macro_f1", "weighted_f1", "kappa")}
    metrics["beats_baseline"] = bool(scores["macro_f1"] > baseline["macro_f1"])
    per_class = scores["per_class"]
    rows = [
        {
            "class": names[c],
            "f1": _plain(per_class["f1"][c]),
            "iou": _plain(per_class["iou"][c]),
            "support": int(per_class["support"][c]),
            "baseline_f1": _plain(baseline["per_class"]["f1"][c]),
        }
        for c in range(1, N_CLASSES)
        if per_class["support"][c] > 0
    ]
    metrics["per_class_f1"] = {row["class"]: row["f1"] for row in rows}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1))
    pd.DataFrame(rows).to_csv(out / "per_class.csv", index=False)
    history.to_csv(out / "history.csv", index=False)
    shutil.copy(trained / "curves.png", out / "curves.png")
    plot_confusion(matrix, out / "confusion_matrix.png")


def _plain(value) -> float | None:
    value = float(value)
    return None if np.isnan(value) else round(value, 6)


def _track(
    result: EvaluationResult,
    params: Params,
    model: keras.Model,
    manifest: dict,
    trained: Path,
    matrix: np.ndarray,
    history: pd.DataFrame,
    sample,
    block_ids: list[str],
) -> str:
    """One MLflow run for the cell; the model registered as the region/arch challenger."""
    from lithomap.registry.provenance import blocks_fingerprint
    from lithomap.registry.pyfunc import log_pyfunc_model
    from lithomap.registry.registry import register
    from lithomap.registry.tracking import configure_tracking, log_evaluation, log_history, training_run

    configure_tracking()
    train_summary = json.loads((trained / "train.json").read_text())
    logged_params = {
        "train": params.training().active().model_dump()
        | {"preset": params.training().preset, "seed": params.training().seed},
        "model": getattr(params.model, result.arch).model_dump(),
        "loss": params.loss.model_dump(),
        "data": {
            "experiment": result.experiment,
            "patch_size": manifest["patch_size"],
            "sequence_length": manifest["sequence_length"],
            "static": manifest["static_channels"],
            "dates_selected": manifest["dates_selected"],
            "train_patches": manifest["patches"]["train"],
        },
        "fit": {"epochs_run": train_summary["epochs_run"], "seconds": round(train_summary["seconds"], 1)},
    }
    stats = load_stats(trained / STATS_FILE)
    times = np.asarray(manifest["time_features"], dtype=np.float32)
    with np.load(sorted(dataset_dir(params, result.region, result.experiment).glob("test-*.npz"))[0]) as shard:
        example = raw_inputs(
            shard["sequence"][:1].astype(np.float32),
            shard["static"][:1].astype(np.float32),
            times,
            manifest["static_channels"],
            result.arch,
        )
    with training_run(
        result.region,
        result.arch,
        result.experiment,
        logged_params,
        data_path=dataset_dir(params, result.region, result.experiment),
        test_blocks=blocks_fingerprint(block_ids),
        artifact_root=params.tracking.artifact_root,
    ):
        log_history({c: history[c].tolist() for c in history.columns if c != "epoch"})
        log_evaluation(
            result.scores,
            matrix,
            intervals=result.intervals,
            history={c: history[c].tolist() for c in history.columns if c != "epoch"},
            sample=sample,
            stats=stats,
        )
        import mlflow

        mlflow.log_metrics({f"baseline_{k}": float(result.baseline[k]) for k in ("oa", "macro_f1", "kappa")})
        info = log_pyfunc_model(model, stats, example, arch=result.arch)
    version = register(info.model_uri, result.region, result.arch)
    return str(version.version)


def evaluate_leave_one_out(held_out: str, arch: str, experiment: str, params: Params) -> EvaluationResult:
    """Score a leave-one-region-out model on every labelled pixel of the held-out region.

    All patches of the held-out region (whatever their split there) are predicted and
    blended, so every labelled pixel some patch covers is scored (``coverage`` in the
    metrics: patches that straddled that region's own splits were never cut, which leaves a
    fraction of a percent out); the baseline is trained on the labelled pixels of the other
    regions. Writes
    ``<evaluate.reports_dir>/loro-<held_out>/<arch>-<experiment>/``; nothing is registered.
    """
    from lithomap.datasets.split import SPLITS, leave_one_region_out
    from lithomap.training.fit import leave_one_out_dir

    trained = leave_one_out_dir(params, held_out, arch, experiment)
    folder, manifest, cube, split, model = _open(held_out, experiment, trained, params)
    scoring = _score(model, folder, manifest, arch, cube, split, SPLITS, params)
    label, predicted, scored, matrix = scoring.label, scoring.predicted, scoring.scored, scoring.matrix
    scores, intervals = scoring.scores, scoring.intervals
    scores["coverage"] = float(scored.sum() / max(int((label > 0).sum()), 1))

    roles = leave_one_region_out(list(params.regions), held_out)
    tables = []
    for region in (r for r, role in roles.items() if role == "train"):
        other = open_cube(region, params.region(region), params.ingest)
        tables.append((pixel_table(other, params, experiment), other["label"].values.reshape(-1).astype(np.int64)))
    baseline_model = PixelBaseline(
        np.concatenate([t[0] for t in tables]), np.concatenate([t[1] for t in tables]), params
    )
    baseline_map = baseline_model.predict(pixel_table(cube, params, experiment)).reshape(label.shape)
    baseline = scores_from_confusion(confusion_matrix(label[scored], baseline_map[scored], n_classes=N_CLASSES))

    out = params.evaluate.reports_dir / f"loro-{held_out}" / f"{arch}-{experiment}"
    _write_reports(out, scores, intervals, baseline, matrix, pd.read_csv(trained / HISTORY_FILE), trained)
    plot_sample(*_sample(cube, label, predicted, scored), out / "sample_prediction.png")
    return EvaluationResult(f"loro-{held_out}", arch, experiment, scores, intervals, baseline, out)
