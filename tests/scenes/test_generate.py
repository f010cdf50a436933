"""Generated scenes: real product encodings, determinism, atomic output, visible physics."""

from __future__ import annotations

import hashlib
import json
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from pyproj import Transformer

from lithomap.classes import class_id_of, default_mapper
from lithomap.config import parse_params
from lithomap.errors import ConfigError, InputDataError
from lithomap.io import formats
from lithomap.locking import FolderLockedError, lock_path
from lithomap.scenes import writers
from lithomap.scenes.acquisitions import Acquisition, from_solar
from lithomap.scenes.generate import SyntheticScene, generate_region

LON, LAT = -4.11, 38.69
MIX = {"sand": 0.25, "clay": 0.25, "carbonate": 0.2, "volcanic": 0.15, "non_foliated": 0.15}
SUMMER, WINTER = 196, 15
SUMMER_HOURS = (1.5, 5.0, 9.0, 12.0, 13.5, 15.0, 18.0, 19.5, 21.0, 23.0)


def small_params(tmp_path, seed=5, size_px=48, mix=MIX):
    return parse_params(
        {
            "regions": {
                "test": {
                    "raw_dir": str(tmp_path / "raw" / "test"),
                    "crs": "EPSG:32630",
                    "synthetic": {
                        "seed": seed,
                        "centre_lon": LON,
                        "centre_lat": LAT,
                        "utm_epsg": 32630,
                        "mgrs_tile": "30SVH",
                        "mean_air_temperature_c": 15.5,
                        "class_mix": mix,
                    },
                }
            },
            "generate": {
                "size_px": size_px,
                "thermal_acquisitions": 6,
                "sentinel1_dates": 2,
                "sentinel2_dates": 1,
                "quicklook_dir": str(tmp_path / "quicklook"),
                "realism": {"nuisance": 0.0},  # the clean generator's physics
            },
        }
    )


def at(doy: int, hour: float) -> Acquisition:
    utc = from_solar(2023, doy, hour, LON)
    return Acquisition(utc, hour, 0.0)


def decode_lst(path):
    with rasterio.open(path) as src:
        dn = src.read(1)
        scale = float(src.tags()["scale_factor"])
        return np.where(dn == src.nodata, np.nan, dn * scale), src.transform, src.crs


def on_geographic_pixels(scene: SyntheticScene, values: np.ndarray, transform, shape) -> np.ndarray:
    """A master-grid array sampled (nearest) at each geographic pixel centre; NaN outside."""
    rows, cols = np.indices(shape)
    lon, lat = transform.c + (cols + 0.5) * transform.a, transform.f + (rows + 0.5) * transform.e
    x, y = Transformer.from_crs("EPSG:4326", scene.grid.crs, always_xy=True).transform(lon, lat)
    col = np.floor((x - scene.grid.transform.c) / scene.grid.resolution).astype(int)
    row = np.floor((scene.grid.transform.f - y) / scene.grid.resolution).astype(int)
    inside = (row >= 0) & (row < scene.grid.height) & (col >= 0) & (col < scene.grid.width)
    out = np.full(shape, np.nan)
    out[inside] = values[row[inside], col[inside]]
    return out


def class_of_pixels(scene: SyntheticScene, transform, shape) -> np.ndarray:
    """Class of each geographic pixel, from the scene's class map (nearest); 0 outside."""
    return np.nan_to_num(on_geographic_pixels(scene, scene.class_map, transform, shape), nan=0).astype(int)


@pytest.fixture(scope="module")
def diurnal_scene(tmp_path_factory):
    """One summer day at ten local times, and a winter day and night, no clouds."""
    tmp_path = tmp_path_factory.mktemp("diurnal")
    params = small_params(tmp_path, size_px=64)
    acquisitions = [at(SUMMER, h) for h in SUMMER_HOURS] + [at(WINTER, 13.5), at(WINTER, 1.5)]
    region = params.region("test")
    generate_region("test", region, params.generate, acquisitions=acquisitions, quicklook=False, progress=False)
    scene = SyntheticScene(region.synthetic, params.generate, "test")
    means: dict[tuple[int, float], np.ndarray] = {}
    for acquisition in acquisitions:
        name = writers.appeears_name("ECO2LSTE", "LST", acquisition.utc)
        lst, transform, _ = decode_lst(region.raw_dir / "ecostress" / name)
        classes = class_of_pixels(scene, transform, lst.shape)
        valid = np.isfinite(lst)
        means[(acquisition.doy, acquisition.solar_hour)] = np.array(
            [lst[valid & (classes == c)].mean() if (valid & (classes == c)).any() else np.nan for c in range(14)]
        )
    return means


def test_sand_has_a_larger_diurnal_range_than_clay(diurnal_scene):
    summer = np.array([diurnal_scene[(SUMMER, h)] for h in SUMMER_HOURS])
    sand, clay = class_id_of("sand"), class_id_of("clay")
    range_sand = np.ptp(summer[:, sand])
    range_clay = np.ptp(summer[:, clay])
    assert range_sand > range_clay + 2.0, (range_sand, range_clay)


def test_clay_cools_more_slowly_after_sunset_relative_to_its_daily_mean(diurnal_scene):
    sand, clay = class_id_of("sand"), class_id_of("clay")
    summer = {h: diurnal_scene[(SUMMER, h)] for h in SUMMER_HOURS}
    daily_mean = np.mean([summer[h] for h in SUMMER_HOURS], axis=0)
    evening_drop = summer[19.5] - summer[23.0]
    assert evening_drop[clay] < evening_drop[sand]
    anomaly = summer[23.0] - daily_mean
    assert anomaly[clay] > anomaly[sand]


def test_class_contrast_is_larger_on_summer_days_than_winter_nights(diurnal_scene):
    present = [class_id_of(name) for name in MIX]
    summer_day = diurnal_scene[(SUMMER, 13.5)][present]
    winter_night = diurnal_scene[(WINTER, 1.5)][present]
    assert np.ptp(summer_day) > 3 * np.ptp(winter_night), (np.ptp(summer_day), np.ptp(winter_night))


def test_days_are_warmer_than_nights_and_summer_than_winter(diurnal_scene):
    present = [class_id_of(name) for name in MIX]
    assert np.all(diurnal_scene[(SUMMER, 13.5)][present] > diurnal_scene[(SUMMER, 5.0)][present] + 10)
    assert np.all(diurnal_scene[(SUMMER, 13.5)][present] > diurnal_scene[(WINTER, 13.5)][present] + 10)
    assert np.all((diurnal_scene[(WINTER, 1.5)][present] > 250) & (diurnal_scene[(SUMMER, 13.5)][present] < 345))


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("generated")
    params = small_params(tmp_path)
    report = generate_region("test", params.region("test"), params.generate, progress=False)
    return params, report


def test_ecostress_files_use_the_appeears_encodings(generated):
    _, report = generated
    folder = report.raw_dir / "ecostress"
    names = sorted(p.name for p in folder.glob("*.tif"))
    assert len(names) == 5 * report.thermal_dates
    matches = [formats.APPEEARS_NAME.match(n) for n in names]
    assert all(matches)
    assert {m["layer"] for m in matches} == {"LST", "LST_err", "EmisWB", "QC", "CloudMask"}
    transforms = set()
    for layer, encoding in formats.APPEEARS_ENCODINGS.items():
        path = next(folder.glob(f"*_SDS_{layer}_doy*.tif"))
        with rasterio.open(path) as src:
            assert src.crs.to_epsg() == 4326
            assert src.dtypes[0] == encoding.dtype
            assert src.nodata == encoding.fill
            assert float(src.tags()["scale_factor"]) == pytest.approx(encoding.scale)
            assert float(src.tags()["add_offset"]) == pytest.approx(encoding.offset)
    for path in folder.glob("*_SDS_LST_doy*.tif"):
        lst, transform, _ = decode_lst(path)
        transforms.add((round(transform.c, 9), round(transform.f, 9)))
        assert transform.a == pytest.approx(formats.APPEEARS_PIXEL_DEG)
        valid = lst[np.isfinite(lst)]
        assert valid.size > 0.5 * lst.size
        assert 230 < np.median(valid) < 340
    assert len(transforms) == report.thermal_dates, "each date should sit on its own shifted grid"


def test_sentinel_files_use_real_layouts(generated):
    params, report = generated
    s1 = sorted((report.raw_dir / "sentinel1").glob("*_V[VH].tif"))
    assert len(s1) == 2 * report.sentinel1_dates
    dems = sorted((report.raw_dir / "sentinel1").glob("*_dem.tif"))
    assert len(dems) == report.sentinel1_dates  # HyP3's DEM companion with every product
    elevation = SyntheticScene(params.region("test").synthetic, params.generate, "test").elevation_m()
    for path in dems:
        assert formats.HYP3_DEM_NAME.match(path.name), path.name
        with rasterio.open(path) as src:
            assert src.dtypes[0] == "float32" and src.nodata is None and src.res == (30.0, 30.0)
            np.testing.assert_array_equal(src.read(1), elevation)
    for path in s1:
        assert formats.HYP3_RTC_NAME.match(path.name), path.name
        with rasterio.open(path) as src:
            values = src.read(1)
            assert src.dtypes[0] == "float32" and src.nodata == 0 and src.crs.to_epsg() == 32630
            assert src.res == (30.0, 30.0)
        db = 10 * np.log10(values[values > 0])
        expected = (-16, -6) if path.name.endswith("_VV.tif") else (-26, -13)
        assert expected[0] < np.median(db) < expected[1], (path.name, np.median(db))
    safe = next((report.raw_dir / "sentinel2").glob("*.SAFE"))
    match = formats.S2_SAFE_NAME.match(safe.name)
    assert match and match["baseline"] >= "0400"
    assert 'BOA_ADD_OFFSET band_id="3">-1000<' in (safe / "MTD_MSIL2A.xml").read_text()
    red_path = next(safe.rglob("*_B04_10m.tif"))
    nir_path = next(safe.rglob("*_B08_10m.tif"))
    assert formats.S2_BAND_NAME.match(red_path.name)
    with rasterio.open(red_path) as red_src, rasterio.open(nir_path) as nir_src:
        assert red_src.res == (10.0, 10.0)
        red = (red_src.read(1).astype(float) - 1000) / 10000
        nir = (nir_src.read(1).astype(float) - 1000) / 10000
    ndvi = (nir - red) / (nir + red)
    assert -0.6 < np.median(ndvi) < 0.9
    assert next(safe.rglob("*_SCL_20m.tif")).exists()


def test_geology_is_an_etrs89_geopackage_whose_legend_maps_completely(generated):
    _, report = generated
    frame = gpd.read_file(report.raw_dir / "geology" / "mapa_geologico.gpkg", layer="geologia")
    assert frame.crs.to_epsg() == 4258
    assert "LITOLOGIA" in frame.columns
    mapping = default_mapper().map_terms(frame["LITOLOGIA"].unique())
    assert mapping.complete, mapping.describe_unmapped()
    assert set(mapping.class_of.values()) == {class_id_of(name) for name in MIX}


def test_manifest_and_class_mix(generated):
    _, report = generated
    manifest = json.loads((report.raw_dir / "scene.json").read_text())
    assert manifest["thermal_dates"] == report.thermal_dates == len(manifest["overpasses"])
    for name, share in MIX.items():
        assert report.class_fractions[name] == pytest.approx(share, abs=0.02)
    assert report.quicklook is not None and report.quicklook.stat().st_size > 10_000


def test_same_seed_same_data_other_seed_other_data(tmp_path):
    def lst_of(seed, folder):
        params = small_params(tmp_path / folder, seed=seed, size_px=32)
        acquisitions = [at(SUMMER, 13.5)]
        report = generate_region(
            "test", params.region("test"), params.generate, acquisitions=acquisitions, quicklook=False, progress=False
        )
        return decode_lst(next((report.raw_dir / "ecostress").glob("*_SDS_LST_*.tif")))[0]

    first, again, other = lst_of(1, "a"), lst_of(1, "b"), lst_of(2, "c")
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(np.nan_to_num(first), np.nan_to_num(other))


def test_a_failed_run_leaves_the_previous_region_untouched(tmp_path, monkeypatch):
    params = small_params(tmp_path, size_px=32)
    region = params.region("test")
    generate_region("test", region, params.generate, acquisitions=[at(SUMMER, 12.0)], quicklook=False, progress=False)
    before = sorted(p.relative_to(region.raw_dir) for p in region.raw_dir.rglob("*"))

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(writers, "write_hyp3_rtc", broken)
    with pytest.raises(OSError, match="disk full"):
        generate_region(
            "test", region, params.generate, acquisitions=[at(SUMMER, 13.0)], quicklook=False, progress=False
        )
    after = sorted(p.relative_to(region.raw_dir) for p in region.raw_dir.rglob("*"))
    assert after == before
    assert [p.name for p in region.raw_dir.parent.iterdir()] == ["test"], "no partial folder may be left"


def test_region_without_synthetic_section_cannot_be_generated(tmp_path):
    params = parse_params({"regions": {"real": {"raw_dir": str(tmp_path), "crs": "EPSG:32630"}}})
    with pytest.raises(ConfigError, match="no 'synthetic' section"):
        generate_region("real", params.region("real"), params.generate, progress=False)


def test_acquisition_times_are_utc_with_local_solar_time():
    acquisition = at(SUMMER, 13.5)
    assert acquisition.utc.tzinfo == UTC
    assert acquisition.utc.hour == 13 and acquisition.utc.minute == 46  # 13:30 solar at 4.11° W
    assert acquisition.is_day(38.69, -4.11) and not at(SUMMER, 22.0).is_day(38.69, -4.11)
    assert from_solar(2023, 1, 0.0, 0.0) == datetime(2023, 1, 1, tzinfo=UTC)


def tree_digest(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder``, by relative path."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def generate_small(params, acquisitions=None):
    return generate_region(
        "test",
        params.region("test"),
        params.generate,
        acquisitions=acquisitions or [at(SUMMER, 12.0)],
        quicklook=False,
        progress=False,
    )


def test_the_same_seed_writes_byte_identical_files(tmp_path):
    params = small_params(tmp_path, size_px=32)
    first = tree_digest(generate_small(params).raw_dir)
    again = tree_digest(generate_small(params).raw_dir)
    assert any(name.endswith(".gpkg") for name in first)
    assert again == first


def test_a_second_run_on_a_locked_region_refuses_and_names_the_lock(tmp_path):
    params = small_params(tmp_path, size_px=32)
    raw_dir = generate_small(params).raw_dir
    before = tree_digest(raw_dir)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lock = lock_path(raw_dir)
        lock.write_text(f"pid {other.pid} on {socket.gethostname()}")
        with pytest.raises(FolderLockedError, match=r"another `lithomap generate` \(pid \d+") as caught:
            generate_small(params, [at(SUMMER, 15.0)])
        assert str(lock) in str(caught.value)
        assert tree_digest(raw_dir) == before
    finally:
        other.kill()
        other.wait()
    generate_small(params, [at(SUMMER, 15.0)])  # the lock of a dead process is taken over
    assert not lock.exists() and tree_digest(raw_dir) != before


def test_generate_refuses_a_folder_it_did_not_write(tmp_path):
    params = small_params(tmp_path, size_px=32)
    raw_dir = params.region("test").raw_dir
    raw_dir.mkdir(parents=True)
    (raw_dir / "my_field_notes.txt").write_text("real data")
    with pytest.raises(InputDataError, match="did not write") as caught:
        generate_small(params)
    assert "regions.test.raw_dir" in caught.value.fix
    assert [p.name for p in raw_dir.iterdir()] == ["my_field_notes.txt"]


def test_generate_refuses_the_working_folder(tmp_path, monkeypatch):
    params = small_params(tmp_path, size_px=32)
    region = params.region("test").model_copy(update={"raw_dir": Path()})
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text("regions: {}")
    with pytest.raises(ConfigError, match=r"raw_dir is '\.', which is the working folder"):
        generate_region("test", region, params.generate, quicklook=False, progress=False)
    assert (tmp_path / "params.yaml").read_text() == "regions: {}"


def test_append_dates_adds_later_overpasses_and_keeps_the_old_files(tmp_path):
    from lithomap.scenes.generate import append_acquisitions

    params = small_params(tmp_path)
    region = params.region("test")
    first = generate_region("test", region, params.generate, quicklook=False, progress=False)
    raw = first.raw_dir
    before = {p.relative_to(raw): p.read_bytes() for p in raw.rglob("*.tif")}
    report = append_acquisitions("test", region, params.generate, 2, progress=False)
    assert report.thermal_dates == first.thermal_dates + 2
    after = {p.relative_to(raw): p.read_bytes() for p in raw.rglob("*.tif")}
    assert all(after[name] == content for name, content in before.items()), "old files untouched"
    new_lst = sorted(str(name) for name in set(after) - set(before) if "_LST_doy" in str(name))
    assert len(new_lst) == 2 and len(set(after) - set(before)) == 2 * 5
    manifest = json.loads((raw / "scene.json").read_text())
    times = [datetime.fromisoformat(o["utc"]) for o in manifest["overpasses"]]
    assert times == sorted(times) and len(times) == first.thermal_dates + 2
    assert manifest["appended"] == [{"dates": 2, "after": first.overpasses[-1]["utc"]}]
    lst, _, _ = decode_lst(raw / new_lst[0])
    assert 230 < np.nanmedian(lst) < 340

    again = small_params(tmp_path / "again")
    generate_region("test", again.region("test"), again.generate, quicklook=False, progress=False)
    append_acquisitions("test", again.region("test"), again.generate, 2, progress=False)
    twin = again.region("test").raw_dir
    assert sorted(p.name for p in twin.rglob("*.tif")) == sorted(p.name for p in raw.rglob("*.tif")), "reproducible"
