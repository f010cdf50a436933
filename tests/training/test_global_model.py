"""The global model: trained on every labelled region, registered, gated on its leave-one-region-out score, mapped with.

Two tiny seeded regions, a real leave-one-region-out run and a real MLflow SQLite store.
"""

from __future__ import annotations

import json
import shutil

import mlflow
import numpy as np
import pandas as pd
import pytest
import rasterio
import xarray as xr
import yaml
from typer.testing import CliRunner

from lithomap.cli import app
from lithomap.config import MapParams, RegionParams, parse_params
from lithomap.errors import ConfigError, LithomapError
from lithomap.io.ingest import ingest_region
from lithomap.mapping.maps import make_map
from lithomap.mapping.writers import CLASSES_FILE, DIFFERENCE_FILE, SHIFT_RASTER
from lithomap.models.transfer import SUMMARY_MODEL_FILE, load_summary_model
from lithomap.registry.promotion import promote_global, promote_global_model
from lithomap.registry.publish import publish_global
from lithomap.registry.registry import CHAMPION, register
from lithomap.training.global_model import loro_settings_differ, train_global
from lithomap.training.leave_one_out import labelled_regions, pooled_dir
from lithomap.training.loro_table import COLUMNS, TABLE_CSV, transfer_expectation
from tests.conftest import tiny_params_dict

runner = CliRunner()


@pytest.fixture(scope="module")
def regions(tmp_path_factory, two_regions):
    """Two labelled tiny regions, split and preprocessed, and an empty MLflow store: (raw params, params, root)."""
    root = tmp_path_factory.mktemp("global")
    raw = tiny_params_dict(root, size_px=48, acquisitions=8)
    raw["train"]["presets"]["tiny"].update(epochs=1, patience=1)
    raw["evaluate"].update(n_boot=10, baseline_pixels=500, baseline_max_iter=10)
    raw["model"] = {"cnn": {"base_filters": 4, "depth": 2}, "convlstm": {"base_filters": 4, "depth": 2}}
    raw["map"] = {"maps_dir": str(root / "maps"), "strip_px": 32}
    params = two_regions(raw, root, models=["cnn"])
    monkey = pytest.MonkeyPatch()
    monkey.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
    monkey.delenv("LITHOMAP_PARAMS", raising=False)
    yield raw, params, root
    monkey.undo()


def write_loro_table(folder, shift: float = 0.2, gain: float = 0.0) -> None:
    """A leave-one-region-out table as `lithomap loro --all -m cnn` writes it (tests/training/test_leave_one_out.py).

    The held-out regions' domain shifts (``shift`` and half of it) are the fixture's: a map of
    a region whose shift is beyond ``shift`` carries a warning. The transfer model's rows
    (``cnn+summary``, what the global model is gated on and maps with) score 0.5 and 0.6
    (+ ``gain``); the network alone scores 0.2 less, so reading the wrong rows shows.
    """
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for held_out, score, shifted in (("other", 0.5 + gain, shift), ("tiny", 0.6 + gain, shift / 2)):
        common = {"held_out": held_out, "experiment": "thermal", "domain_shift": shifted}
        for model, value in (("cnn+summary", score), ("cnn", score - 0.2)):
            interval = {"macro_f1_learnable_low": value - 0.1, "macro_f1_learnable_high": value + 0.1}
            rows.append(common | interval | {"model": model, "macro_f1_learnable": value})
        rows.append(common | {"model": "baseline", "macro_f1_learnable": score - 0.05})
    pd.DataFrame(rows, columns=list(COLUMNS)).to_csv(folder / TABLE_CSV, index=False)


@pytest.fixture(scope="module")
def global_champion(regions):
    """The leave-one-region-out table of the CNN, then `train_global` of the CNN: (params, result)."""
    _, params, _ = regions
    write_loro_table(params.loro.reports_dir)
    return params, train_global("cnn", "thermal", params, verbose=0)


def test_train_global_refuses_without_a_loro_table_before_training(regions):
    _, params, root = regions
    empty = params.model_copy(
        update={
            "loro": params.loro.model_copy(update={"reports_dir": root / "no-loro"}),
            "train": params.training().model_copy(update={"models_dir": root / "no-loro-models"}),
        }
    )
    client = mlflow.MlflowClient()
    before = len(client.search_model_versions("name = 'lithomap-global-cnn'"))
    refusal = r"no leave-one-region-out score.*run `lithomap loro --all -m cnn -e thermal`"
    with pytest.raises(LithomapError, match=refusal):
        train_global("cnn", "thermal", empty, verbose=0)
    assert not pooled_dir("global", "cnn", "thermal", empty).exists(), "nothing is trained without a table"
    assert len(client.search_model_versions("name = 'lithomap-global-cnn'")) == before, "nor registered"
    with pytest.raises(LithomapError, match=r"lithomap-global-convlstm: no leave-one-region-out score"):
        promote_global("convlstm", None, experiment="thermal", table=root / "no-loro" / TABLE_CSV)

    # A table from before the transfer model (the network's rows only) cannot gate what the global model maps with.
    write_loro_table(root / "no-loro")
    table = pd.read_csv(root / "no-loro" / TABLE_CSV)
    table[table["model"] != "cnn+summary"].to_csv(root / "no-loro" / TABLE_CSV, index=False)
    with pytest.raises(LithomapError, match=r"no leave-one-region-out score for cnn\+summary \(the transfer model"):
        train_global("cnn", "thermal", empty, verbose=0)
    assert not pooled_dir("global", "cnn", "thermal", empty).exists()


def test_global_model_trains_on_every_labelled_region_and_is_gated_on_its_loro_score(global_champion):
    params, result = global_champion
    client = mlflow.MlflowClient()
    loro_score = 0.55  # the mean of the two held-out regions' learnable macro-F1

    assert result.regions == ["tiny", "other"] and result.skipped == []
    manifests = [params.preprocess.processed_dir / r / "thermal" / "manifest.json" for r in ("tiny", "other")]
    assert result.train.train_patches == sum(json.loads(m.read_text())["patches"]["train"] for m in manifests)

    decision = result.decision
    assert decision["promoted"] and decision["reason"].startswith("first version")
    assert decision["candidate_macro_f1"] == pytest.approx(loro_score, abs=1e-4)
    assert decision["candidate_interval"] == [0.4, 0.7] and decision["baseline_macro_f1"] == pytest.approx(0.5)
    assert decision["held_out"] == ["other", "tiny"] and not decision["settings_checked"], "no LORO models here"
    report = json.loads((params.promote.reports_dir / "global-cnn.json").read_text())
    assert report["promoted"] and report["candidate_version"] == result.version

    version = client.get_model_version_by_alias("lithomap-global-cnn", CHAMPION)
    assert str(version.version) == result.version
    tags = version.tags
    assert tags["lithomap.scope"] == "global" and tags["lithomap.training_regions"] == "tiny,other"
    assert float(tags["lithomap.expected_macro_f1"]) == pytest.approx(loro_score, abs=1e-4)
    interval = [float(tags[f"lithomap.expected_macro_f1_{end}"]) for end in ("low", "high")]
    assert interval == [0.4, 0.7]
    assert tags["lithomap.expected_held_out"] == "other,tiny" and float(tags["lithomap.expected_max_shift"]) == 0.2
    assert tags["promotion.decision"] == "promoted" and tags["promotion.scope"] == "global"
    assert tags["promotion.rule"] == "margin"
    run = client.get_run(version.run_id)
    assert run.data.metrics["loro_macro_f1_learnable"] == pytest.approx(loro_score, abs=1e-4)
    assert run.data.params["summary_blend"] == "0.5" and (result.train.model_dir / SUMMARY_MODEL_FILE).is_file()
    pyfunc = mlflow.pyfunc.load_model(f"models:/lithomap-global-cnn/{version.version}")
    assert pyfunc.metadata.metadata["summary_blend"] == 0.5
    assert json.loads(run.data.params["data.regions"]) == ["tiny", "other"]
    assert client.get_experiment(run.info.experiment_id).name == "lithomap-global"

    # A second version with the same leave-one-region-out score does not replace the champion.
    expected = transfer_expectation(params.loro.reports_dir, "cnn", "thermal", blended=True)
    trained = pooled_dir("global", "cnn", "thermal", params)
    second = _publish_again(params, trained, expected)
    table_path = params.loro.reports_dir / TABLE_CSV
    same = promote_global_model("cnn", "thermal", expected, params.promote, table_path, version=second)
    assert not same["promoted"] and "does not exceed the margin" in same["reason"] and same["gain"] == 0
    assert str(client.get_model_version_by_alias("lithomap-global-cnn", CHAMPION).version) == result.version

    # Nor does one whose score comes from leave-one-region-out models trained otherwise, or is below the baseline.
    loro_model = pooled_dir("loro-other", "cnn", "thermal", params)
    loro_model.mkdir(parents=True)
    shutil.copy(trained / "train.json", loro_model / "train.json")  # trained as the global model was
    assert loro_settings_differ(["other", "tiny"], "cnn", "thermal", params, result.train.settings) == []
    changed = json.loads(json.dumps(result.train.settings))
    changed["train"]["learning_rate"] = 0.1
    changed["loss"]["weights"] = [1.0] * 14  # the pool of regions sets the weights: not compared
    differ = loro_settings_differ(["other", "tiny"], "cnn", "thermal", params, changed)
    assert differ == ["other: train.learning_rate: 0.005 → 0.1"]
    refused = promote_global("cnn", expected, experiment="thermal", table=table_path, settings_differ=differ)
    assert not refused["promoted"] and "--retrain" in refused["reason"]
    below = dict(expected, baseline_macro_f1_learnable=expected["macro_f1_learnable"] + 0.05)
    refused = promote_global("cnn", below, experiment="thermal", table=table_path, beat_baseline=True)
    assert not refused["promoted"] and "does not beat the fair per-pixel baseline" in refused["reason"]

    # A better leave-one-region-out score (a new `lithomap loro` run) promotes it.
    write_loro_table(params.loro.reports_dir, gain=0.05)
    better = transfer_expectation(params.loro.reports_dir, "cnn", "thermal", blended=True)
    promoted = promote_global_model("cnn", "thermal", better, params.promote, table_path, version=second)
    assert promoted["promoted"] and promoted["gain"] == pytest.approx(0.05, abs=1e-3)
    assert str(client.get_model_version_by_alias("lithomap-global-cnn", CHAMPION).version) == second
    assert client.get_model_version("lithomap-global-cnn", result.version).tags["promotion.replaced_by"] == second
    assert float(client.get_model_version("lithomap-global-cnn", second).tags["lithomap.expected_macro_f1"]) == 0.6


def _publish_again(params, trained, expected) -> str:
    """Register the trained global model once more (a retrained version, without retraining)."""
    import keras

    from lithomap.datasets.manifest import load_manifest
    from lithomap.models.normalisation import load_stats
    from lithomap.models.shift import REFERENCE_FILE, load_reference
    from lithomap.training.fit import read_training_record

    dataset = params.preprocess.processed_dir / "tiny" / "thermal"
    history = pd.read_csv(trained / "history.csv")
    return publish_global(
        arch="cnn",
        regions=["tiny", "other"],
        record=read_training_record(trained),
        manifest=load_manifest(dataset),
        dataset=dataset,
        curves=trained / "curves.png",
        model=keras.models.load_model(trained / "model.keras", compile=False),
        stats=load_stats(trained / "normalisation.json"),
        history={column: history[column].tolist() for column in history.columns if column != "epoch"},
        expected=expected,
        artifact_root=params.tracking.artifact_root,
        shift_reference=load_reference(trained / REFERENCE_FILE).to_dict(),
        summary_model=load_summary_model(trained),
    )


def test_map_falls_back_to_the_global_model_for_a_region_without_its_own(global_champion, regions):
    params, _ = global_champion
    raw, _, root = regions
    target = params.ingest.interim_dir / "newarea" / "cube.zarr"
    shutil.rmtree(target, ignore_errors=True)
    cube = xr.open_zarr(params.ingest.interim_dir / "tiny" / "cube.zarr").drop_vars(["label", "label_valid"])
    cube.assign(lst=cube["lst"] * 1.5 - 140.0).to_zarr(target, mode="w")  # a cooler climate, no labels
    newarea = {"raw_dir": str(root / "raw" / "newarea"), "crs": "EPSG:32630", "resolution": 70}
    raw = json.loads(json.dumps(raw)) | {"regions": raw["regions"] | {"newarea": newarea}}
    path = root / "with-newarea.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    assert labelled_regions(parse_params(raw)) == ["tiny", "other"], "a region without labels is never trained on"

    said = runner.invoke(app, ["map", "-r", "newarea", "-m", "cnn", "-p", str(path)], terminal_width=300)
    assert said.exit_code == 0, said.output
    console = " ".join(said.output.split())  # rich wraps long lines
    assert "using the global model: newarea has no model of its own (lithomap-newarea-cnn is not registered)" in console
    assert "the transfer model: blended with the summary model at weight 0.5" in console
    folder = params.map.maps_dir / "newarea" / "cnn-thermal"
    meta = json.loads((folder / "map.json").read_text())
    champion = mlflow.MlflowClient().get_model_version_by_alias("lithomap-global-cnn", CHAMPION)
    assert meta["model_scope"] == "global" and meta["registered_model"] == "lithomap-global-cnn"
    assert meta["normalisation"] == "target", "a global map normalises the region by its own inputs, as loro scored"
    assert meta["summary_blend"] == 0.5, "a global map is the transfer model's: network and summary model blended"
    assert meta["version"] == str(champion.version) and meta["training_regions"] == ["tiny", "other"]
    assert meta["transfer"] and meta["expected_macro_f1"]["held_out"] == ["other", "tiny"]
    assert meta["expected_macro_f1"]["macro_f1_learnable"] == pytest.approx(
        float(champion.tags["lithomap.expected_macro_f1"]), abs=1e-4
    ), "a global map states the score its version was gated with"
    assert (folder / SHIFT_RASTER).is_file() and not (folder / DIFFERENCE_FILE).exists()
    with rasterio.open(folder / CLASSES_FILE) as source:
        tags = source.tags()
        assert (source.read(1) > 0).mean() > 0.9
    assert tags["MODEL_SCOPE"] == "global" and tags["REGISTERED_MODEL"] == f"lithomap-global-cnn v{champion.version}"
    assert tags["SUMMARY_BLEND"] == "0.5"

    # A labelled region the global model trained on: no transfer claimed.
    own = make_map("tiny", "cnn", params, log_artifacts=False)
    assert own.model_scope == "global" and not own.trust["transfer"] and own.trust["expected_macro_f1"] is None
    assert own.normalisation == "target", "the global model was trained on several regions' statistics"

    # With a model of its own the region uses it, unless --global.
    register(f"runs:/{champion.run_id}/model", "tiny", "cnn")
    mlflow.MlflowClient().set_registered_model_alias("lithomap-tiny-cnn", CHAMPION, "1")
    mine = make_map("tiny", "cnn", params, log_artifacts=False)
    assert mine.registered_model == "lithomap-tiny-cnn" and mine.normalisation == "model"
    assert json.loads((mine.folder / "map.json").read_text())["summary_blend"] is None, "own region: the network"
    forced = make_map("tiny", "cnn", params, use_global=True, log_artifacts=False)
    assert forced.registered_model == "lithomap-global-cnn" and forced.model_choice == "asked for with --global"

    # Neither a model of its own nor a global one: both names and the commands that make them.
    with pytest.raises(LithomapError) as caught:
        make_map("newarea", "convlstm", params.model_copy(update={"regions": parse_params(raw).regions}))
    message = str(caught.value)
    for text in (
        "lithomap-newarea-convlstm is not registered",
        "lithomap-global-convlstm has no 'champion' version",
        "lithomap train -r newarea -m convlstm",
        "lithomap loro --all -m convlstm",
        "lithomap train-global -m convlstm",
    ):
        assert text in message, text
    with pytest.raises(ConfigError, match="give --global or --model-region, not both"):
        make_map("newarea", "cnn", params, model_region="tiny", use_global=True)


@pytest.mark.realdata
@pytest.mark.slow  # 37 s on 2 cores; the default suite stays under 10 min
def test_real_ecostress_region_without_labels_is_mapped_with_the_global_model(global_champion, realdata):
    params, _ = global_champion
    region = RegionParams(raw_dir=realdata("ecostress_diurnal_seg"), crs="EPSG:32613", resolution=70.0)
    ingest_region("seg", region, params.ingest, progress=False)
    params = params.model_copy(
        update={
            "regions": dict(params.regions) | {"seg": region},
            "map": MapParams(maps_dir=params.map.maps_dir, strip_px=64, batch_size=64),
        }
    )
    result = make_map("seg", "cnn", params, log_artifacts=False)
    meta = json.loads((result.folder / "map.json").read_text())
    assert meta["model_scope"] == "global" and "lithomap-seg-cnn is not registered" in meta["model_choice"]
    assert meta["transfer"] and meta["scores"] is None and meta["normalisation"] == "target"
    covered = meta["expected_macro_f1"]["max_shift_covered"]
    assert covered == 0.2 and meta["domain_shift"] > covered  # measured 0.72 against the two tiny regions
    assert meta["warning"].startswith(f"domain shift {meta['domain_shift']:.2f} is beyond the 0.20")
    with rasterio.open(result.folder / SHIFT_RASTER) as shift, rasterio.open(result.folder / CLASSES_FILE) as classes:
        assert shift.crs.to_epsg() == 32613 and shift.shape == classes.shape
        assert float(shift.tags()["DOMAIN_SHIFT"]) == pytest.approx(meta["domain_shift"], abs=1e-3)
        assert classes.tags()["WARNING"] == meta["warning"] and classes.tags()["MODEL_SCOPE"] == "global"
        mapped = classes.read(1) > 0
        assert mapped.mean() > 0.8  # the overpasses cover nearly every pixel
        assert np.isfinite(shift.read(1)[mapped]).mean() > 0.95
