"""``lithomap ingest``: discover a region's raw files, put every source once on one grid, write the cube.

Steps of :func:`ingest_region`:

1. :func:`discover_sources` walks ``region.raw_dir`` recursively and recognises files by
   their names (never by folder names): ECOSTRESS AppEEARS exports and L2T tiles, Landsat
   ST and Level-1 scenes, Sentinel-1 HyP3 RTC and Sen1Floods11 chips, Sentinel-2 L2A SAFE
   bands and Sen1Floods11 chips, DEMs (HyP3 ``_dem.tif``, Copernicus DEM tiles, L2T
   ``height``), geological maps (GPKG/Shapefile/GeoJSON) and ready
   lithology label rasters.
2. :func:`build_grid` makes the region grid from params, or from the thermal footprints
   (:func:`drop_outliers` first leaves out and reports files far from the others; the grid
   keeps the pixel grid of a source already on the region CRS and resolution). A grid above
   ``IngestParams.max_grid_pixels`` is refused, naming the files that make it so.
3. Every input is checked before anything is written (readable, has a CRS, overlaps the
   grid, geology attribute present), so bad input fails fast with one clear error.
4. Holding the region's lock (:mod:`lithomap.locking`; a second ingest of the region
   refuses) and after deleting what an interrupted ingest left behind, the cube (layout in
   :mod:`lithomap.io.cube`) is written window by window into a
   temporary folder that replaces ``<interim_dir>/<region>/cube.zarr`` only when complete:
   thermal one date at a time; SAR and NDVI as time means accumulated per window (each dated
   Sentinel-1 acquisition is also written as it is read, ``vv_dates``/``vh_dates``); the
   DEM (``dem``, :mod:`lithomap.io.elevation`; the mean of the DEM files that cover a
   pixel: tiles are mosaicked, copies agree); labels burnt per window. Memory depends on
   ``IngestParams.window_px``, not on the region size.

A source the region lacks is reported (``IngestReport.missing``) and its variables are
absent from the cube; only the steps that need it fail later (see
:func:`lithomap.io.cube.require_variables`). Ingest itself fails when the folder holds no
recognised file, or no thermal file while the region bounds are null (the grid cannot be
derived).
"""

from __future__ import annotations

import logging
import math
import shutil
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import numpy as np
from affine import Affine
from rasterio.crs import CRS
from rasterio.windows import Window
from tqdm import tqdm

from lithomap.atomic import atomic_directory
from lithomap.classes import BACKGROUND, load_mapper
from lithomap.config import IngestParams, RegionParams
from lithomap.errors import ConfigError, InputDataError
from lithomap.io import formats
from lithomap.io.cube import CUBE_NAME, SAR_TIME, CubeWriter
from lithomap.io.ecostress import AppeearsReader, L2TReader
from lithomap.io.elevation import CopernicusDemReader, Hyp3DemReader, L2THeightReader
from lithomap.io.geology import GeologyMap, load_geology
from lithomap.io.grid import Bounds, RegionGrid, outlying, reproject_bounds, union_bounds
from lithomap.io.labels import LabelRaster
from lithomap.io.landsat import LandsatL1OpticalReader, LandsatL1ThermalReader, LandsatSTReader
from lithomap.io.rasterfile import open_raster
from lithomap.io.sentinel1 import Hyp3RtcReader, Sen1Floods11S1Reader, power_to_db
from lithomap.io.sentinel2 import SafeL2AReader, Sen1Floods11S2Reader
from lithomap.io.sources import SOURCE_KINDS, Scene, SceneReader
from lithomap.locking import folder_lock

log = logging.getLogger(__name__)

READERS: tuple[type[SceneReader], ...] = (
    AppeearsReader,
    L2TReader,
    LandsatSTReader,
    LandsatL1ThermalReader,
    LandsatL1OpticalReader,
    Hyp3RtcReader,
    Sen1Floods11S1Reader,
    SafeL2AReader,
    Sen1Floods11S2Reader,
    Hyp3DemReader,
    CopernicusDemReader,
    L2THeightReader,
)
EXPECTED = (
    "ECOSTRESS AppEEARS exports (ECO2LSTE.001_SDS_LST_doy…_aid0001.tif) or L2T tiles (ECOv002_L2T_LSTE_…_LST.tif), "
    "Landsat ST_B10, Sentinel-1 RTC (…_VV.tif/_VH.tif), Sentinel-2 SAFE bands (…_B04_10m.tif), a DEM "
    "(HyP3 …_dem.tif, Copernicus_DSM_…_DEM.tif), a geological map (.gpkg/.shp/.geojson) or a lithology label raster"
)


@dataclass
class SourceCatalog:
    """What a region folder holds, by role."""

    thermal: list[tuple[type[SceneReader], Scene]] = field(default_factory=list)
    sar: list[tuple[type[SceneReader], Scene]] = field(default_factory=list)
    optical: list[tuple[type[SceneReader], Scene]] = field(default_factory=list)
    elevation: list[tuple[type[SceneReader], Scene]] = field(default_factory=list)
    geology: list[Path] = field(default_factory=list)
    label_rasters: list[Path] = field(default_factory=list)
    flood_labels: list[Path] = field(default_factory=list)

    def is_empty(self) -> bool:
        return not (any(getattr(self, kind) for kind in SOURCE_KINDS) or self.geology or self.label_rasters)


@dataclass
class IngestReport:
    """What ingest found and wrote.

    Attributes:
        region: region name.
        output: the cube's path.
        grid: CRS, resolution, shape and bounds of the grid.
        sources: product → files used (relative to the raw folder).
        dates: UTC times of the thermal stack.
        s1_dates: Sentinel-1 acquisition times (None = undated).
        s2_dates: optical acquisition times (None = undated).
        missing: source kind → why it is absent.
        ignored: file → why it was left out (far from the other thermal files).
        unmapped_geology_km2: lithology texts no rule matched → area in the region, km².
        variables: variables written to the cube.
    """

    region: str
    output: Path
    grid: dict[str, object]
    sources: dict[str, list[str]]
    dates: list[datetime]
    s1_dates: list[datetime | None]
    s2_dates: list[datetime | None]
    missing: dict[str, str]
    unmapped_geology_km2: dict[str, float]
    variables: list[str]
    ignored: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        """A few human-readable lines for the CLI."""
        lines = [
            f"region {self.region}: {self.grid['width']}×{self.grid['height']} px at {self.grid['resolution']} "
            f"in {self.grid['crs']} → {self.output}",
            f"  thermal dates: {len(self.dates)}; Sentinel-1 scenes: {len(self.s1_dates)}; "
            f"optical scenes: {len(self.s2_dates)}",
            f"  variables: {', '.join(self.variables)}",
        ]
        lines += [f"  missing {kind}: {why}" for kind, why in self.missing.items()]
        lines += [f"  ignored {path}: {why}" for path, why in self.ignored.items()]
        lines += [f"  unmapped geology: {area:.3f} km² {term!r}" for term, area in self.unmapped_geology_km2.items()]
        return "\n".join(lines)


def discover_sources(raw_dir: Path) -> SourceCatalog:
    """Recognise the source files under ``raw_dir`` (recursively, by file name).

    Raises:
        InputDataError: the folder does not exist.
    """
    if not raw_dir.is_dir():
        raise InputDataError(
            raw_dir,
            "the region's raw folder does not exist",
            "create it and put the region's files there, or fix regions.<name>.raw_dir",
        )
    paths = sorted(p for p in raw_dir.rglob("*") if p.is_file() and not p.name.startswith("."))
    catalog = SourceCatalog()
    for reader in READERS:
        for scene in reader.discover(paths):
            getattr(catalog, reader.kind).append((reader, scene))
    catalog.thermal.sort(key=lambda item: item[1].time or datetime.min)
    catalog.geology = [p for p in paths if p.suffix.lower() in formats.GEOLOGY_SUFFIXES]
    catalog.label_rasters = [p for p in paths if formats.LABEL_RASTER_NAME.match(p.name)]
    catalog.flood_labels = [p for p in paths if formats.is_flood_label(p.name)]
    return catalog


def not_lst(catalog: SourceCatalog) -> dict[Path, str]:
    """Thermal files that do not hold land surface temperature (Landsat Level-1 brightness temperature) → why.

    At-sensor brightness temperature is several kelvin below LST and varies with emissivity
    and the atmosphere, so it is never stored as ``lst``.
    """
    found = {}
    for reader, scene in catalog.thermal:
        if reader.thermal_quantity != "land surface temperature":
            for path in scene.files:
                found[path] = (
                    f"{scene.product} holds {reader.thermal_quantity}, not land surface temperature, so it is not "
                    "stored as lst (the scene's Collection 2 Level-2 ST product is)"
                )
    return found


NOT_LST_FIX = (
    "download the scene's Collection 2 Level-2 surface temperature band (…_L2SP_…_ST_B10.TIF, ST_B6.TIF for "
    "Landsat 4–7) and put it in the region folder instead, or move this file out of it"
)


def _footprints(catalog: SourceCatalog) -> list[tuple[Path, CRS, Bounds, Affine]]:
    """(file, CRS, bounds, transform) of the primary file of every thermal tile."""
    found = []
    for reader, scene in catalog.thermal:
        for path in (piece[reader.primary_layers[0]] for piece in scene.pieces):
            with open_raster(path) as dataset:
                found.append((path, dataset.crs, tuple(dataset.bounds), dataset.transform))
    return found


def drop_outliers(region: RegionParams, catalog: SourceCatalog) -> tuple[SourceCatalog, dict[Path, str]]:
    """With null bounds, leave out the thermal scenes whose footprint lies far from the others.

    Returns:
        The catalog without them, and file → why it was left out (empty with params bounds).
    """
    if region.bounds is not None or len(catalog.thermal) < 3:
        return catalog, {}
    footprints = _footprints(catalog)
    target = CRS.from_user_input(region.crs)
    boxes = [reproject_bounds(path, crs, bounds, target) for path, crs, bounds, _ in footprints]
    far = outlying(boxes)
    if not any(far):
        return catalog, {}
    kept = union_bounds([box for box, out in zip(boxes, far, strict=True) if not out])
    ignored = {
        path: f"its footprint {_rounded(box)} lies far from the other {far.count(False)} thermal files "
        f"({_rounded(kept)} in {region.crs}); it is left out of the derived region bounds. Fix: move it to the "
        "folder of the region it covers, or set regions.<name>.bounds to include it"
        for (path, *_), box, out in zip(footprints, boxes, far, strict=True)
        if out
    }
    for path, why in ignored.items():
        log.warning("%s: %s", path, why)
    thermal = [(r, s) for r, s in catalog.thermal if not any(p in ignored for p in s.files)]
    return replace(catalog, thermal=thermal), ignored


def _rounded(bounds: Bounds) -> tuple[float, ...]:
    return tuple(round(value, 3) for value in bounds)


def build_grid(region: RegionParams, catalog: SourceCatalog, max_pixels: int | None = None) -> RegionGrid:
    """The region grid: params bounds, else the union of the thermal footprints.

    Derived bounds keep the pixel grid of the first thermal source already on the region's
    CRS and resolution (its origin anchors the snapping), else they snap to whole multiples
    of the resolution.

    Args:
        region: the region's params.
        catalog: its sources (call :func:`drop_outliers` first to leave far files out).
        max_pixels: refuse a grid larger than this (None: no limit).

    Raises:
        InputDataError: bounds are null and the folder holds no thermal file, or the derived
            grid is larger than ``max_pixels`` (the message names the files at its edges).
        ConfigError: the params bounds make a grid larger than ``max_pixels``.
    """
    if region.bounds is not None:
        grid = RegionGrid.from_bounds(region.crs, region.resolution, region.bounds)
        if max_pixels is not None and grid.pixels > max_pixels:
            raise ConfigError(
                f"regions.<name>.bounds {region.bounds} at resolution {region.resolution:g} make a grid of "
                f"{grid.width} × {grid.height} = {grid.pixels:,} px, above ingest.max_grid_pixels = {max_pixels:,}. "
                "Fix: check the bounds and resolution (same units as the CRS), or raise ingest.max_grid_pixels"
            )
        return grid
    if not catalog.thermal:
        raise InputDataError(
            region.raw_dir,
            "the region folder holds no thermal files (ECOSTRESS or Landsat), so the region grid cannot be derived "
            "from them",
            "add the thermal files (e.g. ECO2LSTE.001_SDS_LST_doy…_aid0001.tif) or set regions.<name>.bounds in "
            "params.yaml",
        )
    footprints = _footprints(catalog)
    target = CRS.from_user_input(region.crs)
    anchor = next(
        ((t.c, t.f) for _, crs, _, t in footprints if crs == target and math.isclose(t.a, region.resolution)),
        (0.0, 0.0),
    )
    grid = RegionGrid.from_footprints(
        region.crs, region.resolution, [(p, crs, bounds) for p, crs, bounds, _ in footprints], anchor
    )
    if max_pixels is not None and grid.pixels > max_pixels:
        boxes = [reproject_bounds(p, crs, bounds, target) for p, crs, bounds, _ in footprints]
        edges = {footprints[int(np.argmin([b[k] for b in boxes]))][0].name for k in (0, 1)}
        edges |= {footprints[int(np.argmax([b[k] for b in boxes]))][0].name for k in (2, 3)}
        raise InputDataError(
            region.raw_dir,
            f"the region grid derived from {len(footprints)} thermal files would be {grid.width} × {grid.height} = "
            f"{grid.pixels:,} px at {region.resolution:g} {region.crs} units, above ingest.max_grid_pixels = "
            f"{max_pixels:,}; its edges are set by {', '.join(sorted(edges))}",
            "move files of other areas out of the folder, set regions.<name>.bounds to the area to map, use a "
            "coarser resolution, or raise ingest.max_grid_pixels",
        )
    return grid


def ingest_region(name: str, region: RegionParams, ingest: IngestParams, progress: bool = True) -> IngestReport:
    """Put every source of one region on its grid and write ``<interim_dir>/<name>/cube.zarr``.

    Args:
        name: region name (the cube's folder and attribute).
        region: the region's params.
        ingest: ingest params.
        progress: show a progress bar.

    Returns:
        What was found and written.

    Raises:
        InputDataError: bad or missing input (the message names the file, the problem and the fix);
            no partial output is left.
    """
    catalog = discover_sources(region.raw_dir)
    if catalog.is_empty():
        raise InputDataError(
            region.raw_dir,
            "no recognised source file in the region folder",
            f"put the region's files there (searched recursively): {EXPECTED}",
        )
    for path, why in not_lst(catalog).items():
        raise InputDataError(path, why, NOT_LST_FIX)
    catalog, ignored = drop_outliers(region, catalog)
    grid = build_grid(region, catalog, ingest.max_grid_pixels)
    for kind in SOURCE_KINDS:
        for reader, scene in getattr(catalog, kind):
            with reader(scene, ingest) as opened:
                opened.check_overlap(grid)
    mapper = load_mapper(region.mapping_file)
    geology = [load_geology(path, grid, region.geology_attribute, mapper) for path in catalog.geology]
    missing = _missing(catalog)
    for absent, why in missing.items():
        log.warning("region %s: no %s source (%s); its variables are left out of the cube", name, absent, why)
    window_px = max(ingest.chunk_px, math.ceil(ingest.window_px / ingest.chunk_px) * ingest.chunk_px)
    windows = list(grid.windows(window_px))
    steps = len(windows) * (len(catalog.thermal) + 4)  # a pass per date, then SAR, NDVI, DEM and labels
    attrs = _attributes(name, region, grid, catalog, geology, missing)
    attrs["ignored_files"] = {str(path): why for path, why in ignored.items()}
    final = ingest.interim_dir / name / CUBE_NAME
    sar_slots = _sar_slots(catalog.sar)
    variables: list[str] = []
    with (
        folder_lock(final, "ingest"),
        atomic_directory(_without_leftovers(final)) as temporary,
        tqdm(total=steps, disable=not progress, desc=f"ingest {name}") as bar,
    ):
        writer = CubeWriter(
            temporary,
            grid,
            [scene.time or datetime.min for _, scene in catalog.thermal],
            [scene.product for _, scene in catalog.thermal],
            ingest.chunk_px,
            attrs,
            sar_times=[time for time, _ in sar_slots],
        )
        fill = _CubeFill(writer, grid, windows, ingest, bar)
        variables += _write_thermal(fill, catalog.thermal)
        variables += _write_time_means(
            fill, catalog.sar, SAR_ATTRS, "sar_valid", power_to_db, _SarSeries(fill.writer, sar_slots)
        )
        variables += _write_time_means(fill, catalog.optical, NDVI_ATTRS, "ndvi_valid")
        variables += _write_time_means(fill, catalog.elevation, DEM_ATTRS, "dem_valid")
        variables += _write_labels(fill, geology, catalog.label_rasters)
        writer.close()
    return IngestReport(
        region=name,
        output=final,
        grid=grid.describe(),
        sources=attrs["sources"],  # type: ignore[arg-type]
        dates=[scene.time or datetime.min for _, scene in catalog.thermal],
        s1_dates=[scene.time for _, scene in catalog.sar],
        s2_dates=[scene.time for _, scene in catalog.optical],
        missing=missing,
        unmapped_geology_km2={t: a for g in geology for t, a in g.unmapped_km2().items()},
        variables=variables,
        ignored={str(path): why for path, why in ignored.items()},
    )


def _without_leftovers(final: Path) -> Path:
    """Delete the temporary and replaced copies an interrupted ingest left beside ``final``; return ``final``.

    Called while holding the region's ingest lock, so no running ingest owns them.
    """
    leftovers = [p for kind in ("tmp", "old") for p in sorted(final.parent.glob(f".{final.name}.{kind}-*"))]
    for leftover in leftovers:
        log.info("removing %s, left behind by an interrupted ingest", leftover)
        shutil.rmtree(leftover, ignore_errors=True)
    return final


def _missing(catalog: SourceCatalog) -> dict[str, str]:
    missing = {}
    if not catalog.thermal:
        missing["thermal"] = "no ECOSTRESS or Landsat thermal file found; lst and emissivity are absent"
    if not catalog.sar:
        missing["sar"] = "no Sentinel-1 VV/VH file found; vv and vh are absent"
    if not catalog.optical:
        missing["optical"] = "no Sentinel-2 (or Landsat) red/NIR file found; ndvi is absent"
    if not catalog.elevation:
        missing["elevation"] = (
            "no DEM found (HyP3 RTC …_dem.tif, Copernicus_DSM_…_DEM.tif or ECOSTRESS L2T …_height.tif); dem is absent"
        )
    if not catalog.geology and not catalog.label_rasters:
        flood = (
            f" ({', '.join(p.name for p in catalog.flood_labels)}: Sen1Floods11 flood labels, water/land, not "
            "lithology)"
            if catalog.flood_labels
            else ""
        )
        missing["labels"] = (
            f"no geological map or lithology label raster found{flood}; label is absent, so the region can be "
            f"mapped but not trained on. To train, add {formats.LABEL_NAMES}"
        )
    return missing


def _attributes(
    name: str,
    region: RegionParams,
    grid: RegionGrid,
    catalog: SourceCatalog,
    geology: Sequence[GeologyMap],
    missing: dict[str, str],
) -> dict[str, object]:
    def rel(path: Path) -> str:
        return str(path.relative_to(region.raw_dir)) if path.is_relative_to(region.raw_dir) else str(path)

    sources: dict[str, list[str]] = {}
    for kind in SOURCE_KINDS:
        for reader, scene in getattr(catalog, kind):
            sources.setdefault(reader.product, []).extend(sorted({rel(p) for p in scene.files}))
    if geology:
        sources["geology"] = [f"{rel(g.path)} (attribute {g.attribute}, {g.n_features} features)" for g in geology]
    if catalog.label_rasters:
        sources["label_raster"] = [rel(p) for p in catalog.label_rasters]
    return {
        "region": name,
        **grid.describe(),
        "sources": sources,
        "s1_dates": [s.time.isoformat() if s.time else "undated" for _, s in catalog.sar],
        "s2_dates": [s.time.isoformat() if s.time else "undated" for _, s in catalog.optical],
        "missing_sources": missing,
        "unmapped_geology_km2": {t: a for g in geology for t, a in g.unmapped_km2().items()},
    }


@dataclass(frozen=True)
class _CubeFill:
    """What every variable writer needs: the cube being written, the grid, its windows, the settings."""

    writer: CubeWriter
    grid: RegionGrid
    windows: list[Window]
    ingest: IngestParams
    bar: tqdm


SAR_ATTRS = {
    pol: {"units": "dB", "long_name": f"Sentinel-1 {pol.upper()} backscatter, time mean in linear power"}
    for pol in ("vv", "vh")
}
NDVI_ATTRS = {"ndvi": {"long_name": "NDVI, time mean of cloud-free dates"}}
DEM_ATTRS = {"dem": {"units": "m", "long_name": "elevation (DEM), mean of the DEM files that cover the pixel"}}


def _write_thermal(fill: _CubeFill, scenes: list[tuple[type[SceneReader], Scene]]) -> list[str]:
    """Write LST, emissivity and their valid mask, one date at a time."""
    if not scenes:
        return []
    writer = fill.writer
    writer.create("lst", ("time", "y", "x"), "float32", np.nan, {"units": "K", "long_name": "land surface temperature"})
    writer.create("emissivity", ("time", "y", "x"), "float32", np.nan, {"long_name": "broadband emissivity"})
    writer.create("lst_valid", ("time", "y", "x"), "bool", False, {"long_name": "lst is valid"})
    for index, (reader, scene) in enumerate(scenes):
        with reader(scene, fill.ingest) as opened:
            for window in fill.windows:
                values = opened.read(fill.grid, window)
                writer.write("lst", window, values["lst"], index)
                writer.write("emissivity", window, values["emissivity"], index)
                writer.write("lst_valid", window, np.isfinite(values["lst"]), index)
                fill.bar.update()
            opened.check_not_empty()
    return ["lst", "emissivity", "lst_valid"]


SAR_SERIES_ATTRS = {
    f"{pol}_dates": {"units": "dB", "long_name": f"Sentinel-1 {pol.upper()} backscatter of each dated acquisition"}
    for pol in ("vv", "vh")
}


def _sar_slots(scenes: list[tuple[type[SceneReader], Scene]]) -> list[tuple[datetime, int]]:
    """(time, index in ``scenes``) of every dated Sentinel-1 scene, in time order: the cube's ``sar_time``."""
    return sorted((scene.time, index) for index, (_, scene) in enumerate(scenes) if scene.time is not None)


@dataclass(frozen=True)
class _SarSeries:
    """Writes each dated acquisition's VV and VH (dB) at its ``sar_time`` position as the means are accumulated."""

    writer: CubeWriter
    slots: list[tuple[datetime, int]]

    def create(self) -> list[str]:
        """Create ``vv_dates``/``vh_dates`` (none without a dated scene); return their names."""
        if not self.slots:
            return []
        for name, attrs in SAR_SERIES_ATTRS.items():
            self.writer.create(name, (SAR_TIME, "y", "x"), "float32", np.nan, attrs)
        return list(SAR_SERIES_ATTRS)

    def __call__(self, scene_index: int, window: Window, values: dict[str, np.ndarray]) -> None:
        """Write one window of scene ``scene_index`` (linear power ``values``) if it is dated."""
        positions = [k for k, (_, index) in enumerate(self.slots) if index == scene_index]
        for position in positions:
            for pol in ("vv", "vh"):
                self.writer.write(f"{pol}_dates", window, power_to_db(values[pol]), position)


def _time_means(
    readers: list[SceneReader],
    grid: RegionGrid,
    window: Window,
    names: Sequence[str],
    each: Callable[[int, Window, dict[str, np.ndarray]], None] | None = None,
) -> dict[str, np.ndarray]:
    """Per-pixel mean of each layer over the readers' valid values; ``each`` also gets every reader's values."""
    shape = (int(window.height), int(window.width))
    total = {n: np.zeros(shape, np.float64) for n in names}
    count = {n: np.zeros(shape, np.int32) for n in names}
    for index, opened in enumerate(readers):
        values = opened.read(grid, window)
        if each is not None:
            each(index, window, values)
        for n in names:
            ok = np.isfinite(values[n])
            total[n][ok] += values[n][ok]
            count[n][ok] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        return {n: np.where(count[n] > 0, total[n] / np.maximum(count[n], 1), np.nan).astype(np.float32) for n in names}


def _write_time_means(
    fill: _CubeFill,
    scenes: list[tuple[type[SceneReader], Scene]],
    attrs: dict[str, dict[str, str]],
    valid_name: str,
    convert: Callable[[np.ndarray], np.ndarray] = lambda values: values,
    series: _SarSeries | None = None,
) -> list[str]:
    """Write the time mean of each layer in ``attrs`` (then ``convert``) and a mask where all are valid.

    With ``series`` each dated scene is also written on its own (read once for both).
    """
    if not scenes:
        fill.bar.update(len(fill.windows))
        return []
    names = tuple(attrs)
    for name in names:
        fill.writer.create(name, ("y", "x"), "float32", np.nan, attrs[name])
    fill.writer.create(valid_name, ("y", "x"), "bool", False, {"long_name": f"{' and '.join(names)} valid"})
    written = series.create() if series is not None else []
    with ExitStack() as stack:
        readers = [stack.enter_context(reader(scene, fill.ingest)) for reader, scene in scenes]
        for window in fill.windows:
            means = _time_means(readers, fill.grid, window, names, series)
            values = {name: convert(means[name]) for name in names}
            for name, array in values.items():
                fill.writer.write(name, window, array)
            fill.writer.write(valid_name, window, np.logical_and.reduce([np.isfinite(v) for v in values.values()]))
            fill.bar.update()
        for opened in readers:
            opened.check_not_empty()
    return [*names, valid_name, *written]


def _write_labels(fill: _CubeFill, geology: Sequence[GeologyMap], rasters: Sequence[Path]) -> list[str]:
    """Burn the geological maps and copy the label rasters (first source wins where several label a pixel)."""
    if not geology and not rasters:
        fill.bar.update(len(fill.windows))
        return []
    grid = fill.grid
    fill.writer.create(
        "label",
        ("y", "x"),
        "uint8",
        BACKGROUND,
        {"long_name": "lithology class id 0-13 (0 = background/unmapped)", "valid_range": [0, 13]},
    )
    fill.writer.create("label_valid", ("y", "x"), "bool", False, {"long_name": "label is not background"})
    with ExitStack() as stack:
        label_rasters = []
        for path in rasters:
            dataset = stack.enter_context(open_raster(path))
            grid.check_overlap(path, dataset.crs, tuple(dataset.bounds))
            label_rasters.append(LabelRaster(path, dataset))
        for window in fill.windows:
            labels = np.zeros((int(window.height), int(window.width)), np.uint8)
            layers = [g.rasterize(grid, window, fill.ingest.boundary_buffer_px) for g in geology]
            layers += [r.read(grid, window) for r in label_rasters]
            for layer in layers:
                np.copyto(labels, layer, where=labels == BACKGROUND)
            fill.writer.write("label", window, labels)
            fill.writer.write("label_valid", window, labels != BACKGROUND)
            fill.bar.update()
        for raster in label_rasters:
            if raster.valid_pixels == 0:
                raise InputDataError(
                    raster.path,
                    "the label raster holds no valid pixel inside the region",
                    "use the label raster of this region, or check its no-data tag",
                )
    return ["label", "label_valid"]
