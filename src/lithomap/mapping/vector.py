"""The vector map: one polygon per connected class area, after a minimum mapping unit.

Geologists work with vectors. The class raster is sieved (areas smaller than the minimum
mapping unit merge into their largest neighbour, ``rasterio.features.sieve``), every
connected area of one class gets its own id, and ``rasterio.features.shapes`` turns the
ids into polygons on the region grid. Attributes: ``class_id``, ``class_name``,
``area_km2`` and ``mean_confidence`` (over the area's pixels). Layer ``lithology`` of
``map.gpkg``, in the raster's CRS.

Memory stays a few bytes per pixel: one int32 id raster and one label buffer while the
areas are numbered, the confidence read in bands of rows, the ids handed to ``shapes``
through a scratch GeoTIFF (not copied into a memory raster beside the array), and the
polygons written to the GeoPackage in batches of ``BATCH_POLYGONS`` rather than gathered
in one frame (an untrained model's speckled 4096² map has hundreds of thousands).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
from rasterio.crs import CRS
from rasterio.features import shapes, sieve
from rasterio.transform import Affine
from rasterio.windows import Window
from scipy import ndimage
from shapely.geometry import shape

from lithomap.atomic import temporary_path
from lithomap.classes import class_names
from lithomap.mapping.writers import bounded_gdal_cache

LAYER = "lithology"
FOUR_CONNECTED = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]])
BATCH_POLYGONS = 5_000
BAND_ROWS = 256
SCRATCH_ROWS = 16
POLYGONIZE_CACHE_BYTES = 16 * 2**20
COLUMNS = ("class_id", "class_name", "area_km2", "mean_confidence")


def sieve_classes(classes: np.ndarray, min_mapping_unit_px: int) -> np.ndarray:
    """Classes with areas under ``min_mapping_unit_px`` merged into a neighbour; no data (0) stays 0."""
    sieved = sieve(classes, size=min_mapping_unit_px, connectivity=4) if min_mapping_unit_px > 1 else classes.copy()
    sieved[classes == 0] = 0
    return sieved.astype(np.uint8, copy=False)


def number_areas(sieved: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """An int32 id per connected area of one class (0 = no data), numbered class by class from 1.

    Returns:
        (ids, class of each id: entry ``i`` is the class of area ``i + 1``).
    """
    ids = np.zeros(sieved.shape, dtype=np.int32)
    labelled = np.empty(sieved.shape, dtype=np.int32)
    mask = np.empty(sieved.shape, dtype=bool)
    values, counts = [], []
    offset = 0
    for value in np.flatnonzero(np.bincount(sieved.ravel(), minlength=256)[1:]) + 1:
        np.equal(sieved, value, out=mask)
        count = ndimage.label(mask, structure=FOUR_CONNECTED, output=labelled)
        np.add(labelled, offset, out=ids, where=mask)
        values.append(value)
        counts.append(count)
        offset += count
    return ids, np.repeat(np.asarray(values, dtype=np.uint8), counts)


def class_areas(classes: np.ndarray, min_mapping_unit_px: int) -> tuple[np.ndarray, np.ndarray]:
    """Sieved classes and an id per connected class area (0 = no data).

    Args:
        classes: (H, W) uint8 class map, 0 = no data.
        min_mapping_unit_px: smaller connected areas merge into a neighbour.

    Returns:
        (sieved classes, int32 area ids numbered from 1).
    """
    sieved = sieve_classes(classes, min_mapping_unit_px)
    ids, _ = number_areas(sieved)
    return sieved, ids


def mean_per_area(ids: np.ndarray, source: rasterio.DatasetReader, count: int) -> np.ndarray:
    """Mean of band 1 of ``source`` (NaN counted as 0) over each area id 1..``count``, read in bands of rows."""
    sums = np.zeros(count + 1, dtype=np.float64)
    pixels = np.zeros(count + 1, dtype=np.int64)
    for top in range(0, ids.shape[0], BAND_ROWS):
        band_ids = ids[top : top + BAND_ROWS].ravel()
        values = source.read(1, window=Window(0, top, ids.shape[1], min(BAND_ROWS, ids.shape[0] - top)))
        sums += np.bincount(band_ids, weights=np.nan_to_num(values).ravel(), minlength=count + 1)
        pixels += np.bincount(band_ids, minlength=count + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (sums / pixels)[1:]


def _write_scratch(ids: np.ndarray, transform: Affine, crs: CRS, ids_path: Path, mask_path: Path) -> None:
    """Write the area ids (int32) and their mask (uint8, 1 where an area) as GeoTIFFs on the map's grid.

    ``shapes`` then reads them through GDAL instead of copying the arrays into memory
    rasters; in strips of ``SCRATCH_ROWS`` rows, so its row-by-row reads need a small cache.
    """
    height, width = ids.shape
    profile = {
        "driver": "GTiff",
        "height": height,
        "width": width,
        "count": 1,
        "crs": crs,
        "transform": transform,
        "blockysize": SCRATCH_ROWS,
        "compress": "deflate",
    }
    with (
        rasterio.open(ids_path, "w", dtype="int32", **profile) as id_file,
        rasterio.open(mask_path, "w", dtype="uint8", **profile) as mask_file,
    ):
        for top in range(0, height, BAND_ROWS):
            window = Window(0, top, width, min(BAND_ROWS, height - top))
            band = ids[top : top + BAND_ROWS]
            id_file.write(band, 1, window=window)
            mask_file.write((band > 0).view(np.uint8), 1, window=window)


def _batches(
    polygons: Iterator[tuple[dict, float]], class_of: np.ndarray, mean_confidence: np.ndarray, size: int
) -> Iterator[tuple[dict[str, list], list]]:
    """(attribute columns, geometries) of ``shapes``' polygons, ``size`` at a time."""
    names = class_names()
    columns: dict[str, list] = {name: [] for name in COLUMNS}
    geometries: list = []
    for geometry, value in polygons:
        area = int(value) - 1
        class_id = int(class_of[area])
        polygon = shape(geometry)
        geometries.append(polygon)
        columns["class_id"].append(class_id)
        columns["class_name"].append(names[class_id])
        columns["area_km2"].append(polygon.area / 1e6)
        columns["mean_confidence"].append(float(mean_confidence[area]))
        if len(geometries) == size:
            yield columns, geometries
            columns, geometries = {name: [] for name in COLUMNS}, []
    if geometries:
        yield columns, geometries


def vectorise(
    classes_path: Path,
    confidence_path: Path,
    destination: Path,
    min_mapping_unit_px: int,
    batch_size: int = BATCH_POLYGONS,
) -> int:
    """Write ``destination`` (GeoPackage layer ``lithology``) from a class and a confidence raster.

    Columns: class_id, class_name, area_km2, mean_confidence, geometry; written
    ``batch_size`` polygons at a time.

    Returns:
        The number of polygons written.
    """
    staged = temporary_path(destination)
    scratch = (temporary_path(destination, ".ids.tif"), temporary_path(destination, ".mask.tif"))
    with bounded_gdal_cache():
        with rasterio.open(classes_path) as source:
            classes = source.read(1)
            transform, crs = source.transform, source.crs
        sieved = sieve_classes(classes, min_mapping_unit_px)
        del classes
        ids, class_of = number_areas(sieved)
        del sieved
        with rasterio.open(confidence_path) as source:
            mean_confidence = mean_per_area(ids, source, len(class_of))
        staged.unlink(missing_ok=True)
        try:
            _write_scratch(ids, transform, crs, *scratch)
            del ids
            with (
                rasterio.Env(GDAL_CACHEMAX=POLYGONIZE_CACHE_BYTES),
                rasterio.open(scratch[0]) as id_file,
                rasterio.open(scratch[1]) as mask_file,
            ):
                polygons = shapes(
                    rasterio.band(id_file, 1), mask=rasterio.band(mask_file, 1), connectivity=4, transform=transform
                )
                written = 0
                for columns, geometries in _batches(polygons, class_of, mean_confidence, batch_size):
                    frame = gpd.GeoDataFrame(columns, geometry=geometries, crs=crs)
                    frame.to_file(staged, layer=LAYER, driver="GPKG", mode="a" if written else "w")
                    written += len(frame)
        finally:
            for path in scratch:
                path.unlink(missing_ok=True)
        if not written:
            empty = gpd.GeoDataFrame({name: [] for name in COLUMNS}, geometry=[], crs=crs)
            empty.to_file(staged, layer=LAYER, driver="GPKG")
    staged.replace(destination)
    return written
