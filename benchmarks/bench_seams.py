"""Diagnostic: is a map's seam index the blending's seam or the scene's structure?

Maps one region with its registered model three times (window overlap 0.5, the same with
every window shifted by half a stride, and overlap 0.75) into `<maps_dir>-seams/` and
prints, per map, the seam index and z on the windows' own lines, the index on the lines
of the region's grid phase 0 and phase stride/2, and the four highest phases. A seam of
the blending moves with the windows and shrinks with more overlap; structure of the
scene stays on the same region phases whatever the windows do.

Run in a project with a registered model (after `make demo`):
`python benchmarks/bench_seams.py --region puertollano --model cnn [--alias champion]`
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import rasterio

from lithomap.config import load_params
from lithomap.mapping.maps import make_map
from lithomap.mapping.seams import seam_profile
from lithomap.mapping.writers import CLASSES_FILE


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--region", default="puertollano")
    parser.add_argument("--model", default="cnn")
    parser.add_argument("--alias", default=None, help="Registry alias (default map.alias).")
    args = parser.parse_args()
    params = load_params()
    maps_dir = params.map.maps_dir
    settings = params.map.model_copy(update={"maps_dir": maps_dir.with_name(maps_dir.name + "-seams")})
    params = params.model_copy(update={"map": settings})
    stride = params.preprocess.patch_size // 2  # the region grid: the 0.5-overlap windows' lines
    half = stride // 2
    print(f"{args.region} {args.model}: phases of the region's {stride}-px grid\n")
    print(f"| map | wall s | window lines: index (z) | region phase 0 | region phase {half} | highest phases |")
    print("|---|---|---|---|---|---|")
    for name, overlap, offset in (
        ("overlap 0.5", 0.5, 0),
        (f"overlap 0.5, windows shifted {half} px", 0.5, half),
        ("overlap 0.75", 0.75, 0),
    ):
        started = time.perf_counter()
        result = make_map(
            args.region,
            args.model,
            params,
            alias=args.alias,
            overlap=overlap,
            window_offset=offset,
            if_no_champion="challenger",
            log_artifacts=False,
        )
        seconds = time.perf_counter() - started
        with rasterio.open(result.folder / CLASSES_FILE) as src:
            classes = src.read(1)
        region_profile = seam_profile(classes, stride, (0, 0), valid=classes > 0)
        top = np.argsort(-np.nan_to_num(region_profile, nan=-1.0))[:4].tolist()
        print(
            f"| {name} | {seconds:.1f} | {result.seam_index:.3f} ({result.seam_z:+.1f}) "
            f"| {region_profile[0]:.3f} | {region_profile[half]:.3f} | {top} |"
        )


if __name__ == "__main__":
    main()
