"""The one read → decode → reproject pipeline of every raster reader (GDAL warper via rasterio).

1. :func:`read_patch` reads the source pixels that cover one grid window (plus a small
   halo), so the memory used depends on the window, not on the scene or the region.
2. :func:`read_decoded` turns their digital numbers into physical float32 values with NaN
   for no data (:func:`lithomap.io.rasterfile.decode`).
3. :meth:`SourcePatch.warp` reprojects them onto the grid window. NaN is passed to GDAL as
   the no-data value, so bilinear and average weigh only valid source pixels and a value
   is never interpolated across no-data. Labels and masks use nearest neighbour on their
   integer codes.

The product readers (:class:`lithomap.io.sources.SceneReader`) and the label raster call
these steps and add only what differs between products (encodings, masks, unit changes).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.io import DatasetReader
from rasterio.warp import reproject
from rasterio.windows import Window, from_bounds

from lithomap.io.formats import Encoding
from lithomap.io.grid import RegionGrid, reproject_bounds
from lithomap.io.rasterfile import band_encoding, decode, open_raster, read_band

Method = Literal["bilinear", "average", "nearest", "mode"]
HALO_PX = 2


@dataclass(frozen=True)
class SourcePatch:
    """The source pixels that cover one grid window, with their georeferencing.

    Attributes:
        values: raw digital numbers (:func:`read_patch`) or decoded float32 values, NaN = no data.
        transform: affine transform of ``values``.
        crs: CRS of ``values``.
        window: the window of the source file they were read from (masks of the same grid
            are read on it).
    """

    values: np.ndarray
    transform: Affine
    crs: CRS
    window: Window

    def warp(self, grid: RegionGrid, window: Window, method: Method, nodata: float = np.nan) -> np.ndarray:
        """Reproject the values onto a grid window (``nodata`` where nothing maps)."""
        return warp_array(self.values, self.transform, self.crs, grid, window, method, nodata)


def empty_window(window: Window) -> np.ndarray:
    """A float32 array of a window's shape holding only NaN."""
    return np.full((int(window.height), int(window.width)), np.nan, np.float32)


def source_window(
    dataset: DatasetReader, path: Path, grid: RegionGrid, window: Window, halo: int = HALO_PX
) -> Window | None:
    """The window of ``dataset`` that covers a grid window (plus ``halo`` pixels), or None when disjoint.

    Raises:
        InputDataError: the file's CRS cannot be transformed to the grid's.
    """
    bounds = reproject_bounds(path, grid.crs, grid.window_bounds(window), dataset.crs)
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


def read_patch(
    dataset: DatasetReader, path: Path, grid: RegionGrid, window: Window, band: int = 1
) -> SourcePatch | None:
    """The raw digital numbers of one band that cover a grid window, or None when the file lies elsewhere."""
    src_window = source_window(dataset, path, grid, window)
    if src_window is None:
        return None
    raw = read_band(dataset, band, src_window, path)
    return SourcePatch(raw, dataset.window_transform(src_window), dataset.crs, src_window)


def read_decoded(
    dataset: DatasetReader,
    path: Path,
    grid: RegionGrid,
    window: Window,
    band: int = 1,
    fallback: Encoding | None = None,
    zero_is_nodata: bool = False,
) -> SourcePatch | None:
    """Physical float32 values (NaN = no data) of one band that cover a grid window.

    Args:
        dataset: the open source.
        path: its file (for errors).
        grid: the region grid.
        window: the grid window.
        band: 1-based band.
        fallback: the documented encoding used where the file's tags are silent.
        zero_is_nodata: digital number 0 means no data whatever the tags say.

    Returns:
        The decoded patch, or None when the file does not reach the window.
    """
    patch = read_patch(dataset, path, grid, window, band)
    if patch is None:
        return None
    values = decode(patch.values, band_encoding(dataset, band, fallback))
    if zero_is_nodata:
        values[patch.values == 0] = np.nan
    return replace(patch, values=values)


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
        resampling=Resampling[method],
        num_threads=num_threads,
    )
    return out


def warp_file(path: Path, grid: RegionGrid, method: Method, window_px: int = 1024, band: int = 1) -> np.ndarray:
    """Decode and warp one band of a file onto the whole grid, window by window (benchmarks and small grids)."""
    out = np.full(grid.shape, np.nan, np.float32)
    with open_raster(path) as dataset:
        for window in grid.windows(window_px):
            patch = read_decoded(dataset, path, grid, window, band)
            if patch is not None and np.isfinite(patch.values).any():
                rows, cols = window.toslices()
                out[rows, cols] = patch.warp(grid, window, method)
    return out
