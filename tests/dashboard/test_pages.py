"""Every dashboard page under Streamlit's AppTest, on the tiny pipeline run (and before any run)."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest
import yaml
from streamlit.testing.v1 import AppTest

from tests.conftest import tiny_params_dict
from tests.dashboard.conftest import REGION
from tests.dashboard.contract import write_loro_table, write_map_folder, write_science_reports

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
PAGES = ("overview", "experiments", "maps", "signatures", "quality", "registry")


def open_page(page: str) -> AppTest:
    app = AppTest.from_file(str(APP), default_timeout=120)
    app.run()
    if page != "overview":
        app.switch_page(f"views/{page}.py")
        app.run()
    assert not app.exception, [element.value for element in app.exception]
    return app


def texts(app: AppTest) -> str:
    parts = [
        e.value
        for kind in ("title", "subheader", "markdown", "caption", "info", "success", "warning", "error")
        for e in getattr(app, kind)
    ]
    return "\n".join(str(part) for part in parts)


def test_overview_names_the_champion_version_and_its_score(dashboard_env):
    champion = mlflow.MlflowClient(dashboard_env.tracking_uri).get_model_version_by_alias(
        "lithomap-tiny-cnn", "champion"
    )
    score = mlflow.MlflowClient(dashboard_env.tracking_uri).get_run(champion.run_id).data.metrics["test_macro_f1"]
    app = open_page("overview")
    content = texts(app)
    assert f"version {champion.version}" in content
    assert f"scores {score:.2f} (95 % interval" in content
    checks = app.dataframe[0].value
    assert list(checks["data checks"]) == ["raw: passed; processed: passed"]


def test_experiment_filters_change_the_runs_table(dashboard_env):
    app = open_page("experiments")
    assert len(app.dataframe[0].value) == 2
    app.multiselect(key="filter_experiment").set_value(["night"]).run()
    assert not app.exception
    table = app.dataframe[0].value
    assert list(table["experiment"]) == ["night"]
    assert "F1 per class" in texts(app)
    assert "Experiment matrix" in texts(app)


def test_experiments_page_shows_the_leave_one_region_out_table(dashboard_env, tmp_path, monkeypatch):
    assert "Run `lithomap loro --all`" in texts(open_page("experiments")), "before any run: what to run"
    params = yaml.safe_load(dashboard_env.params_file.read_text())
    params["loro"] = {"reports_dir": str(tmp_path / "loro")}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.setenv("LITHOMAP_PARAMS", str(tmp_path / "params.yaml"))
    write_loro_table(tmp_path / "loro")
    app = open_page("experiments")
    assert "Maps of regions without labels" in texts(app) and "lithomap loro --all" not in texts(app)
    (table,) = [frame.value for frame in app.dataframe if "trained on" in frame.value.columns]
    assert list(table["held out"]) == ["North"] * 4 + ["South"] * 4
    assert list(table["trained on"])[:1] == ["South, East"]
    cnn = table[table["model"] == "U-Net (CNN)"]
    scores = ["0.61 (95 % interval 0.57–0.64)", "0.42 (95 % interval 0.38–0.45)"]
    assert list(cnn["macro-F1, learnable classes"]) == scores
    blend = table[table["model"] == "U-Net (CNN) + summary model (what maps of new regions use)"]
    blend_scores = ["0.66 (95 % interval 0.62–0.69)", "0.47 (95 % interval 0.43–0.50)"]
    assert list(blend["macro-F1, learnable classes"]) == blend_scores
    assert set(table["model"]) >= {"per-pixel baseline", "summary model alone"}
    assert list(table["not learnable"]) == ["none"] * 4 + ["chalk, plutonic"] * 4
    app.multiselect(key="filter_model").set_value(["cnn"]).run()
    (picked,) = [frame.value for frame in app.dataframe if "trained on" in frame.value.columns]
    assert picked.equals(table), "picking the CNN keeps its transfer model, the summary model and the baseline"
    app.multiselect(key="filter_experiment").set_value(["night"]).run()
    assert "No leave-one-region-out rows match the filters above." in texts(app), "the page's filters apply"


def test_maps_before_lithomap_map_show_ground_truth_legend_and_what_to_run(dashboard_env):
    app = open_page("maps")
    content = texts(app)
    assert "Legend" in content and "clay" in content
    assert f"lithomap map -r {REGION}" in content
    assert "Ground truth" in "".join(str(image.proto) for image in app.get("image"))


def test_maps_page_shows_a_contract_map_with_legend_overlay_and_downloads(dashboard_env, own_outputs, tmp_path):
    write_map_folder(tmp_path, REGION, dashboard_env.root / "interim" / REGION / "cube.zarr")
    app = open_page("maps")
    content = texts(app)
    assert "Legend" in content and "lithomap map" not in content
    assert app.slider(key="map_opacity").value == pytest.approx(0.6)
    app.slider(key="map_opacity").set_value(1.0).run()
    assert not app.exception
    assert len(app.get("download_button")) == 2


def test_signatures_page_says_what_to_run_then_draws_the_report(own_outputs, tmp_path):
    assert "Run `lithomap report`" in texts(open_page("signatures"))
    write_science_reports(tmp_path, REGION)
    app = open_page("signatures")
    assert "lithomap report" not in texts(app)
    verdicts = list(app.dataframe[0].value["verdict"])
    assert verdicts == ["holds", "does not hold"]


def test_quality_and_registry_pages_read_the_run(dashboard_env):
    quality = texts(open_page("quality"))
    assert "Raw satellite files: passed" in quality and "Training datasets: passed" in quality
    assert "data_docs/index.html" in quality
    registry = open_page("registry")
    assert "lithomap-tiny-cnn" in texts(registry)
    history = registry.dataframe[-1].value
    assert len(history) == 2 and set(history["decision"]) <= {"promoted", "refused"}


def test_unreadable_report_is_a_message_not_a_traceback(own_outputs, tmp_path):
    (tmp_path / "reports" / REGION).mkdir(parents=True)
    (tmp_path / "reports" / REGION / "hypotheses.csv").write_text("nonsense,columns\n1,2\n")
    app = open_page("signatures")
    assert any("columns hypothesis, measure, value, holds are missing" in w.value for w in app.warning)


@pytest.mark.parametrize("page", PAGES)
def test_before_any_pipeline_run_each_page_says_what_to_run(page, tmp_path, monkeypatch):
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(tiny_params_dict(tmp_path / "nothing")))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LITHOMAP_PARAMS", str(params))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    content = texts(open_page(page))
    assert "Run `" in content
    assert not (tmp_path / "mlflow.db").exists(), "the dashboard created a tracking store"


def test_maps_and_signatures_on_real_lithomap_map_and_report_output(own_outputs, tmp_path):
    from typer.testing import CliRunner

    from lithomap.cli import app as cli

    runner = CliRunner()
    for verb in (["map", "-r", REGION, "-m", "cnn"], ["report", "-r", REGION]):
        result = runner.invoke(cli, [*verb, "-p", str(own_outputs)], catch_exceptions=False)
        assert result.exit_code == 0, result.output
    maps = open_page("maps")
    content = texts(maps)
    assert "Legend" in content and "lithomap map" not in content
    assert "Prediction" in "".join(str(image.proto) for image in maps.get("image"))
    assert len(maps.get("download_button")) == 2
    signatures = open_page("signatures")
    assert "lithomap report" not in texts(signatures)
    assert set(signatures.dataframe[0].value["verdict"]) <= {"holds", "does not hold"}
