"""Tuned hyper-parameters: the file a study leaves behind and how training takes its values.

``lithomap tune`` writes ``<tune.reports_dir>/<region>-<model>-<experiment>.json`` (the best
trial's values, or a "disabled" record when the DVC stage runs with ``tune.enabled: false``).
When ``tune.enabled`` is true, training and evaluation read it through :func:`tuned_params`,
so a tuned value reaches the model, the MLflow run and the registry by the normal path.
This module imports neither Optuna nor TensorFlow: the train stage pays nothing for it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lithomap.config import Params
from lithomap.errors import ConfigError

HYPERPARAMETERS = ("learning_rate", "l2", "batch_size", "base_filters", "dropout", "focal_gamma", "lstm_filters")


def study_name(region: str, arch: str, experiment: str) -> str:
    """Name of the Optuna study (and stem of its report files) of one region × model × experiment."""
    return f"{region}-{arch}-{experiment}"


def tuning_report_path(params: Params, region: str, arch: str, experiment: str) -> Path:
    """Where the best values of a study are written (a DVC dependency of the train stage)."""
    return params.tune.reports_dir / f"{study_name(region, arch, experiment)}.json"


def with_hyperparameters(params: Params, arch: str, values: Mapping[str, Any]) -> Params:
    """A copy of ``params`` whose active preset, ``model.<arch>`` and ``loss`` carry ``values``.

    Args:
        params: the configuration to start from.
        arch: ``cnn`` or ``convlstm``; only that model's learning rate and shape change.
        values: any of :data:`HYPERPARAMETERS` (others raise ConfigError).

    Returns:
        The new frozen configuration; ``params`` itself is unchanged.
    """
    unknown = sorted(set(values) - set(HYPERPARAMETERS))
    if unknown:
        raise ConfigError(f"unknown tuned value(s) {unknown}; known: {', '.join(HYPERPARAMETERS)}")
    settings = params.training()
    preset = settings.active()
    preset_update: dict[str, Any] = {k: values[k] for k in ("l2", "batch_size") if k in values}
    if "learning_rate" in values:
        preset_update["learning_rate"] = {**preset.learning_rate, arch: float(values["learning_rate"])}
    shape = getattr(params.model, arch)
    shape_update = {k: values[k] for k in ("base_filters", "dropout", "lstm_filters") if k in values}
    loss_update = {"gamma": float(values["focal_gamma"])} if "focal_gamma" in values else {}
    presets = {**settings.presets, settings.preset: preset.model_copy(update=preset_update)}
    return params.model_copy(
        update={
            "train": settings.model_copy(update={"presets": presets}),
            "model": params.model.model_copy(update={arch: shape.model_copy(update=shape_update)}),
            "loss": params.loss.model_copy(update=loss_update),
        }
    )


def tuned_params(params: Params, region: str, arch: str, experiment: str) -> Params:
    """``params`` with the study's best values when ``tune.enabled`` is true, else ``params`` itself.

    Raises:
        ConfigError: tuning is enabled but the report is missing, disabled, or holds no best trial.
    """
    if not params.tune.enabled:
        return params
    path = tuning_report_path(params, region, arch, experiment)
    command = f"lithomap tune -r {region} -m {arch} -e {experiment}"
    if not path.is_file():
        raise ConfigError(f"{path}: tune.enabled is true but the study has no report. Fix: run `{command}`.")
    report = json.loads(path.read_text(encoding="utf-8"))
    if not report.get("best_params"):
        raise ConfigError(
            f"{path}: tune.enabled is true but the report holds no best trial "
            f"({report.get('status', 'no complete trial')}). Fix: run `{command}` (more trials) "
            "or set tune.enabled: false."
        )
    return with_hyperparameters(params, arch, report["best_params"])
