"""Landsat readers: Collection 2 Level-2 surface temperature and Level-1 thermal/NDVI (SCIENCE.md 3.3).

* :class:`LandsatSTReader` — ``L?0?_L2SP_…_ST_B10.TIF`` (``ST_B6`` for Landsat 4–7): uint16,
  ``K = DN × 0.00341802 + 149``, fill 0; optional ``QA_PIXEL`` (fill, cloud, cirrus, shadow
  rejected) and ``ST_EMIS`` (× 0.0001) companions.
* :class:`LandsatL1ThermalReader` — Level-1 thermal band DN (e.g. ``LT5…_B6.TIF``) →
  radiance with the MTL gains → at-sensor brightness temperature ``K2 / ln(K1/L + 1)``.
  This is brightness temperature, not LST (``thermal_quantity``): ingest and raw validation
  refuse it (:func:`lithomap.io.ingest.not_lst`), naming the Level-2 product to use instead.
* :class:`LandsatL1OpticalReader` — Level-1 red/NIR (TM/ETM+ B3/B4) → TOA reflectance → NDVI.

The acquisition time comes from the MTL (``DATE_ACQUIRED`` + ``SCENE_CENTER_TIME``); without
an MTL a Level-2 scene is placed at 10:30 local solar time.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import ClassVar

import numpy as np
import rasterio
from rasterio.errors import RasterioError
from rasterio.io import DatasetReader
from rasterio.windows import Window

from lithomap.config import IngestParams
from lithomap.errors import InputDataError
from lithomap.io import formats
from lithomap.io.formats import Encoding
from lithomap.io.grid import RegionGrid
from lithomap.io.rasterfile import read_band
from lithomap.io.sources import Scene, SceneReader
from lithomap.io.vegetation import ndvi

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
    variables: ClassVar[Mapping[str, str | None]] = {"lst": "LST", "emissivity": "EMIS"}
    primary_layers = ("LST",)
    encodings: ClassVar[Mapping[str, Encoding]] = {"LST": formats.LANDSAT_ST, "EMIS": ST_EMIS}
    mask_variable = "lst"

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

    def keep_mask(self, piece: Mapping[str, Path], opened: Mapping[str, DatasetReader], window: Window) -> np.ndarray:
        """Drop fill, dilated cloud, cirrus, cloud and cloud shadow (QA_PIXEL bits 0–4)."""
        keep = np.ones((int(window.height), int(window.width)), bool)
        if "QA_PIXEL" in opened:
            qa = read_band(opened["QA_PIXEL"], 1, window, piece["QA_PIXEL"]).astype(np.int64)
            keep &= (qa & sum(1 << bit for bit in formats.LANDSAT_QA_REJECT_BITS)) == 0
        return keep


class _LandsatL1Reader(SceneReader):
    """Level-1 scenes: band files ``<scene>_B<n>.TIF`` beside ``<scene>_MTL.txt``.

    TM (Landsat 4/5) and ETM+ (Landsat 7) share their band numbers: thermal B6, red B3, NIR B4.
    """

    filename_regex = formats.LANDSAT_L1_NAME
    zero_is_nodata = True

    def __init__(self, scene: Scene, ingest: IngestParams) -> None:
        super().__init__(scene, ingest)
        self.sensor = str(scene.meta["sensor"])
        self.mtl: dict[str, str] = scene.meta["mtl"]  # type: ignore[assignment]

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
            layers = cls.primary_layers
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

    def radiance(self, layer: str, values: np.ndarray) -> np.ndarray:
        """At-sensor radiance from the decoded digital numbers of one band, with the MTL gains."""
        number = layer[1:]
        try:
            gain = float(self.mtl[f"RADIANCE_MULT_BAND_{number}"])
            bias = float(self.mtl[f"RADIANCE_ADD_BAND_{number}"])
        except KeyError as exc:
            path = self.scene.pieces[0][layer]
            raise InputDataError(path, f"the MTL lacks {exc.args[0]}", "use the MTL delivered with the scene") from exc
        return values * np.float32(gain) + np.float32(bias)


class LandsatL1ThermalReader(_LandsatL1Reader):
    """Landsat 4/5 TM and 7 ETM+ Level-1 thermal band → brightness temperature (K)."""

    product = "LANDSAT_L1_BT"
    kind = "thermal"
    thermal_quantity = "at-sensor brightness temperature"
    variables: ClassVar[Mapping[str, str | None]] = {"lst": "B6", "emissivity": None}
    primary_layers = ("B6",)

    def to_physical(self, layer: str, values: np.ndarray) -> np.ndarray:
        return brightness_temperature(self.radiance(layer, values), self.sensor, self.mtl)


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
    variables: ClassVar[Mapping[str, str | None]] = {"red": "B3", "nir": "B4"}
    primary_layers = ("B3", "B4")

    def to_physical(self, layer: str, values: np.ndarray) -> np.ndarray:
        """Top-of-atmosphere reflectance of the red or NIR band."""
        radiance = self.radiance(layer, values)
        doy = int(self.scene.meta["doy"])  # type: ignore[call-overload]
        distance = 1.0 - 0.01672 * math.cos(math.radians(0.9856 * (doy - 4)))
        sun_elevation = math.radians(float(self.mtl.get("SUN_ELEVATION", 45.0)))
        esun = ESUN_RED_NIR[self.sensor][0 if layer == self.variables["red"] else 1]
        return (radiance * np.float32(math.pi * distance**2 / (esun * math.sin(sun_elevation)))).astype(np.float32)

    def finish(self, values: dict[str, np.ndarray], grid: RegionGrid, window: Window) -> dict[str, np.ndarray]:
        return {"ndvi": ndvi(values["red"], values["nir"])}
