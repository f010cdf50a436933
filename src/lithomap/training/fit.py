"""Train one (region, model, experiment): tf.data in, a saved Keras model and its curves out.

Training is seeded and resumable. It runs in a work folder beside the model folder
(``.<arch>-<experiment>.partial``): ``BackupAndRestore`` keeps the last finished epoch
there, with the CSV history and the fingerprint of the training settings, and a killed
run started again continues from there — unless the settings changed (another batch
size, learning rate, loss, ...), in which case it says so and starts fresh. Early
stopping and learning-rate reduction watch the validation macro-F1 (or loss). The
finished model, its normalisation statistics, its domain-shift reference (``shift.json``,
``lithomap.models.shift``: the training pixels' summary distribution), the history, the
curves and the training record (``train.json``: what was run, with the settings actually used) are assembled in
a temporary folder that replaces the model folder only when complete, so the previous
model stays loadable until then.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import keras
import numpy as np
import pandas as pd

from lithomap.atomic import atomic_directory, write_json, write_text
from lithomap.classes import N_CLASSES
from lithomap.config import LossParams, ModelParams, Params, PreprocessParams, TrainParams
from lithomap.datasets.features import input_stats
from lithomap.datasets.manifest import Manifest, load_manifest
from lithomap.datasets.tfdata import input_spec, make_dataset
from lithomap.errors import ConfigError, InputDataError, MissingSourceError
from lithomap.models.convlstm import build_convlstm
from lithomap.models.keras_metrics import MacroF1
from lithomap.models.losses import THESIS_CLASS_WEIGHTS, class_weights_auto, make_loss
from lithomap.models.normalisation import save_stats
from lithomap.models.plots import plot_curves
from lithomap.models.shift import REFERENCE_FILE, ShiftReference, save_reference
from lithomap.models.unet import build_unet
from lithomap.training.tuned import tuned_params

log = logging.getLogger(__name__)
Architecture = Literal["cnn", "convlstm"]
MODEL_FILE = "model.keras"
STATS_FILE = "normalisation.json"
HISTORY_FILE = "history.csv"
SUMMARY_FILE = "train.json"
CURVES_FILE = "curves.png"
SETTINGS_FILE = "settings.json"
BACKUP = "backup"
# changing these continues a resumed run correctly, so they stay out of the fingerprint
_RESUMABLE = ("epochs", "patience")


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
    settings: dict = field(default_factory=dict)

    def summary(self) -> str:
        resumed = f", resumed after epoch {self.resumed_from_epoch}" if self.resumed_from_epoch else ""
        return (
            f"{self.arch}/{self.experiment}: {self.epochs_run} epochs{resumed} in {self.seconds:.0f} s "
            f"({self.patches_per_second:.1f} patches/s); best val macro-F1 {self.best_val_macro_f1:.3f} "
            f"at epoch {self.best_epoch}; {self.model_dir}"
        )


def model_dir(train: TrainParams, region: str, arch: str, experiment: str) -> Path:
    """``<models_dir>/<region>/<arch>-<experiment>``."""
    return train.models_dir / region / f"{arch}-{experiment}"


def dataset_dir(preprocess: PreprocessParams, region: str, experiment: str) -> Path:
    """``<processed_dir>/<region>/<experiment>``."""
    return preprocess.processed_dir / region / experiment


def work_dir(out: Path) -> Path:
    """The folder an unfinished training run of ``out`` lives in (backup, history, settings)."""
    return out.parent / f".{out.name}.partial"


def class_weights(loss: LossParams, region: str, train_counts: list[int]) -> list[float]:
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
    counts = np.asarray(train_counts, dtype=float)
    return [float(w) for w in class_weights_auto(counts, mode=loss.auto_mode)]


def build_model(arch: Architecture, spec: dict[str, tuple[int, ...]], model: ModelParams, l2: float) -> keras.Model:
    """The configured U-Net or ConvLSTM for the dataset's input shapes."""
    shape = model.cnn if arch == "cnn" else model.convlstm
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


def compile_model(
    arch: Architecture,
    spec: dict[str, tuple[int, ...]],
    train: TrainParams,
    model_params: ModelParams,
    loss: LossParams,
    weights: list[float],
) -> keras.Model:
    """``build_model`` compiled with the active preset's Adam, the weighted focal loss and macro-F1."""
    preset = train.active()
    model = build_model(arch, spec, model_params, preset.l2)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=preset.learning_rate[arch]),
        loss=make_loss(weights, gamma=loss.gamma, focal_weight=loss.focal_weight),
        metrics=[MacroF1(n_classes=N_CLASSES)],
    )
    return model


def train_model(region: str, arch: Architecture, experiment: str, params: Params, verbose: int = 2) -> TrainResult:
    """Train one model on one experiment dataset of one region (see the module docstring)."""
    params = tuned_params(params, region, arch, experiment)
    folder = dataset_dir(params.preprocess, region, experiment)
    weights = class_weights(params.loss, region, load_manifest(folder).class_pixels["train"])
    out = model_dir(params.training(), region, arch, experiment)
    return fit(region, arch, experiment, [folder], weights, out, params.training(), params.model, params.loss, verbose)


def fit(
    name: str,
    arch: Architecture,
    experiment: str,
    folders: list[Path],
    weights: list[float],
    out: Path,
    train: TrainParams,
    model_params: ModelParams,
    loss: LossParams,
    verbose: int,
) -> TrainResult:
    """Fit, resumably, on the train split of ``folders`` with early stopping on their val split.

    Args:
        name: what is trained (a region, or ``loro-<region>``).
        arch: ``cnn`` or ``convlstm``.
        experiment: the experiment of the datasets.
        folders: experiment dataset folders (one per region).
        weights: per-class loss weights.
        out: the model folder, replaced only once the new model is complete.
        train: the ``train`` section (its active preset is used).
        model_params: the ``model`` section.
        loss: the ``loss`` section.
        verbose: Keras verbosity.
    """
    preset = train.active()
    manifests = [load_manifest(f) for f in folders]
    settings = training_settings(arch, experiment, folders, manifests, weights, train, model_params, loss)
    work = work_dir(out)
    resumed_from = resume_or_restart(work, settings)

    keras.utils.set_random_seed(train.seed)
    train_data = make_dataset(
        folders,
        "train",
        arch,
        preset.batch_size,
        shuffle=True,
        seed=train.seed,
        augment=train.augment,
        climate=train.climate_augment,
    )
    val_data = make_dataset(folders, "val", arch, preset.batch_size)
    model = compile_model(arch, input_spec(manifests[0], arch), train, model_params, loss, weights)
    mode = "max" if train.monitor == "val_macro_f1" else "min"
    callbacks = [
        keras.callbacks.BackupAndRestore(str(work / BACKUP)),
        keras.callbacks.CSVLogger(str(work / HISTORY_FILE), append=resumed_from > 0),
        keras.callbacks.EarlyStopping(
            monitor=train.monitor, mode=mode, patience=preset.patience, restore_best_weights=True
        ),
        keras.callbacks.ReduceLROnPlateau(
            monitor=train.monitor,
            mode=mode,
            factor=train.reduce_lr_factor,
            patience=train.reduce_lr_patience,
            min_lr=1e-6,
        ),
    ]
    started = time.perf_counter()
    model.fit(train_data, validation_data=val_data, epochs=preset.epochs, callbacks=callbacks, verbose=verbose)
    seconds = time.perf_counter() - started

    history = pd.read_csv(work / HISTORY_FILE)
    epochs_run = len(history)
    best = int(history["val_macro_f1"].idxmax()) if "val_macro_f1" in history else epochs_run - 1
    train_patches = sum(m.patches["train"] for m in manifests)
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
        preset=train.preset,
        resumed_from_epoch=resumed_from,
        settings=settings,
    )
    _save(model, out, manifests[0], arch, history, result, shift_reference(folders, manifests[0], train.seed))
    shutil.rmtree(work, ignore_errors=True)
    return result


def training_settings(
    arch: Architecture,
    experiment: str,
    folders: list[Path],
    manifests: list[Manifest],
    weights: list[float],
    train: TrainParams,
    model: ModelParams,
    loss: LossParams,
) -> dict:
    """The settings a run trains with: logged to MLflow, and fingerprinted for resuming.

    Climate augmentation is recorded only when enabled, so the settings of a run without
    it (and their fingerprint) are those of a run made before the option existed.
    """
    climate = (
        {"climate_augment": train.climate_augment.model_dump(mode="json")} if train.climate_augment.enabled else {}
    )
    return {
        "arch": arch,
        "experiment": experiment,
        "datasets": {
            str(f): {"patches": m.patches, "shape": list(m.shape)} for f, m in zip(folders, manifests, strict=True)
        },
        "train": train.active().model_dump(mode="json")
        | {"learning_rate": train.active().learning_rate[arch]}
        | {"preset": train.preset, "seed": train.seed, "augment": train.augment, "monitor": train.monitor}
        | {"reduce_lr_factor": train.reduce_lr_factor, "reduce_lr_patience": train.reduce_lr_patience}
        | climate,
        "model": getattr(model, arch).model_dump(mode="json"),
        "loss": loss.model_dump(mode="json") | {"weights": [round(float(w), 6) for w in weights]},
    }


def settings_fingerprint(settings: dict) -> str:
    """Hash of the settings that a resumed run must share with its backup."""
    kept = json.loads(json.dumps(settings, sort_keys=True, default=str))
    for key in _RESUMABLE:
        kept["train"].pop(key, None)
    return hashlib.sha256(json.dumps(kept, sort_keys=True).encode()).hexdigest()[:16]


def resume_or_restart(work: Path, settings: dict) -> int:
    """Epochs a run can resume from in ``work``; a backup made with other settings is discarded.

    Returns:
        The finished epochs of a matching backup, else 0 (``work`` then holds only the
        new settings file).
    """
    fingerprint = settings_fingerprint(settings)
    record = work / SETTINGS_FILE
    if work.exists():
        stored = json.loads(record.read_text()) if record.is_file() else {}
        if stored.get("fingerprint") == fingerprint:
            return _last_epoch(work / HISTORY_FILE)
        log.warning(
            "%s: the unfinished run there used other training settings (%s); starting fresh",
            work,
            ", ".join(changed_settings(stored.get("settings", {}), settings)) or "no settings recorded",
        )
        shutil.rmtree(work)
    work.mkdir(parents=True)
    write_json(record, {"fingerprint": fingerprint, "settings": settings})
    return 0


def changed_settings(before: dict, after: dict, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two nested settings dicts."""
    keys = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if isinstance(old, dict) and isinstance(new, dict):
            keys += changed_settings(old, new, f"{prefix}{key}.")
        elif old != new:
            keys.append(f"{prefix}{key}: {old} → {new}")
    return keys


def _last_epoch(history: Path) -> int:
    """Epochs already finished, as the CSV log of an interrupted run says."""
    if not history.is_file() or history.stat().st_size == 0:
        return 0
    return len(pd.read_csv(history))


def shift_reference(
    folders: list[Path], manifest: Manifest, seed: int, max_pixels: int = 200_000
) -> ShiftReference | None:
    """The domain-shift reference of the labelled training pixels of ``folders`` (None without summaries).

    Fitted on the thermal-summary channels of the train shards (physical values), on a
    seeded sample of at most ``max_pixels`` pixels.
    """
    from lithomap.datasets.scene import INVARIANT_SUMMARY, SUMMARY_CHANNELS

    names = [n for n in manifest.static_channels if n in (*SUMMARY_CHANNELS, INVARIANT_SUMMARY)]
    if not names:
        return None
    columns = [manifest.static_channels.index(n) for n in names]
    rows = []
    for folder in folders:
        for path in sorted(folder.glob("train-*.npz")):
            with np.load(path) as shard:
                labelled = shard["label"] > 0
                rows.append(shard["static"][..., columns][labelled].astype(np.float32))
    values = np.concatenate(rows) if rows else np.zeros((0, len(names)), np.float32)
    if len(values) > max_pixels:
        values = values[np.random.default_rng(seed).choice(len(values), max_pixels, replace=False)]
    try:
        return ShiftReference.fit(values, names)
    except InputDataError as error:
        log.warning("no domain-shift reference for %s: %s", _folders_text(folders), error.problem)
        return None


def _folders_text(folders: list[Path]) -> str:
    """The datasets' folders as one short string (for messages)."""
    return ", ".join(f"{f.parent.name}/{f.name}" for f in folders)


def _save(
    model: keras.Model,
    out: Path,
    manifest: Manifest,
    arch: Architecture,
    history: pd.DataFrame,
    result: TrainResult,
    shift: ShiftReference | None = None,
) -> None:
    """Assemble the model folder in a temporary folder and swap it in."""
    stats = input_stats(
        manifest.normalisation, manifest.sequence_length, manifest.step_channels, manifest.static_channels, arch
    )
    payload = asdict(result) | {
        "model_dir": str(out),
        "inputs": {k: list(v) for k, v in input_spec(manifest, arch).items()},
    }
    with atomic_directory(out) as temporary:
        temporary.mkdir()
        model.save(temporary / MODEL_FILE)
        save_stats(stats, temporary / STATS_FILE)
        if shift is not None:
            save_reference(shift, temporary / REFERENCE_FILE)
        write_text(temporary / HISTORY_FILE, history.to_csv(index=False))
        plot_curves(
            {column: history[column].tolist() for column in history.columns if column != "epoch"},
            temporary / CURVES_FILE,
        )
        write_json(temporary / SUMMARY_FILE, payload)


def read_training_record(trained: Path) -> dict:
    """The ``train.json`` of a model folder (what was trained, with the settings used).

    Raises:
        MissingSourceError: the folder holds no finished model.
    """
    path = trained / SUMMARY_FILE
    if not path.is_file():
        raise MissingSourceError(path, "no finished model here", "run `lithomap train` for it first")
    return json.loads(path.read_text())
