"""ECOSTRESS land surface temperature and emissivity readers (SCIENCE.md 3.1–3.2).

Two products:

* :class:`AppeearsReader` — ECO2LSTE.001 + ECO2CLD.001 exported by AppEEARS: one GeoTIFF
  per layer and overpass (``ECO2LSTE.001_SDS_LST_doyYYYYDDDhhmmss_aid0001.tif``), integer
  DN with ``scale_factor``/``add_offset`` tags, each overpass on its own EPSG:4326 grid.
* :class:`L2TReader` — Collection 2 L2T LSTE tiles (``ECOv002_L2T_LSTE_…_LST.tif``):
  physical float32 values on 70 m UTM tiles; tiles of one overpass are mosaicked.

Kept pixels: finite LST, mandatory QA (QC bits 0–1) at most
``IngestParams.ecostress_max_mandatory_qa``, and clear sky in the cloud layer. Masks are
applied on the source grid, before the LST is averaged onto the region grid.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import ClassVar

import numpy as np
from rasterio.io import DatasetReader
from rasterio.windows import Window

from lithomap.io import formats
from lithomap.io.formats import Encoding
from lithomap.io.rasterfile import band_encoding, read_band
from lithomap.io.sources import Scene, SceneReader

FLOAT_FILL = Encoding("float32", 1.0, 0.0, float("nan"), "")


class _ThermalReader(SceneReader):
    """ECOSTRESS layers of one overpass: LST and emissivity, masked by QC and cloud on the source grid."""

    kind = "thermal"
    variables: ClassVar[Mapping[str, str | None]] = {"lst": "LST", "emissivity": "EmisWB"}
    primary_layers = ("LST",)
    mask_variable = "lst"


class AppeearsReader(_ThermalReader):
    """ECO2LSTE.001 / ECO2CLD.001 AppEEARS GeoTIFF exports (one file per layer and overpass)."""

    product = "ECO2LSTE.001"
    filename_regex = formats.APPEEARS_NAME
    encodings: ClassVar[Mapping[str, Encoding]] = {
        "LST": formats.APPEEARS_ENCODINGS["LST"],
        "EmisWB": formats.APPEEARS_ENCODINGS["EmisWB"],
    }
    layers: ClassVar[tuple[str, ...]] = ("LST", "EmisWB", "QC", "CloudMask")

    @classmethod
    def discover(cls, paths: Sequence[Path]) -> list[Scene]:
        groups: dict[tuple[str, str, str], dict[str, Path]] = defaultdict(dict)
        for path in paths:
            match = cls.filename_regex.match(path.name)
            if match and match["product"] in ("ECO2LSTE", "ECO2CLD") and match["layer"] in cls.layers:
                groups[(match["year"], match["doy"], match["hms"])][match["layer"]] = path
        scenes = []
        for (year, doy, hms), files in sorted(groups.items()):
            if "LST" not in files:
                continue
            time = datetime(int(year), 1, 1) + timedelta(
                days=int(doy) - 1, hours=int(hms[:2]), minutes=int(hms[2:4]), seconds=int(hms[4:])
            )
            scenes.append(Scene(cls.product, time, (files,), {"layers": sorted(files)}))
        return scenes

    def keep_mask(self, piece: Mapping[str, Path], opened: Mapping[str, DatasetReader], window: Window) -> np.ndarray:
        keep = np.ones((int(window.height), int(window.width)), bool)
        if "QC" in opened:
            qc_ds = opened["QC"]
            qc = read_band(qc_ds, 1, window, piece["QC"])
            fill = band_encoding(qc_ds, 1, formats.APPEEARS_ENCODINGS["QC"]).fill
            mandatory = qc.astype(np.int64) & formats.QC_MANDATORY_MASK
            keep &= (qc != fill) & (mandatory <= self.ingest.ecostress_max_mandatory_qa)
        if "CloudMask" in opened:
            cloud_ds = opened["CloudMask"]
            cloud = read_band(cloud_ds, 1, window, piece["CloudMask"])
            fill = band_encoding(cloud_ds, 1, formats.APPEEARS_ENCODINGS["CloudMask"]).fill
            keep &= (cloud != fill) & ((cloud.astype(np.int64) & formats.CLOUD_CLEAR_MASK) == formats.CLOUD_CLEAR_VALUE)
        return keep


class L2TReader(_ThermalReader):
    """ECOSTRESS Collection 2 L2T LSTE tiles (float32 K, NaN fill; QC uint16; cloud uint8)."""

    product = "ECOv002_L2T_LSTE"
    filename_regex = formats.L2T_NAME
    encodings: ClassVar[Mapping[str, Encoding]] = {"LST": FLOAT_FILL, "EmisWB": FLOAT_FILL}
    layers: ClassVar[tuple[str, ...]] = ("LST", "EmisWB", "QC", "cloud")

    @classmethod
    def discover(cls, paths: Sequence[Path]) -> list[Scene]:
        groups: dict[tuple[str, str, str], dict[str, dict[str, Path]]] = defaultdict(lambda: defaultdict(dict))
        for path in paths:
            match = cls.filename_regex.match(path.name)
            if match and match["layer"] in cls.layers:
                groups[(match["time"], match["orbit"], match["scene"])][match["tile"]][match["layer"]] = path
        scenes = []
        for (time, orbit, scene_id), tiles in sorted(groups.items()):
            pieces = tuple(files for _, files in sorted(tiles.items()) if "LST" in files)
            if pieces:
                when = datetime.strptime(time, "%Y%m%dT%H%M%S")
                scenes.append(
                    Scene(cls.product, when, pieces, {"orbit": orbit, "scene": scene_id, "tiles": sorted(tiles)})
                )
        return scenes

    def keep_mask(self, piece: Mapping[str, Path], opened: Mapping[str, DatasetReader], window: Window) -> np.ndarray:
        keep = np.ones((int(window.height), int(window.width)), bool)
        if "QC" in opened:
            qc = read_band(opened["QC"], 1, window, piece["QC"]).astype(np.int64)
            keep &= (qc != formats.L2T_QC_FILL) & (
                (qc & formats.QC_MANDATORY_MASK) <= self.ingest.ecostress_max_mandatory_qa
            )
        if "cloud" in opened:
            cloud = read_band(opened["cloud"], 1, window, piece["cloud"])
            keep &= cloud == 0
        return keep
