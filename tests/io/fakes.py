"""Tiny seeded files in the real products' formats, written with rasterio/geopandas for the io tests."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
from rasterio.transform import from_origin
from shapely.geometry import box

from lithomap.io import formats

UTM = "EPSG:32630"
# A small area near Puertollano (lon -4.1, lat 38.7), UTM 30N.
UTM_X0, UTM_Y0 = 411_000.0, 4_285_000.0
LON0, LAT0 = -4.02, 38.71


def write_tif(path: Path, data: np.ndarray, crs: str | None, transform, nodata=None, tags=None, **extra) -> Path:
    """Write a (bands, rows, cols) or (rows, cols) array as a tiled, compressed GeoTIFF."""
    path.parent.mkdir(parents=True, exist_ok=True)
    array = data[None] if data.ndim == 2 else data
    profile = {
        "driver": "GTiff",
        "height": array.shape[1],
        "width": array.shape[2],
        "count": array.shape[0],
        "dtype": array.dtype.name,
        "transform": transform,
        "nodata": nodata,
        "compress": "deflate",
    }
    if crs is not None:
        profile["crs"] = crs
    if array.shape[1] >= 16 and array.shape[2] >= 16:
        profile |= {
            "tiled": True,
            "blockxsize": 16 * max(1, min(array.shape[2], 256) // 16),
            "blockysize": 16 * max(1, min(array.shape[1], 256) // 16),
        }
    profile |= extra
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(array)
        if tags:
            dst.update_tags(**tags)
    return path


def doy_stamp(time: datetime) -> str:
    return f"{time.year}{time.timetuple().tm_yday:03d}{time:%H%M%S}"


def write_appeears(
    folder: Path,
    time: datetime,
    lst_k: np.ndarray,
    *,
    qc: np.ndarray | None = None,
    cloud: np.ndarray | None = None,
    emis: np.ndarray | None = None,
    lon0: float = LON0,
    lat0: float = LAT0,
    pixel: float = formats.APPEEARS_PIXEL_DEG,
) -> dict[str, Path]:
    """One AppEEARS overpass (LST, EmisWB, QC, CloudMask) with the real exports' encodings and tags."""
    shape = lst_k.shape
    transform = from_origin(lon0, lat0, pixel, pixel)
    stamp = doy_stamp(time)
    dn = np.where(np.isfinite(lst_k), np.round(lst_k / 0.02), 0).astype(np.int32)
    emis = np.full(shape, 0.96) if emis is None else emis
    emis_dn = np.where(np.isfinite(emis), np.round((emis - 0.49) / 0.002), 0).astype(np.uint8)
    qc = np.zeros(shape, np.int32) if qc is None else qc.astype(np.int32)
    cloud = np.ones(shape, np.int16) if cloud is None else cloud.astype(np.int16)
    files = {}
    for layer, data, nodata, scale, offset in (
        ("LST", dn, 0, "0.02", "0"),
        ("EmisWB", emis_dn, 0, "0.002", "0.49"),
        ("QC", qc, -99999, "1", "0"),
    ):
        name = f"ECO2LSTE.001_SDS_{layer}_doy{stamp}_aid0001.tif"
        files[layer] = write_tif(
            folder / name,
            data,
            "EPSG:4326",
            transform,
            nodata,
            {"scale_factor": scale, "add_offset": offset, "units": "K"},
        )
    files["CloudMask"] = write_tif(
        folder / f"ECO2CLD.001_SDS_CloudMask_doy{stamp}_aid0001.tif",
        cloud,
        "EPSG:4326",
        transform,
        -999,
        {"scale_factor": "1", "add_offset": "0"},
    )
    return files


def write_l2t(
    folder: Path,
    time: datetime,
    tile: str,
    lst_k: np.ndarray,
    x0: float,
    y0: float,
    cloud: np.ndarray | None = None,
    qc: np.ndarray | None = None,
) -> dict[str, Path]:
    """One ECOSTRESS Collection 2 L2T tile (float32 K with NaN, uint8 cloud, uint16 QC), 70 m UTM."""
    transform = from_origin(x0, y0, 70.0, 70.0)
    prefix = f"ECOv002_L2T_LSTE_28527_009_{tile}_{time:%Y%m%dT%H%M%S}_0710_01"
    shape = lst_k.shape
    layers = {
        "LST": (lst_k.astype(np.float32), np.nan),
        "EmisWB": (np.full(shape, 0.97, np.float32), np.nan),
        "QC": ((np.zeros(shape, np.uint16) if qc is None else qc.astype(np.uint16)), 65535),
        "cloud": ((np.zeros(shape, np.uint8) if cloud is None else cloud.astype(np.uint8)), 255),
    }
    return {
        layer: write_tif(folder / f"{prefix}_{layer}.tif", data, UTM, transform, nodata)
        for layer, (data, nodata) in layers.items()
    }


def write_hyp3(
    folder: Path,
    time: datetime,
    vv: np.ndarray,
    vh: np.ndarray,
    x0: float = UTM_X0,
    y0: float = UTM_Y0,
    pixel: float = 30.0,
    crc: str = "AB12",
    dem: np.ndarray | None = None,
) -> dict[str, Path]:
    """HyP3 RTC pair: float32 linear gamma0, nodata 0, UTM; with ``dem`` its ``_dem.tif`` (float32 m, no NoData)."""
    transform = from_origin(x0, y0, pixel, pixel)
    prefix = f"S1A_IW_{time:%Y%m%dT%H%M%S}_DVP_RTC30_gpuned_{crc}"
    files = {
        pol: write_tif(folder / f"{prefix}_{pol}.tif", data.astype(np.float32), UTM, transform, 0.0)
        for pol, data in (("VV", vv), ("VH", vh))
    }
    if dem is not None:
        files["dem"] = write_tif(folder / f"{prefix}_dem.tif", dem.astype(np.float32), UTM, transform)
    return files


def dem_ramp(shape: tuple[int, int], pixel: float, base_m: float = 600.0, slope: float = 0.1) -> np.ndarray:
    """A DEM rising eastwards: ``base_m`` + ``slope`` × the distance (m) of the pixel centre from the west edge."""
    east = (np.arange(shape[1]) + 0.5) * pixel
    return np.broadcast_to(base_m + slope * east, shape).astype(np.float32)


MTD_TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<n1:Level-2A_User_Product xmlns:n1="https://psd-14.sentinel2.eo.esa.int/PSD/User_Product_Level-2A.xsd">
<n1:General_Info><Product_Image_Characteristics>
<QUANTIFICATION_VALUES_LIST>
<BOA_QUANTIFICATION_VALUE unit="none">{quant}</BOA_QUANTIFICATION_VALUE>
</QUANTIFICATION_VALUES_LIST>
<BOA_ADD_OFFSET_VALUES_LIST>
{offsets}
</BOA_ADD_OFFSET_VALUES_LIST>
</Product_Image_Characteristics></n1:General_Info>
</n1:Level-2A_User_Product>
"""


def write_s2_safe(
    folder: Path,
    time: datetime,
    red_dn: np.ndarray,
    nir_dn: np.ndarray,
    *,
    tile: str = "30SVH",
    baseline: str = "0510",
    offset: float | None = -1000.0,
    scl: np.ndarray | None = None,
    x0: float = UTM_X0,
    y0: float = UTM_Y0,
) -> Path:
    """A Sentinel-2 L2A SAFE folder with B04/B08 at 10 m, SCL at 20 m and (optionally) MTD_MSIL2A.xml."""
    stamp = f"{time:%Y%m%dT%H%M%S}"
    safe = folder / f"S2A_MSIL2A_{stamp}_N{baseline}_R051_T{tile}_{stamp}.SAFE"
    img = safe / "GRANULE" / f"L2A_T{tile}_A000000_{stamp}" / "IMG_DATA"
    transform = from_origin(x0, y0, 10.0, 10.0)
    write_tif(img / "R10m" / f"T{tile}_{stamp}_B04_10m.tif", red_dn.astype(np.uint16), UTM, transform, 0)
    write_tif(img / "R10m" / f"T{tile}_{stamp}_B08_10m.tif", nir_dn.astype(np.uint16), UTM, transform, 0)
    if scl is not None:
        write_tif(
            img / "R20m" / f"T{tile}_{stamp}_SCL_20m.tif", scl.astype(np.uint8), UTM, from_origin(x0, y0, 20.0, 20.0), 0
        )
    if offset is not None:
        offsets = "\n".join(f'<BOA_ADD_OFFSET band_id="{i}">{int(offset)}</BOA_ADD_OFFSET>' for i in range(13))
        (safe / "MTD_MSIL2A.xml").write_text(MTD_TEMPLATE.format(quant=10000, offsets=offsets), encoding="utf-8")
    return safe


def write_geology(
    path: Path,
    polygons: list[tuple[tuple[float, float, float, float], str]],
    crs: str = "EPSG:4258",
    attribute: str = "LITOLOGIA",
    layer: str = "geologia",
) -> Path:
    """A geological map with one text attribute; polygons given as (lon/lat box, text)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = gpd.GeoDataFrame(
        {attribute: [text for _, text in polygons]}, geometry=[box(*bounds) for bounds, _ in polygons], crs=crs
    )
    kwargs = {"layer": layer} if path.suffix == ".gpkg" else {}
    frame.to_file(path, engine="pyogrio", **kwargs)
    return path


def write_landsat_st(folder: Path, date: datetime, lst_k: np.ndarray, x0: float = UTM_X0, y0: float = UTM_Y0) -> Path:
    """Landsat 8 C2 L2 ST_B10 (uint16, DN × 0.00341802 + 149, fill 0), 30 m UTM."""
    dn = np.where(np.isfinite(lst_k), np.round((lst_k - 149.0) / 0.00341802), 0).astype(np.uint16)
    name = f"LC08_L2SP_201033_{date:%Y%m%d}_{date:%Y%m%d}_02_T1_ST_B10.TIF"
    return write_tif(folder / name, dn, UTM, from_origin(x0, y0, 30.0, 30.0), 0)


def seeded(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)
