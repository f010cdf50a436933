"""Model inputs from the stored channels: layouts for the CNN and the ConvLSTM, and normalisation.

Shards store physical values (float16, NaN = no data):

- ``sequence`` (n, T, P, P, C): per time step the LST anomaly (K, LST minus the scene mean
  of that date, so the shared diurnal and seasonal swing is removed and class contrast
  remains) and the emissivity (``STEP_CHANNELS``), then with ``sar_series`` the step's VV and
  VH backscatter in dB (``SAR_STEP_CHANNELS``); the manifest's ``step_channels`` names them;
- ``static`` (n, P, P, Cs): the experiment's static layers (VV, VH in dB, NDVI);
- ``label`` (n, P, P): class ids, 0 where the pixel is not in the patch's split.

Per step the model also sees a valid mask and the acquisition's local solar hour and day
of year as sin/cos, so it knows when each image was taken. Layouts:

- ConvLSTM: ``sequence`` (n, T, P, P, C + 5) = [lst_anomaly, emissivity, (vv_step, vh_step,)
  valid, sin_hour, cos_hour, sin_doy, cos_doy] and ``static`` (n, P, P, Cs) when Cs > 0;
- CNN: ``features`` (n, P, P, (C + 5)·T + Cs): the same steps stacked as channels, then static.

The valid mask is that of the LST anomaly (a cloudy pixel keeps its backscatter).

Normalisation: (x − mean) / std per physical channel with statistics fitted on the training
split only; missing values become 0 (the training mean) after it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from lithomap.models.normalisation import ChannelStats, PhysicalStats, stats_for_inputs

STEP_CHANNELS = ("lst_anomaly", "emissivity")
SAR_STEP_CHANNELS = ("vv_step", "vh_step")
TIME_CHANNELS = ("valid", "sin_hour", "cos_hour", "sin_doy", "cos_doy")
Architecture = Literal["cnn", "convlstm"]


def time_features(
    solar_hours: Sequence[float] | np.ndarray, doys: Sequence[float] | np.ndarray, present: Sequence[bool] | np.ndarray
) -> np.ndarray:
    """(T, 4) sin/cos of local solar hour and day of year; zeros for padded steps."""
    hours = np.asarray(solar_hours, dtype=np.float64)
    days = np.asarray(doys, dtype=np.float64)
    table = np.stack(
        [
            np.sin(2 * np.pi * hours / 24),
            np.cos(2 * np.pi * hours / 24),
            np.sin(2 * np.pi * days / 365.25),
            np.cos(2 * np.pi * days / 365.25),
        ],
        axis=-1,
    )
    return np.where(np.asarray(present)[:, None], table, 0.0).astype(np.float32)


def raw_inputs(
    sequence: np.ndarray,
    static: np.ndarray,
    times: np.ndarray,
    static_names: Sequence[str],
    architecture: Architecture,
) -> dict[str, np.ndarray]:
    """Model inputs in physical units (before normalisation), for a batch of patches.

    This is the input a registered model takes: it normalises them itself.

    Args:
        sequence: (n, T, P, P, C) physical step channels (LST anomaly first), NaN = missing.
        static: (n, P, P, Cs) physical static layers, NaN = missing.
        times: (T, 4) time features of the steps.
        static_names: names of the static channels, in order.
        architecture: which layout to build.
    """
    n, steps, rows, cols, _ = sequence.shape
    valid = np.isfinite(sequence[..., :1]).astype(np.float32)
    clock = np.broadcast_to(times[None, :, None, None, :], (n, steps, rows, cols, times.shape[-1]))
    stacked = np.concatenate([sequence.astype(np.float32), valid, clock], axis=-1)
    fixed = static.astype(np.float32) if static_names else np.zeros((n, rows, cols, 0), np.float32)
    if architecture == "convlstm":
        inputs = {"sequence": stacked}
        if static_names:
            inputs["static"] = fixed
        return inputs
    channels_last = np.moveaxis(stacked, 1, 3).reshape(n, rows, cols, steps * stacked.shape[-1])
    return {"features": np.concatenate([channels_last, fixed], axis=-1)}


def input_stats(
    physical: PhysicalStats,
    steps: int,
    step_names: Sequence[str],
    static_names: Sequence[str],
    architecture: Architecture,
) -> dict[str, ChannelStats]:
    """Normalisation statistics of every model input from the per-physical-channel ones."""
    return stats_for_inputs(channel_names(steps, step_names, static_names, architecture), physical)


def model_inputs(
    sequence: np.ndarray,
    static: np.ndarray,
    times: np.ndarray,
    physical: PhysicalStats,
    step_names: Sequence[str],
    static_names: Sequence[str],
    architecture: Architecture,
) -> dict[str, np.ndarray]:
    """Normalised model inputs: ``raw_inputs`` then (x − mean)/std per channel, missing → 0."""
    raw = raw_inputs(sequence, static, times, static_names, architecture)
    stats = input_stats(physical, sequence.shape[1], step_names, static_names, architecture)
    return {name: stats[name].apply(values) for name, values in raw.items()}


def channel_names(
    steps: int, step_names: Sequence[str], static_names: Sequence[str], architecture: Architecture
) -> dict[str, list[str]]:
    """Names of every input channel, per model input.

    Args:
        steps: sequence length T.
        step_names: the stored physical channels of each step (the manifest's ``step_channels``).
        static_names: the static channels.
        architecture: which layout.
    """
    step = [*step_names, *TIME_CHANNELS]
    if architecture == "convlstm":
        names = {"sequence": step}
        if static_names:
            names["static"] = list(static_names)
        return names
    return {"features": [f"t{t:02d}_{c}" for t in range(steps) for c in step] + list(static_names)}
