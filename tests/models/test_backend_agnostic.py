"""The model code uses Keras layers and keras.ops only: no TensorFlow calls."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import lithomap.models

MODEL_SOURCES = sorted(Path(lithomap.models.__file__).parent.glob("*.py"))
TF_USE = re.compile(r"^\s*(import tensorflow|from tensorflow)|\btf\.|\btensorflow\.", re.MULTILINE)


@pytest.mark.parametrize("source", MODEL_SOURCES, ids=lambda path: path.name)
def test_no_tensorflow_in_model_code(source):
    text = source.read_text(encoding="utf-8")
    assert not TF_USE.search(text), f"{source.name} uses TensorFlow directly; use keras / keras.ops"


def test_the_model_modules_are_all_checked():
    names = {path.name for path in MODEL_SOURCES}
    assert {"unet.py", "convlstm.py", "losses.py", "keras_metrics.py"} <= names
