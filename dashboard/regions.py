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


def extent(locations: pd.DataFrame, margin_deg: float) -> tuple[float, float, float, float]:
    """(west, south, east, north) around all regions plus a margin, for the locator map's axes."""
    return (
        float(locations["west"].min() - margin_deg),
        float(locations["south"].min() - margin_deg),
        float(locations["east"].max() + margin_deg),
        float(locations["north"].max() + margin_deg),
    )
