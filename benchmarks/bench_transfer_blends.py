"""Benchmark: ways to combine the transfer model's two probabilities, across regions and inside one.

The transfer model (``lithomap.models.transfer``) averages a network's class probabilities
with the summary model's. This script scores that blend and its alternatives on the same
pixels as ``lithomap`` scores the models, without changing lithomap:

- ``--mode loro`` (after ``lithomap loro --all -m <model> -e <experiment>``): each
  held-out region's leave-one-region-out model, as ``lithomap loro`` scores it (target
  normalisation, batch-normalisation adaptation), and a summary model fitted on the
  training regions' labelled pixels. Learnable macro-F1 of the network, the summary model,
  the linear blend at several weights, log-linear pooling (the normalised geometric mean),
  an entropy-weighted blend and the more confident model alone.
- ``--mode in-region`` (after ``lithomap train -r <region>`` for every region): each
  region's own model on its test blocks, as ``lithomap evaluate`` scores it, and a summary
  model fitted on the region's own training blocks; macro-F1 of the network, the summary
  model and the linear blends.

`python benchmarks/bench_transfer_blends.py --mode loro|in-region [--model convlstm]
 [--experiment thermal] [--params params.yaml]`

Prints one Markdown table (rows: regions; columns: ways to combine). README 10b quotes it.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import numpy as np

from lithomap.config import Params, load_params
from lithomap.datasets.features import Architecture
from lithomap.datasets.split import SPLITS, TEST, TRAIN
from lithomap.models.transfer import blend_probabilities
from lithomap.training.evaluate import ScoredRegion, fit_baselines, score_region
from lithomap.training.fit import MODEL_FILE, class_weights, model_dir
from lithomap.training.leave_one_out import (
    add_learnable_scores,
    labelled_pixels,
    labelled_regions,
    learnable_classes,
    leave_one_out_dir,
    leave_one_out_name,
    pooled_weights,
    score_like,
    summary_probabilities,
    training_regions,
)

LINEAR_WEIGHTS = (0.25, 0.5, 0.75)


def entropy(probabilities: np.ndarray) -> np.ndarray:
    """(…, 1) Shannon entropy of (…, K) probabilities (nats)."""
    p = np.clip(probabilities, 1e-12, 1.0)
    return -(p * np.log(p)).sum(-1, keepdims=True)


def geometric(network: np.ndarray, summary: np.ndarray, weight: float) -> np.ndarray:
    """Log-linear pooling: ``network^(1-w) · summary^w``, normalised (a class one model gives 0 stays near 0)."""
    pooled = np.exp((1 - weight) * np.log(np.clip(network, 1e-6, 1)) + weight * np.log(np.clip(summary, 1e-6, 1)))
    return pooled / pooled.sum(-1, keepdims=True)


def combinations(network: np.ndarray, summary: np.ndarray, rules: bool) -> dict[str, np.ndarray]:
    """The ways to combine the two (H, W, K) probability maps, by column name."""
    out = {"network": network, "summary": summary}
    out.update({f"linear {w}": blend_probabilities(network, summary, w) for w in LINEAR_WEIGHTS})
    if rules:
        out["geometric 0.5"] = geometric(network, summary, 0.5)
        h_network, h_summary = entropy(network), entropy(summary)
        to_summary = h_network / (h_network + h_summary + 1e-9)  # the surer model counts more
        out["entropy-weighted"] = (1 - to_summary) * network + to_summary * summary
        surer = network.max(-1, keepdims=True) >= summary.max(-1, keepdims=True)
        out["more confident"] = np.where(surer, network, summary)
    return out


def macro_f1(probabilities: np.ndarray, scored: ScoredRegion, params: Params, learnable: list[int] | None) -> float:
    """Macro-F1 on the pixels the network was scored on (over ``learnable`` classes if given)."""
    scoring = score_like(probabilities, scored, params)
    if learnable is None:
        return float(scoring.scores["macro_f1"])
    add_learnable_scores(scoring, scored.label, scored.split.block_size, learnable, params)
    return float(scoring.scores["macro_f1_learnable"])


def need(trained: Path, command: str) -> Path:
    """``trained`` if it holds a model; otherwise stop with the command that makes one."""
    if not (trained / MODEL_FILE).is_file():
        raise SystemExit(f"{trained}: no {MODEL_FILE}. Fix: run `{command}` first (with the same --params).")
    return trained


def across_regions(region: str, arch: Architecture, experiment: str, params: Params) -> dict[str, float]:
    """Held out ``region``: its leave-one-region-out model and the training regions' summary model."""
    trained = need(
        leave_one_out_dir(region, arch, experiment, params), f"lithomap loro --all -m {arch} -e {experiment}"
    )
    scored = score_region(region, arch, experiment, trained, SPLITS, params, whole=True, normalisation="target")
    regions = training_regions(params, region)
    weights = pooled_weights(leave_one_out_name(region), regions, experiment, params)
    fitted = fit_baselines(labelled_pixels(regions, experiment, params, "bench"), weights, params, ("summary",))
    learnable = learnable_classes(region, experiment, params)
    maps = combinations(scored.probabilities, summary_probabilities(fitted["summary"], scored), rules=True)
    return {name: macro_f1(p, scored, params, learnable) for name, p in maps.items()}


def inside_region(region: str, arch: Architecture, experiment: str, params: Params) -> dict[str, float]:
    """``region``'s own model on its test blocks and a summary model of its own training blocks."""
    trained = need(
        model_dir(params.training(), region, arch, experiment), f"lithomap train -r {region} -m {arch} -e {experiment}"
    )
    scored = score_region(region, arch, experiment, trained, (SPLITS[TEST],), params)
    train_labels = np.where(scored.split.pixels == TRAIN, scored.label, 0)
    weights = class_weights(params.loss, region, scored.manifest.class_pixels["train"])
    fitted = fit_baselines([(scored.cube, scored.manifest, train_labels)], weights, params, ("summary",))
    maps = combinations(scored.probabilities, summary_probabilities(fitted["summary"], scored), rules=False)
    return {name: macro_f1(p, scored, params, None) for name, p in maps.items()}


def main() -> None:
    """Score every labelled region and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("loro", "in-region"), required=True)
    parser.add_argument("--model", choices=("cnn", "convlstm"), default="convlstm")
    parser.add_argument("--experiment", default="thermal")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args()
    params = load_params(args.params)
    score: Callable[[str, Architecture, str, Params], dict[str, float]] = (
        across_regions if args.mode == "loro" else inside_region
    )
    rows = {region: score(region, args.model, args.experiment, params) for region in labelled_regions(params)}
    columns = list(next(iter(rows.values())))
    what = "learnable macro-F1, held out" if args.mode == "loro" else "macro-F1 on the test blocks"
    print(f"{args.model}/{args.experiment}, {args.mode}, train.seed {params.training().seed} ({what})\n")
    print("| region | " + " | ".join(columns) + " |\n|---|" + "---|" * len(columns))
    for region, row in rows.items():
        print(f"| {region} | " + " | ".join(f"{row[c]:.3f}" for c in columns) + " |")


if __name__ == "__main__":
    main()
