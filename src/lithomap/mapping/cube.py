"""Open a region's cube for mapping and reporting: labelled or not, but with thermal data, on its grid."""

from __future__ import annotations

import xarray as xr

from lithomap.config import Params
from lithomap.datasets.preprocess import check_grid, cube_path
from lithomap.errors import MissingSourceError


def open_region_cube(region: str, params: Params) -> xr.Dataset:
    """A region's cube (labels optional: a new area has none) checked against its grid.

    Raises:
        MissingSourceError: no cube, or no thermal data in it.
        InputDataError: the cube's grid differs from the region's in params.yaml.
    """
    path = cube_path(region, params.ingest)
    if not path.exists():
        raise MissingSourceError(path, "no region cube", f"run `lithomap ingest --region {region}` first")
    cube = xr.open_zarr(path)
    check_grid(cube, params.region(region), path)
    if "lst" not in cube:
        raise MissingSourceError(
            path, "the cube has no thermal data, which every model needs", "add thermal files and re-ingest"
        )
    return cube
