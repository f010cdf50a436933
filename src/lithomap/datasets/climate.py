"""Climate augmentation: training patches as a warmer or cooler, more or less contrasted region would give them.

A region 500 m higher and 6 K cooler (Villoslada against the training regions, issue 15)
shifts and scales the thermal anomalies a model learns from. ``train.climate_augment``
mimics that on training patches: each patch draws an offset ``o`` (uniform in
±``offset_k``) and a gain ``g`` (uniform in [1 − ``gain``, 1 + ``gain``]), and every LST
anomaly of the patch becomes ``g · a + o`` — the per-step ``lst_anomaly`` and the all-date
summaries built from it, so the patch stays consistent: ``lst_anomaly_day`` and
``lst_anomaly_night`` (means of anomalies) become ``g · a + o`` too, and
``lst_anomaly_std`` (a spread) ``g · a``. Emissivity, backscatter, NDVI, the relative
diurnal range (a ratio: unchanged by a gain) and the valid mask are left alone. With
``hour_shift_h`` > 0 the patch's acquisition hours also move by a draw in
±``hour_shift_h`` (its sin/cos hour features are rotated; padded steps stay zero), as an
overpass at another time of day would. Day-of-year features are not moved.

The draws are made by ``lithomap.datasets.tfdata`` from the seed and each element's
position (stateless), so a seeded run sees the same batches; this module applies them to
one patch's physical values, before normalisation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lithomap.config import ClimateAugmentParams

OFFSET_AND_GAIN = ("lst_anomaly", "lst_anomaly_day", "lst_anomaly_night")
"""Channels (step or static) that take ``g · a + o``: anomalies and their means."""
GAIN_ONLY = ("lst_anomaly_std",)
"""Channels that take ``g · a``: the anomalies' spread."""


@dataclass(frozen=True)
class ClimateDraw:
    """One patch's draw: offset (K), gain, hour shift (h)."""

    offset: float
    gain: float
    hours: float

    @classmethod
    def from_unit(cls, unit: Sequence[float] | np.ndarray, settings: ClimateAugmentParams) -> ClimateDraw:
        """The draw for three uniform numbers in [−1, 1] under ``settings``'s ranges."""
        offset, gain, hours = (float(value) for value in unit)
        return cls(offset * settings.offset_k, 1.0 + gain * settings.gain, hours * settings.hour_shift_h)


def shift_climate(
    sequence: np.ndarray,
    static: np.ndarray,
    times: np.ndarray,
    draw: ClimateDraw,
    step_names: Sequence[str],
    static_names: Sequence[str],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One patch's physical channels and time features under a climate draw (see the module docstring).

    Args:
        sequence: (..., T, P, P, C) stored step channels (NaN = no data, which stays NaN).
        static: (..., P, P, Cs) static channels.
        times: (T, 4) sin/cos of solar hour and day of year of the steps.
        draw: the patch's offset, gain and hour shift.
        step_names: the C step channel names.
        static_names: the Cs static channel names.

    Returns:
        New (sequence, static, times) arrays (float32); the inputs are not modified.
    """
    sequence = np.array(sequence, dtype=np.float32)
    static = np.array(static, dtype=np.float32)
    for names, values in ((step_names, sequence), (static_names, static)):
        for k, name in enumerate(names):
            if name in OFFSET_AND_GAIN:
                values[..., k] = draw.gain * values[..., k] + draw.offset
            elif name in GAIN_ONLY:
                values[..., k] = draw.gain * values[..., k]
    return sequence, static, shift_hours(times, draw.hours)


def shift_hours(times: np.ndarray, hours: float) -> np.ndarray:
    """(T, 4) time features with the solar hours moved by ``hours`` (a rotation of their sin/cos)."""
    clock = np.array(times, dtype=np.float32)
    if hours == 0:
        return clock
    angle = 2 * np.pi * hours / 24
    sin, cos = clock[:, 0].copy(), clock[:, 1].copy()
    clock[:, 0] = sin * np.cos(angle) + cos * np.sin(angle)
    clock[:, 1] = cos * np.cos(angle) - sin * np.sin(angle)
    return clock
