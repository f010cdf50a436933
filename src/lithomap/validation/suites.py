"""The expectation suites, as reviewed code: what raw and processed data must satisfy.

Each entry is (table, expectation). ``severity="critical"`` failures stop the pipeline;
``"warning"`` ones are reported and kept. A critical expectation whose ``meta`` says
``needed_for: training`` (labels) stops training only: a region without labels still
validates for mapping. Descriptions are the plain words a failure is reported in.
"""

from __future__ import annotations

import great_expectations.expectations as gxe
from great_expectations.expectations.metadata_types import FailureSeverity

from lithomap.config import ValidateParams
from lithomap.io.formats import DEM_RANGE_M, LABEL_NAMES

Suite = list[tuple[str, gxe.Expectation]]
TRAINING_ONLY = {"needed_for": "training"}


def raw_suite(settings: ValidateParams) -> Suite:
    """Expectations on the summaries of a region's raw files."""
    lst_low, lst_high = settings.lst_range_k
    emis_low, emis_high = settings.emissivity_range
    sar_low, sar_high = settings.sar_range_db
    suite: Suite = [
        (
            "files",
            gxe.ExpectColumnValuesToBeInSet(
                column="problem",
                value_set=[""],
                description="every file can be read as its product (opens, has a CRS, not truncated, calibrated)",
            ),
        ),
        (
            "files",
            gxe.ExpectColumnValuesToBeInSet(
                column="overlaps", value_set=[True], description="every file overlaps the region"
            ),
        ),
        (
            "files",
            gxe.ExpectColumnValuesToBeInSet(
                column="ignored",
                value_set=[""],
                severity=FailureSeverity.WARNING,
                description="every thermal file lies with the others (a far one is left out of the derived bounds)",
            ),
        ),
        (
            "region",
            gxe.ExpectColumnValuesToBeBetween(
                column="thermal_dates", min_value=1, description="the region has thermal data"
            ),
        ),
        (
            "region",
            gxe.ExpectColumnValuesToBeBetween(
                column="lst_valid_dates",
                min_value=1,
                description="at least one thermal date holds valid LST inside the region",
            ),
        ),
        (
            "region",
            gxe.ExpectColumnValuesToBeBetween(
                column="day_dates",
                min_value=1,
                severity=FailureSeverity.WARNING,
                description="there are daytime thermal dates",
            ),
        ),
        (
            "region",
            gxe.ExpectColumnValuesToBeBetween(
                column="night_dates",
                min_value=1,
                severity=FailureSeverity.WARNING,
                description="there are night-time thermal dates",
            ),
        ),
        (
            "region",
            gxe.ExpectColumnValuesToBeBetween(
                column="seasons",
                min_value=settings.min_seasons,
                severity=FailureSeverity.WARNING,
                description=f"thermal data cover at least {settings.min_seasons} seasons",
            ),
        ),
        (
            "region",
            gxe.ExpectColumnValuesToBeBetween(
                column="label_sources",
                min_value=1,
                meta=TRAINING_ONLY,
                description=f"the region holds labels: {LABEL_NAMES}",
            ),
        ),
        (
            "region",
            gxe.ExpectColumnValuesToBeBetween(
                column="label_classes",
                min_value=2,
                meta=TRAINING_ONLY,
                description="labels inside the region hold at least two classes",
            ),
        ),
        (
            "labels",
            gxe.ExpectColumnValuesToBeBetween(
                column="value", min_value=0, max_value=13, description="label values lie within 0–13"
            ),
        ),
        (
            "thermal",
            gxe.ExpectColumnValuesToNotBeNull(column="time", description="acquisition times parse from the file names"),
        ),
        ("thermal", gxe.ExpectColumnValuesToBeUnique(column="time", description="acquisition times are unique")),
    ]
    ranges = {
        "lst": (lst_low, lst_high, f"LST of valid pixels lies within {lst_low:g}–{lst_high:g} K"),
        "emissivity": (emis_low, emis_high, f"emissivity lies within {emis_low:g}–{emis_high:g}"),
        "vv": (sar_low, sar_high, f"VV backscatter lies within {sar_low:g}…{sar_high:g} dB"),
        "vh": (sar_low, sar_high, f"VH backscatter lies within {sar_low:g}…{sar_high:g} dB"),
        "ndvi": (-1, 1, "NDVI lies within −1…1"),
        "dem": (*DEM_RANGE_M, f"elevation lies within {DEM_RANGE_M[0]:g}…{DEM_RANGE_M[1]:g} m"),
    }
    tail = settings.tail_percent
    robust = {
        "low": (FailureSeverity.CRITICAL, f"{tail:g}th percentile of the file's pixels"),
        "high": (FailureSeverity.CRITICAL, f"{100 - tail:g}th percentile of the file's pixels"),
        "min": (FailureSeverity.WARNING, "every pixel: min"),
        "max": (FailureSeverity.WARNING, "every pixel: max"),
    }
    for variable, (low, high, words) in ranges.items():
        for column, (severity, which) in robust.items():
            suite.append(
                (
                    variable,
                    gxe.ExpectColumnValuesToBeBetween(
                        column=column,
                        min_value=low,
                        max_value=high,
                        severity=severity,
                        description=f"{words} ({which})",
                    ),
                )
            )
        suite.append(
            (
                variable,
                gxe.ExpectColumnValuesToBeBetween(
                    column="valid_fraction",
                    min_value=0,
                    strict_min=True,
                    severity=FailureSeverity.WARNING,
                    description=f"every acquisition holds valid {variable} inside the region",
                ),
            )
        )
    return suite


def processed_suite(settings: ValidateParams, buffer_px: int) -> Suite:
    """Expectations on the summaries of a region's experiment datasets."""
    tol_mean, tol_std = settings.normalised_mean_tolerance, settings.normalised_std_tolerance
    return [
        (
            "inputs",
            gxe.ExpectColumnValuesToBeBetween(
                column="nonfinite", min_value=0, max_value=0, description="model inputs hold no NaN or infinite value"
            ),
        ),
        (
            "train_inputs",
            gxe.ExpectColumnValuesToBeBetween(
                column="mean",
                min_value=-tol_mean,
                max_value=tol_mean,
                description=f"training inputs have mean 0 ± {tol_mean:g} after normalisation",
            ),
        ),
        (
            "train_inputs",
            gxe.ExpectColumnValuesToBeBetween(
                column="std",
                min_value=1 - tol_std,
                max_value=1 + tol_std,
                description=f"training inputs have std 1 ± {tol_std:g} after normalisation",
            ),
        ),
        (
            "classes",
            gxe.ExpectColumnValuesToBeInSet(
                column="missing_from_train",
                value_set=[False],
                severity=FailureSeverity.WARNING,
                description="every class of the region appears in the training split",
            ),
        ),
        (
            "disjoint",
            gxe.ExpectColumnValuesToBeBetween(
                column="shared_pixels", min_value=0, max_value=0, description="no labelled pixel belongs to two splits"
            ),
        ),
        (
            "disjoint",
            gxe.ExpectColumnValuesToBeBetween(
                column="min_gap_px",
                min_value=buffer_px,
                description=f"labelled pixels of different splits are at least {buffer_px} px apart",
            ),
        ),
    ]
