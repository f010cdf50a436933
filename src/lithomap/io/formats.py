"""File-format facts of the real products, shared by the readers and the scene writers.

Each constant comes from SCIENCE.md section 3 or from the real files in
``../shared/realdata`` (their tags were read with rasterio).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Encoding:
    """Integer encoding of a physical layer: value = DN × scale + offset; ``fill`` = no data."""

    dtype: str
    scale: float
    offset: float
    fill: float
    units: str


# ECOSTRESS ECO2LSTE.001 / ECO2CLD.001 as exported by AppEEARS (swath resampled to a
# geographic grid, one GeoTIFF per layer and overpass).
APPEEARS_NAME = re.compile(
    r"^(?P<product>ECO2LSTE|ECO2CLD|ECO3ETPTJPL|ECO1BGEO)\.(?P<version>\d{3})_SDS_(?P<layer>[A-Za-z_]+?)"
    r"_doy(?P<year>\d{4})(?P<doy>\d{3})(?P<hms>\d{6})_aid(?P<aid>\d{4})\.tif$"
)
APPEEARS_ENCODINGS: dict[str, Encoding] = {
    "LST": Encoding("int32", 0.02, 0.0, 0, "K"),
    "LST_err": Encoding("uint8", 0.04, 0.0, 0, "K"),
    "EmisWB": Encoding("uint8", 0.002, 0.49, 0, "NA"),
    "QC": Encoding("int32", 1.0, 0.0, -99999, "NA"),
    "CloudMask": Encoding("int16", 1.0, 0.0, -999, "Bit-field"),
}
APPEEARS_PIXEL_DEG = 0.000630866027323908  # ~70 m, as in the real exports
# CloudMask bits (ECO2CLD lookup table): bit 0 = mask determined, bit 1 = final cloud
# (plus region growing), bit 2 = final cloud (any of tests), bits 3-4 = single tests,
# bit 5 = land (0) / water (1).
CLOUD_DETERMINED_BIT = 0
CLOUD_FINAL_BIT = 1
CLOUD_WATER_BIT = 5

# ECOSTRESS Collection 2 L2T LSTE tiles (already scaled floats, NaN fill).
L2T_NAME = re.compile(
    r"^(?P<collection>ECOv\d{3})_L2T_LSTE_(?P<orbit>\d{5})_(?P<scene>\d{3})_(?P<tile>\d{2}[A-Z]{3})_"
    r"(?P<time>\d{8}T\d{6})_(?P<build>\d{4})_(?P<iteration>\d{2})_(?P<layer>[A-Za-z_]+)\.tif$"
)

# QC bits 0-1 (mandatory QA): 0 best, 1 nominal, 2 cloud detected, 3 not produced.
QC_MANDATORY_MASK = 0b11

# Landsat Collection 2 Level-2 surface temperature.
LANDSAT_ST_NAME = re.compile(
    r"^(?P<sensor>L[CET]0\d)_L2SP_(?P<pathrow>\d{6})_(?P<date>\d{8})_(?P<processed>\d{8})_02_"
    r"(?P<tier>T1|T2|RT)_ST_B(?P<band>10|6)\.TIF$",
    re.IGNORECASE,
)
LANDSAT_ST = Encoding("uint16", 0.00341802, 149.0, 0, "K")

# Sentinel-1 RTC from ASF HyP3 (float32 gamma0, linear power by default, nodata 0): the
# product name, then the layer (VV, VH, or a companion such as the DEM below).
_HYP3_PRODUCT = (
    r"^(?P<platform>S1[ABC])_IW_(?P<time>\d{8}T\d{6})_(?P<pol_mode>[DS][VH][PRO])_RTC(?P<spacing>\d{2})_(?:G_)?"
    r"(?P<radiometry>[gs])(?P<scale>[pad])(?P<mask>[uw])(?P<filter>[nf])(?P<clip>[ec])(?P<dem>[dm])_"
    r"(?P<crc>[0-9A-F]{4})_"
)
HYP3_RTC_NAME = re.compile(_HYP3_PRODUCT + r"(?P<pol>VV|VH)\.tif$")

# Elevation (one static layer, metres; SCIENCE.md 3): the DEM companion HyP3 RTC writes with
# include_dem (float32, the Copernicus GLO-30 DEM on the product's UTM grid; no NoData tag
# since hyp3-gamma 6.2.4), and the Copernicus DEM tiles themselves (GLO-30: 10 arc-second
# name code, GLO-90: 30; float32 on EPSG:4326, no NoData tag; the COG and the DGED names).
HYP3_DEM_NAME = re.compile(_HYP3_PRODUCT + r"dem\.tif$")
COPERNICUS_DEM_NAME = re.compile(
    r"^Copernicus_DSM_(?:COG_)?(?P<arcsec>10|30)_(?P<lat>[NS]\d{2})_00_(?P<lon>[EW]\d{3})_00_DEM\.tif$"
)
DEM_RANGE_M = (-500.0, 9000.0)  # the Dead Sea shore (−430 m) to Everest (8849 m)

# Sentinel-2 L2A band files inside a SAFE folder (GeoTIFF or JPEG 2000).
S2_SAFE_NAME = re.compile(
    r"^(?P<platform>S2[ABC])_MSIL(?P<level>1C|2A)_(?P<time>\d{8}T\d{6})_N(?P<baseline>\d{4})_R(?P<orbit>\d{3})_"
    r"T(?P<tile>\d{2}[A-Z]{3})_(?P<processed>\d{8}T\d{6})\.SAFE$"
)
S2_BAND_NAME = re.compile(
    r"^T(?P<tile>\d{2}[A-Z]{3})_(?P<time>\d{8}T\d{6})_(?P<band>B\d[\dA]|SCL)_(?P<res>\d{2})m\.(?:jp2|tif)$"
)
S2_QUANTIFICATION = 10000.0
S2_BASELINE_OFFSET_FROM = "0400"  # BOA_ADD_OFFSET = -1000 from baseline 04.00 on
S2_BOA_ADD_OFFSET = -1000.0
S2_SCL_KEEP = (4, 5, 6, 11)

# Geological maps: attribute names searched for the lithology text, in order.
GEOLOGY_ATTRIBUTES = ("LITOLOGIA", "Litologia", "litologia", "DESCRIPCIO", "DESCRIPCION", "LEYENDA", "TIPO")

# --- additions for the issue-3 readers -------------------------------------------------

# ECOSTRESS CloudMask: a pixel is clear when the mask was determined (bit 0 set) and
# neither final-cloud bit (1: region-growing, 2: any test) is set.
CLOUD_CLEAR_MASK = (1 << CLOUD_DETERMINED_BIT) | (1 << CLOUD_FINAL_BIT) | (1 << 2)
CLOUD_CLEAR_VALUE = 1 << CLOUD_DETERMINED_BIT

# ECOSTRESS Collection 2 L2T: physical floats; QC and cloud fills (SCIENCE.md 3.1).
L2T_QC_FILL = 65535
L2T_CLOUD_FILL = 255

# Landsat Collection 2 L2 companions share the product prefix (everything before _ST_B10).
LANDSAT_QA_PIXEL_SUFFIX = "_QA_PIXEL.TIF"
LANDSAT_QA_REJECT_BITS = (0, 1, 2, 3, 4)  # fill, dilated cloud, cirrus, cloud, cloud shadow
LANDSAT_DEFAULT_SOLAR_HOUR = 10.5  # local solar time of a Landsat overpass when the MTL is absent

# Pre-collection / Collection 1 Level-1 scene names, e.g. LT52240631988227CUB02_B6.TIF.
LANDSAT_L1_NAME = re.compile(
    r"^(?P<scene>(?P<sensor>L[TEMC])(?P<mission>\d)(?P<path>\d{3})(?P<row>\d{3})(?P<year>\d{4})(?P<doy>\d{3})"
    r"(?P<station>[A-Z0-9]{3})(?P<version>\d{2}))_B(?P<band>\d{1,2})\.TIF$",
    re.IGNORECASE,
)
# Thermal calibration constants K1 (W m-2 sr-1 µm-1) and K2 (K) of the Level-1 thermal band,
# used when the MTL file does not carry them (USGS Landsat handbooks).
LANDSAT_THERMAL_K: dict[str, tuple[float, float]] = {
    "LT4": (671.62, 1284.30),
    "LT5": (607.76, 1260.56),
    "LE7": (666.09, 1282.71),
}
LANDSAT_L1_THERMAL_BAND = {"LT4": 6, "LT5": 6, "LE7": 6}

# Sen1Floods11 chips: <Country>_<chip>_<layer>.tif, co-registered on one EPSG:4326 grid.
SEN1FLOODS11_NAME = re.compile(
    r"^(?P<country>[A-Za-z]+(?:_[A-Za-z]+)*)_(?P<chip>\d+)_"
    r"(?P<layer>S1Hand|S1Weak|S2Hand|S2Weak|LabelHand|S1OtsuLabelHand|S1OtsuLabelWeak|JRCWaterHand)\.tif$"
)
SEN1FLOODS11_S2_BANDS = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B10", "B11", "B12")
SEN1FLOODS11_S2_SCALE = 10000.0

# Sentinel-1: float values whose valid median is below zero are dB (SCIENCE.md 3.4).
S1_DB_RANGE = (-40.0, 10.0)

# Sentinel-2 band order in MTD_MSIL2A.xml band_id attributes (0-based, B8A after B08).
S2_BAND_IDS = {
    "B01": 0,
    "B02": 1,
    "B03": 2,
    "B04": 3,
    "B05": 4,
    "B06": 5,
    "B07": 6,
    "B08": 7,
    "B8A": 8,
    "B09": 9,
    "B10": 10,
    "B11": 11,
    "B12": 12,
}

# A ready lithology label raster (uint8 class ids 0-13), e.g. lithology_labels.tif.
LABEL_RASTER_NAME = re.compile(r"^(?:.+[_-])?(?:lithology|litho)(?:[_-](?:labels?|classes))?\.tiff?$", re.IGNORECASE)
GEOLOGY_SUFFIXES = (".gpkg", ".shp", ".geojson")
LABEL_NAMES = (
    "a geological map (.gpkg/.shp/.geojson with a lithology text attribute) or a label raster of class ids 0–13 "
    "named lithology_labels.tif, lithology.tif or <name>_lithology.tif / <name>_litho_labels.tif"
)
# Sen1Floods11 label layers: flood (water/land) labels, recognised so that messages can say they are not lithology.
SEN1FLOODS11_LABEL_LAYERS = ("LabelHand", "S1OtsuLabelHand", "S1OtsuLabelWeak", "JRCWaterHand")


def is_flood_label(name: str) -> bool:
    """Whether a file name is a Sen1Floods11 flood label chip (e.g. Spain_7370579_LabelHand.tif)."""
    match = SEN1FLOODS11_NAME.match(name)
    return bool(match and match["layer"] in SEN1FLOODS11_LABEL_LAYERS)
