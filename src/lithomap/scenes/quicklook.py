"""Quick-look picture of a generated region: does it look like a landscape?"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from lithomap.atomic import save_figure
from lithomap.classes import all_classes
from lithomap.mapping.legend import show_classes
from lithomap.scenes.acquisitions import Acquisition

SUMMER_DOY = 196
SPRING_DOY = 110


@dataclass
class QuickLookData:
    """Arrays kept while generating, for the quick-look picture."""

    lst: list[np.ndarray] = field(default_factory=list)
    class_mean_lst: list[np.ndarray] = field(default_factory=list)
    vv_db: np.ndarray | None = None
    ndvi: dict[int, np.ndarray] = field(default_factory=dict)
    elevation_m: np.ndarray | None = None
    label_map: np.ndarray | None = None
    """The written (generalised) geology map, when it differs from the truth."""


def draw_quicklook(
    name: str, class_map: np.ndarray, overpasses: Sequence[Acquisition], looks: QuickLookData, path: Path
) -> Path:
    """Geology with legend, a summer-day and a night LST, VV, NDVI, and class diurnal curves.

    A third row shows the DEM and the written geology map beside the truth, when the
    realism effects drew them.
    """
    rows = 3 if looks.elevation_m is not None or looks.label_map is not None else 2
    fig = Figure(figsize=(19, 5.25 * rows))
    axes = fig.subplots(rows, 3)
    show_classes(axes[0, 0], class_map, f"{name}: geology (label truth)")
    day = _pick(overpasses, looks.lst, lambda a: 11 <= a.solar_hour <= 16, SUMMER_DOY)
    night = _pick(overpasses, looks.lst, lambda a: a.solar_hour < 5 or a.solar_hour >= 21, SUMMER_DOY)
    for ax, chosen, label in ((axes[0, 1], day, "day"), (axes[0, 2], night, "night")):
        if chosen is None:
            ax.set_axis_off()
            ax.set_title(f"no {label} overpass")
            continue
        acquisition, lst = chosen
        image = ax.imshow(lst - 273.15, cmap="inferno")
        ax.set_title(f"LST {label}, {acquisition.utc:%Y-%m-%d} {acquisition.solar_hour:.1f} h solar")
        ax.set_axis_off()
        fig.colorbar(image, ax=ax, shrink=0.75, label="°C")
    if looks.vv_db is not None:
        image = axes[1, 0].imshow(looks.vv_db, cmap="gray", vmin=-25, vmax=-3)
        axes[1, 0].set_title("Sentinel-1 VV (dB, with speckle)")
        fig.colorbar(image, ax=axes[1, 0], shrink=0.75, label="dB")
    axes[1, 0].set_axis_off()
    if looks.ndvi:
        doy = min(looks.ndvi, key=lambda d: abs(d - SPRING_DOY))
        image = axes[1, 1].imshow(looks.ndvi[doy], cmap="RdYlGn", vmin=-0.2, vmax=0.9)
        axes[1, 1].set_title(f"Sentinel-2 NDVI, day of year {doy}")
        fig.colorbar(image, ax=axes[1, 1], shrink=0.75)
    axes[1, 1].set_axis_off()
    _diurnal_signatures(axes[1, 2], overpasses, looks.class_mean_lst)
    if rows == 3:
        _realism_row(fig, axes[2], class_map, looks)
    fig.tight_layout()
    return save_figure(fig, path, dpi=80)


def _pick(
    overpasses: Sequence[Acquisition],
    images: Sequence[np.ndarray],
    condition: Callable[[Acquisition], bool],
    target_doy: int,
) -> tuple[Acquisition, np.ndarray] | None:
    """The overpass meeting ``condition`` closest to ``target_doy`` whose image is mostly valid."""
    candidates = [
        (abs(a.doy - target_doy), a, image)
        for a, image in zip(overpasses, images, strict=True)
        if condition(a) and np.isfinite(image).mean() > 0.5
    ]
    if not candidates:
        return None
    _, acquisition, image = min(candidates, key=lambda item: item[0])
    return acquisition, image


def _diurnal_signatures(ax: Axes, overpasses: Sequence[Acquisition], class_means: Sequence[np.ndarray]) -> None:
    """Class-mean LST against local solar time, warm season (May–September) overpasses."""
    warm = [i for i, a in enumerate(overpasses) if 121 <= a.doy <= 273]
    if not warm:
        ax.set_axis_off()
        return
    hours = np.array([overpasses[i].solar_hour for i in warm])
    means = np.array([class_means[i] for i in warm]) - 273.15
    order = np.argsort(hours)
    for c in all_classes():
        if c.id == 0 or not np.isfinite(means[:, c.id]).all():
            continue
        ax.plot(hours[order], means[order, c.id], "o-", color=c.rgb, label=c.name, markersize=3, linewidth=1)
    ax.set_xlabel("local solar time (h)")
    ax.set_ylabel("class-mean LST (°C)")
    ax.set_title("Class-mean LST, May–Sep overpasses")
    ax.set_xlim(0, 24)
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)


def _realism_row(fig: Figure, axes: Sequence[Axes], class_map: np.ndarray, looks: QuickLookData) -> None:
    """DEM (with hillshade), the written geology map, and where it differs from the truth."""
    for ax in axes:
        ax.set_axis_off()
    if looks.elevation_m is not None:
        z = looks.elevation_m
        d_row, d_col = np.gradient(z.astype(np.float64))
        shade = np.clip(0.5 + 0.5 * (d_row - d_col) / max(float(np.hypot(d_row, d_col).max()), 1e-6), 0, 1)
        image = axes[0].imshow(z, cmap="terrain")
        axes[0].imshow(shade, cmap="gray", alpha=0.35)
        axes[0].set_title("DEM (m), resistant units stand high")
        fig.colorbar(image, ax=axes[0], shrink=0.75, label="m")
    if looks.label_map is not None:
        show_classes(axes[1], looks.label_map, "geology as written (generalised map)")
        changed = looks.label_map != class_map
        axes[2].imshow(np.where(changed, 1.0, np.nan), cmap="autumn", vmin=0, vmax=1)
        axes[2].contour(class_map, levels=np.unique(class_map)[:-1] + 0.5, colors="k", linewidths=0.3)
        axes[2].set_title(f"written ≠ truth ({changed.mean():.1%} of pixels), truth contacts in black")
