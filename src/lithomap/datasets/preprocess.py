"""Build the experiment datasets of a region: split once, then patches per experiment.

``split_region`` cuts the region into blocks and assigns them to train/val/test (saved
with the dataset, drawn as a picture, counted as a DVC metric). ``preprocess_experiment``
selects the experiment's dates, builds the stored channels, fits the normalisation on the
training pixels and writes the patches as npz shards that ``lithomap.datasets.tfdata``
streams. Every experiment of a region uses the same patches and split.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict

import numpy as np

from lithomap.atomic import atomic_directory, write_json
from lithomap.classes import N_CLASSES
from lithomap.config import ExperimentParams, IngestParams, PreprocessParams, RegionParams
from lithomap.datasets.manifest import LAYOUT, MANIFEST_FILE, Manifest, SelectedDate, Step, write_manifest
from lithomap.datasets.patches import assign_patches, pad, padded_shape, patch_origins
from lithomap.datasets.scene import CubeChannels, region_date_count
from lithomap.datasets.split import NONE, SPLITS, TRAIN, SpatialSplit, block_split
from lithomap.errors import ExperimentNotPossibleError, InputDataError, MissingSourceError
from lithomap.io.cube import TRAINING_VARIABLES, cube_path, open_cube

log = logging.getLogger(__name__)
SPLIT_FILE = "split.npz"


@dataclass
class DatasetReport:
    """What one experiment dataset holds."""

    region: str
    experiment: str
    output: Path
    dates: int
    steps: int
    patches: dict[str, int]
    class_pixels: dict[str, list[int]] = field(default_factory=dict)

    def summary(self) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in self.patches.items())
        return f"{self.experiment}: {self.dates} dates → {self.steps} steps; patches {counts}; {self.output}"


def split_region(name: str, region: RegionParams, ingest: IngestParams, settings: PreprocessParams) -> SpatialSplit:
    """Compute the region's blocked split, save it, draw it and write its class counts."""
    from lithomap.datasets.plots import draw_class_counts, draw_split

    path = cube_path(ingest.interim_dir, name)
    cube = open_cube(path, region, TRAINING_VARIABLES, "split")
    label = cube["label"].values.astype(np.uint8)
    buffer_px = settings.split_buffer_px
    patch_origins(label.shape, settings.patch_size, settings.overlap, path)
    split = block_split(label, settings.block_size, buffer_px, settings.split_fractions, settings.split_seed)
    folder = settings.processed_dir / name
    folder.mkdir(parents=True, exist_ok=True)
    split.save(folder / SPLIT_FILE)
    counts = split_class_counts(label, split.pixels)
    reports = settings.reports_dir / name
    reports.mkdir(parents=True, exist_ok=True)
    write_json(reports / "class_counts.json", counts)
    draw_split(label, split, reports / "split.png", title=name)
    draw_class_counts(counts, reports / "class_counts.png", title=name)
    return split


def split_class_counts(label: np.ndarray, pixels: np.ndarray) -> dict[str, dict[str, int]]:
    """Labelled pixels of each class in each split (and in buffers)."""
    from lithomap.classes import all_classes

    names = [c.name for c in all_classes()]
    result = {}
    for index, split in enumerate([*SPLITS, "buffer"]):
        wanted = pixels == (index if split != "buffer" else NONE)
        counts = np.bincount(label[wanted], minlength=N_CLASSES)
        result[split] = {names[c]: int(counts[c]) for c in range(1, N_CLASSES)}
    return result


def preprocess_experiment(
    name: str,
    region: RegionParams,
    ingest: IngestParams,
    settings: PreprocessParams,
    experiment_name: str,
    experiment: ExperimentParams,
    date_count: int | None = None,
) -> DatasetReport:
    """Write the shards and manifest of one experiment (see the module docstring).

    ``date_count`` draws that many of the selected dates (``preprocess.equal_dates``; see
    ``preprocess_region``); None keeps them all.
    """
    path = cube_path(ingest.interim_dir, name)
    cube = open_cube(path, region, TRAINING_VARIABLES, "preprocess")
    split_path = settings.processed_dir / name / SPLIT_FILE
    if not split_path.exists():
        raise MissingSourceError(
            split_path,
            "no split for this region (preprocess never makes one, so every experiment shares one split)",
            f"run `lithomap split --region {name}` first",
        )
    split = SpatialSplit.load(split_path)
    label = cube["label"].values.astype(np.uint8)
    if split.pixels.shape != label.shape:
        raise InputDataError(
            split_path, "the split does not match the cube's shape", f"rerun `lithomap split -r {name}`"
        )
    channels = CubeChannels.select(cube, experiment_name, experiment, settings, path, date_count)
    times = cube["time"].values
    solar = cube["solar_time"].values.astype(float)
    chosen, steps, day = channels.chosen, channels.steps, channels.day
    sequence, static = channels.read(0, 0, label.shape)
    static_names = channels.static_names
    hours, doys = channels.step_clock()
    clock = channels.time_features()
    step_names = channels.step_names
    stats = fit_normalisation(sequence, static, step_names, static_names, (split.pixels == TRAIN) & (label > 0))

    origins = patch_origins(label.shape, settings.patch_size, settings.overlap, path)
    patch_split = assign_patches(origins, split.pixels, label, settings.patch_size, settings.min_labelled_fraction)
    target = padded_shape(origins, settings.patch_size, label.shape)
    sequence_p = pad(np.moveaxis(sequence, -1, 0), target, np.nan)  # (C, T, H, W)
    static_p = pad(np.moveaxis(static, -1, 0), target, np.nan)  # (Cs, H, W)
    label_p = pad(label, target, 0)
    pixels_p = pad(split.pixels, target, NONE)

    final = settings.processed_dir / name / experiment_name
    patches: dict[str, int] = {}
    class_pixels: dict[str, list[int]] = {}
    with atomic_directory(final) as temporary:
        temporary.mkdir(parents=True)
        for index, split_name in enumerate(SPLITS):
            members = origins[patch_split == index]
            patches[split_name] = len(members)
            counts = np.zeros(N_CLASSES, dtype=np.int64)
            for shard, start in enumerate(range(0, len(members), settings.shard_size)):
                block = members[start : start + settings.shard_size]
                arrays = _cut(block, settings.patch_size, sequence_p, static_p, label_p, pixels_p, index)
                counts += np.bincount(arrays["label"].ravel(), minlength=N_CLASSES)
                np.savez(temporary / f"{split_name}-{shard:05d}.npz", **arrays)
            class_pixels[split_name] = counts.tolist()
        manifest = Manifest(
            layout=LAYOUT,
            region=name,
            experiment=experiment_name,
            selection=experiment.model_dump(mode="json"),
            patch_size=settings.patch_size,
            overlap=settings.overlap,
            sequence_length=settings.sequence_length,
            steps=[
                Step(utc=str(times[i]) if i >= 0 else None, solar_hour=float(hours[k]), doy=int(doys[k]))
                for k, i in enumerate(steps)
            ],
            dates=[
                SelectedDate(utc=str(times[i]), solar_hour=float(solar[i]), day=bool(flag))
                for i, flag in zip(chosen, day, strict=True)
            ],
            step_channels=step_names,
            static_channels=static_names,
            time_features=clock.tolist(),
            normalisation=stats,
            patches=patches,
            class_pixels=class_pixels,
            crs=str(cube.rio.crs),
            transform=list(cube.rio.transform())[:6],
            shape=label.shape,
        )
        write_manifest(temporary, manifest)
        split.save(temporary / SPLIT_FILE)
    return DatasetReport(name, experiment_name, final, len(chosen), len(steps), patches, class_pixels)


@dataclass
class RegionDatasets:
    """The experiment datasets one ``lithomap preprocess`` built for a region, and those it skipped.

    Attributes:
        built: a report per dataset written.
        skipped: experiment → why the region's data cannot make it (no date selected, a layer absent).
    """

    built: list[DatasetReport]
    skipped: dict[str, str]


def preprocess_region(
    name: str,
    region: RegionParams,
    ingest: IngestParams,
    settings: PreprocessParams,
    experiments: Mapping[str, ExperimentParams],
    skip_impossible: bool = True,
    all_experiments: Mapping[str, ExperimentParams] | None = None,
) -> RegionDatasets:
    """Build every experiment of ``experiments`` the region's data allows.

    An experiment the data cannot make (:class:`ExperimentNotPossibleError`: e.g. ``winter``
    without winter dates, ``all`` without Sentinel-1) is skipped and reported, and its
    previous dataset, if any, is left as it was; any other error stops.

    Args:
        name: region name.
        region: the region's params.
        ingest: where the cube is.
        settings: preprocess params.
        experiments: name → selection, in the order to build.
        skip_impossible: skip (and report) impossible experiments; False raises on the first,
            for experiments the user asked for by name.
        all_experiments: every experiment of params.yaml (default ``experiments``): with
            ``preprocess.equal_dates`` each built experiment draws as many dates as the
            smallest possible selection among them, so the count does not depend on which
            experiments one command builds.

    Raises:
        ExperimentNotPossibleError: none of the experiments is possible (or, without
            ``skip_impossible``, one is not); the message lists why for each.
    """
    built: list[DatasetReport] = []
    skipped: dict[str, str] = {}
    date_count = None
    if settings.equal_dates:
        cube = open_cube(cube_path(ingest.interim_dir, name), region, TRAINING_VARIABLES, "preprocess")
        date_count = region_date_count(cube, all_experiments or experiments, settings)
        log.info("region %s: every experiment draws %s dates (preprocess.equal_dates)", name, date_count)
    for experiment_name, experiment in experiments.items():
        try:
            built.append(preprocess_experiment(name, region, ingest, settings, experiment_name, experiment, date_count))
        except ExperimentNotPossibleError as exc:
            if not skip_impossible:
                raise
            log.warning("region %s: experiment %s skipped: %s", name, experiment_name, exc.problem)
            skipped[experiment_name] = exc.problem
    if skipped and not built:
        reasons = "; ".join(f"{key}: {why}" for key, why in skipped.items())
        raise ExperimentNotPossibleError(
            cube_path(ingest.interim_dir, name),
            f"the region's data allows none of the experiments ({reasons})",
            "add the missing acquisitions or sources to the region's raw folder and ingest again",
        )
    return RegionDatasets(built, skipped)


def built_experiments(name: str, experiments: Iterable[str], settings: PreprocessParams) -> list[str]:
    """The experiments among ``experiments`` whose dataset exists for region ``name`` (in the given order).

    Raises:
        MissingSourceError: none exists (nothing to validate or train on yet).
    """
    wanted = list(experiments)
    found = [e for e in wanted if (settings.processed_dir / name / e / MANIFEST_FILE).is_file()]
    if not found:
        raise MissingSourceError(
            settings.processed_dir / name,
            f"no experiment dataset of region {name!r} exists (looked for {', '.join(wanted)})",
            f"run `lithomap split -r {name}` and `lithomap preprocess -r {name}` first",
        )
    return found


def fit_normalisation(
    sequence: np.ndarray, static: np.ndarray, step_names: list[str], static_names: list[str], train: np.ndarray
) -> dict[str, dict[str, float]]:
    """Mean and std of every physical channel over the (labelled) training pixels only.

    Args:
        sequence: (T, H, W, C) stored step channels.
        static: (H, W, Cs) static channels.
        step_names: names of the C step channels.
        static_names: names of the static channels.
        train: (H, W) bool, the pixels to fit on.
    """
    stats = {}
    for k, channel in enumerate(step_names):
        values = sequence[:, train, k]
        stats[channel] = _mean_std(values)
    for k, channel in enumerate(static_names):
        stats[channel] = _mean_std(static[train, k])
    return stats


def _mean_std(values: np.ndarray) -> dict[str, float]:
    finite = values[np.isfinite(values)].astype(np.float64)
    if finite.size == 0:
        return {"mean": 0.0, "std": 1.0}
    std = float(finite.std())
    return {"mean": float(finite.mean()), "std": std if std > 0 else 1.0}


class PatchShard(TypedDict):
    """The arrays of one shard file (``<split>-<shard>.npz``), one row per patch."""

    sequence: np.ndarray
    static: np.ndarray
    label: np.ndarray
    origin: np.ndarray


def _cut(
    origins: np.ndarray,
    patch: int,
    sequence: np.ndarray,
    static: np.ndarray,
    label: np.ndarray,
    pixels: np.ndarray,
    split_index: int,
) -> PatchShard:
    rows = [slice(r, r + patch) for r, _ in origins]
    cols = [slice(c, c + patch) for _, c in origins]
    seq = np.stack([sequence[:, :, r, c] for r, c in zip(rows, cols, strict=True)])  # (n, C, T, P, P)
    fixed = np.stack([static[:, r, c] for r, c in zip(rows, cols, strict=True)])  # (n, Cs, P, P)
    own = np.stack([pixels[r, c] == split_index for r, c in zip(rows, cols, strict=True)])
    labels = np.stack([label[r, c] for r, c in zip(rows, cols, strict=True)])
    return PatchShard(
        sequence=np.moveaxis(seq, 1, -1).astype(np.float16),  # (n, T, P, P, C)
        static=np.moveaxis(fixed, 1, -1).astype(np.float16),  # (n, P, P, Cs)
        label=np.where(own, labels, 0).astype(np.uint8),
        origin=origins.astype(np.int32),
    )
