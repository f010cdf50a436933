"""ECOSTRESS readers: AppEEARS exports (scale, QC and cloud masks, time) and Collection 2 L2T tiles."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from lithomap.config import IngestParams
from lithomap.io.ecostress import AppeearsReader, L2TReader
from lithomap.io.grid import RegionGrid
from tests.io import fakes

TIME = datetime(2023, 7, 15, 12, 30, 5)


def read_whole(reader_cls, scene, grid: RegionGrid, **params) -> dict[str, np.ndarray]:
    with reader_cls(scene, IngestParams(**params)) as reader:
        window = next(grid.windows(max(grid.shape)))
        return reader.read(grid, window)


def native_grid(path: Path) -> RegionGrid:
    import rasterio

    with rasterio.open(path) as dataset:
        return RegionGrid(dataset.crs, dataset.transform, dataset.width, dataset.height)


def test_appeears_discovery_groups_layers_and_parses_time(tmp_path: Path) -> None:
    fakes.write_appeears(tmp_path, TIME, np.full((8, 8), 300.0))
    (scene,) = AppeearsReader.discover(sorted(tmp_path.iterdir()))
    assert scene.time == TIME
    assert set(scene.pieces[0]) == {"LST", "EmisWB", "QC", "CloudMask"}


def test_appeears_masks_and_scaling(tmp_path: Path) -> None:
    lst = np.full((8, 8), 300.0)
    qc = np.zeros((8, 8), np.int32)
    qc[0, 0] = 0b01  # nominal: kept with max QA 1
    qc[0, 1] = 0b10  # cloud detected
    qc[0, 2] = 0b11  # not produced
    cloud = np.ones((8, 8), np.int16)  # determined, clear
    cloud[1, 0] = 3  # region-growing cloud
    cloud[1, 1] = 33  # clear water
    cloud[1, 2] = 0  # not determined
    cloud[1, 3] = -999  # fill
    files = fakes.write_appeears(tmp_path, TIME, lst, qc=qc, cloud=cloud, emis=np.full((8, 8), 0.97))
    (scene,) = AppeearsReader.discover(list(files.values()))
    out = read_whole(AppeearsReader, scene, native_grid(files["LST"]), continuous_resampling="bilinear")
    lst_out = out["lst"]
    assert lst_out[0, 0] == pytest.approx(300.0) and lst_out[1, 1] == pytest.approx(300.0)
    assert np.isnan(lst_out[[0, 0, 1, 1, 1], [1, 2, 0, 2, 3]]).all()
    assert out["emissivity"][0, 0] == pytest.approx(0.97, abs=0.002)
    assert np.isnan(out["emissivity"][0, 1])
    strict = read_whole(AppeearsReader, scene, native_grid(files["LST"]), ecostress_max_mandatory_qa=0)
    assert np.isnan(strict["lst"][0, 0])


def test_average_never_crosses_nodata(tmp_path: Path) -> None:
    lst = np.full((8, 8), 300.0)
    lst[:, :4] = np.nan
    files = fakes.write_appeears(tmp_path, TIME, lst)
    (scene,) = AppeearsReader.discover(list(files.values()))
    src = native_grid(files["LST"])
    coarse = RegionGrid(src.crs, src.transform @ src.transform.scale(2), 4, 4)
    out = read_whole(AppeearsReader, scene, coarse)["lst"]
    assert np.isnan(out[:, :2]).all()
    np.testing.assert_allclose(out[:, 2:], 300.0, atol=1e-3)


def test_l2t_tiles_of_one_overpass_are_mosaicked(tmp_path: Path) -> None:
    x0, y0 = fakes.UTM_X0, fakes.UTM_Y0
    fakes.write_l2t(tmp_path, TIME, "30SVH", np.full((10, 10), 300.0), x0, y0)
    cloud = np.zeros((10, 10), np.uint8)
    cloud[0, 0] = 1
    fakes.write_l2t(tmp_path, TIME, "30SVJ", np.full((10, 10), 310.0), x0 + 700, y0, cloud=cloud)
    (scene,) = L2TReader.discover(sorted(tmp_path.iterdir()))
    assert len(scene.pieces) == 2 and scene.time == TIME
    grid = RegionGrid.from_bounds(fakes.UTM, 70.0, (x0, y0 - 700, x0 + 1400, y0))
    out = read_whole(L2TReader, scene, grid)
    assert out["lst"][5, 5] == pytest.approx(300.0) and out["lst"][5, 15] == pytest.approx(310.0)
    assert np.isnan(out["lst"][0, 10])
    assert out["emissivity"][5, 5] == pytest.approx(0.97)


@pytest.mark.realdata
def test_real_appeears_scene(realdata) -> None:
    folder = realdata("ecostress_diurnal_seg")
    scenes = AppeearsReader.discover(sorted(folder.iterdir()))
    assert [s.time.strftime("%j %H:%M") for s in scenes] == [
        "270 22:43",
        "271 21:56",
        "273 05:17",
        "274 21:10",
        "275 20:23",
        "279 18:51",
    ]
    night = scenes[2]
    out = read_whole(AppeearsReader, night, native_grid(night.pieces[0]["LST"]), continuous_resampling="bilinear")
    assert float(np.nanmedian(out["lst"])) == pytest.approx(14120 * 0.02, abs=0.2)  # PROVENANCE: 282 K
