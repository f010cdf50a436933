"""Per-channel normalisation statistics: the JSON file that travels with every model.

The dataset code computes the statistics on the training patches and writes them with
``save_stats``; training normalises with them; the registered model applies them to raw
inputs. The file names every input's channels, so a model always knows what it reads:

    {"inputs": {"features": {"channels": ["lst_t00", ...], "mean": [...], "std": [...]}}}

for the CNN, and ``"sequence"`` (the channels of each step: lst_anomaly, emissivity, with ``sar_series`` vv_step and
vh_step, then valid and the time features) plus
``"static"`` (vv, vh, ndvi; absent when there are none) for the ConvLSTM. Statistics apply
to the last axis. After normalisation non-finite values (no-data) become 0, the channel mean.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeAlias

import numpy as np

from lithomap.atomic import write_text
from lithomap.errors import ConfigError, InputDataError

PhysicalStats: TypeAlias = Mapping[str, Mapping[Literal["mean", "std"], float]]
"""Physical channel → ``{"mean": m, "std": s}`` (the dataset manifest's ``normalisation``)."""


@dataclass(frozen=True)
class ChannelStats:
    """Mean and standard deviation of each channel of one model input.

    Attributes:
        channels: channel names, in the order of the last axis.
        mean: per-channel mean.
        std: per-channel standard deviation (> 0; use 1 for masks).
    """

    channels: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def __post_init__(self) -> None:
        if not len(self.channels) == len(self.mean) == len(self.std):
            raise ConfigError(
                f"normalisation stats: {len(self.channels)} channels but {len(self.mean)} means "
                f"and {len(self.std)} standard deviations"
            )
        bad = [name for name, s in zip(self.channels, self.std, strict=True) if not (math.isfinite(s) and s > 0)]
        if bad:
            raise ConfigError(f"normalisation stats: standard deviation must be finite and > 0 for channels {bad}")

    @classmethod
    def from_array(cls, values: np.ndarray, channels: Sequence[str]) -> ChannelStats:
        """Statistics of ``values`` over every axis but the last, ignoring NaN (std 0 → 1)."""
        flat = np.asarray(values, dtype=np.float64).reshape(-1, values.shape[-1])
        mean = np.nan_to_num(np.nanmean(flat, axis=0))
        std = np.nan_to_num(np.nanstd(flat, axis=0))
        std = np.where(std > 0, std, 1.0)
        return cls(tuple(channels), tuple(float(m) for m in mean), tuple(float(s) for s in std))

    def apply(self, values: np.ndarray) -> np.ndarray:
        """(values − mean) / std on the last axis, as float32, non-finite results set to 0.

        Raises:
            InputDataError: the last axis does not match the channel count.
        """
        array = np.asarray(values, dtype=np.float32)
        if array.shape[-1] != len(self.channels):
            raise InputDataError(
                "<model input>",
                f"{array.shape[-1]} channels on the last axis, the model expects {len(self.channels)} "
                f"({', '.join(self.channels)})",
                "pass the channels named in the model's normalisation stats, in that order",
            )
        mean = np.asarray(self.mean, dtype=np.float32)
        std = np.asarray(self.std, dtype=np.float32)
        with np.errstate(invalid="ignore"):
            normalised = (array - mean) / std
        return np.where(np.isfinite(normalised), normalised, np.float32(0.0)).astype(np.float32)


def stats_for_inputs(channel_names: Mapping[str, Sequence[str]], physical: PhysicalStats) -> dict[str, ChannelStats]:
    """Per-input statistics from per-physical-channel ones (the dataset manifest's ``normalisation``).

    A model channel takes the statistics of the physical channel it is named after — the same
    name, or a name ending in ``_<physical>`` (``t03_lst_anomaly`` → ``lst_anomaly``) — and is
    left as it is (mean 0, std 1) when none matches (valid mask, sin/cos time features).

    Args:
        channel_names: input name → its channel names (``datasets.features.channel_names``).
        physical: physical channel → ``{"mean": m, "std": s}``.

    Returns:
        Input name → ChannelStats, ready for ``save_stats`` and the registered model.
    """

    def lookup(channel: str) -> tuple[float, float]:
        for name, entry in physical.items():
            if channel == name or channel.endswith(f"_{name}"):
                return float(entry["mean"]), float(entry["std"]) if float(entry["std"]) > 0 else 1.0
        return 0.0, 1.0

    result = {}
    for input_name, channels in channel_names.items():
        pairs = [lookup(channel) for channel in channels]
        result[input_name] = ChannelStats(
            tuple(channels), tuple(mean for mean, _ in pairs), tuple(std for _, std in pairs)
        )
    return result


def save_stats(stats: Mapping[str, ChannelStats], path: str | Path) -> Path:
    """Write the statistics of every model input to ``path`` (JSON).

    Args:
        stats: input name (``features``, ``sequence``, ``static``) → its statistics.
        path: the JSON file to write.

    Returns:
        The path written.
    """
    document = {
        "inputs": {
            name: {"channels": list(s.channels), "mean": list(s.mean), "std": list(s.std)} for name, s in stats.items()
        }
    }
    return write_text(Path(path), json.dumps(document, indent=2))


def load_stats(path: str | Path) -> dict[str, ChannelStats]:
    """Read a statistics file written by ``save_stats``.

    Raises:
        InputDataError: the file is missing or not in the expected layout.
    """
    source = Path(path)
    try:
        document = json.loads(source.read_text(encoding="utf-8"))
        inputs = document["inputs"]
        return {
            name: ChannelStats(tuple(entry["channels"]), tuple(entry["mean"]), tuple(entry["std"]))
            for name, entry in inputs.items()
        }
    except FileNotFoundError as error:
        raise InputDataError(source, "normalisation statistics file not found", "rerun the dataset stage") from error
    except (KeyError, TypeError, ValueError) as error:
        raise InputDataError(
            source,
            f"not a normalisation statistics file ({error})",
            'write it with lithomap.models.normalisation.save_stats ({"inputs": {name: {channels, mean, std}}})',
        ) from error
