"""Stream experiment datasets into training: shards → patches → model inputs, in parallel.

Shards are read by an interleave over files, patches are normalised and laid out for the
chosen architecture by a parallel map (``lithomap.datasets.features``), then shuffled,
batched and prefetched, so a training loop never holds the whole dataset in memory.
Training batches may be augmented: flips and rotations, and climate offsets and gains of
the thermal anomalies (``lithomap.datasets.climate``, applied to the physical values
before normalisation).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf

from lithomap.config import ClimateAugmentParams
from lithomap.datasets.climate import ClimateDraw, shift_climate
from lithomap.datasets.features import Architecture, channel_names, model_inputs
from lithomap.datasets.manifest import Manifest, load_manifest
from lithomap.errors import MissingSourceError

AUTOTUNE = tf.data.AUTOTUNE
_CLIMATE_STREAM = 1_000_003  # keeps the climate draws apart from the flips' (seed, index) draws


def shard_origins(folder: Path, split: str) -> np.ndarray:
    """(n, 2) row/col origins of the patches of one split, in shard order."""
    origins = []
    for path in shard_files(folder, split):
        with np.load(path) as shard:
            origins.append(shard["origin"])
    return np.concatenate(origins).astype(np.int64)


def shard_files(folder: Path, split: str) -> list[Path]:
    """The shard files of one split, in order."""
    files = sorted(folder.glob(f"{split}-*.npz"))
    if not files:
        raise MissingSourceError(
            folder, f"no {split} patches in this dataset", "check the split (lithomap split) and rerun preprocess"
        )
    return files


def input_spec(manifest: Manifest, architecture: Architecture) -> dict[str, tuple[int, ...]]:
    """Shape (without batch) of every model input."""
    names = channel_names(manifest.sequence_length, manifest.step_channels, manifest.static_channels, architecture)
    patch = manifest.patch_size
    if architecture == "convlstm":
        spec: dict[str, tuple[int, ...]] = {
            "sequence": (manifest.sequence_length, patch, patch, len(names["sequence"]))
        }
        if "static" in names:
            spec["static"] = (patch, patch, len(names["static"]))
        return spec
    return {"features": (patch, patch, len(names["features"]))}


def make_dataset(
    folder: Path | Sequence[Path],
    split: str,
    architecture: Architecture,
    batch_size: int,
    shuffle: bool = False,
    seed: int = 0,
    augment: bool = False,
    climate: ClimateAugmentParams | None = None,
) -> tf.data.Dataset:
    """A ``tf.data.Dataset`` of (inputs dict, labels) batches for one split of a dataset.

    Several dataset folders (the same experiment of several regions, as in a
    leave-one-region-out run) are read together; each is normalised with its own
    statistics. With ``augment`` every patch is flipped and rotated by a random multiple of
    90° (inputs and labels alike), so a model cannot learn the layout of the training blocks.
    With ``climate`` enabled every patch's thermal anomalies take a random offset and gain
    (``lithomap.datasets.climate``), drawn from ``seed``, the folder's position and the
    patch's position in the folder's stream; disabled or None, nothing changes.
    """
    folders = [Path(folder)] if isinstance(folder, str | Path) else [Path(f) for f in folder]
    climate = climate if climate is not None and climate.enabled else None
    parts = [_patches(path, split, architecture, shuffle, seed, climate, stream) for stream, path in enumerate(folders)]
    dataset = parts[0]
    for part in parts[1:]:
        dataset = dataset.concatenate(part)
    if shuffle and len(parts) > 1:
        dataset = dataset.shuffle(512, seed=seed, reshuffle_each_iteration=True)
    if augment:
        dataset = dataset.enumerate().map(_augment(seed), num_parallel_calls=AUTOTUNE, deterministic=True)
    return dataset.batch(batch_size).prefetch(AUTOTUNE)


def _patches(
    folder: Path,
    split: str,
    architecture: Architecture,
    shuffle: bool,
    seed: int,
    climate: ClimateAugmentParams | None = None,
    stream: int = 0,
) -> tf.data.Dataset:
    """Unbatched, normalised (inputs, label) patches of one split of one dataset folder.

    With ``climate`` each patch is augmented (``lithomap.datasets.climate``) before it is
    normalised; the draw is stateless, from ``seed``, ``stream`` (the folder's position
    among those read together) and the patch's position in this folder's stream.
    """
    manifest = load_manifest(folder)
    files = [str(p) for p in shard_files(folder, split)]
    times = manifest.times()
    stats = manifest.normalisation
    step_names, static_names = manifest.step_channels, manifest.static_channels
    spec = input_spec(manifest, architecture)
    patch = manifest.patch_size
    steps = manifest.sequence_length

    def read(path: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        with np.load(path.decode()) as shard:
            return shard["sequence"].astype(np.float32), shard["static"].astype(np.float32), shard["label"]

    def load(path: tf.Tensor) -> tf.data.Dataset:
        sequence, static, label = tf.numpy_function(read, [path], [tf.float32, tf.float32, tf.uint8])
        sequence.set_shape([None, steps, patch, patch, len(step_names)])
        static.set_shape([None, patch, patch, len(static_names)])
        label.set_shape([None, patch, patch])
        return tf.data.Dataset.from_tensor_slices((sequence, static, label))

    def layout(sequence: np.ndarray, static: np.ndarray, unit: np.ndarray | None = None) -> list[np.ndarray]:
        clock = times
        if unit is not None and climate is not None:
            draw = ClimateDraw.from_unit(unit, climate)
            sequence, static, clock = shift_climate(sequence, static, times, draw, step_names, static_names)
        inputs = model_inputs(sequence[None], static[None], clock, stats, step_names, static_names, architecture)
        return [inputs[name][0] for name in spec]

    def named(outputs: list[tf.Tensor], label: tf.Tensor):
        inputs = {}
        for name, tensor in zip(spec, outputs, strict=True):
            tensor.set_shape(spec[name])
            inputs[name] = tensor
        return inputs, tf.cast(label, tf.int32)

    def prepare(sequence: tf.Tensor, static: tf.Tensor, label: tf.Tensor):
        return named(tf.numpy_function(layout, [sequence, static], [tf.float32] * len(spec)), label)

    def prepare_climate(index: tf.Tensor, element: tuple[tf.Tensor, tf.Tensor, tf.Tensor]):
        sequence, static, label = element
        key = tf.stack([tf.constant(seed, tf.int64) + _CLIMATE_STREAM * (stream + 1), index])
        unit = tf.random.stateless_uniform([3], seed=key, minval=-1.0, maxval=1.0, dtype=tf.float32)
        return named(tf.numpy_function(layout, [sequence, static, unit], [tf.float32] * len(spec)), label)

    files_ds = tf.data.Dataset.from_tensor_slices(files)
    if shuffle:
        files_ds = files_ds.shuffle(len(files), seed=seed)
    dataset = files_ds.interleave(load, cycle_length=2, num_parallel_calls=AUTOTUNE, deterministic=True)
    if shuffle:
        dataset = dataset.shuffle(256, seed=seed, reshuffle_each_iteration=True)
    if climate is not None:
        dataset = dataset.enumerate().map(prepare_climate, num_parallel_calls=AUTOTUNE, deterministic=True)
    else:
        dataset = dataset.map(prepare, num_parallel_calls=AUTOTUNE, deterministic=True)
    return dataset.apply(tf.data.experimental.assert_cardinality(manifest.patches[split]))


def _augment(seed: int):
    """A map function applying one of the 8 flips/rotations per patch, drawn statelessly.

    The draw depends only on the seed and the element's position, so a seeded run sees the
    same augmentations whatever the thread scheduling.
    """

    def transform(tensor: tf.Tensor, turns: tf.Tensor, flip: tf.Tensor) -> tf.Tensor:
        rotated = tf.image.rot90(tensor, turns)
        return tf.cond(flip, lambda: tf.image.flip_left_right(rotated), lambda: rotated)

    def apply(index: tf.Tensor, element: tuple[dict, tf.Tensor]):
        inputs, label = element
        key = tf.stack([tf.constant(seed, tf.int64), index])
        draw = tf.random.stateless_uniform([], seed=key, minval=0, maxval=8, dtype=tf.int32)
        turns, flip = draw % 4, draw >= 4
        moved = {name: transform(tensor, turns, flip) for name, tensor in inputs.items()}
        return moved, transform(label[..., None], turns, flip)[..., 0]

    return apply
