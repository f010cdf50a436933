"""Elevation readers: the region's DEM, one static layer ``dem`` (metres above the geoid).

A DEM does not change between acquisitions, so its scenes are undated, one per file; the
ingest averages them per pixel (``lithomap.io.ingest``), which mosaics tiles that meet and
keeps the value of copies that agree, and raw validation names the file a bad value is in:

* :class:`Hyp3DemReader` — the ``…_dem.tif`` companion ASF HyP3 writes beside each RTC
  product when the DEM is requested (``include_dem``): the Copernicus GLO-30 DEM on the
  product's UTM grid. Every product of a frame carries the same DEM.
* :class:`CopernicusDemReader` — Copernicus DEM tiles, GLO-30 or GLO-90
  (``Copernicus_DSM_COG_10_N38_00_W005_00_DEM.tif``, or the DGED archive's name without
  ``COG_``), float32 on EPSG:4326.
* :class:`L2THeightReader` — the ``height`` layer of ECOSTRESS Collection 2 L2T tiles
  (float32 m, NaN fill); one file per tile is read (each overpass repeats it).

None of them carries a NoData tag in the real products; values are float32 metres, and a
void written as a number (SRTM's −32768) is caught by raw validation's elevation range.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import ClassVar

from lithomap.io import formats
from lithomap.io.ecostress import FLOAT_FILL
from lithomap.io.formats import Encoding
from lithomap.io.sources import Scene, SceneReader

DEM_LAYER = "DEM"


class _DemReader(SceneReader):
    """A DEM product: every matching file is an undated scene of its own."""

    kind = "elevation"
    variables: ClassVar[Mapping[str, str | None]] = {"dem": DEM_LAYER}
    primary_layers = (DEM_LAYER,)
    encodings: ClassVar[Mapping[str, Encoding]] = {DEM_LAYER: FLOAT_FILL}

    @classmethod
    def matching(cls, paths: Sequence[Path]) -> list[Path]:
        """The DEM files among ``paths`` this product reads, in name order."""
        return sorted(p for p in paths if cls.filename_regex.match(p.name))

    @classmethod
    def discover(cls, paths: Sequence[Path]) -> list[Scene]:
        return [Scene(cls.product, None, ({DEM_LAYER: path},)) for path in cls.matching(paths)]


class Hyp3DemReader(_DemReader):
    """The DEM companion of ASF HyP3 RTC products (``…_dem.tif``)."""

    product = "HYP3_RTC_DEM"
    filename_regex = formats.HYP3_DEM_NAME


class CopernicusDemReader(_DemReader):
    """Copernicus DEM GLO-30 / GLO-90 tiles (``Copernicus_DSM_COG_10_N38_00_W005_00_DEM.tif``)."""

    product = "COPERNICUS_DEM"
    filename_regex = formats.COPERNICUS_DEM_NAME


class L2THeightReader(_DemReader):
    """The ``height`` layer of ECOSTRESS Collection 2 L2T LSTE tiles (one file per tile)."""

    product = "ECOv002_L2T_height"
    filename_regex = formats.L2T_NAME

    @classmethod
    def matching(cls, paths: Sequence[Path]) -> list[Path]:
        tiles: dict[str, list[Path]] = defaultdict(list)
        for path in paths:
            match = cls.filename_regex.match(path.name)
            if match and match["layer"] == "height":
                tiles[match["tile"]].append(path)
        return [sorted(found)[0] for _, found in sorted(tiles.items())]
