"""Leave-one-region-out: train on one region's blocks, test on every labelled pixel of another; the table."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import xarray as xr

from lithomap.classes import class_names
from lithomap.config import Params
from lithomap.models.shift import REFERENCE_FILE, load_reference
from lithomap.training.fit import read_training_record
from lithomap.training.leave_one_out import (
    TRANSFER_FILE,
    pooled_settings_changes,
    pooled_training,
    train_leave_one_out,
)
from lithomap.training.loro_table import PER_CLASS_CSV, PICTURE, TABLE_CSV, TABLE_MD, run_loro, transfer_expectation
from tests.conftest import tiny_params_dict


@pytest.mark.slow  # 56 s on 2 cores; the default suite stays under 10 min
def test_held_out_region_is_tested_whole_and_never_trained_on(tmp_path, two_regions):
    params = two_regions(tiny_params_dict(tmp_path, size_px=64), tmp_path)

    trained = train_leave_one_out("other", "cnn", "thermal", params, verbose=0)
    assert trained.region == "loro-other"
    assert (
        trained.train_patches
        == json.loads((params.preprocess.processed_dir / "tiny" / "thermal" / "manifest.json").read_text())["patches"][
            "train"
        ]
    ), "only the other region's training patches are used"

    assert load_reference(trained.model_dir / REFERENCE_FILE) is not None, "the model keeps its training distribution"
    assert "climate_augment" not in trained.settings["train"], "a CNN: no climate augmentation (loro.climate_augment)"

    said: list[str] = []
    table = run_loro(["other"], ["cnn"], "thermal", params, say=said.append)
    assert any("reusing the trained model" in line for line in said), "a finished model is not trained again"
    report = params.evaluate.reports_dir / "loro-other" / "cnn-thermal"
    label = xr.open_zarr(params.ingest.interim_dir / "other" / "cube.zarr")["label"].values
    metrics = json.loads((report / "metrics.json").read_text())
    assert metrics["n_pixels"] == np.count_nonzero(label), "full-scene inference scores every labelled pixel"
    assert metrics["coverage"] == 1.0 and "baseline" in metrics and "baseline_raw" in metrics

    transfer = json.loads((report / TRANSFER_FILE).read_text())
    assert "foliated" in transfer["not_learnable"] and "foliated" not in transfer["learnable"]
    per_class = {row["class"]: row["f1"] for row in csv.DictReader((report / "per_class.csv").open())}
    learnable_f1 = [float(per_class[name]) for name in transfer["learnable"]]
    assert transfer["macro_f1_learnable"] == pytest.approx(np.mean(learnable_f1), abs=1e-5)
    low, high = transfer["macro_f1_learnable_ci"]
    assert low <= transfer["macro_f1_learnable"] <= high
    assert np.isfinite(transfer["domain_shift"])
    assert transfer["normalisation"] == "target", "held out: normalised by its own inputs, as a transfer map is"
    assert transfer["adapted_batch_norm"] is True, "and its batch-normalisation moments adapted (the default)"

    members = transfer["transfer_model"]
    assert members["weight"] == 0.5, "the transfer model: network and summary model blended (loro.summary_blend)"
    for member in ("summary", "blend"):
        scores = members[member]
        f1 = [scores["per_class_f1"][class_names().index(name)] for name in transfer["learnable"]]
        assert scores["macro_f1_learnable"] == pytest.approx(np.nanmean(f1), abs=1e-5)
        assert scores["macro_f1_learnable_ci"][0] <= scores["macro_f1_learnable"] <= scores["macro_f1_learnable_ci"][1]

    rows = table.rows.set_index("model")
    assert list(rows.index) == ["baseline", "cnn", "cnn+summary", "summary"]
    assert rows.loc["cnn", "not_learnable"] == "foliated" == rows.loc["cnn+summary", "not_learnable"]
    assert rows.loc["cnn+summary", "macro_f1_learnable"] == pytest.approx(members["blend"]["macro_f1_learnable"])
    assert rows.loc["summary", "macro_f1_learnable"] == pytest.approx(members["summary"]["macro_f1_learnable"])
    assert set(table.per_class["model"]) == {"baseline", "cnn", "cnn+summary", "summary"}
    assert 0 <= rows.loc["cnn", "quantity_disagreement"] <= 1
    assert set(table.per_class["class"]) <= set(class_names()) and "foliated" in set(table.per_class["class"])
    for name in (TABLE_CSV, TABLE_MD, PER_CLASS_CSV, PICTURE):
        assert (table.folder / name).is_file()
    assert set(rows["trained_on"]) == {"tiny"}, "each row names the regions its model trained on"
    assert "| other | cnn | thermal | tiny |" in (table.folder / TABLE_MD).read_text()
    assert "cnn thermal: macro-F1 learnable" in table.summary() and "; trained on tiny" in table.summary()

    stamp = (report / TRANSFER_FILE).stat().st_mtime_ns
    run_loro(["other"], ["cnn"], "thermal", params, say=said.append)
    assert (report / TRANSFER_FILE).stat().st_mtime_ns == stamp, "a finished evaluation is reused too"
    older = {key: value for key, value in transfer.items() if key != "normalisation"}
    (report / TRANSFER_FILE).write_text(json.dumps(older))  # scored before the held-out region was self-normalised
    run_loro(["other"], ["cnn"], "thermal", params, say=said.append)
    assert json.loads((report / TRANSFER_FILE).read_text())["normalisation"] == "target", "so it is scored again"
    plain = params.model_copy(update={"loro": params.loro.model_copy(update={"adapt_batch_norm": False})})
    run_loro(["other"], ["cnn"], "thermal", plain, say=said.append)
    assert json.loads((report / TRANSFER_FILE).read_text())["adapted_batch_norm"] is False, "another setting: rescored"
    readapted = run_loro(["other"], ["cnn"], "thermal", params).rows.set_index("model")
    assert readapted.loc["cnn", "adapted_batch_norm"], "and back: the table says how each row was scored"
    expected = transfer_expectation(table.folder, "cnn", "thermal")
    assert expected["macro_f1_learnable"] == pytest.approx(transfer["macro_f1_learnable"], abs=1e-3)
    assert expected["max_shift_covered"] == pytest.approx(transfer["domain_shift"], abs=1e-3)
    assert transfer_expectation(table.folder, "convlstm", "thermal") is None
    blended = transfer_expectation(table.folder, "cnn", "thermal", blended=True)
    assert blended["model"] == "cnn+summary" and blended["macro_f1_learnable"] == pytest.approx(
        members["blend"]["macro_f1_learnable"], abs=1e-3
    )

    # Another blend weight rescores the transfer model; at weight 0 it is the network alone.
    alone = params.model_copy(update={"loro": params.loro.model_copy(update={"summary_blend": 0.0})})
    network_only = run_loro(["other"], ["cnn"], "thermal", alone).rows.set_index("model")
    assert json.loads((report / TRANSFER_FILE).read_text())["transfer_model"]["weight"] == 0.0
    assert network_only.loc["cnn+summary", "macro_f1"] == pytest.approx(network_only.loc["cnn", "macro_f1"], abs=1e-6)

    assert pooled_settings_changes("loro-other", ["tiny"], "cnn", "thermal", params) == [], "today's model"
    assert pooled_settings_changes("loro-other", ["tiny"], "convlstm", "thermal", params) is None, "none trained"
    augmented = params.model_copy(update={"loro": params.loro.model_copy(update={"climate_augment": ["cnn"]})})
    changes = pooled_settings_changes("loro-other", ["tiny"], "cnn", "thermal", augmented)
    assert changes and all(change.startswith("train.climate_augment") for change in changes), changes
    said.clear()
    run_loro(["other"], ["cnn"], "thermal", augmented, say=said.append)
    assert any("retraining" in line and "climate_augment" in line for line in said), "a stale model is not reused"
    retrained = read_training_record(trained.model_dir)["settings"]["train"]
    assert retrained["climate_augment"]["enabled"], "it was trained with today's settings"


def test_models_spanning_regions_train_with_climate_augmentation_where_it_helped(tmp_path):
    params = Params.model_validate(tiny_params_dict(tmp_path))
    assert not params.training().climate_augment.enabled, "a region's own models: as train.climate_augment says"
    assert params.loro.climate_augment == ["convlstm"]
    pooled = pooled_training(params, "convlstm")
    assert pooled.climate_augment.enabled
    assert pooled.climate_augment.gain == params.training().climate_augment.gain, "the same draws otherwise"
    assert pooled_training(params, "cnn") is params.training(), "measured not to help the CNN's transfer"
    both = params.model_copy(update={"loro": params.loro.model_copy(update={"climate_augment": ["cnn", "convlstm"]})})
    assert pooled_training(both, "cnn").climate_augment.enabled
