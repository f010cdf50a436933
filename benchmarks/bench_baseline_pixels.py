"""Benchmark: per-pixel baseline macro-F1 against its training sample size, one region and experiment.

Needs the region's cube and the experiment's dataset (`lithomap ingest`, `split`,
`preprocess`). Fits the fair and the raw-feature baselines (``lithomap.training.evaluate``)
with the networks' class weights on class-stratified samples of the training pixels and
scores them on every labelled test pixel:

`python benchmarks/bench_baseline_pixels.py [--region puertollano] [--experiment thermal]
 [--sizes 3000 10000 30000 100000 0] [--params params.yaml]`  (0 = all training pixels)

Prints a Markdown table (macro-F1 and fit seconds per size and feature set); README
"Per-pixel baseline" quotes it and sets ``evaluate.baseline_pixels`` from it.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from lithomap.classes import N_CLASSES
from lithomap.config import load_params
from lithomap.datasets.manifest import load_manifest
from lithomap.datasets.preprocess import SPLIT_FILE
from lithomap.datasets.split import TEST, TRAIN, SpatialSplit
from lithomap.io.cube import TRAINING_VARIABLES, cube_path, open_cube
from lithomap.models.baseline import BASELINE_FEATURES, PixelBaseline
from lithomap.models.metrics import confusion_matrix, scores_from_confusion
from lithomap.training.fit import class_weights, dataset_dir


def main() -> None:
    """Run the sweep and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--region", default="puertollano")
    parser.add_argument("--experiment", default="thermal")
    parser.add_argument("--sizes", type=int, nargs="+", default=[3000, 10000, 30000, 100000, 0])
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args()
    params = load_params(args.params)
    folder = dataset_dir(params.preprocess, args.region, args.experiment)
    manifest = load_manifest(folder)
    cube = open_cube(
        cube_path(params.ingest.interim_dir, args.region), params.region(args.region), TRAINING_VARIABLES, "bench"
    )
    split = SpatialSplit.load(folder / SPLIT_FILE)
    label = cube["label"].values.astype(np.int64)
    train = np.where(split.pixels == TRAIN, label, 0).reshape(-1)
    test = ((split.pixels == TEST) & (label > 0)).reshape(-1)
    weights = class_weights(params.loss, args.region, manifest.class_pixels["train"])
    print(f"{args.region}/{args.experiment}: {(train > 0).sum()} labelled training pixels, {test.sum()} test pixels")
    print("| features | sample | macro-F1 | OA | fit s |\n|---|---|---|---|---|")
    for kind, build in BASELINE_FEATURES.items():
        features = build(cube, manifest)
        for size in args.sizes:
            start = time.perf_counter()
            baseline = PixelBaseline(
                features,
                train,
                seed=params.training().seed,
                sample_pixels=size or None,
                max_iter=params.evaluate.baseline_max_iter,
                class_weights=weights,
            )
            seconds = time.perf_counter() - start
            predicted = baseline.predict(features[test])
            scores = scores_from_confusion(confusion_matrix(label.reshape(-1)[test], predicted, n_classes=N_CLASSES))
            print(f"| {kind} | {size or 'all'} | {scores['macro_f1']:.3f} | {scores['oa']:.3f} | {seconds:.0f} |")


if __name__ == "__main__":
    main()
