"""Signatures, the hypothesis table and the HTML report on the tiny generated region."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from lithomap.analysis.hypotheses import HYPOTHESIS_COLUMNS, anomaly_range, cooling_rate, hypothesis_table
from lithomap.analysis.report import build_report, map_warnings, maps_table
from lithomap.analysis.signatures import DIURNAL_COLUMNS, SEASONAL_COLUMNS, hour_bin_centres, thermal_signatures
from lithomap.config import MapParams, ReportParams
from lithomap.io.cube import cube_path, open_cube


@pytest.fixture(scope="module")
def signatures(tiny_region):
    params, _ = tiny_region
    cube = open_cube(cube_path(params.ingest.interim_dir, "tiny"), params.region("tiny"))
    return cube, *thermal_signatures(cube, hour_bin=3.0, min_count=1)


def test_bins_cover_the_day():
    assert hour_bin_centres(2.0).tolist() == [1.0 + 2 * k for k in range(12)]
    assert hour_bin_centres(5.0)[-1] == pytest.approx(22.0)


def test_signatures_count_every_labelled_observation(signatures):
    cube, diurnal, seasonal = signatures
    assert list(diurnal.columns) == DIURNAL_COLUMNS and list(seasonal.columns) == SEASONAL_COLUMNS
    lst = cube["lst"].values
    labelled = np.isfinite(lst) & (cube["label"].values > 0)[None]
    assert diurnal["n"].sum() == labelled.sum() == seasonal["n"].sum()
    sand = np.isfinite(lst) & (cube["label"].values == 1)[None]
    overall = diurnal[diurnal["class"] == "sand"]
    assert (overall["lst_mean"] * overall["n"]).sum() / overall["n"].sum() == pytest.approx(lst[sand].mean(), 1e-4)
    # anomalies are relative to each date's scene mean, so their pixel-weighted mean over all classes is ~0
    assert abs((diurnal["lst_anomaly_mean"] * diurnal["n"]).sum() / diurnal["n"].sum()) < 1.0


def test_hypothesis_measures_on_a_made_up_curve():
    hours = np.array([1.0, 5.0, 9.0, 13.0, 17.0, 19.0, 21.0, 23.0])
    rows = []
    for name, amplitude, cooling in (("sand", 10.0, 3.0), ("clay", 5.0, 1.0), ("water", 1.0, 0.2)):
        anomaly = amplitude * np.sin((hours - 9) / 24 * 2 * np.pi)
        lst = 290 + anomaly - cooling * np.clip(hours - 18, 0, None)
        anomaly = anomaly + (3.0 if name == "water" else 0.0) * (hours < 8)
        rows += [
            {"class": name, "solar_hour_bin": h, "lst_mean": t, "lst_anomaly_mean": a, "n": 100}
            for h, t, a in zip(hours, lst, anomaly, strict=True)
        ]
    diurnal = pd.DataFrame(rows)
    assert anomaly_range(diurnal, "sand") > anomaly_range(diurnal, "clay")
    assert cooling_rate(diurnal, "sand") > cooling_rate(diurnal, "clay")
    table = hypothesis_table(diurnal)
    assert list(table.columns) == HYPOTHESIS_COLUMNS and len(table) == 5
    assert table["holds"].iloc[0] and table["holds"].iloc[1]
    assert table["holds"].iloc[4] is None, "no rock class: not testable"


def test_report_without_maps(tiny_region, tmp_path):
    params, _ = tiny_region
    params = params.model_copy(
        update={"report": ReportParams(reports_dir=tmp_path / "reports"), "map": MapParams(maps_dir=tmp_path / "maps")}
    )
    result = build_report("tiny", params)
    out = tmp_path / "reports" / "tiny"
    for name in ("signatures_diurnal.csv", "signatures_seasonal.csv", "hypotheses.csv", "signatures.png"):
        assert (out / name).is_file(), name
    page = result.index.read_text()
    assert "data:image/png;base64," in page and "lithomap map --region tiny" in page
    assert list(pd.read_csv(out / "hypotheses.csv").columns) == HYPOTHESIS_COLUMNS


def test_maps_table_states_expected_accuracy_and_warnings_where_map_json_has_them(tmp_path):
    old, transfer = tmp_path / "cnn-thermal", tmp_path / "convlstm-thermal"
    old.mkdir()
    transfer.mkdir()
    (old / "map.json").write_text(json.dumps({"registered_model": "lithomap-a-cnn", "version": "1", "scores": None}))
    warning = "domain shift 2.10 is beyond the 0.90 the leave-one-region-out runs covered: expect less than 0.46"
    expected = {"macro_f1_learnable": 0.46, "macro_f1_interval": [0.42, 0.5], "held_out": ["a", "b"]}
    meta = {
        "registered_model": "lithomap-global-convlstm",
        "version": "3",
        "model_scope": "global",
        "domain_shift": 2.1,
        "expected_macro_f1": expected,
        "normalisation": "target",
        "warning": warning,
        "promoted": False,
        "seam_index": 1.04,
        "seam_z": 0.7,
    }
    (transfer / "map.json").write_text(json.dumps(meta))
    maps = [("cnn-thermal", old), ("convlstm-thermal", transfer)]

    table = maps_table(maps).set_index("map")
    row = table.loc["convlstm-thermal"]
    assert row["expected macro-F1"] == 0.46 and row["expected interval"] == "[0.42, 0.50]"
    assert row["domain shift"] == 2.1 and row["normalisation"] == "target" and row["warning"] == "yes"
    assert row["promoted"] == "NOT PROMOTED" and row["seam index"] == 1.04 and row["seam z"] == 0.7
    older = ["expected macro-F1", "normalisation", "warning", "promoted", "seam z"]
    assert table.loc["cnn-thermal"][older].isna().all(), "an older map"
    assert map_warnings(maps) == [("convlstm-thermal", warning)]
