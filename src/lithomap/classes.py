"""The 14 lithology classes and the legend-text → class mapping (data in classes.yaml)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
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
        table: a complete mapping table (``classes``, ``exact``, ``rules``; see ``classes.yaml``).
        source: where the table came from, for error messages.

    Raises:
        ConfigError: the table is malformed (wrong classes, unknown class name, bad rule or pattern).
    """

    def __init__(self, table: Mapping[str, object], source: str = "classes.yaml") -> None:
        self.source = source
        _check_table(table, source)
        self.classes = _parse_classes(table, source)
        ids = {c.name: c.id for c in self.classes}
        exact = _exact_section(table, source)
        self._exact = {normalise(str(text)): _resolve(name, ids, source) for text, name in exact.items()}
        rules = _rules_section(table, source)
        self._rules = tuple(_parse_rule(rule, index, ids, source) for index, rule in enumerate(rules))

    @classmethod
    def from_file(cls, path: str | Path) -> LithologyMapper:
        """Load a mapping file whose entries add to, or override, the packaged table.

        The file's ``exact`` texts replace packaged ones with the same text; its ``rules``
        are tried before the packaged rules (so they win ties); ``classes``, when given,
        may change labels and colours but not the 14 ids and names. With
        ``inherit: false`` only the file's ``exact`` and ``rules`` are used.

        Raises:
            ConfigError: the file is missing, not UTF-8 YAML, or holds a malformed table.
        """
        path = Path(path)
        source = str(path)
        table = _read_table(path)
        _check_table(table, source)
        if table.get("classes"):
            _check_same_classes(_parse_classes(table, source), default_mapper().classes, source)
        packaged = _packaged_table()
        merged: dict[str, object] = {"classes": table.get("classes") or packaged["classes"]}
        if table.get("inherit", True):
            merged["exact"] = {**_exact_section(packaged, source), **_exact_section(table, source)}
            merged["rules"] = [*_rules_section(table, source), *_rules_section(packaged, source)]
        else:
            merged["exact"], merged["rules"] = table.get("exact"), table.get("rules")
        return cls(merged, source=source)

    def map_text(self, text: str | None) -> int | None:
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
            found = self.map_text(term)
            if found is None:
                unmapped[str(term)] = unmapped.get(str(term), 0.0) + float(area)
            else:
                class_of[term] = found
        return MappingReport(class_of=class_of, unmapped_area=unmapped)


TABLE_KEYS = ("classes", "exact", "rules", "inherit")
RULE_KEYS = ("class", "patterns", "priority")


def _read_table(path: Path) -> dict[str, object]:
    """The parsed YAML of a mapping file, or a ConfigError saying what is wrong with it."""
    if not path.is_file():
        raise ConfigError(f"{path}: mapping file not found. Fix: correct the path or set mapping_file to null")
    try:
        table = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}). Fix: save it as UTF-8") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc}). Fix: correct the YAML syntax") from exc
    if not isinstance(table, dict):
        raise ConfigError(
            f"{path}: a mapping file must be a YAML mapping with 'exact' and/or 'rules' (see classes.yaml)"
        )
    return table


def _check_table(table: Mapping[str, object], source: str) -> None:
    """Reject unknown top-level keys and sections of the wrong shape."""
    for key in table:
        if key not in TABLE_KEYS:
            raise ConfigError(f"{source}: unknown key {key!r}. Fix: use only {', '.join(TABLE_KEYS)}")
    _exact_section(table, source)
    _rules_section(table, source)
    if not isinstance(table.get("inherit", True), bool):
        raise ConfigError(f"{source}: 'inherit' must be true or false")


def _exact_section(table: Mapping[str, object], source: str) -> Mapping[str, object]:
    """The table's ``exact`` mapping (empty when absent), or a ConfigError when it is not one."""
    exact = table.get("exact") or {}
    if not isinstance(exact, Mapping):
        raise ConfigError(f"{source}: 'exact' must map legend texts to class names. Fix: write `\"text\": clay`")
    return exact


def _rules_section(table: Mapping[str, object], source: str) -> list[object]:
    """The table's ``rules`` list (empty when absent), or a ConfigError when it is not one."""
    rules = table.get("rules") or []
    if not isinstance(rules, list):
        raise ConfigError(f"{source}: 'rules' must be a list. Fix: write `- {{class: clay, patterns: ['\\bclay\\b']}}`")
    return rules


def _parse_classes(table: Mapping[str, object], source: str) -> tuple[LithologyClass, ...]:
    rows = table.get("classes")
    if not isinstance(rows, list) or len(rows) != N_CLASSES:
        raise ConfigError(f"{source}: 'classes' must list exactly {N_CLASSES} classes (ids 0–13)")
    try:
        classes = tuple(LithologyClass(**row) for row in rows)
    except TypeError as exc:
        raise ConfigError(f"{source}: each class needs exactly id, name, label and colour ({exc})") from exc
    if [c.id for c in classes] != list(range(N_CLASSES)):
        raise ConfigError(f"{source}: class ids must be 0–13 in order")
    return classes


def _check_same_classes(found: Sequence[LithologyClass], packaged: Sequence[LithologyClass], source: str) -> None:
    """A mapping file may relabel or recolour the classes but never rename them."""
    names = [c.name for c in found]
    expected = [c.name for c in packaged]
    if names != expected:
        raise ConfigError(
            f"{source}: 'classes' must keep the 14 packaged names in id order ({', '.join(expected)}), "
            f"not {', '.join(names)}. Fix: drop 'classes' from the file, or change only labels and colours"
        )


def _parse_rule(rule: object, index: int, ids: Mapping[str, int], source: str) -> _Rule:
    where = f"{source}: rules[{index}]"
    if not isinstance(rule, Mapping) or "class" not in rule or "patterns" not in rule:
        raise ConfigError(f"{where}: a rule needs 'class' and 'patterns'. Fix: write {{class: clay, patterns: [...]}}")
    unknown = sorted(set(rule) - set(RULE_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}. Fix: use only {', '.join(RULE_KEYS)}")
    patterns = rule["patterns"]
    if isinstance(patterns, str) or not isinstance(patterns, list) or not patterns:
        raise ConfigError(f"{where}: 'patterns' must be a non-empty list of regular expressions")
    compiled = []
    for pattern in patterns:
        try:
            compiled.append(re.compile(str(pattern)))
        except re.error as exc:
            raise ConfigError(f"{where}: pattern {pattern!r} is not a regular expression ({exc})") from exc
    return _Rule(
        class_id=_resolve(rule["class"], ids, source),
        patterns=tuple(compiled),
        priority=bool(rule.get("priority", False)),
    )


def _resolve(name: object, ids: Mapping[str, int], source: str) -> int:
    if not isinstance(name, str) or name not in ids:
        raise ConfigError(f"{source}: unknown class {name!r}; valid names are {sorted(ids)}")
    return ids[name]


@cache
def _packaged_table() -> dict[str, object]:
    """The parsed packaged classes.yaml."""
    text = resources.files("lithomap.data").joinpath("classes.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


@cache
def default_mapper() -> LithologyMapper:
    """The mapping table shipped with lithomap."""
    return LithologyMapper(_packaged_table(), source="lithomap/data/classes.yaml")


def load_mapper(path: str | Path | None) -> LithologyMapper:
    """The packaged mapper, or the packaged one extended by the file at ``path`` (see ``from_file``)."""
    return default_mapper() if path is None else LithologyMapper.from_file(path)


def all_classes() -> tuple[LithologyClass, ...]:
    """The 14 classes, ordered by id."""
    return default_mapper().classes


def class_names() -> tuple[str, ...]:
    return tuple(c.name for c in all_classes())


def class_id_of(name: str) -> int:
    """Id of a class given its short name (e.g. ``"clay"`` → 2)."""
    ids = {c.name: c.id for c in all_classes()}
    if name not in ids:
        raise ConfigError(f"unknown class {name!r}; valid names are {sorted(ids)}")
    return ids[name]
