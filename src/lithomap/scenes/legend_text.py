"""Spanish map-legend wording per class, as IGME/MAGNA legends phrase it.

The generator gives each polygon one of its class's texts, so the mapping table is
exercised on realistic, varied wording rather than on class names.
"""

from __future__ import annotations

from collections.abc import Mapping

LEGEND_TEXT: Mapping[int, tuple[str, ...]] = {
    0: ("Sin datos",),
    1: ("Arenas y gravas de terraza", "Arenas eólicas", "Gravas, conglomerados, arenas y limos"),
    2: ("Arcillas rojas con niveles de yesos", "Arcillas y limos arcillosos", "Lutitas y arcillas versicolores"),
    3: ("Cretas blancas", "Tizas y margocalizas"),
    4: ("Limos y arcillas de llanura de inundación", "Limos arenosos pardos"),
    5: ("Turberas y depósitos palustres", "Turba y limos orgánicos"),
    6: ("Margas y margocalizas", "Margas yesíferas con arcillas", "Margas grises"),
    7: ("Areniscas, conglomerados y lutitas", "Conglomerados, areniscas y lutitas", "Areniscas y cuarcitas tableadas"),
    8: ("Calizas y dolomías", "Calizas micríticas con margas", "Dolomías tableadas"),
    9: ("Basaltos olivínicos y piroclastos", "Tobas volcánicas (maares)", "Vulcanitas y rocas volcanoclásticas"),
    10: ("Granitos de dos micas", "Granodioritas y tonalitas", "Otros granitoides"),
    11: ("Pizarras y grauvacas", "Esquistos y filitas", "Pizarras, grauwackas, cuarcitas y conglomerados"),
    12: ("Cuarcitas armoricanas", "Mármoles y calizas cristalinas", "Cuarcitas, pizarras, areniscas y calizas"),
    13: ("Embalse", "Agua (lámina de agua)"),
}
