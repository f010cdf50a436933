"""Rasters → summary tables that Great Expectations can validate.

GX validates tables, so each raw source and each processed dataset is summarised first:
one row per file, per acquisition, per label value, per region, per channel. Values are
read through the same readers ``lithomap ingest`` uses. The value statistics are taken on
each file's own pixels inside the region (the numbers a failure quotes are values the file
holds); coverage and label counts on a coarser copy of the region grid (``SUMMARY_FACTOR``
times the pixel size), so the summaries cost a fraction of an ingest.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import rasterio
from rasterio.crs import CRS
from scipy import ndimage

from lithomap.classes import N_CLASSES, class_names, load_mapper
from lithomap.config import IngestParams, PreprocessParams, RegionParams
from lithomap.datasets.features import model_inputs
from lithomap.datasets.manifest import Manifest, load_manifest
from lithomap.datasets.split import SPLITS
from lithomap.errors import InputDataError
from lithomap.io.geology import load_geology
from lithomap.io.grid import RegionGrid
from lithomap.io.ingest import SourceCatalog, build_grid, discover_sources, drop_outliers, not_lst
from lithomap.io.rasterfile import open_raster
from lithomap.io.sources import SOURCE_KINDS, Scene, SceneReader
from lithomap.timing import is_daytime, season_of_month, solar_hour

SUMMARY_FACTOR = 4
STATS = ("min", "low", "p50", "high", "max")


def _stats(values: np.ndarray, tail_percent: float) -> dict[str, float]:
    """Minimum, ``tail_percent`` percentile (``low``), median, 100 − ``tail_percent`` percentile (``high``), maximum.

    The percentiles are taken with ``method="lower"``/``"higher"``, so each is a value the
    data hold. NaN everywhere when no value is finite.
    """
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return dict.fromkeys(STATS, np.nan)
    return {
        "min": float(finite.min()),
        "low": float(np.percentile(finite, tail_percent, method="lower")),
        "p50": float(np.percentile(finite, 50, method="lower")),
        "high": float(np.percentile(finite, 100 - tail_percent, method="higher")),
        "max": float(finite.max()),
    }


def raw_tables(
    region: RegionParams, ingest: IngestParams, settings: PreprocessParams, tail_percent: float = 0.1
) -> dict[str, pd.DataFrame]:
    """Summary tables of a region's raw folder.

    ``files`` (one row per file: the problem that makes it unusable, if any, and whether it
    overlaps the region), ``thermal`` (one row per thermal acquisition: time, solar hour,
    day/night, season), one table per variable (``lst``, ``emissivity``, ``vv``, ``vh``,
    ``ndvi``, ``dem``: one row per acquisition, or per DEM file, its id the file the
    variable is read from, with the :data:`STATS` of the file's own valid pixels inside the
    region (``tail_percent`` sets ``low``/``high``) and the valid fraction on the grid),
    ``labels`` and ``region``. A file the readers
    refuse (unreadable, no CRS, truncated, raw DN …) is recorded in ``files`` and left out of
    the other tables, so the report lists every bad file at once.
    """
    catalog = discover_sources(region.raw_dir)
    problems: dict[Path, str] = dict(not_lst(catalog))
    for kind in SOURCE_KINDS:
        for _, scene in getattr(catalog, kind):
            for path in scene.files:
                problems.setdefault(path, _open_problem(path))
    usable = replace(catalog, **{kind: _usable(getattr(catalog, kind), problems) for kind in SOURCE_KINDS})
    usable, ignored = drop_outliers(region, usable)
    grid = build_grid(region, usable, ingest.max_grid_pixels)
    coarse = RegionGrid.from_bounds(grid.crs, grid.resolution * SUMMARY_FACTOR, grid.bounds)
    window = next(coarse.windows(max(coarse.width, coarse.height)))
    thermal: list[dict[str, object]] = []
    variables: dict[str, list[dict[str, object]]] = {}
    for kind in SOURCE_KINDS:
        for reader, scene in getattr(usable, kind):
            try:
                with reader(scene, ingest) as opened:
                    values = opened.read(coarse, window)
                    native = opened.read_source(grid)
            except InputDataError as exc:
                problems[exc.path if exc.path in problems else scene.files[0]] = exc.problem
                continue
            if kind == "thermal":
                thermal.append({"id": _file_of(reader, scene, "lst").name, **_time_columns(scene.time, grid, settings)})
            for name, array in values.items():
                if reader.variables.get(name, "") is None:
                    continue  # the product has no such layer (e.g. Level-1 emissivity)
                if name in reader.variables and reader.variables[name] not in scene.pieces[0]:
                    continue  # an optional layer this acquisition lacks
                row = {"id": _file_of(reader, scene, name).name, "product": scene.product}
                row |= _stats(_shown(kind, native.get(name, array)), tail_percent)
                row["valid_fraction"] = float(np.isfinite(_shown(kind, array)).mean())
                variables.setdefault(name, []).append(row)
    files = [
        _file_row(path, product, problems[path], grid, ignored.get(path, "")) for path, product in _products(catalog)
    ]
    files += _vector_rows(catalog.geology, grid)
    labels = _label_rows(catalog.geology, catalog.label_rasters, region, coarse)
    thermal_frame = pd.DataFrame(thermal)
    lst_frame = pd.DataFrame(variables.get("lst", []))
    label_frame = pd.DataFrame(labels, columns=["source", "value", "pixels"])
    region_row = {
        "thermal_dates": len(thermal),
        "lst_valid_dates": int((lst_frame["valid_fraction"].astype(float) > 0).sum()) if len(lst_frame) else 0,
        "day_dates": int(thermal_frame["is_day"].sum()) if len(thermal_frame) else 0,
        "night_dates": int((~thermal_frame["is_day"].astype(bool)).sum()) if len(thermal_frame) else 0,
        "seasons": int(thermal_frame["season"].nunique()) if len(thermal_frame) else 0,
        "label_classes": int(((label_frame["value"] > 0) & (label_frame["pixels"] > 0)).sum()),
        "label_sources": len(catalog.geology) + len(catalog.label_rasters),
    }
    label_frame["id"] = label_frame["source"] + ":" + label_frame["value"].astype(str)
    return {
        "files": pd.DataFrame(files),
        "thermal": thermal_frame,
        **{name: pd.DataFrame(rows) for name, rows in variables.items()},
        "labels": label_frame,
        "region": pd.DataFrame([{"id": "region", **region_row}]),
    }


def _shown(kind: str, values: np.ndarray) -> np.ndarray:
    """Values in the units the thresholds use (SAR linear power → dB)."""
    return 10 * np.log10(np.where(values > 0, values, np.nan)) if kind == "sar" else values


def _open_problem(path: Path) -> str:
    """Why a raster cannot be used at all (GDAL cannot open it, no CRS, no geotransform), or ""."""
    try:
        with open_raster(path):
            return ""
    except InputDataError as exc:
        return exc.problem


def _usable(scenes: list[tuple[type[SceneReader], Scene]], problems: dict[Path, str]) -> list:
    """The scenes none of whose files has a problem."""
    return [(reader, scene) for reader, scene in scenes if not any(problems[p] for p in scene.files)]


def _products(catalog: SourceCatalog) -> list[tuple[Path, str]]:
    """Every raster file of the catalog with its product, each once."""
    found: dict[Path, str] = {}
    for kind in SOURCE_KINDS:
        for _, scene in getattr(catalog, kind):
            for path in scene.files:
                found.setdefault(path, scene.product)
    return list(found.items())


def _file_of(reader: type[SceneReader], scene: Scene, name: str) -> Path:
    """The file a variable of a scene is read from; for a derived variable (NDVI) its first primary layer's."""
    piece = scene.pieces[0]
    layer = reader.variables.get(name)
    return piece[layer] if layer is not None and layer in piece else piece[reader.primary_layers[0]]


def _file_row(path: Path, product: str, problem: str, grid: RegionGrid, ignored: str = "") -> dict[str, object]:
    """One file: why it is unusable (``problem``), whether it overlaps the grid, why it was left out (``ignored``)."""
    overlaps = None
    if not problem and not ignored:
        with rasterio.open(path) as src:
            overlaps = grid.overlaps(path, src.crs, tuple(src.bounds))
    return {
        "id": path.name,
        "file": path.name,
        "product": product,
        "problem": problem,
        "overlaps": overlaps,
        "ignored": ignored,
    }


def _time_columns(time: datetime | None, grid: RegionGrid, settings: PreprocessParams) -> dict[str, object]:
    if time is None:
        return {"time": None, "solar_hour": np.nan, "is_day": False, "season": "unknown"}
    lon, lat = grid.centre_lonlat()
    hour = solar_hour(time, lon)
    return {
        "time": time.isoformat(),
        "solar_hour": hour,
        "is_day": bool(is_daytime([time], lat, lon, settings.day_sun_elevation)[0]),
        "season": season_of_month(time.month, settings.season_months),
    }


def _vector_rows(paths: Iterable[Path], grid: RegionGrid) -> list[dict[str, object]]:
    rows = []
    for path in paths:
        info = pyogrio.read_info(path)
        has_crs = info.get("crs") is not None
        bounds = info.get("total_bounds")
        overlaps = bool(
            has_crs and bounds is not None and grid.overlaps(path, CRS.from_user_input(info["crs"]), tuple(bounds))
        )
        problem = "" if has_crs else "the geological map has no CRS"
        rows.append(
            {
                "id": path.name,
                "file": path.name,
                "product": "geology",
                "problem": problem,
                "overlaps": overlaps,
                "ignored": "",
            }
        )
    return rows


def _label_rows(
    geology: list[Path], rasters: list[Path], region: RegionParams, coarse: RegionGrid
) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    window = next(coarse.windows(max(coarse.width, coarse.height)))
    mapper = load_mapper(region.mapping_file)
    for path in geology:
        burnt = load_geology(path, coarse, region.geology_attribute, mapper).rasterize(coarse, window)
        counts = np.bincount(burnt.ravel(), minlength=N_CLASSES)
        rows.extend({"source": path.name, "value": v, "pixels": int(counts[v])} for v in np.flatnonzero(counts))
    for path in rasters:
        with rasterio.open(path) as src:
            values, counts = np.unique(src.read(1, masked=True).compressed(), return_counts=True)
        rows.extend(
            {"source": path.name, "value": int(v), "pixels": int(c)} for v, c in zip(values, counts, strict=True)
        )
    return rows


def processed_tables(
    region_name: str, experiments: Iterable[str], settings: PreprocessParams
) -> dict[str, pd.DataFrame]:
    """Summary tables of a region's experiment datasets: inputs, classes, disjointness."""
    inputs, classes, disjoint = [], [], []
    for experiment in experiments:
        folder = settings.processed_dir / region_name / experiment
        manifest = load_manifest(folder)
        footprints = {}
        for index, split in enumerate(SPLITS):
            arrays = _load_split(folder, split)
            if arrays is None:
                continue
            for arch in ("cnn", "convlstm"):
                built = model_inputs(
                    arrays["sequence"],
                    arrays["static"],
                    manifest.times(),
                    manifest.normalisation,
                    manifest.step_channels,
                    manifest.static_channels,
                    arch,
                )
                for name, values in built.items():
                    inputs.append(
                        {
                            "experiment": experiment,
                            "split": split,
                            "architecture": arch,
                            "input": name,
                            "nonfinite": int((~np.isfinite(values)).sum()),
                        }
                    )
            inputs.extend(_normalised_rows(experiment, split, arrays, manifest))
            footprints[index] = _labelled_footprint(arrays, manifest)
        for value, name in enumerate(class_names()):
            if value == 0:
                continue
            in_region = sum(manifest.class_pixels[s][value] for s in SPLITS)
            in_train = manifest.class_pixels["train"][value]
            classes.append(
                {
                    "experiment": experiment,
                    "class": name,
                    "in_region": in_region,
                    "in_train": in_train,
                    "missing_from_train": bool(in_region > 0 and in_train == 0),
                }
            )
        for a in range(len(SPLITS)):
            for b in range(a + 1, len(SPLITS)):
                if a in footprints and b in footprints:
                    disjoint.append(
                        {
                            "experiment": experiment,
                            "pair": f"{SPLITS[a]}/{SPLITS[b]}",
                            "shared_pixels": int((footprints[a] & footprints[b]).sum()),
                            "min_gap_px": _min_gap(footprints[a], footprints[b]),
                        }
                    )
    tables = {"inputs": pd.DataFrame(inputs), "classes": pd.DataFrame(classes), "disjoint": pd.DataFrame(disjoint)}
    frame = tables["inputs"]
    frame.insert(
        0, "id", frame["experiment"] + "/" + frame["split"] + "/" + frame["architecture"] + "/" + frame["input"]
    )
    tables["train_inputs"] = frame[(frame["split"] == "train") & frame["mean"].notna()].reset_index(drop=True)
    tables["classes"].insert(0, "id", tables["classes"]["experiment"] + "/" + tables["classes"]["class"])
    if not tables["disjoint"].empty:
        tables["disjoint"].insert(0, "id", tables["disjoint"]["experiment"] + "/" + tables["disjoint"]["pair"])
    return tables


def _min_gap(first: np.ndarray, second: np.ndarray) -> int:
    """Smallest chessboard distance between two pixel sets, minus one (pixels strictly between)."""
    if not first.any() or not second.any():
        return 10**6
    distance = ndimage.distance_transform_cdt(~first, metric="chessboard")
    return int(distance[second].min()) - 1


def _load_split(folder: Path, split: str) -> dict[str, np.ndarray] | None:
    files = sorted(folder.glob(f"{split}-*.npz"))
    if not files:
        return None
    parts = [dict(np.load(path)) for path in files]
    return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}


def _normalised_rows(experiment: str, split: str, arrays: dict[str, np.ndarray], manifest: Manifest) -> list[dict]:
    """Mean and std of each physical channel after normalisation, over the split's unique labelled pixels.

    Patches overlap, so the values are first painted back onto the region grid: each
    labelled pixel counts once, as it did when the statistics were fitted.
    """
    patch = manifest.patch_size
    height, width = manifest.shape
    sequence = np.full(
        (height + patch, width + patch, *arrays["sequence"].shape[1:2], arrays["sequence"].shape[-1]),
        np.nan,
        np.float32,
    )
    static = np.full((height + patch, width + patch, arrays["static"].shape[-1]), np.nan, np.float32)
    painted = np.zeros((height + patch, width + patch), dtype=bool)
    for index, (row, col) in enumerate(arrays["origin"]):
        own = arrays["label"][index] > 0
        target = (slice(row, row + patch), slice(col, col + patch))
        sequence[target][own] = np.moveaxis(arrays["sequence"][index], 0, 2)[own]
        static[target][own] = arrays["static"][index][own]
        painted[target] |= own
    stats = manifest.normalisation
    rows = [
        _normalised(experiment, split, channel, sequence[painted][..., k], stats[channel])
        for k, channel in enumerate(manifest.step_channels)
    ]
    rows.extend(
        _normalised(experiment, split, channel, static[painted][..., k], stats[channel])
        for k, channel in enumerate(manifest.static_channels)
    )
    return rows


def _normalised(experiment: str, split: str, channel: str, values: np.ndarray, stat: dict) -> dict[str, object]:
    finite = values[np.isfinite(values)]
    scaled = (finite - stat["mean"]) / stat["std"] if finite.size else finite
    return {
        "experiment": experiment,
        "split": split,
        "architecture": "any",
        "input": channel,
        "nonfinite": 0,
        "mean": float(scaled.mean()) if scaled.size else np.nan,
        "std": float(scaled.std()) if scaled.size else np.nan,
    }


def _labelled_footprint(arrays: dict[str, np.ndarray], manifest: Manifest) -> np.ndarray:
    """Pixels (region grid, padded) that hold a label in some patch of the split."""
    patch = manifest.patch_size
    height, width = manifest.shape
    footprint = np.zeros((height + 2 * patch, width + 2 * patch), dtype=bool)
    for (row, col), label in zip(arrays["origin"], arrays["label"], strict=True):
        footprint[row : row + patch, col : col + patch] |= label > 0
    return footprint
