"""Geological maps → labels: attribute choice, mapping, unmapped areas, the real Hamersley map."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from lithomap.classes import class_id_of, default_mapper, load_mapper
from lithomap.io.geology import load_geology
from lithomap.io.grid import RegionGrid
from tests.io import fakes

HAMERSLEY = RegionGrid.from_bounds("EPSG:28350", 100.0, (500_000, 7_490_000, 545_000, 7_520_000))


def test_spanish_legend_and_unmapped_area(tmp_path: Path) -> None:
    path = fakes.write_geology(
        tmp_path / "g.geojson",
        [
            ((-4.02, 38.69, -4.01, 38.70), "Calizas y dolomías"),
            ((-4.01, 38.69, -4.00, 38.70), "Texto raro"),
        ],
        attribute="DESCRIPCIO",
    )
    grid = RegionGrid.from_bounds(fakes.UTM, 50.0, (409_000, 4_282_000, 416_000, 4_287_000))
    geology = load_geology(path, grid, None, default_mapper())
    assert geology.attribute == "DESCRIPCIO"
    assert geology.mapping.class_of == {"Calizas y dolomías": class_id_of("carbonate")}
    assert geology.unmapped_km2()["Texto raro"] == pytest.approx(0.868 * 1.11, rel=0.02)
    labels = geology.rasterize(grid, next(grid.windows(256)))
    assert set(np.unique(labels)) == {0, class_id_of("carbonate")}


@pytest.mark.realdata
def test_real_hamersley_geology(realdata, tmp_path: Path) -> None:
    path = realdata("wa_hamersley_geology") / "geol_clip.shp"
    geology = load_geology(path, HAMERSLEY, "rocktype1", default_mapper())
    assert geology.n_features == 65
    assert geology.mapping.class_of == {
        "sedimentary siliciclastic": class_id_of("detritic"),
        "sedimentary carbonate": class_id_of("carbonate"),
        "igneous mafic volcanic": class_id_of("volcanic"),
        "igneous felsic volcanic": class_id_of("volcanic"),
        "igneous mafic intrusive": class_id_of("plutonic"),
    }
    # BIF/chert units are not in the packaged table: reported, not dropped
    unmapped = geology.unmapped_km2()
    assert list(unmapped) == ["sedimentary other chemical or biochemical"]
    assert 100 < unmapped["sedimentary other chemical or biochemical"] < 1350
    labels = geology.rasterize(HAMERSLEY, next(HAMERSLEY.windows(512)))
    assert set(np.unique(labels)) == {0, 7, 8, 9, 10}
    # the clip is 45 × 30 km = 1350 km²: mapped + unmapped area covers the whole grid
    assert np.count_nonzero(labels) * 0.01 + sum(unmapped.values()) == pytest.approx(1350, rel=0.02)


@pytest.mark.realdata
def test_real_hamersley_with_custom_mapping(realdata, tmp_path: Path) -> None:
    table = yaml.safe_load((Path(__file__).parents[2] / "src/lithomap/data/classes.yaml").read_text("utf-8"))
    table["exact"]["iron formation"] = "non_foliated"
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(yaml.safe_dump(table, allow_unicode=True), encoding="utf-8")
    geology = load_geology(
        realdata("wa_hamersley_geology") / "geol_clip.shp", HAMERSLEY, "lithname1", load_mapper(mapping)
    )
    assert geology.mapping.class_of["iron formation"] == class_id_of("non_foliated")
    assert geology.mapping.class_of["dolerite"] == class_id_of("plutonic")
    assert geology.mapping.class_of["basalt"] == class_id_of("volcanic")
    assert geology.mapping.class_of["dolostone/dolomite"] == class_id_of("carbonate")
    assert list(geology.unmapped_km2()) == ["(empty)"]  # ten polygons have no lithname1
