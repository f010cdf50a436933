"""The experiment matrix: region × model × experiment, as the thesis tabulates it.

Cells whose evaluation already exists are read, missing ones are trained and evaluated
first (``run_missing``). The table (accuracy / macro-F1 per cell) is written as Markdown,
CSV and a heatmap PNG.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from lithomap.atomic import save_figure, write_text
from lithomap.config import Params


@dataclass(frozen=True)
class Cell:
    region: str
    arch: str
    experiment: str


def cells(params: Params) -> list[Cell]:
    """Every cell the `matrix` section asks for."""
    regions = params.matrix.regions or list(params.regions)
    experiments = params.matrix.experiments or list(params.experiments)
    for name in regions:
        params.region(name)
    for name in experiments:
        params.experiment(name)
    return [Cell(r, a, e) for r in regions for a in params.matrix.models for e in experiments]


def metrics_path(params: Params, cell: Cell) -> Path:
    """The ``metrics.json`` of a cell's evaluation."""
    return params.evaluate.reports_dir / cell.region / f"{cell.arch}-{cell.experiment}" / "metrics.json"


def run_missing(params: Params, run_cell: Callable[[Cell], None], force: bool = False) -> list[Cell]:
    """Train and evaluate the cells without metrics (all of them with ``force``); returns those run."""
    missing = [cell for cell in cells(params) if force or not metrics_path(params, cell).is_file()]
    for cell in missing:
        run_cell(cell)
    return missing


def collect(params: Params) -> pd.DataFrame:
    """One row per evaluated cell: accuracy, macro-F1 and its interval, kappa, the baseline's macro-F1."""
    rows = []
    for cell in cells(params):
        path = metrics_path(params, cell)
        if not path.is_file():
            continue
        metrics = json.loads(path.read_text())
        low, high = metrics.get("macro_f1_ci", [np.nan, np.nan])
        rows.append(
            {
                "region": cell.region,
                "model": cell.arch,
                "experiment": cell.experiment,
                "accuracy": metrics["oa"],
                "macro_f1": metrics["macro_f1"],
                "macro_f1_low": low,
                "macro_f1_high": high,
                "kappa": metrics["kappa"],
                "baseline_macro_f1": metrics["baseline"]["macro_f1"],
            }
        )
    return pd.DataFrame(rows)


def write_table(frame: pd.DataFrame, params: Params) -> list[Path]:
    """Markdown (thesis layout: 'accuracy / macro-F1' per cell), CSV and heatmap PNG."""
    out = params.matrix.reports_dir
    write_text(out / "matrix.csv", frame.to_csv(index=False))
    experiments = list(dict.fromkeys(frame["experiment"]))
    rows = []
    for (region, model), group in frame.groupby(["region", "model"], sort=False):
        by_experiment = group.set_index("experiment")
        cells_text = [
            f"{by_experiment.loc[e, 'accuracy']:.3f} / {by_experiment.loc[e, 'macro_f1']:.3f}"
            if e in by_experiment.index
            else "–"
            for e in experiments
        ]
        rows.append(f"| {region} {model} | " + " | ".join(cells_text) + " |")
    header = "| region, model | " + " | ".join(experiments) + " |"
    rule = "|---|" + "---|" * len(experiments)
    markdown = "\n".join(
        [
            "Test accuracy / macro-F1 on spatially held-out blocks (class 0 ignored).",
            "",
            header,
            rule,
            *rows,
            "",
        ]
    )
    write_text(out / "matrix.md", markdown)
    _heatmap(frame, experiments, out / "matrix.png")
    return [out / "matrix.md", out / "matrix.csv", out / "matrix.png"]


def _heatmap(frame: pd.DataFrame, experiments: list[str], path: Path) -> None:
    pivot = frame.pivot_table(index=["region", "model"], columns="experiment", values="macro_f1", sort=False)
    pivot = pivot.reindex(columns=experiments)
    fig = Figure(figsize=(1.3 * len(experiments) + 3, 0.6 * len(pivot) + 1.5))
    ax = fig.subplots()
    image = ax.imshow(pivot.values, cmap="viridis", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(experiments)), experiments, rotation=30, ha="right")
    ax.set_yticks(range(len(pivot)), [f"{r} {m}" for r, m in pivot.index])
    for (i, j), value in np.ndenumerate(pivot.values):
        if np.isfinite(value):
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", color="white" if value < 0.6 else "black")
    ax.set_title("Test macro-F1 per region, model and experiment")
    fig.colorbar(image, ax=ax, label="macro-F1")
    fig.tight_layout()
    save_figure(fig, path, dpi=100)
