"""Evaluation figures: confusion matrix, training curves and a sample prediction.

Drawn with matplotlib's object API (``matplotlib.figure.Figure``), which needs no
interactive backend, and saved atomically.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from lithomap.atomic import save_figure
from lithomap.classes import all_classes


def _save(figure: Any, path: str | Path) -> Path:
    return save_figure(figure, Path(path), dpi=110, bbox_inches="tight")


def plot_confusion(
    cm: np.ndarray,
    path: str | Path,
    class_names: Sequence[str] | None = None,
    ignore_index: int | None = 0,
    title: str = "Confusion matrix (row-normalised)",
) -> Path:
    """Heatmap of the confusion matrix normalised by row (recall on the diagonal).

    Args:
        cm: (K, K) confusion matrix, rows = reference.
        path: PNG file to write.
        class_names: K names (default: the 14 lithomap classes).
        ignore_index: class whose row and column are dropped from the figure.
        title: figure title.

    Returns:
        The path written.
    """
    matrix = np.asarray(cm, dtype=np.float64)
    names = list(class_names or [c.name for c in all_classes()][: matrix.shape[0]])
    keep = [i for i in range(matrix.shape[0]) if i != ignore_index]
    matrix = matrix[np.ix_(keep, keep)]
    names = [names[i] for i in keep]
    rows = matrix.sum(axis=1, keepdims=True)
    normalised = np.divide(matrix, rows, out=np.zeros_like(matrix), where=rows > 0)
    size = 0.45 * len(keep) + 2
    figure = Figure(figsize=(size + 1, size))
    axis = figure.subplots()
    image = axis.imshow(normalised, cmap="Blues", vmin=0, vmax=1)
    axis.set_xticks(range(len(keep)), names, rotation=60, ha="right")
    axis.set_yticks(range(len(keep)), [f"{n} ({int(r)})" for n, r in zip(names, rows[:, 0], strict=True)])
    axis.set_xlabel("predicted")
    axis.set_ylabel("reference (support)")
    for i, j in zip(*np.nonzero(normalised >= 0.005), strict=True):
        colour = "white" if normalised[i, j] > 0.5 else "black"
        axis.text(j, i, f"{normalised[i, j]:.2f}", ha="center", va="center", fontsize=6, color=colour)
    figure.colorbar(image, ax=axis, fraction=0.046)
    axis.set_title(title)
    return _save(figure, path)


def plot_curves(history: Mapping[str, Sequence[float]], path: str | Path, metric: str = "macro_f1") -> Path:
    """Loss and ``metric`` per epoch, training against validation (Keras history keys).

    Args:
        history: ``History.history``: ``loss``, ``val_loss``, ``macro_f1``, ``val_macro_f1``.
        path: PNG file to write.
        metric: the second panel's metric.

    Returns:
        The path written.
    """
    figure = Figure(figsize=(10, 4))
    axes = figure.subplots(1, 2)
    for axis, key in zip(axes, ("loss", metric), strict=True):
        for prefix, style in (("", "-"), ("val_", "--")):
            values = history.get(prefix + key)
            if values:
                epochs = np.arange(1, len(values) + 1)
                axis.plot(epochs, values, style, marker="o", markersize=3, label="validation" if prefix else "training")
        axis.set_xlabel("epoch")
        axis.set_ylabel(key)
        axis.grid(alpha=0.3)
        axis.legend()
    return _save(figure, path)


def plot_sample(
    image: np.ndarray,
    labels: np.ndarray,
    predicted: np.ndarray,
    path: str | Path,
    image_title: str = "input",
) -> Path:
    """One patch: an input channel, the reference and the predicted classes in legend colours.

    Args:
        image: (H, W) input channel to show (e.g. mean LST).
        labels: (H, W) reference class ids.
        predicted: (H, W) predicted class ids.
        path: PNG file to write.
        image_title: title of the input panel.

    Returns:
        The path written.
    """
    classes = all_classes()
    colours = ListedColormap([c.rgb for c in classes])
    figure = Figure(figsize=(12, 4.5))
    axes = figure.subplots(1, 3)
    axes[0].imshow(image, cmap="inferno")
    axes[0].set_title(image_title)
    for axis, data, title in ((axes[1], labels, "reference"), (axes[2], predicted, "predicted")):
        axis.imshow(data, cmap=colours, vmin=0, vmax=len(classes) - 1, interpolation="nearest")
        axis.set_title(title)
    for axis in axes:
        axis.set_axis_off()
    shown = np.union1d(np.unique(labels), np.unique(predicted)).astype(int)
    handles = [Patch(color=classes[i].rgb, label=classes[i].name) for i in shown if 0 <= i < len(classes)]
    figure.legend(handles=handles, loc="lower center", ncol=min(len(handles), 7), fontsize=8)
    return _save(figure, path)
