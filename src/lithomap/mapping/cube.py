"""Open a region's cube for mapping and reporting: labelled or not, but with thermal data, on its grid."""

from __future__ import annotations

import xarray as xr

from lithomap.config import Params
from lithomap.io.cube import cube_path, open_cube


def open_region_cube(region: str, params: Params) -> xr.Dataset:
    """A region's cube (labels optional: a new area has none) checked against its grid.

    Raises:
        MissingSourceError: no cube, or no thermal data in it.
        InputDataError: the cube's grid differs from the region's in params.yaml.
    """
    path = cube_path(params.ingest.interim_dir, region)
    return open_cube(path, params.region(region), needs=("lst",), step="mapping")
