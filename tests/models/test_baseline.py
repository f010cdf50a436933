"""Per-pixel gradient-boosting baselines: the networks' channels, raw features, class weights, sampling."""

from __future__ import annotations

import numpy as np
import pytest

from lithomap.config import parse_params
from lithomap.datasets.features import TIME_CHANNELS, channel_names
from lithomap.datasets.manifest import load_manifest
from lithomap.datasets.preprocess import preprocess_experiment, split_region
from lithomap.errors import LithomapError
from lithomap.io.cube import cube_path, open_cube
from lithomap.models.baseline import (
    PixelBaseline,
    channel_features,
    fit_baseline,
    network_features,
    pixel_features,
    predict_baseline,
    scene_features,
    stratified_sample,
    summary_features,
)
from lithomap.models.metrics import confusion_matrix, scores_from_confusion
from tests.conftest import tiny_params_dict


def _scene(seed: int, size: int = 12, steps: int = 8):
    """Clay (2) swings little between day and night, sand (1) a lot; background 0 on one row."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(1, 3, (size, size))
    labels[0] = 0
    is_day = np.arange(steps) % 2 == 0
    swing = np.where(labels == 1, 12.0, 5.0)
    lst = 295 + np.where(is_day[:, None, None], swing, -swing) / 2 + rng.normal(0, 1.0, (steps, size, size))
    valid = rng.random(lst.shape) > 0.2
    lst[~valid] = np.nan
    static = rng.normal(size=(size, size, 3))
    return lst, valid, is_day, static, labels


def test_features_have_the_documented_columns():
    lst, valid, is_day, static, _ = _scene(0)
    features, names = pixel_features(
        lst, valid, is_day, emissivity=np.full_like(lst, 0.95), static=static, static_names=("vv", "vh", "ndvi")
    )
    assert names == (
        "lst_mean",
        "lst_amplitude",
        "lst_std",
        "day_night_diff",
        "ati_proxy",
        "emissivity_mean",
        "vv",
        "vh",
        "ndvi",
    )
    assert features.shape == (144, 9)
    column = dict(zip(names, features.T, strict=True))
    np.testing.assert_allclose(column["ati_proxy"], 1 / np.maximum(column["day_night_diff"], 0.1), rtol=1e-5)


def test_pixel_without_night_dates_gets_nan_day_night_difference():
    lst, valid, is_day, _, _ = _scene(0)
    valid[~is_day, 3, 3] = False
    features, names = pixel_features(lst, valid, is_day)
    assert np.isnan(features[3 * 12 + 3, names.index("day_night_diff")])


def test_baseline_learns_the_diurnal_contrast_and_scores_on_held_out_pixels():
    train_features, _ = pixel_features(*_scene(1)[:3])
    train_labels = _scene(1)[4]
    lst, valid, is_day, _, test_labels = _scene(2)
    test_features, _ = pixel_features(lst, valid, is_day)
    classifier = fit_baseline(train_features, train_labels, max_iter=30)
    assert set(classifier.classes_) == {1, 2}  # background dropped
    predicted = predict_baseline(classifier, test_features, test_labels.shape)
    assert scores_from_confusion(confusion_matrix(test_labels, predicted))["oa"] > 0.85


def test_bad_shapes_raise():
    lst, valid, is_day, _, labels = _scene(0)
    with pytest.raises(LithomapError):
        pixel_features(lst, valid[:-1], is_day)
    with pytest.raises(LithomapError):
        fit_baseline(np.zeros((3, 2)), labels)
    with pytest.raises(LithomapError):
        fit_baseline(np.zeros((4, 2)), np.zeros(4))


def test_pixel_baseline_drops_uninformative_columns_and_still_predicts():
    rng = np.random.default_rng(0)
    labels = rng.integers(1, 4, 500)
    informative = labels[:, None] + rng.normal(0, 0.1, (500, 1))
    night_only = np.full((500, 1), np.nan)  # e.g. the day–night difference of a day-only experiment
    features = np.hstack([informative, night_only, np.ones((500, 1))])
    baseline = PixelBaseline(features, labels, seed=0, sample_pixels=400, max_iter=20)
    assert baseline.columns.tolist() == [True, False, False]
    assert (baseline.predict(features) == labels).mean() > 0.95


def test_stratified_sample_keeps_class_shares_and_every_class():
    labels = np.repeat([0, 1, 2, 3], [500, 9000, 900, 3])
    rng = np.random.default_rng(0)
    sample = stratified_sample(labels, 1000, rng)
    counts = np.bincount(labels[sample], minlength=4)
    assert counts[0] == 0 and counts[1:].tolist() == [909, 91, 1]  # 1000 · share, rounded, at least one
    assert len(set(sample.tolist())) == sample.size
    assert stratified_sample(labels, None, rng).tolist() == np.flatnonzero(labels > 0).tolist()
    assert stratified_sample(labels, 10**6, rng).size == 9903


def test_class_weights_make_the_baseline_find_a_rare_class():
    rng = np.random.default_rng(1)
    labels = np.repeat([1, 2], [3000, 60])
    features = (labels == 2)[:, None] * 0.8 + rng.normal(0, 0.5, (labels.size, 1))
    recall = {}
    for name, weights in (("plain", None), ("weighted", [0.0, 1.0, 50.0])):
        baseline = PixelBaseline(features, labels, seed=0, sample_pixels=None, max_iter=30, class_weights=weights)
        recall[name] = (baseline.predict(features[labels == 2]) == 2).mean()
    assert recall["weighted"] > recall["plain"] + 0.3


def test_channel_features_lay_out_steps_then_static_channels():
    rng = np.random.default_rng(0)
    sequence = rng.normal(size=(3, 4, 5, 2)).astype(np.float32)
    static = rng.normal(size=(4, 5, 2)).astype(np.float32)
    features, names = channel_features(sequence, static, ("lst_anomaly", "emissivity"), ("vv", "vh"))
    assert names[:3] == ("t00_lst_anomaly", "t00_emissivity", "t01_lst_anomaly") and names[-2:] == ("vv", "vh")
    pixel = 2 * 5 + 3
    np.testing.assert_array_equal(features[pixel, :6], sequence[:, 2, 3, :].reshape(-1))
    np.testing.assert_array_equal(features[pixel, 6:], static[2, 3])
    with pytest.raises(LithomapError):
        channel_features(sequence, static, ("lst_anomaly",), ("vv", "vh"))


@pytest.fixture(scope="module")
def all_dataset(tiny_region, tmp_path_factory):
    """The tiny region's ``all`` experiment (summaries, VV, VH, NDVI) preprocessed into a folder of its own."""
    _, root = tiny_region
    raw = tiny_params_dict(root)
    raw["preprocess"]["processed_dir"] = str(tmp_path_factory.mktemp("baseline") / "processed")
    params = parse_params(raw)
    region = params.region("tiny")
    split_region("tiny", region, params.ingest, params.preprocess)
    report = preprocess_experiment("tiny", region, params.ingest, params.preprocess, "all", params.experiment("all"))
    cube = open_cube(cube_path(params.ingest.interim_dir, "tiny"), region)
    return cube, load_manifest(report.output), report.output


def test_fair_baseline_sees_the_networks_channels(all_dataset):
    cube, manifest, folder = all_dataset
    features = network_features(cube, manifest)
    steps, width = manifest.sequence_length, manifest.shape[1]
    assert features.shape == (manifest.shape[0] * width, 2 * steps + len(manifest.static_channels))
    networks = channel_names(steps, manifest.step_channels, manifest.static_channels, "cnn")["features"]
    _, names = channel_features(
        np.zeros((steps, 1, 1, 2)), np.zeros((1, 1, 7)), manifest.step_channels, manifest.static_channels
    )
    assert list(names) == [n for n in networks if not n.endswith(TIME_CHANNELS)], "every network channel but the clock"
    with np.load(sorted(folder.glob("train-*.npz"))[0]) as shard:
        (row, col), sequence, static = shard["origin"][0], shard["sequence"][0], shard["static"][0]
    patch = manifest.patch_size
    for r, c in [(0, 0), (patch // 2, patch // 3), (patch - 1, patch - 1)]:
        pixel = (row + r) * width + (col + c)
        stored = np.concatenate([sequence[:, r, c, :].reshape(-1), static[r, c]]).astype(np.float32)
        np.testing.assert_allclose(features[pixel], stored, rtol=2e-3, atol=1e-3, equal_nan=True)


def test_summary_features_are_the_networks_static_channels_and_ignore_a_warmer_scene(all_dataset):
    cube, manifest, _ = all_dataset
    summary = summary_features(cube, manifest)
    static = len(manifest.static_channels)
    assert summary.shape == (manifest.shape[0] * manifest.shape[1], static)
    np.testing.assert_allclose(summary, network_features(cube, manifest)[:, -static:], equal_nan=True)

    warmer = cube.assign(lst=cube["lst"] + 5.0)  # a region 5 K warmer, same materials
    np.testing.assert_allclose(summary_features(warmer, manifest), summary, atol=1e-3, equal_nan=True)
    raw_mean = scene_features(warmer, manifest)[:, 0] - scene_features(cube, manifest)[:, 0]
    assert np.nanmedian(raw_mean) == pytest.approx(5.0, abs=1e-3), "the raw features see the warming"

    no_summaries = manifest.model_copy(update={"selection": manifest.selection | {"summaries": False}})
    with pytest.raises(LithomapError, match="summaries: false"):
        summary_features(cube, no_summaries)


def test_baseline_probabilities_cover_every_class_and_agree_with_its_labels():
    lst, valid, is_day, static, labels = _scene(0)
    features, _ = pixel_features(lst, valid, is_day, static=static, static_names=("vv", "vh", "ndvi"))
    labels = labels.reshape(-1)
    baseline = PixelBaseline(features, labels, seed=0, sample_pixels=None, max_iter=20)
    probabilities = baseline.predict_proba(features)
    assert probabilities.shape == (len(features), 14) and probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    unseen = [c for c in range(14) if c not in np.unique(labels)]
    assert unseen and (probabilities[:, unseen] == 0).all(), "a class it never saw gets no probability"
    np.testing.assert_array_equal(probabilities.argmax(axis=1), baseline.predict(features))
