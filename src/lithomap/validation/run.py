"""Entry points of `lithomap validate`: raw and processed gates for one region."""

from __future__ import annotations

from collections.abc import Iterable

from lithomap.config import IngestParams, PreprocessParams, RegionParams, ValidateParams
from lithomap.datasets.preprocess import SPLIT_FILE
from lithomap.datasets.split import SpatialSplit
from lithomap.validation.gate import Purpose, ValidationReport, enforce, run_suite
from lithomap.validation.receipt import inputs_fingerprint
from lithomap.validation.suites import processed_suite, raw_suite
from lithomap.validation.summaries import processed_tables, raw_tables


def validate_raw(
    name: str,
    region: RegionParams,
    ingest: IngestParams,
    preprocess: PreprocessParams,
    validation: ValidateParams,
    strict: bool = True,
    purpose: Purpose = "mapping",
) -> ValidationReport:
    """Validate a region's raw files; with ``strict`` a critical failure (for ``purpose``) raises.

    Labels are needed to train, not to map: a region without labels passes for mapping,
    and the report says training is not possible (``training_blockers``).

    Args:
        name: region name.
        region: the region's params (raw folder, grid).
        ingest: ingest params (the readers' resampling and QA thresholds).
        preprocess: day hours and season months of the time columns.
        validation: thresholds and the reports folder.
        strict: raise ValidationFailedError on a critical failure.
        purpose: ``mapping`` or ``training`` (then missing labels fail too).
    """
    inputs = inputs_fingerprint(region.raw_dir)
    tables = raw_tables(region, ingest, preprocess, validation.tail_percent)
    report = run_suite("raw", name, tables, raw_suite(validation), validation.reports_dir, inputs)
    if strict:
        enforce(report, purpose)
    return report


def validate_processed(
    name: str,
    experiments: Iterable[str],
    preprocess: PreprocessParams,
    validation: ValidateParams,
    strict: bool = True,
) -> ValidationReport:
    """Validate every experiment dataset of a region; with ``strict`` a critical failure raises.

    Args:
        name: region name.
        experiments: names of the experiment datasets to check.
        preprocess: where the datasets are.
        validation: thresholds and the reports folder.
        strict: raise ValidationFailedError on a critical failure.
    """
    split = SpatialSplit.load(preprocess.processed_dir / name / SPLIT_FILE)
    tables = processed_tables(name, list(experiments), preprocess)
    suite = processed_suite(validation, split.buffer_px)
    report = run_suite("processed", name, tables, suite, validation.reports_dir)
    if strict:
        enforce(report)
    return report
