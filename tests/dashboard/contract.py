"""Files laid out as issue 10's contract for `lithomap map` and `lithomap report`.

Until those verbs exist, the map and signature pages are tested on files written here to
the agreed layout (on the tiny region's real grid): ``maps/<region>/<model>-<experiment>/``
with ``classes.tif``, ``confidence.tif``, ``map.gpkg``, ``map.json``; ``reports/<region>/``
with ``signatures_diurnal.csv``, ``signatures_seasonal.csv`` and ``hypotheses.csv``; and
``loro.csv`` of ``lithomap loro`` with the writer's own columns (a real table needs two
trained regions, more than the tiny run has).
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from shapely.geometry import box

from lithomap.classes import class_names
from lithomap.training.loro_table import COLUMNS, TABLE_CSV


def write_map_folder(root: Path, region: str, cube_path: Path, name: str = "cnn-thermal", seed: int = 0) -> Path:
    """A contract-shaped map folder: labels with 10 % of pixels changed as the 'prediction'."""
    rng = np.random.default_rng(seed)
    cube = xr.open_zarr(cube_path)
    label = cube["label"].values.astype(np.uint8)
    noisy = np.where(rng.random(label.shape) < 0.1, rng.integers(1, 14, label.shape), label).astype(np.uint8)
    confidence = rng.uniform(0.3, 1.0, label.shape).astype(np.float32)
    folder = root / "maps" / region / name
    folder.mkdir(parents=True, exist_ok=True)
    profile = {
        "driver": "GTiff",
        "height": label.shape[0],
        "width": label.shape[1],
        "count": 1,
        "crs": cube.rio.crs,
        "transform": cube.rio.transform(),
    }
    with rasterio.open(folder / "classes.tif", "w", dtype="uint8", nodata=0, **profile) as target:
        target.write(noisy, 1)
    with rasterio.open(folder / "confidence.tif", "w", dtype="float32", nodata=np.nan, **profile) as target:
        target.write(confidence, 1)
    west, south, east, north = rasterio.transform.array_bounds(*label.shape, cube.rio.transform())
    polygons = gpd.GeoDataFrame(
        {"class_id": [1, 2], "class_name": ["sand", "clay"], "area_km2": [1.0, 2.0], "mean_confidence": [0.8, 0.7]},
        geometry=[box(west, south, (west + east) / 2, north), box((west + east) / 2, south, east, north)],
        crs=cube.rio.crs,
    )
    polygons.to_file(folder / "map.gpkg", layer="lithology", driver="GPKG")
    arch, experiment = name.split("-", 1)
    meta = {
        "region": region,
        "model": arch,
        "experiment": experiment,
        "registered_model": f"lithomap-{region}-{arch}",
        "version": "1",
        "alias": "champion",
        "run_id": "0" * 32,
        "seam_index": 0.0,
        "scores": None,
        "created": "2026-12-01T00:00:00+00:00",
    }
    (folder / "map.json").write_text(json.dumps(meta), encoding="utf-8")
    return folder


def write_science_reports(root: Path, region: str) -> Path:
    """Contract-shaped signature curves and hypothesis table for two classes."""
    folder = root / "reports" / region
    folder.mkdir(parents=True, exist_ok=True)
    _curves(np.arange(0, 24, 2), "solar_hour_bin", 24, 8, 100).to_csv(folder / "signatures_diurnal.csv", index=False)
    _curves(np.arange(1, 13), "month", 12, 4, 50).to_csv(folder / "signatures_seasonal.csv", index=False)
    pd.DataFrame(
        [
            {
                "hypothesis": "sand heats faster than clay",
                "measure": "day amplitude sand - clay (K)",
                "value": 4.0,
                "holds": True,
            },
            {
                "hypothesis": "clay keeps heat at night",
                "measure": "night anomaly clay - sand (K)",
                "value": -0.5,
                "holds": False,
            },
        ]
    ).to_csv(folder / "hypotheses.csv", index=False)
    return folder


def write_loro_table(folder: Path) -> Path:
    """``loro.csv`` with the writer's columns: two held-out regions, each with a CNN, its transfer model
    (``cnn+summary``), the summary model alone and the baseline."""
    rows = []
    for held_out, trained_on, score in (("north", "south east", 0.61), ("south", "north east", 0.42)):
        common = {"held_out": held_out, "experiment": "thermal", "trained_on": trained_on, "oa": score + 0.02}
        common |= {"not_learnable": "chalk plutonic" if held_out == "south" else None}
        rows.append(common | {"model": "baseline", "macro_f1": score - 0.15, "macro_f1_learnable": score - 0.1})
        for model, value in (("cnn", score), ("cnn+summary", score + 0.05), ("summary", score - 0.02)):
            interval = {"macro_f1_learnable_low": value - 0.04, "macro_f1_learnable_high": value + 0.03}
            rows.append(common | interval | {"model": model, "macro_f1": value - 0.05, "macro_f1_learnable": value})
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=list(COLUMNS)).to_csv(folder / TABLE_CSV, index=False)
    return folder / TABLE_CSV


def _curves(steps: np.ndarray, column: str, period: float, peak: float, count: int) -> pd.DataFrame:
    """Sine-shaped LST anomaly curves: sand swings three times as much as clay."""
    names = class_names()
    rows = []
    for class_id, amplitude in ((1, 6.0), (2, 2.0)):
        anomaly = amplitude * np.cos((steps - peak) / period * 2 * np.pi)
        rows += [
            {"class": names[class_id], column: step, "lst_mean": 290 + value, "lst_anomaly_mean": value, "n": count}
            for step, value in zip(steps, anomaly, strict=True)
        ]
    return pd.DataFrame(rows)
