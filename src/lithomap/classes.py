"""The 14 lithology classes and the legend-text → class mapping (data in classes.yaml)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path

import yaml

from lithomap.errors import ConfigError

N_CLASSES = 14
BACKGROUND = 0
WATER = 13


@dataclass(frozen=True)
class LithologyClass:
    """One class of the label raster."""

    id: int
    name: str
    label: str
    colour: str

    @property
    def rgb(self) -> tuple[float, float, float]:
        """Colour as three floats in 0–1 (for matplotlib)."""
        hex_digits = self.colour.lstrip("#")
        return tuple(int(hex_digits[i : i + 2], 16) / 255 for i in (0, 2, 4))  # type: ignore[return-value]


@dataclass(frozen=True)
class _Rule:
    class_id: int
    patterns: tuple[re.Pattern[str], ...]
    priority: bool


@dataclass(frozen=True)
class MappingReport:
    """Result of mapping a set of legend texts: ids for the mapped ones, areas of the rest."""

    class_of: dict[str, int]
    unmapped_area: dict[str, float] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return not self.unmapped_area

    def describe_unmapped(self) -> str:
        """Human-readable list of unmapped terms, largest area first."""
        rows = sorted(self.unmapped_area.items(), key=lambda item: -item[1])
        return "\n".join(f"  {area / 1e6:10.3f} km²  {term!r}" for term, area in rows)


def normalise(text: str) -> str:
    """Lower-case, strip accents and collapse whitespace, as the rules expect."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.lower().split())


class LithologyMapper:
    """Maps free legend text (Spanish or English) to class ids.

    Args:
        table: the parsed mapping file (see ``classes.yaml`` for its layout).
        source: where the table came from, for error messages.
    """

    def __init__(self, table: Mapping[str, object], source: str = "classes.yaml") -> None:
        self.source = source
        self.classes = _parse_classes(table, source)
        ids = {c.name: c.id for c in self.classes}
        self._exact = {
            normalise(text): _resolve(name, ids, source)
            for text, name in dict(table.get("exact") or {}).items()  # type: ignore[call-overload]
        }
        self._rules = tuple(
            _Rule(
                class_id=_resolve(rule["class"], ids, source),
                patterns=tuple(re.compile(p) for p in rule["patterns"]),
                priority=bool(rule.get("priority", False)),
            )
            for rule in table.get("rules") or []  # type: ignore[attr-defined]
        )

    @classmethod
    def from_file(cls, path: str | Path) -> LithologyMapper:
        """Load a mapping table from a YAML file laid out like the packaged one."""
        path = Path(path)
        with path.open(encoding="utf-8") as handle:
            return cls(yaml.safe_load(handle), source=str(path))

    def class_id(self, text: str | None) -> int | None:
        """Class id for one legend text, or None when no rule matches."""
        if text is None:
            return None
        key = normalise(str(text))
        if not key:
            return None
        if key in self._exact:
            return self._exact[key]
        for rule in self._rules:
            if rule.priority and any(p.search(key) for p in rule.patterns):
                return rule.class_id
        best: tuple[int, int] | None = None  # (position, rule index)
        best_id: int | None = None
        for index, rule in enumerate(self._rules):
            positions = [m.start() for p in rule.patterns if (m := p.search(key))]
            if positions and (best is None or (min(positions), index) < best):
                best, best_id = (min(positions), index), rule.class_id
        return best_id

    def map_terms(self, areas: Mapping[str, float] | Iterable[str]) -> MappingReport:
        """Map many texts at once; unmapped ones are reported with their total area (m²)."""
        area_of = dict(areas) if isinstance(areas, Mapping) else dict.fromkeys(areas, 0.0)
        class_of: dict[str, int] = {}
        unmapped: dict[str, float] = {}
        for term, area in area_of.items():
            found = self.class_id(term)
            if found is None:
                unmapped[str(term)] = unmapped.get(str(term), 0.0) + float(area)
            else:
                class_of[term] = found
        return MappingReport(class_of=class_of, unmapped_area=unmapped)


def _parse_classes(table: Mapping[str, object], source: str) -> tuple[LithologyClass, ...]:
    rows = table.get("classes")
    if not isinstance(rows, list) or len(rows) != N_CLASSES:
        raise ConfigError(f"{source}: 'classes' must list exactly {N_CLASSES} classes (ids 0–13)")
    classes = tuple(LithologyClass(**row) for row in rows)
    if [c.id for c in classes] != list(range(N_CLASSES)):
        raise ConfigError(f"{source}: class ids must be 0–13 in order")
    return classes


def _resolve(name: str, ids: Mapping[str, int], source: str) -> int:
    if name not in ids:
        raise ConfigError(f"{source}: unknown class {name!r}; valid names are {sorted(ids)}")
    return ids[name]


@cache
def default_mapper() -> LithologyMapper:
    """The mapping table shipped with lithomap."""
    text = resources.files("lithomap.data").joinpath("classes.yaml").read_text(encoding="utf-8")
    return LithologyMapper(yaml.safe_load(text), source="lithomap/data/classes.yaml")


def load_mapper(path: str | Path | None) -> LithologyMapper:
    """The packaged mapper, or the one in ``path`` when given."""
    return default_mapper() if path is None else LithologyMapper.from_file(path)


def all_classes() -> tuple[LithologyClass, ...]:
    """The 14 classes, ordered by id."""
    return default_mapper().classes


def class_names() -> tuple[str, ...]:
    return tuple(c.name for c in all_classes())


def class_id(name: str) -> int:
    """Id of a class given its short name (e.g. ``"clay"`` → 2)."""
    ids = {c.name: c.id for c in all_classes()}
    if name not in ids:
        raise ConfigError(f"unknown class {name!r}; valid names are {sorted(ids)}")
    return ids[name]
