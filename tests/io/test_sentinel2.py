"""Sentinel-2 readers: BOA offset from MTD_MSIL2A.xml or the baseline, SCL mask, NDVI."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from lithomap.config import IngestParams
from lithomap.io.grid import RegionGrid
from lithomap.io.rasterfile import open_raster
from lithomap.io.sentinel2 import SafeL2AReader, Sen1Floods11S2Reader, read_offsets
from tests.io import fakes

TIME = datetime(2023, 6, 10, 10, 56, 1)
GRID = RegionGrid.from_bounds(fakes.UTM, 20.0, (fakes.UTM_X0, fakes.UTM_Y0 - 200, fakes.UTM_X0 + 200, fakes.UTM_Y0))


def ndvi_of(folder: Path) -> np.ndarray:
    (scene,) = SafeL2AReader.discover(sorted(p for p in folder.rglob("*") if p.is_file()))
    with SafeL2AReader(scene, IngestParams()) as reader:
        return reader.read(GRID, next(GRID.windows(32)))["ndvi"]


@pytest.mark.parametrize(
    ("baseline", "offset", "expected"),
    [
        ("0510", -1000.0, 0.6),  # offset read from MTD_MSIL2A.xml
        ("0510", None, 0.6),  # no MTD: −1000 from baseline ≥ 04.00
        ("0300", None, (4200 - 1800) / (4200 + 1800)),  # old baseline: no offset
    ],
)
def test_boa_offset(tmp_path: Path, baseline: str, offset: float | None, expected: float) -> None:
    red, nir = np.full((20, 20), 1800), np.full((20, 20), 4200)
    fakes.write_s2_safe(tmp_path, TIME, red, nir, baseline=baseline, offset=offset)
    np.testing.assert_allclose(ndvi_of(tmp_path), expected, atol=1e-4)


def test_scl_mask_and_nodata(tmp_path: Path) -> None:
    red, nir = np.full((20, 20), 1800), np.full((20, 20), 4200)
    red[:, 0] = 0
    scl = np.full((10, 10), 5)
    scl[9, :] = 8  # cloud, medium probability
    fakes.write_s2_safe(tmp_path, TIME, red, nir, scl=scl)
    ndvi = ndvi_of(tmp_path)
    assert np.isnan(ndvi[-1]).all()
    assert np.isfinite(ndvi[:-1, 1:]).all()
    assert np.isnan(ndvi[0, 0]) or ndvi[0, 0] == pytest.approx(0.6)


def test_offsets_from_xml(tmp_path: Path) -> None:
    safe = fakes.write_s2_safe(tmp_path, TIME, np.ones((4, 4)), np.ones((4, 4)), offset=-1000)
    offsets, quantification = read_offsets(safe / "MTD_MSIL2A.xml")
    assert offsets["B04"] == -1000 and offsets["B08"] == -1000 and quantification == 10000


@pytest.mark.realdata
def test_real_sen1floods11_s2_ndvi(realdata) -> None:
    folder = realdata("sen1floods11_spain_segura")
    (scene,) = Sen1Floods11S2Reader.discover(sorted(folder.iterdir()))
    with open_raster(scene.pieces[0]["B04"]) as dataset:
        grid = RegionGrid(dataset.crs, dataset.transform, dataset.width, dataset.height)
        red, nir = dataset.read(4).astype(float), dataset.read(8).astype(float)
    assert (np.median(red), np.median(nir)) == (1187, 2061)  # VERIFY.txt
    with Sen1Floods11S2Reader(scene, IngestParams()) as reader:
        ndvi = reader.read(grid, next(grid.windows(512)))["ndvi"]
    assert np.nanmedian(ndvi) == pytest.approx(np.median((nir - red) / (nir + red)), abs=1e-3)
    assert 0.1 < np.nanmedian(ndvi) < 0.35  # flooded alluvial plain: water, crops, orchards
