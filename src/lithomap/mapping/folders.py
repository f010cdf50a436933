"""Where a region's maps live: ``<maps_dir>/<region>/<model>-<experiment>/`` and the files in it."""

from __future__ import annotations

from pathlib import Path

MAP_JSON = "map.json"
VECTOR_FILE = "map.gpkg"
PICTURE_FILE = "map.png"


def map_folder(maps_dir: Path, region: str, arch: str, experiment: str) -> Path:
    """The folder of one map."""
    return maps_dir / region / f"{arch}-{experiment}"


def region_maps(maps_dir: Path, region: str) -> list[tuple[str, Path]]:
    """(``<model>-<experiment>``, folder) of every finished map of a region (with ``map.json``), sorted."""
    root = maps_dir / region
    if not root.is_dir():
        return []
    return [(folder.name, folder) for folder in sorted(root.iterdir()) if (folder / MAP_JSON).is_file()]
