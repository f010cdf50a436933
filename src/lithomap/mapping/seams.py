"""Seam index: do class changes gather on the patch-grid lines of a map?

The thesis's reconstructed maps showed patch seams: classes change where one patch ends
and the next begins. The index is the rate of class changes between neighbouring pixels
that straddle a grid line, divided by the rate between all other neighbours. A map
without seams scores about 1; naive tiling (patches side by side, no blending) scores
well above it.

On a map a few hundred pixels wide the index rests on a dozen lines per axis, so it
scatters around 1 even without seams. ``seam_profile`` computes it for every phase of the
grid (the lines shifted by 0 … spacing − 1 pixels) in the same pass: the shifted lines
carry no window edge or centre, so their indexes show how far the statistic scatters on
that map, and ``SeamReport.z`` says how far the window lines stand out from them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BAND_ROWS = 256


@dataclass(frozen=True)
class SeamReport:
    """The window lines' seam index against the same index on the grid's other phases.

    Attributes:
        index: seam index on the window lines (phase 0).
        other_median: median index over the other phases.
        other_sd: their standard deviation.
        z: (index − other_median) / other_sd: about 0 without seams, ≥ 3 for a clear seam.
        rank: the window lines' place among all phases, 1 = the highest index.
    """

    index: float
    other_median: float
    other_sd: float
    z: float
    rank: int

    @classmethod
    def from_profile(cls, profile: np.ndarray) -> SeamReport:
        """Summarise a ``seam_profile`` (NaN fields where the map has nothing to compare)."""
        index, others = float(profile[0]), profile[1:][np.isfinite(profile[1:])]
        if np.isnan(index) or others.size < 2:
            return cls(index, float("nan"), float("nan"), float("nan"), 0)
        median, sd = float(np.median(others)), float(np.std(others, ddof=1))
        z = (index - median) / sd if sd > 0 else float("nan")
        return cls(index, median, sd, z, 1 + int(np.count_nonzero(others > index)))

    def as_dict(self) -> dict[str, float | int | None]:
        """JSON-ready fields (None for NaN), rounded to 4 decimals."""

        def plain(value: float) -> float | None:
            return None if np.isnan(value) else round(value, 4)

        return {
            "seam_index": plain(self.index),
            "seam_index_other_phases_median": plain(self.other_median),
            "seam_index_other_phases_sd": plain(self.other_sd),
            "seam_z": plain(self.z),
            "seam_rank": self.rank or None,
        }


def seam_index(
    classes: np.ndarray, spacing: int, offset: tuple[int, int] = (0, 0), valid: np.ndarray | None = None
) -> float:
    """Change rate across grid lines over the change rate elsewhere.

    Args:
        classes: (H, W) class map.
        spacing: distance between grid lines, pixels (the patch side for naive tiling,
            the stride for overlapping windows).
        offset: (row, col) of a grid line (a patch origin) in the map's pixels.
        valid: (H, W) pixels to count; a neighbour pair counts when both are valid.

    Returns:
        The ratio; NaN when no class changes away from the lines (nothing to compare).
    """
    return float(seam_profile(classes, spacing, offset, valid)[0])


def seam_profile(
    classes: np.ndarray, spacing: int, offset: tuple[int, int] = (0, 0), valid: np.ndarray | None = None
) -> np.ndarray:
    """The seam index of every phase of the grid, in one pass over the map.

    Element ``p`` is the index of the lines ``p`` pixels after the grid lines through
    ``offset`` (element 0 is ``seam_index``). Neighbour pairs are counted in bands of
    ``BAND_ROWS`` rows, so the temporaries follow the band, not the map.

    Returns:
        (spacing,) float array; NaN where a phase has nothing to compare.
    """
    valid = np.broadcast_to(True, classes.shape) if valid is None else valid
    height, width = classes.shape
    column_changes, column_pairs = np.zeros(max(width - 1, 0), np.int64), np.zeros(max(width - 1, 0), np.int64)
    row_changes, row_pairs = np.zeros(max(height - 1, 0), np.int64), np.zeros(max(height - 1, 0), np.int64)
    for top in range(0, height, BAND_ROWS):
        rows = slice(top, top + BAND_ROWS)
        both = valid[rows, :-1] & valid[rows, 1:]
        column_changes += np.count_nonzero((classes[rows, :-1] != classes[rows, 1:]) & both, axis=0)
        column_pairs += np.count_nonzero(both, axis=0)
        stop = min(top + BAND_ROWS, height - 1)  # vertical pairs (row, row + 1) for rows top..stop - 1
        if stop > top:
            both = valid[top:stop] & valid[top + 1 : stop + 1]
            row_changes[top:stop] = np.count_nonzero((classes[top:stop] != classes[top + 1 : stop + 1]) & both, axis=1)
            row_pairs[top:stop] = np.count_nonzero(both, axis=1)
    # a pair belongs to the line through its second pixel
    column_phase = (np.arange(1, width) - offset[1]) % spacing
    row_phase = (np.arange(1, height) - offset[0]) % spacing
    line_changes = np.bincount(column_phase, column_changes, spacing) + np.bincount(row_phase, row_changes, spacing)
    line_pairs = np.bincount(column_phase, column_pairs, spacing) + np.bincount(row_phase, row_pairs, spacing)
    other_changes = column_changes.sum() + row_changes.sum() - line_changes
    other_pairs = column_pairs.sum() + row_pairs.sum() - line_pairs
    with np.errstate(invalid="ignore", divide="ignore"):
        profile = (line_changes / line_pairs) / (other_changes / other_pairs)
    return np.where((line_pairs > 0) & (other_pairs > 0) & (other_changes > 0), profile, np.nan)
