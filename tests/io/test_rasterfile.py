"""Raster opening, decoding with the file's own tags, and read errors of truncated files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from lithomap.errors import InputDataError
from lithomap.io import formats
from lithomap.io.rasterfile import band_encoding, decode, open_raster, read_band
from tests.io import fakes


def test_tags_win_over_fallback(tmp_path: Path) -> None:
    path = fakes.write_tif(
        tmp_path / "a.tif",
        np.array([[0, 100]], np.int32),
        "EPSG:4326",
        from_origin(0, 1, 1, 1),
        0,
        {"scale_factor": "0.5", "add_offset": "10"},
    )
    with open_raster(path) as dataset:
        encoding = band_encoding(dataset, 1, formats.APPEEARS_ENCODINGS["LST"])
        values = decode(read_band(dataset, 1, None, path), encoding)
    assert (encoding.scale, encoding.offset, encoding.fill) == (0.5, 10.0, 0.0)
    assert np.isnan(values[0, 0]) and values[0, 1] == 60.0


def test_fallback_when_tags_absent(tmp_path: Path) -> None:
    path = fakes.write_tif(tmp_path / "b.tif", np.array([[15000]], np.int32), "EPSG:4326", from_origin(0, 1, 1, 1))
    with open_raster(path) as dataset:
        encoding = band_encoding(dataset, 1, formats.APPEEARS_ENCODINGS["LST"])
    assert (encoding.scale, encoding.fill) == (0.02, 0)
    assert decode(np.array([[15000]], np.int32), encoding)[0, 0] == pytest.approx(300.0)


def test_truncated_data_fails_on_read(tmp_path: Path) -> None:
    rng = fakes.seeded(1)
    data = rng.integers(0, 60000, (512, 512)).astype(np.int32)
    path = tmp_path / "cog.tif"
    with rasterio.open(
        path,
        "w",
        driver="COG",
        height=512,
        width=512,
        count=1,
        dtype="int32",
        crs="EPSG:4326",
        transform=from_origin(0, 1, 0.001, 0.001),
        compress="deflate",
        blocksize=128,
    ) as dst:
        dst.write(data, 1)
    payload = path.read_bytes()
    path.write_bytes(payload[: len(payload) // 2])
    with pytest.raises(InputDataError, match="truncated or corrupt") as caught, open_raster(path) as dataset:
        read_band(dataset, 1, None, path)
    assert caught.value.path == path
