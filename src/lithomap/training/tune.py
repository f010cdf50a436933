"""Optuna hyper-parameter search for one region × model × experiment, on the training path.

One study per (region, model, experiment), named ``<region>-<model>-<experiment>``, is
resumable: a second ``lithomap tune`` loads it and adds trials. A trial suggests values
from ``tune.space`` (:func:`suggest`), builds and compiles the model exactly as training
does (:func:`build_model`, through ``fit.compile_model``), and fits it on the experiment's
tf.data datasets for ``tune.epochs`` epochs (:func:`objective`), reporting the validation
metric that training monitors after every epoch so the median pruner can stop it. The
Keras session is cleared around each trial. A trial whose loss turns NaN or that runs out
of memory is recorded as failed and the study goes on.

Storage: ``$LITHOMAP_OPTUNA_STORAGE``, ``tune.storage`` or SQLite (``sqlite:///optuna.db``)
for one process. SQLite is not safe for several writers, so ``workers > 1`` on SQLite uses
Optuna's journal file storage (``tune.journal_file``); across machines use a PostgreSQL URL.

Every finished trial becomes an MLflow run nested under the study's parent run (its id is
kept in the study's user attributes, so workers and later sessions share it), with the
trial's values as params, the per-epoch history as metrics and its final state. The best
values go to ``<tune.reports_dir>/<study>.json`` (read by training when ``tune.enabled``),
the optimisation history and parameter importances beside it as PNGs.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import keras
import optuna
from optuna.storages import BaseStorage
from optuna.storages.journal import JournalFileBackend, JournalStorage
from optuna.trial import FrozenTrial, TrialState

from lithomap.atomic import save_figure, write_json
from lithomap.config import Params, TuneParams, TuneSpace
from lithomap.datasets.manifest import load_manifest
from lithomap.datasets.tfdata import input_spec, make_dataset
from lithomap.errors import ConfigError, LithomapError
from lithomap.training.fit import Architecture, class_weights, compile_model, dataset_dir
from lithomap.training.tuned import study_name, tuning_report_path, with_hyperparameters

log = logging.getLogger(__name__)
STORAGE_ENV = "LITHOMAP_OPTUNA_STORAGE"
DEFAULT_STORAGE = "sqlite:///optuna.db"
PARENT_RUN_ATTR = "mlflow_parent_run_id"
STATES = ("COMPLETE", "PRUNED", "FAIL")


class TrialDivergedError(LithomapError, FloatingPointError):
    """A trial's training loss became NaN or infinite (recorded as a failed trial)."""


def _crash_types() -> tuple[type[Exception], ...]:
    """Exceptions that fail one trial without stopping the study: divergence and out-of-memory."""
    import tensorflow as tf

    return (TrialDivergedError, MemoryError, tf.errors.ResourceExhaustedError)


@dataclass(frozen=True)
class TuningData:
    """What every trial of one process reads: the dataset folder, its input shapes and class weights."""

    region: str
    arch: Architecture
    experiment: str
    folder: Path
    spec: dict[str, tuple[int, ...]]
    weights: list[float]

    @classmethod
    def load(cls, params: Params, region: str, arch: Architecture, experiment: str) -> TuningData:
        """Read the experiment's manifest once (the shards are streamed per trial)."""
        folder = dataset_dir(params.preprocess, region, experiment)
        manifest = load_manifest(folder)
        weights = class_weights(params.loss, region, manifest.class_pixels["train"])
        return cls(region, arch, experiment, folder, input_spec(manifest, arch), weights)


@dataclass
class TuneResult:
    """What one ``lithomap tune`` left in the study and on disk."""

    study: str
    storage: str
    trials_added: int
    states: dict[str, int]
    best_value: float | None
    best_params: dict[str, Any] | None
    report: Path
    figures: list[Path] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        counts = ", ".join(f"{n} {state.lower()}" for state, n in self.states.items() if n)
        best = f"best {self.best_value:.3f} {self.best_params}" if self.best_params else "no complete trial yet"
        return (
            f"study {self.study}: {self.trials_added} trials added in {self.seconds:.0f} s "
            f"({sum(self.states.values())} in all: {counts}); {best}; {self.report}"
        )


def resolve_storage(tune: TuneParams, workers: int = 1, override: str | None = None) -> str:
    """The storage spec to use: ``override``, ``$LITHOMAP_OPTUNA_STORAGE``, ``tune.storage`` or the default.

    A spec with ``://`` is an RDB URL, anything else a journal file path. SQLite is the
    default for one worker; with several it is swapped for ``tune.journal_file`` (logged).
    """
    spec = override or os.environ.get(STORAGE_ENV) or tune.storage or DEFAULT_STORAGE
    if workers > 1 and spec.startswith("sqlite"):
        log.warning(
            "SQLite is not safe for %d worker processes; this study runs in the journal file %s "
            "(set tune.storage to that file to keep using it with one worker too)",
            workers,
            tune.journal_file,
        )
        return str(tune.journal_file)
    return spec


def open_storage(spec: str) -> str | BaseStorage:
    """An RDB URL as it is, or a journal file path as Optuna's file-backed ``JournalStorage``."""
    if "://" in spec:
        return spec
    path = Path(spec)
    path.parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(str(path)))


def display_storage(spec: str) -> str:
    """The storage spec with any password hidden (for logs, reports and MLflow tags)."""
    if "://" not in spec:
        return f"journal:{spec}"
    from sqlalchemy.engine import make_url

    return make_url(spec).render_as_string(hide_password=True)


def direction(params: Params) -> Literal["maximize", "minimize"]:
    """``maximize`` for validation macro-F1, ``minimize`` for validation loss (as training monitors)."""
    return "maximize" if params.training().monitor == "val_macro_f1" else "minimize"


def open_study(params: Params, region: str, arch: str, experiment: str, storage: str, worker: int = 0) -> optuna.Study:
    """Create or load the study with a seeded TPE sampler (seed + worker) and the median pruner."""
    tune = params.tune
    return optuna.create_study(
        storage=open_storage(storage),
        study_name=study_name(region, arch, experiment),
        direction=direction(params),
        load_if_exists=True,
        sampler=optuna.samplers.TPESampler(seed=tune.seed + worker),
        pruner=optuna.pruners.MedianPruner(
            n_startup_trials=tune.pruner_startup_trials, n_warmup_steps=tune.pruner_warmup_epochs
        ),
    )


def suggest(trial: optuna.Trial, space: TuneSpace, arch: str) -> dict[str, Any]:
    """The trial's values from the search space (``lstm_filters`` only for the ConvLSTM)."""
    values: dict[str, Any] = {
        "learning_rate": trial.suggest_float("learning_rate", *space.learning_rate, log=True),
        "l2": trial.suggest_float("l2", *space.l2, log=True),
        "batch_size": trial.suggest_categorical("batch_size", space.batch_size),
        "base_filters": trial.suggest_categorical("base_filters", space.base_filters),
        "dropout": trial.suggest_float("dropout", *space.dropout),
        "focal_gamma": trial.suggest_float("focal_gamma", *space.focal_gamma),
    }
    if arch == "convlstm":
        values["lstm_filters"] = trial.suggest_categorical("lstm_filters", space.lstm_filters)
    return values


def build_model(trial: optuna.Trial, data: TuningData, params: Params) -> tuple[keras.Model, Params]:
    """The compiled model of one trial and the configuration it was built from."""
    trial_params = with_hyperparameters(params, data.arch, suggest(trial, params.tune.space, data.arch))
    model = compile_model(
        data.arch, data.spec, trial_params.training(), trial_params.model, trial_params.loss, data.weights
    )
    return model, trial_params


class TrialReporter(keras.callbacks.Callback):
    """Reports the monitored validation metric to Optuna each epoch and prunes; stops on a NaN loss.

    The per-epoch history is stored as the trial's ``history`` user attribute, so the MLflow
    run of a pruned trial still has its curves.
    """

    def __init__(self, trial: optuna.Trial, monitor: str) -> None:
        super().__init__()
        self.trial = trial
        self.monitor = monitor
        self.history: dict[str, list[float]] = {}

    def on_train_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        loss = float((logs or {}).get("loss", 0.0))
        if not math.isfinite(loss):
            raise TrialDivergedError(f"trial {self.trial.number}: training loss became {loss} at batch {batch}")

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        logs = dict(logs or {})
        for key, value in logs.items():
            self.history.setdefault(key, []).append(float(value))
        self.trial.set_user_attr("history", self.history)
        if self.monitor not in logs:
            raise ConfigError(f"train.monitor {self.monitor!r} is not among the logged values {sorted(logs)}")
        value = float(logs[self.monitor])
        if not math.isfinite(value):
            raise TrialDivergedError(f"trial {self.trial.number}: {self.monitor} became {value} at epoch {epoch}")
        self.trial.report(value, epoch)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"{self.monitor} {value:.4f} at epoch {epoch} is below the median")


def objective(trial: optuna.Trial, data: TuningData, params: Params) -> float:
    """Fit one trial's model for ``tune.epochs`` epochs; its best monitored validation value."""
    settings = params.training()
    keras.backend.clear_session()
    keras.utils.set_random_seed(params.tune.seed + trial.number)
    try:
        model, trial_params = build_model(trial, data, params)
        batch = trial_params.training().active().batch_size
        seed = params.tune.seed + trial.number
        train_data = make_dataset(
            [data.folder],
            "train",
            data.arch,
            batch,
            shuffle=True,
            seed=seed,
            augment=settings.augment,
            climate=settings.climate_augment,
        )
        val_data = make_dataset([data.folder], "val", data.arch, batch)
        reporter = TrialReporter(trial, settings.monitor)
        model.fit(train_data, validation_data=val_data, epochs=params.tune.epochs, callbacks=[reporter], verbose=0)
    except _crash_types() as exc:
        trial.set_user_attr("fail_reason", f"{type(exc).__name__}: {exc}"[:1000])
        raise
    finally:
        keras.backend.clear_session()
    values = reporter.history[settings.monitor]
    return max(values) if direction(params) == "maximize" else min(values)


class MlflowTrialLogger:
    """Study callback: each finished trial as an MLflow run nested under the study's parent run."""

    def __init__(self, parent_run_id: str, experiment_id: str, tags: Mapping[str, str]) -> None:
        self.parent_run_id = parent_run_id
        self.experiment_id = experiment_id
        self.tags = dict(tags)

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        from mlflow import MlflowClient
        from mlflow.entities import Metric, Param

        client = MlflowClient()
        tags = self.tags | {
            "mlflow.parentRunId": self.parent_run_id,
            "optuna.study": study.study_name,
            "optuna.trial_number": str(trial.number),
            "optuna.state": trial.state.name,
        }
        if "fail_reason" in trial.user_attrs:
            tags["optuna.fail_reason"] = str(trial.user_attrs["fail_reason"])
        run = client.create_run(self.experiment_id, run_name=f"trial-{trial.number:04d}", tags=tags)
        stamp = int(time.time() * 1000)
        metrics = [
            Metric(key, value, stamp, step)
            for key, series in trial.user_attrs.get("history", {}).items()
            for step, value in enumerate(series)
            if math.isfinite(value)
        ]
        if trial.value is not None:
            metrics.append(Metric("objective", float(trial.value), stamp, 0))
        params = [Param(key, str(value)) for key, value in trial.params.items()]
        client.log_batch(run.info.run_id, metrics=metrics, params=params)
        status = {"COMPLETE": "FINISHED", "PRUNED": "KILLED"}.get(trial.state.name, "FAILED")
        client.set_terminated(run.info.run_id, status=status)


def parent_run(study: optuna.Study, params: Params, data: TuningData, storage: str) -> tuple[str, str]:
    """(run id, experiment id) of the study's MLflow parent run, created on the study's first session."""
    from mlflow import MlflowClient

    from lithomap.registry.tracking import ensure_experiment, experiment_name

    experiment_id = ensure_experiment(experiment_name(data.region), params.tracking.artifact_root)
    existing = study.user_attrs.get(PARENT_RUN_ATTR)
    if existing:
        return str(existing), experiment_id
    run = MlflowClient().create_run(
        experiment_id,
        run_name=f"tune-{study.study_name}",
        tags=_tags(data) | {"optuna.study": study.study_name, "optuna.storage": display_storage(storage)},
    )
    study.set_user_attr(PARENT_RUN_ATTR, run.info.run_id)
    return run.info.run_id, experiment_id


def _tags(data: TuningData) -> dict[str, str]:
    return {"lithomap.region": data.region, "lithomap.arch": data.arch, "lithomap.experiment": data.experiment}


def run_worker(
    params: Params, region: str, arch: Architecture, experiment: str, storage: str, trials: int, worker: int
) -> None:
    """Add ``trials`` trials to the study from this process (the body of every worker)."""
    from lithomap.registry.tracking import configure_tracking

    configure_tracking()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    data = TuningData.load(params, region, arch, experiment)
    study = open_study(params, region, arch, experiment, storage, worker=worker)
    parent_id, experiment_id = parent_run(study, params, data, storage)
    study.optimize(
        lambda trial: objective(trial, data, params),
        n_trials=trials,
        catch=_crash_types(),
        callbacks=[MlflowTrialLogger(parent_id, experiment_id, _tags(data))],
        gc_after_trial=True,
    )


def split_trials(trials: int, workers: int) -> list[int]:
    """Trials per worker, summing to ``trials`` (the first ones take the remainder)."""
    return [trials // workers + (1 if k < trials % workers else 0) for k in range(workers)]


def tune(
    region: str,
    arch: Architecture,
    experiment: str,
    params: Params,
    trials: int | None = None,
    workers: int = 1,
    storage: str | None = None,
) -> TuneResult:
    """Add trials to the study of one region × model × experiment and write its report and pictures.

    Args:
        region: region name in params.yaml.
        arch: ``cnn`` or ``convlstm``.
        experiment: experiment name in params.yaml (its dataset must be preprocessed).
        params: the configuration (``tune`` section: space, epochs, pruner, storage).
        trials: trials to add; None = ``tune.trials``.
        workers: processes sharing the study (each its own TensorFlow); 1 runs in this process.
        storage: storage spec overriding ``$LITHOMAP_OPTUNA_STORAGE`` and ``tune.storage``.

    Returns:
        What the study holds now and where the report went.
    """
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1, not {workers}")
    total = params.tune.trials if trials is None else trials
    if total < 1:
        raise ConfigError(f"--trials must be at least 1, not {total}")
    spec = resolve_storage(params.tune, workers, storage)
    from lithomap.registry.tracking import configure_tracking

    configure_tracking()
    data = TuningData.load(params, region, arch, experiment)
    study = open_study(params, region, arch, experiment, spec)
    before = len(study.trials)
    parent_id, _ = parent_run(study, params, data, spec)
    started = time.perf_counter()
    if workers == 1:
        run_worker(params, region, arch, experiment, spec, total, worker=0)
    else:
        _run_workers(params, region, arch, experiment, spec, split_trials(total, workers))
    seconds = time.perf_counter() - started
    study = open_study(params, region, arch, experiment, spec)
    result = _write_report(study, params, data, spec, before, seconds)
    _close_parent(parent_id, result)
    return result


def _run_workers(
    params: Params, region: str, arch: Architecture, experiment: str, storage: str, shares: list[int]
) -> None:
    """Run one spawned process per share (fork is unsafe once TensorFlow has started)."""
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(
            target=run_worker,
            args=(params, region, arch, experiment, storage, share, worker),
            name=f"lithomap-tune-{worker}",
        )
        for worker, share in enumerate(shares)
        if share
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    failed = [f"{p.name} (exit code {p.exitcode})" for p in processes if p.exitcode != 0]
    if failed:
        raise LithomapError(
            f"tuning worker(s) {', '.join(failed)} stopped with an error; the study keeps every trial they "
            "finished. Fix: read the worker's traceback above and run `lithomap tune` again to add trials."
        )


def _write_report(
    study: optuna.Study, params: Params, data: TuningData, storage: str, before: int, seconds: float
) -> TuneResult:
    trials = study.get_trials(deepcopy=False)
    states = {state: sum(t.state.name == state for t in trials) for state in STATES}
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    best = study.best_trial if complete else None
    path = tuning_report_path(params, data.region, data.arch, data.experiment)
    figures = _plot(study, path.with_suffix(""), len(complete))
    shown_storage = display_storage(storage)
    best_value = best.value if best else None
    best_params = best.params if best else None
    payload = {
        "study": study.study_name,
        "enabled": params.tune.enabled,
        "storage": shown_storage,
        "direction": direction(params),
        "monitor": params.training().monitor,
        "epochs_per_trial": params.tune.epochs,
        "trials": len(trials),
        "states": states,
        "best_trial": best.number if best else None,
        "best_value": best_value,
        "best_params": best_params,
        "status": "ok" if best else "no complete trial",
        "space": params.tune.space.model_dump(mode="json"),
        "seconds_this_session": round(seconds, 1),
    }
    write_json(path, payload)
    return TuneResult(
        study=study.study_name,
        storage=shown_storage,
        trials_added=len(trials) - before,
        states=states,
        best_value=best_value,
        best_params=best_params,
        report=path,
        figures=figures,
        seconds=seconds,
    )


def write_disabled_report(params: Params, region: str, arch: str, experiment: str) -> Path:
    """The record the DVC stage leaves when ``tune.enabled`` is false (training then ignores tuning)."""
    path = tuning_report_path(params, region, arch, experiment)
    payload = {
        "study": study_name(region, arch, experiment),
        "enabled": False,
        "best_params": None,
        "status": "tuning disabled (tune.enabled: false)",
    }
    return write_json(path, payload)


def _plot(study: optuna.Study, stem: Path, complete: int) -> list[Path]:
    """Optimisation history and (with two complete trials or more) parameter importances as PNGs."""
    from optuna.visualization import matplotlib as optuna_plots

    figures = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        axes = optuna_plots.plot_optimization_history(study)
        figures.append(save_figure(axes.figure, stem.with_name(f"{stem.name}-history.png"), bbox_inches="tight"))
        if complete >= 2:
            try:
                axes = optuna_plots.plot_param_importances(study)
            except (RuntimeError, ValueError) as exc:
                log.warning("no parameter importances for %s: %s", study.study_name, exc)
            else:
                path = stem.with_name(f"{stem.name}-importances.png")
                figures.append(save_figure(axes.figure, path, bbox_inches="tight"))
    return figures


def _close_parent(run_id: str, result: TuneResult) -> None:
    """Best value and trial counts on the parent run, which ends FINISHED after each session."""
    from mlflow import MlflowClient

    client = MlflowClient()
    metrics = {f"trials_{state.lower()}": float(n) for state, n in result.states.items()}
    if result.best_value is not None:
        metrics["best_value"] = float(result.best_value)
    for key, value in metrics.items():
        client.log_metric(run_id, key, value, step=sum(result.states.values()))
    for key, value in (result.best_params or {}).items():
        client.set_tag(run_id, f"best.{key}", str(value))
    client.set_terminated(run_id, status="FINISHED")
