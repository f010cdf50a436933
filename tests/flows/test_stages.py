"""Stage discovery from dvc.yaml and the run summary, without Prefect."""

from __future__ import annotations

from pathlib import Path

import pytest

from lithomap.errors import ConfigError
from lithomap.orchestration.stages import discover_stages, region_of, stages_by_region
from lithomap.orchestration.summary import RegionOutcome, StageOutcome, decision_text, run_summary

REPO = Path(__file__).resolve().parents[2]


def test_the_real_pipeline_is_discovered_per_region_in_dependency_order():
    plan = stages_by_region(discover_stages(REPO))
    assert list(plan) == ["puertollano", "santa_olalla", "villoslada"]
    names = [stage.name for stage in plan["villoslada"]]
    assert names.index("generate@villoslada") < names.index("ingest@villoslada") < names.index("split@villoslada")
    assert names.index("preprocess@villoslada-thermal") < names.index("train@villoslada-cnn")
    assert names.index("evaluate@villoslada-convlstm") < names.index("promote@villoslada-convlstm")
    assert all(stage.region == "villoslada" for stage in plan["villoslada"])
    promote = next(stage for stage in plan["villoslada"] if stage.name == "promote@villoslada-cnn")
    assert promote.outs == ("reports/promotion/villoslada-cnn.json",)


def test_region_of_reads_the_commands_region_option():
    assert region_of("lithomap ingest --region santa_olalla --quiet") == "santa_olalla"
    assert region_of("lithomap train -r puertollano -m cnn") == "puertollano"
    assert region_of("lithomap summary") is None


def test_an_unknown_region_names_the_known_ones(toy: Path):
    with pytest.raises(ConfigError, match=r"no stage for region\(s\) \['east'\]; known regions: \['north', 'south'\]"):
        stages_by_region(discover_stages(toy), ["east"])


def test_the_summary_names_new_dates_the_gate_and_the_failure():
    decision = {
        "model": "lithomap-villoslada-cnn",
        "promoted": False,
        "candidate_macro_f1": 0.861,
        "champion_version": "2",
        "champion_macro_f1": 0.853,
        "margin": 0.01,
        "champion_rescored": True,
    }
    villoslada = RegionOutcome(
        "villoslada",
        [
            StageOutcome("generate@villoslada", "new_data", new_acquisitions=3),
            StageOutcome("promote@villoslada-cnn", "ran", seconds=2.0, decisions=[decision]),
        ],
    )
    broken = RegionOutcome(
        "puertollano", [StageOutcome("ingest@puertollano", "failed", "no overlap"), StageOutcome("split@p", "not_run")]
    )
    text = run_summary([villoslada, broken])
    assert text.splitlines() == [
        "retrain failed in 1 of 2 regions: puertollano (ingest@puertollano)",
        "villoslada: 3 new dates; ran 1 stage (2 s); cnn: challenger 0.86 vs champion 0.85 "
        "(re-scored on the current test data), kept the champion (margin 0.01)",
        "puertollano: FAILED at ingest@puertollano: no overlap; 1 later stages not run",
    ]
    assert decision_text(decision | {"promoted": True}).endswith("promoted the challenger (margin 0.01)")
    paired = decision | {
        "rule": "paired",
        "margin": None,
        "paired_difference": 0.008,
        "paired_interval": [-0.02, 0.041],
    }
    assert decision_text(paired).endswith("kept the champion (paired +0.008 [-0.020, 0.041])")
    below = {"champion_macro_f1": None, "reason": "below the raw baseline (0.02 < 0.31)"}
    assert decision_text(decision | below | {"champion_version": None}) == (
        "cnn: challenger 0.86 (no champion yet), not promoted: below the raw baseline (0.02 < 0.31) (margin 0.01)"
    )
    assert decision_text(decision | below) == (
        "cnn: challenger 0.86 (not compared with the champion), kept the champion: below the raw baseline "
        "(0.02 < 0.31) (margin 0.01)"
    )
