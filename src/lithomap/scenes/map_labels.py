"""Labels like a real geological map: boundaries drawn at a coarser scale than the truth.

A 1:50 000 map draws contacts with the precision of its scale (a line of 0.2–0.5 mm is
10–25 m, but contacts are interpreted from outcrops hundreds of metres apart, so they
wander by ~100 m) and leaves out small units. Two steps do the same to the truth: a
smooth random displacement of the contacts, then a majority filter that removes what is
smaller than the map's scale. Inside a unit, farther from a contact than both, nothing
changes.

The map also shows bedrock where the surface is a thin soil (colluvium, regolith), and
one class for a unit of several rocks ("conglomerates, sandstones and shales"): the veneer
and interbed masks mark such pixels, which the generator gives a soil's or shale's physics
while the map keeps the unit's class.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from lithomap.classes import class_id_of
from lithomap.scenes.fields import gaussian_random_field

DISPLACEMENT_LENGTH_M = 1000.0


def generalise(class_map: np.ndarray, window_px: int) -> np.ndarray:
    """The class map after a majority filter over a ``window_px`` square (ties: lowest id).

    A window of 1 pixel or less returns the map unchanged.
    """
    if window_px <= 1:
        return class_map
    present = np.unique(class_map)
    votes = np.stack([ndimage.uniform_filter((class_map == c).astype(np.float32), window_px) for c in present])
    return present[np.argmax(votes, axis=0)].astype(class_map.dtype)


def displace_contacts(
    class_map: np.ndarray, displacement_px: float, resolution_m: float, rng: np.random.Generator
) -> np.ndarray:
    """The class map sampled (nearest) at positions moved by a smooth random field.

    Each of the two displacement components is a Gaussian random field with standard
    deviation ``displacement_px`` and a correlation length of ``DISPLACEMENT_LENGTH_M``;
    the largest shift is capped at three standard deviations.
    """
    if displacement_px <= 0:
        return class_map
    length_px = DISPLACEMENT_LENGTH_M / resolution_m
    cap = 3.0 * displacement_px
    shift = [np.clip(displacement_px * gaussian_random_field(class_map.shape, length_px, rng), -cap, cap) for _ in "yx"]
    rows, cols = np.indices(class_map.shape, dtype=np.float64)
    coords = np.stack([rows + shift[0], cols + shift[1]])
    return ndimage.map_coordinates(class_map, coords, order=0, mode="nearest").astype(class_map.dtype)


ROCK_CLASSES = tuple(class_id_of(name) for name in ("carbonate", "volcanic", "plutonic", "foliated", "non_foliated"))
"""Bedrock classes a geological map shows even where a thin soil covers them."""


def veneer_mask(class_map: np.ndarray, share: float, length_px: float, rng: np.random.Generator) -> np.ndarray:
    """Rock pixels under a thin soil veneer: smooth patches covering ``share`` of the rock.

    A geological map shows the bedrock; where colluvium or regolith a few decimetres thick
    covers it, the surface heats and cools like that soil. The patches are the highest
    ``share`` of a smooth random field over the rock pixels, so they are blotches of about
    ``length_px`` pixels, not salt and pepper.
    """
    rock = np.isin(class_map, ROCK_CLASSES)
    if not rock.any() or share <= 0:
        return np.zeros(class_map.shape, dtype=bool)
    field = gaussian_random_field(class_map.shape, length_px, rng)
    threshold = np.quantile(field[rock], 1.0 - share)
    return rock & (field > threshold)


def interbed_mask(
    class_map: np.ndarray, host: int, share: float, spacing_px: float, rng: np.random.Generator
) -> np.ndarray:
    """Pixels of class ``host`` where shale beds crop out: folded stripes covering ``share`` of it.

    Beds of one strike (drawn per scene) crop out as parallel stripes ``spacing_px`` apart;
    a smooth random phase bends them as folding and erosion do. The stripes are the part of
    the bedding pattern above the quantile that leaves ``share`` of the host's pixels.
    """
    inside = class_map == host
    if not inside.any() or share <= 0:
        return np.zeros(class_map.shape, dtype=bool)
    rows, cols = np.indices(class_map.shape, dtype=np.float64)
    strike = rng.uniform(0.0, np.pi)
    across = cols * np.cos(strike) + rows * np.sin(strike)
    bend = 0.5 * spacing_px * gaussian_random_field(class_map.shape, 4.0 * spacing_px, rng)
    bedding = np.cos(2.0 * np.pi * (across + bend) / spacing_px)
    threshold = np.quantile(bedding[inside], 1.0 - share)
    return inside & (bedding > threshold)
