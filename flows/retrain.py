"""Prefect flow ``retrain``: the DVC pipeline's own stages, per region, regions in parallel.

The flow holds no pipeline logic. Stages, their commands and their order come from
dvc.yaml (``lithomap.orchestration.stages``); each stage is one task that asks DVC whether
it is up to date, runs the stage's own command if not, and records the outputs as
``dvc commit`` does (``lithomap.orchestration.workspace``). Afterwards the repository is as
``dvc repro`` leaves it: ``dvc status`` is clean and ``dvc push`` stores what was made.

Run it with ``lithomap retrain`` or ``python flows/retrain.py [region ...]``; serve it on
a schedule with ``lithomap serve``; ``prefect.yaml`` describes it for a work pool.
"""

import os
import subprocess
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.tasks import exponential_backoff

from lithomap.config import OrchestrationParams, Params, load_params
from lithomap.errors import ConfigError, PipelineError
from lithomap.orchestration.stages import SHARED, PipelineStage, discover_stages, stages_by_region
from lithomap.orchestration.summary import RegionOutcome, StageOutcome, read_decisions, run_summary
from lithomap.orchestration.workspace import StageStatus, commit_stage, remove_outputs, stage_status
from lithomap.registry.tracking import FLOW_RUN_ENV

OUTPUT_TAIL_LINES = 25
EPHEMERAL_STARTUP_S = 120  # Prefect's 20 s default is too short on a busy 2-core machine


@task(task_run_name="{stage.name}: dvc status", cache_policy=NO_CACHE)
def check_stage(root: Path, stage: PipelineStage, new_data_groups: tuple[str, ...]) -> StageStatus:
    """DVC's up-to-date check of one stage (against dvc.lock)."""
    return stage_status(root, stage.target, new_data_groups)


@task(task_run_name="{stage.name}", cache_policy=NO_CACHE)
def run_stage_command(root: Path, stage: PipelineStage, flow_run_id: str) -> float:
    """Run the stage's own dvc.yaml command (outputs removed first, as ``dvc repro`` does).

    Returns:
        Seconds the command took.

    Raises:
        PipelineError: the command exited non-zero (the message holds its last lines).
    """
    logger = get_run_logger()
    remove_outputs(root, stage.target)
    env = {
        **os.environ,
        FLOW_RUN_ENV: flow_run_id,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    logger.info("$ %s", stage.cmd)
    started = time.perf_counter()
    tail: deque[str] = deque(maxlen=OUTPUT_TAIL_LINES)
    with subprocess.Popen(
        stage.cmd, shell=True, cwd=stage.wdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        for line in process.stdout or ():
            tail.append(line.rstrip())
            logger.info(line.rstrip())
    if process.returncode != 0:
        raise PipelineError(
            f"stage {stage.name}: `{stage.cmd}` exited with code {process.returncode}; last output:\n" + "\n".join(tail)
        )
    return time.perf_counter() - started


@task(
    task_run_name="{stage.name}: dvc commit",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=exponential_backoff(backoff_factor=2),
)
def record_outputs(root: Path, stage: PipelineStage) -> None:
    """Hash and cache the stage's outputs and write its dvc.lock entry (``dvc commit``); retried on I/O errors."""
    commit_stage(root, stage.target)


def _failure(state: Any) -> str:
    """First line of a failed task's exception (its state message if none)."""
    error = state.result(raise_on_failure=False)
    if isinstance(error, BaseException):
        return str(error).splitlines()[0] if str(error) else type(error).__name__
    return state.message or "failed"


@task(task_run_name="region {region}", cache_policy=NO_CACHE)
def retrain_region(
    root: Path,
    region: str,
    stages: list[PipelineStage],
    settings: OrchestrationParams,
    flow_run_id: str,
) -> RegionOutcome:
    """Run one region's stages in order; stop at the first failure and say where."""
    outcome = RegionOutcome(region)
    groups = tuple(settings.new_data_stages)
    for index, stage in enumerate(stages):
        result = _run_one(root, stage, settings, groups, flow_run_id)
        outcome.stages.append(result)
        if result.status == "failed":
            outcome.stages += [StageOutcome(later.name, "not_run") for later in stages[index + 1 :]]
            break
    return outcome


def _run_one(
    root: Path, stage: PipelineStage, settings: OrchestrationParams, groups: tuple[str, ...], flow_run_id: str
) -> StageOutcome:
    status_state = check_stage(root, stage, groups, return_state=True)
    if status_state.is_failed():
        return StageOutcome(stage.name, "failed", _failure(status_state))
    status: StageStatus = status_state.result()
    if status.verdict == "up_to_date":
        return StageOutcome(stage.name, "up_to_date", status.reason)
    if status.verdict == "new_data":
        commit_state = record_outputs(root, stage, return_state=True)
        if commit_state.is_failed():
            return StageOutcome(stage.name, "failed", _failure(commit_state))
        return StageOutcome(
            stage.name, "new_data", f"{len(status.new_files)} new files", new_acquisitions=status.new_acquisitions
        )
    command = run_stage_command
    if stage.group in settings.retry_stages:
        command = run_stage_command.with_options(
            retries=settings.retries,
            retry_delay_seconds=exponential_backoff(backoff_factor=settings.retry_delay_s)
            if settings.retry_delay_s > 0
            else 0,
        )
    run_state = command(root, stage, flow_run_id, return_state=True)
    if run_state.is_failed():
        return StageOutcome(stage.name, "failed", _failure(run_state))
    commit_state = record_outputs(root, stage, return_state=True)
    if commit_state.is_failed():
        return StageOutcome(stage.name, "failed", _failure(commit_state))
    return StageOutcome(stage.name, "ran", seconds=run_state.result(), decisions=read_decisions(root, list(stage.outs)))


def task_runner(settings: OrchestrationParams, choice: str | None = None, max_workers: int | None = None):
    """The task runner regions run on: ``threads`` (default), ``sequential`` or ``dask``.

    Threads are enough on one machine: each stage's work happens in its own ``lithomap``
    process, the thread only waits for it.

    Raises:
        ConfigError: an unknown choice, or ``dask`` without prefect-dask installed.
    """
    name = choice or settings.task_runner
    workers = max_workers or settings.max_workers
    if name == "threads":
        return ThreadPoolTaskRunner(max_workers=workers)
    if name == "sequential":
        return ThreadPoolTaskRunner(max_workers=1)
    if name == "dask":
        try:
            from prefect_dask import DaskTaskRunner
        except ImportError as error:
            raise ConfigError(
                "orchestration.task_runner is 'dask' but prefect-dask is not installed. "
                "Fix: `pip install prefect-dask`, or use task_runner: threads."
            ) from error
        if settings.dask_address:
            return DaskTaskRunner(address=settings.dask_address)
        return DaskTaskRunner(cluster_kwargs={"n_workers": workers, "threads_per_worker": 1})
    raise ConfigError(f"task runner {name!r} unknown; use threads, sequential or dask")


@flow(name="regions")
def retrain_regions(
    root: Path,
    plan: dict[str, list[PipelineStage]],
    settings: OrchestrationParams,
    flow_run_id: str,
) -> list[RegionOutcome]:
    """Every region's stages at once on the task runner, then stages naming no region."""
    futures = [
        retrain_region.submit(root, region, stages, settings, flow_run_id)
        for region, stages in plan.items()
        if region != SHARED
    ]
    outcomes = [future.result() for future in futures]
    if SHARED in plan:
        if any(o.failed for o in outcomes):
            outcomes.append(RegionOutcome(SHARED, [StageOutcome(s.name, "not_run") for s in plan[SHARED]]))
        else:
            outcomes.append(retrain_region(root, SHARED, plan[SHARED], settings, flow_run_id))
    return outcomes


def _params(root: Path) -> Params:
    env = os.environ.get("LITHOMAP_PARAMS")
    return load_params(Path(env) if env else root / "params.yaml")


@flow(name="retrain")
def retrain(
    regions: list[str] | None = None,
    project_dir: str = ".",
    task_runner_name: str | None = None,
    max_workers: int | None = None,
) -> str:
    """Bring every region's pipeline up to date: rebuild what changed, train, evaluate, promote.

    Args:
        regions: regions to run (default: every region dvc.yaml names).
        project_dir: the repository root (dvc.yaml, params.yaml).
        task_runner_name: ``threads``, ``sequential`` or ``dask`` (default ``orchestration.task_runner``).
        max_workers: regions at once (default ``orchestration.max_workers``).

    Returns:
        The summary, one line per region.

    Raises:
        PipelineError: a region failed; the message names each failed region and stage.
    """
    logger = get_run_logger()
    root = Path(project_dir).resolve()
    params = _params(root)
    settings = params.orchestration
    plan = stages_by_region(discover_stages(root), regions)
    flow_run_id = str(flow_run.get_id())
    runner = task_runner(settings, task_runner_name, max_workers)
    outcomes = retrain_regions.with_options(task_runner=runner)(root, plan, settings, flow_run_id)
    summary = run_summary(outcomes)
    for line in summary.splitlines():
        logger.info(line)
    if any(o.failed for o in outcomes):
        raise PipelineError(summary)
    return summary


def main(argv: list[str]) -> None:
    """``python flows/retrain.py [region ...]``: one run in Prefect's ephemeral mode (no server needed)."""
    from prefect.settings import PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, temporary_settings

    with temporary_settings(updates={PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS: EPHEMERAL_STARTUP_S}):
        retrain(regions=argv or None)


if __name__ == "__main__":
    main(sys.argv[1:])
