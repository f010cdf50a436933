"""Generate one synthetic region: landscape → physics → files in real product formats.

The landscape (class map and per-pixel properties) is drawn on a projected "master" grid
at the Sentinel-1 pixel size. Every product samples it on its own grid:

- ECOSTRESS: LST from the thermal-inertia model with moisture, vegetation mixing and
  sensor noise, emissivity, QC and cloud mask, written as AppEEARS exports on a
  geographic grid whose origin shifts by a fraction of a pixel from date to date;
- Sentinel-1: VV/VH from the Oh model with a water-cloud canopy, noise floor and speckle,
  written as HyP3 RTC GeoTIFFs (linear gamma0) on the master grid, each with HyP3's
  ``_dem.tif`` companion (the drawn terrain; the site's flat elevation at ``nuisance: 0``);
- Sentinel-2: B04/B08 reflectances matching the seasonal NDVI, written as L2A band files
  (with the baseline-04.00 offset) at 10 m;
- geology: the class map vectorised into a GeoPackage in ETRS89 with Spanish legend text.

The whole region is written into a temporary folder and moved into place at the end, so
a failed run never leaves a half-written region where a good one stood.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path

import numpy as np
from affine import Affine
from pyproj import Transformer
from rasterio.warp import transform_bounds
from scipy import ndimage

from lithomap.atomic import atomic_directory, write_text
from lithomap.classes import N_CLASSES, WATER, all_classes, class_id_of
from lithomap.config import GenerateParams, RegionParams, SyntheticSite
from lithomap.errors import ConfigError, InputDataError
from lithomap.io import formats
from lithomap.io.grid import RegionGrid
from lithomap.locking import folder_lock
from lithomap.models.metrics import confusion_matrix, scores_from_confusion
from lithomap.progress import progress_bar
from lithomap.scenes import map_labels, product_errors, sar, soil, terrain, thermal, vegetation, weather, writers
from lithomap.scenes.acquisitions import (
    SENTINEL1_UTC_HOUR,
    SENTINEL2_UTC_HOUR,
    Acquisition,
    ecostress_overpasses,
    fixed_time_dates,
    later_overpasses,
)
from lithomap.scenes.fields import gaussian_random_field
from lithomap.scenes.landscape import paint_class_map, scene_grid
from lithomap.scenes.legend_text import LEGEND_TEXT
from lithomap.scenes.map_labels import displace_contacts, generalise
from lithomap.scenes.quicklook import QuickLookData, draw_quicklook

CLOUD_TOP_DEPRESSION_K = 18.0
QC_BEST, QC_NOMINAL, QC_CLOUD = 37568, 37569, 37314  # mandatory-QA bits 00, 01, 10 (real codes)
CLOUD_CLEAR_LAND, CLOUD_CLOUDY_LAND = 1, 3  # ECO2CLD values: bit 0 determined, bit 1 cloud
CLOUD_WATER = 1 << formats.CLOUD_WATER_BIT
WATER_AIR_LAG_DAYS = 30.0
APPEND_SEED_KEY = 1000  # spawn key of the appended-dates streams, apart from Scene's six
REALISM_SEED_KEY = 2000  # spawn key of the realism streams: the clean streams stay as they were
AIR_STREAM, ERROR_STREAM, WIND_STREAM = 1, 2, 3  # per-date realism streams, keyed by the acquisition time
MAX_EMISSIVITY = 0.995
VENEER_CLASS = class_id_of("loam")  # colluvium: fine, mixed clay-carbonate soil over the rock
INTERBEDDED_HOST, SHALE_CLASS = class_id_of("detritic"), class_id_of("clay")  # "areniscas y lutitas" units
PARAMETER_FIELDS = ("p_dry", "p_wet", "albedo", "emissivity", "theta", "roughness")
MANIFEST = "scene.json"  # written by generate only: it marks a folder generate may replace


@dataclass
class GenerationReport:
    """What ``generate_region`` wrote."""

    region: str
    raw_dir: Path
    thermal_dates: int
    day_dates: int
    night_dates: int
    seasons: list[str]
    sentinel1_dates: int
    sentinel2_dates: int
    class_fractions: dict[str, float]
    quicklook: Path | None = None
    seconds: float = 0.0
    files: int = 0
    overpasses: list[dict[str, object]] = field(default_factory=list)


class SyntheticScene:
    """A drawn landscape and the physics that turns it into observations."""

    def __init__(self, site: SyntheticSite, settings: GenerateParams, site_name: str) -> None:
        self.site = site
        self.settings = settings
        self.site_name = site_name
        side_m = settings.size_px * settings.thermal_resolution_m
        self.grid = scene_grid(site.centre_lon, site.centre_lat, site.utm_epsg, side_m, settings.sentinel1_resolution_m)
        seeds = np.random.SeedSequence(site.seed).spawn(6)
        self.rng_landscape, self.rng_fields, self.rng_cover, self.rng_ecostress, self.rng_s1, self.rng_s2 = (
            np.random.default_rng(s) for s in seeds
        )
        shape = (self.grid.height, self.grid.width)
        self.class_map = paint_class_map(self.grid, site.class_mix, self.rng_landscape)
        length_px = settings.texture_length_m / self.grid.resolution
        fields = {name: gaussian_random_field(shape, length_px, self.rng_fields) for name in PARAMETER_FIELDS}
        patches = gaussian_random_field(shape, 2 * length_px, self.rng_cover)
        self.cover = vegetation.draw_cover(self.class_map, site_name, self.rng_cover, patches)
        self.ndvi_noise = gaussian_random_field(shape, length_px / 2, self.rng_cover)
        self.water = self.class_map == WATER
        self.thermal_site = thermal.Site(
            lat_deg=site.centre_lat,
            lon_deg=site.centre_lon,
            mean_air_temperature_c=site.mean_air_temperature_c,
            annual_air_amplitude_k=site.annual_air_amplitude_k,
        )
        self.realism = settings.realism
        self.nuisance = settings.realism.nuisance
        self.terrain: terrain.Terrain | None = None
        self.rain: weather.RainSeries | None = None
        self.label_map = self.class_map
        self.veneer: np.ndarray | None = None
        self.interbeds: np.ndarray | None = None
        self.surface_map = self.class_map
        self._draw_realism()
        self.pixels = soil.draw_pixel_parameters(self.surface_map, fields)

    def _draw_realism(self) -> None:
        """Terrain, rain and the generalised geology map, from streams of their own."""
        level, realism = self.nuisance, self.realism
        if level <= 0:
            return
        rng_terrain, rng_rain, rng_labels, rng_veneer = (
            np.random.default_rng(s)
            for s in np.random.SeedSequence(self.site.seed, spawn_key=(REALISM_SEED_KEY,)).spawn(4)
        )
        if realism.relief_m > 0:
            side_m = self.settings.size_px * self.settings.thermal_resolution_m
            relief = terrain.scene_relief(level * realism.relief_m, side_m)
            self.terrain = terrain.draw_terrain(
                self.class_map, self.grid.resolution, self.site.elevation_m, relief, rng_terrain
            )
        if realism.rain_events_per_year > 0 and realism.rain_wetting > 0:
            self.rain = weather.draw_rain(
                self.settings.year,
                realism.rain_events_per_year,
                level * realism.rain_wetting,
                realism.drying_days,
                rng_rain,
            )
        window = round(level * realism.label_generalisation_m / self.grid.resolution)
        displaced = displace_contacts(
            self.class_map,
            level * realism.label_displacement_m / self.grid.resolution,
            self.grid.resolution,
            rng_labels,
        )
        self.label_map = generalise(displaced, window + 1 - window % 2)
        self._draw_surface(rng_veneer)

    def _draw_surface(self, rng: np.random.Generator) -> None:
        """Set ``surface_map``, the class whose physics each pixel has: veneers on rock, shale beds in detritic."""
        level, realism = self.nuisance, self.realism
        surface = self.class_map
        veneer_share = min(level * realism.veneer_fraction, 0.9)
        if veneer_share > 0:
            length_px = realism.veneer_length_m / self.grid.resolution
            self.veneer = map_labels.veneer_mask(self.class_map, veneer_share, length_px, rng)
            surface = np.where(self.veneer, VENEER_CLASS, surface)
        shale_share = min(level * realism.interbedded_fraction, 0.9)
        if shale_share > 0:
            spacing_px = realism.bed_spacing_m / self.grid.resolution
            self.interbeds = map_labels.interbed_mask(self.class_map, INTERBEDDED_HOST, shale_share, spacing_px, rng)
            surface = np.where(self.interbeds, SHALE_CLASS, surface)
        self.surface_map = surface

    def elevation_m(self) -> np.ndarray:
        """The DEM the products are terrain-corrected with: the drawn terrain, or the site's flat elevation."""
        if self.terrain is not None:
            return self.terrain.elevation_m
        return np.full(self.class_map.shape, self.site.elevation_m, np.float32)

    def date_rng(self, stream: int, utc: datetime) -> np.random.Generator:
        """A realism random stream of one date: the same date draws the same, whatever its index."""
        key = (REALISM_SEED_KEY, stream, int(utc.timestamp()))
        return np.random.default_rng(np.random.SeedSequence(self.site.seed, spawn_key=key))

    def rain_wetness(self, utc: datetime) -> float:
        """Moisture left by recent rain (m³ m-3); 0 without the rain effect."""
        return self.rain.wetness(utc) if self.rain is not None else 0.0

    def soil_emissivity(self, theta: np.ndarray) -> np.ndarray:
        """Soil emissivity, rising with moisture when that effect is on (Mira et al. 2007)."""
        slope = self.nuisance * self.realism.emissivity_moisture_slope
        if slope <= 0:
            return self.pixels.emissivity
        wetter = self.pixels.emissivity + slope * (theta - soil.MIN_MOISTURE)
        return np.where(self.water, self.pixels.emissivity, np.minimum(wetter, MAX_EMISSIVITY))

    def air_offset(self, acquisition: Acquisition) -> np.ndarray | float:
        """Air-temperature offset of each pixel (K): lapse rate plus the date's anomaly field."""
        offset: np.ndarray | float = 0.0
        if self.terrain is not None and self.realism.lapse_rate_k_per_km > 0:
            offset = terrain.lapse_offset(self.terrain, self.realism.lapse_rate_k_per_km)
        std = self.nuisance * self.realism.air_temperature_k
        if std > 0:
            rng = self.date_rng(AIR_STREAM, acquisition.utc)
            offset = offset + weather.air_temperature_anomaly(self.class_map.shape, self.grid.resolution, std, rng)
        return offset

    def sensible_heat(self, acquisition: Acquisition) -> np.ndarray | float:
        """h_s of the overpass day (W m-2 K-1): that day's wind, faster on high ground.

        The day's mean wind speed is log-normal around the climatological one (mean kept),
        and h_s = ρ_a c_p C_H U follows it, down to the free-convection floor. A windy day
        couples the surface to the air: smaller diurnal range, and the same rock looks
        different from one date to the next. Without the wind effect: the constant h_s.
        """
        sigma = self.nuisance * self.realism.wind_variability
        speed_up = self.nuisance * self.realism.wind_exposure
        factor: np.ndarray | float = 1.0
        if sigma > 0:
            rng = self.date_rng(WIND_STREAM, acquisition.utc)
            factor = float(np.exp(sigma * rng.standard_normal() - 0.5 * sigma**2))
        if speed_up > 0 and self.terrain is not None:
            factor = factor * terrain.wind_exposure(self.terrain, speed_up)
        if np.isscalar(factor) and factor == 1.0:
            return thermal.SENSIBLE_HEAT_COEFFICIENT
        return np.maximum(thermal.SENSIBLE_HEAT_COEFFICIENT * np.asarray(factor), thermal.FREE_CONVECTION_COEFFICIENT)

    def ndvi(self, doy: int) -> np.ndarray:
        return vegetation.ndvi(self.cover, doy, self.ndvi_noise)

    def moisture(self, doy: int, wetness: float = 0.0) -> np.ndarray:
        return soil.moisture(self.pixels, doy, wetness)

    def land_surface(self, acquisition: Acquisition, wetness: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """LST (K) and broadband emissivity on the master grid at one overpass."""
        doy, hour = acquisition.doy, acquisition.solar_hour
        theta = self.moisture(doy, wetness + self.rain_wetness(acquisition.utc))
        inertia = soil.thermal_inertia(self.pixels, theta)
        beta = soil.pixel_evaporation_efficiency(self.pixels, theta)
        emissivity = self.soil_emissivity(theta)
        sensible = self.sensible_heat(acquisition)
        forcing = replace(
            thermal.daily_forcing(self.thermal_site, doy, cloudiness=acquisition.cloud_cover), sensible=sensible
        )
        sunshine = self._slope_sunshine(forcing, doy)
        t_soil = thermal.surface_temperature(
            forcing, self.pixels.albedo, emissivity, beta, inertia, hour, sunshine=sunshine
        )
        if self.water.any():
            w = self.water
            lagged = replace(
                thermal.daily_forcing(
                    self.thermal_site, doy, cloudiness=acquisition.cloud_cover, air_lag_days=WATER_AIR_LAG_DAYS
                ),
                sensible=sensible[w] if isinstance(sensible, np.ndarray) and sensible.ndim else sensible,
            )
            t_soil[w] = thermal.surface_temperature(
                lagged, self.pixels.albedo[w], self.pixels.emissivity[w], beta[w], inertia[w], hour
            )
        ndvi = self.ndvi(doy)
        fraction = np.where(self.water, 0.0, vegetation.cover_fraction(ndvi))
        beta_v = vegetation.canopy_beta(doy)
        t_canopy = thermal.canopy_temperature(forcing, hour, beta_v=beta_v, sunshine=sunshine)
        offset = self.air_offset(acquisition)
        if not np.isscalar(offset) or offset != 0.0:
            land = ~self.water
            t_soil = np.where(land, t_soil + offset, t_soil)
            t_canopy = t_canopy + offset
        return thermal.mix_temperatures(t_soil, t_canopy, fraction, emissivity)

    def _slope_sunshine(self, forcing: thermal.DailyForcing, doy: int) -> thermal.Sunshine | None:
        """Series and weights of the extra sunshine on slopes, or None (flat or effect off)."""
        if self.terrain is None or not self.realism.terrain_illumination:
            return None
        sun = thermal.sun_vector(self.thermal_site.lat_deg, doy, forcing.hours)
        return terrain.illumination_components(self.terrain, forcing.shortwave, sun)


def generate_region(
    name: str,
    region: RegionParams,
    settings: GenerateParams,
    *,
    acquisitions: Sequence[Acquisition] | None = None,
    quicklook: bool = True,
    progress: bool = True,
) -> GenerationReport:
    """Generate the raw files of one synthetic region into ``region.raw_dir``.

    Args:
        name: region name (also picks the land-cover priors of the site).
        region: the region's params; its ``synthetic`` section must be set.
        settings: generator settings shared by all regions.
        acquisitions: ECOSTRESS overpasses to simulate instead of the drawn schedule
            (tests use this to look at chosen times of day).
        quicklook: also draw the quick-look PNG under ``settings.quicklook_dir``.
        progress: show a progress bar.

    Raises:
        ConfigError: the region has no ``synthetic`` section.
    """
    if region.synthetic is None:
        raise ConfigError(
            f"region {name!r} has no 'synthetic' section in params.yaml, so it cannot be generated; "
            "add one (see the default regions) or ingest real data with `lithomap ingest`"
        )
    started = time.perf_counter()
    scene = SyntheticScene(region.synthetic, settings, name)
    site = region.synthetic
    overpasses = (
        list(acquisitions)
        if acquisitions is not None
        else ecostress_overpasses(
            settings.year, settings.thermal_acquisitions, settings.cloudy_fraction, site.centre_lon, scene.rng_ecostress
        )
    )
    s1_dates = fixed_time_dates(
        settings.year, settings.sentinel1_dates, SENTINEL1_UTC_HOUR, site.centre_lon, scene.rng_s1
    )
    s2_dates = fixed_time_dates(
        settings.year, settings.sentinel2_dates, SENTINEL2_UTC_HOUR, site.centre_lon, scene.rng_s2
    )

    final_dir = Path(region.raw_dir)
    check_replaceable(name, final_dir)
    looks = QuickLookData(
        elevation_m=scene.terrain.elevation_m if scene.terrain is not None else None,
        label_map=scene.label_map if scene.label_map is not scene.class_map else None,
    )
    total_steps = len(overpasses) + len(s1_dates) + len(s2_dates) + 1
    with folder_lock(final_dir, "generate"), atomic_directory(final_dir) as partial:
        check_replaceable(name, final_dir)  # again, now that no other run can write it
        with progress_bar(f"generate {name}", total_steps, enabled=progress) as advance:
            writers.write_geology(
                partial / "geology" / "mapa_geologico.gpkg",
                scene.label_map,
                scene.grid.transform,
                scene.grid.crs,
                LEGEND_TEXT,
                scene.rng_landscape,
            )
            advance()
            for index, acquisition in enumerate(overpasses):
                written, class_means = _write_overpass(scene, acquisition, index, partial / "ecostress")
                looks.lst.append(written)
                looks.class_mean_lst.append(class_means)
                advance()
            for acquisition in s1_dates:
                looks.vv_db = _write_sentinel1(scene, acquisition, partial / "sentinel1")
                advance()
            for acquisition in s2_dates:
                looks.ndvi[acquisition.doy] = _write_sentinel2(scene, acquisition, partial / "sentinel2")
                advance()
        report = _report(name, final_dir, scene, overpasses, s1_dates, s2_dates, partial)
        write_text(partial / MANIFEST, json.dumps(_manifest(report, scene), indent=2, default=str))
    if quicklook:
        report.quicklook = draw_quicklook(
            name, scene.class_map, overpasses, looks, settings.quicklook_dir / f"{name}.png"
        )
    report.seconds = time.perf_counter() - started
    return report


def check_replaceable(name: str, raw_dir: Path) -> None:
    """Refuse a raw folder that generate must not replace: the working folder, or files it did not write.

    Generate replaces its ``raw_dir`` whole. It may replace a missing or empty folder, or one
    whose ``scene.json`` it wrote for this region; anything else may be real data.

    Raises:
        ConfigError: ``raw_dir`` is the working folder, one of its parents, or a file.
        InputDataError: the folder holds files generate did not write.
    """
    resolved = raw_dir.resolve()
    here = Path.cwd().resolve()
    if resolved == here or resolved in here.parents:
        raise ConfigError(
            f"regions.{name}.raw_dir is {str(raw_dir)!r}, which is the working folder {here} or one above it; "
            f"`lithomap generate` replaces its raw_dir whole, so give the region a folder of its own "
            f"(e.g. data/raw/{name})"
        )
    if resolved.exists() and not resolved.is_dir():
        raise ConfigError(f"regions.{name}.raw_dir {str(raw_dir)!r} is a file; point it at a folder")
    if not resolved.is_dir() or not any(resolved.iterdir()) or _generated_for(resolved / MANIFEST, name):
        return
    raise InputDataError(
        raw_dir,
        f"the folder holds files that `lithomap generate` did not write for region {name!r} (no {MANIFEST} of "
        "its own), and generate replaces the whole folder",
        f"point regions.{name}.raw_dir at a new folder (e.g. data/raw/{name}), or move these files elsewhere first",
    )


def _generated_for(manifest: Path, name: str) -> bool:
    """Whether ``manifest`` is the scene.json generate wrote for region ``name``."""
    try:
        written = json.loads(manifest.read_text(encoding="utf-8"))
    except (FileNotFoundError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(written, dict) and written.get("region") == name and "site" in written


def append_acquisitions(
    name: str, region: RegionParams, settings: GenerateParams, count: int, *, progress: bool = True
) -> GenerationReport:
    """Add ``count`` new ECOSTRESS overpasses after a generated region's last one.

    The scene is drawn again from its seed (same landscape and physics); the new dates
    continue the overpass schedule (``later_overpasses``) with random streams spawned from
    the same seed and keyed by the number of overpasses already there, so appending is
    reproducible. Existing files are kept byte for byte; ``scene.json`` lists every
    overpass and each append (``appended``). The region folder is replaced atomically.

    Raises:
        ConfigError: the region has no ``synthetic`` section or ``count`` < 1.
        InputDataError: the region was not generated yet (no ``scene.json``).
    """
    if region.synthetic is None or count < 1:
        raise ConfigError(
            f"region {name!r}: --append-dates needs a synthetic region and a count of at least 1 (got {count})"
        )
    started = time.perf_counter()
    final_dir = Path(region.raw_dir)
    manifest_path = final_dir / MANIFEST
    if not manifest_path.is_file():
        raise InputDataError(
            manifest_path, "missing: the region was never generated", f"run `lithomap generate -r {name}`"
        )
    manifest = json.loads(manifest_path.read_text())
    existing = [
        Acquisition(datetime.fromisoformat(o["utc"]), float(o["solar_hour"]), float(o["cloud_cover"]))
        for o in manifest["overpasses"]
    ]
    site = region.synthetic
    scene = SyntheticScene(site, settings, name)
    scene.rng_ecostress = np.random.default_rng(
        np.random.SeedSequence(site.seed, spawn_key=(APPEND_SEED_KEY, len(existing)))
    )
    spacing = 365.0 / max(settings.thermal_acquisitions, 1)
    new = later_overpasses(existing[-1], count, spacing, settings.cloudy_fraction, site.centre_lon, scene.rng_ecostress)
    with folder_lock(final_dir, "generate"), atomic_directory(final_dir) as partial:
        shutil.copytree(final_dir, partial)
        with progress_bar(f"append {name}", len(new), enabled=progress) as advance:
            for index, acquisition in enumerate(new, start=len(existing)):
                _write_overpass(scene, acquisition, index, partial / "ecostress")
                advance()
        overpasses = existing + new
        report = _report(name, final_dir, scene, overpasses, [], [], partial)
        report.sentinel1_dates = int(manifest["sentinel1_dates"])
        report.sentinel2_dates = int(manifest["sentinel2_dates"])
        updated = _manifest(report, scene)
        updated["appended"] = [
            *manifest.get("appended", []),
            {"dates": len(new), "after": existing[-1].utc.isoformat()},
        ]
        write_text(partial / MANIFEST, json.dumps(updated, indent=2, default=str))
    report.seconds = time.perf_counter() - started
    return report


def _write_overpass(
    scene: SyntheticScene, acquisition: Acquisition, index: int, folder: Path
) -> tuple[np.ndarray, np.ndarray]:
    """Simulate and write one ECOSTRESS overpass.

    Returns:
        the LST as written (NaN where fill or cloud) and the noise-free class-mean LST.
    """
    rng = scene.rng_ecostress
    wetness = float(rng.exponential(0.02)) if acquisition.doy < 120 or acquisition.doy > 290 else 0.0
    lst, emissivity = scene.land_surface(acquisition, wetness)
    transform, shape, rows, cols = _geographic_grid(scene.grid, rng)
    inside = (rows > -0.5) & (rows < scene.grid.height - 0.5) & (cols > -0.5) & (cols < scene.grid.width - 0.5)
    sample = _sampler(rows, cols, inside)
    lst_obs = sample(ndimage.gaussian_filter(lst, 1.0)) + rng.normal(0, scene.settings.lst_noise_k, shape)
    emis_obs = sample(ndimage.gaussian_filter(emissivity, 1.0)) + rng.normal(0, 0.005, shape)
    water = sample(scene.water.astype(np.float32), order=0) > 0.5
    cloud_field = _cloud_field(shape, acquisition.cloud_cover, rng)
    cloudy = _cloud_patches_of(cloud_field, acquisition.cloud_cover, shape) & inside
    air = thermal.daily_forcing(scene.thermal_site, acquisition.doy).air_temperature.mean()
    if scene.nuisance > 0:
        lst_obs, emis_obs = _product_errors(scene, acquisition, lst_obs, emis_obs, cloud_field, cloudy)
    lst_obs[cloudy] = air - CLOUD_TOP_DEPRESSION_K + rng.normal(0, 2.0, int(cloudy.sum()))
    qc = np.where(rng.random(shape) < 0.1, QC_NOMINAL, QC_BEST).astype(np.float64)
    qc[cloudy] = QC_CLOUD
    cloud_mask = np.where(cloudy, CLOUD_CLOUDY_LAND, CLOUD_CLEAR_LAND) + np.where(water, CLOUD_WATER, 0)
    layers = {
        "LST": lst_obs,
        "LST_err": np.full(shape, 1.0) + 0.5 * rng.random(shape),
        "EmisWB": np.clip(emis_obs, 0.5, 0.998),
        "QC": qc,
        "CloudMask": cloud_mask.astype(np.float64),
    }
    for values in layers.values():
        values[~inside] = np.nan
    writers.write_appeears_overpass(
        folder, acquisition.utc, layers, transform, orbit=20000 + 7 * index, scene=index % 40
    )
    return np.where(cloudy, np.nan, layers["LST"]), _class_means(scene.class_map, lst)


def _class_means(class_map: np.ndarray, values: np.ndarray) -> np.ndarray:
    counts = np.bincount(class_map.ravel(), minlength=len(all_classes()))
    sums = np.bincount(class_map.ravel(), weights=values.ravel(), minlength=len(all_classes()))
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def _geographic_grid(
    grid: RegionGrid, rng: np.random.Generator
) -> tuple[Affine, tuple[int, int], np.ndarray, np.ndarray]:
    """An AppEEARS-like EPSG:4326 grid over the scene, shifted by a random fraction of a pixel.

    Returns the transform, the shape, and the fractional master-grid row and column of
    every geographic pixel centre.
    """
    step = formats.APPEEARS_PIXEL_DEG
    west, south, east, north = transform_bounds(grid.crs, "EPSG:4326", *grid.bounds, densify_pts=21)
    shift_x, shift_y = rng.uniform(0, step, size=2)
    west = np.floor(west / step) * step + shift_x - step
    north = np.ceil(north / step) * step + shift_y
    width = int(np.ceil((east - west) / step))
    height = int(np.ceil((north - south) / step))
    transform = Affine(step, 0, west, 0, -step, north)
    lon, lat = np.meshgrid(west + (np.arange(width) + 0.5) * step, north - (np.arange(height) + 0.5) * step)
    x, y = Transformer.from_crs("EPSG:4326", grid.crs, always_xy=True).transform(lon, lat)
    cols = (x - grid.transform.c) / grid.resolution - 0.5
    rows = (grid.transform.f - y) / grid.resolution - 0.5
    return transform, (height, width), rows, cols


def _sampler(rows: np.ndarray, cols: np.ndarray, inside: np.ndarray):
    """A function sampling a master-grid array at the given fractional positions (NaN outside)."""
    coords = np.stack([rows, cols])

    def sample(values: np.ndarray, order: int = 1) -> np.ndarray:
        out = ndimage.map_coordinates(values.astype(np.float64), coords, order=order, mode="nearest")
        out[~inside] = np.nan
        return out

    return sample


def _product_errors(
    scene: SyntheticScene,
    acquisition: Acquisition,
    lst: np.ndarray,
    emissivity: np.ndarray,
    cloud_field: np.ndarray | None,
    cloudy: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Add the correlated retrieval errors and the clouds the mask misses (see product_errors)."""
    level, realism = scene.nuisance, scene.realism
    rng = scene.date_rng(ERROR_STREAM, acquisition.utc)
    length_px = realism.lst_residual_length_m / scene.settings.thermal_resolution_m
    atmosphere = product_errors.correlated_residual(lst.shape, length_px, 1.0, rng)
    lst = lst + level * realism.lst_residual_k * atmosphere
    emissivity = emissivity - level * realism.emissivity_error * atmosphere
    omission = min(level * realism.cloud_omission, 0.9)
    east, north, up = thermal.sun_vector(scene.thermal_site.lat_deg, acquisition.doy, np.array(acquisition.solar_hour))
    sun = (float(east), float(north), float(up))
    missed = product_errors.cloud_contamination(
        cloud_field, acquisition.cloud_cover, omission, sun, scene.settings.thermal_resolution_m
    )
    if missed.edge_fraction.size:
        cloud_top = thermal.daily_forcing(scene.thermal_site, acquisition.doy).air_temperature.mean()
        cloud_top -= CLOUD_TOP_DEPRESSION_K
        lst = lst + missed.edge_fraction * (cloud_top - lst)
        lst = np.where(missed.shadow & ~cloudy, lst - level * realism.cloud_shadow_k, lst)
    return lst, emissivity


def _cloud_field(shape: tuple[int, int], cover: float, rng: np.random.Generator) -> np.ndarray | None:
    """The smooth field cloud patches are cut from (None when the cover is 0)."""
    if cover <= 0:
        return None
    return gaussian_random_field(shape, 12.0, rng)


def _cloud_patches_of(field: np.ndarray | None, cover: float, shape: tuple[int, int]) -> np.ndarray:
    if field is None:
        return np.zeros(shape, dtype=bool)
    return field > np.quantile(field, 1.0 - cover)


def _cloud_patches(shape: tuple[int, int], cover: float, rng: np.random.Generator) -> np.ndarray:
    return _cloud_patches_of(_cloud_field(shape, cover, rng), cover, shape)


def _write_sentinel1(scene: SyntheticScene, acquisition: Acquisition, folder: Path) -> np.ndarray:
    """Simulate and write one Sentinel-1 RTC pair; returns VV in dB."""
    rng = scene.rng_s1
    incidence = np.broadcast_to(np.linspace(38.5, 39.5, scene.grid.width)[None, :], scene.class_map.shape)
    if scene.terrain is not None and scene.realism.sar_terrain_incidence:
        incidence = terrain.sar_local_incidence(scene.terrain, incidence)
    vv, vh = sar.backscatter(
        scene.class_map,
        scene.moisture(acquisition.doy, scene.rain_wetness(acquisition.utc)),
        scene.pixels.roughness_cm,
        scene.ndvi(acquisition.doy),
        incidence,
        rng,
        enl=scene.settings.sentinel1_enl,
    )
    crc = f"{int(rng.integers(0, 16**4)):04X}"
    writers.write_hyp3_rtc(
        folder, acquisition.utc, vv, vh, scene.grid.transform, scene.grid.crs, crc, dem=scene.elevation_m()
    )
    return 10 * np.log10(vv)


def _write_sentinel2(scene: SyntheticScene, acquisition: Acquisition, folder: Path) -> np.ndarray:
    """Simulate and write one Sentinel-2 L2A date at 10 m; returns the NDVI on the master grid."""
    rng = scene.rng_s2
    fine = scene.grid.resampled(scene.settings.sentinel2_resolution_m)
    ratio = scene.grid.resolution / fine.resolution
    rows, cols = np.meshgrid(
        (np.arange(fine.height) + 0.5) / ratio - 0.5, (np.arange(fine.width) + 0.5) / ratio - 0.5, indexing="ij"
    )
    upsample = _sampler(rows, cols, np.ones(rows.shape, dtype=bool))
    ndvi_master = scene.ndvi(acquisition.doy)
    ndvi = np.clip(upsample(ndvi_master) + rng.normal(0, 0.02, rows.shape), -1, 1)
    water = upsample(scene.water.astype(np.float32), order=0) > 0.5
    red, nir = vegetation.reflectances(ndvi, upsample(scene.pixels.albedo))
    cloudy = _cloud_patches(rows.shape, float(rng.uniform(0, 0.08)), rng)
    red[cloudy], nir[cloudy] = 0.45, 0.5
    scl = np.where(ndvi > 0.35, 4, 5)
    scl[water] = 6
    scl[cloudy] = 9
    writers.write_sentinel2_l2a(
        folder, acquisition.utc, scene.site.mgrs_tile, red, nir, scl[::2, ::2], fine.transform, fine.crs
    )
    return ndvi_master


def _report(
    name: str,
    final_dir: Path,
    scene: SyntheticScene,
    overpasses: Sequence[Acquisition],
    s1_dates: Sequence[Acquisition],
    s2_dates: Sequence[Acquisition],
    partial: Path,
) -> GenerationReport:
    counts = np.bincount(scene.class_map.ravel(), minlength=len(all_classes())) / scene.class_map.size
    seasons = sorted({a.season for a in overpasses})
    return GenerationReport(
        region=name,
        raw_dir=final_dir,
        thermal_dates=len(overpasses),
        day_dates=sum(a.is_day(scene.site.centre_lat, scene.site.centre_lon) for a in overpasses),
        night_dates=sum(not a.is_day(scene.site.centre_lat, scene.site.centre_lon) for a in overpasses),
        seasons=seasons,
        sentinel1_dates=len(s1_dates),
        sentinel2_dates=len(s2_dates),
        class_fractions={c.name: round(float(counts[c.id]), 4) for c in all_classes() if counts[c.id] > 0},
        files=sum(1 for p in partial.rglob("*") if p.is_file()),
        overpasses=[
            {"utc": a.utc.isoformat(), "solar_hour": round(a.solar_hour, 3), "cloud_cover": round(a.cloud_cover, 3)}
            for a in overpasses
        ],
    )


def _manifest(report: GenerationReport, scene: SyntheticScene) -> dict[str, object]:
    data = asdict(report)
    data.pop("quicklook")
    data.pop("seconds")
    data["site"] = scene.site.model_dump()
    data["settings"] = scene.settings.model_dump(mode="json")
    data["landscape_grid"] = {
        "crs": scene.grid.crs,
        "transform": list(scene.grid.transform)[:6],
        "width": scene.grid.width,
        "height": scene.grid.height,
    }
    if scene.nuisance > 0:
        data["realism"] = _realism_summary(scene)
    return data


def label_ceiling(scene: SyntheticScene) -> dict[str, float]:
    """Macro-F1 against the written map's labels of two perfect classifiers (master grid, background ignored).

    ``geology``: the true class map — a model cannot expect to beat it, since the map's
    contacts were displaced at random (its small units are left out by a majority filter).
    ``surface``: the class whose physics each pixel has (veneers read as loam, shale beds as
    clay) — a perfect per-pixel classifier of the observations; a model with spatial
    context can do better than it.
    """
    reference = scene.label_map.ravel()
    return {
        name: round(
            float(scores_from_confusion(confusion_matrix(reference, predicted.ravel(), N_CLASSES))["macro_f1"]), 3
        )
        for name, predicted in (("geology", scene.class_map), ("surface", scene.surface_map))
    }


def _realism_summary(scene: SyntheticScene) -> dict[str, object]:
    """What the realism effects drew: DEM statistics, rain events, label generalisation and its ceiling."""
    summary: dict[str, object] = {
        "nuisance": scene.nuisance,
        "label_pixels_changed": round(float(np.mean(scene.label_map != scene.class_map)), 4),
        "label_ceiling_macro_f1": label_ceiling(scene),
        "veneer_pixels": round(float(np.mean(scene.veneer)), 4) if scene.veneer is not None else 0.0,
        "shale_bed_pixels": round(float(np.mean(scene.interbeds)), 4) if scene.interbeds is not None else 0.0,
    }
    if scene.terrain is not None:
        z = scene.terrain.elevation_m
        summary["elevation_m"] = {
            "min": round(float(z.min()), 1),
            "mean": round(float(z.mean()), 1),
            "max": round(float(z.max()), 1),
        }
        summary["slope_deg_p95"] = round(float(np.percentile(scene.terrain.slope_deg, 95)), 1)
    if scene.rain is not None:
        summary["rain_events_in_year"] = int(np.sum(scene.rain.days < 365))
    return summary
