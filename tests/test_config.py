"""params.yaml is read into frozen typed sections; bad keys fail with a useful message."""

from __future__ import annotations

import copy
import re
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


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("rule", "pairwise", r"promote\.rule: Input should be 'margin' or 'paired'"),
        ("paired_confidence", 95, r"promote\.paired_confidence: .*less than 1"),
    ],
)
def test_a_bad_promotion_rule_or_confidence_is_a_config_error(raw, key, value, message):
    broken = copy.deepcopy(raw)
    broken["promote"][key] = value
    with pytest.raises(ConfigError, match=message):
        parse_params(broken, source="params.yaml")


def test_unknown_region_lists_known_ones():
    params = load_params(REPO_PARAMS)
    with pytest.raises(ConfigError, match="did you mean 'puertollano'"):
        params.region("puertolano")


def test_missing_params_file_says_how_to_fix(tmp_path):
    with pytest.raises(ConfigError, match="LITHOMAP_PARAMS"):
        load_params(tmp_path / "nope.yaml")


def broken_params(raw: dict, path: str, value) -> dict:
    """A copy of ``raw`` with the dotted ``path`` set to ``value``."""
    broken = copy.deepcopy(raw)
    *parents, last = path.split(".")
    node = broken
    for part in parents:
        node = node[part]
    node[last] = value
    return broken


@pytest.mark.parametrize(
    ("path", "value", "key", "problem"),
    [
        (
            "train.presets.demo.learning_rate",
            {"cnn": 0.002},
            "train.presets.demo.learning_rate",
            "no learning rate for convlstm",
        ),
        ("train.preset", "fast", "train.preset", "'fast' is not one of train.presets"),
        ("preprocess.patch_size", 60, "preprocess.patch_size", "not divisible by 2**model.cnn.depth = 8"),
        ("preprocess.split_fractions", [0.7, 0.2, 0.2], "preprocess.split_fractions", "summing to 1"),
        ("preprocess.split_fractions", [1.2, -0.1, -0.1], "preprocess.split_fractions", "three positive shares"),
        ("preprocess.block_size", 32, "preprocess.block_size", "smaller than preprocess.patch_size"),
        ("preprocess.day_sun_elevation", 60, "preprocess.day_sun_elevation", "less than or equal to 45"),
        (
            "preprocess.season_months",
            {"winter": [1, 2], "summer": [2, 7]},
            "preprocess.season_months.summer",
            "month 2",
        ),
        ("preprocess.season_months", {"winter": [13], "summer": [6]}, "preprocess.season_months.winter", "not 1–12"),
        ("experiments.winter", {"seasons": ["winter"]}, "experiments.winter.seasons", "no months"),
        ("matrix.regions", ["puertollano", "atlantis"], "matrix.regions", "['atlantis'] not defined in regions"),
        ("matrix.experiments", ["thermal", "dusk"], "matrix.experiments", "['dusk'] not defined in experiments"),
        ("loss.class_weights", [1.0] * 13, "loss.class_weights", "got 13:"),
        ("loss.class_weights", [-1.0] + [1.0] * 13, "loss.class_weights", "non-negative"),
        ("regions.villoslada.crs", "EPSG:99999", "regions.villoslada.crs", "not a CRS"),
        ("regions.villoslada.bounds", [540690, 4651920, 513810, 4678800], "regions.villoslada.bounds", "xmin, ymin"),
        ("regions.villoslada.synthetic.utm_epsg", 32633, "regions.villoslada.synthetic.utm_epsg", "use 32630"),
        ("regions.villoslada.synthetic.utm_epsg", 32730, "regions.villoslada.synthetic.utm_epsg", "use 32630"),
        (
            "regions.villoslada.synthetic.class_mix",
            {"granite": 1.0},
            "regions.villoslada.synthetic.class_mix",
            "granite",
        ),
        (
            "regions.villoslada.synthetic.class_mix",
            {"sand": 0.0},
            "regions.villoslada.synthetic.class_mix",
            "not all zero",
        ),
        (
            "regions.villoslada.raw_dir",
            "data/raw/puertollano",
            "regions.puertollano.raw_dir",
            "overlaps regions.villoslada",
        ),
        ("regions.villoslada.raw_dir", "data", "regions.villoslada.raw_dir", "overlaps"),
        ("validation.lst_range_k", [350, 200], "validation.lst_range_k", "not [low, high]"),
        ("tune.space", {"learning_rate": [0.0, 0.01]}, "tune.space.learning_rate", "positive values (log-uniform)"),
        ("tune.space", {"dropout": [0.3, 0.1]}, "tune.space.dropout", "not a range"),
        ("tune.space", {"batch_size": []}, "tune.space.batch_size", "must list positive integers"),
        ("map", {"maps_dir": "data/raw/villoslada/maps"}, "regions.villoslada.raw_dir", "overlaps map.maps_dir"),
        ("tune", {"journal_file": "data/raw/puertollano/j.log"}, "regions.puertollano.raw_dir", "tune.journal_file"),
    ],
)
def test_broken_rule_between_keys_is_one_error_naming_file_key_problem_and_fix(raw, path, value, key, problem):
    if path == "experiments.winter":
        raw["preprocess"]["season_months"] = {"summer": [6, 7, 8]}
    with pytest.raises(ConfigError) as info:
        parse_params(broken_params(raw, path, value), source="my/params.yaml")
    message = str(info.value)
    assert message.startswith(f"my/params.yaml: {key}: ")
    assert problem in message
    assert ". Fix: " in message


@pytest.mark.parametrize(
    ("path", "value", "key"),
    [
        ("regions.villoslada.synthetic.centre_lat", 123, "regions.villoslada.synthetic.centre_lat"),
        ("regions.villoslada.synthetic.centre_lon", -200, "regions.villoslada.synthetic.centre_lon"),
        ("train.presets.demo.learning_rate", {"cnn": 0.1, "unet": 0.1}, "train.presets.demo.learning_rate.unet.[key]"),
    ],
)
def test_value_out_of_range_names_the_key_and_what_it_means(raw, path, value, key):
    with pytest.raises(ConfigError) as info:
        parse_params(broken_params(raw, path, value), source="params.yaml")
    message = str(info.value)
    assert f"params.yaml: {key}: " in message
    assert "Fix: give a valid value" in message


@pytest.mark.parametrize("name", ["../../x", "a/b", "santa olalla", "2019", "puertollano."])
def test_region_and_experiment_names_must_be_identifiers(raw, name):
    broken = copy.deepcopy(raw)
    broken["regions"][name] = broken["regions"].pop("villoslada")
    broken["regions"][name]["raw_dir"] = "data/raw/other"
    with pytest.raises(ConfigError, match=rf"regions\.{re.escape(name)}: {re.escape(repr(name))} is not a valid name"):
        parse_params(broken)
    broken = copy.deepcopy(raw)
    broken["experiments"][name] = {"time_of_day": "day"}
    with pytest.raises(ConfigError, match=rf"experiments\.{re.escape(name)}: .* is not a valid name"):
        parse_params(broken)


def test_region_name_global_is_reserved_for_the_global_model(raw):
    broken = copy.deepcopy(raw)
    broken["regions"]["global"] = broken["regions"].pop("villoslada")
    with pytest.raises(ConfigError, match=r"regions\.global: 'global' is reserved.*lithomap-global-<model>.*rename"):
        parse_params(broken)


def write_params(folder: Path, raw: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "params.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def test_relative_paths_are_taken_from_the_params_files_folder(raw, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    raw["regions"]["villoslada"]["mapping_file"] = "legend.yaml"
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "legend.yaml").write_text("exact: {'zona urbana': background}\n", encoding="utf-8")
    write_params(tmp_path / "elsewhere", raw)
    params = load_params("elsewhere/params.yaml")
    base = Path("elsewhere")
    assert params.region("villoslada").raw_dir == base / "data/raw/villoslada"
    assert params.region("villoslada").mapping_file == base / "legend.yaml"
    assert params.preprocess.processed_dir == base / "data/processed"
    assert params.ingest.interim_dir == base / "data/interim"
    assert params.training().models_dir == base / "models"
    assert params.tracking.artifact_root == base / "mlartifacts"
    assert params.evaluate.reports_dir == base / "reports/evaluation"  # a default, not in the file
    absolute = tmp_path / "abs" / "raw"
    raw["regions"]["villoslada"]["raw_dir"] = str(absolute)
    assert load_params(write_params(tmp_path / "elsewhere", raw)).region("villoslada").raw_dir == absolute


def test_repository_params_keep_their_paths_when_read_from_the_root(monkeypatch):
    monkeypatch.chdir(REPO_PARAMS.parent)
    params = load_params("params.yaml")
    assert params.region("puertollano").raw_dir == Path("data/raw/puertollano")
    assert params.preprocess.processed_dir == Path("data/processed")


@pytest.mark.parametrize("raw_dir", [".", "..", "/"])
def test_synthetic_raw_dir_holding_the_params_file_is_refused(raw, tmp_path, raw_dir):
    raw["regions"]["villoslada"]["raw_dir"] = raw_dir
    with pytest.raises(ConfigError, match=r"regions\.villoslada\.raw_dir: .* is or contains the params file's folder"):
        load_params(write_params(tmp_path / "project", raw))


def test_real_data_region_may_read_any_folder(raw, tmp_path):
    del raw["regions"]["villoslada"]["synthetic"]
    raw["regions"]["villoslada"]["raw_dir"] = "."
    assert load_params(write_params(tmp_path, raw)).region("villoslada").raw_dir == tmp_path


def test_missing_mapping_file_names_the_region_key(raw, tmp_path):
    raw["regions"]["villoslada"]["mapping_file"] = "nope.yaml"
    with pytest.raises(
        ConfigError, match=r"params\.yaml: regions\.villoslada\.mapping_file: .*nope\.yaml: mapping file not found"
    ):
        load_params(write_params(tmp_path, raw))


def test_invalid_mapping_file_names_the_region_key_and_the_rule(raw, tmp_path):
    (tmp_path / "legend.yaml").write_text("rules:\n  - {class: granite, patterns: ['granit']}\n", encoding="utf-8")
    raw["regions"]["villoslada"]["mapping_file"] = "legend.yaml"
    with pytest.raises(
        ConfigError, match=r"regions\.villoslada\.mapping_file: .*legend\.yaml: unknown class 'granite'"
    ):
        load_params(write_params(tmp_path, raw))


def test_params_file_that_is_not_utf8_says_so(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_bytes("regions: {}\n# Villoslada de Cameros, La Rioja: ñ\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"params\.yaml: not UTF-8 text .* Fix: save the file as UTF-8"):
        load_params(path)


def test_params_file_that_is_not_a_mapping_says_so(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("- regions\n- generate\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="must be a YAML mapping of sections"):
        load_params(path)


def test_invalid_yaml_says_where(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("regions: {a: [1, 2}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"not valid YAML (?s:.*)line 1, column 19"):
        load_params(path)
