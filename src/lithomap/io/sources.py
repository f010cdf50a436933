"""Scenes and scene readers: the common shape of every raster product reader.

A reader is declared torchgeo-style by class attributes (``product``, ``kind``,
``filename_regex`` with named groups) and two methods: ``discover`` groups the files of a
region folder into :class:`Scene` objects (one acquisition each), and ``read`` puts one
window of the region grid together from the scene's open files. A reader is used as a
context manager so that a scene's files are opened once for all the windows.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Literal, Self

import numpy as np
from rasterio.io import DatasetReader
from rasterio.windows import Window

from lithomap.config import IngestParams
from lithomap.errors import InputDataError
from lithomap.io.grid import RegionGrid
from lithomap.io.rasterfile import open_raster

SourceKind = Literal["thermal", "sar", "optical"]


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
        return [path for piece in self.pieces for path in piece.values()]

    def label(self) -> str:
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
    #: layers of a piece that decide the footprint and the no-data check
    primary_layers: ClassVar[tuple[str, ...]]

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

    @abstractmethod
    def read(self, grid: RegionGrid, window: Window) -> dict[str, np.ndarray]:
        """The scene's variables on one grid window (float32, NaN = no data)."""

    def __enter__(self) -> Self:
        for piece in self.scene.pieces:
            self.datasets.append({layer: self._stack.enter_context(open_raster(p)) for layer, p in piece.items()})
        for piece in self.scene.pieces:
            for layer in self.primary_layers:
                if layer in piece:
                    self.valid_counts[piece[layer]] = 0
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
