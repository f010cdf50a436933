"""`lithomap cv` end to end on the tiny region: folds, cells, resume, reports, bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from lithomap.cli import app
from lithomap.config import load_params
from lithomap.datasets.folds import FOLDS_FILE, Folds
from lithomap.training.cv import CellPredictions, CvCell, boundary_mask, cell_path
from lithomap.training.cv_reports import build_report
from tests.conftest import tiny_params_dict
from tests.training.test_cv_stats import label_map

runner = CliRunner()


def cv_params(region_root, tmp_path, comparisons=None) -> str:
    """The tiny region's params with the cv outputs under ``tmp_path``, written to a file."""
    raw = tiny_params_dict(region_root)
    raw["cv"] = {
        "data_dir": str(tmp_path / "cv"),
        "reports_dir": str(tmp_path / "reports" / "cv"),
        "comparisons": comparisons
        if comparisons is not None
        else [{"a": "convlstm", "b": "cnn"}, {"a": "day", "b": "night", "per_class": True}],
    }
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return str(path)


def invoke(*args: str):
    return runner.invoke(app, list(args), terminal_width=200)


@pytest.fixture(scope="module")
def cv_run(tiny_region, tmp_path_factory):
    """Two folds × CNN × thermal, one epoch: (first result, second result, cell mtimes, output root)."""
    _, root = tiny_region
    out = tmp_path_factory.mktemp("cv")
    params = cv_params(root, out)
    args = ("cv", "-p", params, "-m", "cnn", "-e", "thermal", "--folds", "2", "--epochs", "1", "-q")
    first = invoke(*args)
    assert first.exit_code == 0, first.output
    mtimes = {p: p.stat().st_mtime_ns for p in (out / "cv" / "tiny" / "cells").iterdir()}
    second = invoke(*args)
    return first, second, mtimes, out


@pytest.mark.slow  # 47 s with its cv_run fixture on 2 cores; the default suite stays under 10 min
def test_cv_runs_every_cell_once_and_resuming_skips_finished_cells(cv_run):
    _, second, mtimes, out = cv_run
    assert sorted(p.name for p in mtimes) == sorted(f"cnn-thermal-fold{f}-seed0.npz" for f in range(2))
    assert second.exit_code == 0, second.output
    assert "2 of 2 cells already done" in second.output
    assert {p: p.stat().st_mtime_ns for p in mtimes} == mtimes, "finished cells are not redone"
    assert not list((out / "cv" / "tiny" / "cells").glob(".*")), "no temporary file is left"
    folds = Folds.load(out / "cv" / "tiny" / FOLDS_FILE)
    assert folds.k == 2 and (out / "reports" / "cv" / "tiny" / "folds.png").stat().st_size > 5_000


@pytest.mark.slow  # shares cv_run on 2 cores; the default suite stays under 10 min
def test_cv_reports_pooled_scores_and_lists_comparisons_not_run(cv_run):
    first, _, _, out = cv_run
    reports = out / "reports" / "cv"
    scores = pd.read_csv(reports / "scores.csv")
    assert list(scores["experiment"]) == ["thermal"] and list(scores["model"]) == ["cnn"]
    row = scores.iloc[0]
    assert row.macro_f1_low <= row.macro_f1 <= row.macro_f1_high
    assert 0 <= row.baseline_macro_f1 <= 1 and row.cells == 2
    assert 0 < row.boundary_pixels < row.pixels
    cells = pd.read_csv(reports / "cells.csv")
    assert len(cells) == 2 and set(cells["fold"]) == {0, 1}
    compared = {row["comparison"]: row for row in json.loads((reports / "comparisons.json").read_text())}
    missing = compared["convlstm − cnn (thermal)"]
    assert missing["status"] == "not run" and "convlstm/thermal" in missing["verdict"]
    assert compared["day − night (cnn)"]["status"] == "not run"
    assert "not run" in (reports / "summary.md").read_text()
    assert "cnn/thermal: macro-F1" in first.output


@pytest.mark.slow  # shares cv_run on 2 cores; the default suite stays under 10 min
def test_report_only_rebuilds_the_reports_from_the_finished_cells(cv_run):
    _, _, mtimes, out = cv_run
    (out / "reports" / "cv" / "scores.csv").unlink()
    params = str(out / "params.yaml")
    result = invoke("cv", "-p", params, "-m", "cnn", "-e", "thermal", "--folds", "2", "--report-only")
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(out / "reports" / "cv" / "scores.csv")) == 1
    assert {p: p.stat().st_mtime_ns for p in mtimes} == mtimes


def fake_cells(params, truth: np.ndarray, model: str, experiment: str, predicted: np.ndarray) -> None:
    """Cell files of a 2-fold cross-validation (left half fold 0, right half fold 1) with given predictions."""
    boundary = boundary_mask(truth)
    half = truth.shape[1] // 2
    for fold, columns in enumerate((slice(0, half), slice(half, None))):
        mask = np.zeros(truth.shape, bool)
        mask[:, columns] = truth[:, columns] > 0
        rows, cols = np.nonzero(mask)
        CellPredictions(
            fold, 0, rows, cols, truth[mask], predicted[mask], truth[mask], boundary[mask], block_size=16
        ).save(cell_path(params, CvCell("tiny", model, experiment, fold, 0)))


def test_paired_comparisons_from_stored_cells_give_verdicts_intervals_and_per_class_deltas(tmp_path):
    params = load_params(cv_params(tmp_path, tmp_path))
    truth = label_map()
    rng = np.random.default_rng(5)
    good = np.where(rng.random(truth.shape) < 0.85, truth, rng.integers(1, 7, truth.shape)).astype(np.uint8)
    shuffled = rng.permutation(good.ravel()).reshape(good.shape)
    fake_cells(params, truth, "cnn", "day", good)
    fake_cells(params, truth, "convlstm", "day", good)
    fake_cells(params, truth, "cnn", "night", shuffled)
    report = build_report(params, ["tiny"], ["cnn", "convlstm"], ["day", "night"], {"tiny": 2}, seeds=1)
    compared = report.comparisons.set_index("comparison")
    same = compared.loc["convlstm − cnn (day)"]
    assert same.macro_f1_difference == 0 and same.low == 0 == same.high
    assert same.verdict.startswith("no difference shown")
    day_night = compared.loc["day − night (cnn)"]
    assert day_night.low > 0 and day_night.verdict.startswith("day better by")
    assert compared.loc["convlstm − cnn (night)"].status == "not run"
    assert compared.loc["convlstm − cnn (night)"].verdict == "not run: no complete cells for convlstm/night"
    assert compared.loc["day − night (convlstm)"].status == "not run"
    cnn_only = build_report(params, ["tiny"], ["cnn"], ["day", "night"], {"tiny": 2}, seeds=1).comparisons
    unasked = cnn_only.set_index("comparison").loc["convlstm − cnn (day)"]  # its cells exist; not asked for
    assert unasked.verdict == "not run: convlstm/day not among this run's models and experiments (add them with -m/-e)"
    deltas = report.per_class[report.per_class["comparison"] == "day − night (cnn)"]
    assert len(deltas) == 6 and (deltas["low"] > 0).all()
    scores = report.scores.set_index(["model", "experiment"])
    assert scores.loc[("cnn", "day"), "baseline_macro_f1"] == 1.0, "the baseline column holds the truth here"
    assert scores.loc[("cnn", "day"), "fold_macro_f1_sd"] >= 0
    assert (params.cv.reports_dir / "forest.png").stat().st_size > 5_000


@pytest.mark.parametrize(
    ("extra", "comparisons", "message"),
    [
        (["-e", "nonsense"], None, "nonsense"),
        (["--folds", "99"], None, "labelled blocks"),
        ([], [{"a": "summer", "b": "winter"}], "cv.comparisons[0] names 'summer'"),
        ([], [{"a": "cnn", "b": "night"}], "both must be models"),
    ],
)
def test_bad_input_is_refused_with_a_message_naming_it(tiny_region, tmp_path, extra, comparisons, message):
    _, root = tiny_region
    params = cv_params(root, tmp_path, comparisons)
    result = invoke("cv", "-p", params, "-m", "cnn", "-e", "thermal", *extra, "-q")
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert not (tmp_path / "cv" / "tiny" / "cells").exists(), "nothing is trained"
