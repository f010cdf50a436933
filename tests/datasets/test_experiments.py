"""Experiment selections pick the thermal dates the params describe (seasons by month, day/night by the sun)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lithomap.config import load_params
from lithomap.datasets.experiments import equal_date_count, select_dates, sequence_steps
from lithomap.errors import InputDataError
from tests.conftest import REPO_ROOT

# One date on the 15th of each month, alternately by day (odd months) and by night.
TIMES = np.array([f"2023-{month:02d}-15T12:00" for month in range(1, 13)], dtype="datetime64[ns]")
DAY = np.array([month % 2 == 1 for month in range(1, 13)])


@pytest.fixture(scope="module")
def params():
    """The shipped params.yaml: its experiments and season months are what the pipeline uses."""
    return load_params(REPO_ROOT / "params.yaml")


def months_of(indices: np.ndarray) -> list[int]:
    return [int(str(TIMES[i])[5:7]) for i in indices]


def chosen(params, name: str) -> np.ndarray:
    return select_dates(TIMES, DAY, params.experiment(name), params.preprocess, name, Path("cube.zarr"))


def test_winter_selects_november_to_march_and_summer_may_to_september(params):
    assert months_of(chosen(params, "winter")) == [1, 2, 3, 11, 12]
    assert months_of(chosen(params, "summer")) == [5, 6, 7, 8, 9]


def test_day_and_night_split_the_dates_by_their_daytime_flags(params):
    day, night = chosen(params, "day"), chosen(params, "night")
    assert set(day).isdisjoint(night) and len(day) + len(night) == len(TIMES)
    assert DAY[day].all() and not DAY[night].any()
    assert months_of(day) == [1, 3, 5, 7, 9, 11]


def test_selection_without_dates_names_the_experiment(params):
    times, day = TIMES[:3], DAY[:3]  # January to March
    summer = params.experiment("summer")
    with pytest.raises(InputDataError, match=r"experiment 'summer'.*selects none of the 3 thermal dates"):
        select_dates(times, day, summer, params.preprocess, "summer", Path("cube.zarr"))


def test_sequence_spreads_picks_evenly_or_pads_with_empty_steps():
    assert sequence_steps(np.arange(10), 4).tolist() == [0, 3, 6, 9]
    assert sequence_steps(np.array([2, 5]), 4).tolist() == [2, 5, -1, -1]


def test_equal_dates_draw_the_smallest_selections_count_for_every_experiment(params):
    settings = params.preprocess.model_copy(update={"equal_dates": True, "date_seed": 3})
    experiments = {name: params.experiment(name) for name in ("thermal", "day", "winter", "summer")}
    count = equal_date_count(TIMES, DAY, experiments, settings)
    assert count == 5  # winter and summer select five months each, day six, thermal twelve
    draws = {
        name: select_dates(TIMES, DAY, e, settings, name, Path("cube.zarr"), count) for name, e in experiments.items()
    }
    assert all(len(d) == 5 and np.all(np.diff(TIMES[d]) > np.timedelta64(0)) for d in draws.values())
    assert DAY[draws["day"]].all() and set(months_of(draws["summer"])) == {5, 6, 7, 8, 9}
    again = select_dates(TIMES, DAY, experiments["thermal"], settings, "thermal", Path("cube.zarr"), count)
    assert again.tolist() == draws["thermal"].tolist()  # seeded
    seeds = [settings.model_copy(update={"date_seed": seed}) for seed in range(6)]
    thermal = experiments["thermal"]
    drawn = {tuple(select_dates(TIMES, DAY, thermal, s, "thermal", Path("c.zarr"), count)) for s in seeds}
    assert len(drawn) > 1  # the seed decides which dates


def test_equal_dates_off_or_impossible_experiments_leave_counts_alone(params):
    experiments = {"thermal": params.experiment("thermal"), "night": params.experiment("night")}
    assert equal_date_count(TIMES, DAY, experiments, params.preprocess) is None  # off in the shipped params
    settings = params.preprocess.model_copy(update={"equal_dates": True})
    assert equal_date_count(TIMES, np.ones(12, bool), experiments, settings) == 12  # night selects none: ignored
