"""The map picture: class map with the 14-class legend, a scale bar and a north arrow."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import rasterio
from matplotlib.axes import Axes
from rasterio.enums import Resampling

from lithomap.atomic import save_figure
from lithomap.classes import N_CLASSES
from lithomap.mapping.legend import add_class_legend, class_colormap
from lithomap.mapping.writers import bounded_gdal_cache

MAX_PICTURE_PX = 1600
NICE_LENGTHS_M = (100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000)


def read_overview(path: Path, max_px: int = MAX_PICTURE_PX) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """A class raster read at most ``max_px`` on a side (nearest), and its extent in map units."""
    with bounded_gdal_cache(), rasterio.open(path) as source:
        factor = max(1, int(np.ceil(max(source.height, source.width) / max_px)))
        out_shape = (source.height // factor or 1, source.width // factor or 1)
        array = source.read(1, out_shape=out_shape, resampling=Resampling.nearest)
        left, bottom, right, top = source.bounds
    return array, (left, right, bottom, top)


def scale_length(width_m: float) -> float:
    """A round scale-bar length close to a fifth of the map's width."""
    target = width_m / 5
    return max((length for length in NICE_LENGTHS_M if length <= target), default=NICE_LENGTHS_M[0])


def add_scale_bar(ax: Axes, extent: tuple[float, float, float, float]) -> None:
    """A black-and-white bar in the lower-left corner, labelled in m or km (projected CRS)."""
    left, right, bottom, top = extent
    length = scale_length(right - left)
    x0, y0 = left + 0.04 * (right - left), bottom + 0.05 * (top - bottom)
    height = 0.012 * (top - bottom)
    for part in range(2):
        ax.add_patch(
            plt.Rectangle(
                (x0 + part * length / 2, y0),
                length / 2,
                height,
                facecolor="black" if part == 0 else "white",
                edgecolor="black",
                linewidth=0.8,
            )
        )
    label = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    ax.text(
        x0 + length / 2,
        y0 + 1.8 * height,
        label,
        ha="center",
        va="bottom",
        fontsize=8,
        bbox={"facecolor": "white", "alpha": 0.7, "edgecolor": "none", "pad": 1},
    )


def add_north_arrow(ax: Axes) -> None:
    """A north arrow in the upper-right corner (grid north: rows run north to south)."""
    ax.annotate(
        "N",
        xy=(0.94, 0.95),
        xytext=(0.94, 0.83),
        xycoords="axes fraction",
        ha="center",
        va="center",
        fontsize=11,
        fontweight="bold",
        arrowprops={"facecolor": "black", "width": 4, "headwidth": 11},
        bbox={"facecolor": "white", "alpha": 0.7, "edgecolor": "none", "pad": 1},
    )


def class_colours(array: np.ndarray) -> np.ndarray:
    """(h, w, 4) uint8 RGBA of a class raster in the class colours, no data (0) transparent.

    The pixels ``imshow`` draws from the class ids with the class colour map, without the
    float copies of the image it makes on the way.
    """
    cmap, norm = class_colormap()
    rgba = cmap(norm(array), bytes=True)
    rgba[array == 0] = 0
    return rgba


def draw_map(classes_path: Path, destination: Path, title: str) -> Path:
    """Write the PNG of a class raster with the full legend, scale bar and north arrow."""
    array, extent = read_overview(classes_path)
    figure, ax = plt.subplots(figsize=(9, 6.5))
    ax.imshow(class_colours(array), interpolation="nearest", extent=extent)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("easting (m)", fontsize=8)
    ax.set_ylabel("northing (m)", fontsize=8)
    ax.tick_params(labelsize=7)
    add_scale_bar(ax, extent)
    add_north_arrow(ax)
    add_class_legend(ax, range(N_CLASSES))
    return save_figure(figure, destination, dpi=110, bbox_inches="tight")
