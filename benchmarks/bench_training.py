"""Benchmark: tf.data delivery vs training throughput of the CNN and the ConvLSTM (patches/s).

Run after `make demo` (it reads a processed dataset):
`python benchmarks/bench_training.py [--region puertollano] [--experiment thermal] [--epochs 4]`.
Prints a Markdown table of medians over epochs (the first epoch, with graph tracing, is
left out) and the ratio of input-pipeline to ConvLSTM training throughput.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import keras

from lithomap.classes import N_CLASSES
from lithomap.config import load_params
from lithomap.datasets.manifest import load_manifest
from lithomap.datasets.tfdata import input_spec, make_dataset
from lithomap.models.keras_metrics import MacroF1
from lithomap.models.losses import make_loss
from lithomap.training.fit import build_model, dataset_dir


class EpochTimer(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.started)


def pipeline_rate(folder, arch, batch, passes, patches) -> float:
    rates = []
    for index in range(passes + 1):
        started = time.perf_counter()
        for _ in make_dataset(folder, "train", arch, batch, shuffle=True, seed=index, augment=True):
            pass
        if index:
            rates.append(patches / (time.perf_counter() - started))
    return statistics.median(rates)


def training_rate(folder, arch, params, batch, epochs, patches) -> float:
    manifest = load_manifest(folder)
    model = build_model(arch, input_spec(manifest, arch), params.model, params.training().active().l2)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=make_loss([1.0] * N_CLASSES), metrics=[MacroF1()])
    timer = EpochTimer()
    data = make_dataset(folder, "train", arch, batch, shuffle=True, augment=True)
    model.fit(data, epochs=epochs, callbacks=[timer], verbose=0)
    return statistics.median(patches / s for s in timer.seconds[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--region", default="puertollano")
    parser.add_argument("--experiment", default="thermal")
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args()
    params = load_params()
    folder = dataset_dir(params.preprocess, args.region, args.experiment)
    manifest = load_manifest(folder)
    patches = manifest.patches["train"]
    batch = params.training().active().batch_size
    rows = []
    for arch in ("cnn", "convlstm"):
        rows.append(
            (
                arch,
                pipeline_rate(folder, arch, batch, 3, patches),
                training_rate(folder, arch, params, batch, args.epochs, patches),
            )
        )
    print(
        f"{args.region}/{args.experiment}: {patches} training patches of {manifest.patch_size} px, "
        f"{manifest.sequence_length} steps, batch {batch}; {os.cpu_count()} CPU cores "
        f"({platform.machine()}), keras backend {keras.backend.backend()}, no GPU\n"
    )
    print("| model | tf.data patches/s | training patches/s | tf.data ÷ training |")
    print("|---|---|---|---|")
    for arch, feed, fit in rows:
        print(f"| {arch} | {feed:.0f} | {fit:.1f} | {feed / fit:.1f}× |")


if __name__ == "__main__":
    main()
