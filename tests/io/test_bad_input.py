"""Bad input: one clear InputDataError naming the file, the problem and the fix; nothing partial left behind."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from rasterio.transform import from_origin

from lithomap.config import IngestParams, RegionParams
from lithomap.errors import ConfigError, InputDataError
from lithomap.io.ingest import ingest_region
from tests.io import fakes


def ingest_fails(region: RegionParams, ingest: IngestParams, culprit: Path | set[Path], problem: str) -> InputDataError:
    """Run ingest, expect one InputDataError about ``culprit`` (or one of them), and check nothing was written."""
    culprits = culprit if isinstance(culprit, set) else {culprit}
    with pytest.raises(InputDataError) as caught:
        ingest_region("tiny", region, ingest, progress=False)
    error = caught.value
    message = str(error)
    assert error.path.name in {c.name for c in culprits}, message
    assert problem in error.problem, message
    assert "Fix:" in message and error.fix
    assert not (ingest.interim_dir / "tiny").exists(), "a failed ingest left output behind"
    return error


def lst_file(region: RegionParams) -> Path:
    return sorted(region.raw_dir.rglob("ECO2LSTE.001_SDS_LST_doy*.tif"))[0]


def test_geotiff_without_crs(fake_region: RegionParams, ingest_params: IngestParams) -> None:
    path = lst_file(fake_region)
    data = np.full((20, 20), 15000, np.int32)
    fakes.write_tif(path, data, None, from_origin(0, 20, 1, 1), 0)
    ingest_fails(fake_region, ingest_params, path, "no CRS")


def test_raster_not_overlapping_region(fake_region: RegionParams, ingest_params: IngestParams) -> None:
    far = fakes.write_hyp3(
        fake_region.raw_dir / "sentinel1",
        datetime(2023, 9, 1, 18),
        np.ones((10, 10)),
        np.ones((10, 10)),
        x0=fakes.UTM_X0 + 200_000,
        crc="FFFF",
    )
    ingest_fails(fake_region, ingest_params, set(far.values()), "does not overlap")


MARS = "IAU_2015:49900"  # a valid CRS that PROJ cannot transform to any Earth CRS


def test_crs_without_transformation_is_not_called_outside_the_region(
    fake_region: RegionParams, ingest_params: IngestParams
) -> None:
    vv = next(fake_region.raw_dir.rglob("*_VV.tif"))
    fakes.write_tif(vv, np.ones((10, 10), np.float32), MARS, from_origin(0, 10, 1, 1), 0)
    error = ingest_fails(fake_region, ingest_params, vv, "PROJ finds no transformation between")
    assert MARS in error.problem and "does not overlap" not in error.problem
    assert "gdal_edit.py -a_srs" in error.fix


def test_thermal_crs_without_transformation_when_the_grid_comes_from_footprints(
    fake_region: RegionParams, ingest_params: IngestParams
) -> None:
    path = lst_file(fake_region)
    fakes.write_tif(path, np.full((10, 10), 15000, np.int32), MARS, from_origin(0, 10, 1, 1), 0)
    region = fake_region.model_copy(update={"bounds": None})
    ingest_fails(region, ingest_params, path, "PROJ finds no transformation between")


def test_all_nodata_scene(fake_region: RegionParams, ingest_params: IngestParams) -> None:
    path = lst_file(fake_region)
    empty = fakes.write_appeears(path.parent, datetime(2023, 10, 1, 12), np.full((60, 60), np.nan))["LST"]
    ingest_fails(fake_region, ingest_params, empty, "no valid pixel")


def test_truncated_file(fake_region: RegionParams, ingest_params: IngestParams) -> None:
    path = lst_file(fake_region)
    payload = path.read_bytes()
    path.write_bytes(payload[: len(payload) * 2 // 3])
    ingest_fails(fake_region, ingest_params, path, "truncated or corrupt")


def test_geology_without_lithology_attribute(fake_region: RegionParams, ingest_params: IngestParams) -> None:
    gpkg = next(fake_region.raw_dir.rglob("*.gpkg"))
    gpkg.unlink()
    fakes.write_geology(gpkg, [((-4.1, 38.6, -3.9, 38.8), "Granitos")], attribute="EDAD")
    error = ingest_fails(fake_region, ingest_params, gpkg, "no lithology attribute")
    assert "geology_attribute" in error.fix and "EDAD" in error.problem


def test_configured_attribute_absent(fake_region: RegionParams, ingest_params: IngestParams) -> None:
    gpkg = next(fake_region.raw_dir.rglob("*.gpkg"))
    region = fake_region.model_copy(update={"geology_attribute": "lithname1"})
    ingest_fails(region, ingest_params, gpkg, "'lithname1' is not in the map")


def test_label_values_outside_range(fake_region: RegionParams, ingest_params: IngestParams, region_bounds) -> None:
    labels = np.full((40, 40), 3, np.uint8)
    labels[10, 10] = 20
    path = fakes.write_tif(
        fake_region.raw_dir / "labels" / "lithology_labels.tif",
        labels,
        fakes.UTM,
        from_origin(region_bounds[0], region_bounds[3], 70, 70),
        255,
    )
    error = ingest_fails(fake_region, ingest_params, path, "outside 0–13")
    assert "[20]" in error.problem


def test_region_folder_without_thermal(fake_region: RegionParams, ingest_params: IngestParams) -> None:
    for path in fake_region.raw_dir.rglob("ECO2*.tif"):
        path.unlink()
    region = fake_region.model_copy(update={"bounds": None})
    ingest_fails(region, ingest_params, region.raw_dir, "no thermal files")


def test_empty_region_folder(tmp_path: Path, ingest_params: IngestParams) -> None:
    raw = tmp_path / "empty"
    raw.mkdir()
    region = RegionParams(raw_dir=raw, crs=fakes.UTM, resolution=70.0, bounds=(0, 0, 700, 700))
    ingest_fails(region, ingest_params, raw, "no recognised source file")


def test_sentinel1_digital_numbers_refused(fake_region: RegionParams, ingest_params: IngestParams) -> None:
    vv = next(fake_region.raw_dir.rglob("*_VV.tif"))
    fakes.write_tif(
        vv, np.full((80, 80), 300, np.uint16), fakes.UTM, from_origin(fakes.UTM_X0, fakes.UTM_Y0, 30, 30), 0
    )
    ingest_fails(fake_region, ingest_params, vv, "digital numbers")


def test_failure_keeps_previous_good_cube(fake_region: RegionParams, ingest_params: IngestParams) -> None:
    report = ingest_region("tiny", fake_region, ingest_params, progress=False)
    before = xr.open_zarr(report.output).lst.values
    path = lst_file(fake_region)
    fakes.write_appeears(path.parent, datetime(2023, 10, 1, 12), np.full((60, 60), np.nan))
    with pytest.raises(InputDataError):
        ingest_region("tiny", fake_region, ingest_params, progress=False)
    after = xr.open_zarr(report.output)
    np.testing.assert_array_equal(after.lst.values, before)
    assert [p.name for p in report.output.parent.iterdir()] == ["cube.zarr"]


def test_a_thermal_file_far_from_the_others_is_left_out_of_derived_bounds_and_reported(
    fake_region: RegionParams, ingest_params: IngestParams
) -> None:
    derived = fake_region.model_copy(update={"bounds": None})
    good = ingest_region("tiny", derived, ingest_params, progress=False)
    before = xr.open_zarr(good.output)
    far = fakes.write_appeears(
        fake_region.raw_dir / "ecostress", datetime(2023, 9, 9, 11), np.full((30, 30), 300.0), lon0=56.0, lat0=38.7
    )
    report = ingest_region("tiny", derived, ingest_params, progress=False)
    assert set(report.ignored) == {str(far["LST"])}
    why = report.ignored[str(far["LST"])]
    assert "lies far from the other 3 thermal files" in why and "regions.<name>.bounds" in why
    assert report.grid == good.grid  # the far file did not stretch the grid
    cube = xr.open_zarr(report.output)
    assert cube.sizes == before.sizes and len(report.dates) == 3
    assert str(far["LST"]) in cube.attrs["ignored_files"]


def test_a_grid_above_the_pixel_cap_is_refused_naming_the_files_and_the_cube_is_kept(
    fake_region: RegionParams, ingest_params: IngestParams
) -> None:
    derived = fake_region.model_copy(update={"bounds": None})
    good = ingest_region("tiny", derived, ingest_params, progress=False)
    before = xr.open_zarr(good.output).lst.values
    capped = ingest_params.model_copy(update={"max_grid_pixels": 100})
    with pytest.raises(InputDataError) as caught:
        ingest_region("tiny", derived, capped, progress=False)
    message = str(caught.value)
    assert "above ingest.max_grid_pixels = 100" in message and "ECO2LSTE.001_SDS_LST_doy" in message
    assert "raise ingest.max_grid_pixels" in message
    with pytest.raises(ConfigError, match=r"bounds .* make a grid of 40 × 40 = 1,600 px"):
        ingest_region("tiny", fake_region, capped, progress=False)
    np.testing.assert_array_equal(xr.open_zarr(good.output).lst.values, before)


def test_derived_bounds_keep_the_native_landsat_30_m_grid(tmp_path: Path, ingest_params: IngestParams) -> None:
    lst = 290.0 + np.arange(36, dtype=float).reshape(6, 6)
    x0 = fakes.UTM_X0 + 15  # Landsat pixel corners lie at 15 m past a multiple of 30 m
    fakes.write_landsat_st(tmp_path / "raw", datetime(2023, 7, 1), lst, x0=x0, y0=fakes.UTM_Y0 + 15)
    region = RegionParams(raw_dir=tmp_path / "raw", crs=fakes.UTM, resolution=30.0)
    report = ingest_region("landsat", region, ingest_params, progress=False)
    assert report.grid["bounds"] == [x0, fakes.UTM_Y0 + 15 - 180, x0 + 180, fakes.UTM_Y0 + 15]
    cube = xr.open_zarr(report.output)
    np.testing.assert_allclose(cube.lst.values[0], lst, atol=0.002)  # the file's values, not resampled


def test_landsat_level1_brightness_temperature_is_not_stored_as_lst(
    fake_region: RegionParams, ingest_params: IngestParams
) -> None:
    good = ingest_region("tiny", fake_region, ingest_params, progress=False)
    before = xr.open_zarr(good.output).lst.values
    folder = fake_region.raw_dir / "landsat"
    b6 = fakes.write_tif(
        folder / "LT52020331990200CUB02_B6.TIF",
        np.full((90, 90), 140, np.uint8),
        fakes.UTM,
        from_origin(fakes.UTM_X0, fakes.UTM_Y0, 30, 30),
        0,
    )
    (folder / "LT52020331990200CUB02_MTL.txt").write_text(
        'DATE_ACQUIRED = 1990-07-19\nSCENE_CENTER_TIME = "10:40:00Z"\n'
        "RADIANCE_MULT_BAND_6 = 0.055\nRADIANCE_ADD_BAND_6 = 1.18243\nEND\n"
    )
    with pytest.raises(InputDataError) as caught:
        ingest_region("tiny", fake_region, ingest_params, progress=False)
    assert caught.value.path == b6
    assert "at-sensor brightness temperature, not land surface temperature" in caught.value.problem
    assert "ST_B10.TIF" in caught.value.fix
    np.testing.assert_array_equal(xr.open_zarr(good.output).lst.values, before)
