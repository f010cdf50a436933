"""The 14-class colour map and legend used by every class-map picture."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.patches import Patch

from lithomap.classes import N_CLASSES, all_classes


def class_colormap() -> tuple[ListedColormap, BoundaryNorm]:
    """Colour map and norm that draw class id k in the class's own colour."""
    cmap = ListedColormap([c.rgb for c in all_classes()], name="lithomap")
    norm = BoundaryNorm(np.arange(-0.5, N_CLASSES + 0.5), N_CLASSES)
    return cmap, norm


def show_classes(ax: Axes, class_map: np.ndarray, title: str | None = None, legend: bool = True) -> None:
    """Draw a class map with its legend (only the classes present are listed)."""
    cmap, norm = class_colormap()
    ax.imshow(class_map, cmap=cmap, norm=norm, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    if legend:
        add_class_legend(ax, np.unique(class_map))


def add_class_legend(ax: Axes, class_ids: Iterable[int], **kwargs: Any) -> None:
    """Legend patches for the given class ids, beside the axes."""
    classes = all_classes()
    handles = [
        Patch(facecolor=classes[int(i)].rgb, edgecolor="0.3", label=f"{int(i)} {classes[int(i)].label}")
        for i in sorted({int(i) for i in class_ids})
    ]
    options: dict[str, Any] = {"loc": "upper left", "bbox_to_anchor": (1.01, 1.0), "fontsize": 7, "frameon": False}
    options.update(kwargs)
    ax.legend(handles=handles, **options)
