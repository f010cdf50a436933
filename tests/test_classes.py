"""The class table and the legend-text → class mapping."""

from __future__ import annotations

import csv

import pytest

from lithomap.classes import LithologyMapper, all_classes, class_id_of, default_mapper, normalise
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
        # common legend terms with no class of their own (classes.yaml explains each choice)
        ("Holocene River Alluvium (0-10 ka)", "sand"),
        ("Depósitos aluviales: gravas y arenas", "sand"),
        ("Playa deposits", "clay"),
        ("Arenas de playa", "sand"),  # Spanish "playa" is a beach, not a dry lake
        ("Middle Proterozoic Diabase (1050-1150 Ma)", "plutonic"),
        ("Dolerite dyke or sill", "plutonic"),
        ("Coal", "detritic"),
        ("Lignitos y arcillas", "detritic"),
        ("Banded iron-formation, chert, mudstone", "non_foliated"),
        ("iron formation", "non_foliated"),
        ("Gypsum sediment", "carbonate"),
        ("Anhydrite and halite", "carbonate"),
        ("Shallow Intrusions (14-35 Ma)", "plutonic"),
        ("Carbonatos", "carbonate"),
    ],
)
def test_legend_text_maps_to_expected_class(text, expected):
    assert default_mapper().map_text(text) == class_id_of(expected)


def test_normalise_strips_accents_case_and_spaces():
    assert normalise("  Dolomías   TABLEADAS ") == "dolomias tableadas"


def test_unmapped_terms_are_reported_with_their_area():
    report = default_mapper().map_terms({"Calizas": 5e6, "Zona urbana": 2e6, "Relleno antrópico": 1e6})
    assert report.class_of == {"Calizas": class_id_of("carbonate")}
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


def test_mapping_file_adds_to_and_overrides_the_packaged_table(tmp_path):
    table = tmp_path / "map.yaml"
    table.write_text(
        "exact:\n  'Calizas': chalk\n"
        "rules:\n  - {class: background, patterns: ['\\bzona urbana\\b']}\n"
        "  - {class: volcanic, patterns: ['\\bgranito porfidico\\b']}\n",
        encoding="utf-8",
    )
    mapper = LithologyMapper.from_file(table)
    assert mapper.map_text("Calizas") == class_id_of("chalk")  # exact text overridden
    assert mapper.map_text("Zona urbana") == class_id_of("background")  # added
    assert mapper.map_text("Granito porfídico") == class_id_of("volcanic")  # own rule wins the tie
    assert mapper.map_text("Granodioritas") == class_id_of("plutonic")  # packaged rules still apply
    assert mapper.map_text("Sin datos") == class_id_of("background")
    assert [c.name for c in mapper.classes] == [c.name for c in all_classes()]


def test_mapping_file_without_inheritance_uses_its_own_entries_only(tmp_path):
    table = tmp_path / "map.yaml"
    table.write_text("inherit: false\nrules:\n  - {class: clay, patterns: ['\\bclay\\b']}\n", encoding="utf-8")
    mapper = LithologyMapper.from_file(table)
    assert mapper.map_text("Clay") == class_id_of("clay")
    assert mapper.map_text("Granodioritas") is None


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("rule:\n  - {class: clay, patterns: ['x']}\n", "unknown key 'rule'"),
        ("rules:\n  - {class: clay, pattern: ['x']}\n", "rules[0]: a rule needs 'class' and 'patterns'"),
        (
            "rules:\n  - {class: clay, patterns: ['(unclosed']}\n",
            "rules[0]: pattern '(unclosed' is not a regular expression",
        ),
        ("rules:\n  - {class: clay, patterns: 'clay'}\n", "non-empty list of regular expressions"),
        ("rules: {class: clay}\n", "'rules' must be a list"),
        ("exact: [a, b]\n", "'exact' must map legend texts"),
        ("- clay\n", "must be a YAML mapping"),
        ("rules: [\n", "not valid YAML"),
    ],
)
def test_malformed_mapping_file_is_one_clear_error(tmp_path, content, problem):
    table = tmp_path / "map.yaml"
    table.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        LithologyMapper.from_file(table)
    assert str(info.value).startswith(str(table))
    assert problem in str(info.value)


def test_mapping_file_may_recolour_but_not_rename_classes(tmp_path):
    rows = [f"  - {{id: {c.id}, name: {c.name}, label: x, colour: '#123456'}}\n" for c in all_classes()]
    table = tmp_path / "map.yaml"
    table.write_text("classes:\n" + "".join(rows), encoding="utf-8")
    assert {c.colour for c in LithologyMapper.from_file(table).classes} == {"#123456"}
    table.write_text("classes:\n" + "".join(rows).replace("name: loam", "name: marl"), encoding="utf-8")
    with pytest.raises(ConfigError, match="must keep the 14 packaged names"):
        LithologyMapper.from_file(table)


def test_mapping_file_that_is_missing_or_not_utf8(tmp_path):
    with pytest.raises(ConfigError, match="mapping file not found"):
        LithologyMapper.from_file(tmp_path / "nope.yaml")
    table = tmp_path / "map.yaml"
    table.write_bytes("exact: {'Pizarras de Almadén': foliated}\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8 text"):
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
    assert mapper.map_text("Sandstone") == class_id_of("detritic")
    assert mapper.map_text("Basaltic lava") == class_id_of("volcanic")
    assert mapper.map_text("Schist") == class_id_of("foliated")


AZ_TERMS_WITHOUT_A_CLASS = {
    "Fine grained or porphyritic crystalline rock",  # "porphyr" → plutonic is a guess; kept as is
    "Intermediate-composition fine-grained rock",
    "Metasedimentary rock",
    "Peraluminous rock",
}


@pytest.mark.realdata
def test_real_arizona_rock_names_all_map_but_generic_ones(realdata):
    """Every AZGS StandardLithology rock name maps, except four too generic to place."""
    folder = realdata("az_lithology_vocab")
    with (folder / "StandardLithology.csv").open(encoding="utf-8", errors="replace") as handle:
        terms = {row["lithology"] for row in csv.DictReader(handle) if row.get("lithology")}
    report = default_mapper().map_terms(terms)
    assert set(report.unmapped_area) <= AZ_TERMS_WITHOUT_A_CLASS, report.describe_unmapped()
    assert report.class_of["Coal"] == class_id_of("detritic")
    assert report.class_of["Doleritic rock"] == class_id_of("plutonic")
    assert report.class_of["Gypsum rock"] == class_id_of("carbonate")
    assert report.class_of["Bentonite"] == class_id_of("clay")


@pytest.mark.realdata
def test_real_arizona_map_unit_names_for_alluvium_and_diabase(realdata):
    folder = realdata("az_lithology_vocab")
    with (folder / "DescriptionOfMapUnits.csv").open(encoding="utf-8", errors="replace") as handle:
        names = {row["name"].strip(): row["description"] for row in csv.DictReader(handle)}
    mapper = default_mapper()
    assert mapper.map_text("Holocene River Alluvium (0-10 ka)") == class_id_of("sand")
    assert mapper.map_text("Middle Proterozoic Diabase (1050-1150 Ma)") == class_id_of("plutonic")
    assert "playas" in names["Quaternary Surficial deposits, undivided (0-2 Ma)"]


@pytest.mark.realdata
def test_real_hamersley_lithology_names_all_map(realdata):
    """GSWA lithname1/lithname2 (incl. iron formation, dolerite) map without a custom table."""
    import pyogrio

    frame = pyogrio.read_dataframe(realdata("wa_hamersley_geology") / "geol_clip.shp", read_geometry=False)
    terms = set(frame["lithname1"].dropna()) | set(frame["lithname2"].dropna())
    report = default_mapper().map_terms(terms)
    assert report.complete, report.describe_unmapped()
    assert report.class_of["iron formation"] == class_id_of("non_foliated")
    assert report.class_of["dolerite"] == class_id_of("plutonic")
    assert report.class_of["siltstone/mudstone"] == class_id_of("silt")
