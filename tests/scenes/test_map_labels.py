"""Map-like labels: generalised contacts differ from the truth along boundaries only."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from lithomap.scenes.landscape import paint_class_map, scene_grid
from lithomap.scenes.map_labels import displace_contacts, generalise

MIX = {"sand": 0.2, "clay": 0.2, "carbonate": 0.2, "volcanic": 0.2, "non_foliated": 0.2}


def truth() -> np.ndarray:
    grid = scene_grid(-4.11, 38.69, 32630, 6000.0, 30.0)
    return paint_class_map(grid, MIX, np.random.default_rng(3))


def distance_to_contact(class_map: np.ndarray) -> np.ndarray:
    contact = np.zeros(class_map.shape, dtype=bool)
    contact[:, 1:] |= class_map[:, 1:] != class_map[:, :-1]
    contact[1:, :] |= class_map[1:, :] != class_map[:-1, :]
    return ndimage.distance_transform_edt(~contact)


def test_generalised_labels_differ_from_the_truth_along_boundaries_only():
    class_map = truth()
    displacement_px, window_px = 3.0, 7
    written = generalise(displace_contacts(class_map, displacement_px, 30.0, np.random.default_rng(4)), window_px)
    changed = written != class_map
    assert 0.01 < changed.mean() < 0.3
    reach = 3 * displacement_px + window_px // 2 + 2
    assert distance_to_contact(class_map)[changed].max() <= reach


def test_the_majority_filter_removes_units_smaller_than_its_window_and_keeps_large_ones():
    class_map = np.full((40, 40), 2, dtype=np.uint8)
    class_map[5:7, 5:7] = 9  # 60 m speck
    class_map[20:, :] = 8
    written = generalise(class_map, 7)
    assert not (written == 9).any()
    np.testing.assert_array_equal(written[25:, :], 8)
    assert generalise(class_map, 1) is class_map
    assert displace_contacts(class_map, 0.0, 30.0, np.random.default_rng(0)) is class_map
