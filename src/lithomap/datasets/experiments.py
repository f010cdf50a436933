"""Experiments select thermal dates (day/night by the sun's elevation, seasons by month, optionally equal counts)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from lithomap.config import ExperimentParams, PreprocessParams
from lithomap.errors import ExperimentNotPossibleError
from lithomap.timing import in_seasons


def date_mask(
    times: np.ndarray, day: np.ndarray, experiment: ExperimentParams, settings: PreprocessParams
) -> np.ndarray:
    """Which thermal dates an experiment uses.

    Args:
        times: UTC acquisition times (datetime64).
        day: daytime flag of each date (``lithomap.timing.is_daytime``).
        experiment: the selection.
        settings: season months.
    """
    day = np.asarray(day, dtype=bool)
    keep = np.ones(len(times), dtype=bool)
    if experiment.time_of_day == "day":
        keep &= day
    elif experiment.time_of_day == "night":
        keep &= ~day
    if experiment.seasons:
        keep &= in_seasons(times, experiment.seasons, settings.season_months)
    return keep


def equal_date_count(
    times: np.ndarray, day: np.ndarray, experiments: Mapping[str, ExperimentParams], settings: PreprocessParams
) -> int | None:
    """The date count every experiment draws under ``preprocess.equal_dates``: the smallest selection's.

    Experiments that select no date (impossible for the region) do not count. None when
    ``equal_dates`` is off or no experiment selects a date.
    """
    if not settings.equal_dates:
        return None
    counts = [int(date_mask(times, day, e, settings).sum()) for e in experiments.values()]
    return min((c for c in counts if c > 0), default=None)


def select_dates(
    times: np.ndarray,
    day: np.ndarray,
    experiment: ExperimentParams,
    settings: PreprocessParams,
    name: str,
    source: Path,
    count: int | None = None,
) -> np.ndarray:
    """Indices (time order) of the dates an experiment uses.

    Args:
        times: UTC acquisition times (datetime64).
        day: daytime flag of each date.
        experiment: the selection.
        settings: season months and the seed of the equal-count draw (``date_seed``).
        name: the experiment's name (for messages).
        source: the cube (for messages).
        count: draw this many of the selected dates at random (seeded by
            ``settings.date_seed``); None or a count ≥ the selection keeps them all.

    Raises:
        ExperimentNotPossibleError: the selection keeps no date (e.g. ``night`` with only daytime data).
    """
    indices = np.flatnonzero(date_mask(times, day, experiment, settings))
    if indices.size == 0:
        nights = int((~np.asarray(day, dtype=bool)).sum())
        raise ExperimentNotPossibleError(
            source,
            f"experiment {name!r} ({experiment.time_of_day} dates, seasons {experiment.seasons or 'all'}) "
            f"selects none of the {len(times)} thermal dates ({len(times) - nights} day, {nights} night by the "
            "sun's elevation at the overpass)",
            "add acquisitions of that kind to the region or drop the experiment for this region",
        )
    if count is not None and count < indices.size:
        indices = np.random.default_rng(settings.date_seed).choice(indices, size=count, replace=False)
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
