"""Climate augmentation: offsets and gains of the thermal anomalies of training patches, seeded, off by default."""

from __future__ import annotations

import numpy as np
import pytest

from lithomap.config import ClimateAugmentParams, parse_params
from lithomap.datasets.climate import ClimateDraw, shift_climate
from lithomap.datasets.features import TIME_CHANNELS, time_features
from lithomap.datasets.manifest import load_manifest
from lithomap.datasets.preprocess import preprocess_experiment, split_region
from lithomap.datasets.tfdata import make_dataset
from lithomap.training.fit import training_settings
from tests.conftest import tiny_params_dict

CLIMATE = ClimateAugmentParams(enabled=True, offset_k=1.0, gain=0.1, hour_shift_h=3.0)


def test_shift_climate_moves_the_anomalies_and_nothing_else():
    rng = np.random.default_rng(0)
    sequence = rng.normal(size=(4, 3, 3, 2)).astype(np.float32)  # lst_anomaly, emissivity
    sequence[1, 0, 0, 0] = np.nan
    static = rng.normal(size=(3, 3, 5)).astype(np.float32)
    statics = ["emissivity_mean", "lst_anomaly_day", "lst_anomaly_night", "lst_anomaly_std", "vv"]
    times = time_features([10.0, 22.0, 13.5, 0.0], [30, 120, 200, 0], [True, True, True, False])
    draw = ClimateDraw(offset=-0.7, gain=1.08, hours=2.0)

    moved, fixed, clock = shift_climate(sequence, static, times, draw, ["lst_anomaly", "emissivity"], statics)

    np.testing.assert_allclose(moved[..., 0], 1.08 * sequence[..., 0] - 0.7, rtol=1e-6)
    assert np.isnan(moved[1, 0, 0, 0]), "no data stays no data"
    np.testing.assert_array_equal(moved[..., 1], sequence[..., 1])
    np.testing.assert_allclose(fixed[..., 1:3], 1.08 * static[..., 1:3] - 0.7, rtol=1e-6)
    np.testing.assert_allclose(fixed[..., 3], 1.08 * static[..., 3], rtol=1e-6)
    np.testing.assert_array_equal(fixed[..., [0, 4]], static[..., [0, 4]])
    shifted = time_features([12.0, 24.0, 15.5, 0.0], [30, 120, 200, 0], [True, True, True, False])
    np.testing.assert_allclose(clock, shifted, atol=1e-6)
    assert (clock[3] == 0).all(), "a padded step keeps zero time features"
    np.testing.assert_array_equal(sequence[1, 0, 0, 0], np.nan)  # the input is not modified


def test_a_unit_draw_maps_onto_the_configured_ranges():
    settings = ClimateAugmentParams(enabled=True, offset_k=2.0, gain=0.2, hour_shift_h=1.5)
    assert ClimateDraw.from_unit([-1, 1, 0.5], settings) == ClimateDraw(offset=-2.0, gain=1.2, hours=0.75)


@pytest.fixture(scope="module")
def dataset(tiny_region, tmp_path_factory):
    """The tiny region's ``all`` experiment (thermal summaries and VV, VH, NDVI) in a processed folder of its own."""
    _, root = tiny_region
    raw = tiny_params_dict(root)
    out = tmp_path_factory.mktemp("climate")
    raw["preprocess"].update(processed_dir=str(out / "processed"), reports_dir=str(out / "reports"))
    params = parse_params(raw)
    region = params.region("tiny")
    split_region("tiny", region, params.ingest, params.preprocess)
    report = preprocess_experiment("tiny", region, params.ingest, params.preprocess, "all", params.experiment("all"))
    return report.output


def batches(folder, **options) -> list[tuple[dict[str, np.ndarray], np.ndarray]]:
    data = make_dataset(folder, "train", "convlstm", batch_size=4, **options)
    return [({k: v.numpy() for k, v in x.items()}, y.numpy()) for x, y in data]


def physical(values: np.ndarray, channel: str, manifest) -> np.ndarray:
    entry = manifest.normalisation[channel]
    return values * entry["std"] + entry["mean"]


def test_training_batches_take_an_offset_and_gain_within_the_ranges(dataset):
    manifest = load_manifest(dataset)
    plain, moved = batches(dataset), batches(dataset, seed=5, climate=CLIMATE)
    steps = [*manifest.step_channels, *TIME_CHANNELS]
    anomaly, valid = steps.index("lst_anomaly"), steps.index("valid")
    statics = manifest.static_channels
    untouched_steps = [steps.index(name) for name in ("emissivity", "valid", "sin_doy", "cos_doy")]
    untouched_static = [statics.index(name) for name in ("emissivity_mean", "vv", "vh", "ndvi")]
    offsets, gains, hours = [], [], []
    for (x, y), (xa, ya) in zip(plain, moved, strict=True):
        np.testing.assert_array_equal(y, ya)
        np.testing.assert_array_equal(x["sequence"][..., untouched_steps], xa["sequence"][..., untouched_steps])
        np.testing.assert_array_equal(x["static"][..., untouched_static], xa["static"][..., untouched_static])
        for k in range(len(y)):
            seen = x["sequence"][k, ..., valid] > 0
            before = physical(x["sequence"][k, ..., anomaly], "lst_anomaly", manifest)[seen]
            after = physical(xa["sequence"][k, ..., anomaly], "lst_anomaly", manifest)[seen]
            gain, offset = np.polyfit(before, after, 1)
            np.testing.assert_allclose(after, gain * before + offset, atol=2e-3)
            for name in ("lst_anomaly_day", "lst_anomaly_night"):
                column = statics.index(name)
                day = physical(x["static"][k, ..., column], name, manifest)
                finite = xa["static"][k, ..., column] != 0
                day_after = physical(xa["static"][k, ..., column], name, manifest)
                np.testing.assert_allclose(day_after[finite], gain * day[finite] + offset, atol=2e-3)
            spread = statics.index("lst_anomaly_std")
            finite = xa["static"][k, ..., spread] != 0
            np.testing.assert_allclose(
                physical(xa["static"][k, ..., spread], "lst_anomaly_std", manifest)[finite],
                gain * physical(x["static"][k, ..., spread], "lst_anomaly_std", manifest)[finite],
                atol=2e-3,
            )
            step = int(np.abs(x["sequence"][k, :, 0, 0, valid + 1 : valid + 3]).sum(axis=-1).argmax())  # not padded
            sin, cos = x["sequence"][k, step, 0, 0, [valid + 1, valid + 2]]
            sin_a, cos_a = xa["sequence"][k, step, 0, 0, [valid + 1, valid + 2]]
            hours.append(((np.arctan2(sin_a, cos_a) - np.arctan2(sin, cos)) * 24 / (2 * np.pi) + 12) % 24 - 12)
            offsets.append(offset)
            gains.append(gain)
    assert max(np.abs(offsets)) <= 1.0 + 1e-3 and max(np.abs(np.subtract(gains, 1))) <= 0.1 + 1e-3
    assert max(np.abs(hours)) <= 3.0 + 1e-3
    assert np.std(offsets) > 0.2 and np.std(gains) > 0.02 and np.std(hours) > 0.5, "each patch draws its own"


def test_same_seed_same_batches_and_off_is_unchanged(dataset):
    def equal(a, b) -> bool:
        return all(
            np.array_equal(ya, yb) and all(np.array_equal(xa[k], xb[k]) for k in xa)
            for (xa, ya), (xb, yb) in zip(a, b, strict=True)
        )

    seeded = {"shuffle": True, "seed": 3, "augment": True}
    first, again = batches(dataset, climate=CLIMATE, **seeded), batches(dataset, climate=CLIMATE, **seeded)
    assert equal(first, again)
    other = batches(dataset, climate=CLIMATE, **(seeded | {"seed": 4}))
    assert not equal(first, other)
    today = batches(dataset, **seeded)
    assert equal(today, batches(dataset, climate=ClimateAugmentParams(), **seeded)), "disabled changes nothing"
    assert not equal(today, first)


def test_climate_augmentation_enters_the_training_settings_only_when_enabled(tiny_region):
    params, _ = tiny_region
    train = params.training()
    enabled = train.model_copy(update={"climate_augment": CLIMATE})

    def settings(section):
        return training_settings("cnn", "thermal", [], [], [1.0] * 14, section, params.model, params.loss)

    assert "climate_augment" not in settings(train)["train"], "a run without it is recorded as before"
    assert settings(enabled)["train"]["climate_augment"] == CLIMATE.model_dump(mode="json")
