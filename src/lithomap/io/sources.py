"""Scenes and scene readers: the one shape of every raster product reader.

A reader is declared torchgeo-style by class attributes: ``product``, ``kind``,
``filename_regex`` (named groups), ``variables`` (output variable → layer of a scene),
``encodings`` (documented scale/offset/fill where the file's tags are silent),
``zero_is_nodata`` and ``mask_variable``. ``discover`` groups the files of a region folder
into :class:`Scene` objects (one acquisition each). :meth:`SceneReader.read` is the one
pipeline for every product: per tile, read and decode each layer on the source grid
(:mod:`lithomap.io.warp`), convert units (:meth:`~SceneReader.to_physical`), apply the
quality masks (:meth:`~SceneReader.keep_mask`), reproject onto the grid window, mosaic the
tiles, and derive what is computed on the grid (:meth:`~SceneReader.finish`, e.g. NDVI).
A product reader overrides only the hooks where it differs. A reader is used as a context
manager so that a scene's files are opened once for all the windows.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Literal, Self

import numpy as np
from rasterio.io import DatasetReader
from rasterio.windows import Window

from lithomap.config import IngestParams
from lithomap.errors import InputDataError
from lithomap.io.formats import Encoding
from lithomap.io.grid import RegionGrid
from lithomap.io.rasterfile import open_raster
from lithomap.io.warp import SourcePatch, read_decoded

SourceKind = Literal["thermal", "sar", "optical", "elevation"]
#: every raster source kind, in the order ingest writes them
SOURCE_KINDS: tuple[SourceKind, ...] = ("thermal", "sar", "optical", "elevation")


@dataclass(frozen=True)
class Scene:
    """The files of one acquisition of one product.

    Attributes:
        product: product name (e.g. ``"ECO2LSTE.001"``).
        time: acquisition time, UTC (naive datetime), or None when the files do not say.
        pieces: one mapping layer → file per tile; tiles of one acquisition are mosaicked.
        meta: product-specific facts read from names or metadata files.
    """

    product: str
    time: datetime | None
    pieces: tuple[Mapping[str, Path], ...]
    meta: Mapping[str, object] = field(default_factory=dict)

    @property
    def files(self) -> list[Path]:
        """Every file of the scene (all layers of all tiles)."""
        return [path for piece in self.pieces for path in piece.values()]

    def label(self) -> str:
        """Product and time, for messages."""
        when = self.time.isoformat(timespec="seconds") if self.time else "undated"
        return f"{self.product} {when}"


class SceneReader(ABC):
    """Base of the product readers.

    Args:
        scene: the scene to read.
        ingest: ingest settings (resampling, QA thresholds).
    """

    product: ClassVar[str]
    kind: ClassVar[SourceKind]
    filename_regex: ClassVar[re.Pattern[str]]
    #: output variable → layer of a piece it is read from (None: the product has no such layer)
    variables: ClassVar[Mapping[str, str | None]]
    #: layers of a piece that decide the footprint and the no-data check
    primary_layers: ClassVar[tuple[str, ...]]
    #: documented encoding of a layer, used where the file's own tags are silent
    encodings: ClassVar[Mapping[str, Encoding]] = {}
    #: digital number 0 means no data whatever the tags say (Level-1 and Sentinel-2 band files)
    zero_is_nodata: ClassVar[bool] = False
    #: what a thermal product's ``lst`` variable holds; only land surface temperature is stored as ``lst``
    thermal_quantity: ClassVar[str] = "land surface temperature"
    #: the variable whose invalid or masked pixels are dropped from every variable (thermal: LST);
    #: every layer of a piece must then share its grid
    mask_variable: ClassVar[str | None] = None

    def __init__(self, scene: Scene, ingest: IngestParams) -> None:
        self.scene = scene
        self.ingest = ingest
        self.datasets: list[dict[str, DatasetReader]] = []
        self.valid_counts: dict[Path, int] = {}
        self._stack = ExitStack()

    @classmethod
    @abstractmethod
    def discover(cls, paths: Sequence[Path]) -> list[Scene]:
        """Group the matching files among ``paths`` into scenes."""

    def band(self, layer: str) -> int:
        """1-based band of a layer in its file."""
        return 1

    def to_physical(self, layer: str, values: np.ndarray) -> np.ndarray:
        """Decoded values of a layer in the units the grid stores (e.g. SAR dB → linear power)."""
        return values

    def keep_mask(self, piece: Mapping[str, Path], opened: Mapping[str, DatasetReader], window: Window) -> np.ndarray:
        """Quality and cloud mask on a source window of the piece's :attr:`mask_variable` (True = keep)."""
        return np.ones((int(window.height), int(window.width)), bool)

    def finish(self, values: dict[str, np.ndarray], grid: RegionGrid, window: Window) -> dict[str, np.ndarray]:
        """What is computed on the grid from the warped variables (default: the variables themselves)."""
        return values

    def read(self, grid: RegionGrid, window: Window) -> dict[str, np.ndarray]:
        """The scene's variables on one grid window (float32, NaN = no data)."""
        shape = (int(window.height), int(window.width))
        out = {name: np.full(shape, np.nan, np.float32) for name in self.variables}
        for piece, opened in zip(self.scene.pieces, self.datasets, strict=True):
            for name, patch in self._decode_piece(piece, opened, grid, window).items():
                if np.isfinite(patch.values).any():
                    out[name] = mosaic(out[name], patch.warp(grid, window, self.ingest.continuous_resampling))
        return self.finish(out, grid, window)

    def read_source(self, grid: RegionGrid) -> dict[str, np.ndarray]:
        """The valid decoded values of each variable on the source's own pixels inside the grid (masks applied).

        What validation quotes: values as the files hold them (in the units the grid stores),
        not averaged onto a grid. A derived variable (NDVI) is absent; it exists only on a grid.
        Memory grows with the source pixels that cover the grid.
        """
        whole = Window(0, 0, grid.width, grid.height)
        found: dict[str, list[np.ndarray]] = {}
        for piece, opened in zip(self.scene.pieces, self.datasets, strict=True):
            for name, patch in self._decode_piece(piece, opened, grid, whole).items():
                found.setdefault(name, []).append(patch.values[np.isfinite(patch.values)])
        return {name: np.concatenate(parts) for name, parts in found.items()}

    def _decode_piece(
        self, piece: Mapping[str, Path], opened: Mapping[str, DatasetReader], grid: RegionGrid, window: Window
    ) -> dict[str, SourcePatch]:
        """Physical values of each variable of one tile on its source window, masks applied."""
        patches: dict[str, SourcePatch] = {}
        for name, layer in self.variables.items():
            if layer is None or layer not in opened:
                continue
            dataset = opened[layer]
            patch = read_decoded(
                dataset, piece[layer], grid, window, self.band(layer), self.encodings.get(layer), self.zero_is_nodata
            )
            if patch is None:
                continue
            values = self.to_physical(layer, patch.values)
            self.count_valid(piece[layer], int(np.count_nonzero(np.isfinite(values))))
            patches[name] = replace(patch, values=values)
        if self.mask_variable is None:
            return patches
        reference = patches.get(self.mask_variable)
        if reference is None:
            return {}
        keep = np.isfinite(reference.values) & self.keep_mask(piece, opened, reference.window)
        for patch in patches.values():
            patch.values[~keep] = np.nan
        return patches

    def __enter__(self) -> Self:
        for piece in self.scene.pieces:
            self.datasets.append({layer: self._stack.enter_context(open_raster(p)) for layer, p in piece.items()})
        for piece in self.scene.pieces:
            for layer in self.primary_layers:
                if layer in piece:
                    self.valid_counts[piece[layer]] = 0
        if self.mask_variable is not None:  # masks are applied pixel by pixel on the source grid
            reference = self.variables[self.mask_variable]
            for piece, opened in zip(self.scene.pieces, self.datasets, strict=True):
                for layer, dataset in opened.items():
                    if reference in opened:
                        self.same_grid(opened[reference], dataset, piece[layer])
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stack.close()
        self.datasets = []

    def check_overlap(self, grid: RegionGrid) -> None:
        """Raise InputDataError for the first file of the scene that lies outside the grid."""
        for piece, opened in zip(self.scene.pieces, self.datasets, strict=True):
            for layer, dataset in opened.items():
                grid.check_overlap(piece[layer], dataset.crs, tuple(dataset.bounds))

    def count_valid(self, path: Path, n_valid: int) -> None:
        """Add the valid source pixels read from a primary file (for :meth:`check_not_empty`)."""
        if path in self.valid_counts:
            self.valid_counts[path] += n_valid

    def check_not_empty(self) -> None:
        """Raise InputDataError when a primary file held no valid pixel inside the region."""
        for path, count in self.valid_counts.items():
            if count == 0:
                raise InputDataError(
                    path,
                    "the scene holds no valid pixel inside the region (every value read is no-data)",
                    "remove this scene from the region folder, or check its no-data tag and scale",
                )

    def same_grid(self, reference: DatasetReader, other: DatasetReader, path: Path) -> None:
        """Raise InputDataError unless two layers of one piece share their grid."""
        if other.transform != reference.transform or other.shape != reference.shape or other.crs != reference.crs:
            raise InputDataError(
                path,
                f"this layer's grid ({other.shape}, {other.crs}) differs from the other layers of its acquisition "
                f"({reference.shape}, {reference.crs})",
                "export all layers of one acquisition on the same grid (AppEEARS does this by default)",
            )


def mosaic(first: np.ndarray, more: np.ndarray) -> np.ndarray:
    """Fill the NaN pixels of ``first`` from ``more`` (tiles of one acquisition)."""
    holes = np.isnan(first)
    first[holes] = more[holes]
    return first
