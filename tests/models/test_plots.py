"""Figures are written as PNG files."""

from __future__ import annotations

import numpy as np

from lithomap.models.plots import plot_confusion, plot_curves, plot_sample

PNG_MAGIC = b"\x89PNG"


def test_figures_are_png_files(tmp_path):
    rng = np.random.default_rng(0)
    cm = rng.integers(0, 20, (14, 14))
    history = {"loss": [2.0, 1.5], "val_loss": [2.1, 1.8], "macro_f1": [0.2, 0.3], "val_macro_f1": [0.1, 0.2]}
    labels = rng.integers(0, 14, (8, 8))
    paths = [
        plot_confusion(cm, tmp_path / "cm.png"),
        plot_curves(history, tmp_path / "curves.png"),
        plot_sample(rng.normal(size=(8, 8)), labels, labels, tmp_path / "figures" / "sample.png"),
    ]
    for path in paths:
        assert path.read_bytes()[:4] == PNG_MAGIC
