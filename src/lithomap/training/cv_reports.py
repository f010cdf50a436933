"""Cross-validation reports: pooled scores with block-bootstrap intervals and paired comparisons.

Per region × model × experiment the test pixels of all folds (and seeds) are pooled:
macro-F1 and OA from the pooled confusion matrix, with an interval from the block
bootstrap (blocks resampled, both scores recomputed from the pooled confusion), the mean
± sd over the fold × seed cells, the fair per-pixel baseline on the same pixels (the
per-pixel ceiling: what needs no spatial context), and boundary (within 1 px of another
class) vs interior scores. Each comparison of ``cv.comparisons`` is a paired difference
A − B on the pixels both scored, fold by fold and seed by seed
(``models.paired.paired_block_bootstrap``), with a plain verdict; comparisons whose cells
are missing are listed as not run. Outputs under ``cv.reports_dir``: ``scores.csv/json``,
``cells.csv``, ``comparisons.csv/json``, ``per_class_deltas.csv``, ``forest.png`` and
``summary.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from lithomap.atomic import save_figure, write_json, write_text
from lithomap.classes import N_CLASSES, class_names
from lithomap.config import ARCHITECTURES, Params
from lithomap.errors import ConfigError
from lithomap.models.metrics import block_bootstrap, confusion_matrix, scores_from_confusion
from lithomap.models.paired import PairedDifference, paired_block_bootstrap, verdict
from lithomap.training.cv import CellPredictions, CvCell, cell_path


@dataclass(frozen=True)
class Comparison:
    """One paired question for one region: A − B.

    Attributes:
        region: the region.
        a: (model, experiment) of A.
        b: (model, experiment) of B.
        per_class: report per-class F1 deltas too.
    """

    region: str
    a: tuple[str, str]
    b: tuple[str, str]
    per_class: bool = False

    @property
    def label(self) -> str:
        """e.g. ``convlstm − cnn (thermal)`` or ``day − night (cnn)``."""
        if self.a[1] == self.b[1]:
            return f"{self.a[0]} − {self.b[0]} ({self.a[1]})"
        return f"{self.a[1]} − {self.b[1]} ({self.a[0]})"

    @property
    def names(self) -> tuple[str, str]:
        """The names the verdict uses for A and B."""
        return (self.a[0], self.b[0]) if self.a[1] == self.b[1] else (self.a[1], self.b[1])


def comparisons(
    params: Params, regions: Sequence[str], models: Sequence[str], experiments: Sequence[str]
) -> list[Comparison]:
    """Every paired comparison of ``cv.comparisons`` (plus with − without summaries) for the cells asked for.

    A model pair is compared in each of ``experiments``; an experiment pair for each of
    ``models``, whether or not both experiments were run (those are reported as not run).

    Raises:
        ConfigError: an entry names something that is neither a model nor an experiment,
            or mixes the two kinds.
    """
    pairs: list[tuple[tuple[str, str], tuple[str, str], bool]] = []
    for index, entry in enumerate(params.cv.comparisons):
        kinds = {_kind(params, name, index) for name in (entry.a, entry.b)}
        if len(kinds) != 1:
            raise ConfigError(
                f"cv.comparisons[{index}] compares {entry.a!r} with {entry.b!r}: both must be models "
                f"({', '.join(ARCHITECTURES)}) or both experiments"
            )
        if kinds == {"model"}:
            pairs += [((entry.a, e), (entry.b, e), entry.per_class) for e in experiments]
        else:
            pairs += [((m, entry.a), (m, entry.b), entry.per_class) for m in models]
    for with_name, without_name in summaries_twins(params):
        pairs += [((m, with_name), (m, without_name), False) for m in models]
    return [Comparison(region, a, b, per_class) for region in regions for a, b, per_class in pairs]


def _kind(params: Params, name: str, index: int) -> str:
    if name in ARCHITECTURES:
        return "model"
    if name in params.experiments:
        return "experiment"
    raise ConfigError(
        f"cv.comparisons[{index}] names {name!r}, which is neither a model ({', '.join(ARCHITECTURES)}) nor an "
        f"experiment of params.yaml ({', '.join(params.experiments)}); fix the name or remove the comparison"
    )


def summaries_twins(params: Params) -> list[tuple[str, str]]:
    """(with, without) experiment pairs whose selections differ only in ``summaries``."""
    twins = []
    for name, selection in params.experiments.items():
        if selection.summaries:
            continue
        twin = selection.model_copy(update={"summaries": True})
        twins += [(other, name) for other, candidate in params.experiments.items() if candidate == twin]
    return twins


def load_group(
    params: Params, region: str, arch: str, experiment: str, folds: int, seeds: int
) -> list[CellPredictions] | None:
    """The cells of one region × model × experiment, or None when any fold × seed cell is missing."""
    paths = [
        cell_path(params, CvCell(region, arch, experiment, fold, seed))
        for fold in range(folds)
        for seed in range(seeds)
    ]
    if not all(path.is_file() for path in paths):
        return None
    return [CellPredictions.load(path) for path in paths]


def block_confusions(cells: Sequence[CellPredictions], which: str, mask: str | None = None) -> np.ndarray:
    """(blocks, K, K) confusion matrices of the pooled cells, one per spatial block (seeds summed)."""
    truth, predicted, block = [], [], []
    for cell in cells:
        keep = (
            np.ones(cell.truth.size, bool)
            if mask is None
            else (cell.boundary if mask == "boundary" else ~cell.boundary)
        )
        truth.append(cell.truth[keep])
        predicted.append(getattr(cell, which)[keep])
        block.append(
            (cell.rows[keep] // cell.block_size).astype(np.int64) * 100_000 + cell.cols[keep] // cell.block_size
        )
    return _per_block(np.concatenate(truth), np.concatenate(predicted), np.concatenate(block))


def _per_block(truth: np.ndarray, predicted: np.ndarray, block: np.ndarray) -> np.ndarray:
    ids, inverse = np.unique(block, return_inverse=True)
    flat = (inverse * N_CLASSES + truth.astype(np.int64)) * N_CLASSES + predicted.astype(np.int64)
    return np.bincount(flat, minlength=ids.size * N_CLASSES * N_CLASSES).reshape(ids.size, N_CLASSES, N_CLASSES)


def group_scores(cells: Sequence[CellPredictions], n_boot: int, alpha: float, seed: int) -> dict:
    """Pooled scores, intervals, fold mean ± sd, baseline and boundary/interior scores of one group."""
    row: dict[str, float | int] = {"cells": len(cells), "pixels": int(sum(c.truth.size for c in cells))}
    for which, prefix in (("predicted", ""), ("baseline", "baseline_")):
        blocks = block_confusions(cells, which)
        pooled = scores_from_confusion(blocks.sum(axis=0))
        intervals = block_bootstrap(blocks, n_boot=n_boot, seed=seed, alpha=alpha)
        for score in ("macro_f1", "oa"):
            row[f"{prefix}{score}"] = pooled[score]
            row[f"{prefix}{score}_low"], row[f"{prefix}{score}_high"] = intervals[score]
        for part in ("boundary", "interior"):
            row[f"{prefix}{part}_macro_f1"] = scores_from_confusion(block_confusions(cells, which, part).sum(axis=0))[
                "macro_f1"
            ]
        row["blocks"] = int(blocks.shape[0])
    per_cell = [
        scores_from_confusion(confusion_matrix(c.truth, c.predicted, n_classes=N_CLASSES))["macro_f1"] for c in cells
    ]
    row["fold_macro_f1_mean"] = float(np.mean(per_cell))
    row["fold_macro_f1_sd"] = float(np.std(per_cell, ddof=1)) if len(per_cell) > 1 else float("nan")
    row["boundary_pixels"] = int(sum(c.boundary.sum() for c in cells))
    return row


def paired(
    a: Sequence[CellPredictions], b: Sequence[CellPredictions], n_boot: int, alpha: float, seed: int
) -> PairedDifference:
    """A − B on the pixels both cells of each fold × seed scored (see ``models.paired``)."""
    keys_a = np.concatenate([c.key() for c in a])
    keys_b = np.concatenate([c.key() for c in b])
    _, index_a, index_b = np.intersect1d(keys_a, keys_b, assume_unique=True, return_indices=True)

    def stacked(cells: Sequence[CellPredictions], name: str, index: np.ndarray) -> np.ndarray:
        return np.concatenate([getattr(c, name) for c in cells])[index]

    truth = stacked(a, "truth", index_a)
    size = a[0].block_size
    block = (stacked(a, "rows", index_a).astype(np.int64) // size) * 100_000 + stacked(a, "cols", index_a) // size
    return paired_block_bootstrap(
        _per_block(truth, stacked(a, "predicted", index_a), block),
        _per_block(truth, stacked(b, "predicted", index_b), block),
        n_boot=n_boot,
        seed=seed,
        alpha=alpha,
    )


@dataclass
class CvReport:
    """What ``write_cv_reports`` found and wrote."""

    scores: pd.DataFrame
    comparisons: pd.DataFrame
    per_class: pd.DataFrame
    paths: list[Path]


def build_report(
    params: Params,
    regions: Sequence[str],
    models: Sequence[str],
    experiments: Sequence[str],
    folds: dict[str, int],
    seeds: int,
) -> CvReport:
    """Score every complete group and every comparison, and write the report files."""
    settings, seed = params.evaluate, params.training().seed
    groups: dict[tuple[str, str, str], list[CellPredictions]] = {}
    rows, cell_rows = [], []
    for region in regions:
        for arch in models:
            for experiment in experiments:
                cells = load_group(params, region, arch, experiment, folds[region], seeds)
                if cells is None:
                    continue
                groups[(region, arch, experiment)] = cells
                scores = group_scores(cells, settings.n_boot, settings.alpha, seed)
                rows.append({"region": region, "model": arch, "experiment": experiment, **scores})
                for cell in cells:
                    model = scores_from_confusion(confusion_matrix(cell.truth, cell.predicted, n_classes=N_CLASSES))
                    base = scores_from_confusion(confusion_matrix(cell.truth, cell.baseline, n_classes=N_CLASSES))
                    cell_rows.append(
                        {"region": region, "model": arch, "experiment": experiment, "fold": cell.fold}
                        | {"seed": cell.seed, "macro_f1": model["macro_f1"], "oa": model["oa"]}
                        | {"baseline_macro_f1": base["macro_f1"], "pixels": int(cell.truth.size)}
                    )
    compared: list[dict[str, object]] = []
    deltas: list[dict[str, object]] = []
    names = class_names()
    for comparison in comparisons(params, regions, models, experiments):
        a, b = groups.get((comparison.region, *comparison.a)), groups.get((comparison.region, *comparison.b))
        entry: dict[str, object] = {"region": comparison.region, "comparison": comparison.label}
        if a is None or b is None:
            missing = [(m, e) for (m, e), g in ((comparison.a, a), (comparison.b, b)) if g is None]
            unasked = [f"{m}/{e}" for m, e in missing if m not in models or e not in experiments]
            reason = (
                f"{', '.join(unasked)} not among this run's models and experiments (add them with -m/-e)"
                if unasked
                else f"no complete cells for {', '.join(f'{m}/{e}' for m, e in missing)}"
            )
            compared.append(entry | {"status": "not run", "verdict": f"not run: {reason}"})
            continue
        difference = paired(a, b, settings.n_boot, settings.alpha, seed)
        low, high = difference.intervals["macro_f1"]
        oa_low, oa_high = difference.intervals["oa"]
        compared.append(
            entry
            | {"status": "run", "a_macro_f1": difference.a["macro_f1"], "b_macro_f1": difference.b["macro_f1"]}
            | {"macro_f1_difference": difference.difference["macro_f1"], "low": low, "high": high}
            | {"oa_difference": difference.difference["oa"], "oa_low": oa_low, "oa_high": oa_high}
            | {"blocks": difference.blocks, "verdict": verdict(difference, *comparison.names)}
        )
        if comparison.per_class:
            for c in range(1, N_CLASSES):
                if np.isfinite(difference.per_class[c]):
                    c_low, c_high = difference.per_class_intervals[c]
                    deltas.append(
                        entry
                        | {"class": names[c], "f1_difference": float(difference.per_class[c])}
                        | {"low": float(c_low), "high": float(c_high)}
                    )
    report = CvReport(pd.DataFrame(rows), pd.DataFrame(compared), pd.DataFrame(deltas), [])
    report.paths = write_files(params.cv.reports_dir, report, pd.DataFrame(cell_rows))
    return report


def write_files(out: Path, report: CvReport, cells: pd.DataFrame) -> list[Path]:
    """CSV + JSON tables, the forest plot and the markdown summary."""
    paths = [
        write_text(out / "scores.csv", report.scores.to_csv(index=False)),
        write_json(out / "scores.json", _records(report.scores)),
        write_text(out / "cells.csv", cells.to_csv(index=False)),
        write_text(out / "comparisons.csv", report.comparisons.to_csv(index=False)),
        write_json(out / "comparisons.json", _records(report.comparisons)),
        write_text(out / "per_class_deltas.csv", report.per_class.to_csv(index=False)),
    ]
    run = report.comparisons[report.comparisons["status"] == "run"] if len(report.comparisons) else report.comparisons
    if len(run):
        paths.append(forest_plot(run, out / "forest.png"))
    paths.append(write_text(out / "summary.md", summary_markdown(report)))
    return paths


def _records(frame: pd.DataFrame) -> list[dict]:
    """Rows as dicts with NaN as null."""
    return [
        {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
        for row in frame.to_dict("records")
    ]


def forest_plot(run: pd.DataFrame, path: Path) -> Path:
    """The paired macro-F1 differences with their intervals, one line per comparison."""
    labels = [f"{r.region}: {r.comparison}" for r in run.itertuples()]
    fig = Figure(figsize=(8, 0.45 * len(run) + 1.8))
    ax = fig.subplots()
    y = np.arange(len(run))[::-1]
    values = run["macro_f1_difference"].to_numpy(float)
    errors = np.vstack([values - run["low"].to_numpy(float), run["high"].to_numpy(float) - values])
    shown = (run["low"] > 0) | (run["high"] < 0)
    colours = np.where(shown, "#c0392b", "#7f8c8d")
    for index in range(len(run)):
        ax.errorbar(values[index], y[index], xerr=errors[:, [index]], fmt="o", color=colours[index], capsize=3)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(y, labels)
    ax.set_xlabel("paired macro-F1 difference A − B (block-bootstrap interval)")
    ax.set_title("Cross-validation: paired differences\n(red: a difference is shown)", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, path, dpi=100)


def summary_markdown(report: CvReport) -> str:
    """A short markdown summary: scores per group, then the verdicts."""
    lines = ["# Cross-validation", "", "## Pooled test scores (all folds)", ""]
    lines += [
        "| region | model | experiment | macro-F1 [interval] | fold mean ± sd | OA | per-pixel ceiling "
        "| boundary / interior |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in report.scores.itertuples():
        lines.append(
            f"| {r.region} | {r.model} | {r.experiment} "
            f"| {r.macro_f1:.3f} [{r.macro_f1_low:.3f}, {r.macro_f1_high:.3f}] "
            f"| {r.fold_macro_f1_mean:.3f} ± {r.fold_macro_f1_sd:.3f} | {r.oa:.3f} | {r.baseline_macro_f1:.3f} "
            f"| {r.boundary_macro_f1:.3f} / {r.interior_macro_f1:.3f} |"
        )
    lines += ["", "## Paired comparisons (A − B on the same blocks and pixels)", ""]
    lines += [f"- {r.region}, {r.comparison}: {r.verdict}" for r in report.comparisons.itertuples()]
    return "\n".join([*lines, ""])
