"""Geological landscapes: a class map with shapes a geologist would recognise.

The map is painted unit by unit, each from a smooth "score" field, taking the pixels with
the highest score until the unit covers its share of the configured class mix:

- water: a meandering river with a reservoir on it;
- background: a town (mapped as "Sin datos");
- peat: wetland patches near the river;
- sand and silt: alluvium along the valley (sand nearest the channel);
- volcanic: a field of small vents and flows (as in Campo de Calatrava);
- plutonic: one to three large intrusions with irregular margins;
- clay, loam, chalk: Tertiary basin fill, in patches;
- detritic, carbonate, foliated, non-foliated: folded bedrock bands, repeating across
  the fold train.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from affine import Affine
from pyproj import Transformer
from rasterio.crs import CRS

from lithomap.classes import class_id_of
from lithomap.errors import ConfigError
from lithomap.io.grid import RegionGrid
from lithomap.scenes.fields import gaussian_random_field, quantile_mask

STYLE_OF_CLASS: Mapping[str, str] = {
    "water": "water",
    "background": "town",
    "peat": "wetland",
    "sand": "alluvium",
    "silt": "alluvium",
    "volcanic": "vents",
    "plutonic": "pluton",
    "clay": "basin",
    "loam": "basin",
    "chalk": "basin",
    "detritic": "bands",
    "carbonate": "bands",
    "foliated": "bands",
    "non_foliated": "bands",
}
PAINT_ORDER: Sequence[str] = ("water", "town", "wetland", "alluvium", "vents", "pluton", "basin", "bands")
FOLD_CYCLES = 3


def scene_grid(centre_lon: float, centre_lat: float, epsg: int, side_m: float, resolution: float) -> RegionGrid:
    """A square grid of side ``side_m`` centred on a geographic point, snapped to the pixel size."""
    to_utm = Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True)
    x, y = to_utm.transform(centre_lon, centre_lat)
    n = int(np.ceil(side_m / resolution - 1e-9))
    xmin = np.floor((x - n * resolution / 2) / resolution) * resolution
    ymax = np.floor((y + n * resolution / 2) / resolution) * resolution
    return RegionGrid(CRS.from_epsg(epsg), Affine(resolution, 0, xmin, 0, -resolution, ymax), n, n)


def paint_class_map(grid: RegionGrid, class_mix: Mapping[str, float], rng: np.random.Generator) -> np.ndarray:
    """Draw the class map (uint8 ids) of a scene with the given area shares.

    Args:
        grid: the grid to paint on (metres).
        class_mix: class name → relative area; normalised here.
        rng: random generator; the same seed gives the same map.
    """
    shares = _normalised_mix(class_mix)
    shape = (grid.height, grid.width)
    metres = _LocalFrame(grid, rng)
    class_map = np.zeros(shape, dtype=np.uint8)
    free = np.ones(shape, dtype=bool)
    for style in PAINT_ORDER:
        members = [name for name in shares if STYLE_OF_CLASS[name] == style]
        total = sum(shares[name] for name in members)
        if total <= 0:
            continue
        score = _SCORES[style](metres, rng, total)
        unit = free.copy() if style == "bands" else quantile_mask(score, free, total)
        cycles = FOLD_CYCLES if style == "bands" else 1
        ids = [class_id_of(name) for name in members]
        class_map[unit] = _split_by_rank(score[unit], ids, [shares[name] for name in members], cycles)
        free &= ~unit
    return class_map


def _normalised_mix(class_mix: Mapping[str, float]) -> dict[str, float]:
    unknown = sorted(set(class_mix) - set(STYLE_OF_CLASS))
    if unknown:
        raise ConfigError(f"class_mix names unknown classes {unknown}; valid names are {sorted(STYLE_OF_CLASS)}")
    total = float(sum(class_mix.values()))
    if total <= 0 or any(value < 0 for value in class_mix.values()):
        raise ConfigError("class_mix weights must be non-negative and not all zero")
    return {name: value / total for name, value in class_mix.items() if value > 0}


def _split_by_rank(score: np.ndarray, ids: Sequence[int], weights: Sequence[float], cycles: int) -> np.ndarray:
    """Give each pixel a class by the rank of its score: contiguous score ranges per class."""
    if len(ids) == 1:
        return np.full(score.shape, ids[0], dtype=np.uint8)
    rank = np.empty(score.size)
    rank[np.argsort(score, kind="stable")] = np.arange(score.size) / max(score.size, 1)
    position = (rank * cycles) % 1.0
    edges = np.cumsum(weights) / np.sum(weights)
    index = np.minimum(np.searchsorted(edges, position, side="right"), len(ids) - 1)
    return np.asarray(ids, dtype=np.uint8)[index]


class _LocalFrame:
    """Pixel-centre coordinates in metres from the scene's upper-left corner, plus a river."""

    def __init__(self, grid: RegionGrid, rng: np.random.Generator) -> None:
        self.grid = grid
        self.res = grid.resolution
        self.side = max(grid.width, grid.height) * self.res
        cols = (np.arange(grid.width) + 0.5) * self.res
        rows = (np.arange(grid.height) + 0.5) * self.res
        self.x, self.y = np.meshgrid(cols, rows)
        angle = rng.uniform(-0.5, 0.5)
        centre = self.side / 2
        self.u = (self.x - centre) * np.cos(angle) + (self.y - centre) * np.sin(angle)
        self.v = -(self.x - centre) * np.sin(angle) + (self.y - centre) * np.cos(angle)
        wavelength = rng.uniform(0.35, 0.6) * self.side
        amplitude = rng.uniform(0.06, 0.12) * self.side
        offset = rng.uniform(-0.15, 0.15) * self.side
        phase = rng.uniform(0, 2 * np.pi)
        self.river_v = offset + amplitude * np.sin(2 * np.pi * self.u / wavelength + phase)
        self.distance_to_river = np.abs(self.v - self.river_v)
        self.reservoir_u = rng.uniform(-0.25, 0.25) * self.side

    def field(self, length_m: float, rng: np.random.Generator) -> np.ndarray:
        return gaussian_random_field(self.x.shape, length_m / self.res, rng)

    def blobs(self, count: int, radius_m: tuple[float, float], rng: np.random.Generator) -> np.ndarray:
        """Sum of Gaussian bumps at random places (height 1 at each centre)."""
        total = np.zeros_like(self.x)
        for _ in range(count):
            cx, cy = rng.uniform(0.1, 0.9, size=2) * self.side
            radius = rng.uniform(*radius_m)
            squash = rng.uniform(0.6, 1.0)
            total = np.maximum(
                total, np.exp(-(((self.x - cx) / radius) ** 2 + ((self.y - cy) / (radius * squash)) ** 2))
            )
        return total


def _water(frame: _LocalFrame, rng: np.random.Generator, share: float) -> np.ndarray:
    reservoir_v = frame.river_v
    stretch = rng.uniform(1.5, 2.5)
    to_reservoir = np.hypot((frame.u - frame.reservoir_u) / stretch, frame.v - reservoir_v)
    return -np.minimum(frame.distance_to_river * 8.0, to_reservoir)


def _town(frame: _LocalFrame, rng: np.random.Generator, share: float) -> np.ndarray:
    cx, cy = rng.uniform(0.2, 0.8, size=2) * frame.side
    return -np.hypot(frame.x - cx, frame.y - cy) + 300.0 * frame.field(400.0, rng)


def _wetland(frame: _LocalFrame, rng: np.random.Generator, share: float) -> np.ndarray:
    return 600.0 * frame.field(300.0, rng) - frame.distance_to_river


def _alluvium(frame: _LocalFrame, rng: np.random.Generator, share: float) -> np.ndarray:
    return -frame.distance_to_river + 500.0 * frame.field(1500.0, rng)


def _vents(frame: _LocalFrame, rng: np.random.Generator, share: float) -> np.ndarray:
    count = int(rng.integers(8, 15))
    radius = _blob_radius(frame, share, count)
    return frame.blobs(count, (0.6 * radius, 1.4 * radius), rng) + 0.08 * frame.field(300.0, rng)


def _pluton(frame: _LocalFrame, rng: np.random.Generator, share: float) -> np.ndarray:
    count = int(rng.integers(1, 4))
    radius = _blob_radius(frame, share, count)
    return frame.blobs(count, (0.8 * radius, 1.2 * radius), rng) + 0.1 * frame.field(800.0, rng)


def _blob_radius(frame: _LocalFrame, share: float, count: int) -> float:
    """Radius (m) of ``count`` Gaussian bumps whose cores together cover about twice ``share``."""
    return float(np.sqrt(2.0 * share * frame.side**2 / (count * np.pi)))


def _basin(frame: _LocalFrame, rng: np.random.Generator, share: float) -> np.ndarray:
    trend = rng.uniform(-1, 1, size=2) / frame.side
    return frame.field(4000.0, rng) + 1.5 * (trend[0] * frame.x + trend[1] * frame.y) + 0.3 * frame.field(900.0, rng)


def _bands(frame: _LocalFrame, rng: np.random.Generator, share: float) -> np.ndarray:
    wavelength = rng.uniform(0.4, 0.7) * frame.side
    amplitude = rng.uniform(0.05, 0.1) * frame.side
    phase = rng.uniform(0, 2 * np.pi)
    return frame.u + amplitude * np.sin(2 * np.pi * frame.v / wavelength + phase) + 250.0 * frame.field(2000.0, rng)


_SCORES = {
    "water": _water,
    "town": _town,
    "wetland": _wetland,
    "alluvium": _alluvium,
    "vents": _vents,
    "pluton": _pluton,
    "basin": _basin,
    "bands": _bands,
}
