"""The region cube on disk: a chunked Zarr (v3) store written window by window, published atomically.

Layout (``<interim_dir>/<region>/cube.zarr``; open with ``xr.open_zarr(path)``):

==============  ==============  =========  =====================================================
variable        dims            dtype      meaning
==============  ==============  =========  =====================================================
``lst``         time, y, x      float32    land surface temperature, K (NaN = invalid/cloud/QA)
``emissivity``  time, y, x      float32    broadband emissivity (NaN where LST is invalid)
``lst_valid``   time, y, x      bool       finite ``lst``
``vv``, ``vh``  y, x            float32    Sentinel-1 backscatter, dB: time mean in linear power
``sar_valid``   y, x            bool       both ``vv`` and ``vh`` finite
``vv_dates``,   sar_time, y, x  float32    Sentinel-1 backscatter of each dated acquisition, dB (NaN =
``vh_dates``                               invalid); their time mean in linear power is ``vv``/``vh``
``ndvi``        y, x            float32    time mean of the per-date NDVI (cloud-masked)
``ndvi_valid``  y, x            bool       finite ``ndvi``
``dem``         y, x            float32    elevation, m: mean of the DEM files covering the pixel
``dem_valid``   y, x            bool       finite ``dem``
``label``       y, x            uint8      lithology class 0–13 (0 = background / unmapped)
``label_valid`` y, x            bool       ``label`` != 0
==============  ==============  =========  =====================================================

Coordinates: ``time`` (UTC datetime64), ``solar_time`` (local solar hour 0–24 at the grid
centre longitude, per time), ``solar_datetime`` (local solar date and time), ``thermal_product``
(product of each date, e.g. ``ECO2LSTE.001``), ``sar_time`` (UTC datetime64 of each dated
Sentinel-1 acquisition, ascending), ``x``/``y`` (pixel centres), ``spatial_ref`` (CF grid
mapping: ``xr.open_zarr(p).rio.crs`` gives the CRS). Variables of a source the region lacks are
absent; the thermal variables and the time coordinates exist only with thermal data, the
per-date SAR and ``sar_time`` only with dated Sentinel-1 files (undated ones, e.g. Sen1Floods11
chips, join the means ``vv``/``vh`` only). Chunks are ``(1, chunk_px, chunk_px)`` for the
per-date variables and ``(chunk_px, chunk_px)`` for the others.
Attributes: ``region``, ``crs``, ``resolution``, ``bounds``, ``sources`` (product → files),
``s1_dates``, ``s2_dates``, ``missing_sources``, ``unmapped_geology_km2``.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

import numpy as np
import rioxarray  # noqa: F401 - registers the .rio accessor used to write the grid mapping
import xarray as xr
import zarr
from pyproj import CRS, Transformer
from rasterio.windows import Window
from zarr.core.common import JSON

from lithomap.config import RegionParams
from lithomap.errors import InputDataError, MissingSourceError, PipelineError
from lithomap.io.grid import RegionGrid
from lithomap.timing import SUNRISE_ELEVATION_DEG, is_daytime, solar_hours

CUBE_NAME = "cube.zarr"
GRID_TOLERANCE = 1e-6
TRAINING_VARIABLES = ("label", "lst")  # what every dataset, model and evaluation needs from a cube
TIME_VARIABLES = ("lst", "emissivity", "lst_valid")
SAR_DATE_VARIABLES = ("vv_dates", "vh_dates")  # dims (SAR_TIME, y, x)
SAR_TIME = "sar_time"
FIX_OF = {
    "lst": "add ECOSTRESS (or Landsat thermal) files to the region's raw folder and run `lithomap ingest` again",
    "label": "add a geological map (GPKG/Shapefile/GeoJSON) or a lithology label raster to the region's raw folder "
    "and run `lithomap ingest` again",
}


class CubeWriter:
    """Creates the cube's arrays up front and fills them window by window.

    Args:
        path: folder of the Zarr store (normally the temporary one of :func:`lithomap.atomic.atomic_directory`).
        grid: the region grid.
        times: UTC times of the thermal stack (may be empty).
        thermal_products: product of each time.
        chunk_px: chunk side.
        attrs: dataset attributes.
        sar_times: UTC times of the dated Sentinel-1 acquisitions, ascending (may be empty).
    """

    def __init__(
        self,
        path: Path,
        grid: RegionGrid,
        times: Sequence[datetime],
        thermal_products: Sequence[str],
        chunk_px: int,
        attrs: dict[str, object],
        sar_times: Sequence[datetime] = (),
    ) -> None:
        self.path = path
        self.grid = grid
        self.chunk_px = chunk_px
        coords: dict[str, object] = {"y": ("y", grid.y_coords()), "x": ("x", grid.x_coords())}
        if times:
            hours, local = solar_hours(times, grid.centre_lonlat()[0])
            coords |= {
                "time": ("time", np.array(times, dtype="datetime64[ns]")),
                "solar_time": ("time", hours, {"units": "hour", "long_name": "local solar time at the grid centre"}),
                "solar_datetime": ("time", local, {"long_name": "local solar date and time at the grid centre"}),
                "thermal_product": ("time", np.array(thermal_products, dtype=str)),
            }
        if sar_times:
            coords[SAR_TIME] = (SAR_TIME, np.array(sar_times, dtype="datetime64[ns]"))
        template = xr.Dataset(coords=coords, attrs=_jsonable(attrs)).rio.write_crs(grid.crs)
        template["spatial_ref"].attrs["GeoTransform"] = " ".join(str(v) for v in grid.transform.to_gdal())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            template.to_zarr(path, mode="w", zarr_format=3, consolidated=False)
        self.group = zarr.open_group(path, mode="r+")
        self.lengths = {"time": len(times), SAR_TIME: len(sar_times)}

    def create(self, name: str, dims: tuple[str, ...], dtype: str, fill: object, attrs: Mapping[str, JSON]) -> None:
        """Create an empty variable (``dims`` is ``("time" | "sar_time", "y", "x")`` or ``("y", "x")``)."""
        spatial = (self.grid.height, self.grid.width)
        stacked = dims[0] in self.lengths
        shape: tuple[int, ...] = (self.lengths[dims[0]], *spatial) if stacked else spatial
        chunks: tuple[int, ...] = (1, self.chunk_px, self.chunk_px) if stacked else (self.chunk_px, self.chunk_px)
        chunks = tuple(min(c, max(s, 1)) for c, s in zip(chunks, shape, strict=True))
        self.group.create_array(
            name,
            shape=shape,
            chunks=chunks,
            dtype=dtype,
            fill_value=fill,
            dimension_names=list(dims),
            attributes={"grid_mapping": "spatial_ref", **attrs},
        )

    def write(self, name: str, window: Window, data: np.ndarray, time_index: int | None = None) -> None:
        """Write one window of a variable (and one step of a ``time``/``sar_time`` variable)."""
        rows, cols = window.toslices()
        array = self.group[name]
        if not isinstance(array, zarr.Array):
            raise PipelineError(
                f"{self.path}: {name!r} is a group, not a variable. Fix: delete the cube and ingest again"
            )
        if time_index is None:
            array[rows, cols] = data
        else:
            array[time_index, rows, cols] = data

    def close(self) -> None:
        """Consolidate the metadata so the store opens quickly."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            zarr.consolidate_metadata(self.path)


def cube_path(interim_dir: Path, name: str) -> Path:
    """Where ``lithomap ingest`` writes the cube of region ``name``."""
    return interim_dir / name / CUBE_NAME


def open_cube(
    path: Path, region: RegionParams | None = None, needs: Sequence[str] = (), step: str = "this step"
) -> xr.Dataset:
    """Open a region cube lazily (``xr.open_zarr``), checked for what the calling step needs.

    Args:
        path: the cube (:func:`cube_path`).
        region: when given, the cube must sit on this region's grid (CRS, pixel size, bounds).
        needs: variables the step needs (e.g. ``("label", "lst")`` for training).
        step: the step's name, for messages.

    Raises:
        MissingSourceError: there is no cube, or it lacks a needed variable.
        InputDataError: the cube's grid differs from the region's.
    """
    if not path.exists():
        raise MissingSourceError(path, "no region cube", f"run `lithomap ingest --region {path.parent.name}` first")
    cube = xr.open_zarr(path)
    if region is not None:
        check_grid(cube, region, path)
    require_variables(cube, needs, step, path)
    return cube


def check_grid(cube: xr.Dataset, region: RegionParams, path: Path) -> None:
    """Raise InputDataError unless the cube's CRS, pixel size and (when set) bounds are the region's."""
    crs = cube.rio.crs
    problems = []
    if crs is None or CRS.from_user_input(crs) != CRS.from_user_input(region.crs):
        problems.append(f"CRS {crs} instead of {region.crs}")
    resolution = abs(float(cube.x[1] - cube.x[0])) if cube.sizes["x"] > 1 else region.resolution
    if abs(resolution - region.resolution) > GRID_TOLERANCE * region.resolution:
        problems.append(f"pixel size {resolution:g} instead of {region.resolution:g}")
    if region.bounds is not None:
        half = resolution / 2
        bounds = (
            float(cube.x.min()) - half,
            float(cube.y.min()) - half,
            float(cube.x.max()) + half,
            float(cube.y.max()) + half,
        )
        if any(abs(a - b) > resolution for a, b in zip(bounds, region.bounds, strict=True)):
            problems.append(f"bounds {tuple(round(v, 1) for v in bounds)} instead of {tuple(region.bounds)}")
    if problems:
        raise InputDataError(
            path,
            "the cube's grid differs from the region's in params.yaml: " + "; ".join(problems),
            "run `lithomap ingest` again for this region so the cube matches its grid",
        )


def require_variables(cube: xr.Dataset, names: Sequence[str], step: str, path: Path) -> None:
    """Raise MissingSourceError when a later step needs a variable the region lacks.

    Args:
        cube: the opened cube.
        names: variables the step needs (e.g. ``["lst"]`` for any model, ``["label"]`` for training).
        step: the step's name, for the message.
        path: the cube's path, for the message.
    """
    for name in names:
        if name not in cube.data_vars:
            raise MissingSourceError(
                path,
                f"step {step!r} needs {name!r}, but the region cube has no such variable (its sources were absent "
                f"at ingest: {cube.attrs.get('missing_sources', {})})",
                FIX_OF.get(name, "add the missing source to the region's raw folder and run `lithomap ingest` again"),
            )


def centre_lonlat(cube: xr.Dataset) -> tuple[float, float]:
    """Longitude and latitude (WGS84) of the cube's grid centre (where ``solar_time`` is reckoned)."""
    x, y = cube["x"].values, cube["y"].values
    to_wgs84 = Transformer.from_crs(cube.rio.crs, "EPSG:4326", always_xy=True)
    lon, lat = to_wgs84.transform((x[0] + x[-1]) / 2, (y[0] + y[-1]) / 2)
    return float(lon), float(lat)


def cube_daytime(cube: xr.Dataset, min_elevation: float = SUNRISE_ELEVATION_DEG) -> np.ndarray:
    """Daytime flag of each cube date: the sun above ``min_elevation`` degrees at the grid centre."""
    lon, lat = centre_lonlat(cube)
    return is_daytime(cube["time"].values, lat, lon, min_elevation)


def _jsonable(attrs: dict[str, object]) -> dict[str, object]:
    return json.loads(json.dumps(attrs, default=str))
