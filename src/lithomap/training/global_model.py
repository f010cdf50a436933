"""The global model: one per architecture, trained on every labelled region, for maps of regions without labels.

``lithomap train-global`` trains on the train/val blocks of every labelled region pooled,
by the leave-one-region-out training path (``leave_one_out.train_pooled``: each region
normalised by its own statistics, class weights from the pooled counts) into
``models/global/<arch>-<experiment>/``, logs an MLflow run (experiment ``lithomap-global``)
and registers a version of ``lithomap-global-<arch>`` as the challenger.

A model trained on every region has no unseen region left to be tested on, so its
expected accuracy on a new region is the leave-one-region-out score of the same training
(``reports/loro/loro.csv``, ``lithomap loro``): the mean macro-F1 over learnable classes
of the held-out runs and the span of their intervals. That is tagged on the version,
and the gate (``registry.promotion.promote_global``) decides on it. The score speaks for
the model only if the leave-one-region-out models were trained with the same settings,
so the two trainings' settings are compared. Without a table the command refuses before
training.

The global model maps regions it never saw, so it is a transfer model
(``lithomap.models.transfer``): with ``loro.summary_blend`` > 0 and an experiment with the
thermal summaries, a summary model is fitted on every labelled pixel of its regions (the
networks' class weights, ``evaluate.baseline_pixels``), saved beside the network
(``summary_model.joblib``) and carried by the registered pyfunc, and the expected accuracy
is that of the table's ``<arch>+summary`` rows.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import keras
import pandas as pd

from lithomap.config import GLOBAL_MODEL, Params
from lithomap.datasets.features import Architecture
from lithomap.datasets.manifest import load_manifest
from lithomap.datasets.scene import CubeChannels
from lithomap.errors import ConfigError
from lithomap.models.baseline import SUMMARY
from lithomap.models.normalisation import load_stats
from lithomap.models.shift import REFERENCE_FILE, load_reference
from lithomap.models.transfer import SUMMARY_MODEL_FILE, SummaryModel
from lithomap.training.evaluate import fit_baselines
from lithomap.training.fit import (
    CURVES_FILE,
    HISTORY_FILE,
    MODEL_FILE,
    STATS_FILE,
    SUMMARY_FILE,
    TrainResult,
    changed_settings,
    dataset_dir,
    read_training_record,
)
from lithomap.training.leave_one_out import (
    labelled_pixels,
    labelled_regions,
    leave_one_out_dir,
    pooled_dir,
    pooled_weights,
    train_pooled,
)
from lithomap.training.loro_table import TABLE_CSV, transfer_expectation
from lithomap.training.reports import history_columns

log = logging.getLogger(__name__)


@dataclass
class GlobalResult:
    """What one ``train_global`` produced."""

    train: TrainResult
    regions: list[str]
    skipped: list[str]
    version: str
    decision: dict[str, Any]

    def summary(self) -> str:
        decision = self.decision
        low, high = decision["candidate_interval"]
        skipped = f"; left out (no labels): {', '.join(self.skipped)}" if self.skipped else ""
        verdict = "promoted to champion" if decision["promoted"] else "not promoted"
        return (
            f"{decision['model']} v{self.version} (trained on {', '.join(self.regions)}{skipped})\n"
            f"  {self.train.summary()}\n"
            f"  expected macro-F1 on a new region (leave-one-region-out, held out: {', '.join(decision['held_out'])}): "
            f"{decision['candidate_macro_f1']:.3f} [{low:.3f}, {high:.3f}]\n"
            f"  gate: {verdict} — {decision['reason']}"
        )


def train_global(
    arch: Architecture,
    experiment: str,
    params: Params,
    *,
    verbose: int = 2,
    say: Callable[[str], None] = log.info,
) -> GlobalResult:
    """Train, register and gate the global model of ``arch`` on ``experiment`` (see the module docstring).

    Raises:
        LithomapError: no leave-one-region-out table for (arch, experiment) (before any
            training); no labelled region; a labelled region without its dataset.
    """
    from lithomap.registry.promotion import no_loro_table, promote_global_model
    from lithomap.registry.publish import publish_global

    table = params.loro.reports_dir / TABLE_CSV
    blended = params.loro.summary_blend > 0 and params.experiment(experiment).summaries
    expected = transfer_expectation(params.loro.reports_dir, arch, experiment, blended=blended)
    if expected is None:
        raise no_loro_table(arch, experiment, table, blended=blended)
    regions = labelled_regions(params)
    if not regions:
        raise ConfigError("params.yaml has no labelled region: the global model needs at least one to train on")
    skipped = [region for region in params.regions if region not in regions]
    left_out = f"; left out (no labels): {', '.join(skipped)}" if skipped else ""
    say(f"global {arch}/{experiment}: training on {', '.join(regions)}{left_out}")
    result = train_pooled(GLOBAL_MODEL, regions, arch, experiment, params, verbose)
    trained = pooled_dir(GLOBAL_MODEL, arch, experiment, params)
    weights = pooled_weights(GLOBAL_MODEL, regions, experiment, params)
    summary = fit_summary_model(regions, experiment, params, weights) if blended else None
    if summary is not None:
        summary.save(trained / SUMMARY_MODEL_FILE)
        say(f"global {arch}/{experiment}: summary model fitted, maps blend it at weight {summary.weight}")
    dataset = dataset_dir(params.preprocess, regions[0], experiment)
    reference = load_reference(trained / REFERENCE_FILE)
    version = publish_global(
        arch=arch,
        regions=regions,
        record=read_training_record(trained),
        manifest=load_manifest(dataset),
        dataset=dataset,
        curves=trained / CURVES_FILE,
        model=keras.models.load_model(trained / MODEL_FILE, compile=False),
        stats=load_stats(trained / STATS_FILE),
        history=history_columns(pd.read_csv(trained / HISTORY_FILE)),
        expected=expected,
        artifact_root=params.tracking.artifact_root,
        shift_reference=reference.to_dict() if reference is not None else None,
        summary_model=summary,
    )
    differ = loro_settings_differ(expected["held_out"], arch, experiment, params, result.settings)
    decision = promote_global_model(
        arch, experiment, expected, params.promote, table, settings_differ=differ, version=version
    )
    return GlobalResult(result, regions, skipped, version, decision)


def fit_summary_model(
    regions: Sequence[str], experiment: str, params: Params, weights: Sequence[float]
) -> SummaryModel:
    """The transfer model's summary model, fitted on every labelled pixel of ``regions`` (as ``lithomap loro`` does)."""
    training = labelled_pixels(regions, experiment, params, "train-global")
    baseline = fit_baselines(training, weights, params, (SUMMARY,))[SUMMARY]
    names = CubeChannels.from_manifest(*training[0][:2]).static_names
    return SummaryModel(baseline, list(names), params.loro.summary_blend)


def loro_settings_differ(
    held_outs: Sequence[str], arch: Architecture, experiment: str, params: Params, settings: dict
) -> list[str] | None:
    """Training settings in which a pooled model differs from the leave-one-region-out models of ``held_outs``.

    The datasets and the class weights differ by construction (another pool of regions)
    and are not compared.

    Returns:
        ``"<held-out region>: <key>: <theirs> → <ours>"`` per difference; None when no
        leave-one-region-out model folder is there to compare with.
    """
    differences: list[str] = []
    compared = 0
    for held_out in held_outs:
        trained = leave_one_out_dir(held_out, arch, experiment, params)
        if not (trained / SUMMARY_FILE).is_file():
            continue
        compared += 1
        theirs = _comparable(read_training_record(trained)["settings"])
        differences += [f"{held_out}: {change}" for change in changed_settings(theirs, _comparable(settings))]
    return differences if compared else None


def _comparable(settings: dict) -> dict:
    """Training settings without what depends on the pool of regions (datasets, class weights)."""
    plain = json.loads(json.dumps(settings, default=str))
    kept = {key: value for key, value in plain.items() if key != "datasets"}
    kept["loss"] = {key: value for key, value in plain.get("loss", {}).items() if key != "weights"}
    return kept
