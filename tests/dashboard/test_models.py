"""The registry tables and pages on a real SQLite store: the gate's rule and paired interval, global models' scores.

Tiny untrained U-Nets are logged with chosen test scores and per-block confusions, then
registered and gated for real (``promote`` with the paired rule; ``promote_global`` on a
leave-one-region-out score); the tables must carry the numbers the gate wrote.
"""

from __future__ import annotations

import json

import keras
import mlflow
import numpy as np
import pytest
import rasterio
import yaml
from mlflow.tracking import MlflowClient
from rasterio.transform import from_origin

from dashboard import models, rasters, wording
from lithomap.models.metrics import scores_from_confusion
from lithomap.models.normalisation import ChannelStats
from lithomap.models.unet import build_unet
from lithomap.registry.promotion import promote, promote_global
from lithomap.registry.provenance import blocks_fingerprint
from lithomap.registry.pyfunc import log_pyfunc_model
from lithomap.registry.registry import expected_tags, register
from lithomap.registry.tracking import configure_tracking, log_evaluation, training_run
from tests.conftest import tiny_params_dict
from tests.dashboard.test_pages import open_page, texts
from tests.registry.test_promotion import _blocks

STATS = {"features": ChannelStats(("lst_t00", "lst_t01", "ndvi"), (300.0, 290.0, 0.4), (8.0, 6.0, 0.2))}
PIXELS = 20
CHAMPION_RIGHT = [(14, 15, 13), (16, 14, 15), (13, 13, 16), (15, 16, 14), (14, 15, 15), (16, 13, 14)]
GAINS = (4, 3, 4, 2, 5, 3)
EXPECTED = {
    "macro_f1_learnable": 0.52,
    "macro_f1_interval": [0.41, 0.63],
    "baseline_macro_f1_learnable": 0.3,
    "held_out": ["puertollano", "villoslada"],
    "max_shift_covered": 1.5,
    "source": "reports/loro/loro.csv",
}


def _log(model: keras.Model, region: str, blocks: dict[str, np.ndarray], root) -> str:
    """Log a run scored on ``blocks`` with the model, register it (challenger) and return the version."""
    confusion = sum(blocks.values())
    with training_run(
        region,
        "cnn",
        "thermal",
        {"model": {"depth": 2}},
        test_blocks=blocks_fingerprint(list(blocks)),
        repo_dir=root,
        artifact_root=root / "mlartifacts",
    ):
        log_evaluation(scores_from_confusion(confusion), confusion, stats=STATS, block_confusions=blocks)
        example = {"features": np.full((1, 16, 16, 3), 300.0, dtype=np.float32)}
        info = log_pyfunc_model(model, STATS, example, arch="cnn")
    return str(register(info.model_uri, region, "cnn").version)


@pytest.fixture(scope="module")
def gated_store(tmp_path_factory):
    """A store where the paired gate promoted a clearly better challenger and a global model was gated."""
    root = tmp_path_factory.mktemp("dashboard-registry")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    monkey = pytest.MonkeyPatch()
    monkey.setenv("MLFLOW_TRACKING_URI", uri)
    monkey.delenv("MLFLOW_REGISTRY_URI", raising=False)
    configure_tracking(uri)
    keras.utils.set_random_seed(0)
    model = build_unet((16, 16, 3), base_filters=4, depth=2)
    better = [tuple(min(r + g, PIXELS) for r in block) for g, block in zip(GAINS, CHAMPION_RIGHT, strict=True)]
    _log(model, "soria", _blocks(CHAMPION_RIGHT), root)
    first = promote("soria", "cnn", rule="paired", beat_baseline=False)
    _log(model, "soria", _blocks(better), root)
    paired = promote("soria", "cnn", rule="paired", beat_baseline=False, n_boot=300)
    version = _log(model, "global", _blocks(CHAMPION_RIGHT), root)
    for key, value in expected_tags(EXPECTED).items():  # as `lithomap train-global` registers it
        MlflowClient().set_model_version_tag("lithomap-global-cnn", version, key, value)
    global_decision = promote_global("cnn", EXPECTED, experiment="thermal", table=root / "loro.csv")
    yield root, uri, {"first": first, "paired": paired, "global": global_decision}
    mlflow.set_tracking_uri(None)
    mlflow.set_registry_uri(None)
    monkey.undo()


def test_promotion_history_shows_the_rule_and_the_paired_interval(gated_store):
    _, uri, decisions = gated_store
    paired = decisions["paired"]
    assert paired["promoted"] and paired["paired_interval"][0] > 0
    history = models.promotion_history(MlflowClient(uri, uri)).set_index(["model", "candidate_version"])
    row = history.loc[("lithomap-soria-cnn", 2)]
    assert row["rule"] == "paired" and row["scored_on"] == models.TEST_SCORE
    assert row["paired_difference"] == pytest.approx(paired["paired_difference"], abs=1e-6)
    assert row["paired_ci_low"] == pytest.approx(paired["paired_interval"][0], abs=1e-6)
    assert row["paired_ci_high"] == pytest.approx(paired["paired_interval"][1], abs=1e-6)
    assert row["paired_confidence"] == pytest.approx(0.95) and np.isnan(row["margin"])
    first = history.loc[("lithomap-soria-cnn", 1)]
    assert first["rule"] == "paired" and np.isnan(first["paired_difference"]), "no champion: nothing to pair with"
    global_row = history.loc[("lithomap-global-cnn", 1)]
    assert global_row["rule"] == "margin" and global_row["scored_on"] == models.LORO_SCORE
    assert global_row["candidate_macro_f1"] == pytest.approx(0.52)


def test_global_versions_show_their_leave_one_region_out_score(gated_store):
    _, uri, _ = gated_store
    client = MlflowClient(uri, uri)
    versions = models.versions_table(client).set_index(["model", "version"])
    global_row = versions.loc[("lithomap-global-cnn", 1)]
    assert global_row["scored_on"] == models.LORO_SCORE
    assert (global_row["macro_f1"], global_row["macro_f1_low"], global_row["macro_f1_high"]) == (0.52, 0.41, 0.63)
    region_row = versions.loc[("lithomap-soria-cnn", 2)]
    metrics = client.get_run(region_row["run_id"]).data.metrics
    assert region_row["scored_on"] == models.TEST_SCORE
    assert region_row["macro_f1"] == pytest.approx(metrics["test_macro_f1"], abs=1e-6)
    run_ids = list(versions["run_id"])
    batched = models.runs_metrics(client, [*run_ids, "0" * 32])  # one search; a gone run is left out
    assert set(batched) == set(run_ids) and batched[region_row["run_id"]] == metrics
    champions = models.champions(client).set_index("model")
    assert champions.loc["lithomap-global-cnn", "macro_f1"] == 0.52
    assert champions.loc["lithomap-global-cnn", "scored_on"] == models.LORO_SCORE
    assert champions.loc["lithomap-soria-cnn", "version"] == 2


def test_registry_and_overview_pages_show_the_new_columns(gated_store, monkeypatch):
    root, _, decisions = gated_store
    params = root / "params.yaml"
    params.write_text(yaml.safe_dump(tiny_params_dict(root / "outputs")))
    monkeypatch.chdir(root)
    monkeypatch.setenv("LITHOMAP_PARAMS", str(params))
    registry = open_page("registry")
    history = registry.dataframe[-1].value.set_index(["model", "candidate_version"])
    assert history.loc[("lithomap-soria-cnn", 2), "rule"] == "paired"
    low = history.loc[("lithomap-soria-cnn", 2), "paired_ci_low"]
    assert low == pytest.approx(decisions["paired"]["paired_interval"][0], abs=1e-6)
    assert history.loc[("lithomap-global-cnn", 1), "outcome"] == "became champion"
    versions = {frame.value["version"].iloc[0]: frame.value for frame in registry.dataframe[:-1]}
    assert any((frame["scored_on"] == models.LORO_SCORE).all() for frame in versions.values())
    overview = texts(open_page("overview"))
    assert "All regions (global model)" in overview and "expected to score 0.52 (95 % interval 0.41–0.63)" in overview


def test_decision_words_say_not_promoted_without_a_champion():
    assert wording.decision_words("refused", "none") == "not promoted (no champion)"
    assert wording.decision_words("refused", "3") == "kept the champion"
    assert wording.decision_words("promoted", "none") == "became champion"


def _map_folder(maps_dir, meta: dict) -> None:
    """A small map folder as `lithomap map` writes it: class raster and map.json."""
    folder = maps_dir / "tiny" / "cnn-thermal"
    folder.mkdir(parents=True)
    profile = {"driver": "GTiff", "height": 8, "width": 8, "count": 1, "dtype": "uint8", "nodata": 0}
    grid = {"crs": "EPSG:32630", "transform": from_origin(0, 0, 70, 70)}
    with rasterio.open(folder / "classes.tif", "w", **grid, **profile) as target:
        target.write(np.full((8, 8), 3, dtype=np.uint8), 1)
    (folder / "map.json").write_text(json.dumps(meta))


NOT_PROMOTED = {
    "registered_model": "lithomap-tiny-cnn",
    "version": "1",
    "alias": "challenger",
    "promoted": False,
    "promotion_reason": "test macro-F1 0.3100 does not beat the per-pixel baseline's (raw) 0.4200",
    "domain_shift": 2.345,
    "normalisation": "target",
    "adapted_batch_norm": True,
    "summary_blend": 0.5,
    "expected_macro_f1": EXPECTED | {"macro_f1_learnable": 0.52},
    "warning": "domain shift 2.35 is beyond the 1.50 the leave-one-region-out runs covered",
}


def test_map_notes_name_promotion_expected_score_shift_and_warning():
    notes = wording.map_notes(NOT_PROMOTED)
    assert [kind for kind, _ in notes] == ["warning", "info", "info", "info", "info", "warning"]
    assert notes[0][1].startswith("Not promoted: made with lithomap-tiny-cnn version 1")
    assert "does not beat the per-pixel baseline" in notes[0][1]
    assert "0.52 (95 % interval 0.41–0.63)" in notes[1][1] and "Puertollano, Villoslada" in notes[1][1]
    assert notes[2][1].startswith("Domain shift: 2.35")
    assert "own statistics and the network's batch normalisation adapted to them" in notes[3][1]
    assert notes[4][1].startswith("Made by the transfer model") and "(weight 0.5)" in notes[4][1]
    assert wording.map_notes({"promoted": True, "domain_shift": None, "expected_macro_f1": None}) == []


def test_maps_page_marks_a_not_promoted_map(tmp_path, monkeypatch):
    params = tiny_params_dict(tmp_path / "outputs")
    params["map"] = {"maps_dir": str(tmp_path / "maps")}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    _map_folder(tmp_path / "maps", NOT_PROMOTED)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LITHOMAP_PARAMS", str(tmp_path / "params.yaml"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    app = open_page("maps")
    warnings = [w.value for w in app.warning]
    assert any(w.startswith("Not promoted: made with lithomap-tiny-cnn version 1") for w in warnings)
    assert any("beyond the 1.50" in w for w in warnings)
    infos = " ".join(i.value for i in app.info)
    assert "Expected macro-F1 on this region: 0.52" in infos and "Domain shift: 2.35" in infos
    assert rasters.map_label(rasters.map_runs(tmp_path / "maps", "tiny")[0]) == "cnn-thermal (not promoted)"
