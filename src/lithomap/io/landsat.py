"""Landsat readers: Collection 2 Level-2 surface temperature and Level-1 thermal/NDVI (SCIENCE.md 3.3).

* :class:`LandsatSTReader` — ``L?0?_L2SP_…_ST_B10.TIF`` (``ST_B6`` for Landsat 4–7): uint16,
  ``K = DN × 0.00341802 + 149``, fill 0; optional ``QA_PIXEL`` (fill, cloud, cirrus, shadow
  rejected) and ``ST_EMIS`` (× 0.0001) companions.
* :class:`LandsatL1ThermalReader` — Level-1 thermal band DN (e.g. ``LT5…_B6.TIF``) →
  radiance with the MTL gains → at-sensor brightness temperature ``K2 / ln(K1/L + 1)``.
  This is brightness temperature, not LST; the cube marks it in ``thermal_product``.
* :class:`LandsatL1OpticalReader` — Level-1 red/NIR (TM/ETM+ B3/B4) → TOA reflectance → NDVI.

The acquisition time comes from the MTL (``DATE_ACQUIRED`` + ``SCENE_CENTER_TIME``); without
an MTL a Level-2 scene is placed at 10:30 local solar time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import ClassVar

import numpy as np
import rasterio
from rasterio.errors import RasterioError
from rasterio.io import DatasetReader
from rasterio.windows import Window

from lithomap.errors import InputDataError
from lithomap.io import formats
from lithomap.io.formats import Encoding
from lithomap.io.grid import RegionGrid
from lithomap.io.rasterfile import band_encoding, decode, read_band
from lithomap.io.sources import Scene, SceneReader
from lithomap.io.vegetation import ndvi
from lithomap.io.warp import source_window, warp_array

ST_EMIS = Encoding("int16", 0.0001, 0.0, -9999, "")
# Mean exoatmospheric solar irradiance of the red and NIR bands (Chander et al. 2009), W m-2 µm-1.
ESUN_RED_NIR = {"LT4": (1554.0, 1033.0), "LT5": (1536.0, 1031.0), "LE7": (1533.0, 1039.0)}


def read_mtl(path: Path) -> dict[str, str]:
    """``KEY = value`` pairs of a Landsat MTL file (NUL padding and quotes stripped)."""
    text = path.read_bytes().replace(b"\x00", b"").decode("ascii", errors="replace")
    pairs: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            pairs[key.strip()] = value.strip().strip('"')
    return pairs


def mtl_time(mtl: dict[str, str]) -> datetime | None:
    """UTC acquisition time from an MTL, or None when it lacks the date."""
    date = mtl.get("DATE_ACQUIRED") or mtl.get("ACQUISITION_DATE")
    if not date:
        return None
    clock = (mtl.get("SCENE_CENTER_TIME") or mtl.get("SCENE_CENTER_SCAN_TIME") or "00:00:00").rstrip("Z")
    hours, minutes, seconds = clock.split(":")
    return datetime.fromisoformat(date) + timedelta(hours=int(hours), minutes=int(minutes), seconds=float(seconds))


def _centre_lon(path: Path) -> float | None:
    try:
        with rasterio.open(path) as dataset:
            if dataset.crs is None:
                return None
            from rasterio.warp import transform

            xs, _ = transform(
                dataset.crs,
                "EPSG:4326",
                [(dataset.bounds.left + dataset.bounds.right) / 2],
                [(dataset.bounds.bottom + dataset.bounds.top) / 2],
            )
            return float(xs[0])
    except RasterioError:
        return None


class LandsatSTReader(SceneReader):
    """Landsat Collection 2 Level-2 surface temperature (``ST_B10`` / ``ST_B6``)."""

    product = "LANDSAT_C2L2_ST"
    kind = "thermal"
    filename_regex = formats.LANDSAT_ST_NAME
    primary_layers = ("LST",)

    @classmethod
    def discover(cls, paths: Sequence[Path]) -> list[Scene]:
        names = {p.name.upper(): p for p in paths}
        scenes = []
        for path in sorted(paths):
            match = cls.filename_regex.match(path.name)
            if not match:
                continue
            prefix = path.name[: match.start("band") - len("_ST_B")]
            files = {"LST": path}
            for layer, suffix in (("QA_PIXEL", formats.LANDSAT_QA_PIXEL_SUFFIX), ("EMIS", "_ST_EMIS.TIF")):
                if (prefix + suffix).upper() in names:
                    files[layer] = names[(prefix + suffix).upper()]
            mtl = names.get((prefix + "_MTL.TXT").upper())
            time = mtl_time(read_mtl(mtl)) if mtl else None
            if time is None:
                lon = _centre_lon(path) or 0.0
                time = datetime.strptime(match["date"], "%Y%m%d") + timedelta(
                    hours=formats.LANDSAT_DEFAULT_SOLAR_HOUR - lon / 15.0
                )
            scenes.append(Scene(cls.product, time, (files,), {"sensor": match["sensor"].upper()}))
        return scenes

    def read(self, grid: RegionGrid, window: Window) -> dict[str, np.ndarray]:
        piece, opened = self.scene.pieces[0], self.datasets[0]
        empty = np.full((int(window.height), int(window.width)), np.nan, np.float32)
        reference = opened["LST"]
        src_window = source_window(reference, grid, window)
        if src_window is None:
            return {"lst": empty, "emissivity": empty.copy()}
        lst = decode(read_band(reference, 1, src_window, piece["LST"]), band_encoding(reference, 1, formats.LANDSAT_ST))
        self.count_valid(piece["LST"], int(np.count_nonzero(np.isfinite(lst))))
        if "QA_PIXEL" in opened:
            qa = read_band(opened["QA_PIXEL"], 1, src_window, piece["QA_PIXEL"]).astype(np.int64)
            reject = sum(1 << bit for bit in formats.LANDSAT_QA_REJECT_BITS)
            lst[(qa & reject) != 0] = np.nan
        emis = np.full_like(lst, np.nan)
        if "EMIS" in opened:
            emis = decode(
                read_band(opened["EMIS"], 1, src_window, piece["EMIS"]), band_encoding(opened["EMIS"], 1, ST_EMIS)
            )
            emis[np.isnan(lst)] = np.nan
        transform, method = reference.window_transform(src_window), self.ingest.continuous_resampling
        return {
            "lst": warp_array(lst, transform, reference.crs, grid, window, method),
            "emissivity": warp_array(emis, transform, reference.crs, grid, window, method),
        }


class _LandsatL1Reader(SceneReader):
    """Level-1 scenes: band files ``<scene>_B<n>.TIF`` beside ``<scene>_MTL.txt``."""

    filename_regex = formats.LANDSAT_L1_NAME
    wanted_bands: ClassVar[str]

    @classmethod
    def discover(cls, paths: Sequence[Path]) -> list[Scene]:
        scenes: dict[str, dict[str, Path]] = {}
        sensors: dict[str, str] = {}
        for path in sorted(paths):
            match = cls.filename_regex.match(path.name)
            if match:
                scene_id = match["scene"].upper()
                scenes.setdefault(scene_id, {})[f"B{int(match['band'])}"] = path
                sensors[scene_id] = (match["sensor"] + match["mission"]).upper()
        found = []
        for scene_id, bands in sorted(scenes.items()):
            sensor = sensors[scene_id]
            layers = cls.layers_of(sensor)
            if sensor not in formats.LANDSAT_THERMAL_K or not all(b in bands for b in layers):
                continue
            any_band = next(iter(bands.values()))
            mtl_path = next((p for p in any_band.parent.iterdir() if p.name.upper() == f"{scene_id}_MTL.TXT"), None)
            if mtl_path is None:
                raise InputDataError(
                    any_band.parent / f"{scene_id}_MTL.txt",
                    "the Level-1 scene has no MTL file (its calibration gains are needed)",
                    "put the scene's _MTL.txt beside its bands",
                )
            mtl = read_mtl(mtl_path)
            year, doy = int(scene_id[9:13]), int(scene_id[13:16])
            time = mtl_time(mtl) or datetime(year, 1, 1) + timedelta(days=doy - 1)
            files = {b: bands[b] for b in layers}
            found.append(Scene(cls.product, time, (files,), {"sensor": sensor, "mtl": mtl, "doy": doy}))
        return found

    @classmethod
    def layers_of(cls, sensor: str) -> tuple[str, ...]:
        raise NotImplementedError

    def radiance(self, band: str, window: Window) -> np.ndarray:
        """At-sensor radiance of one band on a source window (NaN where fill or DN 0)."""
        path, dataset = self.scene.pieces[0][band], self.datasets[0][band]
        raw = read_band(dataset, 1, window, path)
        values = decode(raw, band_encoding(dataset, 1))
        values[raw == 0] = np.nan
        mtl = self.scene.meta["mtl"]
        number = band[1:]
        try:
            gain = float(mtl[f"RADIANCE_MULT_BAND_{number}"])  # type: ignore[index]
            bias = float(mtl[f"RADIANCE_ADD_BAND_{number}"])  # type: ignore[index]
        except KeyError as exc:
            raise InputDataError(path, f"the MTL lacks {exc.args[0]}", "use the MTL delivered with the scene") from exc
        return values * np.float32(gain) + np.float32(bias)


class LandsatL1ThermalReader(_LandsatL1Reader):
    """Landsat 4/5 TM and 7 ETM+ Level-1 thermal band → brightness temperature (K)."""

    product = "LANDSAT_L1_BT"
    kind = "thermal"
    primary_layers = ("B6",)

    @classmethod
    def layers_of(cls, sensor: str) -> tuple[str, ...]:
        return (f"B{formats.LANDSAT_L1_THERMAL_BAND[sensor]}",)

    def read(self, grid: RegionGrid, window: Window) -> dict[str, np.ndarray]:
        band = self.layers_of(str(self.scene.meta["sensor"]))[0]
        dataset = self.datasets[0][band]
        empty = np.full((int(window.height), int(window.width)), np.nan, np.float32)
        src_window = source_window(dataset, grid, window)
        if src_window is None:
            return {"lst": empty, "emissivity": empty.copy()}
        radiance = self.radiance(band, src_window)
        self.count_valid(self.scene.pieces[0][band], int(np.count_nonzero(np.isfinite(radiance))))
        bt = brightness_temperature(radiance, str(self.scene.meta["sensor"]), self.scene.meta["mtl"])  # type: ignore[arg-type]
        return {
            "lst": warp_array(
                bt, dataset.window_transform(src_window), dataset.crs, grid, window, self.ingest.continuous_resampling
            ),
            "emissivity": empty,
        }


def brightness_temperature(radiance: np.ndarray, sensor: str, mtl: dict[str, str]) -> np.ndarray:
    """At-sensor brightness temperature (K) from thermal radiance, with the MTL's or the handbook K1/K2."""
    k1_default, k2_default = formats.LANDSAT_THERMAL_K[sensor]
    band = formats.LANDSAT_L1_THERMAL_BAND[sensor]
    k1 = float(mtl.get(f"K1_CONSTANT_BAND_{band}", k1_default))
    k2 = float(mtl.get(f"K2_CONSTANT_BAND_{band}", k2_default))
    with np.errstate(invalid="ignore", divide="ignore"):
        bt = np.float32(k2) / np.log(np.float32(k1) / radiance + 1.0)
    bt[~np.isfinite(bt) | (radiance <= 0)] = np.nan
    return bt.astype(np.float32)


class LandsatL1OpticalReader(_LandsatL1Reader):
    """Landsat 4/5 TM and 7 ETM+ Level-1 red/NIR → top-of-atmosphere reflectance → NDVI."""

    product = "LANDSAT_L1_TOA"
    kind = "optical"
    primary_layers = ("B3", "B4")

    @classmethod
    def layers_of(cls, sensor: str) -> tuple[str, ...]:
        red, nir = formats.LANDSAT_L1_RED_NIR[sensor]
        return f"B{red}", f"B{nir}"

    def reflectance(self, band: str, window: Window) -> np.ndarray:
        mtl: dict[str, str] = self.scene.meta["mtl"]  # type: ignore[assignment]
        sensor = str(self.scene.meta["sensor"])
        radiance = self.radiance(band, window)
        self.count_valid(self.scene.pieces[0][band], int(np.count_nonzero(np.isfinite(radiance))))
        doy = int(self.scene.meta["doy"])  # type: ignore[arg-type]
        distance = 1.0 - 0.01672 * math.cos(math.radians(0.9856 * (doy - 4)))
        sun_elevation = math.radians(float(mtl.get("SUN_ELEVATION", 45.0)))
        esun = ESUN_RED_NIR[sensor][0 if band == self.layers_of(sensor)[0] else 1]
        return (radiance * np.float32(math.pi * distance**2 / (esun * math.sin(sun_elevation)))).astype(np.float32)

    def read(self, grid: RegionGrid, window: Window) -> dict[str, np.ndarray]:
        red_band, nir_band = self.layers_of(str(self.scene.meta["sensor"]))
        dataset: DatasetReader = self.datasets[0][red_band]
        src_window = source_window(dataset, grid, window)
        if src_window is None:
            return {"ndvi": np.full((int(window.height), int(window.width)), np.nan, np.float32)}
        transform, method = dataset.window_transform(src_window), self.ingest.continuous_resampling
        red = warp_array(self.reflectance(red_band, src_window), transform, dataset.crs, grid, window, method)
        nir = warp_array(self.reflectance(nir_band, src_window), transform, dataset.crs, grid, window, method)
        return {"ndvi": ndvi(red, nir)}
