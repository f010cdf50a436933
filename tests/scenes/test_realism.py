"""Realism effects change the written files in the expected direction; nuisance 0 is today's generator."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio

from lithomap.classes import class_id_of
from lithomap.config import REALISM_EFFECTS, RealismParams, parse_params
from lithomap.errors import ConfigError
from lithomap.scenes import map_labels, writers
from lithomap.scenes.acquisitions import Acquisition, from_solar
from lithomap.scenes.generate import SyntheticScene, generate_region, label_ceiling
from lithomap.scenes.terrain import scene_relief
from tests.scenes.test_generate import on_geographic_pixels

LON, LAT = -4.11, 38.69
MIX = {"sand": 0.25, "clay": 0.25, "carbonate": 0.2, "volcanic": 0.15, "non_foliated": 0.15}
CLEAN_DIGEST = "8035d862aae3e33747c90b67fd15b6ea381ad77e6cf4ce61dec96e74734df9bd"
"""sha256 of every file but scene.json of ``params(tmp, size_px=40)``, computed with main's generator before
the realism effects were added (commit ebc6f3f)."""
EVERY_EFFECT_OFF = {name: getattr(RealismParams().without_effects(), name) for name in REALISM_EFFECTS}


def spanning(relief_m: float, size_px: int = 40) -> float:
    """The ``relief_m`` setting (a 25 km scene's) that gives a test scene of ``size_px`` this relief."""
    return relief_m / scene_relief(1.0, size_px * 70.0)


def params(tmp_path: Path, size_px: int = 40, **realism):
    return parse_params(
        {
            "regions": {
                "test": {
                    "raw_dir": str(tmp_path / "raw"),
                    "crs": "EPSG:32630",
                    "synthetic": {
                        "seed": 7,
                        "centre_lon": LON,
                        "centre_lat": LAT,
                        "utm_epsg": 32630,
                        "mgrs_tile": "30SVH",
                        "mean_air_temperature_c": 15.5,
                        "class_mix": MIX,
                    },
                }
            },
            "generate": {
                "size_px": size_px,
                "thermal_acquisitions": 5,
                "cloudy_fraction": 0.0,
                "sentinel1_dates": 1,
                "sentinel2_dates": 1,
                "quicklook_dir": str(tmp_path / "quicklook"),
                "realism": realism,
            },
        }
    )


def only(**effects) -> dict:
    """Realism params with every effect off except ``effects``, at nuisance 1."""
    return {**EVERY_EFFECT_OFF, "nuisance": 1.0, **effects}


def at(doy: int, hour: float, cloud_cover: float = 0.0) -> Acquisition:
    return Acquisition(from_solar(2023, doy, hour, LON), hour, cloud_cover)


def written(tmp_path: Path, acquisitions: list[Acquisition], **realism) -> tuple[SyntheticScene, dict]:
    """Generate with the given overpasses; return the scene and each overpass's decoded layers."""
    config = params(tmp_path, **realism)
    region = config.region("test")
    generate_region("test", region, config.generate, acquisitions=acquisitions, quicklook=False, progress=False)
    layers = {}
    for acquisition in acquisitions:
        out = {}
        for layer, product in (("LST", "ECO2LSTE"), ("EmisWB", "ECO2LSTE"), ("CloudMask", "ECO2CLD")):
            path = region.raw_dir / "ecostress" / writers.appeears_name(product, layer, acquisition.utc)
            with rasterio.open(path) as src:
                dn = src.read(1).astype(np.float64)
                scale = float(src.tags()["scale_factor"])
                offset = float(src.tags()["add_offset"])
                out[layer] = np.where(dn == src.nodata, np.nan, dn * scale + offset)
                out["transform"] = src.transform
        layers[acquisition] = out
    return SyntheticScene(region.synthetic, config.generate, "test"), layers


GENERATE_IN_A_FRESH_PROCESS = """
import json, sys
from lithomap.config import parse_params
from lithomap.scenes.generate import generate_region
config = parse_params(json.loads(sys.argv[1]))
generate_region("test", config.region("test"), config.generate, quicklook=False, progress=False)
"""


def test_nuisance_zero_writes_the_clean_generators_files_byte_for_byte(tmp_path):
    """As `lithomap generate` runs: in a fresh process.

    In CI's shared pytest worker the same call once gave other bytes after other test
    files had run in the process (state leaking from an earlier test; not found yet), so
    the generation runs in its own interpreter, as every `lithomap generate` does.
    """
    config = params(tmp_path, nuisance=0.0, relief_m=900.0, cloud_omission=0.5)
    raw_params = config.model_dump(mode="json")
    raw_params["generate"]["sentinel1_enl"] = 4.4  # the ENL of commit ebc6f3f (10 m GRDH)
    subprocess.run(
        [sys.executable, "-c", GENERATE_IN_A_FRESH_PROCESS, json.dumps(raw_params)],
        check=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    raw = tmp_path / "raw"
    digest = hashlib.sha256()
    files = sorted(p for p in raw.rglob("*") if p.is_file() and p.name != "scene.json")
    dems = [p for p in files if p.name.endswith("_dem.tif")]  # HyP3's DEM companion, written since; draws nothing
    for path in (p for p in files if p not in dems):
        digest.update(str(path.relative_to(raw)).encode())
        digest.update(path.read_bytes())
    assert len(files) - len(dems) == 32
    assert digest.hexdigest() == CLEAN_DIGEST
    assert len(dems) == config.generate.sentinel1_dates
    with rasterio.open(dems[0]) as dem:
        np.testing.assert_array_equal(dem.read(1), config.region("test").synthetic.elevation_m)  # flat at 0


def test_lapse_rate_lowers_lst_with_elevation(tmp_path):
    night = at(196, 2.0)
    _, clean = written(tmp_path / "clean", [night], **only(relief_m=0.0))
    scene, hilly = written(tmp_path / "hilly", [night], **only(relief_m=spanning(600.0), lapse_rate_k_per_km=6.5))
    lst = hilly[night]["LST"]
    anomaly = on_geographic_pixels(scene, scene.terrain.anomaly_m, hilly[night]["transform"], lst.shape)
    difference = lst - clean[night]["LST"]
    ok = np.isfinite(difference) & np.isfinite(anomaly)
    slope_k_per_m = np.polyfit(anomaly[ok], difference[ok], 1)[0]
    assert np.ptp(anomaly[ok]) > 300
    assert -0.0075 < slope_k_per_m < -0.0055
    # the HyP3 DEM companion holds the terrain the LST was cooled by
    (dem_path,) = (tmp_path / "hilly" / "raw" / "sentinel1").glob("*_dem.tif")
    with rasterio.open(dem_path) as dem:
        np.testing.assert_array_equal(dem.read(1), scene.terrain.elevation_m.astype(np.float32))


def test_a_sun_facing_slope_is_warmer_at_midday(tmp_path):
    noon = at(196, 12.0)
    _, clean = written(tmp_path / "clean", [noon], **only())
    scene, hilly = written(tmp_path / "hilly", [noon], **only(relief_m=spanning(800.0), terrain_illumination=True))
    lst = hilly[noon]["LST"]
    towards_north = on_geographic_pixels(scene, scene.terrain.gradient_north, hilly[noon]["transform"], lst.shape)
    difference = lst - clean[noon]["LST"]
    ok = np.isfinite(difference) & np.isfinite(towards_north)
    facing_south = ok & (towards_north > 0.05)  # ground rising to the north faces the southern sun
    facing_north = ok & (towards_north < -0.05)
    assert facing_south.sum() > 20 and facing_north.sum() > 20
    assert difference[facing_south].mean() - difference[facing_north].mean() > 1.0
    assert np.corrcoef(towards_north[ok], difference[ok])[0, 1] > 0.4


def test_undetected_cloud_leaves_cold_pixels_flagged_clear(tmp_path):
    cloudy = at(196, 13.0, cloud_cover=0.2)
    _, clean = written(tmp_path / "clean", [cloudy], **only())
    _, missed = written(tmp_path / "missed", [cloudy], **only(cloud_omission=0.08, cloud_shadow_k=4.0))
    np.testing.assert_array_equal(missed[cloudy]["CloudMask"], clean[cloudy]["CloudMask"])
    flagged_clear = (clean[cloudy]["CloudMask"] == 1) & np.isfinite(clean[cloudy]["LST"])
    colder = clean[cloudy]["LST"] - missed[cloudy]["LST"]
    cold_and_clear = flagged_clear & (colder > 3.0)
    assert 0 < cold_and_clear.sum() < 0.3 * flagged_clear.sum()
    assert colder[flagged_clear].min() > -1e-6  # contamination only ever cools


def test_atmosphere_errors_are_km_scale_and_anticorrelated_between_lst_and_emissivity(tmp_path):
    noon = at(196, 13.0)
    _, clean = written(tmp_path / "clean", [noon], **only())
    _, erring = written(tmp_path / "erring", [noon], **only(lst_residual_k=1.0, emissivity_error=0.015))
    lst_error = erring[noon]["LST"] - clean[noon]["LST"]
    emissivity_error = erring[noon]["EmisWB"] - clean[noon]["EmisWB"]
    ok = np.isfinite(lst_error) & np.isfinite(emissivity_error)
    assert 0.3 < lst_error[ok].std() < 1.5  # one 2.8 km scene samples only part of a 5 km field
    assert np.corrcoef(lst_error[ok], emissivity_error[ok])[0, 1] < -0.9
    neighbours = np.corrcoef(lst_error[:, :-1][ok[:, :-1] & ok[:, 1:]], lst_error[:, 1:][ok[:, :-1] & ok[:, 1:]])
    assert neighbours[0, 1] > 0.95  # smooth, not white


def test_rain_lowers_the_diurnal_range_for_some_days_after_an_event(tmp_path):
    dry = params(tmp_path, **only())
    wet = params(tmp_path, **only(rain_events_per_year=30.0, rain_wetting=0.08, drying_days=4.0))
    site = dry.region("test").synthetic
    clean_scene = SyntheticScene(site, dry.generate, "test")
    rainy_scene = SyntheticScene(site, wet.generate, "test")
    rain = rainy_scene.rain
    in_year = (rain.days > 20) & (rain.days < 340)
    event = rain.days[in_year][np.argmax(rain.wetting[in_year])]
    soil = np.isin(rainy_scene.class_map, [1, 2])  # sand and clay

    def range_drop(days_after: float) -> float:
        doy = int(event + days_after) + 1
        ranges = [
            scene.land_surface(at(doy, 14.0))[0] - scene.land_surface(at(doy, 3.0))[0]
            for scene in (clean_scene, rainy_scene)
        ]
        return float((ranges[0] - ranges[1])[soil].mean())

    assert rainy_scene.rain_wetness(at(int(event) + 2, 3.0).utc) > 0.03
    assert range_drop(1) > 0.5
    assert range_drop(1) > range_drop(12) - 0.05 >= -0.05  # the soil dries again


def test_a_windy_day_shrinks_the_diurnal_range_and_calm_days_widen_it(tmp_path):
    calm = params(tmp_path, **only())
    windy = params(tmp_path, **only(wind_variability=0.6))
    site = calm.region("test").synthetic
    still_scene = SyntheticScene(site, calm.generate, "test")
    wind_scene = SyntheticScene(site, windy.generate, "test")
    soil = ~still_scene.water
    factors, drops = [], []
    for doy in range(150, 240, 6):
        day, night = at(doy, 14.0), at(doy, 3.0)
        factors.append(float(wind_scene.sensible_heat(day)) / 15.0)
        ranges = [scene.land_surface(day)[0] - scene.land_surface(night)[0] for scene in (still_scene, wind_scene)]
        drops.append(float((ranges[0] - ranges[1])[soil].mean()))
    assert still_scene.sensible_heat(at(200, 14.0)) == 15.0
    assert np.std(np.log(factors)) > 0.3, "the day's wind varies from date to date"
    assert np.corrcoef(np.log(factors), drops)[0, 1] > 0.9, "windier days have a smaller diurnal range"
    assert min(drops) < -0.3 < 0.3 < max(drops)


def test_ridges_are_windier_and_cooler_at_midday(tmp_path):
    config = params(tmp_path, **only(relief_m=spanning(600.0), wind_exposure=0.5))
    flat_wind = params(tmp_path, **only(relief_m=spanning(600.0)))
    site = config.region("test").synthetic
    exposed = SyntheticScene(site, config.generate, "test")
    sheltered = SyntheticScene(site, flat_wind.generate, "test")
    noon = at(196, 13.0)
    h_s = exposed.sensible_heat(noon)
    height = exposed.terrain.anomaly_m
    assert h_s.shape == height.shape
    assert h_s.max() == pytest.approx(1.5 * h_s.min())
    cooling = sheltered.land_surface(noon)[0] - exposed.land_surface(noon)[0]
    land = ~exposed.water
    assert np.corrcoef(height[land], cooling[land])[0, 1] > 0.5, "the higher, the more the wind cools at midday"
    assert cooling[land].min() >= -1e-9


def test_a_soil_veneer_gives_rock_the_physics_of_loam_while_the_map_keeps_the_rock(tmp_path):
    config = params(tmp_path, size_px=64, **only(veneer_fraction=0.3))
    clean = params(tmp_path, size_px=64, **only())
    site = config.region("test").synthetic
    covered, bare = SyntheticScene(site, config.generate, "test"), SyntheticScene(site, clean.generate, "test")
    rock = np.isin(covered.class_map, map_labels.ROCK_CLASSES)
    veneer = covered.veneer
    assert veneer is not None and bare.veneer is None
    assert not veneer[~rock].any()
    assert veneer[rock].mean() == pytest.approx(0.3, abs=0.01)
    assert np.array_equal(covered.label_map, covered.class_map), "the map shows the bedrock"
    loam = class_id_of("loam")
    assert (covered.pixels.class_id[veneer] == loam).all()
    assert np.array_equal(covered.pixels.p_dry[~veneer], bare.pixels.p_dry[~veneer])
    # blotches, not salt and pepper: most veneer pixels have veneer neighbours on all four sides
    inner = veneer[1:-1, 1:-1] & veneer[:-2, 1:-1] & veneer[2:, 1:-1] & veneer[1:-1, :-2] & veneer[1:-1, 2:]
    assert inner.sum() > 0.5 * veneer.sum()


def test_shale_beds_in_detritic_units_heat_like_clay_in_stripes(tmp_path):
    config = params(tmp_path, size_px=64, **only(interbedded_fraction=0.3, bed_spacing_m=400.0))
    site = config.region("test").synthetic.model_copy(update={"class_mix": {"detritic": 0.6, "carbonate": 0.4}})
    scene = SyntheticScene(site, config.generate, "test")
    beds, detritic = scene.interbeds, scene.class_map == class_id_of("detritic")
    assert beds is not None and not beds[~detritic].any()
    assert beds[detritic].mean() == pytest.approx(0.3, abs=0.01)
    assert (scene.pixels.class_id[beds] == class_id_of("clay")).all()
    assert np.array_equal(scene.label_map, scene.class_map), "the map keeps one detritic unit"
    # stripes: along the strike the beds run on, across it they alternate every few pixels
    runs = [np.diff(line.astype(np.int8)) != 0 for line in (beds[scene.class_map.shape[0] // 2], beds[:, 10])]
    assert max(int(run.sum()) for run in runs) >= 4


def test_emissivity_rises_with_soil_moisture(tmp_path):
    config = params(tmp_path, **only(emissivity_moisture_slope=0.1))
    scene = SyntheticScene(config.region("test").synthetic, config.generate, "test")
    dry, wet = scene.moisture(200), scene.moisture(200, 0.1)
    land = ~scene.water
    assert (scene.soil_emissivity(wet)[land] >= scene.soil_emissivity(dry)[land]).all()
    assert (scene.soil_emissivity(wet) - scene.soil_emissivity(dry))[land].max() > 0.005


def test_sar_sees_the_terrain_incidence(tmp_path):
    flat = params(tmp_path / "f", **only())
    hilly = params(tmp_path / "h", **only(relief_m=spanning(800.0), sar_terrain_incidence=True))
    for config in (flat, hilly):
        generate_region(
            "test", config.region("test"), config.generate, acquisitions=[], quicklook=False, progress=False
        )
    vv = []
    for name in ("f", "h"):
        with rasterio.open(next((tmp_path / name / "raw" / "sentinel1").glob("*_VV.tif"))) as src:
            vv.append(src.read(1))
    assert not np.array_equal(vv[0], vv[1])


def test_nuisance_scales_every_effect_and_unknown_keys_are_refused(tmp_path):
    def relief(level: float) -> float:
        config = params(tmp_path, **{**only(relief_m=spanning(400.0)), "nuisance": level})
        scene = SyntheticScene(config.region("test").synthetic, config.generate, "test")
        return float(np.ptp(scene.terrain.elevation_m))

    assert relief(1.0) == pytest.approx(400.0, rel=1e-3)
    assert relief(0.5) == pytest.approx(200.0, rel=1e-3)
    with pytest.raises(ConfigError, match="relief_m"):
        params(tmp_path, reliefm=3.0)


def test_label_ceiling_scores_the_truth_against_the_written_map(tmp_path):
    """Perfect classifiers of the geology and of the surface, scored on the map's labels (scene.json reports it)."""
    region = params(tmp_path, size_px=80).region("test")

    def ceiling(**effects):
        return label_ceiling(SyntheticScene(region.synthetic, params(tmp_path, size_px=80, **effects).generate, "test"))

    assert ceiling(**only()) == {"geology": 1.0, "surface": 1.0}
    moved = ceiling(**only(label_displacement_m=100.0, label_generalisation_m=210.0))
    assert 0.5 < moved["geology"] < 0.98 and moved["surface"] == moved["geology"]
    covered = ceiling(**only(veneer_fraction=0.3))
    assert covered["geology"] == 1.0 and covered["surface"] < 0.95
