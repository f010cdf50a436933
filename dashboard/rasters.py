"""Map layers for display: downsampled reads of GeoTIFFs and cube layers, colours, outlines.

Rasters are read at a reduced size (GDAL decimated reads of the overviews a COG carries;
strided reads of the zarr cube), never whole, and the results are cached by the pages
under the file's content hash (``file_digest``).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from matplotlib import colormaps
from rasterio.enums import Resampling
from rasterio.errors import RasterioIOError
from scipy import ndimage

from dashboard.sources import DashboardDataError
from lithomap.classes import all_classes

MAP_FILES = ("classes.tif", "probabilities.tif", "confidence.tif", "margin.tif", "difference.tif", "map.gpkg")
TEST_SPLIT = 2
"""Split id of test pixels in ``split.npz`` (``lithomap.datasets.split.TEST``)."""
OUTLINE_RGB = (0, 0, 0)


@dataclass(frozen=True)
class MapRun:
    """One ``maps/<region>/<model>-<experiment>/`` folder of ``lithomap map``."""

    region: str
    name: str
    folder: Path
    meta: dict

    @property
    def alias(self) -> str | None:
        return self.meta.get("alias")

    @property
    def promoted(self) -> bool:
        """False only for a map whose map.json says its model was not promoted (older maps: True)."""
        return self.meta.get("promoted") is not False


def map_label(run: MapRun) -> str:
    """``cnn-thermal (champion)``, ``cnn-thermal (not promoted)`` or the folder name."""
    if not run.promoted:
        return f"{run.name} (not promoted)"
    return f"{run.name} (champion)" if run.alias == "champion" else run.name


def file_digest(path: Path) -> str:
    """SHA-256 of a file's content (read in chunks), or of a folder's file names, sizes and times."""
    digest = hashlib.sha256()
    if path.is_dir():
        for item in sorted(path.rglob("*")):
            if item.is_file():
                stat = item.stat()
                digest.update(f"{item.relative_to(path)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
        return digest.hexdigest()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def map_runs(maps_dir: Path, region: str) -> list[MapRun]:
    """The map folders of a region (those with a class map), sorted by name."""
    found = []
    for folder in sorted((maps_dir / region).glob("*")):
        if not (folder / "classes.tif").is_file():
            continue
        meta_path = folder / "map.json"
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
        except (OSError, json.JSONDecodeError):
            meta = {}
        found.append(MapRun(region=region, name=folder.name, folder=folder, meta=meta))
    return found


def default_map(runs: list[MapRun], champion_names: list[str]) -> int:
    """Index of the map to show first: the champion's (by alias, else by name), else the first."""
    for index, run in enumerate(runs):
        if run.alias == "champion":
            return index
    for index, run in enumerate(runs):
        if run.name in champion_names:
            return index
    return 0


def step_for(shape: tuple[int, int], max_px: int) -> int:
    """The decimation step that brings the longer side to at most ``max_px``."""
    return max(1, math.ceil(max(shape) / max_px))


def read_band(path: Path, max_px: int, band: int = 1) -> np.ndarray:
    """One band at reduced size (nearest), float with NaN for no data.

    Raises:
        DashboardDataError: the file cannot be read as a raster.
    """
    try:
        with rasterio.open(path) as source:
            step = step_for((source.height, source.width), max_px)
            shape = (math.ceil(source.height / step), math.ceil(source.width / step))
            data = source.read(band, out_shape=shape, resampling=Resampling.nearest, masked=True)
    except (RasterioIOError, IndexError, ValueError) as error:
        raise DashboardDataError(f"{path}: not a readable raster ({error}); run `lithomap map` again") from error
    return np.ma.filled(data.astype(np.float32), np.nan)


def read_cube_layers(cube_path: Path, max_px: int) -> dict[str, np.ndarray]:
    """``label`` and ``ndvi`` of a region cube, strided to at most ``max_px`` a side (absent ones left out)."""
    import xarray as xr

    if not cube_path.exists():
        return {}
    try:
        cube = xr.open_zarr(cube_path)
    except (OSError, ValueError, KeyError) as error:
        raise DashboardDataError(f"{cube_path}: not a readable cube ({error}); run `lithomap ingest` again") from error
    layers = {}
    for name in ("label", "ndvi"):
        if name in cube and cube[name].ndim == 2:
            step = step_for(cube[name].shape, max_px)
            layers[name] = cube[name][::step, ::step].values.astype(np.float32)
    return layers


def read_test_pixels(split_path: Path, max_px: int) -> np.ndarray | None:
    """Boolean mask of the test pixels of the region's split, strided like the other layers."""
    if not split_path.is_file():
        return None
    try:
        with np.load(split_path) as split:
            pixels = split["pixels"]
    except (OSError, KeyError, ValueError) as error:
        raise DashboardDataError(f"{split_path}: not a readable split ({error}); run `lithomap split` again") from error
    step = step_for(pixels.shape, max_px)
    return pixels[::step, ::step] == TEST_SPLIT


def outline(mask: np.ndarray) -> np.ndarray:
    """The border pixels of the True areas of ``mask``."""
    return mask & ~ndimage.binary_erosion(mask, border_value=0)


def class_rgb(classes: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 picture of a class-id raster in the class colours (NaN → white)."""
    palette = np.array([[round(255 * v) for v in c.rgb] for c in all_classes()], dtype=np.uint8)
    valid = np.isfinite(classes)
    ids = np.clip(np.where(valid, classes, 0), 0, len(palette) - 1).astype(np.int64)
    picture = palette[ids]
    picture[~valid] = 255
    return picture


def scalar_rgb(values: np.ndarray, colormap: str, low: float, high: float) -> np.ndarray:
    """(H, W, 3) uint8 picture of a continuous raster (NaN → white)."""
    scaled = np.clip((values - low) / (high - low), 0, 1)
    picture = (colormaps[colormap](np.nan_to_num(scaled))[..., :3] * 255).astype(np.uint8)
    picture[~np.isfinite(values)] = 255
    return picture


def with_outline(picture: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """A copy of ``picture`` with the border of ``mask`` drawn in black."""
    if mask is None or mask.shape != picture.shape[:2]:
        return picture
    drawn = picture.copy()
    drawn[outline(mask)] = OUTLINE_RGB
    return drawn


def blend(base: np.ndarray, top: np.ndarray, opacity: float) -> np.ndarray:
    """``top`` laid over ``base`` with the given opacity (0 = base only, 1 = top only)."""
    if base.shape != top.shape:
        return top
    mixed = (1 - opacity) * base.astype(np.float32) + opacity * top.astype(np.float32)
    return mixed.round().astype(np.uint8)


def classes_present(*rasters: np.ndarray) -> list[int]:
    """Sorted class ids found in the given class rasters (NaN ignored)."""
    found: set[int] = set()
    for raster in rasters:
        values = raster[np.isfinite(raster)]
        found.update(int(v) for v in np.unique(values))
    return sorted(found)
