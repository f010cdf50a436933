"""Map rasters on the region grid, written strip by strip and published as Cloud-Optimized GeoTIFFs.

``MapRasters`` opens one tiled GeoTIFF per output under a hidden temporary name, takes the
blended probabilities of one strip of rows at a time (so memory does not grow with the
scene), and on ``finish`` converts each file to a COG (GDAL streams that copy) and renames
it into place. Files (``FILES``):

- ``classes.tif``: uint8 class ids 0–13 with the 14-colour table, band description and the
  class names as GDAL category names (``classes.tif.aux.xml``, read by GDAL and QGIS) and as
  ``CLASS_<id>`` tags; 0 (background) is also the no-data value: pixels without thermal data;
- ``probabilities.tif``: one uint8 band per class, probability × 255 (about 255 summed per
  valid pixel, 0 elsewhere), each band described by its class name;
- ``confidence.tif``: float32 top-1 probability, NaN no data;
- ``margin.tif``: float32 top-1 minus top-2 probability, NaN no data;
- ``difference.tif`` (labelled regions only): uint8 0 unlabelled, 1 correct, 2 wrong;
- ``shift.tif`` (models with a domain-shift reference): float32 per-pixel Mahalanobis
  distance of the pixel's thermal summaries to the model's training pixels
  (``lithomap.models.shift``), NaN no data.

``tag`` writes dataset tags (the map's domain shift, expected accuracy, warning) into
``classes.tif`` and ``shift.tif`` before they are published.

A class is the argmax over classes 1–13: background is what the loss ignores, so its
probability carries no information and it is never predicted where data exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from xml.sax.saxutils import escape

import numpy as np
import rasterio
import rasterio.shutil
from rasterio.crs import CRS
from rasterio.transform import Affine
from rasterio.windows import Window

from lithomap.atomic import temporary_path, write_text
from lithomap.classes import N_CLASSES, all_classes

CLASSES_FILE = "classes.tif"
PROBABILITIES_FILE = "probabilities.tif"
CONFIDENCE_FILE = "confidence.tif"
MARGIN_FILE = "margin.tif"
DIFFERENCE_FILE = "difference.tif"
SHIFT_RASTER = "shift.tif"
FILES = (CLASSES_FILE, PROBABILITIES_FILE, CONFIDENCE_FILE, MARGIN_FILE, DIFFERENCE_FILE, SHIFT_RASTER)
UNLABELLED, CORRECT, WRONG = 0, 1, 2
BLOCK_PX = 256
CHUNK_PX = 65_536
GDAL_CACHE_BYTES = 64 * 2**20


def bounded_gdal_cache() -> rasterio.Env:
    """GDAL's block cache bounded to ``GDAL_CACHE_BYTES`` while map rasters are converted or read.

    GDAL's default (5 % of the RAM) lets a COG conversion or a whole-raster read keep the
    entire scene's blocks in memory beside the arrays made from them.
    """
    return rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_BYTES)


def strip_products(probabilities: np.ndarray, valid: np.ndarray) -> dict[str, np.ndarray]:
    """Class, scaled probabilities, confidence and margin of one strip.

    Computed ``CHUNK_PX`` pixels at a time, so the float temporaries stay small however
    wide the scene.

    Args:
        probabilities: (h, w, 14) blended probabilities (rows sum to 1).
        valid: (h, w) pixels with data; the others get class 0, probability 0 and NaN.

    Returns:
        ``classes`` (h, w) uint8, ``probabilities`` (14, h, w) uint8, ``confidence`` and
        ``margin`` (h, w) float32.
    """
    height, width = valid.shape
    products: dict[str, np.ndarray] = {
        "classes": np.empty((height, width), dtype=np.uint8),
        "probabilities": np.empty((probabilities.shape[-1], height, width), dtype=np.uint8),
        "confidence": np.empty((height, width), dtype=np.float32),
        "margin": np.empty((height, width), dtype=np.float32),
    }
    rows = max(1, CHUNK_PX // max(width, 1))
    for top in range(0, height, rows):
        part = slice(top, top + rows)
        for name, array in _chunk_products(probabilities[part], valid[part]).items():
            products[name][..., part, :] = array
    return products


def _chunk_products(probabilities: np.ndarray, valid: np.ndarray) -> dict[str, np.ndarray]:
    """``strip_products`` of a few rows at once."""
    lithology = np.nan_to_num(probabilities[..., 1:], nan=0.0)
    ranked = np.sort(lithology, axis=-1)
    classes = np.where(valid, lithology.argmax(axis=-1) + 1, 0).astype(np.uint8)
    confidence = np.where(valid, ranked[..., -1], np.nan).astype(np.float32)
    margin = np.where(valid, ranked[..., -1] - ranked[..., -2], np.nan).astype(np.float32)
    scaled = np.where(valid[..., None], np.rint(np.clip(np.nan_to_num(probabilities), 0, 1) * 255), 0)
    return {
        "classes": classes,
        "probabilities": np.moveaxis(scaled.astype(np.uint8), -1, 0),
        "confidence": confidence,
        "margin": margin,
    }


def difference(classes: np.ndarray, label: np.ndarray) -> np.ndarray:
    """uint8 0 where unlabelled (label 0 or no prediction), 1 correct, 2 wrong."""
    scored = (label > 0) & (classes > 0)
    return np.where(scored, np.where(classes == label, CORRECT, WRONG), UNLABELLED).astype(np.uint8)


def colour_table() -> dict[int, tuple[int, int, int, int]]:
    """Class id → RGBA of the 14 classes (background transparent)."""
    table = {}
    for lithology in all_classes():
        red, green, blue = (round(channel * 255) for channel in lithology.rgb)
        table[lithology.id] = (red, green, blue, 0 if lithology.id == 0 else 255)
    return table


def category_names_xml(names: Sequence[str]) -> str:
    """GDAL PAM sidecar (``.aux.xml``) naming the categories of band 1."""
    categories = "".join(f"      <Category>{escape(name)}</Category>\n" for name in names)
    return (
        "<PAMDataset>\n"
        '  <PAMRasterBand band="1">\n'
        "    <CategoryNames>\n"
        f"{categories}"
        "    </CategoryNames>\n"
        "  </PAMRasterBand>\n"
        "</PAMDataset>\n"
    )


class MapRasters:
    """Strip-by-strip writer of a map's rasters (see the module docstring).

    Args:
        folder: where the finished files go (created if missing).
        crs: the region grid's CRS.
        transform: the region grid's affine transform.
        shape: (height, width) of the region.
        labelled: also write ``difference.tif``.
        shift: also write ``shift.tif``.
    """

    def __init__(
        self,
        folder: Path,
        crs: CRS,
        transform: Affine,
        shape: tuple[int, int],
        labelled: bool,
        shift: bool = False,
    ) -> None:
        self.folder = folder
        self.shape = shape
        folder.mkdir(parents=True, exist_ok=True)
        base = {
            "driver": "GTiff",
            "height": shape[0],
            "width": shape[1],
            "crs": crs,
            "transform": transform,
            "tiled": True,
            "blockxsize": BLOCK_PX,
            "blockysize": BLOCK_PX,
            "compress": "deflate",
        }
        names = [c.name for c in all_classes()]
        self._datasets: dict[str, rasterio.io.DatasetWriter] = {}
        self._datasets[CLASSES_FILE] = self._open(CLASSES_FILE, base, count=1, dtype="uint8", nodata=0)
        classes = self._datasets[CLASSES_FILE]
        classes.write_colormap(1, colour_table())
        classes.set_band_description(1, "lithology class (0-13)")
        classes.update_tags(1, **{f"CLASS_{c.id}": c.name for c in all_classes()})
        probabilities = self._open(PROBABILITIES_FILE, base, count=N_CLASSES, dtype="uint8", nodata=None)
        for index, name in enumerate(names, start=1):
            probabilities.set_band_description(index, f"p({name}) x 255")
        self._datasets[PROBABILITIES_FILE] = probabilities
        for file, description in ((CONFIDENCE_FILE, "top-1 probability"), (MARGIN_FILE, "top-1 minus top-2")):
            self._datasets[file] = self._open(file, base, count=1, dtype="float32", nodata=float("nan"))
            self._datasets[file].set_band_description(1, description)
        if labelled:
            self._datasets[DIFFERENCE_FILE] = self._open(DIFFERENCE_FILE, base, count=1, dtype="uint8", nodata=None)
            self._datasets[DIFFERENCE_FILE].set_band_description(1, "0 unlabelled, 1 correct, 2 wrong")
            self._datasets[DIFFERENCE_FILE].write_colormap(
                1, {UNLABELLED: (0, 0, 0, 0), CORRECT: (46, 160, 67, 255), WRONG: (214, 39, 40, 255)}
            )
        if shift:
            self._datasets[SHIFT_RASTER] = self._open(SHIFT_RASTER, base, count=1, dtype="float32", nodata=float("nan"))
            self._datasets[SHIFT_RASTER].set_band_description(1, "domain shift: distance to the training pixels")

    def _open(self, name: str, base: dict, **options: object) -> rasterio.io.DatasetWriter:
        return rasterio.open(temporary_path(self.folder / name, ".work.tif"), "w", **base, **options)

    def write(
        self,
        row: int,
        probabilities: np.ndarray,
        valid: np.ndarray,
        label: np.ndarray | None = None,
        distances: np.ndarray | None = None,
    ) -> dict[str, np.ndarray]:
        """Write the strip of rows starting at ``row``; returns its products (see ``strip_products``).

        ``distances`` (h, w) are the strip's domain-shift distances (written where ``valid``).
        """
        products = strip_products(probabilities, valid)
        window = Window(0, row, self.shape[1], probabilities.shape[0])
        self._datasets[CLASSES_FILE].write(products["classes"], 1, window=window)
        self._datasets[PROBABILITIES_FILE].write(products["probabilities"], window=window)
        self._datasets[CONFIDENCE_FILE].write(products["confidence"], 1, window=window)
        self._datasets[MARGIN_FILE].write(products["margin"], 1, window=window)
        if DIFFERENCE_FILE in self._datasets and label is not None:
            products["difference"] = difference(products["classes"], label)
            self._datasets[DIFFERENCE_FILE].write(products["difference"], 1, window=window)
        if SHIFT_RASTER in self._datasets and distances is not None:
            products["shift"] = np.where(valid, distances, np.nan).astype(np.float32)
            self._datasets[SHIFT_RASTER].write(products["shift"], 1, window=window)
        return products

    def tag(self, tags: dict[str, str]) -> None:
        """Set dataset tags on ``classes.tif`` and ``shift.tif`` (call before ``finish``)."""
        for name in (CLASSES_FILE, SHIFT_RASTER):
            if name in self._datasets:
                self._datasets[name].update_tags(**tags)

    def finish(self) -> list[Path]:
        """Close the working files, convert each to a COG and move it into place."""
        finished = []
        with bounded_gdal_cache():
            for name, dataset in self._datasets.items():
                dataset.close()
                finished.append(
                    _publish_cog(
                        Path(dataset.name), self.folder / name, categorical=name in (CLASSES_FILE, DIFFERENCE_FILE)
                    )
                )
        write_text(self.folder / f"{CLASSES_FILE}.aux.xml", category_names_xml([c.name for c in all_classes()]))
        self._datasets.clear()
        return finished

    def abort(self) -> None:
        """Close and delete the working files (after a failure)."""
        for dataset in self._datasets.values():
            dataset.close()
            Path(dataset.name).unlink(missing_ok=True)
        self._datasets.clear()

    def __enter__(self) -> MapRasters:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if kind is not None:
            self.abort()


def _publish_cog(work: Path, final: Path, categorical: bool) -> Path:
    """Copy a tiled GeoTIFF to a COG beside ``final``, rename it into place, drop the working file."""
    staged = temporary_path(final)
    rasterio.shutil.copy(
        work,
        staged,
        driver="COG",
        compress="DEFLATE",
        blocksize=BLOCK_PX,
        overview_resampling="nearest" if categorical else "average",
    )
    staged.replace(final)
    work.unlink(missing_ok=True)
    Path(f"{staged}.aux.xml").unlink(missing_ok=True)
    return final
