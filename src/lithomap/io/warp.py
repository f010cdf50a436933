"""Reprojection of one source onto one window of the region grid (GDAL warper via rasterio).

Only the part of the source that a grid window needs is read (plus a small halo), so the
memory used depends on the window, not on the scene or the region. Continuous values are
decoded to float32 with NaN for no data before warping and NaN is passed to GDAL as the
no-data value: bilinear and average then weigh only valid source pixels, so a value is never
interpolated across no-data. Labels and masks use nearest neighbour on their integer codes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np
from affine import Affine
from rasterio.enums import Resampling
from rasterio.io import DatasetReader
from rasterio.warp import reproject, transform_bounds
from rasterio.windows import Window, from_bounds

from lithomap.io.grid import RegionGrid
from lithomap.io.rasterfile import band_encoding, decode, open_raster, read_band

Method = Literal["bilinear", "average", "nearest", "mode"]
HALO_PX = 2


def resampling_of(method: Method) -> Resampling:
    """The rasterio enum of a resampling name."""
    return Resampling[method]


def source_window(dataset: DatasetReader, grid: RegionGrid, window: Window, halo: int = HALO_PX) -> Window | None:
    """The window of ``dataset`` that covers a grid window (plus ``halo`` pixels), or None when disjoint."""
    try:
        bounds = transform_bounds(grid.crs, dataset.crs, *grid.window_bounds(window), densify_pts=21)
    except Exception:
        return None
    raw = from_bounds(*bounds, transform=dataset.transform)
    col0 = int(np.floor(raw.col_off)) - halo
    row0 = int(np.floor(raw.row_off)) - halo
    col1 = int(np.ceil(raw.col_off + raw.width)) + halo
    row1 = int(np.ceil(raw.row_off + raw.height)) + halo
    col0, row0 = max(col0, 0), max(row0, 0)
    col1, row1 = min(col1, dataset.width), min(row1, dataset.height)
    if col1 <= col0 or row1 <= row0:
        return None
    return Window(col0, row0, col1 - col0, row1 - row0)


def warp_array(
    values: np.ndarray,
    src_transform: Affine,
    src_crs: object,
    grid: RegionGrid,
    window: Window,
    method: Method,
    nodata: float = np.nan,
    num_threads: int = 1,
) -> np.ndarray:
    """Reproject a source array onto one grid window.

    Args:
        values: 2-D source array (float with NaN, or integer codes with ``nodata``).
        src_transform: transform of ``values``.
        src_crs: CRS of ``values``.
        grid: the region grid.
        window: the grid window to fill.
        method: resampling method.
        nodata: source and destination no-data value.
        num_threads: GDAL warp threads.

    Returns:
        Array of the window's shape and ``values``' dtype, ``nodata`` where nothing maps.
    """
    out = np.full((int(window.height), int(window.width)), nodata, dtype=values.dtype)
    reproject(
        source=values,
        destination=out,
        src_transform=src_transform,
        src_crs=src_crs,
        src_nodata=nodata,
        dst_transform=grid.window_transform(window),
        dst_crs=grid.crs,
        dst_nodata=nodata,
        resampling=resampling_of(method),
        num_threads=num_threads,
    )
    return out


def warp_decoded(
    dataset: DatasetReader,
    path: Path,
    grid: RegionGrid,
    window: Window,
    method: Method,
    band: int = 1,
    transform_values: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[np.ndarray, int]:
    """Read, decode and warp one band of an open dataset onto a grid window.

    Args:
        dataset: the open source.
        path: its file (for errors).
        grid: the region grid.
        window: the grid window.
        method: resampling of the decoded values.
        band: 1-based band.
        transform_values: optional change of units applied after decoding and before
            warping (e.g. dB to linear power, so SAR is averaged in power).

    Returns:
        The warped float32 window (NaN = no data) and the number of valid source pixels read.
    """
    src_window = source_window(dataset, grid, window)
    if src_window is None:
        return np.full((int(window.height), int(window.width)), np.nan, np.float32), 0
    values = decode(read_band(dataset, band, src_window, path), band_encoding(dataset, band))
    if transform_values is not None:
        values = transform_values(values)
    n_valid = int(np.count_nonzero(np.isfinite(values)))
    if n_valid == 0:
        return np.full((int(window.height), int(window.width)), np.nan, np.float32), 0
    warped = warp_array(values, dataset.window_transform(src_window), dataset.crs, grid, window, method)
    return warped, n_valid


def warp_file(path: Path, grid: RegionGrid, method: Method, window_px: int = 1024, band: int = 1) -> np.ndarray:
    """Warp one band of a file onto the whole grid, window by window (benchmarks and small grids)."""
    out = np.full(grid.shape, np.nan, np.float32)
    with open_raster(path) as dataset:
        for window in grid.windows(window_px):
            rows, cols = window.toslices()
            out[rows, cols] = warp_decoded(dataset, path, grid, window, method, band)[0]
    return out
