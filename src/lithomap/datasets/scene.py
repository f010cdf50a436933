"""The physical input channels of an experiment, read from a region cube for any window.

``preprocess`` cuts its shards from these channels and full-scene inference reads them
window by window, so a model sees the same inputs in training, evaluation and maps:

- ``sequence`` (T, h, w, C): per step the LST anomaly (LST minus that date's scene mean)
  and the emissivity, then with ``sar_series: true`` ``vv_step`` and ``vh_step`` (below);
  padded steps are NaN;
- ``static`` (h, w, Cs): the per-pixel summaries over every selected date
  (``SUMMARY_CHANNELS``; left out when the experiment says ``summaries: false``), then the
  experiment's static layers (VV, VH, NDVI; ``dem`` is the elevation above the region's
  median elevation, so that, like the LST anomaly, it describes the pixel within its region
  and not the region's altitude).

With ``thermal_features: standardised`` (climate-invariant inputs for mapping regions
without labels) the step channels become the *standardised* anomaly (the anomaly divided
by that date's spatial standard deviation over valid pixels) and the emissivity contrast
(emissivity minus that date's scene median), and the summaries end with
``relative_diurnal_range``: the pixel's mean day minus mean night LST divided by the
scene's median of that difference. Its inverse is the apparent thermal inertia (Price
1977) relative to the scene; the range stays finite where the difference nears 0. A scene
warmed by an offset and scaled by a gain (a cooler, higher region) gives the same values.

With ``sar_series: true`` each step also carries the Sentinel-1 backscatter (dB) a
sequence model could know at the step's thermal date: per pixel, that of the latest
acquisition (``sar_time``) at or before the date with valid VV and VH, or, where none is
before, of the earliest valid one after it. With full SAR coverage that is one acquisition
per step; where an acquisition has a gap (another frame, layover) the pixel keeps its
latest valid value.

Windows may run past the scene's bottom/right edge; the part outside is NaN (no data).
Scene statistics (each date's mean, spread, median emissivity; the median diurnal range;
the median elevation) are computed once, so memory follows the window, not the scene.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, cast

import numpy as np
import xarray as xr

from lithomap.config import ExperimentParams, PreprocessParams
from lithomap.datasets.experiments import equal_date_count, select_dates, sequence_steps
from lithomap.datasets.features import SAR_STEP_CHANNELS, STEP_CHANNELS, time_features
from lithomap.datasets.manifest import Manifest, rerun_hint
from lithomap.errors import ExperimentNotPossibleError, InputDataError
from lithomap.io.cube import SAR_DATE_VARIABLES, SAR_TIME, cube_daytime
from lithomap.timing import day_of_year

SUMMARY_CHANNELS = ("emissivity_mean", "lst_anomaly_day", "lst_anomaly_night", "lst_anomaly_std")
INVARIANT_SUMMARY = "relative_diurnal_range"
ThermalFeatures = Literal["anomaly", "standardised"]
_STRIP_ROWS = 256
_MEDIAN_PIXELS = 4_000_000


@dataclass
class CubeChannels:
    """Reads an experiment's stored channels from a region cube.

    Args:
        cube: the region cube (lazy zarr is fine).
        chosen: cube time indices of every selected date.
        day: (len(chosen),) daytime flags of those dates.
        steps: cube time index of each sequence step, −1 for padded steps.
        static_layers: the experiment's static layers (cube variables).
        summaries: whether the all-date thermal summaries lead the static channels.
        thermal_features: ``anomaly`` or the climate-invariant ``standardised`` (module docstring).
        sar_series: whether each step also carries ``vv_step`` and ``vh_step`` (module docstring);
            the cube must hold ``vv_dates``, ``vh_dates`` and ``sar_time``.
    """

    cube: xr.Dataset
    chosen: np.ndarray
    day: np.ndarray
    steps: np.ndarray
    static_layers: Sequence[str]
    summaries: bool = True
    thermal_features: ThermalFeatures = "anomaly"
    sar_series: bool = False
    _means: dict[int, float] = field(default_factory=dict, init=False, repr=False)
    _spreads: dict[int, float] = field(default_factory=dict, init=False, repr=False)
    _emissivity_medians: dict[int, float] = field(default_factory=dict, init=False, repr=False)
    _diurnal_median: float | None = field(default=None, init=False, repr=False)
    _dem_median: float | None = field(default=None, init=False, repr=False)

    @classmethod
    def from_manifest(cls, cube: xr.Dataset, manifest: Manifest) -> CubeChannels:
        """The channels a dataset was built from, for the same region's cube.

        Raises:
            InputDataError: a date of the manifest is not in the cube, the cube lacks the
                per-date SAR the dataset used, or the manifest's step channels are not the
                ones its selection gives (the dataset must be rebuilt).
        """
        chosen, steps = manifest.date_index(cube["time"].values)
        day = np.array([d.day for d in manifest.dates], dtype=bool)
        static = manifest.selection.get("static", [])
        features = cast("ThermalFeatures", manifest.selection.get("thermal_features", "anomaly"))
        sar_series = bool(manifest.selection.get("sar_series", False))
        source = f"{manifest.region}/{manifest.experiment}"
        if sar_series and not has_sar_series(cube):
            raise InputDataError(
                source,
                "the dataset uses the Sentinel-1 series, but the region cube holds no per-date SAR (vv_dates)",
                f"run `lithomap ingest --region {manifest.region}`, then "
                + rerun_hint(manifest.region, manifest.experiment).removeprefix("run "),
            )
        channels = cls(
            cube,
            chosen,
            day,
            steps,
            list(static),
            bool(manifest.selection.get("summaries", True)),
            features,
            sar_series,
        )
        if channels.step_names != list(manifest.step_channels):
            raise InputDataError(
                source,
                f"the manifest's step channels {manifest.step_channels} are not those of its selection "
                f"({channels.step_names})",
                rerun_hint(manifest.region, manifest.experiment),
            )
        return channels

    @classmethod
    def select(
        cls,
        cube: xr.Dataset,
        name: str,
        experiment: ExperimentParams,
        settings: PreprocessParams,
        source: Path,
        date_count: int | None = None,
    ) -> CubeChannels:
        """The channels experiment ``name`` selects from a cube: its dates, sequence steps and static layers.

        ``date_count`` (from ``region_date_count``) draws that many of the selected dates.

        Raises:
            ExperimentNotPossibleError: the cube lacks a static layer the experiment needs (or,
                with ``sar_series``, dated Sentinel-1), or the selection keeps no date.
            InputDataError: ``sar_series`` on a cube ingested before the per-date SAR was stored.
        """
        for layer in experiment.static:
            if layer not in cube:
                raise ExperimentNotPossibleError(
                    source,
                    f"experiment {name!r} needs {layer!r}, which the region lacks",
                    "add the source to the region's raw folder and ingest again, or leave the experiment out for "
                    "this region",
                )
        if experiment.sar_series:
            check_sar_series(cube, name, source)
        times = cube["time"].values
        day = cube_daytime(cube, settings.day_sun_elevation)
        chosen = select_dates(times, day, experiment, settings, name, source, date_count)
        steps = sequence_steps(chosen, settings.sequence_length)
        return cls(
            cube,
            chosen,
            day[chosen],
            steps,
            list(experiment.static),
            experiment.summaries,
            experiment.thermal_features,
            experiment.sar_series,
        )

    @property
    def standardised(self) -> bool:
        """Whether the inputs are the climate-invariant ones (``thermal_features: standardised``)."""
        return self.thermal_features == "standardised"

    @property
    def summary_names(self) -> list[str]:
        """Names of the per-pixel thermal summaries (empty with ``summaries: false``)."""
        if not self.summaries:
            return []
        return [*SUMMARY_CHANNELS, *((INVARIANT_SUMMARY,) if self.standardised else ())]

    @property
    def step_names(self) -> list[str]:
        """Names of the stored channels of each sequence step."""
        return [*STEP_CHANNELS, *(SAR_STEP_CHANNELS if self.sar_series else ())]

    @property
    def static_names(self) -> list[str]:
        """Names of the static channels: the summaries (if used), then the static layers."""
        return [*self.summary_names, *self.static_layers]

    def step_clock(self) -> tuple[np.ndarray, np.ndarray]:
        """Local solar hour and day of year of each sequence step (0 for padded steps)."""
        times = self.cube["time"].values
        solar = self.cube["solar_time"].values.astype(float)
        hours = np.array([solar[i] if i >= 0 else 0.0 for i in self.steps])
        doys = np.array([day_of_year(times[i]) if i >= 0 else 0 for i in self.steps])
        return hours, doys

    def step_times(self) -> np.ndarray:
        """UTC time (datetime64) of each sequence step; NaT for padded steps."""
        times = self.cube["time"].values.astype("datetime64[ns]")
        return np.array([times[i] if i >= 0 else np.datetime64("NaT", "ns") for i in self.steps], "datetime64[ns]")

    def time_features(self) -> np.ndarray:
        """(T, 4) sin/cos of solar hour and day of year of the steps; zeros for padded steps."""
        hours, doys = self.step_clock()
        return time_features(hours, doys, self.steps >= 0)

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) of the scene."""
        return int(self.cube.sizes["y"]), int(self.cube.sizes["x"])

    def date_mean(self, index: int) -> float:
        """Scene mean LST of one cube date (NaN ignored)."""
        if index not in self._means:
            lst = self.cube["lst"].isel(time=index).values.astype(np.float32)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                self._means[index] = float(np.nanmean(lst))
                spread = float(np.nanstd(lst))
            self._spreads[index] = spread if np.isfinite(spread) and spread > 0 else float("nan")
        return self._means[index]

    def date_spread(self, index: int) -> float:
        """Spatial standard deviation of one cube date's LST over valid pixels (NaN when flat or empty)."""
        self.date_mean(index)
        return self._spreads[index]

    def date_emissivity_median(self, index: int) -> float:
        """Scene median emissivity of one cube date (NaN ignored; NaN without emissivity)."""
        if index not in self._emissivity_medians:
            value = float("nan")
            if "emissivity" in self.cube:
                emissivity = self.cube["emissivity"].isel(time=index).values.astype(np.float32)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    value = float(np.nanmedian(emissivity))
            self._emissivity_medians[index] = value
        return self._emissivity_medians[index]

    def diurnal_median(self) -> float:
        """Scene median of the per-pixel mean day minus mean night LST over the selected dates (K).

        Read in strips of rows, so memory follows the scene's width. NaN without day or night dates.
        """
        if self._diurnal_median is None:
            height, width = self.shape
            dates = [int(i) for i in self.chosen]
            ranges = []
            for row in range(0, height, _STRIP_ROWS):
                rows = slice(row, min(row + _STRIP_ROWS, height))
                ranges.append(_diurnal_range(self._window("lst", dates, rows, slice(0, width)), self.day).ravel())
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                self._diurnal_median = float(np.nanmedian(np.concatenate(ranges)))
        return self._diurnal_median

    def read(self, row: int, col: int, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """(sequence, static) of the window at (row, col) of ``size`` (see the module docstring)."""
        height, width = self.shape
        rows, cols = slice(row, min(row + size[0], height)), slice(col, min(col + size[1], width))
        used = sorted({int(i) for i in self.steps if i >= 0} | {int(i) for i in self.chosen})
        lst = self._window("lst", used, rows, cols)
        emissivity = self._window("emissivity", used, rows, cols) if "emissivity" in self.cube else lst * np.nan
        anomaly = lst - np.array([self.date_mean(i) for i in used], dtype=np.float32)[:, None, None]
        if self.standardised:
            anomaly = anomaly / np.array([self.date_spread(i) for i in used], dtype=np.float32)[:, None, None]
            medians = np.array([self.date_emissivity_median(i) for i in used], dtype=np.float32)
            emissivity = emissivity - medians[:, None, None]
        position = {index: k for k, index in enumerate(used)}

        sequence = np.full((len(self.steps), *lst.shape[1:], len(self.step_names)), np.nan, dtype=np.float32)
        for t, index in enumerate(self.steps):
            if index >= 0:
                sequence[t, ..., 0] = anomaly[position[int(index)]]
                sequence[t, ..., 1] = emissivity[position[int(index)]]
        if self.sar_series:
            sequence[..., len(STEP_CHANNELS) :] = self._sar_steps(rows, cols)
        picked = [position[int(i)] for i in self.chosen]
        layers = [_summaries(anomaly[picked], emissivity[picked], self.day)] if self.summaries else []
        if self.summaries and self.standardised:
            with np.errstate(divide="ignore", invalid="ignore"):
                relative = _diurnal_range(lst[picked], self.day) / np.float32(self.diurnal_median())
            layers.append(relative.astype(np.float32)[..., None])
        layers += [self._static_layer(name, rows, cols)[..., None] for name in self.static_layers]
        static = np.concatenate(layers, axis=-1) if layers else np.zeros((*lst.shape[1:], 0), np.float32)
        return _pad(sequence, size, axes=(1, 2)), _pad(static, size, axes=(0, 1))

    def dem_median(self) -> float:
        """Median of the region's valid DEM pixels (m; NaN when the DEM holds none).

        Above ``_MEDIAN_PIXELS`` pixels it is the median of a regular subsample (every k-th
        row and column), so memory stays bounded for a large region.
        """
        if self._dem_median is None:
            height, width = self.shape
            stride = max(1, math.ceil(math.sqrt(height * width / _MEDIAN_PIXELS)))
            sample = self.cube["dem"].isel(y=slice(None, None, stride), x=slice(None, None, stride)).values
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                self._dem_median = float(np.nanmedian(sample.astype(np.float32)))
        return self._dem_median

    def _static_layer(self, name: str, rows: slice, cols: slice) -> np.ndarray:
        """A static layer on a window, as the models get it (``dem``: above the region's median)."""
        values = self.cube[name].isel(y=rows, x=cols).values.astype(np.float32)
        return values - np.float32(self.dem_median()) if name == "dem" else values

    def read_windows(self, origins: np.ndarray, patch: int) -> tuple[np.ndarray, np.ndarray]:
        """(sequence, static) of square ``patch`` windows at the (n, 2) row/col origins, batch first.

        Origins may lie above or left of the scene (a padded scene's windows): what lies
        outside it is NaN. Windows that share a row are cut from one read of the band of
        rows they span, so overlapping windows do not read (and decompress) the same cube
        chunks again; the values are those of reading each window alone.
        """
        origins = np.asarray(origins, dtype=np.int64).reshape(-1, 2)
        sequences = np.empty((len(origins), len(self.steps), patch, patch, len(self.step_names)), np.float32)
        statics = np.empty((len(origins), patch, patch, len(self.static_names)), np.float32)
        for row in np.unique(origins[:, 0]):
            members = np.flatnonzero(origins[:, 0] == row)
            left = int(origins[members, 1].min())
            width = int(origins[members, 1].max()) + patch - left
            sequence, static = self.read_padded(int(row), left, (patch, width))
            for k in members:
                offset = int(origins[k, 1]) - left
                sequences[k] = sequence[:, :, offset : offset + patch]
                statics[k] = static[:, offset : offset + patch]
        return sequences, statics

    def read_padded(self, row: int, col: int, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`read` for a window anywhere, also above or left of the scene: NaN outside it."""
        top, left = max(-row, 0), max(-col, 0)
        height, width = self.shape
        inside = (size[0] - top, size[1] - left)
        if min(inside) <= 0 or row + top >= height or col + left >= width:
            return (
                np.full((len(self.steps), *size, len(self.step_names)), np.nan, np.float32),
                np.full((*size, len(self.static_names)), np.nan, np.float32),
            )
        sequence, static = self.read(row + top, col + left, inside)
        sequence = np.pad(sequence, ((0, 0), (top, 0), (left, 0), (0, 0)), constant_values=np.nan)
        static = np.pad(static, ((top, 0), (left, 0), (0, 0)), constant_values=np.nan)
        return sequence, static

    def _window(self, name: str, times: list[int], rows: slice, cols: slice) -> np.ndarray:
        return self.cube[name].isel(time=times, y=rows, x=cols).values.astype(np.float32)

    def _sar_steps(self, rows: slice, cols: slice) -> np.ndarray:
        """(T, h, w, 2) VV and VH (dB) known at each step's date (module docstring); NaN for padded steps."""
        vv, vh = (self.cube[name].isel(y=rows, x=cols).values.astype(np.float32) for name in SAR_DATE_VARIABLES)
        return latest_known(np.stack([vv, vh], axis=-1), self.cube[SAR_TIME].values, self.step_times())


def latest_known(series: np.ndarray, series_times: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Per pixel, the values of the latest acquisition at or before each time that has all channels valid.

    Where no valid acquisition is at or before a time, the earliest valid one after it is
    taken; NaN where the pixel has none at all, and for NaT times (padded steps).

    Args:
        series: (S, h, w, C) values of the acquisitions, NaN = invalid.
        series_times: (S,) their times (datetime64), ascending.
        at: (T,) times to look up (datetime64; NaT = none).

    Returns:
        (T, h, w, C) float32.
    """
    count = len(series_times)
    valid = np.isfinite(series).all(axis=-1)  # (S, h, w)
    order = np.arange(count)[:, None, None]
    latest = np.maximum.accumulate(np.where(valid, order, -1), axis=0)  # latest valid index ≤ s, else −1
    earliest = np.minimum.accumulate(np.where(valid, order, count)[::-1], axis=0)[::-1]  # earliest valid ≥ s
    out = np.full((len(at), *series.shape[1:]), np.nan, np.float32)
    if count == 0:
        return out
    before = np.searchsorted(series_times, at, side="right") - 1  # last acquisition at or before each time
    for t, (time, last) in enumerate(zip(at, before, strict=True)):
        if np.isnat(time):
            continue
        pick = latest[last] if last >= 0 else np.full(series.shape[1:3], -1)
        if last + 1 < count:
            pick = np.where(pick < 0, earliest[last + 1], pick)
        found = (pick >= 0) & (pick < count)
        taken = np.take_along_axis(series, np.clip(pick, 0, count - 1)[None, ..., None], axis=0)[0]
        out[t] = np.where(found[..., None], taken, np.nan)
    return out


def has_sar_series(cube: xr.Dataset) -> bool:
    """Whether the cube holds the per-date Sentinel-1 backscatter (``vv_dates``, ``vh_dates``, ``sar_time``)."""
    return all(name in cube for name in SAR_DATE_VARIABLES) and SAR_TIME in cube.coords


def check_sar_series(cube: xr.Dataset, name: str, source: Path) -> None:
    """Refuse experiment ``name`` (``sar_series: true``) on a cube without per-date Sentinel-1.

    Raises:
        ExperimentNotPossibleError: the region has no Sentinel-1 data, or only undated files.
        InputDataError: the cube has the SAR mean but was ingested before the per-date SAR was stored.
    """
    if has_sar_series(cube):
        return
    needs = f"experiment {name!r} needs the Sentinel-1 time series (sar_series: true)"
    if "vv" not in cube:
        raise ExperimentNotPossibleError(
            source,
            f"{needs}, which the region lacks",
            "add the source to the region's raw folder and ingest again, or leave the experiment out for this region",
        )
    dates = list(cube.attrs.get("s1_dates", []))
    if dates and all(date == "undated" for date in dates):
        raise ExperimentNotPossibleError(
            source,
            f"{needs}, but the region's {len(dates)} Sentinel-1 file(s) are undated (e.g. Sen1Floods11 chips), so "
            "the cube holds only their mean",
            "add dated Sentinel-1 files (e.g. ASF HyP3 RTC) and ingest again, or leave the experiment out for this "
            "region",
        )
    region = cube.attrs.get("region", source.parent.name)
    raise InputDataError(
        source,
        f"{needs}, but the region cube holds no per-date Sentinel-1 (vv_dates): it was ingested by an older lithomap",
        f"run `lithomap ingest --region {region}` again",
    )


def region_date_count(
    cube: xr.Dataset, experiments: Mapping[str, ExperimentParams], settings: PreprocessParams
) -> int | None:
    """How many dates each experiment of a region draws under ``preprocess.equal_dates`` (None: all it selects)."""
    return equal_date_count(cube["time"].values, cube_daytime(cube, settings.day_sun_elevation), experiments, settings)


def _summaries(anomaly: np.ndarray, emissivity: np.ndarray, day: np.ndarray) -> np.ndarray:
    """(h, w, 4) SUMMARY_CHANNELS over the selected dates.

    The sequence holds ``sequence_length`` of the dates; these summaries carry all of them:
    mean emissivity, mean LST anomaly of day and of night dates (their difference is the
    apparent diurnal range that thermal inertia controls) and the anomaly's spread.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        layers = [
            np.nanmean(emissivity, axis=0),
            np.nanmean(np.where(day[:, None, None], anomaly, np.nan), axis=0),
            np.nanmean(np.where(~day[:, None, None], anomaly, np.nan), axis=0),
            np.nanstd(anomaly, axis=0),
        ]
    return np.stack(layers, axis=-1).astype(np.float32)


def _diurnal_range(lst: np.ndarray, day: np.ndarray) -> np.ndarray:
    """(h, w) mean day minus mean night LST of (T, h, w) dates (NaN where either is missing)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        day_mean = np.nanmean(np.where(day[:, None, None], lst, np.nan), axis=0)
        night_mean = np.nanmean(np.where(~day[:, None, None], lst, np.nan), axis=0)
    return (day_mean - night_mean).astype(np.float32)


def _pad(array: np.ndarray, size: tuple[int, int], axes: tuple[int, int]) -> np.ndarray:
    """NaN-pad the two spatial ``axes`` of ``array`` at the bottom/right to ``size``."""
    extra = [(0, 0)] * array.ndim
    extra[axes[0]] = (0, size[0] - array.shape[axes[0]])
    extra[axes[1]] = (0, size[1] - array.shape[axes[1]])
    return np.pad(array, extra, constant_values=np.nan) if any(e[1] for e in extra) else array
