"""Ready-made label rasters (uint8 class ids 0–13) and the uncertain-boundary band.

A label raster (``lithology_labels.tif``, ``<name>_lithology.tif``; see
:data:`lithomap.io.formats.LABEL_RASTER_NAME`) is put on the grid with nearest neighbour
only. Its no-data value becomes class 0; any other value outside 0–13 is an error. The
optional boundary band (``IngestParams.boundary_buffer_px``) sets label 0 on every pixel
whose neighbourhood holds more than one class, which removes label noise at contacts.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
from rasterio.io import DatasetReader
from rasterio.windows import Window
from scipy.ndimage import maximum_filter, minimum_filter

from lithomap.classes import BACKGROUND, N_CLASSES
from lithomap.errors import InputDataError
from lithomap.io.grid import RegionGrid
from lithomap.io.warp import read_patch


def boundary_band(labels: np.ndarray, width: int) -> np.ndarray:
    """True where a (2·width+1)² neighbourhood of ``labels`` holds more than one class."""
    if width <= 0:
        return np.zeros(labels.shape, bool)
    size = 2 * width + 1
    return maximum_filter(labels, size=size, mode="nearest") != minimum_filter(labels, size=size, mode="nearest")


def padded(window: Window, pad: int) -> Window:
    """``window`` grown by ``pad`` pixels on every side (may reach outside the grid)."""
    return Window(window.col_off - pad, window.row_off - pad, window.width + 2 * pad, window.height + 2 * pad)


def crop(array: np.ndarray, pad: int) -> np.ndarray:
    """Undo :func:`padded` on an array."""
    return array[pad : array.shape[0] - pad, pad : array.shape[1] - pad] if pad else array


class LabelRaster:
    """A GeoTIFF of class ids put on the grid with nearest neighbour.

    Args:
        path: the label raster.
        dataset: the open file.
    """

    def __init__(self, path: Path, dataset: DatasetReader) -> None:
        self.path = path
        self.dataset = dataset
        if not np.issubdtype(np.dtype(dataset.dtypes[0]), np.integer):
            raise InputDataError(
                path,
                f"a label raster must hold integer class ids 0–13, not {dataset.dtypes[0]}",
                "write the labels as uint8 (e.g. `gdal_translate -ot Byte`)",
            )
        self.valid_pixels = 0

    def read(self, grid: RegionGrid, window: Window) -> np.ndarray:
        """Class ids (uint8) of one grid window; 0 where the raster has no data.

        Raises:
            InputDataError: a value outside 0–13 occurs.
        """
        patch = read_patch(self.dataset, self.path, grid, window)
        if patch is None:
            return np.zeros((int(window.height), int(window.width)), np.uint8)
        raw = patch.values.astype(np.int64)
        nodata = self.dataset.nodata
        valid = np.ones(raw.shape, bool) if nodata is None else raw != int(nodata)
        bad = valid & ((raw < 0) | (raw >= N_CLASSES))
        if bad.any():
            values = np.unique(raw[bad])[:10].tolist()
            raise InputDataError(
                self.path,
                f"label values outside 0–13 found: {values}",
                "map the values to the 14 lithomap classes (see lithomap/data/classes.yaml) or set the raster's "
                "no-data tag for the values that mean 'no label'",
            )
        self.valid_pixels += int(np.count_nonzero(valid))
        codes = np.where(valid, raw, BACKGROUND).astype(np.uint8)
        return replace(patch, values=codes).warp(grid, window, "nearest", nodata=BACKGROUND)
