"""Optuna tuning on a tiny region: pruning, failed trials, resuming, workers sharing one study."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import mlflow
import optuna
import pytest
import yaml
from optuna.trial import TrialState
from typer.testing import CliRunner

from lithomap.cli import app
from lithomap.config import parse_params
from lithomap.datasets.preprocess import preprocess_experiment, split_region
from lithomap.errors import ConfigError
from lithomap.training.tune import open_study, split_trials, tune
from lithomap.training.tuned import tuned_params, tuning_report_path, with_hyperparameters
from tests.conftest import tiny_params_dict

EPOCHS = 3
GOOD = {"learning_rate": 5e-3, "l2": 1e-4, "dropout": 0.0, "focal_gamma": 2.0}
STALLED = {"learning_rate": 1e-9, "l2": 1e-4, "dropout": 0.0, "focal_gamma": 2.0}


def tiny_tune_dict(root: Path, region_root: Path) -> dict:
    """Tiny params whose datasets, reports and studies live under ``root``; 3-epoch trials."""
    raw = tiny_params_dict(region_root)
    raw["preprocess"].update(processed_dir=str(root / "processed"), reports_dir=str(root / "reports" / "datasets"))
    raw["train"]["models_dir"] = str(root / "models")
    raw["tracking"]["artifact_root"] = str(root / "mlartifacts")
    raw["model"]["cnn"] = {"base_filters": 4, "depth": 2}
    raw["tune"] = {
        "trials": 2,
        "epochs": EPOCHS,
        "reports_dir": str(root / "reports" / "tuning"),
        "journal_file": str(root / "optuna-journal.log"),
        "pruner_startup_trials": 1,
        "pruner_warmup_epochs": 0,
        "space": {
            "learning_rate": [1e-3, 1e-2],
            "batch_size": [8],
            "base_filters": [4],
            "lstm_filters": [4],
        },
    }
    return raw


@pytest.fixture(scope="module")
def tuning(tiny_region, tmp_path_factory):
    """(raw params dict, root): the tiny region's thermal dataset and an MLflow SQLite store of this module."""
    _, region_root = tiny_region
    root = tmp_path_factory.mktemp("tune")
    raw = tiny_tune_dict(root, region_root)
    params = parse_params(raw)
    region = params.region("tiny")
    split_region("tiny", region, params.ingest, params.preprocess)
    preprocess_experiment("tiny", region, params.ingest, params.preprocess, "thermal", params.experiment("thermal"))
    monkey = pytest.MonkeyPatch()
    monkey.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
    monkey.delenv("LITHOMAP_OPTUNA_STORAGE", raising=False)
    yield raw, root
    monkey.undo()


def nested_runs(parent_run_id: str) -> list:
    return mlflow.MlflowClient().search_runs(
        [mlflow.get_experiment_by_name("lithomap-tiny").experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent_run_id}'",
    )


@pytest.mark.slow  # 70 s on 2 cores; the default suite stays under 10 min
def test_a_stalled_trial_is_pruned_and_every_trial_is_a_nested_mlflow_run(tuning):
    raw, root = tuning
    raw = json.loads(json.dumps(raw))
    raw["tune"]["space"]["learning_rate"] = [1e-9, 1e-2]
    params = parse_params(raw)
    storage = f"sqlite:///{root / 'pruning.db'}"
    study = open_study(params, "tiny", "cnn", "thermal", storage)
    for values in (GOOD, STALLED, STALLED):
        study.enqueue_trial(values)

    result = tune("tiny", "cnn", "thermal", params, trials=3, storage=storage)

    trials = open_study(params, "tiny", "cnn", "thermal", storage).trials
    states = [t.state for t in trials]
    assert states[0] == TrialState.COMPLETE, states
    pruned = [t for t in trials if t.state == TrialState.PRUNED]
    assert pruned, f"a stalled trial (lr 1e-9) must be pruned against the learning one: {states}"
    assert all(len(t.intermediate_values) < EPOCHS for t in pruned)
    assert result.states == {"COMPLETE": 3 - len(pruned), "PRUNED": len(pruned), "FAIL": 0}

    report = json.loads(tuning_report_path(params, "tiny", "cnn", "thermal").read_text())
    assert report["best_params"]["learning_rate"] == GOOD["learning_rate"] and report["best_trial"] == 0
    assert report["states"]["PRUNED"] == len(pruned) and report["trials"] == 3
    assert result.figures[0].name == "tiny-cnn-thermal-history.png" and result.figures[0].stat().st_size > 5_000

    client = mlflow.MlflowClient()
    parent = study.user_attrs["mlflow_parent_run_id"]
    runs = {int(r.data.tags["optuna.trial_number"]): r for r in nested_runs(parent)}
    assert sorted(runs) == [0, 1, 2]
    assert runs[0].info.status == "FINISHED" and runs[0].data.params["learning_rate"] == str(GOOD["learning_rate"])
    assert len(client.get_metric_history(runs[0].info.run_id, "val_macro_f1")) == EPOCHS
    for trial in pruned:
        assert runs[trial.number].info.status == "KILLED" and runs[trial.number].data.tags["optuna.state"] == "PRUNED"
    assert client.get_run(parent).data.metrics["best_value"] == pytest.approx(report["best_value"])


@pytest.fixture
def diverging(tuning, tmp_path):
    """Params whose class weights (3e38) overflow float32: every trial's loss is infinite at its first batch."""
    raw, _ = tuning
    raw = json.loads(json.dumps(raw))
    raw["loss"]["class_weights"] = [3e38] * 14
    raw["tune"]["reports_dir"] = str(tmp_path / "tuning")
    return parse_params(raw), f"sqlite:///{tmp_path / 'diverging.db'}"


@pytest.mark.slow  # 39 s on 2 cores; the default suite stays under 10 min
def test_trials_whose_loss_diverges_are_recorded_as_failed_and_the_study_goes_on(diverging):
    params, storage = diverging
    result = tune("tiny", "cnn", "thermal", params, trials=2, storage=storage)
    assert result.states == {"COMPLETE": 0, "PRUNED": 0, "FAIL": 2} and result.best_params is None
    for trial in open_study(params, "tiny", "cnn", "thermal", storage).trials:
        assert "TrialDivergedError" in trial.user_attrs["fail_reason"], trial.user_attrs
    report = json.loads(tuning_report_path(params, "tiny", "cnn", "thermal").read_text())
    assert report["status"] == "no complete trial"
    enabled = params.model_copy(update={"tune": params.tune.model_copy(update={"enabled": True})})
    with pytest.raises(ConfigError, match="no best trial"):
        tuned_params(enabled, "tiny", "cnn", "thermal")


@pytest.mark.slow  # 51 s on 2 cores; the default suite stays under 10 min
def test_a_second_session_adds_trials_to_the_same_study(tuning):
    raw, root = tuning
    params = parse_params(raw)
    storage = f"sqlite:///{root / 'resume.db'}"
    first = tune("tiny", "cnn", "thermal", params, trials=1, storage=storage)
    second = tune("tiny", "cnn", "thermal", params, trials=1, storage=storage)
    assert (first.trials_added, second.trials_added) == (1, 1)
    study = open_study(params, "tiny", "cnn", "thermal", storage)
    assert [t.number for t in study.trials] == [0, 1]
    assert len(nested_runs(study.user_attrs["mlflow_parent_run_id"])) == 2


def assert_each_trial_once(params, storage: str, expected: int) -> None:
    study = open_study(params, "tiny", "cnn", "thermal", storage)
    trials = study.get_trials(deepcopy=False)
    assert sorted(t.number for t in trials) == list(range(expected))
    assert all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials), [t.state for t in trials]
    runs = nested_runs(study.user_attrs["mlflow_parent_run_id"])
    assert sorted(int(r.data.tags["optuna.trial_number"]) for r in runs) == list(range(expected))


def one_epoch_trials(raw: dict) -> dict:
    """Cheaper trials for the worker tests: what they check is the storage, not the training."""
    return raw | {"tune": raw["tune"] | {"epochs": 1}}


def test_two_worker_processes_on_a_journal_file_record_every_trial_once(tuning):
    raw, _ = tuning
    params = parse_params(one_epoch_trials(raw))
    result = tune("tiny", "cnn", "thermal", params, trials=4, workers=2)  # SQLite default -> the journal file
    assert result.storage == f"journal:{params.tune.journal_file}" and result.trials_added == 4
    assert_each_trial_once(params, str(params.tune.journal_file), 4)


def test_trials_split_over_workers_add_up():
    assert split_trials(5, 2) == [3, 2] and split_trials(1, 3) == [1, 0, 0] and sum(split_trials(20, 7)) == 20


def test_tuned_values_reach_training_only_when_enabled(tuning, tmp_path):
    raw, _ = tuning
    raw = json.loads(json.dumps(raw)) | {}
    raw["tune"] = raw["tune"] | {"reports_dir": str(tmp_path)}
    disabled = parse_params(raw)
    assert tuned_params(disabled, "tiny", "convlstm", "thermal") is disabled
    enabled = parse_params(raw | {"tune": raw["tune"] | {"enabled": True}})
    with pytest.raises(ConfigError, match="lithomap tune -r tiny -m convlstm -e thermal"):
        tuned_params(enabled, "tiny", "convlstm", "thermal")
    best = {"learning_rate": 3e-4, "l2": 0.05, "batch_size": 4, "base_filters": 16, "dropout": 0.2}
    best |= {"focal_gamma": 1.5, "lstm_filters": 32}
    path = tuning_report_path(enabled, "tiny", "convlstm", "thermal")
    path.write_text(json.dumps({"best_params": best}))
    tuned = tuned_params(enabled, "tiny", "convlstm", "thermal")
    preset = tuned.training().active()
    assert (preset.learning_rate["convlstm"], preset.l2, preset.batch_size) == (3e-4, 0.05, 4)
    assert preset.learning_rate["cnn"] == enabled.training().active().learning_rate["cnn"]
    shape = tuned.model.convlstm
    assert (shape.base_filters, shape.dropout, shape.lstm_filters, tuned.loss.gamma) == (16, 0.2, 32, 1.5)
    assert tuned.model.cnn == enabled.model.cnn
    with pytest.raises(ConfigError, match="unknown tuned value"):
        with_hyperparameters(enabled, "cnn", {"momentum": 0.9})


def test_the_dvc_stage_writes_a_disabled_record_without_tuning(tuning, tmp_path):
    raw, _ = tuning
    raw = json.loads(json.dumps(raw))
    raw["tune"]["reports_dir"] = str(tmp_path / "tuning")
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    result = CliRunner().invoke(
        app, ["tune", "-p", str(path), "-r", "tiny", "-m", "cnn", "-e", "thermal", "--if-enabled"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "tuning" / "tiny-cnn-thermal.json").read_text())
    assert report == {
        "study": "tiny-cnn-thermal",
        "enabled": False,
        "best_params": None,
        "status": "tuning disabled (tune.enabled: false)",
    }
    assert not list(tmp_path.glob("*.db")) and not (tmp_path / "optuna-journal.log").exists()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def postgres():
    """A throwaway PostgreSQL cluster on loopback in a temporary folder; its SQLAlchemy URL."""
    binaries = [
        shutil.which(name) or next(iter(sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))), None)
        for name in ("initdb", "pg_ctl")
    ]
    if not all(binaries):
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) are absent; `apt-get install -y postgresql` to run this")
    initdb, pg_ctl = binaries
    prefix: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root: run the cluster as an unprivileged user
        runuser = shutil.which("runuser")
        if runuser is None:
            pytest.skip("running as root without runuser: cannot start PostgreSQL as an unprivileged user")
        prefix = [runuser, "-u", "nobody", "--"]
    folder = Path(tempfile.mkdtemp(prefix="lithomap-pg-"))  # directly in /tmp: pytest's folders are root-only
    folder.chmod(0o777)
    data, port = folder / "pgdata", free_port()
    try:
        subprocess.run(
            [*prefix, initdb, "-D", str(data), "-U", "lithomap", "--auth=trust"], check=True, capture_output=True
        )
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {folder}"
        subprocess.run(
            [*prefix, pg_ctl, "-D", str(data), "-o", options, "-l", str(folder / "pg.log"), "-w", "start"],
            check=True,
            capture_output=True,
        )
        yield f"postgresql+psycopg2://lithomap@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*prefix, pg_ctl, "-D", str(data), "-m", "fast", "stop"], check=False, capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slow
def test_two_worker_processes_on_postgresql_record_every_trial_once(tuning, postgres):
    raw, _ = tuning
    params = parse_params(one_epoch_trials(raw))
    result = tune("tiny", "cnn", "thermal", params, trials=4, workers=2, storage=postgres)
    assert result.storage.startswith("postgresql+psycopg2://lithomap@127.0.0.1") and result.trials_added == 4
    assert_each_trial_once(params, postgres, 4)
    assert optuna.study.get_all_study_names(postgres) == ["tiny-cnn-thermal"]
