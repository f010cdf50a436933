"""Benchmark: ingest wall time and peak memory as the region grows.

Two parts, each ingest run in a fresh subprocess whose own peak RSS is read from
``/proc/self/status`` (VmHWM):

* the default region (``puertollano`` from params.yaml, generated with the project's own
  scene generator into a temporary folder): wall time, goal < 60 s on 2 cores;
* synthetic regions of growing size (512² … 4096² px at 70 m, 40 ECOSTRESS AppEEARS dates
  each, written here as tiled, compressed GeoTIFFs on shifted EPSG:4326 grids): peak RSS,
  goal < 2 GB and roughly flat.

Run: ``python benchmarks/bench_ingest.py [--sizes 512 1024 2048 4096] [--dates 40] [--repeats 3]``
(``--max-repeat-size`` caps the sizes that are repeated; larger ones run once).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from rasterio.transform import from_origin
from rasterio.warp import transform_bounds

from lithomap.config import IngestParams, RegionParams, load_params
from lithomap.io import formats
from lithomap.scenes.writers import write_appeears_overpass

UTM = "EPSG:32630"
X0, Y0 = 400_000.0, 4_300_000.0


def write_region(raw: Path, size: int, n_dates: int) -> RegionParams:
    """A thermal-only region of ``size``² px at 70 m with ``n_dates`` AppEEARS overpasses."""
    raw.mkdir(parents=True, exist_ok=True)
    bounds = (X0, Y0 - size * 70.0, X0 + size * 70.0, Y0)
    west, south, east, north = transform_bounds(UTM, "EPSG:4326", *bounds)
    pixel = formats.APPEEARS_PIXEL_DEG
    rows = int((north - south) / pixel) + 8
    cols = int((east - west) / pixel) + 8
    r, c = np.mgrid[0:rows, 0:cols]
    pattern_k = ((r // 9 + c // 13) % 300) * 0.02
    shape = (rows, cols)
    for index in range(n_dates):
        when = datetime(2023, 1, 1, 10) + timedelta(days=9 * index, hours=(7 * index) % 14)
        shift = (index % 5) * 0.2 * pixel
        transform = from_origin(west - 4 * pixel + shift, north + 4 * pixel - shift, pixel, pixel)
        layers = {
            "LST": pattern_k + 280.0 + (index % 7),
            "EmisWB": np.full(shape, 0.96),
            "QC": np.zeros(shape),
            "CloudMask": np.ones(shape),
        }
        write_appeears_overpass(raw, when, layers, transform, orbit=20000 + index, scene=index % 40)
    return RegionParams(raw_dir=raw, crs=UTM, resolution=70.0, bounds=bounds)


def own_peak_rss_mb() -> float:
    """Peak RSS of this process's own memory (VmHWM).

    ``getrusage(RUSAGE_SELF).ru_maxrss`` is not used: Linux carries it across ``exec``, so a
    child started while the parent was large would report the parent's peak.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(spec: str) -> None:
    """Subprocess entry: ingest one region and print seconds and peak RSS as JSON."""
    from lithomap.io.ingest import ingest_region

    args = json.loads(spec)
    region = RegionParams.model_validate(args["region"])
    ingest = IngestParams.model_validate(args["ingest"])
    start = time.perf_counter()
    report = ingest_region(args["name"], region, ingest, progress=False)
    seconds = time.perf_counter() - start
    peak_mb = own_peak_rss_mb()
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_mb": peak_mb,
                "dates": len(report.dates),
                "shape": [report.grid["height"], report.grid["width"]],
            }
        )
    )


def run_child(name: str, region: RegionParams, ingest: IngestParams) -> dict[str, float]:
    spec = json.dumps(
        {"name": name, "region": region.model_dump(mode="json"), "ingest": ingest.model_dump(mode="json")}
    )
    done = subprocess.run([sys.executable, __file__, "--child", spec], check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def default_region_rows(tmp: Path, repeats: int) -> list[str]:
    try:
        from lithomap.scenes.generate import generate_region
    except ImportError:
        return ["| default region | generator not available | | | |"]
    params = load_params()
    name = "puertollano" if "puertollano" in params.regions else next(iter(params.regions))
    region = params.region(name).model_copy(update={"raw_dir": tmp / "raw" / name})
    generate_region(name, region, params.generate, quicklook=False, progress=False)
    ingest = params.ingest.model_copy(update={"interim_dir": tmp / "interim"})
    runs = [run_child(name, region, ingest) for _ in range(repeats)]
    seconds = statistics.median(r["seconds"] for r in runs)
    peak = max(r["peak_mb"] for r in runs)
    h, w = runs[0]["shape"]
    return [
        f"| default region {name} (thermal + S1 + S2 + geology) | {h}×{w} | {runs[0]['dates']} | "
        f"{seconds:.1f} | {peak:.0f} |"
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024, 2048, 4096])
    parser.add_argument("--dates", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-repeat-size", type=int, default=2048, help="larger regions are ingested once")
    parser.add_argument("--skip-default", action="store_true", help="skip the default-region row")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_ingest_") as tmp_name:
        tmp = Path(tmp_name)
        if not args.skip_default:
            rows += default_region_rows(tmp / "default", args.repeats)
        for size in args.sizes:
            region = write_region(tmp / f"r{size}" / "raw", size, args.dates)
            ingest = IngestParams(interim_dir=tmp / f"r{size}" / "interim")
            repeats = args.repeats if size <= args.max_repeat_size else 1
            runs = [run_child(f"r{size}", region, ingest) for _ in range(repeats)]
            seconds = statistics.median(r["seconds"] for r in runs)
            peak = max(r["peak_mb"] for r in runs)
            rows.append(f"| synthetic, {repeats} run(s) | {size}×{size} | {args.dates} | {seconds:.1f} | {peak:.0f} |")
            print(rows[-1], file=sys.stderr, flush=True)
    print(
        f"\nCPU cores available: {len(os.sched_getaffinity(0))}; window_px {IngestParams().window_px}, "
        f"chunk_px {IngestParams().chunk_px}\n"
    )
    print("| region | grid px | dates | median wall s | peak RSS MB |")
    print("|---|---|---:|---:|---:|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
