"""Seam index: do class changes gather on the patch-grid lines of a map?

The thesis's reconstructed maps showed patch seams: classes change where one patch ends
and the next begins. The index is the rate of class changes between neighbouring pixels
that straddle a grid line, divided by the rate between all other neighbours. A map
without seams scores about 1; naive tiling (patches side by side, no blending) scores
well above it.
"""

from __future__ import annotations

import numpy as np

BAND_ROWS = 256


def seam_index(
    classes: np.ndarray, spacing: int, offset: tuple[int, int] = (0, 0), valid: np.ndarray | None = None
) -> float:
    """Change rate across grid lines over the change rate elsewhere.

    Pairs are counted in bands of ``BAND_ROWS`` rows, so the temporaries follow the band,
    not the map.

    Args:
        classes: (H, W) class map.
        spacing: distance between grid lines, pixels (the patch side for naive tiling,
            the stride for overlapping windows).
        offset: (row, col) of a grid line (a patch origin) in the map's pixels.
        valid: (H, W) pixels to count; a neighbour pair counts when both are valid.

    Returns:
        The ratio; NaN when no class changes away from the lines (nothing to compare).
    """
    valid = np.broadcast_to(True, classes.shape) if valid is None else valid
    height, width = classes.shape
    across_line = (np.arange(1, width) - offset[1]) % spacing == 0  # columns of the second pixel of each pair
    counts = np.zeros(4, dtype=np.int64)
    for top in range(0, height, BAND_ROWS):
        rows = slice(top, top + BAND_ROWS)
        counts += _pair_counts(
            classes[rows, :-1], classes[rows, 1:], valid[rows, :-1] & valid[rows, 1:], across_line[None, :]
        )
        stop = min(top + BAND_ROWS, height - 1)  # vertical pairs (row, row + 1) for rows top..stop - 1
        if stop > top:
            down_line = (np.arange(top + 1, stop + 1) - offset[0]) % spacing == 0
            counts += _pair_counts(
                classes[top:stop],
                classes[top + 1 : stop + 1],
                valid[top:stop] & valid[top + 1 : stop + 1],
                down_line[:, None],
            )
    across_changes, across_pairs, other_changes, other_pairs = (int(count) for count in counts)
    if across_pairs == 0 or other_pairs == 0 or other_changes == 0:
        return float("nan")
    return (across_changes / across_pairs) / (other_changes / other_pairs)


def _pair_counts(first: np.ndarray, second: np.ndarray, both: np.ndarray, on_line: np.ndarray) -> np.ndarray:
    """Changes and pairs across the grid lines, then away from them, of neighbour pairs both valid."""
    on_line = np.broadcast_to(on_line, both.shape)
    changed = (first != second) & both
    return np.array(
        [
            np.count_nonzero(changed & on_line),
            np.count_nonzero(both & on_line),
            np.count_nonzero(changed & ~on_line),
            np.count_nonzero(both & ~on_line),
        ]
    )
