"""Seam index on hand-made maps (the trained-model comparison is in test_map.py)."""

from __future__ import annotations

import numpy as np
import pytest

from lithomap.mapping.seams import seam_index


def test_random_map_scores_about_one():
    classes = np.random.default_rng(0).integers(1, 4, size=(128, 128))
    assert seam_index(classes, spacing=16) == pytest.approx(1.0, abs=0.1)


def test_tiles_of_different_classes_score_high_and_the_offset_matters():
    rng = np.random.default_rng(1)
    blobs = np.repeat(np.repeat(rng.integers(0, 2, size=(26, 26)), 5, axis=0), 5, axis=1)[1:129, 2:130]
    tiles = np.kron(rng.integers(1, 5, size=(8, 8)), np.ones((16, 16), dtype=int))
    seamed = tiles * 2 + blobs  # classes change inside tiles (5-px blobs) and at every tile edge
    assert seam_index(seamed, spacing=16) > 2.0
    assert seam_index(seamed, spacing=16, offset=(8, 8)) < seam_index(seamed, spacing=16)


def test_invalid_pixels_are_ignored_and_a_uniform_map_is_nan():
    classes = np.kron(np.arange(16).reshape(4, 4) % 3 + 1, np.ones((8, 8), dtype=int))
    valid = np.zeros(classes.shape, dtype=bool)
    assert np.isnan(seam_index(classes, spacing=8, valid=valid))
    assert np.isnan(seam_index(np.ones((32, 32), dtype=int), spacing=8))
