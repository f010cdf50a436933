"""Fixtures of the io tests: a tiny region folder laid out like the synthetic generator's."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from rasterio.warp import transform_bounds

from lithomap.config import IngestParams, RegionParams
from tests.io import fakes

REGION_PX = 40
RESOLUTION = 70.0
TIMES = (datetime(2023, 3, 1, 10, 40, 0), datetime(2023, 7, 15, 4, 5, 30), datetime(2023, 8, 2, 21, 12, 0))


@pytest.fixture
def region_bounds() -> tuple[float, float, float, float]:
    side = REGION_PX * RESOLUTION
    return fakes.UTM_X0, fakes.UTM_Y0 - side, fakes.UTM_X0 + side, fakes.UTM_Y0


@pytest.fixture
def fake_region(tmp_path: Path, region_bounds) -> RegionParams:
    """A region folder of fake products (tests.io.fakes): ECOSTRESS (3 dates), S1 (2, with DEM), S2 (1), geology."""
    rng = fakes.seeded(42)
    raw = tmp_path / "raw" / "tiny"
    west, south, east, north = transform_bounds(fakes.UTM, "EPSG:4326", *region_bounds)
    margin = 0.003
    pixel = fakes.formats.APPEEARS_PIXEL_DEG
    n_rows = int((north - south + 2 * margin) / pixel) + 1
    n_cols = int((east - west + 2 * margin) / pixel) + 1
    for index, time in enumerate(TIMES):
        shift = 0.3 * index * pixel
        lst = 290.0 + 5 * index + rng.normal(0, 0.5, (n_rows, n_cols))
        fakes.write_appeears(raw / "ecostress", time, lst, lon0=west - margin + shift, lat0=north + margin - shift)
    s1_side = int(REGION_PX * RESOLUTION / 30) + 4
    for day in (5, 17):
        vv = rng.gamma(4.4, 0.1 / 4.4, (s1_side, s1_side))
        vh = rng.gamma(4.4, 0.02 / 4.4, (s1_side, s1_side))
        fakes.write_hyp3(
            raw / "sentinel1",
            datetime(2023, 5, day, 18, 0, 0),
            vv,
            vh,
            x0=fakes.UTM_X0 - 60,
            y0=fakes.UTM_Y0 + 60,
            dem=fakes.dem_ramp(vv.shape, 30.0),
        )
    s2_side = int(REGION_PX * RESOLUTION / 10) + 12
    red = np.full((s2_side, s2_side), 1000 + 800, np.uint16)  # reflectance 0.08 after the −1000 offset
    nir = np.full((s2_side, s2_side), 1000 + 3200, np.uint16)  # 0.32 → NDVI 0.6
    scl = np.full((s2_side // 2, s2_side // 2), 4, np.uint8)
    scl[:5, :] = 9  # a strip of cloud at the top
    fakes.write_s2_safe(
        raw / "sentinel2",
        datetime(2023, 6, 10, 10, 56, 1),
        red,
        nir,
        scl=scl,
        x0=fakes.UTM_X0 - 60,
        y0=fakes.UTM_Y0 + 60,
    )
    mid = (west + east) / 2
    fakes.write_geology(
        raw / "geology" / "mapa_geologico.gpkg",
        [
            ((west - 0.01, south - 0.01, mid, north + 0.01), "Pizarras, grauvacas y cuarcitas"),
            ((mid, south - 0.01, east + 0.01, north + 0.01), "Granitos de dos micas"),
            ((mid, south - 0.01, mid + 0.003, south + 0.003), "Zona sin clasificar XYZ"),
        ],
    )
    return RegionParams(raw_dir=raw, crs=fakes.UTM, resolution=RESOLUTION, bounds=region_bounds)


@pytest.fixture
def ingest_params(tmp_path: Path) -> IngestParams:
    return IngestParams(interim_dir=tmp_path / "interim", chunk_px=32, window_px=32)
