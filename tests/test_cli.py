"""The `lithomap` command: every verb's help, and one real run of each on a tiny seeded region.

The pipeline runs once per module through typer's CliRunner, from a working directory
that is not the params file's folder, so it also checks that relative paths in a params
file are taken from that folder. MLflow uses a temporary SQLite store.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import rasterio
import xarray as xr
import yaml
from matplotlib.image import imread
from typer.testing import CliRunner

from lithomap.cli import app
from tests.conftest import tiny_params_dict

runner = CliRunner()
VERBS = (
    "generate",
    "ingest",
    "validate",
    "split",
    "preprocess",
    "train",
    "evaluate",
    "loro",
    "train-global",
    "promote",
    "matrix",
    "summary",
    "classes",
    "map",
    "report",
)


def invoke(*args: str):
    """Run one verb; fail with its output when it does not exit 0."""
    result = runner.invoke(app, list(args), terminal_width=200)
    assert result.exit_code == 0, result.output
    return result


def cli_params(project: Path, size_px: int = 48) -> Path:
    """A tiny params file in ``project`` whose paths are all relative to it."""
    raw = tiny_params_dict(Path(), size_px=size_px, acquisitions=8)
    raw["train"]["presets"]["tiny"].update(epochs=1, patience=1)
    raw["evaluate"].update(n_boot=10, baseline_pixels=500, baseline_max_iter=10)
    raw["model"] = {"cnn": {"base_filters": 4, "depth": 2}, "convlstm": {"base_filters": 4, "depth": 2}}
    raw["experiments"] = {"thermal": {"time_of_day": "any"}}
    raw["matrix"].update(regions=["tiny"], models=["cnn"], experiments=["thermal"])
    project.mkdir(parents=True, exist_ok=True)
    path = project / "params.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    """Every pipeline verb run once, in order: {verb: CliRunner result}, the project folder."""
    root = tmp_path_factory.mktemp("cli")
    project, elsewhere = root / "project", root / "elsewhere"
    elsewhere.mkdir()
    params = str(cli_params(project))
    with pytest.MonkeyPatch.context() as monkey:
        monkey.chdir(elsewhere)
        monkey.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
        monkey.delenv("LITHOMAP_PARAMS", raising=False)
        runs = {
            "generate": invoke("generate", "-p", params, "--quiet"),
            "validate raw": invoke("validate", "--stage", "raw", "-p", params),
            "ingest": invoke("ingest", "-p", params, "--quiet"),
            "split": invoke("split", "-p", params),
            "preprocess": invoke("preprocess", "-p", params, "-e", "thermal"),
            "validate processed": invoke("validate", "--stage", "processed", "-p", params),
            "train": invoke("train", "-r", "tiny", "-m", "cnn", "-e", "thermal", "-p", params, "--quiet"),
            "evaluate": invoke("evaluate", "-r", "tiny", "-m", "cnn", "-e", "thermal", "-p", params),
            "promote": invoke("promote", "-r", "tiny", "-m", "cnn", "-p", params),
            "map": invoke("map", "-r", "tiny", "-m", "cnn", "-p", params),
            "report": invoke("report", "-r", "tiny", "-p", params),
            "matrix": invoke("matrix", "-p", params),
            "summary": invoke("summary", "-p", params),
        }
        champion = mlflow.MlflowClient().get_model_version_by_alias("lithomap-tiny-cnn", "champion")
        mlflow.set_tracking_uri(None)
        yield runs, project, elsewhere, champion


def test_help_lists_every_verb():
    result = invoke("--help")
    for verb in VERBS:
        assert verb in result.output


@pytest.mark.parametrize("verb", VERBS)
def test_every_verb_has_help_with_its_options(verb):
    result = invoke(verb, "--help")
    assert "Usage:" in result.output
    if verb != "classes":
        assert "--params" in result.output


def test_generate_help_explains_every_option():
    result = invoke("generate", "--help")
    for option in ("--region", "--params", "--quicklook", "--no-quicklook", "--quiet"):
        assert option in result.output
    assert "synthetic" in result.output


def test_relative_paths_resolve_against_the_params_folder(pipeline):
    _, project, elsewhere, _ = pipeline
    assert (project / "raw" / "tiny" / "scene.json").is_file()
    picture = imread(project / "quicklook" / "tiny.png")
    assert picture.shape[0] > 500 and picture.shape[1] > 1000  # the 2 × 3 panel quick look
    assert (project / "interim" / "tiny").is_dir()
    assert sorted(p.name for p in elsewhere.iterdir()) == [], "nothing may be written in the working directory"


def test_generate_reports_the_dates_it_wrote(pipeline):
    runs, project, _, _ = pipeline
    output = runs["generate"].output
    assert output.startswith("tiny: 8 ECOSTRESS overpasses")
    scene = json.loads((project / "raw" / "tiny" / "scene.json").read_text())
    assert len(list((project / "raw" / "tiny").rglob("*_SDS_LST_doy*.tif"))) == 8 == scene["thermal_dates"]
    assert scene["region"] == "tiny" and scene["day_dates"] + scene["night_dates"] == 8


def test_validate_writes_summaries_for_raw_and_processed(pipeline):
    runs, project, _, _ = pipeline
    reports = project / "reports" / "validation"
    summaries = sorted(p.name for p in reports.rglob("*.json"))
    assert summaries, f"no JSON summary under {reports}"
    assert "tiny" in runs["validate raw"].output and "tiny" in runs["validate processed"].output


def test_ingest_split_and_preprocess_write_cube_split_and_manifest(pipeline):
    runs, project, _, _ = pipeline
    assert (project / "interim" / "tiny" / "cube.zarr").is_dir()
    assert (project / "processed" / "tiny" / "split.npz").is_file()
    assert "blocks train" in runs["split"].output
    counts = json.loads((project / "reports" / "datasets" / "tiny" / "class_counts.json").read_text())
    assert set(counts) >= {"train", "val", "test"}
    manifest = json.loads((project / "processed" / "tiny" / "thermal" / "manifest.json").read_text())
    assert manifest["patch_size"] == 16 and manifest["sequence_length"] == 4


def test_train_and_evaluate_write_history_and_metrics(pipeline):
    runs, project, _, _ = pipeline
    history = pd.read_csv(next((project / "models" / "tiny").rglob("history.csv")))
    assert len(history) == 1
    metrics = json.loads((project / "reports" / "evaluation" / "tiny" / "cnn-thermal" / "metrics.json").read_text())
    assert 0 <= metrics["macro_f1"] <= 1
    assert f"{metrics['macro_f1']:.3f}" in runs["evaluate"].output


def test_promote_makes_the_first_challenger_champion(pipeline, monkeypatch):
    runs, project, _, champion = pipeline
    decision = json.loads((project / "reports" / "promotion" / "tiny-cnn.json").read_text())
    assert decision["promoted"] is True
    assert "promoted" in runs["promote"].output
    assert str(champion.version) == str(decision["candidate_version"])
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{project.parent / 'mlflow.db'}")
    again = invoke("promote", "-r", "tiny", "-m", "cnn", "-p", str(project / "params.yaml"))
    assert f"kept champion v{champion.version}" in again.output and "already the champion" in again.output


def test_matrix_and_summary_show_the_evaluated_cell(pipeline):
    runs, project, _, _ = pipeline
    metrics = json.loads((project / "reports" / "evaluation" / "tiny" / "cnn-thermal" / "metrics.json").read_text())
    table = pd.read_csv(project / "reports" / "matrix" / "matrix.csv")
    assert len(table) == 1 and table["macro_f1"].iloc[0] == pytest.approx(metrics["macro_f1"], abs=1e-6)
    assert f"{metrics['macro_f1']:.3f}" in runs["summary"].output
    assert "tiny" in runs["summary"].output and "cnn" in runs["summary"].output


def test_preprocess_without_a_split_fails_and_names_the_split_verb(pipeline, tmp_path):
    _, project, _, _ = pipeline
    raw = yaml.safe_load((project / "params.yaml").read_text())
    raw["regions"]["tiny"]["raw_dir"] = str(project / "raw" / "tiny")
    raw["ingest"]["interim_dir"] = str(project / "interim")  # the pipeline's cube, but no split beside it
    raw["preprocess"].update(processed_dir=str(tmp_path / "processed"), reports_dir=str(tmp_path / "reports"))
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    result = runner.invoke(app, ["preprocess", "-p", str(path), "-e", "thermal"], terminal_width=400)
    assert result.exit_code == 2
    assert "no split for this region" in result.output and "lithomap split --region tiny" in result.output
    assert not (tmp_path / "processed").exists()


@pytest.mark.slow
def test_loro_tests_the_held_out_region_whole(tmp_path, monkeypatch):
    path = cli_params(tmp_path, size_px=48)
    raw = yaml.safe_load(path.read_text())
    other = json.loads(json.dumps(raw["regions"]["tiny"]))
    other["raw_dir"] = "raw/other"
    other["synthetic"]["seed"] = 99
    raw["regions"]["other"] = other
    path.write_text(yaml.safe_dump(raw))
    monkeypatch.chdir(tmp_path)
    for verb in ("generate", "ingest"):
        invoke(verb, "-p", str(path), "--quiet")
    invoke("split", "-p", str(path))
    invoke("preprocess", "-p", str(path), "-e", "thermal")
    result = invoke("loro", "--all", "-m", "cnn", "-e", "thermal", "-p", str(path), "--quiet")
    unwrapped = "".join(result.output.split())  # rich folds long paths at any character
    assert "loro-other" in unwrapped and "loro-tiny" in unwrapped
    assert (tmp_path / "reports" / "evaluation" / "loro-other").is_dir()
    table = (tmp_path / "reports" / "loro" / "loro.md").read_text()
    assert "| other | cnn | thermal |" in table and "| tiny | baseline | thermal |" in table
    again = invoke("loro", "--held-out", "tiny", "-m", "cnn", "-e", "thermal", "-p", str(path), "--quiet")
    assert "reusing the trained model" in " ".join(again.output.split())


def test_loro_needs_held_out_regions_or_all(tmp_path):
    path = cli_params(tmp_path)
    for extra in ([], ["--all", "--held-out", "tiny"]):
        result = runner.invoke(app, ["loro", "-p", str(path), *extra], terminal_width=200)
        assert result.exit_code == 2 and "give --held-out REGION (repeatable) or --all" in result.output
    result = runner.invoke(app, ["loro", "-p", str(path), "--held-out", "nowhere"], terminal_width=200)
    assert result.exit_code == 2 and "nowhere" in result.output


def test_map_and_report_write_under_the_project(pipeline):
    runs, project, elsewhere, champion = pipeline
    said = " ".join(runs["map"].output.split())  # rich wraps the summary at the path's length
    assert "seam index" in said and "lithomap-tiny-cnn" in said
    meta = yaml.safe_load((project / "maps" / "tiny" / "cnn-thermal" / "map.json").read_text())
    assert meta["version"] == str(champion.version) and meta["alias"] == "champion"
    assert (project / "reports" / "tiny" / "index.html").is_file()
    assert "hypotheses holding" in " ".join(runs["report"].output.split())
    assert not (elsewhere / "maps").exists()


def test_map_without_a_registered_model_names_what_to_run(pipeline, tmp_path, monkeypatch):
    _, project, _, _ = pipeline
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'empty.db'}")
    result = runner.invoke(app, ["map", "-r", "tiny", "-m", "convlstm", "-p", str(project / "params.yaml")])
    assert result.exit_code == 2 and "lithomap train -r tiny -m convlstm" in result.output


def test_evaluate_without_a_trained_model_names_the_verb_to_run(pipeline):
    _, project, _, _ = pipeline
    result = runner.invoke(
        app, ["evaluate", "-r", "tiny", "-m", "convlstm", "-e", "thermal", "-p", str(project / "params.yaml")]
    )
    assert result.exit_code == 2, result.output
    assert "no finished model here" in result.output and "run `lithomap train` for it first" in result.output
    assert "Traceback" not in result.output


def test_a_damaged_tracking_database_is_one_clear_error(pipeline, tmp_path, monkeypatch):
    _, project, _, _ = pipeline
    damaged = tmp_path / "mlflow.db"
    damaged.write_bytes(b"not a database" * 300)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{damaged}")
    result = runner.invoke(app, ["promote", "-r", "tiny", "-m", "cnn", "-p", str(project / "params.yaml")])
    assert result.exit_code == 2, result.output
    assert f"MLflow tracking store sqlite:///{damaged}" in result.output and "move it aside" in result.output
    assert "Traceback" not in result.output


def test_promote_with_an_unreachable_server_fails_fast_and_promotes_nothing(pipeline, tmp_path, monkeypatch):
    _, project, _, _ = pipeline
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{port}")
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", raising=False)
    result = runner.invoke(app, ["promote", "-r", "tiny", "-m", "cnn", "-p", str(project / "params.yaml")])
    assert result.exit_code == 2, result.output
    assert f"MLflow tracking store http://127.0.0.1:{port}" in result.output
    assert "register a model first" not in result.output and "Fix: check that the tracking server" in result.output
    assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "2", "retries bounded (MLflow's own default is 7)"


def test_classes_prints_the_table_and_maps_legend_text():
    table = invoke("classes").output
    assert "background" in table and "water" in table and "13" in table
    result = invoke("classes", "Granodioritas", "Zona urbana", "Holocene River Alluvium")
    assert "plutonic" in result.output and "unmapped" in result.output and "sand" in result.output


def test_classes_with_a_mapping_file_that_adds_one_rule(tmp_path):
    mapping = tmp_path / "extra.yaml"
    mapping.write_text("rules:\n  - {class: chalk, patterns: ['\\bzona urbana\\b']}\n", encoding="utf-8")
    result = invoke("classes", "--mapping", str(mapping), "Zona urbana", "Granodioritas")
    assert "chalk" in result.output and "plutonic" in result.output


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"generate": {"size": 64}}, "unknown key 'size' in section 'generate'"),
        ({"regions": {"../../x": {"raw_dir": "x", "crs": "EPSG:32630"}}}, "regions.../../x: '../../x' is not a valid"),
    ],
)
def test_bad_params_is_one_clear_error_and_exit_code_2(tmp_path, change, expected):
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump({"regions": {}, **change}))
    result = runner.invoke(app, ["generate", "--params", str(path)], terminal_width=400)
    assert result.exit_code == 2
    assert expected in result.output
    assert "Traceback" not in result.output


def test_generate_refuses_a_raw_dir_holding_the_params_file(tmp_path):
    path = cli_params(tmp_path)
    raw = yaml.safe_load(path.read_text())
    raw["regions"]["tiny"]["raw_dir"] = "."
    path.write_text(yaml.safe_dump(raw))
    result = runner.invoke(app, ["generate", "--params", str(path)], terminal_width=400)
    assert result.exit_code == 2
    assert "regions.tiny.raw_dir" in result.output and "replaces the whole raw_dir" in result.output
    assert path.is_file() and sorted(p.name for p in tmp_path.iterdir()) == ["params.yaml"]


def test_params_file_that_is_not_utf8_is_one_clear_error(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_bytes("regions: {}\n# Cáceres\n".encode("latin-1"))
    result = runner.invoke(app, ["split", "--params", str(path)], terminal_width=400)
    assert result.exit_code == 2
    assert "not UTF-8" in result.output and "save the file as UTF-8" in result.output


@pytest.mark.realdata
@pytest.mark.slow  # ~2 min: ingests and maps six real ECOSTRESS overpasses
def test_readme_your_own_data_walkthrough_on_real_ecostress(pipeline, realdata, monkeypatch):
    """README "Your own data": real ECOSTRESS night + day overpasses and a geological map, validate → ingest → map."""
    _, project, _, _ = pipeline
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{project.parent / 'mlflow.db'}")
    own = project / "own" / "segna"
    for kind, folder, pattern in (
        ("ecostress", realdata("ecostress_diurnal_seg"), "*.tif"),
        ("geology", realdata("wa_hamersley_geology"), "geol_clip.*"),
    ):
        (own / kind).mkdir(parents=True)
        for path in folder.glob(pattern):
            (own / kind / path.name).symlink_to(path)
    raw = yaml.safe_load((project / "params.yaml").read_text())
    raw["regions"]["segna"] = {
        "raw_dir": "own/segna",
        "crs": "EPSG:32613",
        "resolution": 70,
        "geology_attribute": "rocktype1",
    }
    params = project / "own.yaml"
    params.write_text(yaml.safe_dump(raw), encoding="utf-8")

    wrong_map = runner.invoke(app, ["validate", "-s", "raw", "-r", "segna", "-p", str(params)], terminal_width=200)
    assert wrong_map.exit_code == 2
    assert "geol_clip.shp: no polygon of the geological map overlaps the region grid" in wrong_map.output
    (own / "geology").rename(project / "own" / "hamersley_geology")  # Western Australia: not this region

    passed = invoke("validate", "-s", "raw", "-r", "segna", "-p", str(params))
    assert (
        "passed for mapping; training is NOT possible" in passed.output and "the region holds labels" in passed.output
    )
    for_training = runner.invoke(app, ["validate", "-s", "raw", "-r", "segna", "--for", "training", "-p", str(params)])
    assert for_training.exit_code == 2 and "for training" in for_training.output
    ingested = invoke("ingest", "-r", "segna", "-p", str(params), "--quiet")
    assert "thermal dates: 6" in ingested.output and "missing labels" in ingested.output
    mapped = invoke("map", "-r", "segna", "-m", "cnn", "--model-region", "tiny", "-p", str(params))
    assert "lithomap-tiny-cnn" in mapped.output
    with rasterio.open(project / "maps" / "segna" / "cnn-thermal" / "classes.tif") as classes:
        cube = xr.open_zarr(project / "interim" / "segna" / "cube.zarr")
        assert classes.crs.to_epsg() == 32613 and classes.shape == cube.lst.shape[1:]
        assert (classes.read(1) > 0).mean() > 0.8  # the overpasses cover the region: nearly every pixel is mapped


def test_map_refuses_an_unknown_if_no_champion_choice():
    result = runner.invoke(app, ["map", "-r", "tiny", "--if-no-champion", "maybe"])
    assert result.exit_code == 2 and "--if-no-champion must be one of fail, challenger" in result.output


def test_summary_shows_a_model_the_gate_refused_as_not_promoted_with_its_map(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(tiny_params_dict(tmp_path)), encoding="utf-8")
    evaluation = tmp_path / "reports" / "evaluation" / "tiny" / "cnn-thermal"
    evaluation.mkdir(parents=True)
    metrics = {"oa": 0.5, "macro_f1": 0.312, "macro_f1_ci": [0.2, 0.4], "kappa": 0.3, "baseline": {"macro_f1": 0.421}}
    (evaluation / "metrics.json").write_text(json.dumps(metrics))
    (tmp_path / "reports" / "promotion").mkdir(parents=True)
    decision = {"promoted": False, "candidate_version": "1", "champion_version": None, "reason": "below baseline"}
    (tmp_path / "reports" / "promotion" / "tiny-cnn.json").write_text(json.dumps(decision))
    folder = tmp_path / "maps" / "tiny" / "cnn-thermal"
    folder.mkdir(parents=True)
    (folder / "map.json").write_text(json.dumps({"version": "1", "model_scope": "region", "promoted": False}))
    result = runner.invoke(app, ["summary", "-p", str(params)])
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if "0.312" in line)
    assert "not promoted" in row and "v1 not promoted" in row and "kept" not in row
