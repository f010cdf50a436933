"""Benchmark: peak memory of the whole-scene steps of `lithomap map`, without a model.

``bench_map.py`` measures a whole map (model included); at 4096² it takes about 20
minutes of both cores. This benchmark isolates what grows with the scene: a synthetic
map of ``size``² px (a speckled class field like an untrained model's: 8-px blocks of
random classes with 15 % salt, a no-data corner, peaked probabilities around the class)
is written by ``MapRasters`` strip by strip, and each later step of ``make_map`` runs in
a fresh process on the files written:

* ``write``: the strip-by-strip writing of all rasters and their conversion to COGs;
* ``seams``: reading the class raster and its seam index;
* ``scores``: the test-block scores of the full map (a synthetic label and split);
* ``vector``: the vector map (``vectorise``: sieve, class areas, polygons, GeoPackage);
* ``picture``: the PNG.

Each step first sets up what ``make_map`` would already hold (imports; for ``scores`` the
class map, label and split), then the process's peak (VmHWM) is reset to its RSS and the
step runs: the step's cost is its peak minus that RSS.

Run: ``python benchmarks/bench_map_memory.py [--sizes 1024 4096] [--steps write vector ...]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_ingest import own_peak_rss_mb

STEPS = ("write", "seams", "scores", "vector", "picture")
BLOCK_PX, SALT, SEED = 8, 0.15, 7
STRIP_PX, STRIDE, MIN_MAPPING_UNIT_PX, TEST_BLOCK_PX = 256, 32, 4, 64


def class_field(size: int, rows: slice) -> np.ndarray:
    """(rows, size) uint8 classes 1–13: random 8-px blocks with salt, the same for every slice."""
    table = np.random.default_rng(SEED).integers(1, 14, size=(size // BLOCK_PX + 1,) * 2, dtype=np.uint8)
    row_index = np.arange(rows.start, rows.stop) // BLOCK_PX
    classes = table[row_index][:, np.arange(size) // BLOCK_PX]
    salt = np.random.default_rng([SEED, rows.start])
    speckled = salt.random(classes.shape, dtype=np.float32) < SALT
    classes[speckled] = salt.integers(1, 14, size=int(speckled.sum()), dtype=np.uint8)
    return classes


def valid_field(size: int, rows: slice) -> np.ndarray:
    """(rows, size) bool: data everywhere but a corner triangle (a scene edge)."""
    row, col = np.mgrid[rows, 0:size]
    return row + col >= size // 8


def probabilities_of(classes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(rows, size, 14) float32 probabilities peaked on ``classes``."""
    logits = rng.standard_normal(size=(*classes.shape, 14), dtype=np.float32)
    logits *= 0.5
    np.put_along_axis(logits, classes[..., None].astype(np.intp), 2.0, axis=-1)
    np.exp(logits, out=logits)
    logits /= logits.sum(-1, keepdims=True)
    return logits


def step_write(folder: Path, size: int) -> Iterator[None]:
    from rasterio.crs import CRS
    from rasterio.transform import from_origin

    from lithomap.mapping.writers import MapRasters

    rng = np.random.default_rng(SEED)
    transform = from_origin(390000, 4296390, 70, 70)
    yield
    with MapRasters(folder, CRS.from_epsg(32630), transform, (size, size), labelled=True) as rasters:
        for row in range(0, size, STRIP_PX):
            rows = slice(row, min(row + STRIP_PX, size))
            classes = class_field(size, rows)
            rasters.write(row, probabilities_of(classes, rng), valid_field(size, rows), classes)
        rasters.finish()


def step_seams(folder: Path, size: int) -> Iterator[None]:
    from lithomap.mapping.maps import _read_band
    from lithomap.mapping.seams import seam_index
    from lithomap.mapping.writers import CLASSES_FILE

    yield
    classes = _read_band(folder / CLASSES_FILE)
    seam_index(classes, spacing=STRIDE, offset=(0, 0), valid=classes > 0)


def step_scores(folder: Path, size: int) -> Iterator[None]:
    """Scores of the class map against a label wrong on a third of the pixels (the map's arrays are set-up)."""
    from lithomap.mapping.maps import _read_band, map_scores
    from lithomap.mapping.writers import CLASSES_FILE

    classes = _read_band(folder / CLASSES_FILE)
    wrong = class_field(size, slice(0, size)) % 3 == 0
    label = np.where(wrong, classes % 13 + 1, classes).astype(np.uint8)
    del wrong
    blocks = np.random.default_rng(SEED).integers(0, 3, size=(size // TEST_BLOCK_PX + 1,) * 2, dtype=np.int8)
    split = np.kron(blocks, np.ones((TEST_BLOCK_PX, TEST_BLOCK_PX), dtype=np.int8))[:size, :size]
    yield
    map_scores(classes, label, split, TEST_BLOCK_PX, n_boot=200, seed=0, alpha=0.05)


def step_vector(folder: Path, size: int) -> Iterator[None]:
    import pyogrio

    from lithomap.mapping.vector import LAYER, vectorise
    from lithomap.mapping.writers import CLASSES_FILE, CONFIDENCE_FILE

    yield
    vectorise(folder / CLASSES_FILE, folder / CONFIDENCE_FILE, folder / "map.gpkg", MIN_MAPPING_UNIT_PX)
    print(f"polygons: {pyogrio.read_info(folder / 'map.gpkg', layer=LAYER)['features']}")


def step_picture(folder: Path, size: int) -> Iterator[None]:
    from lithomap.mapping.picture import draw_map
    from lithomap.mapping.writers import CLASSES_FILE

    yield
    draw_map(folder / CLASSES_FILE, folder / "map.png", "bench")


def reset_peak_rss_mb() -> float:
    """Reset this process's VmHWM to its current RSS (Linux ``clear_refs``) and return that RSS.

    Where the reset is not allowed, the peak so far is returned instead.
    """
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return own_peak_rss_mb()
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return own_peak_rss_mb()


def child(step: str, folder: Path, size: int) -> None:
    """Subprocess entry: set up one step, then run it; print RSS before and the peak after as JSON."""
    import geopandas  # noqa: F401 -- the libraries every step imports, loaded before the baseline
    import matplotlib.pyplot  # noqa: F401
    import rasterio  # noqa: F401
    import scipy.ndimage  # noqa: F401

    import lithomap.mapping.maps  # noqa: F401

    steps = globals()[f"step_{step}"](folder, size)
    next(steps)
    before = reset_peak_rss_mb()
    start = time.perf_counter()
    for _ in steps:
        pass
    seconds = time.perf_counter() - start
    print(json.dumps({"step": step, "size": size, "before_mb": before, "peak_mb": own_peak_rss_mb(), "s": seconds}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024, 4096])
    parser.add_argument("--steps", nargs="+", choices=STEPS, default=list(STEPS))
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        step, folder, size = args.child
        child(step, Path(folder), int(size))
        return
    steps = ["write", *(step for step in args.steps if step != "write")]
    rows = []
    with tempfile.TemporaryDirectory(prefix="lithomap-bench-map-memory-") as root:
        for size in args.sizes:
            folder = Path(root) / str(size)
            for step in steps:
                command = [sys.executable, __file__, "--child", step, str(folder), str(size)]
                done = subprocess.run(command, capture_output=True, text=True)
                if done.returncode:
                    raise SystemExit(f"{size} {step} failed:\n{done.stderr}")
                output = done.stdout
                for line in output.strip().splitlines()[:-1]:
                    print(f"{size} {step}: {line}", flush=True)
                rows.append(json.loads(output.strip().splitlines()[-1]))
                print(json.dumps(rows[-1]), flush=True)
    print("\n| grid | step | RSS before the step MB | peak RSS MB | step adds MB |")
    print("|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['size']} × {row['size']} | {row['step']} | {row['before_mb']:.0f} | {row['peak_mb']:.0f} | "
            f"{row['peak_mb'] - row['before_mb']:.0f} |"
        )


if __name__ == "__main__":
    main()
