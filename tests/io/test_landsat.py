"""Landsat readers: Collection 2 ST_B10 scaling and the real Landsat 5 TM Level-1 thermal band."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from lithomap.config import IngestParams
from lithomap.io.grid import RegionGrid
from lithomap.io.landsat import LandsatL1OpticalReader, LandsatL1ThermalReader, LandsatSTReader, read_mtl
from lithomap.io.rasterfile import open_raster
from tests.io import fakes


def whole(reader_cls, scene, path: Path) -> dict[str, np.ndarray]:
    with open_raster(path) as dataset:
        grid = RegionGrid(dataset.crs, dataset.transform, dataset.width, dataset.height)
    with reader_cls(scene, IngestParams(continuous_resampling="bilinear")) as reader:
        return reader.read(grid, next(grid.windows(max(grid.shape))))


def test_landsat_st_scaling_and_fill(tmp_path: Path) -> None:
    lst = np.full((6, 6), 305.0)
    lst[0, 0] = np.nan
    path = fakes.write_landsat_st(tmp_path, datetime(2023, 7, 1), lst)
    (scene,) = LandsatSTReader.discover([path])
    # without MTL: 10:30 local solar time at lon −4.0 → about 10:46 UTC
    assert scene.time.hour == 10 and 40 < scene.time.minute < 52
    out = whole(LandsatSTReader, scene, path)["lst"]
    assert np.isnan(out[0, 0]) and out[3, 3] == pytest.approx(305.0, abs=0.002)


@pytest.mark.realdata
def test_real_landsat5_brightness_temperature_and_ndvi(realdata) -> None:
    folder = realdata("landsat5_tm_rstoolbox")
    mtl = read_mtl(folder / "LT52240631988227CUB02_MTL.txt")
    assert mtl["RADIANCE_MULT_BAND_6"] == "0.055" and "K1_CONSTANT_BAND_6" not in mtl
    paths = sorted(folder.iterdir())
    (scene,) = LandsatL1ThermalReader.discover(paths)
    assert scene.time.isoformat()[:19] == "1988-08-14T13:00:47"
    bt = whole(LandsatL1ThermalReader, scene, scene.pieces[0]["B6"])["lst"]
    # DN 131..146 → L = 0.055 DN + 1.18243 → BT = 1260.56 / ln(607.76 / L + 1): 292.6..300.0 K
    assert np.nanmin(bt) > 292 and np.nanmax(bt) < 301
    assert np.nanmedian(bt) == pytest.approx(1260.56 / np.log(607.76 / (0.055 * 137 + 1.18243) + 1), abs=0.6)
    (optical,) = LandsatL1OpticalReader.discover(paths)
    ndvi = whole(LandsatL1OpticalReader, optical, optical.pieces[0]["B3"])["ndvi"]
    assert 0.5 < np.nanmedian(ndvi) < 0.9  # Amazon forest and pasture, dry season
