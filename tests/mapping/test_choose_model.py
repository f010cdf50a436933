"""The version `lithomap map` takes when the gate promoted none: own champion, global champion, own challenger.

A real SQLite MLflow store with a tiny untrained U-Net logged once and registered under
several names; the promotion gate runs for real on the scores its run logged (below the
raw per-pixel baseline, so the gate refuses it where it checks the baseline).
"""

from __future__ import annotations

import keras
import mlflow
import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from lithomap.config import GLOBAL_MODEL
from lithomap.errors import ConfigError, LithomapError
from lithomap.mapping.maps import choose_model, map_title, short_reason
from lithomap.models.metrics import scores_from_confusion
from lithomap.models.normalisation import ChannelStats
from lithomap.models.unet import build_unet
from lithomap.registry.promotion import promote, promote_global
from lithomap.registry.pyfunc import log_pyfunc_model
from lithomap.registry.registry import CHALLENGER, CHAMPION, register
from lithomap.registry.tracking import configure_tracking, log_evaluation, training_run

STATS = {"features": ChannelStats(("lst_t00", "lst_t01", "ndvi"), (300.0, 290.0, 0.4), (8.0, 6.0, 0.2))}
RAW_BASELINE = 0.9  # the raw per-pixel baseline's macro-F1 the run logs: above the model's


@pytest.fixture(scope="module")
def logged_model(tmp_path_factory):
    """A store holding one logged tiny CNN whose run scored below the raw baseline: its model URI."""
    root = tmp_path_factory.mktemp("choose")
    monkey = pytest.MonkeyPatch()
    monkey.delenv("MLFLOW_REGISTRY_URI", raising=False)
    uri = f"sqlite:///{root / 'mlflow.db'}"
    monkey.setenv("MLFLOW_TRACKING_URI", uri)
    configure_tracking(uri)
    keras.utils.set_random_seed(0)
    model = build_unet((16, 16, 3), base_filters=4, depth=2)
    confusion = np.zeros((14, 14), dtype=np.int64)
    confusion[1, 1], confusion[1, 2], confusion[2, 2], confusion[2, 1] = 30, 10, 20, 20
    with training_run("tiny", "cnn", "thermal", {"model": {"depth": 2}}, repo_dir=root, artifact_root=root / "art"):
        log_evaluation(scores_from_confusion(confusion), confusion, stats=STATS)
        mlflow.log_metrics({"baseline_raw_macro_f1": RAW_BASELINE})
        example = {"features": np.full((1, 16, 16, 3), 300.0, dtype=np.float32)}
        info = log_pyfunc_model(model, STATS, example, arch="cnn")
    yield info.model_uri  # conftest's autouse fixture clears mlflow's in-process URIs
    monkey.undo()


def _refused(model_uri: str, region: str, arch: str) -> dict:
    """Register the model as the region's first version and run the gate, which refuses it."""
    register(model_uri, region, arch)
    decision = promote(region, arch, beat_baseline=True, baseline="raw")
    assert decision["promoted"] is False and decision["champion_version"] is None
    return decision


def test_own_champion_is_used_and_marked_promoted(logged_model):
    register(logged_model, "good", "cnn")
    decision = promote("good", "cnn", beat_baseline=False)
    model, choice = choose_model("good", "cnn", None, CHAMPION, if_no_champion="challenger")
    assert choice is None and model.name == "lithomap-good-cnn" and model.alias == CHAMPION
    assert model.promoted and model.promotion_reason == decision["reason"]
    assert model.promotion_reason.startswith("first version: no champion yet")
    assert "not promoted" not in map_title("good", "cnn", model, None)


def test_refused_model_fails_by_default_naming_the_commands_and_the_gates_reason(logged_model):
    decision = _refused(logged_model, "refused", "cnn")
    assert "does not beat the per-pixel baseline's (raw) 0.9000" in decision["reason"]
    with pytest.raises(LithomapError) as raised:
        choose_model("refused", "cnn", None, CHAMPION)
    message = str(raised.value)
    assert "lithomap-refused-cnn has no 'champion' alias" in message
    assert "lithomap train -r refused -m cnn" in message and "lithomap promote -r refused -m cnn" in message
    assert "lithomap train-global -m cnn" in message
    assert f"challenger v1 (the gate: {decision['reason']})" in message
    assert "--if-no-champion challenger" in message


def test_refused_model_maps_with_its_challenger_marked_not_promoted(logged_model):
    decision = _refused(logged_model, "fallback", "cnn")
    model, choice = choose_model("fallback", "cnn", None, CHAMPION, if_no_champion="challenger")
    assert model.name == "lithomap-fallback-cnn" and str(model.version.version) == "1"
    assert model.alias == CHALLENGER and model.scope == "region"
    assert not model.promoted and model.promotion_reason == decision["reason"]
    assert "has no 'champion' alias" in choice and "--if-no-champion challenger" in choice
    title = map_title("fallback", "cnn", model, None)
    assert title.splitlines()[1] == f"not promoted: {short_reason(decision['reason'])}"


def test_without_any_version_the_challenger_option_still_fails(logged_model):
    with pytest.raises(LithomapError, match="lithomap-nowhere-cnn is not registered") as raised:
        choose_model("nowhere", "cnn", None, CHAMPION, if_no_champion="challenger")
    assert "--if-no-champion" not in str(raised.value), "there is no challenger to offer"
    with pytest.raises(ConfigError, match="use one of fail, challenger"):
        choose_model("refused", "cnn", None, CHAMPION, if_no_champion="maybe")  # type: ignore[arg-type]


def test_a_global_champion_comes_before_the_regions_own_challenger(logged_model, tmp_path):
    _refused(logged_model, "both", "convlstm")
    register(logged_model, GLOBAL_MODEL, "convlstm")
    expected = {
        "macro_f1_learnable": 0.5,
        "macro_f1_interval": [0.4, 0.6],
        "baseline_macro_f1_learnable": 0.3,
        "held_out": ["a", "b"],
        "max_shift_covered": 1.0,
        "source": "test",
    }
    decision = promote_global("convlstm", expected, experiment="thermal", table=tmp_path / "loro.csv")
    assert decision["promoted"]
    model, choice = choose_model("both", "convlstm", None, CHAMPION, if_no_champion="challenger")
    assert model.name == "lithomap-global-convlstm" and model.scope == GLOBAL_MODEL
    assert model.promoted and choice == "both has no model of its own (lithomap-both-convlstm has no 'champion' alias)"
    assert str(MlflowClient().get_model_version_by_alias("lithomap-both-convlstm", CHALLENGER).version) == "1"
