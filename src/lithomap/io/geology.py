"""Geological map vectors (GPKG, Shapefile, GeoJSON) → label raster on the region grid.

The lithology text is taken from ``RegionParams.geology_attribute`` or, when that is null,
the first of :data:`lithomap.io.formats.GEOLOGY_ATTRIBUTES` the map holds. Each distinct
text is mapped to a class through the mapping table (``classes.load_mapper``); texts no
rule matches become label 0 and are reported with their area inside the region (km²),
never silently dropped. Polygons are reprojected to the grid CRS and burnt window by
window with ``all_touched=False`` (SCIENCE.md 3.6).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
from pyogrio.errors import DataLayerError, DataSourceError
from rasterio.features import rasterize
from rasterio.windows import Window
from shapely.geometry import box

from lithomap.classes import BACKGROUND, LithologyMapper, MappingReport
from lithomap.errors import InputDataError
from lithomap.io import formats
from lithomap.io.grid import RegionGrid
from lithomap.io.labels import boundary_band, crop, padded

log = logging.getLogger(__name__)
EQUAL_AREA_CRS = "EPSG:6933"
CLASS_COLUMN = "_class_id"
EMPTY_TEXT = "(empty)"  # how a polygon without lithology text is reported


@dataclass
class GeologyMap:
    """A geological map ready to be burnt onto the grid.

    Attributes:
        path: the vector file.
        layer: the layer read (GeoPackage), or None.
        attribute: the lithology attribute used.
        frame: polygons in the grid CRS, clipped to the grid, with their class id.
        mapping: class of each mapped text and the area (m²) of each unmapped one.
        n_features: polygons in the file's layer.
    """

    path: Path
    layer: str | None
    attribute: str
    frame: gpd.GeoDataFrame
    mapping: MappingReport
    n_features: int

    def unmapped_km2(self) -> dict[str, float]:
        return {term: area / 1e6 for term, area in self.mapping.unmapped_area.items()}

    def rasterize(self, grid: RegionGrid, window: Window, buffer_px: int = 0) -> np.ndarray:
        """Class ids (uint8) of one grid window, with an optional label-0 band along contacts."""
        big = padded(window, buffer_px)
        shape = (int(big.height), int(big.width))
        left, bottom, right, top = grid.window_bounds(big)
        hits = self.frame.sindex.query(box(left, bottom, right, top), predicate="intersects")
        if len(hits) == 0:
            return np.zeros((int(window.height), int(window.width)), np.uint8)
        subset = self.frame.iloc[np.sort(hits)]
        shapes = ((geom, int(cid)) for geom, cid in zip(subset.geometry, subset[CLASS_COLUMN], strict=True) if cid)
        labels = rasterize(
            shapes,
            out_shape=shape,
            transform=grid.window_transform(big),
            fill=BACKGROUND,
            all_touched=False,
            dtype="uint8",
        )
        if buffer_px:
            labels[boundary_band(labels, buffer_px)] = BACKGROUND
        return crop(labels, buffer_px)


def pick_layer(path: Path) -> str | None:
    """The polygon layer of a multi-layer file (GeoPackage), or None for single-layer files."""
    try:
        layers = pyogrio.list_layers(path)
    except (DataSourceError, DataLayerError) as exc:
        raise InputDataError(
            path,
            f"the vector file cannot be opened ({exc})",
            "export the geological map again as GPKG, Shapefile or GeoJSON",
        ) from exc
    if len(layers) <= 1:
        return None
    polygons = [str(name) for name, kind in layers if kind and "polygon" in str(kind).lower()]
    return polygons[0] if polygons else str(layers[0][0])


def pick_attribute(path: Path, columns: list[str], attribute: str | None) -> str:
    """The lithology attribute: the configured one, else the first known name present.

    Raises:
        InputDataError: the attribute is absent.
    """
    if attribute is not None:
        if attribute in columns:
            return attribute
        problem = f"the lithology attribute {attribute!r} is not in the map; its fields are {columns}"
    else:
        found = next((name for name in formats.GEOLOGY_ATTRIBUTES if name in columns), None)
        if found is not None:
            return found
        problem = (
            f"no lithology attribute found (looked for {list(formats.GEOLOGY_ATTRIBUTES)}); "
            f"the map's fields are {columns}"
        )
    raise InputDataError(
        path, problem, "set regions.<name>.geology_attribute in params.yaml to the field that holds the lithology text"
    )


def load_geology(path: Path, grid: RegionGrid, attribute: str | None, mapper: LithologyMapper) -> GeologyMap:
    """Read a geological map, map its texts to classes and reproject it to the grid.

    Args:
        path: GPKG, Shapefile or GeoJSON.
        grid: the region grid.
        attribute: lithology attribute, or None to search the usual names.
        mapper: text → class table.

    Raises:
        InputDataError: unreadable file, no CRS, missing attribute, no overlap with the grid.
    """
    layer = pick_layer(path)
    try:
        frame = gpd.read_file(path, layer=layer, engine="pyogrio")
    except (DataSourceError, DataLayerError, ValueError) as exc:
        raise InputDataError(
            path,
            f"the vector file cannot be read ({exc})",
            "export the geological map again as GPKG, Shapefile or GeoJSON",
        ) from exc
    name = pick_attribute(path, [str(c) for c in frame.columns if c != frame.geometry.name], attribute)
    if frame.crs is None:
        raise InputDataError(
            path,
            "the geological map has no CRS",
            "add the .prj file (Shapefile) or export it with its CRS, e.g. `ogr2ogr -a_srs EPSG:25830`",
        )
    n_features = len(frame)
    frame = frame[frame.geometry.notna() & ~frame.geometry.is_empty].to_crs(grid.crs)
    frame = frame.assign(geometry=frame.geometry.make_valid())
    frame = frame.clip(box(*grid.bounds))
    frame = frame[~frame.geometry.is_empty]
    if frame.empty:
        raise InputDataError(
            path,
            f"no polygon of the geological map overlaps the region grid "
            f"(bounds {tuple(round(b, 1) for b in grid.bounds)} in {grid.crs})",
            "use the map sheet that covers the region, or widen the region bounds",
        )
    texts = frame[name].astype("string").fillna(EMPTY_TEXT).astype(str).replace("", EMPTY_TEXT)
    areas = frame.geometry.area if grid.crs.is_projected else frame.geometry.to_crs(EQUAL_AREA_CRS).area
    area_of = areas.groupby(texts.to_numpy()).sum().to_dict()
    mapping = mapper.map_terms(area_of)
    frame = gpd.GeoDataFrame(
        {CLASS_COLUMN: texts.map(lambda t: mapping.class_of.get(t, BACKGROUND)).astype("uint8")},
        geometry=frame.geometry.to_numpy(),
        crs=grid.crs,
    )
    result = GeologyMap(path, layer, name, frame, mapping, n_features)
    for term, km2 in sorted(result.unmapped_km2().items(), key=lambda item: -item[1]):
        log.warning(
            "%s: lithology %r (%.3f km² in the region) matches no mapping rule; it becomes label 0. "
            "Add it to the mapping file (regions.<name>.mapping_file).",
            path,
            term,
            km2,
        )
    return result
