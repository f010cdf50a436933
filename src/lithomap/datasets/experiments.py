"""Experiments select thermal dates (day/night by local solar time, seasons by month)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lithomap.config import ExperimentParams, PreprocessParams
from lithomap.errors import ExperimentNotPossibleError
from lithomap.timing import in_seasons, is_day


def date_mask(
    times: np.ndarray, solar_hours: np.ndarray, experiment: ExperimentParams, settings: PreprocessParams
) -> np.ndarray:
    """Which thermal dates an experiment uses.

    Args:
        times: UTC acquisition times (datetime64).
        solar_hours: local solar hour of each date.
        experiment: the selection.
        settings: day hours and season months.
    """
    day = is_day(solar_hours, settings.day_hours)
    keep = np.ones(len(times), dtype=bool)
    if experiment.time_of_day == "day":
        keep &= day
    elif experiment.time_of_day == "night":
        keep &= ~day
    if experiment.seasons:
        keep &= in_seasons(times, experiment.seasons, settings.season_months)
    return keep


def select_dates(
    times: np.ndarray,
    solar_hours: np.ndarray,
    experiment: ExperimentParams,
    settings: PreprocessParams,
    name: str,
    source: Path,
) -> np.ndarray:
    """Indices (time order) of the dates an experiment uses.

    Raises:
        ExperimentNotPossibleError: the selection keeps no date (e.g. ``night`` with only daytime data).
    """
    indices = np.flatnonzero(date_mask(times, solar_hours, experiment, settings))
    if indices.size == 0:
        available = ", ".join(f"{h:04.1f} h" for h in sorted(solar_hours)) or "none"
        raise ExperimentNotPossibleError(
            source,
            f"experiment {name!r} ({experiment.time_of_day} dates, seasons {experiment.seasons or 'all'}) "
            f"selects none of the {len(times)} thermal dates (local solar times: {available})",
            "add acquisitions of that kind to the region or drop the experiment for this region",
        )
    return indices[np.argsort(times[indices], kind="stable")]


def sequence_steps(indices: np.ndarray, length: int) -> np.ndarray:
    """Pick ``length`` time steps from the selected dates: evenly spread, or padded with -1.

    Padded steps carry no data (their valid mask is 0), so the sequence length is fixed
    whatever the number of dates.
    """
    if indices.size >= length:
        picks = np.round(np.linspace(0, indices.size - 1, length)).astype(int)
        return indices[picks]
    return np.concatenate([indices, np.full(length - indices.size, -1, dtype=indices.dtype)])
