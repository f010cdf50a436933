"""Label rasters and the uncertain-boundary band."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rasterio.transform import from_origin

from lithomap.io.grid import RegionGrid
from lithomap.io.labels import LabelRaster, boundary_band
from lithomap.io.rasterfile import open_raster
from tests.io import fakes


def test_boundary_band_marks_contacts_only() -> None:
    labels = np.zeros((6, 6), np.uint8) + 7
    labels[:, 3:] = 8
    band = boundary_band(labels, 1)
    assert band[:, 2:4].all() and not band[:, [0, 1, 4, 5]].any()
    assert not boundary_band(labels, 0).any()


def test_label_raster_nearest_and_nodata(tmp_path: Path) -> None:
    labels = np.array([[1, 2], [255, 13]], np.uint8)
    path = fakes.write_tif(tmp_path / "lithology_labels.tif", labels, fakes.UTM, from_origin(0, 200, 100, 100), 255)
    grid = RegionGrid.from_bounds(fakes.UTM, 50.0, (0, 0, 200, 200))
    with open_raster(path) as dataset:
        out = LabelRaster(path, dataset).read(grid, next(grid.windows(8)))
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, np.kron(np.array([[1, 2], [0, 13]]), np.ones((2, 2))).astype(np.uint8))
