"""The class table and the legend-text → class mapping."""

from __future__ import annotations

import csv

import pytest

from lithomap.classes import LithologyMapper, all_classes, class_id, default_mapper, normalise
from lithomap.errors import ConfigError


def test_fourteen_classes_in_id_order_with_distinct_colours():
    classes = all_classes()
    assert [c.id for c in classes] == list(range(14))
    assert classes[6].name == "loam" and "marl" in classes[6].label
    assert len({c.colour for c in classes}) == 14


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # the IGME 1:1M LITOLOGIA values (SCIENCE.md 3.6)
        ("Otros granitoides", "plutonic"),
        ("Serpentinitas y peridotitas. Rocas básicas y ultrabásicas", "plutonic"),
        ("Vulcanitas y rocas volcanoclásticas", "volcanic"),
        ("Micaesquistos, filitas, areniscas, mármoles, calizas, dolomías y margas", "foliated"),
        ("Cuarcitas, pizarras, areniscas y calizas", "non_foliated"),
        ("Conglomerados, areniscas, calizas, yesos y arcillas versicolores", "detritic"),
        ("Calizas detríticas, calcarenitas, margas, arcillas y calizas", "carbonate"),
        ("Gravas, conglomerados, arenas y limos", "sand"),
        ("Sin datos", "background"),
        # keyword rules: the first-listed lithology wins
        ("Margas yesíferas con arcillas", "loam"),
        ("Arcillas y margas", "clay"),
        ("Areniscas y arenas", "detritic"),
        ("Arenas y areniscas", "sand"),
        ("Limos y arcillas de llanura de inundación", "silt"),
        ("Turberas y depósitos palustres", "peat"),
        ("Tizas y margocalizas", "chalk"),
        ("Pizarras y cuarcitas", "foliated"),
        # priority rules win wherever they appear
        ("Arenas de playa y lagunas", "water"),
        # English terms
        ("Sandstone and shale", "detritic"),
        ("Basaltic lava flows", "volcanic"),
        ("Granitic rock", "plutonic"),
        ("Schist", "foliated"),
        ("Quartzite", "non_foliated"),
        ("Dolostone", "carbonate"),
    ],
)
def test_legend_text_maps_to_expected_class(text, expected):
    assert default_mapper().class_id(text) == class_id(expected)


def test_normalise_strips_accents_case_and_spaces():
    assert normalise("  Dolomías   TABLEADAS ") == "dolomias tableadas"


def test_unmapped_terms_are_reported_with_their_area():
    report = default_mapper().map_terms({"Calizas": 5e6, "Zona urbana": 2e6, "Relleno antrópico": 1e6})
    assert report.class_of == {"Calizas": class_id("carbonate")}
    assert report.unmapped_area == {"Zona urbana": 2e6, "Relleno antrópico": 1e6}
    assert not report.complete
    listing = report.describe_unmapped()
    assert listing.index("Zona urbana") < listing.index("Relleno")
    assert "2.000 km²" in listing


def test_custom_mapping_file_with_unknown_class_is_rejected(tmp_path):
    table = tmp_path / "map.yaml"
    table.write_text(
        "classes:\n"
        + "".join(f"  - {{id: {c.id}, name: {c.name}, label: x, colour: '{c.colour}'}}\n" for c in all_classes())
        + "rules:\n  - {class: granite, patterns: ['granit']}\n"
    )
    with pytest.raises(ConfigError, match="unknown class 'granite'"):
        LithologyMapper.from_file(table)


@pytest.mark.realdata
def test_real_arizona_lithology_vocabulary_is_mostly_mapped(realdata):
    """Real AZGS StandardLithology terms: the English rules cover the rock names in it."""
    folder = realdata("az_lithology_vocab")
    with (folder / "StandardLithology.csv").open(encoding="utf-8", errors="replace") as handle:
        terms = [row["lithology"] for row in csv.DictReader(handle) if row.get("lithology")]
    report = default_mapper().map_terms(terms)
    mapper = default_mapper()
    assert len(report.class_of) / len(set(terms)) > 0.6, report.describe_unmapped()
    assert mapper.class_id("Sandstone") == class_id("detritic")
    assert mapper.class_id("Basaltic lava") == class_id("volcanic")
    assert mapper.class_id("Schist") == class_id("foliated")
