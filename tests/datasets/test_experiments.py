"""Experiment selections pick the thermal dates the params describe (seasons by month, day/night by solar time)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lithomap.config import load_params
from lithomap.datasets.experiments import select_dates, sequence_steps
from lithomap.errors import InputDataError
from tests.conftest import REPO_ROOT

# One date on the 15th of each month, each at a solar hour that alternates day and night.
TIMES = np.array([f"2023-{month:02d}-15T12:00" for month in range(1, 13)], dtype="datetime64[ns]")
HOURS = np.array([13.0 if month % 2 else 2.0 for month in range(1, 13)])


@pytest.fixture(scope="module")
def params():
    """The shipped params.yaml: its experiments and season months are what the pipeline uses."""
    return load_params(REPO_ROOT / "params.yaml")


def months_of(indices: np.ndarray) -> list[int]:
    return [int(str(TIMES[i])[5:7]) for i in indices]


def chosen(params, name: str) -> np.ndarray:
    return select_dates(TIMES, HOURS, params.experiment(name), params.preprocess, name, Path("cube.zarr"))


def test_winter_selects_november_to_march_and_summer_may_to_september(params):
    assert months_of(chosen(params, "winter")) == [1, 2, 3, 11, 12]
    assert months_of(chosen(params, "summer")) == [5, 6, 7, 8, 9]


def test_day_and_night_split_the_dates_by_local_solar_time(params):
    day, night = chosen(params, "day"), chosen(params, "night")
    assert set(day).isdisjoint(night) and len(day) + len(night) == len(TIMES)
    assert all(8 <= HOURS[i] < 18 for i in day) and all(not 8 <= HOURS[i] < 18 for i in night)
    assert months_of(day) == [1, 3, 5, 7, 9, 11]


def test_selection_without_dates_names_the_experiment(params):
    times, hours = TIMES[:3], HOURS[:3]  # January to March
    summer = params.experiment("summer")
    with pytest.raises(InputDataError, match=r"experiment 'summer'.*selects none of the 3 thermal dates"):
        select_dates(times, hours, summer, params.preprocess, "summer", Path("cube.zarr"))


def test_sequence_spreads_picks_evenly_or_pads_with_empty_steps():
    assert sequence_steps(np.arange(10), 4).tolist() == [0, 3, 6, 9]
    assert sequence_steps(np.array([2, 5]), 4).tolist() == [2, 5, -1, -1]
