"""Sentinel-1 backscatter readers (SCIENCE.md 3.4): VV and VH put on the grid in linear power.

* :class:`Hyp3RtcReader` — ASF HyP3 RTC GeoTIFFs ``S1A_IW_<time>_DVP_RTC30_gpuned_<CRC>_VV.tif``
  (float32 γ⁰, linear power by default, nodata 0).
* :class:`Sen1Floods11S1Reader` — Sen1Floods11 ``<Country>_<chip>_S1Hand.tif`` chips (float32
  σ⁰ in dB; band 1 VV, band 2 VH, or as the band descriptions say; nodata NaN; undated).

Units are detected per file: an integer data type is raw DN and refused; float values whose
valid median is below zero are dB; otherwise linear power, or amplitude when the HyP3 name
says so. Everything is converted to linear power before it is averaged onto the grid; the
cube stores the time mean in dB.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
from rasterio.io import DatasetReader

from lithomap.errors import InputDataError
from lithomap.io import formats
from lithomap.io.rasterfile import band_encoding, decode, read_decimated
from lithomap.io.sources import Scene, SceneReader

Units = Literal["db", "power", "amplitude"]
POLARISATIONS = ("VV", "VH")


def detect_units(dataset: DatasetReader, band: int, path: Path, named: Units | None = None) -> Units:
    """Decide whether a SAR band holds dB, linear power or amplitude (SCIENCE.md 3.4 rule).

    Args:
        dataset: the open file.
        band: 1-based band index.
        path: the file, for errors.
        named: the units a product name states (HyP3 scale letter), if any.

    Raises:
        InputDataError: the band is integer (raw DN), or holds no valid value.
    """
    dtype = np.dtype(dataset.dtypes[band - 1])
    if not np.issubdtype(dtype, np.floating):
        raise InputDataError(
            path,
            f"Sentinel-1 band {band} is {dtype} digital numbers (uncalibrated GRD amplitude), which lithomap does not "
            "calibrate",
            "calibrate and terrain-correct it to σ⁰/γ⁰ (e.g. ASF HyP3 RTC, SNAP, or a GEE COPERNICUS/S1_GRD export) "
            "and put the float GeoTIFF here",
        )
    values = decode(read_decimated(dataset, band, path), band_encoding(dataset, band))
    valid = values[np.isfinite(values)]
    if valid.size == 0:
        raise InputDataError(
            path, f"Sentinel-1 band {band} holds only no-data values", "remove the file or export the scene again"
        )
    if named == "db" or float(np.median(valid)) < 0:
        return "db"
    return named or "power"


def to_power(values: np.ndarray, units: Units) -> np.ndarray:
    """Linear power from dB, power or amplitude; non-positive power becomes NaN."""
    if units == "db":
        power = np.power(np.float32(10.0), values / np.float32(10.0), dtype=np.float32)
    elif units == "amplitude":
        power = values * values
    else:
        power = values
    power[~(power > 0)] = np.nan
    return power


def power_to_db(power: np.ndarray) -> np.ndarray:
    """dB from linear power (NaN where not positive)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (np.float32(10.0) * np.log10(power)).astype(np.float32)
    out[~np.isfinite(out)] = np.nan
    return out


class _SarReader(SceneReader):
    """VV and VH of one acquisition, converted to linear power on the source grid before averaging."""

    kind = "sar"
    variables: ClassVar[Mapping[str, str | None]] = {"vv": "VV", "vh": "VH"}
    primary_layers = POLARISATIONS
    band_of: ClassVar[dict[str, int]] = {"VV": 1, "VH": 1}

    def __enter__(self) -> _SarReader:
        super().__enter__()
        self.bands = self.resolve_bands()
        self.units: dict[str, Units] = {}
        piece, opened = self.scene.pieces[0], self.datasets[0]
        for pol in POLARISATIONS:
            if pol in opened:
                self.units[pol] = detect_units(opened[pol], self.band(pol), piece[pol], self.named_units())
        return self

    def resolve_bands(self) -> dict[str, int]:
        """1-based band of each polarisation in its file."""
        return dict(self.band_of)

    def band(self, layer: str) -> int:
        return self.bands[layer]

    def named_units(self) -> Units | None:
        """The units the product's file name states, if any."""
        return None

    def to_physical(self, layer: str, values: np.ndarray) -> np.ndarray:
        return to_power(values, self.units[layer])


class Hyp3RtcReader(_SarReader):
    """ASF HyP3 RTC products: one GeoTIFF per polarisation."""

    product = "HYP3_RTC"
    filename_regex = formats.HYP3_RTC_NAME

    @classmethod
    def discover(cls, paths: Sequence[Path]) -> list[Scene]:
        groups: dict[tuple[str, str], dict[str, Path]] = defaultdict(dict)
        scales: dict[tuple[str, str], str] = {}
        for path in paths:
            match = cls.filename_regex.match(path.name)
            if match:
                key = (match["platform"], match["time"])
                groups[key][match["pol"]] = path
                scales[key] = match["scale"]
        return [
            Scene(
                cls.product,
                datetime.strptime(time, "%Y%m%dT%H%M%S"),
                (files,),
                {"platform": platform, "scale": scales[(platform, time)]},
            )
            for (platform, time), files in sorted(groups.items(), key=lambda item: item[0][1])
        ]

    def named_units(self) -> Units | None:
        return {"d": "db", "a": "amplitude", "p": "power"}.get(str(self.scene.meta.get("scale")))  # type: ignore[return-value]


class Sen1Floods11S1Reader(_SarReader):
    """Sen1Floods11 S1Hand chips: two float bands VV, VH in dB on EPSG:4326."""

    product = "SEN1FLOODS11_S1"
    filename_regex = formats.SEN1FLOODS11_NAME
    band_of: ClassVar[dict[str, int]] = {"VV": 1, "VH": 2}

    @classmethod
    def discover(cls, paths: Sequence[Path]) -> list[Scene]:
        scenes = []
        for path in sorted(paths):
            match = cls.filename_regex.match(path.name)
            if match and match["layer"] in ("S1Hand", "S1Weak"):
                scenes.append(Scene(cls.product, None, ({"VV": path, "VH": path},), {"chip": match["chip"]}))
        return scenes

    def resolve_bands(self) -> dict[str, int]:
        bands = dict(self.band_of)
        for index, description in enumerate(self.datasets[0]["VV"].descriptions, start=1):
            if description and description.upper() in POLARISATIONS:
                bands[description.upper()] = index
        return bands
