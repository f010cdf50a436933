"""Write synthetic layers in the real products' encodings and file layouts.

Every encoding constant comes from ``lithomap.io.formats``, the module the readers use,
so a generated scene and a real download are read by the same code.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import rasterio
from affine import Affine
from rasterio import features
from shapely.geometry import shape

from lithomap.io import formats

# GeoPackages record their write time (gpkg_contents.last_change); a fixed one makes
# identical scenes identical files.
GPKG_TIMESTAMP = "2000-01-01T00:00:00.000Z"
GTIFF_OPTIONS = {"driver": "GTiff", "compress": "deflate", "tiled": True, "blockxsize": 256, "blockysize": 256}


def write_geotiff(
    path: Path,
    bands: np.ndarray,
    transform: Affine,
    crs: str,
    nodata: float | None,
    tags: Mapping[str, str] | None = None,
    descriptions: tuple[str, ...] | None = None,
) -> Path:
    """Write a (bands, rows, cols) or (rows, cols) array as a tiled, compressed GeoTIFF."""
    data = bands if bands.ndim == 3 else bands[None]
    path.parent.mkdir(parents=True, exist_ok=True)
    options = dict(GTIFF_OPTIONS)
    if data.shape[1] < 256 or data.shape[2] < 256:
        options.update(tiled=False)
        options.pop("blockxsize")
        options.pop("blockysize")
    with rasterio.open(
        path,
        "w",
        count=data.shape[0],
        height=data.shape[1],
        width=data.shape[2],
        dtype=data.dtype,
        crs=crs,
        transform=transform,
        nodata=nodata,
        **options,
    ) as dst:
        dst.write(data)
        if tags:
            dst.update_tags(**tags)
        for index, text in enumerate(descriptions or (), start=1):
            dst.set_band_description(index, text)
    return path


def encode(values: np.ndarray, encoding: formats.Encoding) -> np.ndarray:
    """Physical values → integer DN of ``encoding``; NaN becomes the fill value."""
    info = np.iinfo(encoding.dtype)
    dn = np.round((values - encoding.offset) / encoding.scale)
    lowest = info.min if encoding.fill != info.min else info.min + 1
    dn = np.clip(np.nan_to_num(dn, nan=encoding.fill), lowest, info.max)
    dn[~np.isfinite(values)] = encoding.fill
    if encoding.fill == 0:
        dn[np.isfinite(values) & (dn == 0)] = 1
    return dn.astype(encoding.dtype)


def appeears_name(product: str, layer: str, utc: datetime) -> str:
    """AppEEARS export name, e.g. ``ECO2LSTE.001_SDS_LST_doy2023196123000_aid0001.tif``."""
    stamp = f"{utc.year}{utc.timetuple().tm_yday:03d}{utc:%H%M%S}"
    return f"{product}.001_SDS_{layer}_doy{stamp}_aid0001.tif"


def write_appeears_overpass(
    folder: Path,
    utc: datetime,
    layers: Mapping[str, np.ndarray],
    transform: Affine,
    orbit: int,
    scene: int,
) -> list[Path]:
    """Write one ECOSTRESS overpass as AppEEARS exports (EPSG:4326, integer-scaled layers).

    ``layers`` maps the AppEEARS layer names (LST, LST_err, EmisWB, QC, CloudMask) to
    physical values; they are encoded with the real exports' scale, offset and fill.
    """
    written = []
    for layer, values in layers.items():
        encoding = formats.APPEEARS_ENCODINGS[layer]
        product = "ECO2CLD" if layer == "CloudMask" else "ECO2LSTE"
        tags = {
            "add_offset": f"{encoding.offset:g}",
            "scale_factor": f"{encoding.scale:g}",
            "units": encoding.units,
            "orbit_number": str(orbit),
            "scene_id": f"{scene:03d}",
            "build_id": "0601",
        }
        path = folder / appeears_name(product, layer, utc)
        written.append(write_geotiff(path, encode(values, encoding), transform, "EPSG:4326", encoding.fill, tags))
    return written


def hyp3_rtc_name(utc: datetime, layer: str, crc: str, spacing_m: int = 30) -> str:
    """ASF HyP3 RTC name of one layer: ``VV``, ``VH`` or the ``dem`` companion.

    The flags say gamma0, power scale, unmasked, unfiltered, clipped, DEM-matched.
    """
    return f"S1A_IW_{utc:%Y%m%dT%H%M%S}_DVP_RTC{spacing_m:02d}_G_gpuned_{crc}_{layer}.tif"


def write_hyp3_rtc(
    folder: Path,
    utc: datetime,
    vv: np.ndarray,
    vh: np.ndarray,
    transform: Affine,
    crs: str,
    crc: str,
    dem: np.ndarray | None = None,
) -> list[Path]:
    """Write a Sentinel-1 RTC pair as HyP3 delivers it: float32 linear gamma0, nodata 0.

    With ``dem`` (metres, on the same grid) also the ``_dem.tif`` companion HyP3 adds when
    the DEM is requested: float32, no NoData tag (as hyp3-gamma writes it since 6.2.4).
    """
    spacing = round(transform.a)
    written = [
        write_geotiff(folder / hyp3_rtc_name(utc, pol, crc, spacing), values.astype(np.float32), transform, crs, 0.0)
        for pol, values in (("VV", vv), ("VH", vh))
    ]
    if dem is not None:
        name = hyp3_rtc_name(utc, "dem", crc, spacing)
        written.append(write_geotiff(folder / name, dem.astype(np.float32), transform, crs, None, {"units": "m"}))
    return written


MTD_TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<n1:Level-2A_User_Product xmlns:n1="https://psd-14.sentinel2.eo.esa.int/PSD/User_Product_Level-2A.xsd">
  <n1:General_Info>
    <Product_Info>
      <PRODUCT_START_TIME>{start}</PRODUCT_START_TIME>
      <PROCESSING_BASELINE>{baseline}</PROCESSING_BASELINE>
      <PRODUCT_TYPE>S2MSI2A</PRODUCT_TYPE>
    </Product_Info>
    <Product_Image_Characteristics>
      <QUANTIFICATION_VALUES_LIST>
        <BOA_QUANTIFICATION_VALUE unit="none">{quantification:g}</BOA_QUANTIFICATION_VALUE>
      </QUANTIFICATION_VALUES_LIST>
      <BOA_ADD_OFFSET_VALUES_LIST>
{offsets}
      </BOA_ADD_OFFSET_VALUES_LIST>
    </Product_Image_Characteristics>
  </n1:General_Info>
</n1:Level-2A_User_Product>
"""


def write_sentinel2_l2a(
    folder: Path,
    utc: datetime,
    tile: str,
    red: np.ndarray,
    nir: np.ndarray,
    scl: np.ndarray,
    transform: Affine,
    crs: str,
    baseline: str = "0510",
) -> Path:
    """Write B04/B08 (10 m) and SCL (20 m) in an L2A SAFE layout; returns the SAFE folder.

    Reflectances are quantised as DN = reflectance × 10000 − BOA_ADD_OFFSET, with the
    −1000 offset of processing baselines 04.00 and later, recorded in MTD_MSIL2A.xml.
    """
    stamp = f"{utc:%Y%m%dT%H%M%S}"
    offset = formats.S2_BOA_ADD_OFFSET if baseline >= formats.S2_BASELINE_OFFSET_FROM else 0.0
    safe = folder / f"S2A_MSIL2A_{stamp}_N{baseline}_R051_T{tile}_{stamp[:8]}T140000.SAFE"
    granule = safe / "GRANULE" / f"L2A_T{tile}_A000000_{stamp}" / "IMG_DATA"
    reflectance = formats.Encoding("uint16", 1 / formats.S2_QUANTIFICATION, offset / formats.S2_QUANTIFICATION, 0, "")
    for band, values in (("B04", red), ("B08", nir)):
        write_geotiff(
            granule / "R10m" / f"T{tile}_{stamp}_{band}_10m.tif", encode(values, reflectance), transform, crs, 0
        )
    coarse = Affine(transform.a * 2, transform.b, transform.c, transform.d, transform.e * 2, transform.f)
    write_geotiff(granule / "R20m" / f"T{tile}_{stamp}_SCL_20m.tif", scl.astype(np.uint8), coarse, crs, 0)
    offsets = "\n".join(
        f'        <BOA_ADD_OFFSET band_id="{band_id}">{offset:g}</BOA_ADD_OFFSET>' for band_id in range(13)
    )
    (safe / "MTD_MSIL2A.xml").write_text(
        MTD_TEMPLATE.format(
            start=f"{utc:%Y-%m-%dT%H:%M:%S}.000Z",
            baseline=f"{baseline[:2]}.{baseline[2:]}",
            quantification=formats.S2_QUANTIFICATION,
            offsets=offsets,
        ),
        encoding="utf-8",
    )
    return safe


def write_geology(
    path: Path,
    class_map: np.ndarray,
    transform: Affine,
    crs: str,
    legend_text: Mapping[int, tuple[str, ...]],
    rng: np.random.Generator,
    target_crs: str = "EPSG:4258",
    layer: str = "geologia",
) -> Path:
    """Vectorise a class map into a geological map GeoPackage with a Spanish LITOLOGIA text.

    Each polygon gets one of its class's legend texts, so the map carries the variety of
    wording a real legend has; polygons are stored in ``target_crs`` (ETRS89 by default).
    """
    records = []
    for geometry, value in features.shapes(class_map, transform=transform, connectivity=4):
        texts = legend_text[int(value)]
        records.append({"LITOLOGIA": texts[int(rng.integers(len(texts)))], "geometry": shape(geometry)})
    frame = gpd.GeoDataFrame(records, geometry="geometry", crs=crs).to_crs(target_crs)
    frame.insert(0, "CODIGO", np.arange(1, len(frame) + 1, dtype=np.int32))
    path.parent.mkdir(parents=True, exist_ok=True)
    previous = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": GPKG_TIMESTAMP})
    try:
        frame.to_file(path, layer=layer, driver="GPKG", engine="pyogrio")
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": previous})
    return path
