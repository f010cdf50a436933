"""params.yaml is read into frozen typed sections; bad keys fail with a useful message."""

from __future__ import annotations

import copy
from pathlib import Path

import pydantic
import pytest
import yaml

from lithomap.config import load_params, parse_params
from lithomap.errors import ConfigError

REPO_PARAMS = Path(__file__).resolve().parents[1] / "params.yaml"


@pytest.fixture
def raw() -> dict:
    return yaml.safe_load(REPO_PARAMS.read_text())


def test_repository_params_load_into_typed_sections():
    params = load_params(REPO_PARAMS)
    assert set(params.regions) == {"puertollano", "santa_olalla", "villoslada"}
    region = params.region("villoslada")
    assert region.crs == "EPSG:32630"
    assert region.synthetic is not None and region.synthetic.mgrs_tile == "30TWM"
    assert params.generate.size_px * params.generate.thermal_resolution_m == pytest.approx(26880)


def test_sections_are_frozen():
    params = load_params(REPO_PARAMS)
    with pytest.raises(pydantic.ValidationError):
        params.generate.size_px = 12  # type: ignore[misc]


def test_misspelt_key_names_key_section_and_closest_key(raw):
    broken = copy.deepcopy(raw)
    broken["generate"]["thermal_acquisitons"] = broken["generate"].pop("thermal_acquisitions")
    with pytest.raises(ConfigError) as info:
        parse_params(broken, source="params.yaml")
    message = str(info.value)
    assert "'thermal_acquisitons'" in message
    assert "'generate'" in message
    assert "did you mean 'thermal_acquisitions'" in message


def test_misspelt_key_inside_a_region_names_the_region(raw):
    broken = copy.deepcopy(raw)
    broken["regions"]["puertollano"]["synthetic"]["sede"] = 3
    with pytest.raises(ConfigError, match=r"'sede' in section 'regions\.puertollano\.synthetic'; did you mean 'seed'"):
        parse_params(broken)


def test_unknown_top_level_section(raw):
    broken = copy.deepcopy(raw)
    broken["injest"] = {}
    with pytest.raises(ConfigError, match="did you mean 'ingest'"):
        parse_params(broken)


def test_bad_value_is_a_config_error_naming_the_field(raw):
    broken = copy.deepcopy(raw)
    broken["generate"]["cloudy_fraction"] = 1.5
    with pytest.raises(ConfigError, match=r"generate\.cloudy_fraction"):
        parse_params(broken)


def test_unknown_region_lists_known_ones():
    params = load_params(REPO_PARAMS)
    with pytest.raises(ConfigError, match="did you mean 'puertollano'"):
        params.region("puertolano")


def test_missing_params_file_says_how_to_fix(tmp_path):
    with pytest.raises(ConfigError, match="LITHOMAP_PARAMS"):
        load_params(tmp_path / "nope.yaml")
