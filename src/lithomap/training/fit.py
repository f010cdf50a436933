"""Train one (region, model, experiment): tf.data in, a saved Keras model and its curves out.

Training is seeded and resumable: ``BackupAndRestore`` keeps the last finished epoch in
``<model dir>/backup`` and a killed run started again continues from there. Early stopping
and learning-rate reduction watch the validation macro-F1 (or loss). The finished model,
its normalisation statistics, the history and the curves are written to the model folder
under temporary names and moved into place.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import keras
import numpy as np
import pandas as pd

from lithomap.classes import N_CLASSES
from lithomap.config import LossParams, Params
from lithomap.datasets.features import input_stats
from lithomap.datasets.preprocess import load_manifest
from lithomap.datasets.tfdata import input_spec, make_dataset
from lithomap.errors import ConfigError
from lithomap.models.convlstm import build_convlstm
from lithomap.models.keras_metrics import MacroF1
from lithomap.models.losses import THESIS_CLASS_WEIGHTS, class_weights_auto, make_loss
from lithomap.models.normalisation import save_stats
from lithomap.models.plots import plot_curves
from lithomap.models.unet import build_unet

log = logging.getLogger(__name__)
Architecture = Literal["cnn", "convlstm"]
MODEL_FILE = "model.keras"
STATS_FILE = "normalisation.json"
HISTORY_FILE = "history.csv"
SUMMARY_FILE = "train.json"


@dataclass
class TrainResult:
    """What a training run produced."""

    region: str
    arch: str
    experiment: str
    model_dir: Path
    epochs_run: int
    best_epoch: int
    best_val_macro_f1: float
    seconds: float
    train_patches: int
    patches_per_second: float
    preset: str
    resumed_from_epoch: int

    def summary(self) -> str:
        resumed = f", resumed after epoch {self.resumed_from_epoch}" if self.resumed_from_epoch else ""
        return (
            f"{self.arch}/{self.experiment}: {self.epochs_run} epochs{resumed} in {self.seconds:.0f} s "
            f"({self.patches_per_second:.1f} patches/s); best val macro-F1 {self.best_val_macro_f1:.3f} "
            f"at epoch {self.best_epoch}; {self.model_dir}"
        )


def model_dir(params: Params, region: str, arch: str, experiment: str) -> Path:
    return params.training().models_dir / region / f"{arch}-{experiment}"


def dataset_dir(params: Params, region: str, experiment: str) -> Path:
    return params.preprocess.processed_dir / region / experiment


def class_weights(loss: LossParams, region: str, manifest: dict) -> list[float]:
    """Per-class loss weights: the thesis's Table 12, computed from train counts, explicit, or none."""
    if isinstance(loss.class_weights, list):
        if len(loss.class_weights) != N_CLASSES:
            raise ConfigError(f"loss.class_weights lists {len(loss.class_weights)} values; it needs {N_CLASSES}")
        return list(loss.class_weights)
    if loss.class_weights == "none":
        return [1.0] * N_CLASSES
    if loss.class_weights == "thesis" and region in THESIS_CLASS_WEIGHTS:
        return list(THESIS_CLASS_WEIGHTS[region])
    if loss.class_weights == "thesis":
        log.info("region %s has no thesis class weights; computing them from the training counts", region)
    counts = np.asarray(manifest["class_pixels"]["train"], dtype=float)
    return [float(w) for w in class_weights_auto(counts, mode=loss.auto_mode)]


def build_model(arch: Architecture, spec: dict[str, tuple[int, ...]], params: Params, l2: float) -> keras.Model:
    """The configured U-Net or ConvLSTM for the dataset's input shapes."""
    shape = params.model.cnn if arch == "cnn" else params.model.convlstm
    if arch == "cnn":
        return build_unet(
            spec["features"],
            base_filters=shape.base_filters,
            depth=shape.depth,
            l2=l2,
            dropout=shape.dropout,
            batch_norm=shape.batch_norm,
        )
    static = spec["static"][-1] if "static" in spec else 0
    return build_convlstm(
        spec["sequence"],
        static,
        base_filters=shape.base_filters,
        depth=shape.depth,
        l2=l2,
        dropout=shape.dropout,
        lstm_filters=shape.lstm_filters,
        batch_norm=shape.batch_norm,
    )


def train_model(region: str, arch: Architecture, experiment: str, params: Params, verbose: int = 2) -> TrainResult:
    """Train one model on one experiment dataset of one region (see the module docstring)."""
    folder = dataset_dir(params, region, experiment)
    weights = class_weights(params.loss, region, load_manifest(folder))
    out = model_dir(params, region, arch, experiment)
    return _fit(region, arch, experiment, [folder], weights, out, params, verbose)


def leave_one_out_dir(params: Params, held_out: str, arch: str, experiment: str) -> Path:
    return params.training().models_dir / f"loro-{held_out}" / f"{arch}-{experiment}"


def train_leave_one_out(
    held_out: str, arch: Architecture, experiment: str, params: Params, verbose: int = 2
) -> TrainResult:
    """Train on the train/val blocks of every region but ``held_out`` (leave-one-region-out).

    Each region's patches keep their own normalisation; class weights are computed from
    the pooled training counts (the thesis's per-region weights do not apply to a mix).
    """
    from lithomap.datasets.split import leave_one_region_out

    roles = leave_one_region_out(list(params.regions), held_out)
    folders = [dataset_dir(params, region, experiment) for region, role in roles.items() if role == "train"]
    if not folders:
        raise ConfigError(f"leave-one-region-out needs at least two regions in params.yaml; {held_out!r} is alone")
    counts = np.sum([load_manifest(f)["class_pixels"]["train"] for f in folders], axis=0)
    auto = LossParams(class_weights="auto", auto_mode=params.loss.auto_mode)
    weights = class_weights(auto, f"loro-{held_out}", {"class_pixels": {"train": counts.tolist()}})
    out = leave_one_out_dir(params, held_out, arch, experiment)
    return _fit(f"loro-{held_out}", arch, experiment, folders, weights, out, params, verbose)


def _fit(
    name: str,
    arch: Architecture,
    experiment: str,
    folders: list[Path],
    weights: list[float],
    out: Path,
    params: Params,
    verbose: int,
) -> TrainResult:
    """Fit, resumably, on the train split of ``folders`` with early stopping on their val split."""
    settings = params.training()
    preset = settings.active()
    manifest = load_manifest(folders[0])
    backup = out / "backup"
    resumed_from = _last_epoch(out / HISTORY_FILE) if backup.exists() else 0
    if not backup.exists():
        shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)

    keras.utils.set_random_seed(settings.seed)
    train_data = make_dataset(
        folders, "train", arch, preset.batch_size, shuffle=True, seed=settings.seed, augment=settings.augment
    )
    val_data = make_dataset(folders, "val", arch, preset.batch_size)
    model = build_model(arch, input_spec(manifest, arch), params, preset.l2)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=preset.learning_rate[arch]),
        loss=make_loss(weights, gamma=params.loss.gamma, focal_weight=params.loss.focal_weight),
        metrics=[MacroF1(n_classes=N_CLASSES)],
    )
    mode = "max" if settings.monitor == "val_macro_f1" else "min"
    callbacks = [
        keras.callbacks.BackupAndRestore(str(backup)),
        keras.callbacks.CSVLogger(str(out / HISTORY_FILE), append=resumed_from > 0),
        keras.callbacks.EarlyStopping(
            monitor=settings.monitor, mode=mode, patience=preset.patience, restore_best_weights=True
        ),
        keras.callbacks.ReduceLROnPlateau(
            monitor=settings.monitor,
            mode=mode,
            factor=settings.reduce_lr_factor,
            patience=settings.reduce_lr_patience,
            min_lr=1e-6,
        ),
    ]
    started = time.perf_counter()
    model.fit(train_data, validation_data=val_data, epochs=preset.epochs, callbacks=callbacks, verbose=verbose)
    seconds = time.perf_counter() - started

    history = pd.read_csv(out / HISTORY_FILE)
    epochs_run = len(history)
    best = int(history["val_macro_f1"].idxmax()) if "val_macro_f1" in history else epochs_run - 1
    train_patches = sum(load_manifest(f)["patches"]["train"] for f in folders)
    result = TrainResult(
        region=name,
        arch=arch,
        experiment=experiment,
        model_dir=out,
        epochs_run=epochs_run,
        best_epoch=int(history["epoch"].iloc[best]) if "epoch" in history else best,
        best_val_macro_f1=float(history["val_macro_f1"].max()) if "val_macro_f1" in history else float("nan"),
        seconds=seconds,
        train_patches=train_patches,
        patches_per_second=train_patches * max(epochs_run - resumed_from, 1) / max(seconds, 1e-9),
        preset=settings.preset,
        resumed_from_epoch=resumed_from,
    )
    _save(model, out, manifest, arch, history, result)
    return result


def _last_epoch(history: Path) -> int:
    """Epochs already finished, as the CSV log of an interrupted run says."""
    if not history.is_file() or history.stat().st_size == 0:
        return 0
    return len(pd.read_csv(history))


def _save(
    model: keras.Model, out: Path, manifest: dict, arch: Architecture, history: pd.DataFrame, result: TrainResult
) -> None:
    stats = input_stats(manifest["normalisation"], manifest["sequence_length"], manifest["static_channels"], arch)
    temporary = out / f".{MODEL_FILE}.tmp.keras"
    model.save(temporary)
    temporary.replace(out / MODEL_FILE)
    save_stats(stats, out / STATS_FILE)
    plot_curves(
        {column: history[column].tolist() for column in history.columns if column != "epoch"}, out / "curves.png"
    )
    payload = asdict(result) | {
        "model_dir": str(out),
        "inputs": {k: list(v) for k, v in input_spec(manifest, arch).items()},
    }
    (out / SUMMARY_FILE).write_text(json.dumps(payload, indent=1))
