"""The vector map: one polygon per connected class area, after a minimum mapping unit.

Geologists work with vectors. The class raster is sieved (areas smaller than the minimum
mapping unit merge into their largest neighbour, ``rasterio.features.sieve``), every
connected area of one class gets its own id, and ``rasterio.features.shapes`` turns the
ids into polygons on the region grid. Attributes: ``class_id``, ``class_name``,
``area_km2`` and ``mean_confidence`` (over the area's pixels). Layer ``lithology`` of
``map.gpkg``, in the raster's CRS.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
from rasterio.features import shapes, sieve
from scipy import ndimage
from shapely.geometry import shape

from lithomap.atomic import temporary_path
from lithomap.classes import class_names

LAYER = "lithology"
FOUR_CONNECTED = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]])


def class_areas(classes: np.ndarray, min_mapping_unit_px: int) -> tuple[np.ndarray, np.ndarray]:
    """Sieved classes and an id per connected class area (0 = no data).

    Args:
        classes: (H, W) uint8 class map, 0 = no data.
        min_mapping_unit_px: smaller connected areas merge into a neighbour.

    Returns:
        (sieved classes, int32 area ids numbered from 1).
    """
    sieved = sieve(classes, size=min_mapping_unit_px, connectivity=4) if min_mapping_unit_px > 1 else classes
    sieved = np.where(classes > 0, sieved, 0).astype(np.uint8)
    ids = np.zeros(classes.shape, dtype=np.int32)
    offset = 0
    for value in np.unique(sieved[sieved > 0]):
        labelled, count = ndimage.label(sieved == value, structure=FOUR_CONNECTED)
        ids[labelled > 0] = labelled[labelled > 0] + offset
        offset += count
    return sieved, ids


def vectorise(
    classes_path: Path, confidence_path: Path, destination: Path, min_mapping_unit_px: int
) -> gpd.GeoDataFrame:
    """Write ``destination`` (GeoPackage layer ``lithology``) from a class and a confidence raster.

    Returns:
        The polygons written (class_id, class_name, area_km2, mean_confidence, geometry).
    """
    with rasterio.open(classes_path) as source:
        classes = source.read(1)
        transform, crs = source.transform, source.crs
    with rasterio.open(confidence_path) as source:
        confidence = source.read(1)
    sieved, ids = class_areas(classes, min_mapping_unit_px)
    count = int(ids.max())
    index = np.arange(1, count + 1)
    mean_confidence = ndimage.mean(np.nan_to_num(confidence), labels=ids, index=index) if count else []
    class_of = ndimage.maximum(sieved, labels=ids, index=index) if count else []
    names = class_names()
    records, geometries = [], []
    for geometry, value in shapes(ids, mask=ids > 0, connectivity=4, transform=transform):
        area_id = int(value)
        class_id = int(class_of[area_id - 1])
        polygon = shape(geometry)
        geometries.append(polygon)
        records.append(
            {
                "class_id": class_id,
                "class_name": names[class_id],
                "area_km2": polygon.area / 1e6,
                "mean_confidence": float(mean_confidence[area_id - 1]),
            }
        )
    frame = gpd.GeoDataFrame(records, geometry=geometries, crs=crs)
    if frame.empty:
        frame = gpd.GeoDataFrame(
            {"class_id": [], "class_name": [], "area_km2": [], "mean_confidence": []}, geometry=[], crs=crs
        )
    staged = temporary_path(destination)
    staged.unlink(missing_ok=True)
    frame.to_file(staged, layer=LAYER, driver="GPKG")
    staged.replace(destination)
    return frame
