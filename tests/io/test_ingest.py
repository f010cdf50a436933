"""Ingest of a tiny synthetic region and of the real ECOSTRESS folder into the region cube."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
import xarray as xr

from lithomap.config import IngestParams, RegionParams
from lithomap.errors import MissingSourceError
from lithomap.io.cube import open_cube, require_variables
from lithomap.io.ingest import discover_sources, ingest_region
from lithomap.locking import FolderLockedError, lock_path
from tests.io.conftest import REGION_PX, TIMES


def test_discovery_is_by_file_name_not_folder(fake_region: RegionParams, tmp_path: Path) -> None:
    flat = tmp_path / "flat"
    flat.mkdir()
    for path in fake_region.raw_dir.rglob("*.tif"):
        if "ECO2" in path.name:
            (flat / path.name).symlink_to(path)
    catalog = discover_sources(flat)
    assert len(catalog.thermal) == len(TIMES)
    assert not catalog.sar and not catalog.optical


def test_tiny_region_cube_layout(fake_region: RegionParams, ingest_params: IngestParams) -> None:
    report = ingest_region("tiny", fake_region, ingest_params, progress=False)
    cube = xr.open_zarr(report.output)
    assert report.output == ingest_params.interim_dir / "tiny" / "cube.zarr"
    assert cube.rio.crs.to_epsg() == 32630
    assert cube.sizes == {"time": 3, "sar_time": 2, "y": REGION_PX, "x": REGION_PX}
    assert cube.lst.dims == ("time", "y", "x") and cube.lst.dtype == np.float32
    assert cube.lst.encoding["chunks"] == (1, 32, 32)
    assert {"vv", "vh", "ndvi", "label", "lst_valid", "sar_valid", "ndvi_valid", "label_valid"} <= set(cube.data_vars)
    assert cube.label.dtype == np.uint8
    assert [str(t)[:19] for t in cube.time.values] == [t.isoformat() for t in TIMES]
    # Puertollano at lon -4.0: local solar time is UTC − 16 min
    assert cube.solar_time.values[0] == pytest.approx(10 + 40 / 60 - 4.0 / 15, abs=0.02)
    lst_medians = cube.lst.median(dim=("y", "x")).values
    np.testing.assert_allclose(lst_medians, [290, 295, 300], atol=0.1)
    assert bool(cube.lst_valid.all())
    # SAR: gamma mean 0.1 and 0.02 in power → about −10 and −17 dB
    assert float(cube.vv.median()) == pytest.approx(-10.0, abs=0.4)
    assert float(cube.vh.median()) == pytest.approx(-17.0, abs=0.4)
    # each of the two HyP3 dates on its own, at the same chunking as the thermal stack
    assert [str(t)[:19] for t in cube.sar_time.values] == ["2023-05-05T18:00:00", "2023-05-17T18:00:00"]
    assert cube.vv_dates.dims == ("sar_time", "y", "x") and cube.vv_dates.dtype == np.float32
    assert cube.vh_dates.encoding["chunks"] == (1, 32, 32)
    assert not np.allclose(cube.vv_dates[0].values, cube.vv_dates[1].values)
    for pol in ("vv", "vh"):
        power = 10 ** (cube[f"{pol}_dates"].values.astype(np.float64) / 10)
        np.testing.assert_allclose(10 * np.log10(power.mean(axis=0)), cube[pol].values, atol=1e-4)
    # NDVI from the offset-corrected reflectances 0.08 / 0.32, cloud strip dropped
    assert float(cube.ndvi.median()) == pytest.approx(0.6, abs=1e-3)
    assert not bool(cube.ndvi_valid[0].any()) and bool(cube.ndvi_valid[-1].all())
    # DEM: the HyP3 companions' eastward ramp (600 m at the S1 grid's west edge, 60 m west of the region, +0.1 m/m)
    # averaged onto the 70 m grid: each column holds the ramp at its centre
    east = 60 + (np.arange(REGION_PX) + 0.5) * 70
    np.testing.assert_allclose(cube.dem.values, np.broadcast_to(600 + 0.1 * east, cube.dem.shape), atol=1.5)
    assert cube.dem.attrs["units"] == "m" and bool(cube.dem_valid.all())
    assert report.sources["HYP3_RTC_DEM"] == [
        f"sentinel1/{p.name}" for p in sorted(fake_region.raw_dir.rglob("*_dem.tif"))
    ]
    classes = set(np.unique(cube.label.values).tolist())
    assert {10, 11} <= classes <= {0, 10, 11}
    assert "Zona sin clasificar XYZ" in report.unmapped_geology_km2
    assert report.unmapped_geology_km2["Zona sin clasificar XYZ"] > 0
    assert not report.missing


def test_generated_sentinel1_dates_are_stored_one_by_one(tiny_sar_region) -> None:
    params, _ = tiny_sar_region
    cube = open_cube(params.ingest.interim_dir / "tiny" / "cube.zarr")
    assert cube.sizes["sar_time"] == params.generate.sentinel1_dates == 3
    assert [str(t)[:19] for t in cube.sar_time.values] == cube.attrs["s1_dates"]
    assert cube.vv_dates.sizes == {"sar_time": 3, "y": cube.sizes["y"], "x": cube.sizes["x"]}
    covered = cube.sar_valid.values
    assert 0.5 < covered.mean() < 1, "the Sentinel-1 footprint covers most of the grid"
    vv = cube.vv_dates.values.astype(np.float64)
    assert np.std(vv[0][covered] - vv[1][covered]) > 0.5, "each date has its own speckle"
    for pol in ("vv", "vh"):
        dates = cube[f"{pol}_dates"].values.astype(np.float64)
        assert np.isfinite(dates[:, covered]).all() and np.isnan(dates[:, ~covered]).all()
        mean_db = 10 * np.log10((10 ** (dates[:, covered] / 10)).mean(axis=0))
        np.testing.assert_allclose(mean_db, cube[pol].values[covered], atol=1e-4)


def test_missing_sources_are_reported_and_absent(fake_region: RegionParams, ingest_params: IngestParams) -> None:
    for path in fake_region.raw_dir.rglob("*"):
        if path.is_file() and ("S1A_" in path.name or path.suffix == ".gpkg"):
            path.unlink()
    report = ingest_region("tiny", fake_region, ingest_params, progress=False)
    assert set(report.missing) == {"sar", "elevation", "labels"}  # the DEM came with the HyP3 products
    assert "dem is absent" in report.missing["elevation"]
    cube = open_cube(report.output)
    assert "vv" not in cube and "dem" not in cube and "label" not in cube and "lst" in cube
    require_variables(cube, ["lst"], "train", report.output)
    with pytest.raises(MissingSourceError, match="label"):
        require_variables(cube, ["label"], "train", report.output)


def test_rerun_replaces_cube_atomically(fake_region: RegionParams, ingest_params: IngestParams) -> None:
    first = ingest_region("tiny", fake_region, ingest_params, progress=False)
    second = ingest_region("tiny", fake_region, ingest_params, progress=False)
    assert first.output == second.output
    leftovers = [p.name for p in first.output.parent.iterdir() if p.name != "cube.zarr"]
    assert leftovers == []


def test_an_interrupted_ingest_leaves_nothing_for_the_next_one(
    fake_region: RegionParams, ingest_params: IngestParams
) -> None:
    first = ingest_region("tiny", fake_region, ingest_params, progress=False)
    stale = first.output.parent / ".cube.zarr.tmp-0badf00d"  # as a killed ingest leaves it
    (stale / "lst").mkdir(parents=True)
    (stale / "lst" / "c.0.0.0").write_bytes(b"half a chunk")
    ingest_region("tiny", fake_region, ingest_params, progress=False)
    assert [p.name for p in first.output.parent.iterdir()] == ["cube.zarr"]


def test_a_concurrent_ingest_of_the_region_refuses_and_keeps_the_cube(
    fake_region: RegionParams, ingest_params: IngestParams
) -> None:
    report = ingest_region("tiny", fake_region, ingest_params, progress=False)
    before = xr.open_zarr(report.output).lst.values
    partial = report.output.parent / ".cube.zarr.tmp-running"  # the running ingest's folder
    partial.mkdir()
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lock_path(report.output).write_text(f"pid {other.pid} on {socket.gethostname()}")
        with pytest.raises(FolderLockedError, match=r"another `lithomap ingest`") as caught:
            ingest_region("tiny", fake_region, ingest_params, progress=False)
        assert str(lock_path(report.output)) in str(caught.value)
    finally:
        other.kill()
        other.wait()
    assert partial.is_dir(), "a running ingest's temporary folder must not be deleted"
    np.testing.assert_array_equal(xr.open_zarr(report.output).lst.values, before)


@pytest.mark.realdata
def test_real_ecostress_diurnal(realdata, tmp_path: Path) -> None:
    region = RegionParams(raw_dir=realdata("ecostress_diurnal_seg"), crs="EPSG:32613", resolution=70.0)
    report = ingest_region("seg", region, IngestParams(interim_dir=tmp_path), progress=False)
    cube = xr.open_zarr(report.output)
    assert cube.sizes["time"] == 6
    assert cube.rio.crs.to_epsg() == 32613
    times = [str(t)[:16] for t in cube.time.values]
    assert times[0] == "2020-09-26T22:43" and times[2] == "2020-09-29T05:17"
    # PROVENANCE.md: median DN 15550 → 311 K (2020-270 22:43); night 05:17 median 14120 → 282 K
    assert float(cube.lst[0].median()) == pytest.approx(311.0, abs=1.0)
    assert float(cube.lst[2].median()) == pytest.approx(282.4, abs=1.0)
    # the night overpass: 05:17 UTC at lon −106.7 is ≈ 22:10 local solar time the previous day
    assert float(cube.solar_time[2]) == pytest.approx(22.17, abs=0.05)
    assert str(cube.solar_datetime.values[2])[:16] == "2020-09-28T22:10"
    emissivity = float(cube.emissivity[0].median())
    assert 0.95 < emissivity < 0.97  # EmisWB DN p50 235 × 0.002 + 0.49 = 0.96
    # 2020-274 has cloud / not-produced pixels (CloudMask -999 and 0): fewer valid pixels
    valid = cube.lst_valid.mean(dim=("y", "x")).values
    assert valid[3] < valid[0] - 0.05


@pytest.mark.realdata
def test_real_sen1floods11_region(realdata, tmp_path: Path) -> None:
    folder = realdata("sen1floods11_spain_segura")
    # the chip's own grid (EPSG:4326, 0.00009°): values must match VERIFY.txt
    with rasterio.open(folder / "Spain_7370579_S1Hand.tif") as chip:
        region = RegionParams(raw_dir=folder, crs="EPSG:4326", resolution=chip.res[0], bounds=tuple(chip.bounds))
    report = ingest_region("segura", region, IngestParams(interim_dir=tmp_path), progress=False)
    assert set(report.missing) == {"thermal", "elevation", "labels"}  # LabelHand is a flood label, not lithology
    assert "Spain_7370579_LabelHand.tif: Sen1Floods11 flood labels" in report.missing["labels"]
    assert "lithology_labels.tif" in report.missing["labels"]  # how to name a lithology label raster
    cube = xr.open_zarr(report.output)
    assert "lst" not in cube and "label" not in cube
    assert float(cube.vv.median()) == pytest.approx(-10.48, abs=0.1)
    assert "vv_dates" not in cube and "sar_time" not in cube.coords  # an undated chip joins the mean only
    assert float(cube.vh.median()) == pytest.approx(-17.73, abs=0.1)
    assert float(cube.ndvi.median()) == pytest.approx(0.171, abs=0.01)
    # on a 20 m UTM grid: linear-power averaging lifts the dB median a little
    utm = RegionParams(
        raw_dir=folder, crs="EPSG:32630", resolution=20.0, bounds=(694_500.0, 4_217_400.0, 698_500.0, 4_222_400.0)
    )
    cube = xr.open_zarr(ingest_region("segura_utm", utm, IngestParams(interim_dir=tmp_path), progress=False).output)
    assert -10.9 < float(cube.vv.median()) < -9.7
    assert 0.1 < float(cube.ndvi.median()) < 0.35


@pytest.mark.realdata
def test_real_hamersley_labels(realdata, tmp_path: Path) -> None:
    region = RegionParams(
        raw_dir=realdata("wa_hamersley_geology"),
        crs="EPSG:28350",
        resolution=100.0,
        bounds=(500_000, 7_490_000, 545_000, 7_520_000),
        geology_attribute="rocktype1",
    )
    report = ingest_region(
        "hamersley", region, IngestParams(interim_dir=tmp_path, boundary_buffer_px=1), progress=False
    )
    cube = xr.open_zarr(report.output)
    assert cube.label.dtype == np.uint8 and cube.rio.crs.to_epsg() == 28350
    assert set(np.unique(cube.label.values).tolist()) == {0, 7, 8, 9, 10}
    assert "65 features" in report.sources["geology"][0]
    assert set(report.unmapped_geology_km2) == {"sedimentary other chemical or biochemical"}
    assert bool((cube.label_valid == (cube.label > 0)).all())
