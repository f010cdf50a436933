"""Cube helpers: local solar time of the time coordinate, atomic publication, opening a cube."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from lithomap.atomic import atomic_directory
from lithomap.errors import MissingSourceError
from lithomap.io.cube import cube_path, open_cube
from lithomap.timing import solar_hours


def test_solar_time_wraps_to_previous_day() -> None:
    hours, local = solar_hours([datetime(2020, 9, 29, 5, 17, 7)], longitude=-106.7)
    assert hours[0] == pytest.approx(24 + 5 + 17 / 60 + 7 / 3600 - 106.7 / 15, abs=1e-6)
    assert str(local[0])[:16] == "2020-09-28T22:10"


def test_atomic_directory_keeps_old_on_failure(tmp_path: Path) -> None:
    final = tmp_path / "region" / "cube.zarr"
    with atomic_directory(final) as temporary:
        temporary.mkdir()
        (temporary / "good").write_text("1")
    with pytest.raises(RuntimeError), atomic_directory(final) as temporary:
        temporary.mkdir()
        (temporary / "half").write_text("x")
        raise RuntimeError("crash")
    assert sorted(p.name for p in final.iterdir()) == ["good"]
    assert [p.name for p in final.parent.iterdir()] == ["cube.zarr"]


def test_atomic_directory_removes_created_parents_on_failure(tmp_path: Path) -> None:
    final = tmp_path / "interim" / "region" / "cube.zarr"
    with pytest.raises(ValueError), atomic_directory(final):
        raise ValueError("bad input")
    assert not (tmp_path / "interim").exists()


def test_opening_a_cube_that_was_never_ingested_names_the_verb(tmp_path: Path) -> None:
    path = cube_path(tmp_path / "interim", "villoslada")
    with pytest.raises(MissingSourceError, match=r"no region cube.*lithomap ingest --region villoslada") as caught:
        open_cube(path)
    assert caught.value.path == tmp_path / "interim" / "villoslada" / "cube.zarr"
