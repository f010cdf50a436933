"""Pictures of a split: blocks coloured by split over the label map, class counts per split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.colors import ListedColormap, to_rgb
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from lithomap.atomic import save_figure
from lithomap.classes import all_classes
from lithomap.datasets.split import NONE, SPLITS, SpatialSplit
from lithomap.mapping.legend import show_classes

SPLIT_COLOURS = ("#2e86de", "#f39c12", "#e74c3c")


def draw_split(label: np.ndarray, split: SpatialSplit, path: Path, title: str = "") -> Path:
    """Label map (left) and the same map with blocks tinted by split, buffers grey (right)."""
    fig = Figure(figsize=(15, 6.5))
    axes = fig.subplots(1, 2)
    show_classes(axes[0], label, f"{title} labels")
    axes[1].imshow(
        label, cmap=ListedColormap([c.rgb for c in all_classes()]), vmin=-0.5, vmax=13.5, interpolation="nearest"
    )
    tint = np.zeros((*label.shape, 4))
    for index, colour in enumerate(SPLIT_COLOURS):
        rgb = to_rgb(colour)
        tint[split.pixels == index] = (*rgb, 0.55)
    tint[split.pixels == NONE] = (0.5, 0.5, 0.5, 0.85)
    axes[1].imshow(tint, interpolation="nearest")
    size = split.block_size
    for edge in range(0, max(label.shape) + 1, size):
        axes[1].axhline(edge - 0.5, color="white", linewidth=0.4)
        axes[1].axvline(edge - 0.5, color="white", linewidth=0.4)
    axes[1].set_xlim(-0.5, label.shape[1] - 0.5)
    axes[1].set_ylim(label.shape[0] - 0.5, -0.5)
    axes[1].set_axis_off()
    counts = {name: int((split.blocks == i).sum()) for i, name in enumerate(SPLITS)}
    axes[1].set_title(f"spatial blocks ({size} px), buffer {split.buffer_px} px")
    handles = [Patch(color=c, label=f"{n} ({counts[n]} blocks)") for n, c in zip(SPLITS, SPLIT_COLOURS, strict=True)]
    handles.append(Patch(color="0.5", label="buffer / unused"))
    axes[1].legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    return _save(fig, path)


def draw_class_counts(counts: dict[str, dict[str, int]], path: Path, title: str = "") -> Path:
    """Grouped bars: labelled pixels of each class per split (log scale)."""
    classes = [c for c in all_classes() if c.id > 0 and any(counts[s].get(c.name, 0) for s in SPLITS)]
    fig = Figure(figsize=(max(8, len(classes) * 0.9), 4.5))
    ax = fig.subplots()
    width = 0.8 / len(SPLITS)
    positions = np.arange(len(classes))
    for k, (split, colour) in enumerate(zip(SPLITS, SPLIT_COLOURS, strict=True)):
        values = [max(counts[split].get(c.name, 0), 0) for c in classes]
        ax.bar(positions + (k - 1) * width, values, width, color=colour, label=split)
    ax.set_xticks(positions, [c.name for c in classes], rotation=35, ha="right")
    ax.set_yscale("symlog", linthresh=10)
    ax.set_ylabel("labelled pixels")
    ax.set_title(f"{title}: class counts per split")
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)


def _save(fig: Figure, path: Path) -> Path:
    fig.tight_layout()
    return save_figure(fig, path)


def draw_folds(label: np.ndarray, blocks: np.ndarray, block_size: int, path: Path, title: str = "") -> Path:
    """Label map (left) and the blocks numbered and tinted by cross-validation fold (right)."""
    import matplotlib

    fig = Figure(figsize=(15, 6.5))
    axes = fig.subplots(1, 2)
    show_classes(axes[0], label, f"{title} labels")
    k = int(blocks.max()) + 1
    colours = matplotlib.colormaps["tab10"]
    tint = np.zeros((*blocks.shape, 4))
    for fold in range(k):
        tint[blocks == fold] = (*colours(fold % 10)[:3], 0.9)
    full = np.repeat(np.repeat(tint, block_size, axis=0), block_size, axis=1)[: label.shape[0], : label.shape[1]]
    axes[1].imshow(full, interpolation="nearest")
    for (row, col), fold in np.ndenumerate(blocks):
        if fold >= 0:
            centre = ((col + 0.5) * block_size - 0.5, (row + 0.5) * block_size - 0.5)
            axes[1].text(*centre, str(fold), ha="center", va="center", fontsize=8, color="white")
    axes[1].set_xlim(-0.5, label.shape[1] - 0.5)
    axes[1].set_ylim(label.shape[0] - 0.5, -0.5)
    axes[1].set_axis_off()
    axes[1].set_title(f"{k} cross-validation folds of {block_size} px blocks (each block tested once)")
    handles = [Patch(color=colours(f % 10), label=f"fold {f} ({int((blocks == f).sum())} blocks)") for f in range(k)]
    handles.append(Patch(color="white", label="no labels"))
    axes[1].legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    return _save(fig, path)
