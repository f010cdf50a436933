"""Great Expectations gates on raw and processed data: pass, fail in plain words, warn."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import rasterio
from rasterio.transform import from_origin

from lithomap.config import parse_params
from lithomap.datasets.preprocess import preprocess_experiment, split_region
from lithomap.scenes.acquisitions import Acquisition, from_solar
from lithomap.scenes.generate import generate_region
from lithomap.validation.gate import ValidationFailedError, enforce, run_suite
from lithomap.validation.run import validate_processed, validate_raw
from lithomap.validation.suites import processed_suite
from tests.conftest import tiny_params_dict
from tests.io import fakes


def raw_sections(params):
    """The config sections raw validation reads."""
    return params.region("tiny"), params.ingest, params.preprocess, params.validation


def test_raw_validation_passes_on_generated_data_and_writes_data_docs(tiny_region):
    params, _ = tiny_region
    report = validate_raw("tiny", *raw_sections(params))
    assert report.success and not report.failures and report.evaluated >= 15
    docs = params.validation.reports_dir / "raw" / "tiny" / "data_docs" / "index.html"
    assert docs.is_file() and "raw_thermal" in docs.read_text()
    summary = json.loads((params.validation.reports_dir / "raw" / "tiny.json").read_text())
    assert summary["success"] is True and summary["failures"] == []


def test_raw_validation_fails_in_plain_words_naming_the_file(tiny_region, tmp_path):
    custom = copied_region(tiny_region, tmp_path)
    hot = sorted((tmp_path / "raw").rglob("*_SDS_LST_doy*.tif"))[0]
    rewrite(hot, lambda dn: np.where(dn > 0, 20000, 0).astype(dn.dtype))  # 400 K
    with pytest.raises(ValidationFailedError) as info:
        validate_raw("tiny", *raw_sections(custom))
    message = str(info.value)
    assert "LST of valid pixels lies within 200–350 K" in message
    assert hot.name in message
    assert "critical expectation" in message


def test_missing_night_and_seasons_are_warnings_not_failures(tmp_path):
    params = parse_params(tiny_params_dict(tmp_path, size_px=48))
    region = params.region("tiny")
    day_only = [Acquisition(from_solar(2023, doy, 12.0, -4.11), 12.0) for doy in (180, 200)]
    generate_region("tiny", region, params.generate, acquisitions=day_only, quicklook=False, progress=False)
    report = validate_raw("tiny", *raw_sections(params))
    assert report.success
    assert any("night-time" in warning for warning in report.warnings)
    assert any("at least 2 seasons" in warning for warning in report.warnings)


def test_processed_validation_passes_on_a_real_preprocess_run(tiny_region):
    params, _ = tiny_region
    region = params.region("tiny")
    split_region("tiny", region, params.ingest, params.preprocess)
    for name in params.experiments:
        preprocess_experiment("tiny", region, params.ingest, params.preprocess, name, params.experiment(name))
    report = validate_processed("tiny", params.experiments, params.preprocess, params.validation)
    assert report.success, report.failures
    assert (params.validation.reports_dir / "processed" / "tiny" / "data_docs" / "index.html").is_file()


def test_gate_reports_each_failed_expectation_and_keeps_warnings(tmp_path):
    settings = parse_params({"regions": {}}).validation
    tables = {
        "inputs": pd.DataFrame(
            {"id": ["thermal/train/cnn/features", "thermal/test/cnn/features"], "nonfinite": [0, 3]}
        ),
        "train_inputs": pd.DataFrame({"id": ["thermal/train/any/lst_anomaly"], "mean": [0.5], "std": [1.0]}),
        "classes": pd.DataFrame({"id": ["thermal/peat"], "missing_from_train": [True]}),
        "disjoint": pd.DataFrame({"id": ["thermal/train/test"], "shared_pixels": [0], "min_gap_px": [8]}),
    }
    report = run_suite("processed", "demo", tables, processed_suite(settings, buffer_px=8), tmp_path)
    assert not report.success
    assert any("no NaN or infinite" in f and "thermal/test/cnn/features" in f for f in report.failures)
    assert any("mean 0 ± 0.1" in f for f in report.failures)
    assert report.warnings == [next(w for w in report.warnings if "thermal/peat" in w)]
    with pytest.raises(ValidationFailedError, match="failed 2 critical expectation"):
        enforce(report)


def copied_region(tiny_region, tmp_path):
    """Params whose raw folder is a private copy of the tiny region's (so a test may break files)."""
    params, root = tiny_region
    raw = tiny_params_dict(root)
    raw["regions"]["tiny"]["raw_dir"] = str(tmp_path / "raw")
    raw["validation"]["reports_dir"] = str(tmp_path / "reports")
    shutil.copytree(params.region("tiny").raw_dir, tmp_path / "raw")
    return parse_params(raw)


def rewrite(path, change):
    with rasterio.open(path, "r+") as dst:
        dst.write(change(dst.read(1)), 1)


def test_every_bad_file_is_reported_at_once_and_by_the_file_of_the_failing_variable(tiny_region, tmp_path):
    custom = copied_region(tiny_region, tmp_path)
    lst_files = sorted((tmp_path / "raw").rglob("*_SDS_LST_doy*.tif"))
    truncated, without_crs = lst_files[0], lst_files[1]
    truncated.write_bytes(truncated.read_bytes()[:300])
    fakes.write_tif(without_crs, np.full((20, 20), 15000, np.int32), None, from_origin(0, 20, 1, 1), 0)
    emissivity = sorted((tmp_path / "raw").rglob("*_SDS_EmisWB_doy*.tif"))[-1]
    rewrite(emissivity, lambda dn: np.where(dn > 0, 5, 0).astype(dn.dtype))  # 0.5
    vh = sorted((tmp_path / "raw").rglob("*_VH.tif"))[0]
    rewrite(vh, lambda power: np.where(power > 0, 100.0, 0).astype(power.dtype))  # +20 dB
    failures = validate_raw("tiny", *raw_sections(custom), strict=False).failures
    unusable = next(f for f in failures if "every file can be read as its product" in f)
    assert truncated.name in unusable and without_crs.name in unusable and "no CRS" in unusable
    emis_failure = next(f for f in failures if "emissivity lies within" in f)
    assert emissivity.name in emis_failure and "_SDS_LST_" not in emis_failure
    vh_failure = next(f for f in failures if "VH backscatter" in f)
    assert vh.name in vh_failure and "_VV.tif" not in vh_failure


def test_a_dem_with_untagged_voids_fails_naming_the_file(tiny_region, tmp_path):
    """SRTM-style voids (−32768 without a NoData tag) are not elevations: the raw gate names the DEM file."""
    custom = copied_region(tiny_region, tmp_path)
    dems = sorted((tmp_path / "raw").rglob("*_dem.tif"))
    assert dems, "the generator writes HyP3's DEM companion"

    def with_voids(metres):
        metres = metres.copy()
        metres[: metres.shape[0] // 8] = -32768.0
        return metres

    rewrite(dems[0], with_voids)
    failures = validate_raw("tiny", *raw_sections(custom), strict=False).failures
    (dem_failure,) = [f for f in failures if "elevation lies within -500…9000 m" in f]
    assert dems[0].name in dem_failure and "-3.277e+04" in dem_failure


def test_lst_that_is_no_data_on_every_date_fails(tiny_region, tmp_path):
    custom = copied_region(tiny_region, tmp_path)
    for path in (tmp_path / "raw").rglob("*_SDS_LST_doy*.tif"):
        rewrite(path, np.zeros_like)  # 0 is the LST fill value
    report = validate_raw("tiny", *raw_sections(custom), strict=False)
    assert any("at least one thermal date holds valid LST" in failure for failure in report.failures)
    assert any("every acquisition holds valid lst" in warning for warning in report.warnings)


@pytest.mark.realdata
def test_real_ecostress_folder_validates_for_mapping_and_says_training_is_not_possible(realdata, tmp_path):
    raw = {
        "regions": {"seg": {"raw_dir": str(realdata("ecostress_diurnal_seg")), "crs": "EPSG:32613", "resolution": 70}},
        "validation": {"reports_dir": str(tmp_path / "reports")},
    }
    params = parse_params(raw)
    sections = (params.region("seg"), params.ingest, params.preprocess, params.validation)
    report = validate_raw("seg", *sections, strict=False)
    assert report.success and not report.failures and not report.trainable
    assert any("the region holds labels" in b and "lithology_labels.tif" in b for b in report.training_blockers)
    assert "passed for mapping; training is NOT possible" in report.summary()
    enforce(report, "mapping")
    with pytest.raises(ValidationFailedError, match=r"for training:\n.*the region holds labels"):
        enforce(report, "training")
    summary = json.loads((tmp_path / "reports" / "raw" / "seg.json").read_text())
    assert summary["success"] is True and summary["trainable"] is False
    assert summary["warnings"] == []  # six real overpasses (5 day, 1 night), plausible LST and emissivity


def test_a_few_bright_sar_pixels_are_a_warning_quoting_the_files_value(tiny_region, tmp_path):
    custom = copied_region(tiny_region, tmp_path)
    vv = sorted((tmp_path / "raw").rglob("*_VV.tif"))[0]
    with rasterio.open(vv) as src:
        before = src.read(1)

    def bright_corner(power):
        power = power.copy()
        power[:2, :2] = 10**2.5  # +25 dB: a bright urban corner reflector, legitimately out of range
        return power

    rewrite(vv, bright_corner)
    report = validate_raw("tiny", *raw_sections(custom))
    assert report.success and report.trainable
    warning = next(w for w in report.warnings if "VV backscatter lies within -40…10 dB (every pixel: max)" in w)
    assert vv.name in warning and "(values 25)" in warning
    rewrite(vv, lambda power: np.where(before > 0, 10**2.5, 0).astype(before.dtype))  # the whole file: a failure
    with pytest.raises(ValidationFailedError, match=r"VV backscatter lies within -40…10 dB \(0.1th percentile"):
        validate_raw("tiny", *raw_sections(custom))


def test_ingest_builds_a_cube_only_from_files_that_passed_the_raw_gate(tiny_region, tmp_path):
    """By hand, ingest cannot bypass the raw gate: it checks the report's fingerprint or runs the gate."""
    import yaml
    from typer.testing import CliRunner

    from lithomap.cli import app

    params, root = tiny_region
    raw = tiny_params_dict(root)
    raw["regions"]["tiny"]["raw_dir"] = str(tmp_path / "raw")
    raw["validation"]["reports_dir"] = str(tmp_path / "reports")
    raw["ingest"]["interim_dir"] = str(tmp_path / "interim")
    shutil.copytree(params.region("tiny").raw_dir, tmp_path / "raw")
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    runner = CliRunner()

    def ingest(*options: str):
        return runner.invoke(app, ["ingest", "-p", str(path), "--quiet", *options], terminal_width=400)

    first = ingest()  # no report yet: the gate runs first, passes, and its report carries the fingerprint
    assert first.exit_code == 0, first.output
    assert "no raw validation report" in first.output and "running the raw gate first" in first.output
    report = json.loads((tmp_path / "reports" / "raw" / "tiny.json").read_text())
    assert report["success"] and len(report["inputs"]) == 32
    cube = tmp_path / "interim" / "tiny" / "cube.zarr"
    good = sorted(str(p.relative_to(cube)) for p in cube.rglob("*"))

    second = ingest()  # the report speaks for these files: no second gate
    assert second.exit_code == 0 and "running the raw gate" not in second.output

    celsius = sorted((tmp_path / "raw").rglob("*_SDS_LST_doy*.tif"))[0]
    rewrite(celsius, lambda dn: np.where(dn > 0, 1250, 0).astype(dn.dtype))  # 25 K: LST written in °C
    refused = ingest()
    assert refused.exit_code == 2
    assert "changed since the raw validation report" in refused.output
    assert "LST of valid pixels lies within 200–350 K" in refused.output and celsius.name in refused.output
    assert "--skip-validation" in refused.output
    assert sorted(str(p.relative_to(cube)) for p in cube.rglob("*")) == good, "the good cube is untouched"

    forced = ingest("--skip-validation")
    assert forced.exit_code == 0 and "ingesting without the raw gate" in forced.output
