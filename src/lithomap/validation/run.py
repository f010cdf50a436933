"""Entry points of `lithomap validate`: raw and processed gates for one region."""

from __future__ import annotations

from lithomap.config import Params
from lithomap.datasets.preprocess import SPLIT_FILE
from lithomap.datasets.split import SpatialSplit
from lithomap.validation.gate import ValidationReport, enforce, run_suite
from lithomap.validation.suites import processed_suite, raw_suite
from lithomap.validation.summaries import processed_tables, raw_tables


def validate_raw(name: str, params: Params, strict: bool = True) -> ValidationReport:
    """Validate a region's raw files; with ``strict`` a critical failure raises."""
    region = params.region(name)
    tables = raw_tables(region, params.ingest, params.preprocess)
    report = run_suite("raw", name, tables, raw_suite(params.validation), params.validation.reports_dir)
    if strict:
        enforce(report)
    return report


def validate_processed(name: str, params: Params, strict: bool = True) -> ValidationReport:
    """Validate every experiment dataset of a region; with ``strict`` a critical failure raises."""
    split = SpatialSplit.load(params.preprocess.processed_dir / name / SPLIT_FILE)
    tables = processed_tables(name, list(params.experiments), params.preprocess)
    suite = processed_suite(params.validation, split.buffer_px)
    report = run_suite("processed", name, tables, suite, params.validation.reports_dir)
    if strict:
        enforce(report)
    return report
