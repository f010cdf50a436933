"""Where the regions are, in longitude and latitude, for the locator map."""

from __future__ import annotations

import pandas as pd
from rasterio.errors import CRSError
from rasterio.warp import transform_bounds

from lithomap.config import RegionParams

LOCATION_COLUMNS = ("region", "lon", "lat", "west", "south", "east", "north")


def region_locations(regions: dict[str, RegionParams]) -> pd.DataFrame:
    """Centre and bounds (EPSG:4326) of each region: from its grid bounds, else its synthetic site.

    Regions with neither (real data whose bounds come from the thermal files) are left out.
    """
    rows = []
    for name, region in regions.items():
        if region.bounds is not None:
            try:
                west, south, east, north = transform_bounds(region.crs, "EPSG:4326", *region.bounds)
            except CRSError:
                continue
            rows.append((name, (west + east) / 2, (south + north) / 2, west, south, east, north))
        elif region.synthetic is not None:
            lon, lat = region.synthetic.centre_lon, region.synthetic.centre_lat
            rows.append((name, lon, lat, lon, lat, lon, lat))
    return pd.DataFrame(rows, columns=list(LOCATION_COLUMNS))


def extent_box(locations: pd.DataFrame, margin_deg: float) -> dict:
    """A GeoJSON polygon around all regions plus a margin, for fitting the locator map's projection."""
    west, east = locations["west"].min() - margin_deg, locations["east"].max() + margin_deg
    south, north = locations["south"].min() - margin_deg, locations["north"].max() + margin_deg
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [ring]}}
