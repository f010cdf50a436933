"""Benchmark: wall time and peak memory of generating each default region.

Run: `python benchmarks/bench_generate.py [--repeats 3]`. Prints a Markdown table of the
median wall time over the repeats and the peak RSS of the process, region by region.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import tempfile
import time
from pathlib import Path

from lithomap.config import load_params
from lithomap.scenes.generate import generate_region


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    args = parser.parse_args()
    params = load_params(args.params)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for name, region in params.regions.items():
            if region.synthetic is None:
                continue
            target = region.model_copy(update={"raw_dir": Path(scratch) / name})
            times = []
            for _ in range(args.repeats):
                started = time.perf_counter()
                report = generate_region(name, target, params.generate, quicklook=False, progress=False)
                times.append(time.perf_counter() - started)
            size_mb = sum(p.stat().st_size for p in target.raw_dir.rglob("*") if p.is_file()) / 2**20
            rows.append((name, statistics.median(times), min(times), max(times), report.files, size_mb))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"generate, default size ({params.generate.size_px} px at {params.generate.thermal_resolution_m:g} m), "
        f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}, {args.repeats} repeats\n"
    )
    print("| region | median s | min s | max s | files | MiB on disk |")
    print("|---|---|---|---|---|---|")
    for name, median, low, high, files, size_mb in rows:
        print(f"| {name} | {median:.1f} | {low:.1f} | {high:.1f} | {files} | {size_mb:.0f} |")
    print(f"\npeak RSS of the benchmark process: {peak_mb:.0f} MiB")


if __name__ == "__main__":
    main()
