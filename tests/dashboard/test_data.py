"""The dashboard's pure data functions: filters, wording, links, raster helpers, report readers."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import rasterio
from rasterio.transform import from_origin

from dashboard import rasters, reports, runs, wording
from dashboard.regions import extent, region_locations
from dashboard.sources import DashboardDataError, sqlite_file, store_exists
from lithomap.config import RegionParams


def _runs() -> pd.DataFrame:
    rows = [
        ("puertollano", "cnn", "thermal", "a1", "1"),
        ("puertollano", "convlstm", "night", "b2", "1"),
        ("villoslada", "cnn", "night", "c3", "2"),
    ]
    frame = pd.DataFrame(rows, columns=["region", "model", "experiment", "run_id", "experiment_id"])
    return frame.reindex(columns=list(runs.RUN_COLUMNS))


def test_filters_combine_and_empty_means_any():
    table = _runs()
    assert len(runs.filter_runs(table)) == 3
    assert list(runs.filter_runs(table, experiments=["night"])["run_id"]) == ["b2", "c3"]
    assert list(runs.filter_runs(table, regions=["puertollano"], models=["cnn"])["run_id"]) == ["a1"]
    assert runs.filter_runs(table, regions=["nowhere"]).empty


def test_mlflow_ui_link_compares_several_runs_or_opens_one():
    table = _runs()
    assert runs.mlflow_ui_link("http://h:5000/", table.iloc[:1]) == "http://h:5000/#/experiments/1/runs/a1"
    link = runs.mlflow_ui_link("http://h:5000", table)
    assert link.startswith("http://h:5000/#/compare-runs?runs=")
    assert "%22c3%22" in link and "%222%22" in link


def test_wording_for_stakeholders():
    assert wording.score(0.8712, 0.66, 0.9) == "0.87 (95 % interval 0.66–0.90)"
    assert wording.score(None) == "not scored" and wording.score(float("nan")) == "not scored"
    assert wording.validation_words("warned", 0, 1) == "passed with 1 warning"
    assert wording.validation_words("failed", 3, 0) == "failed: 3 critical problems"
    assert wording.architecture("convlstm").startswith("ConvLSTM")
    assert wording.loro_model("cnn+summary") == "U-Net (CNN) + summary model (what maps of new regions use)"
    assert [wording.loro_model(name) for name in ("baseline", "summary")] == [
        "per-pixel baseline",
        "summary model alone",
    ]
    assert wording.region_name("santa_olalla") == "Santa Olalla"
    assert wording.listing("santa_olalla villoslada", wording.region_name) == "Santa Olalla, Villoslada"
    assert wording.listing(float("nan"), empty="not recorded") == "not recorded" and wording.listing("") == "none"
    assert wording.listing(["puertollano"], wording.region_name) == "Puertollano" and wording.listing([]) == "none"
    assert wording.when(pd.Timestamp("2026-11-20 14:05")) == "2026-11-20 14:05 UTC"


def test_a_missing_sqlite_store_is_not_created(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert sqlite_file(uri) == tmp_path / "mlflow.db"
    assert runs.open_client(uri) is None and not store_exists(uri)
    assert not (tmp_path / "mlflow.db").exists()


def test_locator_from_bounds_or_synthetic_centre():
    regions = {
        "a": RegionParams(raw_dir="x", crs="EPSG:32630", bounds=(390000, 4269510, 416880, 4296390)),
        "b": RegionParams(raw_dir="x", crs="EPSG:32630"),
    }
    table = region_locations(regions)
    assert list(table["region"]) == ["a"]
    assert table.loc[0, "lon"] == pytest.approx(-4.1, abs=0.1) and table.loc[0, "lat"] == pytest.approx(38.7, abs=0.1)


def test_raster_read_is_decimated_and_keeps_nodata(tmp_path):
    path = tmp_path / "confidence.tif"
    data = np.linspace(0, 1, 400 * 300, dtype=np.float32).reshape(400, 300)
    data[:10, :10] = np.nan
    profile = {
        "driver": "GTiff",
        "height": 400,
        "width": 300,
        "count": 1,
        "dtype": "float32",
        "nodata": np.nan,
        "crs": "EPSG:32630",
        "transform": from_origin(0, 0, 70, 70),
    }
    with rasterio.open(path, "w", **profile) as target:
        target.write(data, 1)
    small = rasters.read_band(path, max_px=100)
    assert small.shape == (100, 75) and np.isnan(small[0, 0]) and np.nanmax(small) <= 1
    digest = rasters.file_digest(path)
    assert digest == rasters.file_digest(path) and len(digest) == 64
    (tmp_path / "broken.tif").write_bytes(b"not a tiff")
    with pytest.raises(DashboardDataError, match=r"broken\.tif"):
        rasters.read_band(tmp_path / "broken.tif", 100)


def test_class_pictures_outlines_and_blend():
    classes = np.array([[0, 2], [13, np.nan]], dtype=np.float32)
    picture = rasters.class_rgb(classes)
    assert picture.shape == (2, 2, 3) and tuple(picture[1, 1]) == (255, 255, 255)
    assert rasters.classes_present(classes) == [0, 2, 13]
    mask = np.zeros((5, 5), bool)
    mask[1:4, 1:4] = True
    assert rasters.outline(mask).sum() == 8
    drawn = rasters.with_outline(np.full((5, 5, 3), 200, np.uint8), mask)
    assert tuple(drawn[1, 1]) == (0, 0, 0) and tuple(drawn[2, 2]) == (200, 200, 200)
    base, top = np.zeros((1, 1, 3), np.uint8), np.full((1, 1, 3), 200, np.uint8)
    assert rasters.blend(base, top, 0.5)[0, 0, 0] == 100


def test_map_folders_and_the_champion_first(tmp_path):
    for name, alias in (("cnn-thermal", "challenger"), ("convlstm-thermal", "champion")):
        folder = tmp_path / "r" / name
        folder.mkdir(parents=True)
        (folder / "classes.tif").write_bytes(b"")
        (folder / "map.json").write_text(json.dumps({"alias": alias}))
    (tmp_path / "r" / "empty").mkdir()
    found = rasters.map_runs(tmp_path, "r")
    assert [m.name for m in found] == ["cnn-thermal", "convlstm-thermal"]
    assert rasters.default_map(found, []) == 1


def test_report_readers_absent_none_broken_error(tmp_path):
    assert reports.validation_summary(tmp_path, "raw", "r") is None
    assert reports.hypotheses(tmp_path, "r") is None
    assert reports.loro_table(tmp_path) is None
    (tmp_path / "loro.csv").write_text("held_out,model,experiment\nr,cnn,thermal\n")
    with pytest.raises(DashboardDataError, match=r"loro\.csv: columns macro_f1_learnable are missing; run `lithomap"):
        reports.loro_table(tmp_path)
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "r.json").write_text("{broken")
    with pytest.raises(DashboardDataError, match=r"r\.json: not readable JSON"):
        reports.validation_summary(tmp_path, "raw", "r")
    (tmp_path / "raw" / "r.json").write_text(json.dumps({"success": True, "evaluated": 5, "warnings": ["no night"]}))
    summary = reports.validation_summary(tmp_path, "raw", "r")
    assert summary.status == "warned" and summary.evaluated == 5


def test_locator_extent_surrounds_every_region_with_a_margin():
    locations = pd.DataFrame(
        [("a", -4, 38.7, -4.2, 38.5, -3.9, 38.9), ("b", -2.7, 42.1, -2.8, 42.0, -2.6, 42.2)],
        columns=["region", "lon", "lat", "west", "south", "east", "north"],
    )
    assert extent(locations, margin_deg=1.0) == pytest.approx((-5.2, 37.5, -1.6, 43.2))
