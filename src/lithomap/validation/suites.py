"""The expectation suites, as reviewed code: what raw and processed data must satisfy.

Each entry is (table, expectation). ``severity="critical"`` failures stop the pipeline;
``"warning"`` ones are reported and kept. Descriptions are the plain words a failure is
reported in.
"""

from __future__ import annotations

import great_expectations.expectations as gxe

from lithomap.config import ValidateParams

Suite = list[tuple[str, gxe.Expectation]]


def raw_suite(settings: ValidateParams) -> Suite:
    """Expectations on the summaries of a region's raw files."""
    lst_low, lst_high = settings.lst_range_k
    emis_low, emis_high = settings.emissivity_range
    sar_low, sar_high = settings.sar_range_db
    suite: Suite = [
        (
            "files",
            gxe.ExpectColumnValuesToBeInSet(
                column="readable", value_set=[True], description="every raster opens (not truncated or corrupt)"
            ),
        ),
        (
            "files",
            gxe.ExpectColumnValuesToBeInSet(column="has_crs", value_set=[True], description="every file has a CRS"),
        ),
        (
            "files",
            gxe.ExpectColumnValuesToBeInSet(
                column="overlaps", value_set=[True], description="every file overlaps the region"
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
                column="day_dates", min_value=1, severity="warning", description="there are daytime thermal dates"
            ),
        ),
        (
            "region",
            gxe.ExpectColumnValuesToBeBetween(
                column="night_dates", min_value=1, severity="warning", description="there are night-time thermal dates"
            ),
        ),
        (
            "region",
            gxe.ExpectColumnValuesToBeBetween(
                column="seasons",
                min_value=settings.min_seasons,
                severity="warning",
                description=f"thermal data cover at least {settings.min_seasons} seasons",
            ),
        ),
        (
            "region",
            gxe.ExpectColumnValuesToBeBetween(
                column="label_classes", min_value=2, description="labels hold at least two classes"
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
    for column in ("lst_min", "lst_max"):
        suite.append(
            (
                "thermal",
                gxe.ExpectColumnValuesToBeBetween(
                    column=column,
                    min_value=lst_low,
                    max_value=lst_high,
                    description=f"LST of valid pixels lies within {lst_low:g}–{lst_high:g} K ({column})",
                ),
            )
        )
    for column in ("emissivity_min", "emissivity_max"):
        suite.append(
            (
                "thermal",
                gxe.ExpectColumnValuesToBeBetween(
                    column=column,
                    min_value=emis_low,
                    max_value=emis_high,
                    description=f"emissivity lies within {emis_low:g}–{emis_high:g} ({column})",
                ),
            )
        )
    for column in ("vv_min", "vv_max", "vh_min", "vh_max"):
        suite.append(
            (
                "sar",
                gxe.ExpectColumnValuesToBeBetween(
                    column=column,
                    min_value=sar_low,
                    max_value=sar_high,
                    description=f"backscatter lies within {sar_low:g}…{sar_high:g} dB ({column})",
                ),
            )
        )
    for column in ("ndvi_min", "ndvi_max"):
        suite.append(
            (
                "optical",
                gxe.ExpectColumnValuesToBeBetween(
                    column=column, min_value=-1, max_value=1, description=f"NDVI lies within −1…1 ({column})"
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
                severity="warning",
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
