"""Benchmark: lithomap's reprojection vs rasterio.warp.reproject called directly on the same files.

Writes a few ECOSTRESS-like AppEEARS exports (int32 LST DN with scale tags, EPSG:4326, each
date on a slightly shifted grid) into a temporary folder, then times, per file:

* ``direct``: one ``rasterio.warp.reproject`` of the whole band onto the whole UTM grid
  (GDAL reads the file itself), followed by the DN → K scaling;
* ``lithomap warp_file``: :func:`lithomap.io.warp.warp_file` — windowed reads, decoding to
  float32/NaN, one warp per window;
* ``lithomap thermal reader``: :class:`lithomap.io.ecostress.AppeearsReader` — the ingest
  path (LST, EmisWB, QC and cloud masks, two warps per window), against two direct warps.

Run: ``python benchmarks/bench_reproject.py [--size 2048] [--files 3] [--repeats 3]``.
Prints a Markdown table of medians over the repeats and the lithomap/direct ratios.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.transform import from_origin
from rasterio.warp import reproject

from lithomap.config import IngestParams
from lithomap.io import formats
from lithomap.io.ecostress import AppeearsReader
from lithomap.io.grid import RegionGrid
from lithomap.io.warp import warp_file
from lithomap.scenes.writers import write_appeears_overpass

LON0, LAT0 = -4.6, 39.0
UTM = "EPSG:32630"


def write_inputs(folder: Path, size: int, n_files: int) -> list[Path]:
    """AppEEARS-like overpasses (LST, EmisWB, QC, CloudMask), tiled and compressed."""
    rng = np.random.default_rng(0)
    pixel = formats.APPEEARS_PIXEL_DEG
    rows, cols = np.mgrid[0:size, 0:size]
    base = 15000 + (rows // 7 + cols // 11) % 400
    shape = (size, size)
    lst_paths = []
    for index in range(n_files):
        when = datetime(2023, 1, 1) + timedelta(days=7 * index, hours=11)
        transform = from_origin(LON0 + rng.uniform(0, pixel), LAT0 - rng.uniform(0, pixel), pixel, pixel)
        layers = {
            "LST": base * 0.02,
            "EmisWB": np.full(shape, 0.96),
            "QC": np.zeros(shape),
            "CloudMask": np.ones(shape),
        }
        written = write_appeears_overpass(folder, when, layers, transform, orbit=20000 + index, scene=index)
        lst_paths.append(written[0])
    return lst_paths


def region_grid(size: int) -> RegionGrid:
    pixel = formats.APPEEARS_PIXEL_DEG
    footprint = (LON0 + pixel, LAT0 - (size - 2) * pixel, LON0 + (size - 2) * pixel, LAT0 - pixel)
    return RegionGrid.from_footprints(UTM, 70.0, [(rasterio.crs.CRS.from_epsg(4326), footprint)])


def direct(path: Path, grid: RegionGrid) -> np.ndarray:
    out = np.full(grid.shape, np.nan, np.float32)
    with rasterio.open(path) as src:
        reproject(
            rasterio.band(src, 1),
            out,
            src_nodata=src.nodata,
            dst_transform=grid.transform,
            dst_crs=grid.crs,
            dst_nodata=np.nan,
            resampling=Resampling.average,
        )
        out *= np.float32(float(src.tags()["scale_factor"]))
    return out


def reader_path(paths: list[Path], grid: RegionGrid, window_px: int) -> None:
    scenes = AppeearsReader.discover(sorted(paths[0].parent.iterdir()))
    for scene in scenes:
        with AppeearsReader(scene, IngestParams()) as reader:
            for window in grid.windows(window_px):
                reader.read(grid, window)


def timed(function, repeats: int) -> float:
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048, help="source side, pixels")
    parser.add_argument("--files", type=int, default=3, help="number of overpasses")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--window", type=int, default=1024, help="lithomap processing window, pixels")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_reproject_") as tmp:
        paths = write_inputs(Path(tmp), args.size, args.files)
        grid = region_grid(args.size)
        reference = direct(paths[0], grid)
        ours = warp_file(paths[0], grid, "average", args.window)
        both = np.isfinite(reference) & np.isfinite(ours)
        agreement = float(np.nanmax(np.abs(reference[both] - ours[both]))) if both.any() else float("nan")
        t_direct = timed(lambda: [direct(p, grid) for p in paths], args.repeats)
        t_ours = timed(lambda: [warp_file(p, grid, "average", args.window) for p in paths], args.repeats)
        emis = [Path(str(p).replace("_SDS_LST_", "_SDS_EmisWB_")) for p in paths]
        t_direct2 = timed(lambda: [direct(p, grid) for p in paths + emis], args.repeats)
        t_reader = timed(lambda: reader_path(paths, grid, args.window), args.repeats)
    print(
        f"\n{args.files} files of {args.size}×{args.size} px (EPSG:4326) → {grid.width}×{grid.height} px UTM 70 m, "
        f"average resampling, window {args.window} px; max |difference| {agreement:.4f} K\n"
    )
    print("| path | median s | ratio to direct |")
    print("|---|---:|---:|")
    print(f"| rasterio.warp.reproject direct (LST) | {t_direct:.3f} | 1.00 |")
    print(f"| lithomap warp_file (LST) | {t_ours:.3f} | {t_ours / t_direct:.2f} |")
    print(f"| rasterio.warp.reproject direct (LST + EmisWB) | {t_direct2:.3f} | 1.00 |")
    print(
        f"| lithomap AppeearsReader (LST + EmisWB + QC + cloud masks) | {t_reader:.3f} | {t_reader / t_direct2:.2f} |"
    )


if __name__ == "__main__":
    main()
