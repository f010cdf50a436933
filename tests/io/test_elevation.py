"""DEM readers: HyP3 ``_dem.tif`` companions, Copernicus DEM tiles, ECOSTRESS L2T ``height``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from rasterio.transform import from_origin
from rasterio.warp import transform_bounds

from lithomap.config import IngestParams, RegionParams
from lithomap.io.elevation import Hyp3DemReader, L2THeightReader
from lithomap.io.grid import RegionGrid
from lithomap.io.ingest import discover_sources, ingest_region
from lithomap.io.sentinel1 import Hyp3RtcReader
from tests.io import fakes

TIME = datetime(2023, 5, 5, 18, 4, 11)


def grid_of(side_m: float, resolution: float = 70.0) -> RegionGrid:
    return RegionGrid.from_bounds(
        fakes.UTM, resolution, (fakes.UTM_X0, fakes.UTM_Y0 - side_m, fakes.UTM_X0 + side_m, fakes.UTM_Y0)
    )


def test_hyp3_dem_companions_are_dem_scenes_and_not_backscatter(tmp_path: Path) -> None:
    vv = np.full((10, 10), 0.1, np.float32)
    dem = fakes.dem_ramp(vv.shape, 30.0)
    first = fakes.write_hyp3(tmp_path, TIME, vv, vv / 5, dem=dem)
    second = fakes.write_hyp3(tmp_path, datetime(2023, 5, 17, 18, 4, 11), vv, vv / 5, crc="CD34", dem=dem)
    paths = sorted(tmp_path.iterdir())
    scenes = Hyp3DemReader.discover(paths)
    assert [(s.time, s.pieces) for s in scenes] == [(None, ({"DEM": first["dem"]},)), (None, ({"DEM": second["dem"]},))]
    assert [set(rtc.pieces[0]) for rtc in Hyp3RtcReader.discover(paths)] == [{"VV", "VH"}, {"VV", "VH"}]
    catalog = discover_sources(tmp_path)
    assert len(catalog.sar) == 2 and len(catalog.elevation) == 2
    grid = grid_of(210.0)  # 3 × 3 pixels of 70 m over the 30 m ramp
    with Hyp3DemReader(scenes[0], IngestParams()) as reader:
        out = reader.read(grid, next(grid.windows(8)))
    east = (np.arange(3) + 0.5) * 70
    np.testing.assert_allclose(out["dem"], np.broadcast_to(600 + 0.1 * east, (3, 3)), atol=1.5)


def test_copernicus_tiles_are_mosaicked_into_the_cube(fake_region: RegionParams, ingest_params: IngestParams) -> None:
    """Two 1 arc-second tiles on EPSG:4326 (the COG and the DGED name) meet inside the region."""
    for path in fake_region.raw_dir.rglob("*_dem.tif"):
        path.unlink()
    west, south, east, north = transform_bounds(fakes.UTM, "EPSG:4326", *fake_region.bounds)
    middle, arcsec = round((west + east) / 2, 3), 1 / 3600
    rows, cols = int((north - south) / arcsec) + 40, int((middle - west) / arcsec) + 20
    top = north + 20 * arcsec
    tiles = (
        ("Copernicus_DSM_COG_10_N38_00_W005_00_DEM.tif", middle - cols * arcsec, 640.0),
        ("Copernicus_DSM_10_N38_00_W004_00_DEM.tif", middle, 910.0),
    )
    for name, origin, height in tiles:
        transform = from_origin(origin, top, arcsec, arcsec)
        fakes.write_tif(
            fake_region.raw_dir / "dem" / name, np.full((rows, cols), height, np.float32), "EPSG:4326", transform
        )
    report = ingest_region("tiny", fake_region, ingest_params, progress=False)
    assert sorted(report.sources["COPERNICUS_DEM"]) == sorted(f"dem/{name}" for name, _, _ in tiles)
    dem = xr.open_zarr(report.output)["dem"].values
    assert np.isfinite(dem).all()
    assert set(np.round(dem[:, :5]).ravel()) == {640.0} and set(np.round(dem[:, -5:]).ravel()) == {910.0}


def test_l2t_height_is_read_once_per_tile_and_never_as_lst(tmp_path: Path) -> None:
    shape = (12, 12)
    for time in (TIME, datetime(2023, 6, 1, 11, 0, 0)):
        files = fakes.write_l2t(tmp_path, time, "30SVH", np.full(shape, 300.0), fakes.UTM_X0, fakes.UTM_Y0)
        height = fakes.dem_ramp(shape, 70.0, base_m=700.0)
        path = files["LST"].with_name(files["LST"].name.removesuffix("_LST.tif") + "_height.tif")
        fakes.write_tif(path, height, fakes.UTM, from_origin(fakes.UTM_X0, fakes.UTM_Y0, 70.0, 70.0), np.nan)
    catalog = discover_sources(tmp_path)
    assert len(catalog.thermal) == 2 and all("height" not in s.pieces[0] for _, s in catalog.thermal)
    ((reader_type, scene),) = catalog.elevation
    assert reader_type is L2THeightReader
    assert "20230505T180411" in scene.pieces[0]["DEM"].name  # the first overpass's copy of the tile
    grid = grid_of(12 * 70.0)
    with L2THeightReader(scene, IngestParams()) as reader:
        dem = reader.read(grid, next(grid.windows(16)))["dem"]
    np.testing.assert_allclose(dem, height, atol=1e-3)


@pytest.mark.parametrize(
    "name",
    [
        "S1A_IW_20230505T180411_DVP_RTC30_G_gpuned_AB12_DEM.tif",  # HyP3 writes _dem in lower case
        "Copernicus_DSM_COG_10_N38_00_W005_00_DEM_clip.tif",
        "dem.tif",
    ],
)
def test_other_names_are_not_dems(tmp_path: Path, name: str) -> None:
    path = fakes.write_tif(tmp_path / name, np.zeros((4, 4), np.float32), fakes.UTM, from_origin(0, 4, 1, 1))
    assert not discover_sources(tmp_path).elevation, path.name
