"""The leave-one-region-out table (``lithomap loro --all``): how well a model maps a region it never saw.

For each held-out region and architecture the leave-one-region-out model is trained (or
reused: a finished model folder is kept unless ``retrain``) and evaluated on every labelled
pixel of the held-out region, beside the fair per-pixel baseline trained on the other
regions (``lithomap.training.leave_one_out``). The table gathers, per held-out region and
model (and the baseline): overall accuracy, macro-F1 over every class present with its
block-bootstrap interval, macro-F1 over the *learnable* classes (those some training
region holds) with its interval, Cohen's kappa, quantity and allocation disagreement, the
held-out region's domain shift, and the classes that were not learnable. The baseline's
intervals are not computed (its scores are point estimates on the same pixels). For
experiments with the thermal summaries two more rows per held-out region score the
transfer model (``models.transfer``) on the same pixels: ``<arch>+summary`` (the network
blended with the summary model, what maps of regions without labels use) and ``summary``
(the summary model alone), both with intervals.

Outputs under ``loro.reports_dir`` (default ``reports/loro``): ``loro.csv`` and
``loro.md`` (the table), ``loro_per_class.csv`` (per-class F1 and support) and
``loro.png`` (learnable macro-F1 per held-out region and model, with intervals). A run
replaces its own rows (held-out region × model × experiment) and keeps the others, so one
table holds the runs of several experiments (before and after climate-invariant inputs).
``transfer_expectation`` reads the table back for maps of unlabelled regions.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lithomap.atomic import save_figure, write_text
from lithomap.classes import class_names
from lithomap.config import LoroParams, Params
from lithomap.datasets.features import Architecture
from lithomap.models.baseline import SUMMARY
from lithomap.models.transfer import blend_name
from lithomap.training.fit import SUMMARY_FILE
from lithomap.training.leave_one_out import (
    HELD_OUT_NORMALISATION,
    TRANSFER_FILE,
    evaluate_leave_one_out,
    leave_one_out_dir,
    leave_one_out_name,
    pooled_settings_changes,
    train_leave_one_out,
    training_regions,
)

log = logging.getLogger(__name__)
TABLE_CSV = "loro.csv"
TABLE_MD = "loro.md"
PER_CLASS_CSV = "loro_per_class.csv"
PICTURE = "loro.png"
BASELINE = "baseline"
COLUMNS = (
    "held_out",
    "model",
    "experiment",
    "trained_on",
    "oa",
    "macro_f1",
    "macro_f1_low",
    "macro_f1_high",
    "macro_f1_learnable",
    "macro_f1_learnable_low",
    "macro_f1_learnable_high",
    "kappa",
    "quantity_disagreement",
    "allocation_disagreement",
    "domain_shift",
    "not_learnable",
    "adapted_batch_norm",
)


@dataclass
class LoroTable:
    """The gathered table and where it was written."""

    rows: pd.DataFrame
    per_class: pd.DataFrame
    folder: Path

    def summary(self) -> str:
        lines = [f"leave-one-region-out table: {self.folder / TABLE_MD}"]
        for row in self.rows.itertuples():
            interval = (
                f" [{row.macro_f1_learnable_low:.3f}, {row.macro_f1_learnable_high:.3f}]"
                if pd.notna(row.macro_f1_learnable_low)
                else ""
            )
            lines.append(
                f"  {row.held_out:>14} {row.model:>9} {row.experiment}: macro-F1 learnable "
                f"{row.macro_f1_learnable:.3f}{interval}, all {row.macro_f1:.3f}; OA {row.oa:.3f}; "
                f"shift {row.domain_shift:.2f}" + (f"; trained on {row.trained_on}" if _text(row.trained_on) else "")
            )
        return "\n".join(lines)


def run_loro(
    held_outs: Sequence[str],
    archs: Sequence[Architecture],
    experiment: str,
    params: Params,
    *,
    retrain: bool = False,
    verbose: int = 0,
    say: Callable[[str], None] = log.info,
) -> LoroTable:
    """Train (or reuse) and evaluate every held-out region × architecture; write the table.

    A trained model is reused only when its recorded training settings (datasets, class
    weights, preset, climate augmentation, model, loss) are what training would use now;
    otherwise it is retrained, saying which settings changed. An evaluation is reused when
    its ``transfer.json`` is newer than the model (a rerun after a kill goes on where it
    stopped) and the held-out region was normalised by its own inputs with
    ``loro.adapt_batch_norm`` as set now (otherwise the evaluation is redone, not the
    training); ``retrain`` redoes both.
    """
    for held_out in held_outs:
        for arch in archs:
            trained = leave_one_out_dir(held_out, arch, experiment, params)
            report = params.evaluate.reports_dir / leave_one_out_name(held_out) / f"{arch}-{experiment}"
            changes = pooled_settings_changes(
                leave_one_out_name(held_out), training_regions(params, held_out), arch, experiment, params
            )
            cell = f"loro-{held_out} {arch}/{experiment}"
            if changes == [] and not retrain:
                say(f"{cell}: reusing the trained model in {trained} (--retrain: anew)")
            else:
                if changes and not retrain:
                    shown = "; ".join(changes[:4]) + (" …" if len(changes) > 4 else "")
                    say(f"{cell}: retraining, {trained} was trained with other settings ({shown})")
                say(train_leave_one_out(held_out, arch, experiment, params, verbose=verbose).summary())
            if retrain or not _fresh(report / TRANSFER_FILE, trained / SUMMARY_FILE, params.loro):
                say(evaluate_leave_one_out(held_out, arch, experiment, params).summary())
    return write_loro_table(held_outs, archs, experiment, params)


def write_loro_table(
    held_outs: Sequence[str], archs: Sequence[Architecture], experiment: str, params: Params
) -> LoroTable:
    """Gather the evaluations' report files into the table, its per-class CSV and picture."""
    rows: list[dict[str, Any]] = []
    per_class: list[dict[str, Any]] = []
    for held_out in held_outs:
        for index, arch in enumerate(archs):
            report = params.evaluate.reports_dir / leave_one_out_name(held_out) / f"{arch}-{experiment}"
            metrics = json.loads((report / "metrics.json").read_text())
            transfer = json.loads((report / TRANSFER_FILE).read_text())
            classes = pd.read_csv(report / "per_class.csv")
            rows.append(_model_row(held_out, arch, experiment, metrics, transfer))
            learnable = set(transfer["learnable"])
            members = transfer.get("transfer_model") or {}
            records = classes.to_dict("records")
            ids = {name: k for k, name in enumerate(class_names())}
            f1s: dict[str, list[Any]] = {arch: [item["f1"] for item in records]}
            if members:
                rows.append(_member_row(held_out, blend_name(arch), experiment, members["blend"], transfer))
                f1s[blend_name(arch)] = [members["blend"]["per_class_f1"][ids[item["class"]]] for item in records]
            if index == 0:
                rows.append(_baseline_row(held_out, experiment, metrics, transfer))
                f1s[BASELINE] = [item["baseline_f1"] for item in records]
                if members:
                    rows.append(_member_row(held_out, SUMMARY, experiment, members["summary"], transfer))
                    f1s[SUMMARY] = [members["summary"]["per_class_f1"][ids[item["class"]]] for item in records]
            per_class += [
                {
                    "held_out": held_out,
                    "model": name,
                    "experiment": experiment,
                    "class": item["class"],
                    "f1": f1,
                    "support": item["support"],
                    "learnable": item["class"] in learnable,
                }
                for name, values in f1s.items()
                for item, f1 in zip(records, values, strict=True)
            ]
    folder = params.loro.reports_dir
    folder.mkdir(parents=True, exist_ok=True)
    table = _merged(folder / TABLE_CSV, pd.DataFrame(rows, columns=list(COLUMNS)))
    classes_frame = _merged(folder / PER_CLASS_CSV, pd.DataFrame(per_class))
    write_text(folder / TABLE_CSV, table.to_csv(index=False))
    write_text(folder / PER_CLASS_CSV, classes_frame.to_csv(index=False))
    write_text(folder / TABLE_MD, _markdown(table, classes_frame))
    _draw(table, folder / PICTURE)
    return LoroTable(table, classes_frame, folder)


def transfer_expectation(folder: Path, arch: str, experiment: str, blended: bool = False) -> dict[str, Any] | None:
    """What the leave-one-region-out table says a map of an unlabelled region can expect.

    ``blended``: the map is made by the transfer model (``models.transfer``), so its rows
    (``<arch>+summary``) are read instead of the network's; ``model`` in the answer says which.

    Returns None when ``folder`` holds no table rows for (``arch``, ``experiment``); else
    ``macro_f1_learnable`` (mean over the held-out regions), ``macro_f1_interval`` (the
    lowest and highest interval bound over them: the range the runs support),
    ``baseline_macro_f1_learnable`` (the fair per-pixel baseline's mean over the same
    held-out regions, None without baseline rows), ``max_shift_covered`` (the largest
    domain shift a held-out region had), ``held_out`` (the regions) and ``source`` (the table).
    """
    path = folder / TABLE_CSV
    if not path.is_file():
        return None
    table = pd.read_csv(path)
    model = blend_name(arch) if blended else arch
    rows = table[(table["model"] == model) & (table["experiment"] == experiment)]
    if rows.empty:
        return None
    shifts = rows["domain_shift"].dropna()
    baseline = table[
        (table["model"] == BASELINE) & (table["experiment"] == experiment) & table["held_out"].isin(rows["held_out"])
    ]["macro_f1_learnable"].dropna()
    return {
        "macro_f1_learnable": round(float(rows["macro_f1_learnable"].mean()), 4),
        "macro_f1_interval": [
            round(float(rows["macro_f1_learnable_low"].min()), 4),
            round(float(rows["macro_f1_learnable_high"].max()), 4),
        ],
        "baseline_macro_f1_learnable": round(float(baseline.mean()), 4) if not baseline.empty else None,
        "max_shift_covered": round(float(shifts.max()), 4) if not shifts.empty else None,
        "held_out": sorted(rows["held_out"].astype(str)),
        "model": model,
        "source": str(path),
    }


def _merged(path: Path, new: pd.DataFrame) -> pd.DataFrame:
    """``new`` and the rows of the CSV at ``path`` for other (held_out, model, experiment) keys, sorted."""
    keys = ["held_out", "model", "experiment"]
    if path.is_file():
        old = pd.read_csv(path)
        if set(keys) <= set(old.columns):
            replaced = old.set_index(keys).index.isin(new.set_index(keys).index)
            new = pd.concat([old[~replaced], new], ignore_index=True)
    return new.sort_values(keys, kind="stable").reset_index(drop=True)


def _fresh(report: Path, model: Path, settings: LoroParams) -> bool:
    """Whether an evaluation is newer than its model and scored the held-out region as maps are made.

    That is: normalised by its own inputs, with batch-normalisation adaptation as
    ``loro.adapt_batch_norm`` says now (an evaluation from before that switch had none),
    and with the transfer model scored at today's ``loro.summary_blend`` (an evaluation
    from before the transfer model has no ``transfer_model``).
    """
    if not report.is_file() or report.stat().st_mtime < model.stat().st_mtime:
        return False
    transfer = json.loads(report.read_text())
    members = transfer.get("transfer_model", False)
    return (
        transfer.get("normalisation") == HELD_OUT_NORMALISATION
        and transfer.get("adapted_batch_norm", False) == settings.adapt_batch_norm
        and members is not False
        and (members is None or members.get("weight") == settings.summary_blend)
    )


def _model_row(held_out: str, arch: str, experiment: str, metrics: dict, transfer: dict) -> dict[str, Any]:
    low, high = metrics.get("macro_f1_ci", [None, None])
    learnable_low, learnable_high = transfer.get("macro_f1_learnable_ci", [None, None])
    return {
        "held_out": held_out,
        "model": arch,
        "experiment": experiment,
        "trained_on": _trained_on(transfer),
        "oa": metrics["oa"],
        "macro_f1": metrics["macro_f1"],
        "macro_f1_low": low,
        "macro_f1_high": high,
        "macro_f1_learnable": transfer["macro_f1_learnable"],
        "macro_f1_learnable_low": learnable_low,
        "macro_f1_learnable_high": learnable_high,
        "kappa": metrics["kappa"],
        "quantity_disagreement": metrics.get("quantity_disagreement"),
        "allocation_disagreement": metrics.get("allocation_disagreement"),
        "domain_shift": transfer.get("domain_shift"),
        "not_learnable": " ".join(transfer["not_learnable"]),
        "adapted_batch_norm": bool(transfer.get("adapted_batch_norm", False)),
    }


def _member_row(held_out: str, model: str, experiment: str, scores: dict, transfer: dict) -> dict[str, Any]:
    """The row of the transfer model (``<arch>+summary``) or of its summary model, from ``transfer.json``."""
    low, high = scores["macro_f1_ci"]
    learnable_low, learnable_high = scores["macro_f1_learnable_ci"]
    return {
        "held_out": held_out,
        "model": model,
        "experiment": experiment,
        "trained_on": _trained_on(transfer),
        **{key: scores[key] for key in ("oa", "macro_f1", "macro_f1_learnable", "kappa")},
        "macro_f1_low": low,
        "macro_f1_high": high,
        "macro_f1_learnable_low": learnable_low,
        "macro_f1_learnable_high": learnable_high,
        "quantity_disagreement": scores["quantity_disagreement"],
        "allocation_disagreement": scores["allocation_disagreement"],
        "domain_shift": transfer.get("domain_shift"),
        "not_learnable": " ".join(transfer["not_learnable"]),
        "adapted_batch_norm": bool(transfer.get("adapted_batch_norm", False)) if model != SUMMARY else None,
    }


def _baseline_row(held_out: str, experiment: str, metrics: dict, transfer: dict) -> dict[str, Any]:
    baseline = metrics["baseline"]
    return {
        "held_out": held_out,
        "model": BASELINE,
        "experiment": experiment,
        "trained_on": _trained_on(transfer),
        "oa": baseline["oa"],
        "macro_f1": baseline["macro_f1"],
        "macro_f1_learnable": transfer["baseline_macro_f1_learnable"],
        "kappa": baseline["kappa"],
        "domain_shift": transfer.get("domain_shift"),
        "not_learnable": " ".join(transfer["not_learnable"]),
    }


def _trained_on(transfer: dict) -> str:
    """The training regions, space-separated (empty for an evaluation that did not record them)."""
    return " ".join(transfer.get("training_regions", []))


def _adapted_words(value: Any) -> str:
    """``adapted``, ``trained`` (the moments it trained with) or empty (the baseline; rows from before the switch)."""
    if value is None or pd.isna(value):
        return ""
    return "adapted" if str(value).lower() == "true" else "trained"


def _text(value: Any) -> str:
    """A text cell: empty for a missing value (a row written before the column existed)."""
    return value if isinstance(value, str) else ""


def _markdown(table: pd.DataFrame, per_class: pd.DataFrame) -> str:
    def number(value: Any) -> str:
        return "" if value is None or pd.isna(value) else f"{float(value):.3f}"

    def interval(low: Any, high: Any) -> str:
        return "" if pd.isna(low) or pd.isna(high) else f" [{float(low):.2f}, {float(high):.2f}]"

    lines = [
        "# Leave-one-region-out",
        "",
        "Each row: trained on the other labelled regions (*trained on*), tested on every labelled pixel of the "
        "held-out one. "
        "Macro-F1 *learnable* averages the classes some training region holds; *all* averages every class "
        "present (not-learnable ones score 0). Intervals: 95 % block bootstrap. QD/AD: quantity and "
        "allocation disagreement. Shift: the held-out region's domain shift (0 = like the training pixels). "
        "BN: the network's batch-normalisation moments adapted to the held-out region (`loro.adapt_batch_norm`).",
        "",
        "| held out | model | experiment | trained on | OA | macro-F1 learnable | macro-F1 all | kappa | QD | AD | "
        "shift | not learnable | BN |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in table.itertuples():
        lines.append(
            f"| {row.held_out} | {row.model} | {row.experiment} | {_text(row.trained_on)} | {number(row.oa)} | "
            f"{number(row.macro_f1_learnable)}"
            f"{interval(row.macro_f1_learnable_low, row.macro_f1_learnable_high)} | {number(row.macro_f1)}"
            f"{interval(row.macro_f1_low, row.macro_f1_high)} | {number(row.kappa)} | "
            f"{number(row.quantity_disagreement)} | {number(row.allocation_disagreement)} | "
            f"{number(row.domain_shift)} | {_text(row.not_learnable)} | "
            f"{_adapted_words(row.adapted_batch_norm)} |"
        )
    if not per_class.empty:
        wide = per_class.pivot_table(
            index="class", columns=["held_out", "model", "experiment"], values="f1", aggfunc="first"
        )
        header = [f"{held_out}/{model}/{experiment}" for held_out, model, experiment in wide.columns]
        lines += ["", "## Per-class F1", "", "| class | " + " | ".join(header) + " |"]
        lines.append("|---" * (len(header) + 1) + "|")
        for name, values in wide.iterrows():
            lines.append(f"| {name} | " + " | ".join(number(v) for v in values) + " |")
    return "\n".join(lines) + "\n"


def _draw(table: pd.DataFrame, destination: Path) -> Path:
    import matplotlib.pyplot as plt

    table = table.assign(run=table["model"] + " (" + table["experiment"] + ")")
    regions = list(dict.fromkeys(table["held_out"]))
    models = list(dict.fromkeys(table["run"]))
    width = 0.8 / max(len(models), 1)
    figure, ax = plt.subplots(figsize=(1.8 + 1.6 * len(regions), 3.6))
    for k, model in enumerate(models):
        rows = table[table["run"] == model].set_index("held_out").reindex(regions)
        values = rows["macro_f1_learnable"].to_numpy(dtype=float)
        low = values - rows["macro_f1_learnable_low"].to_numpy(dtype=float)
        high = rows["macro_f1_learnable_high"].to_numpy(dtype=float) - values
        errors = np.nan_to_num(np.vstack([low, high]))
        ax.bar(np.arange(len(regions)) + k * width, values, width, yerr=errors, capsize=3, label=model)
    ax.set_xticks(np.arange(len(regions)) + width * (len(models) - 1) / 2, regions)
    ax.set_ylim(0, 1)
    ax.set_ylabel("macro-F1 (learnable classes)")
    ax.set_title("Leave-one-region-out: each region held out of training, tested whole", fontsize=9)
    ax.legend(fontsize=8)
    return save_figure(figure, destination, dpi=110, bbox_inches="tight")
