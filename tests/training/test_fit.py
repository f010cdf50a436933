"""Class-weight selection and the resume fingerprint of training runs."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from lithomap.config import LossParams
from lithomap.errors import ConfigError
from lithomap.models.losses import THESIS_CLASS_WEIGHTS, class_weights_auto
from lithomap.training.fit import HISTORY_FILE, class_weights, resume_or_restart, settings_fingerprint

COUNTS = [500, 4000, 1000, 0, 0, 0, 0, 250, 2000, 0, 0, 0, 0, 50]


def test_auto_weights_follow_the_training_counts():
    weights = class_weights(LossParams(class_weights="auto"), "tiny", COUNTS)
    np.testing.assert_allclose(weights, class_weights_auto(np.asarray(COUNTS, float), mode="inverse_sqrt"))
    assert weights[13] > weights[2] > weights[1], "rarer classes weigh more"


def test_thesis_weights_for_a_thesis_region_else_auto():
    assert class_weights(LossParams(class_weights="thesis"), "puertollano", COUNTS) == list(
        THESIS_CLASS_WEIGHTS["puertollano"]
    )
    other = class_weights(LossParams(class_weights="thesis"), "tiny", COUNTS)
    assert other == class_weights(LossParams(class_weights="auto"), "tiny", COUNTS)


def test_none_and_explicit_weights():
    assert class_weights(LossParams(class_weights="none"), "tiny", COUNTS) == [1.0] * 14
    explicit = [float(i) for i in range(14)]
    assert class_weights(LossParams(class_weights=explicit), "tiny", COUNTS) == explicit
    with pytest.raises(ConfigError, match="13 values; it needs 14"):
        class_weights(LossParams(class_weights=explicit[:13]), "tiny", COUNTS)


def _settings(batch_size: int = 4, epochs: int = 10) -> dict:
    return {"arch": "cnn", "train": {"batch_size": batch_size, "epochs": epochs, "patience": 3}, "loss": {"gamma": 2}}


def test_fingerprint_ignores_epochs_but_not_the_batch_size():
    assert settings_fingerprint(_settings(epochs=10)) == settings_fingerprint(_settings(epochs=40))
    assert settings_fingerprint(_settings(batch_size=4)) != settings_fingerprint(_settings(batch_size=8))


def test_a_backup_with_the_same_settings_is_resumed(tmp_path):
    work = tmp_path / ".cnn-thermal.partial"
    assert resume_or_restart(work, _settings()) == 0
    (work / HISTORY_FILE).write_text("epoch,loss\n0,2.0\n1,1.5\n")
    assert resume_or_restart(work, _settings(epochs=20)) == 2


def test_a_backup_made_with_other_settings_is_discarded_and_said_so(tmp_path, caplog):
    work = tmp_path / ".cnn-thermal.partial"
    resume_or_restart(work, _settings(batch_size=4))
    (work / HISTORY_FILE).write_text("epoch,loss\n0,2.0\n")
    (work / "backup").mkdir()
    with caplog.at_level(logging.WARNING, logger="lithomap.training.fit"):
        assert resume_or_restart(work, _settings(batch_size=8)) == 0
    assert "train.batch_size: 4 → 8" in caplog.text and "starting fresh" in caplog.text
    assert sorted(p.name for p in work.iterdir()) == ["settings.json"]
