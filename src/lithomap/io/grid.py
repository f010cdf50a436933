"""The region grid: one CRS, one north-up transform and one shape for every source.

A grid comes from ``RegionParams`` (CRS, resolution and bounds) or, when the bounds are
null, from the union of the thermal footprints reprojected to the region CRS and snapped
outward to whole multiples of the resolution, counted from an anchor: the origin of a
source already on the region CRS and resolution (so a Landsat 30 m grid is kept, not
shifted half a pixel), else 0. Footprints far from the others (:func:`outlying`, e.g. one
file 60° away) are left out. The grid is processed window by window:
:meth:`RegionGrid.windows` yields windows aligned to the cube's chunks, so memory depends
on the window side, never on the region size.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from affine import Affine
from pyproj import Transformer
from rasterio._err import CPLE_BaseError
from rasterio.crs import CRS
from rasterio.errors import CRSError
from rasterio.transform import from_origin
from rasterio.warp import transform_bounds
from rasterio.windows import Window

from lithomap.errors import ConfigError, InputDataError

Bounds = tuple[float, float, float, float]


@dataclass(frozen=True)
class RegionGrid:
    """A north-up raster grid over a region: the grid of its cube, or a finer grid the generator paints on.

    Attributes:
        crs: the grid's CRS.
        transform: affine transform of the upper-left corner.
        width: number of columns.
        height: number of rows.
    """

    crs: CRS
    transform: Affine
    width: int
    height: int

    @classmethod
    def from_bounds(
        cls,
        crs: str | CRS,
        resolution: float,
        bounds: Bounds,
        snap: bool = False,
        anchor: tuple[float, float] = (0.0, 0.0),
    ) -> RegionGrid:
        """Grid covering ``bounds`` in ``crs``.

        Args:
            crs: target CRS.
            resolution: pixel size in CRS units.
            bounds: xmin, ymin, xmax, ymax.
            snap: widen the bounds outward to whole multiples of the resolution counted from
                ``anchor`` (an aligned grid); otherwise the grid starts at (xmin, ymax) and only
                the width and height are rounded up to whole pixels.
            anchor: a point on the pixel corners of the snapped grid.

        Raises:
            ConfigError: the CRS is unknown or the bounds are empty.
        """
        target = parse_crs(crs)
        if bounds[2] <= bounds[0] or bounds[3] <= bounds[1]:
            raise ConfigError(f"region bounds {bounds} are empty; give xmin < xmax and ymin < ymax")
        xmin, ymin, xmax, ymax = snap_bounds(bounds, resolution, anchor) if snap else bounds
        eps = 1e-6
        width = max(1, math.ceil((xmax - xmin) / resolution - eps))
        height = max(1, math.ceil((ymax - ymin) / resolution - eps))
        return cls(target, from_origin(xmin, ymax, resolution, resolution), width, height)

    @classmethod
    def from_footprints(
        cls,
        crs: str | CRS,
        resolution: float,
        footprints: Iterable[tuple[Path, CRS, Bounds]],
        anchor: tuple[float, float] = (0.0, 0.0),
    ) -> RegionGrid:
        """Grid covering the union of source footprints, each given as (file, its CRS, its bounds).

        Args:
            crs: target CRS.
            resolution: pixel size in CRS units.
            footprints: (file, its CRS, its bounds) of each source.
            anchor: a pixel corner of the grid (a source's origin keeps its pixel grid).

        Raises:
            InputDataError: a footprint's CRS cannot be transformed to ``crs``.
        """
        target = parse_crs(crs)
        boxes = [reproject_bounds(path, src_crs, bounds, target) for path, src_crs, bounds in footprints]
        return cls.from_bounds(target, resolution, union_bounds(boxes), snap=True, anchor=anchor)

    @property
    def pixels(self) -> int:
        return self.width * self.height

    @property
    def resolution(self) -> float:
        return float(self.transform.a)

    @property
    def shape(self) -> tuple[int, int]:
        return self.height, self.width

    @property
    def bounds(self) -> Bounds:
        left, top = self.transform.c, self.transform.f
        return left, top - self.height * self.resolution, left + self.width * self.resolution, top

    def x_coords(self) -> np.ndarray:
        """Pixel-centre x coordinates."""
        return self.transform.c + (np.arange(self.width) + 0.5) * self.transform.a

    def y_coords(self) -> np.ndarray:
        """Pixel-centre y coordinates (decreasing)."""
        return self.transform.f + (np.arange(self.height) + 0.5) * self.transform.e

    def centre_lonlat(self) -> tuple[float, float]:
        """Longitude and latitude (WGS84) of the grid centre."""
        xmin, ymin, xmax, ymax = self.bounds
        to_wgs84 = Transformer.from_crs(self.crs, "EPSG:4326", always_xy=True)
        lon, lat = to_wgs84.transform((xmin + xmax) / 2, (ymin + ymax) / 2)
        return float(lon), float(lat)

    def resampled(self, resolution: float) -> RegionGrid:
        """The grid covering the same extent (or just more) at another pixel size."""
        return RegionGrid.from_bounds(self.crs, resolution, self.bounds)

    def windows(self, side: int) -> Iterator[Window]:
        """Windows of ``side`` × ``side`` pixels (smaller at the right and bottom edges), row by row."""
        for row in range(0, self.height, side):
            for col in range(0, self.width, side):
                yield Window(col, row, min(side, self.width - col), min(side, self.height - row))

    def window_transform(self, window: Window) -> Affine:
        return self.transform @ Affine.translation(window.col_off, window.row_off)

    def window_bounds(self, window: Window) -> Bounds:
        left, top = self.window_transform(window) @ (0, 0)
        res = self.resolution
        return left, top - window.height * res, left + window.width * res, top

    def overlaps(self, path: Path, src_crs: CRS, src_bounds: Bounds) -> bool:
        """Whether the footprint of the file at ``path`` (in its own CRS) intersects the grid.

        Raises:
            InputDataError: the file's CRS cannot be transformed to the grid's.
        """
        xmin, ymin, xmax, ymax = reproject_bounds(path, src_crs, src_bounds, self.crs)
        gxmin, gymin, gxmax, gymax = self.bounds
        return xmin < gxmax and xmax > gxmin and ymin < gymax and ymax > gymin

    def check_overlap(self, path: Path, src_crs: CRS, src_bounds: Bounds) -> None:
        """Raise InputDataError when the raster at ``path`` lies outside the grid or its CRS cannot be transformed."""
        if not self.overlaps(path, src_crs, src_bounds):
            raise InputDataError(
                path,
                f"the raster (bounds {tuple(round(b, 5) for b in src_bounds)} in {src_crs}) does not overlap the "
                f"region grid (bounds {tuple(round(b, 1) for b in self.bounds)} in {self.crs})",
                "move the file to the folder of the region it covers, or widen the region bounds in params.yaml",
            )

    def describe(self) -> dict[str, object]:
        """Plain description (for reports and cube attributes)."""
        return {
            "crs": self.crs.to_string(),
            "resolution": self.resolution,
            "width": self.width,
            "height": self.height,
            "bounds": list(self.bounds),
        }


def reproject_bounds(path: Path, src_crs: CRS, bounds: Bounds, dst_crs: CRS) -> Bounds:
    """``bounds`` given in ``src_crs`` as bounds in ``dst_crs`` (one of the two is the CRS of the file at ``path``).

    Raises:
        InputDataError: PROJ knows no coordinate operation between the two CRS (a CRS of
            another body, a local engineering CRS, a broken definition): the message says
            so instead of calling the file "outside the region".
    """
    try:
        return transform_bounds(src_crs, dst_crs, *bounds, densify_pts=21)
    except (CRSError, CPLE_BaseError) as exc:
        reason = str(exc).splitlines()[0][:200]
        raise InputDataError(
            path,
            f"PROJ finds no transformation between {_crs_name(src_crs)} and {_crs_name(dst_crs)}, so the file's "
            f"CRS cannot be put on the region grid ({reason})",
            "assign the CRS the file really has (`gdal_edit.py -a_srs EPSG:xxxx FILE`), or reproject it to an Earth "
            "CRS first (`gdalwarp -t_srs EPSG:4326 FILE OUT`)",
        ) from exc


def _crs_name(crs: CRS | str) -> str:
    """A short name of a CRS for messages (its authority code, else its name)."""
    parsed = crs if isinstance(crs, CRS) else CRS.from_user_input(crs)
    authority = parsed.to_authority()
    if authority:
        return ":".join(authority)
    return parsed.wkt.split('"')[1] if '"' in parsed.wkt else parsed.to_string()  # the WKT's name


def snap_bounds(bounds: Bounds, resolution: float, anchor: tuple[float, float] = (0.0, 0.0)) -> Bounds:
    """Bounds widened outward to whole multiples of ``resolution`` counted from ``anchor``."""
    xmin, ymin, xmax, ymax = bounds
    x0, y0 = anchor
    eps = 1e-9
    return (
        x0 + math.floor((xmin - x0) / resolution + eps) * resolution,
        y0 + math.floor((ymin - y0) / resolution + eps) * resolution,
        x0 + math.ceil((xmax - x0) / resolution - eps) * resolution,
        y0 + math.ceil((ymax - y0) / resolution - eps) * resolution,
    )


def union_bounds(boxes: Iterable[Bounds]) -> Bounds:
    """The smallest bounds holding every box."""
    listed = list(boxes)
    return (
        min(b[0] for b in listed),
        min(b[1] for b in listed),
        max(b[2] for b in listed),
        max(b[3] for b in listed),
    )


def outlying(boxes: list[Bounds]) -> list[bool]:
    """Which boxes lie apart from the main group (e.g. one file 60° away from the others).

    Boxes are grouped when they come within one median box side of each other (so a
    mosaic of adjacent tiles is one group); every box outside the group holding most
    boxes is outlying. With fewer than three boxes none is (two cannot outvote each other).
    """
    if len(boxes) < 3:
        return [False] * len(boxes)
    array = np.asarray(boxes, dtype=np.float64)
    gap = float(np.median(np.maximum(array[:, 2] - array[:, 0], array[:, 3] - array[:, 1]))) / 2
    grown = array + np.array([-gap, -gap, gap, gap])
    group = list(range(len(boxes)))

    def root(i: int) -> int:
        while group[i] != i:
            group[i] = group[group[i]]
            i = group[i]
        return i

    for i in range(len(boxes)):
        near = (
            (grown[i, 0] <= grown[:, 2])
            & (grown[:, 0] <= grown[i, 2])
            & (grown[i, 1] <= grown[:, 3])
            & (grown[:, 1] <= grown[i, 3])
        )
        for j in np.flatnonzero(near):
            group[root(int(j))] = root(i)
    roots = [root(i) for i in range(len(boxes))]
    main = max(set(roots), key=lambda r: (roots.count(r), -roots.index(r)))
    return [r != main for r in roots]


def parse_crs(crs: str | CRS) -> CRS:
    """A rasterio CRS from a user string, or ConfigError naming the value."""
    if isinstance(crs, CRS):
        return crs
    try:
        return CRS.from_user_input(crs)
    except CRSError as exc:
        raise ConfigError(f"region crs {crs!r} is not a known CRS ({exc}); use e.g. 'EPSG:32630'") from exc
