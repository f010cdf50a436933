"""Benchmark: accuracy against the realism knob (generate.realism.nuisance), one region.

For each knob level the region is generated, ingested, split and preprocessed, then the
CNN and the ConvLSTM are trained and evaluated (beside the per-pixel baseline, on the
same test pixels) with the `lithomap` commands, in a work folder of its own per level:

`python benchmarks/bench_nuisance.py [--region puertollano] [--levels 0 0.5 1 2] [--size-px 384]
 [--epochs 40] [--work bench-nuisance]`

Prints a Markdown table (overall accuracy and macro-F1 of each model per level) and
writes it with the figure to <work>/nuisance.md and <work>/nuisance.png. A level already
evaluated in the same work folder with the same params is read back, so a stopped sweep
resumes. `--size-px 128 --epochs 3 --patch 32` checks the command in minutes.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import yaml
from matplotlib.figure import Figure

from lithomap.atomic import save_figure, write_text

MODELS = ("cnn", "convlstm")


def level_params(base: dict, region: str, level: float, args: argparse.Namespace) -> dict:
    """params.yaml for one knob level: one region, the chosen scene size, relative output paths."""
    params = json.loads(json.dumps(base))
    params["regions"] = {region: {**params["regions"][region], "raw_dir": f"data/raw/{region}", "bounds": None}}
    params["generate"]["size_px"] = args.size_px
    params["generate"]["realism"]["nuisance"] = level
    params["train"]["presets"][params["train"]["preset"]]["epochs"] = args.epochs
    if args.patch:
        params["preprocess"].update(patch_size=args.patch, block_size=args.patch)
    return params


def metrics_paths(folder: Path, args: argparse.Namespace) -> dict[str, Path]:
    reports = yaml.safe_load((folder / "params.yaml").read_text())["evaluate"]["reports_dir"]
    return {model: folder / reports / args.region / f"{model}-thermal" / "metrics.json" for model in MODELS}


def run_level(base: dict, level: float, args: argparse.Namespace) -> dict[str, dict]:
    """Run the pipeline of one level; metrics of each model (with the baseline's) by model name.

    A level whose two evaluations exist (same work folder) is read back, not run again.
    """
    folder = Path(args.work).resolve() / f"nuisance-{level:g}"
    folder.mkdir(parents=True, exist_ok=True)
    params_file = folder / "params.yaml"
    wanted = yaml.safe_dump(level_params(base, args.region, level, args), sort_keys=False)
    done = params_file.exists() and params_file.read_text() == wanted
    if not (done and all(path.exists() for path in metrics_paths(folder, args).values())):
        write_text(params_file, wanted)
        lithomap = [sys.executable, "-m", "lithomap.cli"]
        region = ["--region", args.region, "--params", str(params_file)]
        steps = [["generate", *region, "--quiet"], ["ingest", *region, "--quiet"], ["split", *region]]
        steps.append(["preprocess", *region])
        for model in MODELS:
            steps.append(["train", *region, "--model", model, "--quiet"])
            steps.append(["evaluate", *region, "--model", model, "--no-track"])
        start = time.perf_counter()
        for step in steps:
            subprocess.run([*lithomap, *step], cwd=folder, check=True)
        print(f"nuisance {level:g}: {time.perf_counter() - start:.0f} s", flush=True)
    return {model: json.loads(path.read_text()) for model, path in metrics_paths(folder, args).items()}


def table(results: dict[float, dict[str, dict]]) -> str:
    lines = [
        "| nuisance | baseline OA | baseline macro-F1 | CNN OA | CNN macro-F1 [95 % CI] "
        "| ConvLSTM OA | ConvLSTM macro-F1 [95 % CI] |",
        "|---|---|---|---|---|---|---|",
    ]
    for level, metrics in results.items():
        baseline = metrics["cnn"]["baseline"]
        cells = [f"{baseline['oa']:.3f}", f"{baseline['macro_f1']:.3f}"]
        for model in MODELS:
            low, high = metrics[model]["macro_f1_ci"]
            cells.append(f"{metrics[model]['oa']:.3f} | {metrics[model]['macro_f1']:.3f} [{low:.2f}, {high:.2f}]")
        lines.append(f"| {level:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def figure(results: dict[float, dict[str, dict]], path: Path) -> Path:
    """OA and macro-F1 against the knob; the networks with their block-bootstrap intervals."""
    fig = Figure(figsize=(10, 4))
    levels = list(results)
    for ax, score in zip(fig.subplots(1, 2), ("oa", "macro_f1"), strict=True):
        ax.plot(
            levels,
            [results[x]["cnn"]["baseline"][score] for x in levels],
            "s--",
            color="grey",
            label="per-pixel baseline (fair)",
        )
        for model, colour in zip(MODELS, ("tab:blue", "tab:orange"), strict=True):
            values = [results[x][model][score] for x in levels]
            bounds = np.array([results[x][model][f"{score}_ci"] for x in levels])
            ax.errorbar(
                levels,
                values,
                yerr=[np.subtract(values, bounds[:, 0]), np.subtract(bounds[:, 1], values)],
                fmt="o-",
                capsize=3,
                color=colour,
                label=model,
            )
        if score == "oa":
            ax.axhspan(0.55, 0.70, color="grey", alpha=0.2, label="literature, many-class thermal (55–70 %)")
        ax.set_xlabel("generate.realism.nuisance")
        ax.set_ylabel(f"{'overall accuracy' if score == 'oa' else 'macro-F1'} (test blocks)")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--region", default="puertollano")
    parser.add_argument("--levels", type=float, nargs="+", default=[0.0, 0.5, 1.0, 2.0])
    parser.add_argument("--size-px", type=int, default=384)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--patch", type=int, default=None, help="Patch and block size (default: params.yaml's).")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--work", default="bench-nuisance")
    args = parser.parse_args()
    base = yaml.safe_load(Path(args.params).read_text())
    results = {level: run_level(base, level, args) for level in args.levels}
    text = table(results)
    print(text)
    work = Path(args.work)
    write_text(work / "nuisance.md", text + "\n")
    figure(results, work / "nuisance.png")


if __name__ == "__main__":
    main()
