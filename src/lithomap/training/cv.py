"""Cross-validation cells: train on a fold's training blocks, predict its test pixels, keep the predictions.

A cell is region × model × experiment × fold × seed. Its data are the fold's experiment
datasets, built by the normal ``preprocess_experiment`` on the fold's split
(``datasets.folds``) under ``<cv.data_dir>/fold-<f>/<region>/<experiment>``. It trains with
the normal ``fit`` (seed ``train.seed + seed``, epochs capped by ``cv.epochs``), predicts
the fold's test pixels with the evaluation's full-scene inference (``score_region``),
fits the fair per-pixel baseline on the fold's training pixels, and stores the test
pixels' reference, prediction and baseline prediction in
``<cv.data_dir>/<region>/cells/<model>-<experiment>-fold<f>-seed<s>.npz``. The file is
written atomically and only once the cell is complete, so a finished cell is skipped
on the next run and a failed one leaves nothing behind (an interrupted training resumes
from its work folder, as ``lithomap train`` does).
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np

from lithomap.atomic import temporary_path
from lithomap.config import ExperimentParams, Params
from lithomap.datasets.features import Architecture
from lithomap.datasets.folds import FOLDS_FILE, Folds, fold_split, make_folds
from lithomap.datasets.manifest import MANIFEST_FILE
from lithomap.datasets.preprocess import SPLIT_FILE, preprocess_region
from lithomap.errors import ConfigError, ExperimentNotPossibleError, InputDataError, PipelineError
from lithomap.io.cube import TRAINING_VARIABLES, cube_path, open_cube

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CvCell:
    """One cell of the cross-validation: region × model × experiment × fold × seed."""

    region: str
    arch: str
    experiment: str
    fold: int
    seed: int

    @property
    def name(self) -> str:
        """``<model>-<experiment>-fold<f>-seed<s>``: the cell's file and model folder name."""
        return f"{self.arch}-{self.experiment}-fold{self.fold}-seed{self.seed}"


@dataclass
class CellPredictions:
    """The stored test pixels of one cell: position, reference, the model's and the baseline's class.

    Attributes:
        fold: the fold tested.
        seed: the seed index.
        rows: (N,) int32 row of each scored test pixel.
        cols: (N,) int32 column.
        truth: (N,) uint8 reference class.
        predicted: (N,) uint8 the network's class.
        baseline: (N,) uint8 the fair per-pixel baseline's class.
        boundary: (N,) bool, within 1 px of another labelled class.
        block_size: side of the spatial blocks, pixels.
    """

    fold: int
    seed: int
    rows: np.ndarray
    cols: np.ndarray
    truth: np.ndarray
    predicted: np.ndarray
    baseline: np.ndarray
    boundary: np.ndarray
    block_size: int

    def save(self, path: Path) -> Path:
        """Write the cell file atomically (a temporary name, then renamed)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = temporary_path(path)
        np.savez_compressed(
            temporary,
            **{key: getattr(self, key) for key in ("rows", "cols", "truth", "predicted", "baseline", "boundary")},
            block_size=np.int32(self.block_size),
            fold=np.int32(self.fold),
            seed=np.int32(self.seed),
        )
        temporary.replace(path)
        return path

    @classmethod
    def load(cls, path: Path) -> CellPredictions:
        """Read a cell file."""
        with np.load(path) as data:
            return cls(
                fold=int(data["fold"]),
                seed=int(data["seed"]),
                rows=data["rows"],
                cols=data["cols"],
                truth=data["truth"],
                predicted=data["predicted"],
                baseline=data["baseline"],
                boundary=data["boundary"],
                block_size=int(data["block_size"]),
            )

    def key(self) -> np.ndarray:
        """One int64 per pixel: (seed, fold, row, col), for pairing two cells' pixels."""
        return ((self.seed * 1000 + self.fold) << 40) + (self.rows.astype(np.int64) << 20) + self.cols


def region_dir(params: Params, region: str) -> Path:
    """``<cv.data_dir>/<region>``: folds, cell models and cell predictions."""
    return params.cv.data_dir / region


def cell_path(params: Params, cell: CvCell) -> Path:
    """The prediction file of a cell."""
    return region_dir(params, cell.region) / "cells" / f"{cell.name}.npz"


def fold_params(params: Params, fold: int) -> Params:
    """``params`` whose ``preprocess.processed_dir`` is the fold's: ``<cv.data_dir>/fold-<f>``."""
    preprocess = params.preprocess.model_copy(update={"processed_dir": params.cv.data_dir / f"fold-{fold}"})
    return params.model_copy(update={"preprocess": preprocess})


def region_label(params: Params, region: str) -> np.ndarray:
    """The region's label map, checked to hold labels.

    Raises:
        MissingSourceError: no cube, or a cube without labels.
        InputDataError: the labels are all background.
    """
    path = cube_path(params.ingest.interim_dir, region)
    label = open_cube(path, params.region(region), TRAINING_VARIABLES, "cv")["label"].values.astype(np.uint8)
    if not (label > 0).any():
        raise InputDataError(
            path, "the region has no labelled pixel to cross-validate on", "add a geological map and ingest again"
        )
    return label


def saved_fold_count(params: Params, region: str) -> int | None:
    """k of the region's saved folds, or None when it has none yet."""
    path = region_dir(params, region) / FOLDS_FILE
    return Folds.load(path).k if path.is_file() else None


def prepare_folds(params: Params, region: str, k: int) -> Folds:
    """The region's saved folds, or new ones (saved, drawn) when there are none yet.

    Raises:
        ConfigError: saved folds have another k (the cells of both would not pair), or k
            does not fit the labelled blocks.
    """
    from lithomap.datasets.plots import draw_folds

    path = region_dir(params, region) / FOLDS_FILE
    if path.is_file():
        folds = Folds.load(path)
        if folds.k != k:
            raise ConfigError(
                f"{path}: the region's folds were made with k = {folds.k}, not {k}; use --folds {folds.k}, or "
                f"delete {region_dir(params, region)} and the fold datasets to start a {k}-fold cross-validation"
            )
        return folds
    settings = params.preprocess
    label = region_label(params, region)
    buffer_px = settings.split_buffer_px
    folds = make_folds(label, settings.block_size, buffer_px, k, params.cv.val_share, params.cv.seed)
    folds.save(path)
    draw_folds(label, folds.blocks, folds.block_size, params.cv.reports_dir / region / "folds.png", title=region)
    return folds


def prepare_datasets(
    params: Params, region: str, folds: Folds, experiments: Mapping[str, ExperimentParams]
) -> dict[str, str]:
    """Build each fold's split and the experiment datasets it lacks; returns experiment → why impossible."""
    label = None
    skipped: dict[str, str] = {}
    for fold in range(folds.k):
        settings = fold_params(params, fold).preprocess
        split_path = settings.processed_dir / region / SPLIT_FILE
        if not split_path.is_file():
            label = region_label(params, region) if label is None else label
            split_path.parent.mkdir(parents=True, exist_ok=True)
            fold_split(folds, fold, label.shape, label).save(split_path)
        missing = {
            name: experiment
            for name, experiment in experiments.items()
            if name not in skipped and not (settings.processed_dir / region / name / MANIFEST_FILE).is_file()
        }
        if not missing:
            continue
        try:
            built = preprocess_region(
                region, params.region(region), params.ingest, settings, missing, all_experiments=params.experiments
            )
            skipped.update(built.skipped)
        except ExperimentNotPossibleError as exc:
            skipped.update(dict.fromkeys(missing, exc.problem))
    return skipped


def region_cells(
    params: Params, region: str, models: Iterable[str], experiments: Iterable[str], k: int
) -> list[CvCell]:
    """Every cell of a region: model × experiment × fold × seed (``cv.seeds``)."""
    return [
        CvCell(region, arch, experiment, fold, seed)
        for arch in models
        for experiment in experiments
        for fold in range(k)
        for seed in range(params.cv.seeds)
    ]


def has_dataset(params: Params, cell: CvCell) -> bool:
    """Whether the cell's fold dataset exists (it does not for an experiment the region cannot make)."""
    folder = fold_params(params, cell.fold).preprocess.processed_dir / cell.region / cell.experiment
    return (folder / MANIFEST_FILE).is_file()


def boundary_mask(label: np.ndarray) -> np.ndarray:
    """Labelled pixels with a pixel of another class (not background) within 1 px (8-neighbourhood)."""
    padded = np.pad(label, 1, mode="edge")
    height, width = label.shape
    near = np.zeros(label.shape, dtype=bool)
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            neighbour = padded[dy : dy + height, dx : dx + width]
            near |= (neighbour != label) & (neighbour > 0)
    return near & (label > 0)


def cell_params(params: Params, cell: CvCell) -> Params:
    """The params a cell trains with: the fold's datasets, the tuned values, seed + s, epochs capped."""
    from lithomap.training.tuned import tuned_params

    tuned = tuned_params(fold_params(params, cell.fold), cell.region, cell.arch, cell.experiment)
    train = tuned.training()
    preset = train.active()
    if params.cv.epochs is not None:
        preset = preset.model_copy(update={"epochs": min(preset.epochs, params.cv.epochs)})
    train = train.model_copy(
        update={"seed": train.seed + cell.seed, "presets": {**train.presets, train.preset: preset}}
    )
    return tuned.model_copy(update={"train": train})


def run_cell(params: Params, cell: CvCell) -> Path:
    """Train, predict and store one cell (see the module docstring); a finished cell is not redone."""
    from lithomap.datasets.manifest import load_manifest
    from lithomap.datasets.split import SPLITS, TEST, TRAIN
    from lithomap.models.baseline import BASELINE_FEATURES, PixelBaseline
    from lithomap.training.evaluate import score_region
    from lithomap.training.fit import class_weights, dataset_dir, fit

    out = cell_path(params, cell)
    if out.is_file():
        return out
    own = cell_params(params, cell)
    folder = dataset_dir(own.preprocess, cell.region, cell.experiment)
    weights = class_weights(own.loss, cell.region, load_manifest(folder).class_pixels["train"])
    trained = region_dir(params, cell.region) / "models" / cell.name
    arch = cast(Architecture, cell.arch)
    result = fit(cell.region, arch, cell.experiment, [folder], weights, trained, own.training(), own.model, own.loss, 0)
    scored = score_region(cell.region, arch, cell.experiment, trained, (SPLITS[TEST],), own)
    baseline = PixelBaseline(
        BASELINE_FEATURES["fair"](scored.cube, scored.manifest),
        np.where(scored.split.pixels == TRAIN, scored.label, 0).reshape(-1),
        seed=own.training().seed,
        sample_pixels=own.evaluate.baseline_pixels,
        max_iter=own.evaluate.baseline_max_iter,
        class_weights=weights,
    )
    rows, cols = np.nonzero(scored.scoring.scored)
    baseline_map = baseline.predict(BASELINE_FEATURES["fair"](scored.cube, scored.manifest)).reshape(scored.label.shape)
    log.info("cv cell %s of %s: %d epochs", cell.name, cell.region, result.epochs_run)
    CellPredictions(
        fold=cell.fold,
        seed=cell.seed,
        rows=rows.astype(np.int32),
        cols=cols.astype(np.int32),
        truth=scored.label[rows, cols].astype(np.uint8),
        predicted=scored.scoring.predicted[rows, cols].astype(np.uint8),
        baseline=baseline_map[rows, cols].astype(np.uint8),
        boundary=boundary_mask(scored.label)[rows, cols],
        block_size=scored.split.block_size,
    ).save(out)
    return out


def _run_cell_quietly(params: Params, cell: CvCell) -> Path:
    """``run_cell`` in a worker process (spawned: TensorFlow does not survive a fork)."""
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return run_cell(params, cell)


def run_cells(
    params: Params, cells: Iterable[CvCell], workers: int = 1, advance: Callable[[], None] | None = None
) -> dict[CvCell, str]:
    """Run every unfinished cell, in ``workers`` spawned processes when more than one.

    A failing cell does not stop the others; returns cell → error message of the failed ones.
    """
    pending = [cell for cell in cells if not cell_path(params, cell).is_file()]
    failed: dict[CvCell, str] = {}
    step = advance or (lambda: None)
    if workers <= 1:
        for cell in pending:
            try:
                run_cell(params, cell)
            except Exception as exc:  # one cell's failure is reported with the others at the end
                log.exception("cv cell %s of %s failed", cell.name, cell.region)
                failed[cell] = f"{type(exc).__name__}: {exc}"
            step()
        return failed
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = {pool.submit(_run_cell_quietly, params, cell): cell for cell in pending}
        for future in as_completed(futures):
            error = future.exception()
            if error is not None:
                failed[futures[future]] = f"{type(error).__name__}: {error}"
            step()
    return failed


def check_failures(failed: Mapping[CvCell, str]) -> None:
    """Raise one PipelineError listing the failed cells, if any.

    Raises:
        PipelineError: at least one cell failed.
    """
    if failed:
        lines = "; ".join(f"{cell.region} {cell.name}: {why}" for cell, why in failed.items())
        raise PipelineError(
            f"{len(failed)} cross-validation cells failed ({lines}); the others are kept: fix the cause and run "
            "`lithomap cv` again to run only the missing cells"
        )
