"""Benchmark: map throughput, blending overhead and peak memory of `lithomap map`.

For each size (default 1024² and 4096² px at 70 m), a thermal-only region of 40
ECOSTRESS dates is written and ingested (``bench_ingest.write_region``), and a CNN and a
ConvLSTM of the default architecture (untrained weights: speed does not depend on them)
are logged and registered as champions in a temporary MLflow store. Each map is made in
a fresh subprocess that reports:

* wall time of ``make_map`` (inference, COG writing, vector map, picture) → km²/s, Mpx/s;
* time in the model's forward pass, in reading window inputs, and in the rest of the
  sliding-window loop (blending, flushing) → blending overhead = (loop − inputs) / forward,
  goal ≤ 1.15×;
* its own peak RSS (VmHWM), goal < 2 GB at 4096² and within 1.5× of 1024².

Run: ``python benchmarks/bench_map.py [--sizes 1024 4096] [--models cnn convlstm] [--dates 40]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_ingest import own_peak_rss_mb, write_region

from lithomap.config import load_params

PIXEL_KM2 = 0.07 * 0.07


def build_champion(arch: str, params, workdir: Path) -> None:
    """Log an untrained default model with identity normalisation and make it the champion."""
    import mlflow
    import numpy as np

    from lithomap.datasets.features import STEP_CHANNELS, channel_names
    from lithomap.datasets.scene import SUMMARY_CHANNELS
    from lithomap.models.normalisation import stats_for_inputs
    from lithomap.registry.pyfunc import log_pyfunc_model
    from lithomap.registry.registry import register
    from lithomap.registry.tracking import configure_tracking
    from lithomap.training.fit import build_model

    configure_tracking()
    steps, patch = params.preprocess.sequence_length, params.preprocess.patch_size
    static = list(SUMMARY_CHANNELS)
    names = channel_names(steps, STEP_CHANNELS, static, arch)
    stats = stats_for_inputs(names, {})
    spec = {key: (patch, patch, len(value)) for key, value in names.items()}
    if arch == "convlstm":
        spec["sequence"] = (steps, patch, patch, len(names["sequence"]))
    model = build_model(arch, spec, params.model, l2=0.0)
    example = {key: np.zeros((1, *shape), np.float32) for key, shape in spec.items()}
    mlflow.set_experiment("bench")
    with mlflow.start_run(
        tags={"lithomap.experiment": "thermal"},
    ):
        mlflow.log_params({"data.patch_size": patch, "data.sequence_length": steps, "data.static": json.dumps(static)})
        info = log_pyfunc_model(model, stats, example, arch=arch)
    version = register(info.model_uri, "bench", arch)
    mlflow.MlflowClient().set_registered_model_alias(f"lithomap-bench-{arch}", "champion", version.version)


def child(spec: str) -> None:
    """Subprocess entry: map the bench region, print timings and peak RSS as JSON."""
    import lithomap.mapping.inference as inference
    import lithomap.mapping.maps as maps

    settings = json.loads(spec)
    params = load_params(settings["params"])
    timings = {"forward": 0.0, "inputs": 0.0, "loop": 0.0}
    original_scene = inference.infer_scene
    original_call = maps.RegionInputs.__call__

    def timed_inputs(self, origins, patch):
        start = time.perf_counter()
        try:
            return original_call(self, origins, patch)
        finally:
            timings["inputs"] += time.perf_counter() - start

    def timed_scene(predict, inputs, patch, overlap=0.5, **options):
        def timed_predict(batch):
            start = time.perf_counter()
            try:
                return predict(batch)
            finally:
                timings["forward"] += time.perf_counter() - start

        generator = original_scene(timed_predict, inputs, patch, overlap, **options)
        while True:
            start = time.perf_counter()
            try:
                strip = next(generator)
            except StopIteration:
                timings["loop"] += time.perf_counter() - start
                return
            timings["loop"] += time.perf_counter() - start
            yield strip

    maps.infer_scene = timed_scene
    maps.RegionInputs.__call__ = timed_inputs
    start = time.perf_counter()
    result = maps.make_map("bench", settings["arch"], params, log_artifacts=False)
    wall = time.perf_counter() - start
    print(json.dumps({"wall": wall, "pixels": result.pixels, **timings, "peak_rss_mb": own_peak_rss_mb()}))


def prepare(root: Path, size: int, dates: int) -> Path:
    """Raw region, cube and params file for one size; returns the params path."""
    import yaml

    from lithomap.io.ingest import ingest_region

    base = yaml.safe_load(Path("params.yaml").read_text())
    region = write_region(root / "raw", size, dates)
    base["regions"] = {
        "bench": {
            "raw_dir": str(region.raw_dir),
            "crs": region.crs,
            "resolution": region.resolution,
            "bounds": list(region.bounds),
        }
    }
    base["ingest"]["interim_dir"] = str(root / "interim")
    base["map"]["maps_dir"] = str(root / "maps")
    path = root / "params.yaml"
    path.write_text(yaml.safe_dump(base))
    params = load_params(path)
    ingest_region("bench", params.region("bench"), params.ingest, progress=False)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024, 4096])
    parser.add_argument("--models", nargs="+", default=["cnn", "convlstm"])
    parser.add_argument("--dates", type=int, default=40)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    rows = []
    with tempfile.TemporaryDirectory(prefix="lithomap-bench-map-") as folder:
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{folder}/mlflow.db"
        registered = False
        for size in args.sizes:
            root = Path(folder) / str(size)
            params_path = prepare(root, size, args.dates)
            if not registered:
                for arch in args.models:
                    build_champion(arch, load_params(params_path), Path(folder))
                registered = True
            for arch in args.models:
                spec = json.dumps({"params": str(params_path), "arch": arch})
                output = subprocess.run(
                    [sys.executable, __file__, "--child", spec], capture_output=True, text=True, check=True
                ).stdout
                result = json.loads(output.strip().splitlines()[-1])
                rows.append({"size": size, "model": arch, **result})
                print(json.dumps(rows[-1]), flush=True)
    print("\n| grid | model | wall s | km²/s | Mpx/s | forward s | inputs s | blending overhead | peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        overhead = (row["loop"] - row["inputs"]) / row["forward"] if row["forward"] else float("nan")
        print(
            f"| {row['size']} × {row['size']} | {row['model']} | {row['wall']:.1f} | "
            f"{row['pixels'] * PIXEL_KM2 / row['wall']:.1f} | {row['pixels'] / 1e6 / row['wall']:.3f} | "
            f"{row['forward']:.1f} | {row['inputs']:.1f} | {overhead:.2f}× | {row['peak_rss_mb']:.0f} |"
        )


if __name__ == "__main__":
    main()
