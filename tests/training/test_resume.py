"""A training process killed mid-run keeps the previous model and continues from its last finished epoch."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import pandas as pd
import pytest
import yaml

from lithomap.config import parse_params
from lithomap.datasets.preprocess import preprocess_experiment, split_region
from lithomap.training.fit import train_model, work_dir
from tests.conftest import tiny_params_dict

EPOCHS = 8


def finished_epochs(history: Path) -> int:
    """Rows of the CSV log (0 while it is absent or still empty)."""
    if not history.is_file() or history.stat().st_size == 0:
        return 0
    return len(pd.read_csv(history))


@pytest.mark.slow  # 85 s on 2 cores; the default suite stays under 10 min
def test_killed_training_resumes_from_its_last_epoch(tiny_region, tmp_path):
    _, root = tiny_region
    raw = tiny_params_dict(root)
    raw["train"]["models_dir"] = str(tmp_path / "models")
    raw["train"]["presets"]["tiny"].update(epochs=EPOCHS, patience=EPOCHS)
    raw["preprocess"]["processed_dir"] = str(tmp_path / "processed")
    raw["preprocess"]["reports_dir"] = str(tmp_path / "reports")
    params = parse_params(raw)
    region = params.region("tiny")
    split_region("tiny", region, params.ingest, params.preprocess)
    preprocess_experiment("tiny", region, params.ingest, params.preprocess, "thermal", params.experiment("thermal"))
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    command = [
        str(Path(sys.executable).parent / "lithomap"),
        "train",
        "-p",
        str(path),
        "-r",
        "tiny",
        "-m",
        "cnn",
        "-e",
        "thermal",
        "--quiet",
    ]
    model_dir = tmp_path / "models" / "tiny" / "cnn-thermal"
    history = work_dir(model_dir) / "history.csv"
    raw["train"]["presets"]["tiny"].update(epochs=1)
    previous = train_model("tiny", "cnn", "thermal", parse_params(raw), verbose=0)
    assert previous.epochs_run == 1 and not work_dir(model_dir).exists()

    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and first.poll() is None:
        if finished_epochs(history) >= 2:
            break
        time.sleep(0.2)
    assert first.poll() is None, "training ended before it could be killed; make the run longer"
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    done_before = finished_epochs(history)
    assert 2 <= done_before < EPOCHS
    assert (work_dir(model_dir) / "backup").is_dir(), "the killed run must leave its backup behind"
    assert json.loads((model_dir / "train.json").read_text())["epochs_run"] == 1, "the previous model stays"
    assert keras.models.load_model(model_dir / "model.keras", compile=False).count_params() > 0

    second = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert second.returncode == 0, second.stderr[-2000:]
    summary = json.loads((model_dir / "train.json").read_text())
    assert summary["resumed_from_epoch"] >= done_before
    epochs = pd.read_csv(model_dir / "history.csv")["epoch"].tolist()
    assert epochs == list(range(EPOCHS)), epochs
    assert summary["epochs_run"] == EPOCHS and not work_dir(model_dir).exists()
