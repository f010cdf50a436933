"""Benchmark: the per-pixel baseline's accuracy with each realism effect on alone.

For each case one region is generated at ``generate.realism.nuisance: 1`` with only that
effect's magnitudes kept (the others set to 0), ingested and scored with the per-pixel baseline
on all thermal dates, in two spatial folds (a checkerboard of blocks, a buffer between
training and test pixels) that do not depend on the labels, so every case is scored on
the same pixels; "clean" is nuisance 0, "all" every effect at once and "no-map" every
effect but the map-like labels. The map differs from the truth only through the "map"
effect, so a fall with any other effect is the thermal signal getting harder.

`python benchmarks/bench_effects.py [--region puertollano] [--size-px 128] [--work bench-effects]
 [--cases clean all rain ...]`

Prints a Markdown table (case, baseline OA and macro-F1, generate seconds) and writes it to <work>/effects.md.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import xarray as xr
from scipy import ndimage

from lithomap.atomic import write_text
from lithomap.classes import N_CLASSES
from lithomap.config import Params, load_params
from lithomap.io.cube import cube_daytime
from lithomap.io.ingest import ingest_region
from lithomap.models.baseline import PixelBaseline, pixel_features
from lithomap.models.metrics import confusion_matrix, scores_from_confusion
from lithomap.scenes.generate import generate_region

EFFECTS: dict[str, tuple[str, ...]] = {
    "lapse rate": ("relief_m", "lapse_rate_k_per_km"),
    "slope sunshine": ("relief_m", "terrain_illumination"),
    "air-temperature field": ("air_temperature_k",),
    "wind": ("wind_variability", "relief_m", "wind_exposure"),
    "rain": ("rain_events_per_year", "rain_wetting"),
    "emissivity vs moisture": ("emissivity_moisture_slope",),
    "LST + emissivity error": ("lst_residual_k", "emissivity_error"),
    "missed clouds": ("cloud_omission", "cloud_shadow_k"),
    "map labels": ("label_displacement_m", "label_generalisation_m"),
    "veneers": ("veneer_fraction",),
    "shale beds": ("interbedded_fraction",),
}
SAMPLE, ITER = 10000, 100
"""Baseline training sample and boosting rounds: smaller than evaluate's, so a case takes a minute."""
SLUGS = {name.split()[0].lower(): name for name in EFFECTS}


def case_params(base: Params, region: str, case: str, size_px: int, work: Path) -> Params:
    """Params of one case: one region in ``work``, the scene size, the chosen effects."""
    realism = base.generate.realism
    if case == "clean":
        realism = realism.model_copy(update={"nuisance": 0.0})
    elif case == "no-map":
        realism = realism.model_copy(
            update={"nuisance": 1.0, "label_displacement_m": 0.0, "label_generalisation_m": 0.0}
        )
    elif case != "all":
        effect = EFFECTS[SLUGS.get(case, case)]
        kept = {key: getattr(realism, key) for key in effect}
        realism = realism.without_effects().model_copy(update={**kept, "nuisance": 1.0})
    else:
        realism = realism.model_copy(update={"nuisance": 1.0})
    generate = base.generate.model_copy(update={"size_px": size_px, "realism": realism})
    folder = work / case.replace(" ", "_")
    region_params = base.region(region).model_copy(update={"raw_dir": folder / "raw", "bounds": None})
    ingest = base.ingest.model_copy(update={"interim_dir": folder / "interim"})
    return base.model_copy(
        update={"generate": generate, "ingest": ingest, "regions": {**base.regions, region: region_params}}
    )


def checkerboard_folds(shape: tuple[int, int], block_px: int, buffer_px: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Two spatial folds: blocks of a checkerboard; training pixels keep ``buffer_px`` from the test blocks.

    Unlike the label-driven split of `lithomap split`, the folds do not move when the
    labels change, and together they test every pixel, so cases are compared on the same pixels.
    """
    rows, cols = np.indices(shape)
    black = ((rows // block_px + cols // block_px) % 2).astype(bool)
    folds = []
    for test in (black, ~black):
        near = ndimage.maximum_filter(test.astype(np.uint8), size=2 * buffer_px + 1) > 0
        folds.append((~near, test))
    return folds


def baseline_oa(cube: xr.Dataset, params: Params, block_px: int) -> dict[str, float]:
    """OA and macro-F1 of the per-pixel baseline (all thermal dates), two checkerboard folds pooled."""
    label = cube["label"].values.astype(np.int64)
    lst = cube["lst"].values
    day = cube_daytime(cube, params.preprocess.day_sun_elevation)
    features, _ = pixel_features(lst, np.isfinite(lst), day, cube["emissivity"].values)
    matrix = np.zeros((N_CLASSES, N_CLASSES), dtype=np.int64)
    for train, test in checkerboard_folds(label.shape, block_px, block_px // 4):
        model = PixelBaseline(
            features, np.where(train, label, 0).reshape(-1), seed=0, sample_pixels=SAMPLE, max_iter=ITER
        )
        predicted = model.predict(features).reshape(label.shape)
        scored = test & (label > 0)
        matrix += confusion_matrix(label[scored], predicted[scored], n_classes=N_CLASSES)
    scores = scores_from_confusion(matrix)
    return {"oa": float(scores["oa"]), "macro_f1": float(scores["macro_f1"])}


def run_case(base: Params, args: argparse.Namespace, case: str) -> dict[str, float]:
    params = case_params(base, args.region, case, args.size_px, Path(args.work).resolve())
    region = params.region(args.region)
    started = time.perf_counter()
    generate_region(args.region, region, params.generate, quicklook=False, progress=False)
    seconds = time.perf_counter() - started
    ingest_region(args.region, region, params.ingest, progress=False)
    cube = xr.open_zarr(params.ingest.interim_dir / args.region / "cube.zarr").load()
    result = baseline_oa(cube, params, args.block_px)
    result["seconds"] = seconds
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--region", default="puertollano")
    parser.add_argument("--size-px", type=int, default=128)
    parser.add_argument("--block-px", type=int, default=16, help="Side of the checkerboard blocks on the region grid.")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--work", default="bench-effects")
    parser.add_argument("--cases", nargs="+", default=["clean", *SLUGS, "no-map", "all"])
    args = parser.parse_args()
    base = load_params(args.params)
    lines = ["| case | baseline OA | baseline macro-F1 | generate s |", "|---|---|---|---|"]
    for case in args.cases:
        result = run_case(base, args, case)
        cells = f"{result['oa']:.3f} | {result['macro_f1']:.3f} | {result['seconds']:.1f}"
        lines.append(f"| {SLUGS.get(case, case)} | {cells} |")
        print(lines[-1], flush=True)
    text = "\n".join(lines)
    print(text)
    write_text(Path(args.work) / "effects.md", text + "\n")


if __name__ == "__main__":
    main()
