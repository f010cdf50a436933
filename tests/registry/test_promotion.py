"""The paired promotion gate (promote.rule: paired) on a real SQLite store: challenger − champion on the same blocks."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from lithomap.config import PromoteParams
from lithomap.errors import ConfigError, LithomapError
from lithomap.models.metrics import scores_from_confusion
from lithomap.models.normalisation import ChannelStats
from lithomap.models.unet import build_unet
from lithomap.registry.outcome import outcome
from lithomap.registry.promotion import gate_decision, paired_gate_decision, promote, promote_model
from lithomap.registry.provenance import blocks_fingerprint
from lithomap.registry.pyfunc import log_pyfunc_model
from lithomap.registry.registry import model_name, register, version_block_confusions, version_scores
from lithomap.registry.tracking import log_evaluation, training_run

STATS = {"features": ChannelStats(("lst_t00", "lst_t01", "ndvi"), (300.0, 290.0, 0.4), (8.0, 6.0, 0.2))}
PIXELS = 20  # per class and block
# Pixels right per class (1, 2, 3) in each of six test blocks: the champion's.
CHAMPION = [(14, 15, 13), (16, 14, 15), (13, 13, 16), (15, 16, 14), (14, 15, 15), (16, 13, 14)]
CLEARLY_BETTER = [
    tuple(min(right + gain, PIXELS) for right in block)
    for gain, block in zip((4, 3, 4, 2, 5, 3), CHAMPION, strict=True)
]
# Better by 6 pixels per class in three blocks, worse by 4 in the other three: a gain over
# the margin that the blocks do not support.
NOISY = [tuple(right + (6 if index < 3 else -4) for right in block) for index, block in enumerate(CHAMPION)]


def _blocks(correct: list[tuple[int, int, int]]) -> dict[str, np.ndarray]:
    """Block id → confusion matrix: classes 1–3, PIXELS each, the rest taken for the next class."""
    blocks = {}
    for index, rights in enumerate(correct):
        cm = np.zeros((14, 14), dtype=np.int64)
        for class_id, right in zip((1, 2, 3), rights, strict=True):
            cm[class_id, class_id] = right
            cm[class_id, class_id % 3 + 1] = PIXELS - right
        blocks[f"{index}-{index + 2}"] = cm
    return blocks


@pytest.fixture(scope="module")
def model() -> keras.Model:
    keras.utils.set_random_seed(0)
    return build_unet((16, 16, 3), base_filters=4, depth=2)


def _log_version(model: keras.Model, region: str, blocks: dict[str, np.ndarray] | None, tmp_path, cm=None) -> str:
    """Register a version whose run logged the test scores of ``blocks`` (and them, unless ``cm`` stands in)."""
    confusion = cm if cm is not None else sum(blocks.values())
    with training_run(
        region,
        "cnn",
        "thermal",
        {"model": {"depth": 2}},
        test_blocks=blocks_fingerprint([f"{i}-{i + 2}" for i in range(len(CHAMPION))]),
        repo_dir=tmp_path,
        artifact_root=tmp_path / "mlartifacts",
    ):
        log_evaluation(scores_from_confusion(confusion), confusion, stats=STATS, block_confusions=blocks)
        example = {"features": np.full((1, 16, 16, 3), 300.0, dtype=np.float32)}
        info = log_pyfunc_model(model, STATS, example, arch="cnn")
    return register(info.model_uri, region, "cnn").version


def test_paired_rule_refuses_an_equal_or_noisy_challenger_and_promotes_a_clearly_better_one(
    tracking_store, model, tmp_path, monkeypatch
):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tracking_store / 'mlflow.db'}")  # promote_model's store
    settings = PromoteParams(rule="paired", beat_baseline=False, reports_dir=tmp_path / "promotion")
    client, name = MlflowClient(), model_name("soria", "cnn")

    first = _log_version(model, "soria", _blocks(CHAMPION), tmp_path)
    decision = promote_model("soria", "cnn", settings, n_boot=500)
    assert decision["promoted"] and decision["reason"].startswith("first version"), "no champion: as with margin"
    assert decision["rule"] == "paired" and decision["paired_interval"] is None
    stored = version_block_confusions(name, first, client)
    assert stored is not None and sorted(stored) == sorted(_blocks(CHAMPION))
    np.testing.assert_array_equal(stored["2-4"], _blocks(CHAMPION)["2-4"])

    equal = _log_version(model, "soria", _blocks(CHAMPION), tmp_path)
    decision = promote_model("soria", "cnn", settings, n_boot=500)
    assert not decision["promoted"]
    assert decision["reason"].startswith("not shown better: 0.000 [0.000, 0.000] (95% paired block bootstrap over 6")
    assert decision["paired_difference"] == 0.0 and decision["paired_interval"] == [0.0, 0.0]

    noisy = _log_version(model, "soria", _blocks(NOISY), tmp_path)
    decision = promote_model("soria", "cnn", settings, n_boot=500)
    low, high = decision["paired_interval"]
    assert not decision["promoted"] and decision["reason"].startswith("not shown better: ")
    assert low < 0 < high and decision["paired_difference"] > 0.01 and decision["gain"] > 0.01
    champion_scores = version_scores(name, first, client)
    assert gate_decision(version_scores(name, noisy, client), champion_scores, 0.01, 0.05)[0], (
        "the margin rule would have promoted it"
    )
    assert decision["paired_difference"] == pytest.approx(decision["gain"], abs=1e-6), "pooled blocks = stored score"
    assert str(client.get_model_version_by_alias(name, "champion").version) == str(first)

    better = _log_version(model, "soria", _blocks(CLEARLY_BETTER), tmp_path)
    decision = promote_model("soria", "cnn", settings, n_boot=500)
    low, high = decision["paired_interval"]
    assert decision["promoted"] and 0 < low < decision["paired_difference"] < high
    assert decision["reason"].startswith(
        f"challenger better by {decision['paired_difference']:.3f} [{low:.3f}, {high:.3f}] (95% paired"
    )
    assert str(client.get_model_version_by_alias(name, "champion").version) == str(better)
    tags = client.get_model_version(name, better).tags
    assert tags["promotion.rule"] == "paired" and tags["promotion.margin"] == "none"
    assert float(tags["promotion.paired_ci_low"]) == pytest.approx(low, abs=1e-6)
    assert float(tags["promotion.paired_ci_high"]) == pytest.approx(high, abs=1e-6)
    assert float(tags["promotion.paired_difference"]) == pytest.approx(decision["paired_difference"], abs=1e-6)
    assert tags["promotion.paired_confidence"] == "0.950000"
    report = json.loads((tmp_path / "promotion" / "soria-cnn.json").read_text())
    assert report["paired_interval"] == pytest.approx([low, high]) and report["n_boot"] == 500
    assert client.get_model_version(name, equal).tags["promotion.decision"] == "refused"


def test_a_higher_confidence_needs_more_evidence():
    """Better by 2 pixels per class in half the blocks, equal in the rest: shown at 80 %, not at 99.9 %."""
    blocks_champion = _blocks(CHAMPION)
    small_gain = [tuple(right + (2 if index % 2 else 0) for right in block) for index, block in enumerate(CHAMPION)]
    blocks_candidate = _blocks(small_gain)
    candidate = {"macro_f1": 0.0, "per_class_f1": {}, "test_blocks": "b"}
    champion = {"macro_f1": 0.0, "per_class_f1": {}, "test_blocks": "b"}
    lenient = paired_gate_decision(candidate, champion, blocks_candidate, blocks_champion, confidence=0.8, n_boot=500)
    strict = paired_gate_decision(candidate, champion, blocks_candidate, blocks_champion, confidence=0.999, n_boot=500)
    assert lenient[0] and not strict[0]
    assert lenient[2]["paired_interval"][0] > strict[2]["paired_interval"][0]


def test_paired_rule_still_checks_class_drops_and_the_same_blocks():
    champion_blocks = _blocks(CHAMPION)
    scores = {"macro_f1": 0.7, "per_class_f1": {"sand": 0.70, "clay": 0.70}, "test_blocks": "b"}
    dropped = {"macro_f1": 0.8, "per_class_f1": {"sand": 0.99, "clay": 0.60}, "test_blocks": "b"}
    passed, reason, numbers = paired_gate_decision(
        dropped, scores, _blocks(CLEARLY_BETTER), champion_blocks, n_boot=200
    )
    assert not passed and reason.startswith("challenger better by") and "F1 of class clay falls by 0.1000" in reason
    assert numbers["worst_class"] == "clay"

    other_blocks = dict(champion_blocks)
    other_blocks["9-9"] = other_blocks.pop("0-2")
    passed, reason, numbers = paired_gate_decision(scores, scores, other_blocks, champion_blocks)
    assert not passed and reason.startswith("test blocks differ") and numbers["paired_interval"] is None

    moved = {block: matrix.copy() for block, matrix in champion_blocks.items()}
    moved["0-2"][1, 1] += 5  # five more reference pixels of class 1 in that block
    passed, reason, _ = paired_gate_decision(scores, scores, moved, champion_blocks)
    assert not passed and "other test pixels" in reason


def test_paired_rule_names_a_version_without_block_confusions_and_unknown_rules(tracking_store, model, tmp_path):
    old = _log_version(model, "cuenca", None, tmp_path, cm=sum(_blocks(CHAMPION).values()))
    assert version_block_confusions(model_name("cuenca", "cnn"), old) is None
    assert promote("cuenca", "cnn", rule="paired", beat_baseline=False)["promoted"], "a first version needs none"
    _log_version(model, "cuenca", _blocks(CLEARLY_BETTER), tmp_path)
    with pytest.raises(LithomapError, match=rf"version {old}: its run logged no per-block test confusions.*promote"):
        promote("cuenca", "cnn", rule="paired", beat_baseline=False)
    with pytest.raises(ConfigError, match=r"promote\.rule 'pairwise'.*margin, paired"):
        promote("cuenca", "cnn", rule="pairwise")


def test_outcome_words_a_decision_from_the_decision_or_its_tags():
    assert outcome(True, None) == "promoted"
    assert outcome(True, "3") == "promoted"
    assert outcome(False, "3") == outcome(False, 3) == "kept"
    for none in (None, "", "none"):  # the decision's None, the tag's "none"
        assert outcome(False, none) == "not promoted"
