"""The dataset manifest: typed round trip, and clear errors for missing, broken or old files."""

from __future__ import annotations

import json

import pytest

from lithomap.datasets.manifest import (
    LAYOUT,
    MANIFEST_FILE,
    Manifest,
    SelectedDate,
    Step,
    load_manifest,
    write_manifest,
)
from lithomap.errors import InputDataError, MissingSourceError


def _manifest() -> Manifest:
    return Manifest(
        layout=LAYOUT,
        region="tiny",
        experiment="night",
        selection={"time_of_day": "night", "static": []},
        patch_size=16,
        overlap=0.5,
        sequence_length=2,
        steps=[Step(utc="2024-07-01T22:10:00", solar_hour=21.9, doy=183), Step(utc=None, solar_hour=0, doy=0)],
        dates=[SelectedDate(utc="2024-07-01T22:10:00", solar_hour=21.9, day=False)],
        step_channels=["lst_anomaly", "emissivity"],
        static_channels=["emissivity_mean"],
        time_features=[[0.1, 0.9, 0.0, -1.0], [0, 0, 0, 0]],
        normalisation={"lst_anomaly": {"mean": 0.5, "std": 2.0}, "emissivity": {"mean": 0.95, "std": 0.01}},
        patches={"train": 5, "val": 1, "test": 2},
        class_pixels={"train": [0] * 14, "val": [0] * 14, "test": [0] * 14},
        crs="EPSG:32630",
        transform=[70, 0, 400000, 0, -70, 4300000],
        shape=(96, 80),
    )


def test_round_trip_keeps_every_field(tmp_path):
    manifest = _manifest()
    write_manifest(tmp_path, manifest)
    loaded = load_manifest(tmp_path)
    assert loaded == manifest
    assert loaded.shape == (96, 80) and loaded.dates_selected == 1 and loaded.times().shape == (2, 4)
    assert not [p for p in tmp_path.iterdir() if p.name != MANIFEST_FILE], "no temporary file is left"


def test_missing_manifest_names_the_file_and_the_command(tmp_path):
    folder = tmp_path / "tiny" / "night"
    folder.mkdir(parents=True)
    with pytest.raises(MissingSourceError, match=r"manifest\.json.*lithomap preprocess -r tiny -e night"):
        load_manifest(folder)


def test_older_layout_is_refused_with_the_command_that_rebuilds_it(tmp_path):
    folder = tmp_path / "tiny" / "night"
    folder.mkdir(parents=True)
    old = _manifest().model_dump(mode="json")
    del old["layout"], old["dates"]
    (folder / MANIFEST_FILE).write_text(json.dumps(old))
    with pytest.raises(InputDataError, match=r"layout none.*lithomap preprocess -r tiny -e night"):
        load_manifest(folder)


@pytest.mark.parametrize(
    ("text", "problem"),
    [("{not json", "unreadable"), (json.dumps({"layout": LAYOUT, "region": "tiny"}), "invalid")],
)
def test_broken_manifest_says_what_is_wrong(tmp_path, text, problem):
    (tmp_path / MANIFEST_FILE).write_text(text)
    with pytest.raises(InputDataError, match=problem):
        load_manifest(tmp_path)


def test_a_zero_std_is_rejected():
    with pytest.raises(ValueError, match="std > 0"):
        Manifest.model_validate(
            _manifest().model_dump() | {"normalisation": {"lst_anomaly": {"mean": 0.0, "std": 0.0}}}
        )
