"""Benchmark: reading a map's window inputs from a region cube, window by window vs in row bands.

Full-scene inference reads, for every window of the map grid (64 px, 50 % overlap, the
scene padded by half a window), the experiment's inputs from the cube. Read alone, each
window decompresses the cube chunks it touches; overlapping windows touch the same
chunks again. ``CubeChannels.read_windows`` reads the band of rows a batch of windows
shares once and cuts the windows from it (same values). Run after `make demo`:
`python benchmarks/bench_window_reads.py [--region puertollano] [--experiment thermal] [--repeats 3]`.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from lithomap.config import load_params
from lithomap.datasets.patches import patch_origins
from lithomap.io.cube import cube_path, open_cube
from lithomap.mapping.inference import PREDICT_BATCH
from lithomap.mapping.maps import region_inputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--region", default="puertollano")
    parser.add_argument("--experiment", default="thermal")
    parser.add_argument("--model", default="convlstm")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    params = load_params()
    patch = params.preprocess.patch_size
    margin = patch // 2
    cube = open_cube(cube_path(params.ingest.interim_dir, args.region), params.region(args.region))
    inputs = region_inputs(cube, args.region, args.experiment, args.model, params, margin)
    grid = patch_origins(inputs.shape, patch, params.map.overlap, Path("<scene>"))
    grid = grid[np.lexsort((grid[:, 1], grid[:, 0]))] - margin
    batches = [grid[start : start + PREDICT_BATCH] for start in range(0, len(grid), PREDICT_BATCH)]
    channels = inputs.channels

    def alone() -> None:
        for batch in batches:
            for row, col in batch:
                channels.read_padded(int(row), int(col), (patch, patch))

    def banded() -> None:
        for batch in batches:
            channels.read_windows(batch, patch)

    times: dict[str, list[float]] = {"window by window": [], "row bands": []}
    for _ in range(args.repeats):
        for name, read in (("window by window", alone), ("row bands", banded)):
            start = time.perf_counter()
            read()
            times[name].append(time.perf_counter() - start)
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(f"{args.region} {args.experiment}: {len(grid)} windows of {patch} px, {len(channels.chosen)} dates")
    for name, median in medians.items():
        print(f"| {name} | {median:.2f} s |")
    print(f"speed-up {medians['window by window'] / medians['row bands']:.1f}x")


if __name__ == "__main__":
    main()
