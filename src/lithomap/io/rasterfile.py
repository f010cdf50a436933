"""Opening and reading raster files with the checks every reader needs.

Each failure becomes one :class:`~lithomap.errors.InputDataError` naming the file, the
problem and the fix: a file GDAL cannot open, a truncated or corrupt file (detected when
its blocks are read), a raster without CRS, a band of the wrong data type. Decoding turns
integer digital numbers into physical float32 values with NaN for no data, using the
file's own ``scale_factor``/``add_offset`` tags and ``nodata`` first and the documented
encodings of :mod:`lithomap.io.formats` only as a fallback (SCIENCE.md section 3).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import rasterio
from rasterio.errors import RasterioError
from rasterio.io import DatasetReader
from rasterio.windows import Window

from lithomap.errors import InputDataError
from lithomap.io.formats import Encoding

CORRUPT_FIX = "download or export the file again (it may be truncated), or remove it from the region folder"


@contextmanager
def open_raster(path: Path) -> Iterator[DatasetReader]:
    """Open a GeoTIFF (or any GDAL raster) that must carry a CRS and a geotransform.

    Args:
        path: the raster file.

    Yields:
        The open dataset.

    Raises:
        InputDataError: GDAL cannot open the file, or it has no CRS or no geotransform.
    """
    try:
        dataset = rasterio.open(path)
    except RasterioError as exc:
        raise InputDataError(
            path, f"the file is truncated or corrupt: GDAL cannot open it ({exc})", CORRUPT_FIX
        ) from exc
    try:
        check_georeferenced(dataset, path)
        yield dataset
    finally:
        dataset.close()


def check_georeferenced(dataset: DatasetReader, path: Path) -> None:
    """Raise InputDataError unless ``dataset`` has a CRS and a real geotransform."""
    if dataset.crs is None:
        raise InputDataError(
            path,
            "the raster has no CRS (coordinate reference system)",
            "export it again with its CRS, or assign one, e.g. `gdal_edit.py -a_srs EPSG:4326 FILE`",
        )
    if dataset.transform.is_identity or dataset.transform.is_rectilinear is False:
        raise InputDataError(
            path,
            "the raster has no north-up geotransform (it is in pixel or GCP geometry)",
            "terrain-correct / geocode it first (e.g. `gdalwarp -t_srs EPSG:326zz`), then put the result here",
        )


def read_band(dataset: DatasetReader, band: int, window: Window | None, path: Path) -> np.ndarray:
    """Read one band (or a window of it), turning read errors into InputDataError.

    Args:
        dataset: an open dataset.
        band: 1-based band index.
        window: the window to read; None reads the whole band.
        path: the file, for the error message.

    Returns:
        The raw array, in the file's data type.

    Raises:
        InputDataError: the file is truncated or a block cannot be decoded.
    """
    try:
        return dataset.read(band, window=window)
    except RasterioError as exc:
        raise InputDataError(
            path, f"reading band {band} failed; the file is truncated or corrupt ({exc})", CORRUPT_FIX
        ) from exc


def read_decimated(dataset: DatasetReader, band: int, path: Path, side: int = 256) -> np.ndarray:
    """A cheap, decimated read of a whole band (for value-range checks such as dB detection)."""
    scale = max(1, max(dataset.height, dataset.width) // side)
    shape = (max(1, dataset.height // scale), max(1, dataset.width // scale))
    try:
        return dataset.read(band, out_shape=shape, resampling=rasterio.enums.Resampling.nearest)
    except RasterioError as exc:
        raise InputDataError(
            path, f"reading band {band} failed; the file is truncated or corrupt ({exc})", CORRUPT_FIX
        ) from exc


def band_encoding(dataset: DatasetReader, band: int, fallback: Encoding | None = None) -> Encoding:
    """The integer encoding of one band, from its tags, else ``fallback``, else identity.

    ``scale_factor``/``add_offset`` are searched in the band's tags, then the dataset tags
    (AppEEARS writes them at dataset level); rasterio's ``scales``/``offsets`` are used when
    they are not the default 1/0. The fill value is the GeoTIFF ``nodata``, else ``_FillValue``.
    """
    tags = {**dataset.tags(), **dataset.tags(band)}
    scale = _float_tag(tags, "scale_factor")
    offset = _float_tag(tags, "add_offset")
    if scale is None and dataset.scales[band - 1] not in (None, 1.0):
        scale = float(dataset.scales[band - 1])
    if offset is None and dataset.offsets[band - 1] not in (None, 0.0):
        offset = float(dataset.offsets[band - 1])
    fill = dataset.nodatavals[band - 1]
    if fill is None:
        fill = _float_tag(tags, "_FillValue")
    if fallback is not None:
        scale = fallback.scale if scale is None else scale
        offset = fallback.offset if offset is None else offset
        fill = fallback.fill if fill is None else fill
    return Encoding(
        dtype=dataset.dtypes[band - 1],
        scale=1.0 if scale is None else scale,
        offset=0.0 if offset is None else offset,
        fill=float("nan") if fill is None else float(fill),
        units=tags.get("units", fallback.units if fallback else ""),
    )


def decode(raw: np.ndarray, encoding: Encoding) -> np.ndarray:
    """Physical float32 values from digital numbers: ``DN × scale + offset``, NaN where fill or non-finite."""
    values = raw.astype(np.float32)
    invalid = ~np.isfinite(values)
    if np.isfinite(encoding.fill):
        invalid |= raw == encoding.fill
    if encoding.scale != 1.0 or encoding.offset != 0.0:
        values *= np.float32(encoding.scale)
        values += np.float32(encoding.offset)
    values[invalid] = np.nan
    return values


def _float_tag(tags: dict[str, str], key: str) -> float | None:
    value = tags.get(key)
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None
