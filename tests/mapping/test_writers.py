"""Map rasters (COG, colour table, band names), the vector map and the picture, from known probabilities."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from rasterio.crs import CRS
from rasterio.features import shapes, sieve
from rasterio.transform import from_origin
from scipy import ndimage
from shapely.geometry import shape

from lithomap.classes import N_CLASSES, class_names
from lithomap.mapping.picture import class_colours, draw_map
from lithomap.mapping.vector import FOUR_CONNECTED, LAYER, class_areas, vectorise
from lithomap.mapping.writers import (
    CLASSES_FILE,
    CONFIDENCE_FILE,
    DIFFERENCE_FILE,
    MARGIN_FILE,
    PROBABILITIES_FILE,
    MapRasters,
    colour_table,
    strip_products,
)

SHAPE = (90, 70)
CRS_UTM = CRS.from_epsg(32630)
TRANSFORM = from_origin(390000, 4296390, 70, 70)


def _probabilities(rng: np.random.Generator, rows: int) -> np.ndarray:
    """Peaked probabilities whose top class is a blocky pattern of classes 1–13."""
    top = np.kron(rng.integers(1, N_CLASSES, size=(rows // 10 + 1, 7)), np.ones((10, 10), dtype=int))[:rows]
    logits = rng.normal(0, 0.3, size=(rows, SHAPE[1], N_CLASSES))
    np.put_along_axis(logits, top[..., None], 3.0, axis=-1)
    weights = np.exp(logits)
    return (weights / weights.sum(-1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    folder = tmp_path_factory.mktemp("map")
    rng = np.random.default_rng(3)
    probabilities = _probabilities(rng, SHAPE[0])
    valid = np.ones(SHAPE, dtype=bool)
    valid[:, :3] = False
    label = np.where(rng.random(SHAPE) < 0.7, probabilities.argmax(-1), 0)
    label[:10] = 5  # partly wrong
    with MapRasters(folder, CRS_UTM, TRANSFORM, SHAPE, labelled=True) as rasters:
        for row in range(0, SHAPE[0], 32):
            rows = slice(row, row + 32)
            rasters.write(row, probabilities[rows], valid[rows], label[rows])
        rasters.finish()
    return folder, probabilities, valid, label


def test_rasters_are_cogs_on_the_region_grid_and_nothing_temporary_is_left(written):
    folder, *_ = written
    for name in (CLASSES_FILE, PROBABILITIES_FILE, CONFIDENCE_FILE, MARGIN_FILE, DIFFERENCE_FILE):
        with rasterio.open(folder / name) as source:
            assert source.crs == CRS_UTM and source.transform == TRANSFORM and source.shape == SHAPE
            assert source.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
    assert not [path for path in folder.iterdir() if path.name.startswith(".")]


def test_classes_carry_values_colours_and_names(written):
    folder, probabilities, valid, _ = written
    with rasterio.open(folder / CLASSES_FILE) as source:
        classes = source.read(1)
        assert source.colormap(1)[2] == colour_table()[2]
        assert source.descriptions[0].startswith("lithology class")
        assert source.tags(1)["CLASS_13"] == "water"
        assert source.nodata == 0
    assert classes.max() <= 13 and (classes[valid] > 0).all() and (classes[~valid] == 0).all()
    np.testing.assert_array_equal(classes[valid], probabilities[..., 1:].argmax(-1)[valid] + 1)
    categories = ET.parse(folder / f"{CLASSES_FILE}.aux.xml").findall(".//CategoryNames/Category")
    assert [c.text for c in categories] == list(class_names())


def test_probabilities_sum_to_255_and_bands_are_named(written):
    folder, _, valid, _ = written
    with rasterio.open(folder / PROBABILITIES_FILE) as source:
        stack = source.read().astype(int)
        assert source.count == N_CLASSES and source.descriptions[2] == "p(clay) x 255"
    total = stack.sum(axis=0)
    assert np.abs(total[valid] - 255).max() <= 14 and (total[~valid] == 0).all()
    with rasterio.open(folder / CONFIDENCE_FILE) as source:
        confidence = source.read(1)
    with rasterio.open(folder / MARGIN_FILE) as source:
        margin = source.read(1)
    assert np.isnan(confidence[~valid]).all() and ((confidence[valid] > 0) & (confidence[valid] <= 1)).all()
    assert (margin[valid] >= 0).all() and (margin[valid] <= confidence[valid]).all()


def test_difference_map(written):
    folder, _, valid, label = written
    with rasterio.open(folder / CLASSES_FILE) as source:
        classes = source.read(1)
    with rasterio.open(folder / DIFFERENCE_FILE) as source:
        diff = source.read(1)
    scored = valid & (label > 0)
    assert (diff[~scored] == 0).all()
    np.testing.assert_array_equal(diff[scored], np.where(classes[scored] == label[scored], 1, 2))
    assert (diff == 2).any() and (diff == 1).any()


def test_sieve_removes_areas_under_the_minimum_mapping_unit():
    classes = np.full((20, 20), 3, dtype=np.uint8)
    classes[5, 5] = 7  # one pixel
    classes[10:13, 10:13] = 8  # nine pixels
    sieved, ids = class_areas(classes, min_mapping_unit_px=4)
    assert sieved[5, 5] == 3 and (sieved[10:13, 10:13] == 8).all()
    assert ids.max() == 2


def test_vector_map_matches_the_raster_areas(written, tmp_path):
    folder, *_ = written
    target = tmp_path / "map.gpkg"
    vectorise(folder / CLASSES_FILE, folder / CONFIDENCE_FILE, target, min_mapping_unit_px=4)
    frame = gpd.read_file(target, layer=LAYER)
    assert frame.crs == CRS_UTM
    assert list(frame.columns[:4]) == ["class_id", "class_name", "area_km2", "mean_confidence"]
    assert frame.geometry.is_valid.all() and (frame["mean_confidence"].between(0, 1)).all()
    with rasterio.open(folder / CLASSES_FILE) as source:
        classes = source.read(1)
    sieved, _ = class_areas(classes, 4)
    pixel_km2 = 70 * 70 / 1e6
    for class_id, area in frame.groupby("class_id")["area_km2"].sum().items():
        raster_area = (sieved == class_id).sum() * pixel_km2
        assert area == pytest.approx(raster_area, rel=0.02)
        assert frame.loc[frame["class_id"] == class_id, "class_name"].iloc[0] == class_names()[class_id]
    assert frame["area_km2"].sum() == pytest.approx((classes > 0).sum() * pixel_km2, rel=0.02)


def _speckled_rasters(folder, rng: np.random.Generator, shape: tuple[int, int]):
    """Class and confidence GeoTIFFs like an untrained model's map: blocks, salt, no-data holes."""
    blocks = rng.integers(1, N_CLASSES, size=(shape[0] // 6 + 1, shape[1] // 6 + 1))
    classes = np.kron(blocks, np.ones((6, 6), dtype=int))[: shape[0], : shape[1]].astype(np.uint8)
    salt = rng.random(shape) < 0.2
    classes[salt] = rng.integers(1, N_CLASSES, size=int(salt.sum()))
    classes[rng.random(shape) < 0.03] = 0
    classes[5:15, 20:35] = 0
    confidence = np.where(classes > 0, rng.uniform(0.1, 1.0, size=shape), np.nan).astype(np.float32)
    profile = {"driver": "GTiff", "height": shape[0], "width": shape[1], "count": 1, "crs": CRS_UTM}
    paths = folder / "classes.tif", folder / "confidence.tif"
    for path, array in zip(paths, (classes, confidence), strict=True):
        with rasterio.open(path, "w", dtype=array.dtype, transform=TRANSFORM, **profile) as target:
            target.write(array, 1)
    return paths, classes, confidence


def _whole_scene_vector_map(classes: np.ndarray, confidence: np.ndarray, min_mapping_unit_px: int) -> gpd.GeoDataFrame:
    """The vector map computed on whole-scene arrays in one frame (what ``vectorise`` did before it streamed)."""
    sieved = np.where(classes > 0, sieve(classes, size=min_mapping_unit_px, connectivity=4), 0).astype(np.uint8)
    ids = np.zeros(classes.shape, dtype=np.int32)
    for value in np.unique(sieved[sieved > 0]):
        labelled, _ = ndimage.label(sieved == value, structure=FOUR_CONNECTED)
        ids[labelled > 0] = labelled[labelled > 0] + ids.max()
    index = np.arange(1, ids.max() + 1)
    mean_confidence = ndimage.mean(np.nan_to_num(confidence), labels=ids, index=index)
    class_of = ndimage.maximum(sieved, labels=ids, index=index)
    records, geometries = [], []
    for geometry, value in shapes(ids, mask=ids > 0, connectivity=4, transform=TRANSFORM):
        polygon = shape(geometry)
        class_id = int(class_of[int(value) - 1])
        geometries.append(polygon)
        records.append(
            {
                "class_id": class_id,
                "class_name": class_names()[class_id],
                "area_km2": polygon.area / 1e6,
                "mean_confidence": float(mean_confidence[int(value) - 1]),
            }
        )
    return gpd.GeoDataFrame(records, geometry=geometries, crs=CRS_UTM)


def test_vector_map_written_in_batches_equals_the_whole_scene_computation(tmp_path):
    (classes_path, confidence_path), classes, confidence = _speckled_rasters(
        tmp_path, np.random.default_rng(11), (70, 90)
    )
    target = tmp_path / "map.gpkg"
    written = vectorise(classes_path, confidence_path, target, min_mapping_unit_px=4, batch_size=7)
    frame = gpd.read_file(target, layer=LAYER)
    expected = _whole_scene_vector_map(classes, confidence, 4)
    assert written == len(frame) == len(expected) > 50
    assert list(frame.columns) == list(expected.columns) and (frame.dtypes == expected.dtypes).all()
    assert frame["class_id"].tolist() == expected["class_id"].tolist()
    assert frame["class_name"].tolist() == expected["class_name"].tolist()
    np.testing.assert_array_equal(frame["area_km2"], expected["area_km2"])
    np.testing.assert_allclose(frame["mean_confidence"], expected["mean_confidence"], rtol=1e-12)
    assert (frame.geometry.to_wkb() == expected.geometry.to_wkb()).all()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["classes.tif", "confidence.tif", "map.gpkg"]


def test_vector_map_of_a_raster_without_data_is_an_empty_layer(tmp_path):
    (classes_path, confidence_path), *_ = _speckled_rasters(tmp_path, np.random.default_rng(1), (20, 20))
    with rasterio.open(classes_path, "r+") as target:
        target.write(np.zeros((20, 20), dtype=np.uint8), 1)
    assert vectorise(classes_path, confidence_path, tmp_path / "map.gpkg", min_mapping_unit_px=4) == 0
    frame = gpd.read_file(tmp_path / "map.gpkg", layer=LAYER)
    assert frame.empty and list(frame.columns) == ["class_id", "class_name", "area_km2", "mean_confidence", "geometry"]


def test_vector_map_memory_follows_a_few_bytes_per_pixel(tmp_path):
    """Traced peak of ``vectorise`` on a speckled 512² map: the uint8 and int32 rasters, no wider copies.

    Whole-scene ``ndimage.mean``/``maximum`` (intp labels, float64 weights, an argsort)
    and one frame of every polygon took about 31 bytes a pixel here; now about 18.
    """
    import tracemalloc

    side = 512
    (classes_path, confidence_path), *_ = _speckled_rasters(tmp_path, np.random.default_rng(5), (side, side))
    tracemalloc.start()
    polygons = vectorise(classes_path, confidence_path, tmp_path / "map.gpkg", min_mapping_unit_px=4)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert polygons > 3_000
    assert peak < 24 * side * side, f"peak {peak / side / side:.1f} bytes a pixel for {polygons} polygons"


def test_strip_products_in_chunks_equal_the_whole_strip(monkeypatch):
    import lithomap.mapping.writers as writers

    rng = np.random.default_rng(2)
    probabilities = _probabilities(rng, 23)
    probabilities[3, 4] = np.nan
    valid = rng.random((23, SHAPE[1])) > 0.1
    whole = writers._chunk_products(probabilities, valid)
    monkeypatch.setattr(writers, "CHUNK_PX", 3 * SHAPE[1] + 5)
    chunked = strip_products(probabilities, valid)
    assert chunked.keys() == whole.keys()
    for name, array in whole.items():
        np.testing.assert_array_equal(chunked[name], array, err_msg=name)


def test_picture_pixels_are_the_class_colour_map(written, tmp_path):
    import matplotlib.pyplot as plt

    from lithomap.mapping.legend import class_colormap

    folder, *_ = written
    with rasterio.open(folder / CLASSES_FILE) as source:
        classes = source.read(1)
    cmap, norm = class_colormap()
    pictures = []
    for name, image, options in (
        ("colour_map", np.ma.masked_equal(classes, 0), {"cmap": cmap, "norm": norm}),
        ("rgba", class_colours(classes), {}),
    ):
        figure, ax = plt.subplots(figsize=(3, 3))
        ax.imshow(image, interpolation="nearest", **options)
        figure.savefig(tmp_path / f"{name}.png", dpi=60)
        plt.close(figure)
        pictures.append(plt.imread(tmp_path / f"{name}.png"))
    np.testing.assert_array_equal(pictures[0], pictures[1])
    assert class_colours(classes)[classes == 0, 3].max() == 0


def test_picture(written, tmp_path):
    folder, *_ = written
    path = draw_map(folder / CLASSES_FILE, tmp_path / "map.png", "tiny cnn")
    assert path.stat().st_size > 20_000


def test_memory_follows_the_strip_not_the_scene(tmp_path):
    """Writing a 1024 × 1024 map in 64-row strips: traced peak far below one full-scene probability array."""
    import tracemalloc

    shape, strip = (1024, 1024), 32
    probabilities = np.full((strip, shape[1], N_CLASSES), 1 / N_CLASSES, dtype=np.float32)
    probabilities[..., 4] += 0.1
    valid = np.ones((strip, shape[1]), dtype=bool)
    tracemalloc.start()
    with MapRasters(tmp_path, CRS_UTM, TRANSFORM, shape, labelled=False) as rasters:
        for row in range(0, shape[0], strip):
            rasters.write(row, probabilities, valid)
        rasters.finish()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    full_scene = shape[0] * shape[1] * N_CLASSES * 4
    assert peak < full_scene / 4, f"peak {peak / 1e6:.0f} MB vs {full_scene / 1e6:.0f} MB for the whole scene"
    with rasterio.open(tmp_path / CLASSES_FILE) as source:
        assert source.shape == shape and (source.read(1, window=((1000, 1024), (0, 10))) == 4).all()
