"""Region grid: bounds, snapping to the resolution, windows and the overlap check."""

from __future__ import annotations

from pathlib import Path

import pytest
from rasterio.crs import CRS

from lithomap.errors import ConfigError, InputDataError
from lithomap.io.grid import RegionGrid, snap_bounds


def test_from_bounds_keeps_origin_and_rounds_size_up() -> None:
    grid = RegionGrid.from_bounds("EPSG:32630", 70.0, (411_000, 4_282_000, 413_000, 4_285_000))
    assert grid.bounds[0] == 411_000 and grid.bounds[3] == 4_285_000
    assert grid.shape == (43, 29)
    assert grid.x_coords()[0] == pytest.approx(411_035)
    assert grid.y_coords()[0] == pytest.approx(4_284_965)


def test_footprints_are_snapped_outward() -> None:
    wgs84 = CRS.from_epsg(4326)
    grid = RegionGrid.from_footprints("EPSG:32630", 70.0, [(Path("a.tif"), wgs84, (-4.02, 38.69, -4.0, 38.71))])
    left, bottom, right, top = grid.bounds
    assert all(value % 70 == 0 for value in (left, bottom, right, top))
    assert snap_bounds((1.0, 1.0, 139.0, 141.0), 70.0) == (0.0, 0.0, 140.0, 210.0)


def test_windows_tile_the_grid_exactly() -> None:
    grid = RegionGrid.from_bounds("EPSG:32630", 10.0, (0, 0, 1000, 700))
    windows = list(grid.windows(32))
    assert sum(w.width * w.height for w in windows) == grid.width * grid.height
    assert grid.window_bounds(windows[0]) == (0.0, 380.0, 320.0, 700.0)


def test_bad_crs_and_empty_bounds_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="not a known CRS"):
        RegionGrid.from_bounds("EPSG:999999", 70.0, (0, 0, 10, 10))
    with pytest.raises(ConfigError, match="empty"):
        RegionGrid.from_bounds("EPSG:32630", 70.0, (10, 0, 0, 10))


def test_check_overlap_names_the_file() -> None:
    grid = RegionGrid.from_bounds("EPSG:32630", 70.0, (411_000, 4_282_000, 413_000, 4_285_000))
    grid.check_overlap(Path("ok.tif"), CRS.from_epsg(4326), (-4.1, 38.6, -3.9, 38.8))
    with pytest.raises(InputDataError, match="does not overlap") as caught:
        grid.check_overlap(Path("far.tif"), CRS.from_epsg(4326), (10.0, 50.0, 10.1, 50.1))
    assert caught.value.path.name == "far.tif"


def test_untransformable_crs_is_reported_as_such_not_as_no_overlap() -> None:
    grid = RegionGrid.from_bounds("EPSG:32630", 70.0, (411_000, 4_282_000, 413_000, 4_285_000))
    with pytest.raises(InputDataError, match="PROJ finds no transformation between IAU_2015:49900 and EPSG:32630"):
        grid.check_overlap(Path("mars.tif"), CRS.from_user_input("IAU_2015:49900"), (0.0, 0.0, 1.0, 1.0))
