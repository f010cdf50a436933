"""Sentinel-2 red/NIR readers → NDVI on the region grid (SCIENCE.md 3.5).

* :class:`SafeL2AReader` — band files inside a SAFE folder
  (``…SAFE/GRANULE/*/IMG_DATA/R10m/T<tile>_<time>_B04_10m.(tif|jp2)`` and ``_B08_10m``; optional
  ``R20m/…_SCL_20m``). ``reflectance = (DN + BOA_ADD_OFFSET) / BOA_QUANTIFICATION_VALUE`` with
  the band's offset read from ``MTD_MSIL2A.xml`` when present, else −1000 from baseline N0400
  on; DN 0 is no data. Pixels whose scene class (SCL, nearest) is not 4, 5, 6 or 11 are dropped.
* :class:`Sen1Floods11S2Reader` — Sen1Floods11 ``S2Hand`` chips: L1C TOA reflectance × 10⁴,
  13 bands B1…B12 with B8A (red = band 4, NIR = band 8), nodata 0.

Reflectances are averaged onto the grid, then NDVI is computed there.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import ClassVar

import numpy as np
from rasterio.windows import Window

from lithomap.errors import InputDataError
from lithomap.io import formats
from lithomap.io.grid import RegionGrid
from lithomap.io.sources import Scene, SceneReader
from lithomap.io.vegetation import ndvi
from lithomap.io.warp import read_patch

RED, NIR = "B04", "B08"


def safe_folder(path: Path) -> Path | None:
    """The enclosing ``*.SAFE`` folder of a band file, if any."""
    return next((parent for parent in path.parents if formats.S2_SAFE_NAME.match(parent.name)), None)


def read_offsets(metadata: Path) -> tuple[dict[str, float], float | None]:
    """Per-band additive offsets and the quantification value from an MTD_MSIL1C/2A.xml.

    Returns:
        ({band name: offset}, quantification or None).

    Raises:
        InputDataError: the XML cannot be parsed.
    """
    try:
        root = ET.parse(metadata).getroot()
    except ET.ParseError as exc:
        raise InputDataError(
            metadata,
            f"the product metadata is not valid XML ({exc})",
            "restore MTD_MSIL2A.xml from the original product, or delete it to use the baseline rule",
        ) from exc
    names = {index: name for name, index in formats.S2_BAND_IDS.items()}
    offsets: dict[str, float] = {}
    quantification = None
    for element in root.iter():
        tag = element.tag.rsplit("}", 1)[-1]
        if tag in ("BOA_ADD_OFFSET", "RADIO_ADD_OFFSET") and element.get("band_id") is not None and element.text:
            offsets[names.get(int(element.get("band_id", -1)), "")] = float(element.text)
        elif tag in ("BOA_QUANTIFICATION_VALUE", "QUANTIFICATION_VALUE") and element.text:
            quantification = float(element.text)
    return offsets, quantification


class _OpticalReader(SceneReader):
    """Red and NIR reflectances averaged onto the grid; NDVI computed there."""

    kind = "optical"
    variables: ClassVar[Mapping[str, str | None]] = {"red": RED, "nir": NIR}
    primary_layers = (RED, NIR)
    zero_is_nodata = True
    band_of: ClassVar[dict[str, int]] = {RED: 1, NIR: 1}

    def reflectance_params(self, layer: str) -> tuple[float, float]:
        """(additive offset, quantification) of a layer."""
        raise NotImplementedError

    def band(self, layer: str) -> int:
        return self.band_of[layer]

    def to_physical(self, layer: str, values: np.ndarray) -> np.ndarray:
        """Surface (L2A) or top-of-atmosphere (L1C) reflectance: (DN + offset) / quantification."""
        offset, quantification = self.reflectance_params(layer)
        return (values + np.float32(offset)) / np.float32(quantification)

    def finish(self, values: dict[str, np.ndarray], grid: RegionGrid, window: Window) -> dict[str, np.ndarray]:
        return {"ndvi": ndvi(values["red"], values["nir"])}


class SafeL2AReader(_OpticalReader):
    """Sentinel-2 L2A band files in SAFE folders (GeoTIFF or JPEG 2000)."""

    product = "S2_MSIL2A"
    filename_regex = formats.S2_BAND_NAME

    @classmethod
    def discover(cls, paths: Sequence[Path]) -> list[Scene]:
        groups: dict[tuple[str, str], dict[str, Path]] = defaultdict(dict)
        for path in paths:
            match = cls.filename_regex.match(path.name)
            if match and match["band"] in (RED, NIR, "SCL"):
                if match["band"] != "SCL" and match["res"] != "10":
                    continue
                groups[(match["time"], match["tile"])][match["band"]] = path
        scenes = []
        for (time, tile), files in sorted(groups.items()):
            if RED not in files or NIR not in files:
                continue
            safe = safe_folder(files[RED])
            meta: dict[str, object] = {"tile": tile}
            if safe is not None:
                safe_match = formats.S2_SAFE_NAME.match(safe.name)
                meta["baseline"] = safe_match["baseline"] if safe_match else None
                meta["level"] = safe_match["level"] if safe_match else None
                xml = next((p for p in (safe / "MTD_MSIL2A.xml", safe / "MTD_MSIL1C.xml") if p.is_file()), None)
                if xml is not None:
                    meta["metadata"] = xml
            scenes.append(Scene(cls.product, datetime.strptime(time, "%Y%m%dT%H%M%S"), (files,), meta))
        return scenes

    def __enter__(self) -> SafeL2AReader:
        super().__enter__()
        offsets: dict[str, float] = {}
        quantification: float | None = None
        if "metadata" in self.scene.meta:
            offsets, quantification = read_offsets(Path(str(self.scene.meta["metadata"])))
        baseline = str(self.scene.meta.get("baseline") or "0000")
        default = formats.S2_BOA_ADD_OFFSET if baseline >= formats.S2_BASELINE_OFFSET_FROM else 0.0
        self.offsets = {layer: offsets.get(layer, default) for layer in (RED, NIR)}
        self.quantification = quantification or formats.S2_QUANTIFICATION
        return self

    def reflectance_params(self, layer: str) -> tuple[float, float]:
        return self.offsets[layer], self.quantification

    def finish(self, values: dict[str, np.ndarray], grid: RegionGrid, window: Window) -> dict[str, np.ndarray]:
        """NDVI, dropped where the scene classification (nearest) is not vegetation, bare soil, water or snow."""
        out = super().finish(values, grid, window)
        if "SCL" in self.datasets[0]:
            patch = read_patch(self.datasets[0]["SCL"], self.scene.pieces[0]["SCL"], grid, window)
            scl = np.zeros(out["ndvi"].shape, np.uint8)
            if patch is not None:
                scl = replace(patch, values=patch.values.astype(np.uint8)).warp(grid, window, "nearest", nodata=0)
            out["ndvi"][~np.isin(scl, formats.S2_SCL_KEEP)] = np.nan
        return out


class Sen1Floods11S2Reader(_OpticalReader):
    """Sen1Floods11 S2Hand chips (L1C TOA reflectance × 10⁴, 13 bands)."""

    product = "SEN1FLOODS11_S2"
    filename_regex = formats.SEN1FLOODS11_NAME
    band_of: ClassVar[dict[str, int]] = {
        RED: formats.SEN1FLOODS11_S2_BANDS.index("B4") + 1,
        NIR: formats.SEN1FLOODS11_S2_BANDS.index("B8") + 1,
    }

    @classmethod
    def discover(cls, paths: Sequence[Path]) -> list[Scene]:
        return [
            Scene(cls.product, None, ({RED: path, NIR: path},), {"chip": match["chip"]})
            for path in sorted(paths)
            if (match := cls.filename_regex.match(path.name)) and match["layer"] in ("S2Hand", "S2Weak")
        ]

    def __enter__(self) -> Sen1Floods11S2Reader:
        super().__enter__()
        dataset, path = self.datasets[0][RED], self.scene.pieces[0][RED]
        if dataset.count != len(formats.SEN1FLOODS11_S2_BANDS):
            raise InputDataError(
                path,
                f"expected 13 Sentinel-2 bands (B1…B12 with B8A), found {dataset.count}",
                "use the original Sen1Floods11 S2Hand chip",
            )
        return self

    def reflectance_params(self, layer: str) -> tuple[float, float]:
        return 0.0, formats.SEN1FLOODS11_S2_SCALE
