"""The `lithomap` command: verbs listed, options explained, domain errors as one line."""

from __future__ import annotations

import yaml
from typer.testing import CliRunner

from lithomap.cli import app

runner = CliRunner()


def test_help_lists_every_verb():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for verb in ("generate", "ingest", "classes"):
        assert verb in result.output


def test_generate_help_explains_every_option():
    result = runner.invoke(app, ["generate", "--help"], terminal_width=200)
    assert result.exit_code == 0
    for option in ("--region", "--params", "--quicklook", "--no-quicklook", "--quiet"):
        assert option in result.output
    assert "synthetic" in result.output


def test_generate_writes_a_tiny_region(tmp_path):
    params = {
        "regions": {
            "tiny": {
                "raw_dir": str(tmp_path / "raw"),
                "crs": "EPSG:32630",
                "synthetic": {
                    "seed": 3,
                    "centre_lon": -2.67,
                    "centre_lat": 42.14,
                    "utm_epsg": 32630,
                    "mgrs_tile": "30TWM",
                    "mean_air_temperature_c": 9.5,
                    "class_mix": {"detritic": 0.5, "carbonate": 0.5},
                },
            }
        },
        "generate": {
            "size_px": 32,
            "thermal_acquisitions": 4,
            "sentinel1_dates": 1,
            "sentinel2_dates": 1,
            "quicklook_dir": str(tmp_path / "ql"),
        },
    }
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    result = runner.invoke(app, ["generate", "--params", str(path), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "tiny:" in result.output
    assert (tmp_path / "raw" / "scene.json").is_file()
    assert (tmp_path / "ql" / "tiny.png").is_file()


def test_bad_params_key_is_one_clear_error_and_exit_code_2(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump({"regions": {}, "generate": {"size": 64}}))
    result = runner.invoke(app, ["generate", "--params", str(path)])
    assert result.exit_code == 2
    assert "unknown key 'size' in section 'generate'" in result.output
    assert "Traceback" not in result.output


def test_classes_maps_legend_text():
    result = runner.invoke(app, ["classes", "Granodioritas", "Zona urbana"])
    assert result.exit_code == 0
    assert "plutonic" in result.output and "unmapped" in result.output
