"""Benchmark: wall time of `retrain` (Prefect) with regions in parallel vs one after another.

`python benchmarks/bench_retrain.py [--size tiny|default] [--workers 3]` builds, for each
mode, a fresh git+DVC copy of this repository's pipeline in a temporary folder (tiny: 64-px
scenes, 1 epoch, CNN only, experiments thermal; default: params.yaml as it is) and runs the
`retrain` flow on it. Prints the wall times, their ratio, and where the time goes: the
seconds of each stage group summed over regions (their sum exceeds the wall time when
regions overlap).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def sh(args: list[str], cwd: Path) -> None:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "DVC_NO_ANALYTICS": "1"}
    subprocess.run(args, cwd=cwd, env=env, check=True, capture_output=True)


def tiny(params: dict, pipeline: dict) -> None:
    """Shrink params and the pipeline so a run takes minutes on 2 cores."""
    params["generate"].update(size_px=64, thermal_acquisitions=10, cloudy_fraction=0.0, sentinel1_dates=1)
    params["generate"].update(sentinel2_dates=1)
    params["preprocess"].update(patch_size=16, block_size=16, sequence_length=4)
    params["train"]["presets"]["demo"].update(epochs=1, batch_size=4)
    params["model"]["cnn"].update(base_filters=4, depth=2)
    params["evaluate"].update(n_boot=20, baseline_pixels=500, baseline_max_iter=10)
    params["experiments"] = {"thermal": params["experiments"]["thermal"]}
    params["promote"]["beat_baseline"] = False  # a 1-epoch model is no better than chance; time the flow, not the gate
    for name, stage in pipeline["stages"].items():
        if "matrix" in stage and "experiment" in stage["matrix"]:
            stage["matrix"]["experiment"] = ["thermal"]
        elif "matrix" in stage:
            stage["matrix"]["model"] = ["cnn"]
        if name == "validate_processed":
            stage["do"]["deps"] = [d for d in stage["do"]["deps"] if not d.startswith("data/processed")]
            stage["do"]["deps"].append("data/processed/${key}/thermal")


def project(folder: Path, size: str) -> Path:
    """A git+DVC project with this repository's code, pipeline and (shrunk) params."""
    root = folder / "project"
    root.mkdir(parents=True)
    shutil.copytree(REPO / "src", root / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copytree(REPO / "flows", root / "flows", ignore=shutil.ignore_patterns("__pycache__"))
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    pipeline = yaml.safe_load((REPO / "dvc.yaml").read_text())
    if size == "tiny":
        tiny(params, pipeline)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (root / "dvc.yaml").write_text(yaml.safe_dump(pipeline, sort_keys=False))
    for args in (["git", "init", "-q"], ["dvc", "init", "-q"], ["git", "add", "-A"]):
        sh(args, root)
    sh(["git", "-c", "user.email=b@b", "-c", "user.name=b", "commit", "-qm", "bench"], root)
    return root


def run(mode: str, size: str, workers: int, flows) -> tuple[float, dict[str, float]]:
    with tempfile.TemporaryDirectory(prefix=f"bench-retrain-{mode}-") as tmp:
        root = project(Path(tmp), size)
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{root / 'mlflow.db'}"
        settings = flows._params(root).orchestration
        plan = flows.stages_by_region(flows.discover_stages(root))
        runner = flows.task_runner(settings, mode, workers)
        started = time.perf_counter()
        outcomes = flows.retrain_regions.with_options(task_runner=runner)(root, plan, settings, "bench")
        wall = time.perf_counter() - started
        failed = [o.summary() for o in outcomes if o.failed]
        if failed:
            raise SystemExit("\n".join(failed))
        groups: dict[str, float] = defaultdict(float)
        for outcome in outcomes:
            for stage in outcome.stages:
                groups[stage.stage.split("@")[0]] += stage.seconds
        return wall, dict(groups)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=["tiny", "default"], default="tiny")
    parser.add_argument("--workers", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "240")
    os.environ["PATH"] = f"{BIN}{os.pathsep}{os.environ['PATH']}"
    spec = importlib.util.spec_from_file_location("bench_flows_retrain", REPO / "flows" / "retrain.py")
    flows = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = flows
    spec.loader.exec_module(flows)

    results = {mode: run(mode, args.size, args.workers, flows) for mode in ("threads", "sequential")}
    print(f"\nretrain, {args.size} config, 3 regions, {os.cpu_count()} CPUs ({platform.processor() or 'cpu'})\n")
    print("| mode | wall s |")
    print("|---|---|")
    for mode, (wall, _) in results.items():
        print(f"| {'parallel (threads)' if mode == 'threads' else 'one after another'} | {wall:.1f} |")
    ratio = results["sequential"][0] / results["threads"][0]
    print(f"\nspeed-up of parallel regions: {ratio:.2f}x\n")
    print("| stage | parallel: stage s (sum over regions) | sequential: stage s |")
    print("|---|---|---|")
    for group in results["sequential"][1]:
        print(f"| {group} | {results['threads'][1].get(group, 0):.1f} | {results['sequential'][1][group]:.1f} |")


if __name__ == "__main__":
    main()
