"""The retrain flow on a toy DVC project under Prefect's test harness."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.flows.toy import run

pytestmark = pytest.mark.usefixtures("prefect_api")


def retrain(flows_module, project: Path, **options):
    return flows_module.retrain(project_dir=str(project), return_state=True, **options)


def test_first_run_builds_every_stage_and_leaves_the_repository_as_dvc_repro_would(flows_module, toy: Path):
    state = retrain(flows_module, toy)
    assert state.is_completed()
    summary = state.result()
    assert "north: ran 3 stages" in summary and "south: ran 3 stages" in summary
    assert "cnn: challenger 0.50 (no champion yet), promoted the challenger" in summary
    assert (toy / "data" / "north" / "model.txt").read_text() == "seed north > prepare > evaluate"
    assert "up to date" in run(["dvc", "status"], toy)
    lock = yaml.safe_load((toy / "dvc.lock").read_text())["stages"]
    assert set(lock) == {f"{s}@{r}" for s in ("prepare", "evaluate", "promote") for r in ("north", "south")}
    assert "Running stage" not in run(["dvc", "repro"], toy)
    assert "/raw.txt" in (toy / "data" / "north" / ".gitignore").read_text()


def test_second_run_does_no_work_and_says_so(flows_module, toy: Path):
    assert retrain(flows_module, toy).is_completed()
    built = (toy / "data" / "south" / "model.txt").stat().st_mtime_ns
    state = retrain(flows_module, toy)
    assert state.is_completed()
    assert state.result().splitlines()[0] == "retrain: nothing changed, no stage ran"
    assert "south: nothing to do, all 3 stages up to date" in state.result()
    assert (toy / "data" / "south" / "model.txt").stat().st_mtime_ns == built


def test_a_transient_failure_is_retried_where_retries_are_configured_only(flows_module, toy: Path):
    (toy / "faults.json").write_text(json.dumps({"evaluate@north": "once", "prepare@south": "once"}))
    state = retrain(flows_module, toy)
    faults = json.loads((toy / "faults.json").read_text())
    assert faults == {"evaluate@north": "done", "prepare@south": "done"}, "both failed once"
    assert state.is_failed()
    assert "north: ran 3 stages" in state.message, "evaluate is a retry stage: its second attempt passed"
    assert "south: FAILED at prepare@south: stage prepare@south: `python step.py" in state.message
    assert "2 later stages not run" in state.message


def test_a_failed_region_keeps_the_other_regions_results(flows_module, toy: Path):
    (toy / "faults.json").write_text(json.dumps({"evaluate@south": "always"}))
    state = retrain(flows_module, toy)
    assert state.is_failed()
    assert state.message.splitlines()[0].endswith("retrain failed in 1 of 2 regions: south (evaluate@south)")
    assert json.loads((toy / "reports" / "north.json").read_text())["promoted"] is True
    status = run(["dvc", "status"], toy)
    assert "evaluate@south" in status and "promote@south" in status
    assert "north" not in status and "prepare@south" not in status

    (toy / "faults.json").unlink()
    state = retrain(flows_module, toy, regions=["south"])
    assert state.is_completed() and state.result().startswith("south: ran 2 stages")
    assert "up to date" in run(["dvc", "status"], toy)


def test_new_raw_data_is_committed_and_only_its_region_rebuilt(flows_module, toy: Path):
    params = yaml.safe_load((toy / "params.yaml").read_text())
    params["orchestration"]["new_data_stages"] = ["prepare"]
    (toy / "params.yaml").write_text(yaml.safe_dump(params))
    assert retrain(flows_module, toy).is_completed()
    (toy / "data" / "north" / "raw.txt").write_text("seed north + a new acquisition")
    state = retrain(flows_module, toy)
    assert state.is_completed()
    assert "north: ran 2 stages" in state.result()
    assert "south: nothing to do" in state.result()
    assert (toy / "data" / "north" / "raw.txt").read_text() == "seed north + a new acquisition", "not regenerated"
    assert (toy / "data" / "north" / "model.txt").read_text().startswith("seed north + a new acquisition")
    assert "up to date" in run(["dvc", "status"], toy)
