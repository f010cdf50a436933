"""Rasters → summary tables that Great Expectations can validate.

GX validates tables, so each raw source and each processed dataset is summarised first:
one row per file, per acquisition, per label value, per region, per channel. Values are
read through the same readers ``lithomap ingest`` uses, on a coarser copy of the region
grid (``SUMMARY_FACTOR`` times the pixel size), so the summaries cost a fraction of an ingest.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import rasterio
from rasterio.crs import CRS
from rasterio.errors import RasterioIOError
from scipy import ndimage

from lithomap.classes import N_CLASSES, class_names, load_mapper
from lithomap.config import IngestParams, PreprocessParams, RegionParams
from lithomap.datasets.features import model_inputs
from lithomap.datasets.manifest import Manifest, load_manifest
from lithomap.datasets.split import SPLITS
from lithomap.io.geology import load_geology
from lithomap.io.grid import RegionGrid
from lithomap.io.ingest import build_grid, discover_sources
from lithomap.timing import is_day, season_of_month, solar_hour

SUMMARY_FACTOR = 4
PERCENTILES = (1, 50, 99)


def _stats(prefix: str, values: np.ndarray) -> dict[str, float]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return {f"{prefix}_{k}": np.nan for k in ("min", "p01", "p50", "p99", "max")}
    p01, p50, p99 = np.percentile(finite, PERCENTILES)
    return {
        f"{prefix}_min": float(finite.min()),
        f"{prefix}_p01": float(p01),
        f"{prefix}_p50": float(p50),
        f"{prefix}_p99": float(p99),
        f"{prefix}_max": float(finite.max()),
    }


def raw_tables(region: RegionParams, ingest: IngestParams, settings: PreprocessParams) -> dict[str, pd.DataFrame]:
    """Summary tables of a region's raw folder: files, thermal, sar, optical, labels, region."""
    catalog = discover_sources(region.raw_dir)
    grid = build_grid(region, catalog)
    coarse = RegionGrid.from_bounds(grid.crs, grid.resolution * SUMMARY_FACTOR, grid.bounds)
    window = next(coarse.windows(max(coarse.width, coarse.height)))
    files, thermal, sar, optical = [], [], [], []
    for kind, rows in (("thermal", thermal), ("sar", sar), ("optical", optical)):
        for reader, scene in getattr(catalog, kind):
            files.extend(_file_rows(scene.files, scene.product, grid))
            row: dict[str, object] = {"product": scene.product, "file": _main_file(scene.pieces[0]).name}
            row.update(_time_columns(scene.time, grid, settings))
            with reader(scene, ingest) as opened:
                values = opened.read(coarse, window)
            for name, array in values.items():
                array = 10 * np.log10(np.where(array > 0, array, np.nan)) if kind == "sar" else array
                row.update(_stats(name, array))
                row[f"{name}_valid_fraction"] = float(np.isfinite(array).mean())
            rows.append(row)
    labels = _label_rows(catalog.geology, catalog.label_rasters, region, coarse)
    files.extend(_vector_rows(catalog.geology, grid))
    thermal_frame = pd.DataFrame(thermal)
    region_row = {
        "thermal_dates": len(thermal),
        "day_dates": int(thermal_frame["is_day"].sum()) if len(thermal_frame) else 0,
        "night_dates": int((~thermal_frame["is_day"].astype(bool)).sum()) if len(thermal_frame) else 0,
        "seasons": int(thermal_frame["season"].nunique()) if len(thermal_frame) else 0,
        "label_classes": int(sum(1 for row in labels if row["value"] > 0 and row["pixels"] > 0)),
        "label_sources": len(catalog.geology) + len(catalog.label_rasters),
    }
    label_frame = pd.DataFrame(labels, columns=["source", "value", "pixels"])
    label_frame["id"] = label_frame["source"] + ":" + label_frame["value"].astype(str)
    tables = {
        "files": pd.DataFrame(files),
        "thermal": thermal_frame,
        "sar": pd.DataFrame(sar),
        "optical": pd.DataFrame(optical),
        "labels": label_frame,
        "region": pd.DataFrame([{"id": "region", **region_row}]),
    }
    for name in ("files", "thermal", "sar", "optical"):
        if not tables[name].empty:
            tables[name].insert(0, "id", tables[name]["file"])
    return tables


def _main_file(piece: dict[str, Path]) -> Path:
    """The file that names an acquisition in messages: its LST, VV or red band when present."""
    for layer in ("LST", "VV", "B04", "B4"):
        if layer in piece:
            return piece[layer]
    return next(iter(piece.values()))


def _time_columns(time: datetime | None, grid: RegionGrid, settings: PreprocessParams) -> dict[str, object]:
    if time is None:
        return {"time": None, "solar_hour": np.nan, "is_day": False, "season": "unknown"}
    lon, _ = grid.centre_lonlat()
    hour = solar_hour(time, lon)
    return {
        "time": time.isoformat(),
        "solar_hour": hour,
        "is_day": bool(is_day(hour, settings.day_hours)),
        "season": season_of_month(time.month, settings.season_months),
    }


def _file_rows(paths: Iterable[Path], product: str, grid: RegionGrid) -> list[dict[str, object]]:
    rows = []
    for path in paths:
        try:
            with rasterio.open(path) as src:
                has_crs = src.crs is not None
                overlaps = bool(has_crs and grid.overlaps(path, src.crs, tuple(src.bounds)))
                rows.append(
                    {"file": path.name, "product": product, "has_crs": has_crs, "overlaps": overlaps, "readable": True}
                )
        except RasterioIOError:
            rows.append({"file": path.name, "product": product, "has_crs": False, "overlaps": False, "readable": False})
    return rows


def _vector_rows(paths: Iterable[Path], grid: RegionGrid) -> list[dict[str, object]]:
    rows = []
    for path in paths:
        info = pyogrio.read_info(path)
        has_crs = info.get("crs") is not None
        bounds = info.get("total_bounds")
        overlaps = bool(
            has_crs and bounds is not None and grid.overlaps(path, CRS.from_user_input(info["crs"]), tuple(bounds))
        )
        rows.append(
            {"file": path.name, "product": "geology", "has_crs": has_crs, "overlaps": overlaps, "readable": True}
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
