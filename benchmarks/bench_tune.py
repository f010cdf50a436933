"""Benchmark: Optuna tuning throughput (trials per hour) per model and the share of trials pruned.

Run after `make demo` (it reads the processed dataset of params.yaml):
`python benchmarks/bench_tune.py [--region puertollano] [--experiment thermal] [--trials 8] [--epochs 4]`.
With `--scratch SIZE` it first generates, ingests and preprocesses the region at SIZE px
into a temporary folder instead (no `make demo` needed). Each model gets a fresh study
(temporary SQLite storage and MLflow store) using the `tune` section of params.yaml with
the trials and epochs given; prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
from pathlib import Path

from lithomap.config import Params, load_params, parse_params
from lithomap.training.tune import tune


def scratch_params(params: Params, region: str, experiment: str, size_px: int, root: Path) -> Params:
    """``params`` with the region generated at ``size_px`` px and every output under ``root``."""
    from lithomap.datasets.preprocess import preprocess_experiment, split_region
    from lithomap.io.ingest import ingest_region
    from lithomap.scenes.generate import generate_region

    raw = params.model_dump(mode="json")
    raw["regions"] = {region: raw["regions"][region] | {"raw_dir": str(root / "raw"), "bounds": None}}
    raw["generate"].update(size_px=size_px, quicklook_dir=str(root / "quicklook"))
    raw["ingest"]["interim_dir"] = str(root / "interim")
    raw["preprocess"].update(processed_dir=str(root / "processed"), reports_dir=str(root / "reports"))
    scratch = parse_params(raw)
    settings = scratch.region(region)
    generate_region(region, settings, scratch.generate, quicklook=False, progress=False)
    ingest_region(region, settings, scratch.ingest, progress=False)
    split_region(region, settings, scratch.ingest, scratch.preprocess)
    preprocess_experiment(
        region, settings, scratch.ingest, scratch.preprocess, experiment, scratch.experiment(experiment)
    )
    return scratch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--region", default="puertollano")
    parser.add_argument("--experiment", default="thermal")
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--models", nargs="+", default=["cnn", "convlstm"])
    parser.add_argument("--scratch", type=int, default=None, metavar="SIZE", help="build the region at SIZE px first")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lithomap-bench-tune-") as folder:
        root = Path(folder)
        params = load_params()
        if args.scratch:
            params = scratch_params(params, args.region, args.experiment, args.scratch, root)
        raw = params.model_dump(mode="json")
        raw["tune"].update(epochs=args.epochs, reports_dir=str(root / "tuning"), storage=None)
        raw["tracking"]["artifact_root"] = str(root / "mlartifacts")
        params = parse_params(raw)
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{root / 'mlflow.db'}"
        rows = []
        for arch in args.models:
            storage = f"sqlite:///{root / f'{arch}.db'}"
            result = tune(args.region, arch, args.experiment, params, trials=args.trials, storage=storage)
            finished = sum(result.states.values())
            rows.append((arch, finished, finished / result.seconds * 3600, result.states, result.best_value))
    print(
        f"{args.region}/{args.experiment}: {args.trials} trials per model, up to {args.epochs} epochs each, "
        f"pruner after {params.tune.pruner_startup_trials} trials / {params.tune.pruner_warmup_epochs} epochs; "
        f"{os.cpu_count()} CPU cores ({platform.machine()})\n"
    )
    print("| model | trials | trials/hour | pruned | failed | best val value |")
    print("|---|---|---|---|---|---|")
    for arch, finished, rate, states, best in rows:
        pruned = states["PRUNED"] / finished
        best_text = f"{best:.3f}" if best is not None else "—"
        print(f"| {arch} | {finished} | {rate:.0f} | {pruned:.0%} | {states['FAIL']} | {best_text} |")


if __name__ == "__main__":
    main()
