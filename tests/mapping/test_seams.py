"""Seam index on hand-made maps (the trained-model comparison is in test_map.py)."""

from __future__ import annotations

import numpy as np
import pytest

from lithomap.mapping.seams import SeamReport, seam_index, seam_profile


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


def _whole_map_index(classes: np.ndarray, spacing: int, offset: tuple[int, int], valid: np.ndarray) -> float:
    """The index from whole-map pair arrays (what ``seam_index`` computed before it went band by band)."""
    counts = np.zeros(4)
    for axis in (0, 1):
        first = classes[:-1] if axis == 0 else classes[:, :-1]
        second = classes[1:] if axis == 0 else classes[:, 1:]
        both = (valid[:-1] & valid[1:]) if axis == 0 else (valid[:, :-1] & valid[:, 1:])
        line = (np.arange(1, classes.shape[axis]) - offset[axis]) % spacing == 0
        on_line = np.broadcast_to(line[:, None] if axis == 0 else line[None, :], both.shape)
        changed = (first != second) & both
        counts += [
            (changed & on_line).sum(),
            (both & on_line).sum(),
            (changed & ~on_line).sum(),
            (both & ~on_line).sum(),
        ]
    return (counts[0] / counts[1]) / (counts[2] / counts[3])


def test_bands_of_rows_give_the_whole_map_index(monkeypatch):
    import lithomap.mapping.seams as seams

    rng = np.random.default_rng(4)
    tiles = np.kron(rng.integers(1, 5, size=(6, 5)), np.ones((8, 8), dtype=int))[:45, :38]
    tiles = np.roll(tiles, (3, 5), axis=(0, 1))  # tile edges on the grid lines of offset (3, 5)
    classes = np.where(rng.random(tiles.shape) < 0.2, rng.integers(1, 5, size=tiles.shape), tiles)
    valid = rng.random(classes.shape) > 0.1
    expected = _whole_map_index(classes, 8, (3, 5), valid)
    monkeypatch.setattr(seams, "BAND_ROWS", 7)
    assert seam_index(classes, spacing=8, offset=(3, 5), valid=valid) == expected
    monkeypatch.setattr(seams, "BAND_ROWS", 1)
    assert seam_index(classes, spacing=8, offset=(3, 5), valid=valid) == expected
    assert expected > 1.2


def test_the_profile_is_the_index_of_every_shifted_grid():
    rng = np.random.default_rng(2)
    classes = np.repeat(np.repeat(rng.integers(1, 5, size=(40, 30)), 3, axis=0), 3, axis=1)[:117, :89]
    valid = rng.random(classes.shape) > 0.1
    profile = seam_profile(classes, spacing=12, offset=(5, 7), valid=valid)
    assert profile.shape == (12,)
    for phase in range(12):
        assert profile[phase] == pytest.approx(seam_index(classes, 12, (5 + phase, 7 + phase), valid), rel=1e-12)


def test_window_lines_stand_out_from_the_other_phases_only_with_seams():
    rng = np.random.default_rng(3)
    blobs = np.repeat(np.repeat(rng.integers(0, 2, size=(52, 52)), 5, axis=0), 5, axis=1)[1:257, 2:258]
    tiles = np.kron(rng.integers(1, 5, size=(16, 16)), np.ones((16, 16), dtype=int))
    seamed = SeamReport.from_profile(seam_profile(tiles * 2 + blobs, spacing=16))
    clean = SeamReport.from_profile(seam_profile(blobs + 1, spacing=16))
    assert seamed.rank == 1 and seamed.z > 5
    assert abs(clean.z) < 3 and clean.rank > 1
    fields = seamed.as_dict()
    assert fields["seam_index"] == round(seamed.index, 4) and fields["seam_rank"] == 1


def test_a_uniform_map_has_no_report():
    report = SeamReport.from_profile(seam_profile(np.ones((32, 32), dtype=int), spacing=8))
    assert report.rank == 0 and all(value is None for value in report.as_dict().values())
