"""Seam index: do class changes gather on the patch-grid lines of a map?

The thesis's reconstructed maps showed patch seams: classes change where one patch ends
and the next begins. The index is the rate of class changes between neighbouring pixels
that straddle a grid line, divided by the rate between all other neighbours. A map
without seams scores about 1; naive tiling (patches side by side, no blending) scores
well above it.
"""

from __future__ import annotations

import numpy as np


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
    valid = np.ones(classes.shape, dtype=bool) if valid is None else valid
    across_changes = across_pairs = other_changes = other_pairs = 0
    for axis in (0, 1):
        first = [slice(None), slice(None)]
        second = [slice(None), slice(None)]
        first[axis], second[axis] = slice(None, -1), slice(1, None)
        changed = classes[tuple(first)] != classes[tuple(second)]
        both = valid[tuple(first)] & valid[tuple(second)]
        position = np.arange(1, classes.shape[axis])  # index of the second pixel of each pair
        on_line = (position - offset[axis]) % spacing == 0
        on_line = on_line[:, None] if axis == 0 else on_line[None, :]
        on_line = np.broadcast_to(on_line, changed.shape)
        across_changes += int((changed & both & on_line).sum())
        across_pairs += int((both & on_line).sum())
        other_changes += int((changed & both & ~on_line).sum())
        other_pairs += int((both & ~on_line).sum())
    if across_pairs == 0 or other_pairs == 0 or other_changes == 0:
        return float("nan")
    return (across_changes / across_pairs) / (other_changes / other_pairs)
