"""Leave-one-region-out: train on one region's blocks, test on every labelled pixel of another."""

from __future__ import annotations

import json

import numpy as np
import xarray as xr

from lithomap.config import parse_params
from lithomap.datasets.preprocess import preprocess_experiment, split_region
from lithomap.io.ingest import ingest_region
from lithomap.scenes.generate import generate_region
from lithomap.training.leave_one_out import evaluate_leave_one_out, train_leave_one_out
from tests.conftest import tiny_params_dict


def test_held_out_region_is_tested_whole_and_never_trained_on(tmp_path):
    raw = tiny_params_dict(tmp_path, size_px=64)
    other = json.loads(json.dumps(raw["regions"]["tiny"]))
    other["raw_dir"] = str(tmp_path / "raw" / "other")
    other["synthetic"]["seed"] = 99
    raw["regions"]["other"] = other
    params = parse_params(raw)
    for name in ("tiny", "other"):
        region = params.region(name)
        generate_region(name, region, params.generate, quicklook=False, progress=False)
        ingest_region(name, region, params.ingest, progress=False)
        split_region(name, region, params.ingest, params.preprocess)
        preprocess_experiment(name, region, params.ingest, params.preprocess, "thermal", params.experiment("thermal"))

    trained = train_leave_one_out("other", "cnn", "thermal", params, verbose=0)
    assert trained.region == "loro-other"
    assert (
        trained.train_patches
        == json.loads((params.preprocess.processed_dir / "tiny" / "thermal" / "manifest.json").read_text())["patches"][
            "train"
        ]
    ), "only the other region's training patches are used"

    result = evaluate_leave_one_out("other", "cnn", "thermal", params)
    label = xr.open_zarr(params.ingest.interim_dir / "other" / "cube.zarr")["label"].values
    labelled = np.count_nonzero(label)
    assert result.scores["n_pixels"] == labelled, "full-scene inference scores every labelled pixel"
    metrics = json.loads((result.report_dir / "metrics.json").read_text())
    assert metrics["coverage"] == 1.0
    assert 0 <= metrics["macro_f1"] <= 1 and "baseline" in metrics and "baseline_raw" in metrics
