"""Thermal signatures of each class: diurnal and seasonal LST curves from a region cube.

For every thermal date, each labelled pixel's LST and LST anomaly (LST minus that date's
scene mean, which removes the diurnal and seasonal swing shared by the whole scene) is
added to its class's bin: the local-solar-hour bin of the date (diurnal curve) and its
month (seasonal curve). One date is read at a time, so memory does not grow with the
number of dates. Columns (the dashboard reads them): ``class``, ``solar_hour_bin`` (bin
centre, hours) or ``month``, ``lst_mean`` (K), ``lst_anomaly_mean`` (K), ``n`` (pixel
observations).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from lithomap.classes import N_CLASSES, class_names
from lithomap.timing import months

DIURNAL_COLUMNS = ["class", "solar_hour_bin", "lst_mean", "lst_anomaly_mean", "n"]
SEASONAL_COLUMNS = ["class", "month", "lst_mean", "lst_anomaly_mean", "n"]


def hour_bin_centres(width: float) -> np.ndarray:
    """Centres of the local-solar-hour bins of ``width`` hours covering 0–24 h."""
    edges = np.arange(0.0, 24.0 + 1e-9, width)
    if edges[-1] < 24.0:
        edges = np.append(edges, 24.0)
    return (edges[:-1] + edges[1:]) / 2


class _Accumulator:
    """Per-class, per-bin sums of LST, anomaly and counts."""

    def __init__(self, bins: int) -> None:
        self.lst = np.zeros((N_CLASSES, bins))
        self.anomaly = np.zeros((N_CLASSES, bins))
        self.count = np.zeros((N_CLASSES, bins), dtype=np.int64)

    def add(self, bin_index: int, label: np.ndarray, lst: np.ndarray) -> None:
        finite = np.isfinite(lst) & (label > 0)
        if not finite.any():
            return
        values = lst[finite].astype(np.float64)
        classes = label[finite]
        anomaly = values - float(np.nanmean(lst, dtype=np.float64))  # the date's scene mean
        self.lst[:, bin_index] += np.bincount(classes, weights=values, minlength=N_CLASSES)
        self.anomaly[:, bin_index] += np.bincount(classes, weights=anomaly, minlength=N_CLASSES)
        self.count[:, bin_index] += np.bincount(classes, minlength=N_CLASSES)

    def table(self, key: str, keys: np.ndarray, min_count: int, columns: list[str]) -> pd.DataFrame:
        names = class_names()
        rows = []
        for class_id in range(1, N_CLASSES):
            for index, value in enumerate(keys):
                n = int(self.count[class_id, index])
                if n >= min_count:
                    rows.append(
                        {
                            "class": names[class_id],
                            key: value,
                            "lst_mean": self.lst[class_id, index] / n,
                            "lst_anomaly_mean": self.anomaly[class_id, index] / n,
                            "n": n,
                        }
                    )
        return pd.DataFrame(rows, columns=columns)


def thermal_signatures(cube: xr.Dataset, hour_bin: float, min_count: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Diurnal and seasonal class curves of a labelled cube.

    Args:
        cube: a region cube with ``lst``, ``label`` and the ``solar_time`` coordinate.
        hour_bin: width of the local-solar-hour bins, hours.
        min_count: bins with fewer pixel observations are left out.

    Returns:
        (diurnal, seasonal) tables with ``DIURNAL_COLUMNS`` and ``SEASONAL_COLUMNS``.
    """
    label = cube["label"].values.astype(np.int64)
    centres = hour_bin_centres(hour_bin)
    hours = cube["solar_time"].values.astype(float)
    month_of = months(cube["time"].values)
    diurnal, seasonal = _Accumulator(len(centres)), _Accumulator(12)
    for index in range(cube.sizes["time"]):
        lst = cube["lst"].isel(time=index).values
        diurnal.add(min(int(hours[index] // hour_bin), len(centres) - 1), label, lst)
        seasonal.add(int(month_of[index]) - 1, label, lst)
    return (
        diurnal.table("solar_hour_bin", centres, min_count, DIURNAL_COLUMNS),
        seasonal.table("month", np.arange(1, 13), min_count, SEASONAL_COLUMNS),
    )
