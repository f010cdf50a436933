"""Sentinel-1 readers: dB / linear detection, DN refused, averaging in linear power."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from rasterio.transform import from_origin

from lithomap.config import IngestParams
from lithomap.errors import InputDataError
from lithomap.io.grid import RegionGrid
from lithomap.io.rasterfile import open_raster
from lithomap.io.sentinel1 import Hyp3RtcReader, Sen1Floods11S1Reader, detect_units
from tests.io import fakes

TIME = datetime(2023, 5, 5, 18, 4, 11)


def test_units_detection(tmp_path: Path) -> None:
    transform = from_origin(0, 100, 10, 10)
    db = fakes.write_tif(tmp_path / "db.tif", np.full((10, 10), -12.0, np.float32), fakes.UTM, transform, np.nan)
    power = fakes.write_tif(tmp_path / "p.tif", np.full((10, 10), 0.06, np.float32), fakes.UTM, transform, 0.0)
    dn = fakes.write_tif(tmp_path / "dn.tif", np.full((10, 10), 200, np.uint16), fakes.UTM, transform, 0)
    with open_raster(db) as a, open_raster(power) as b, open_raster(dn) as c:
        assert detect_units(a, 1, db) == "db"
        assert detect_units(b, 1, power) == "power"
        with pytest.raises(InputDataError, match="digital numbers"):
            detect_units(c, 1, dn)


def test_hyp3_pair_is_averaged_in_linear_power(tmp_path: Path) -> None:
    vv = np.array([[0.1, 0.01], [0.1, 0.01]], np.float32)  # −10 dB and −20 dB side by side
    files = fakes.write_hyp3(tmp_path, TIME, vv, vv / 5, pixel=30.0)
    (scene,) = Hyp3RtcReader.discover(list(files.values()))
    assert scene.time == TIME and set(scene.pieces[0]) == {"VV", "VH"}
    grid = RegionGrid.from_bounds(fakes.UTM, 60.0, (fakes.UTM_X0, fakes.UTM_Y0 - 60, fakes.UTM_X0 + 60, fakes.UTM_Y0))
    with Hyp3RtcReader(scene, IngestParams()) as reader:
        out = reader.read(grid, next(grid.windows(8)))
    assert out["vv"][0, 0] == pytest.approx(0.055, rel=1e-4)  # mean power, i.e. −12.6 dB, not −15 dB


@pytest.mark.realdata
def test_real_sen1floods11_s1(realdata) -> None:
    folder = realdata("sen1floods11_spain_segura")
    (scene,) = Sen1Floods11S1Reader.discover(sorted(folder.iterdir()))
    with open_raster(scene.pieces[0]["VV"]) as dataset:
        grid = RegionGrid(dataset.crs, dataset.transform, dataset.width, dataset.height)
    with Sen1Floods11S1Reader(scene, IngestParams()) as reader:
        assert reader.units == {"VV": "db", "VH": "db"} and reader.bands == {"VV": 1, "VH": 2}
        out = reader.read(grid, next(grid.windows(512)))
    vv_db = 10 * np.log10(np.nanmedian(out["vv"]))
    vh_db = 10 * np.log10(np.nanmedian(out["vh"]))
    assert vv_db == pytest.approx(-10.48, abs=0.05)  # VERIFY.txt: VV p50 −10.48 dB
    assert vh_db == pytest.approx(-17.73, abs=0.05)  # VH p50 −17.73 dB
