"""Run the suites with Great Expectations, write Data Docs and a JSON summary, stop on failure.

A fresh ephemeral GX context is built per run (data source, assets, suites, validation
definitions, one checkpoint that updates the Data Docs site under
``<reports_dir>/<stage>/<region>/data_docs``); nothing hides in a ``gx/`` folder.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import great_expectations as gx
import pandas as pd
from great_expectations.core.expectation_validation_result import ExpectationValidationResult
from great_expectations.data_context.types.base import ProgressBarsConfig
from great_expectations.expectations.metadata_types import FailureSeverity

from lithomap.atomic import write_json
from lithomap.errors import LithomapError
from lithomap.validation.suites import Suite

log = logging.getLogger(__name__)


class ValidationFailedError(LithomapError):
    """Critical expectations failed; the message lists each in plain words."""


Purpose = Literal["mapping", "training"]


@dataclass
class ValidationReport:
    """Outcome of one validation run.

    Attributes:
        stage: ``raw`` or ``processed``.
        region: region name.
        success: no critical failure: the data can be mapped (ingested, preprocessed).
        evaluated: expectations evaluated.
        failures: critical failures, in plain words.
        warnings: warnings, in plain words.
        training_blockers: failures of expectations only training needs (labels): with any,
            the region can be mapped but not trained on.
        trainable: ``success`` and no training blocker.
        data_docs: the Data Docs index.
        inputs: fingerprint of the files validated (``validation.receipt.inputs_fingerprint``),
            so a later step can tell whether this report speaks for the files it reads.
    """

    stage: str
    region: str
    success: bool
    evaluated: int
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    training_blockers: list[str] = field(default_factory=list)
    trainable: bool = True
    data_docs: str = ""
    inputs: str = ""

    def summary(self) -> str:
        if not self.success:
            verdict = "FAILED"
        elif self.training_blockers:
            blocked = len(self.training_blockers)
            verdict = f"passed for mapping; training is NOT possible ({blocked} label check(s) failed)"
        else:
            verdict = "passed (mapping and training)"
        return (
            f"{self.stage} validation {verdict}: {self.evaluated} expectations, "
            f"{len(self.failures)} critical failures, {len(self.warnings)} warnings; Data Docs {self.data_docs}"
        )


def run_suite(
    stage: str,
    region: str,
    tables: dict[str, pd.DataFrame],
    suite: Suite,
    reports_dir: Path,
    inputs: str = "",
) -> ValidationReport:
    """Validate ``tables`` against ``suite``; write Data Docs and ``<reports_dir>/<stage>/<region>.json``.

    Tables that are absent or empty (a source the region lacks) are skipped; ``inputs`` (the
    fingerprint of the files the tables summarise) is stored in the report.
    """
    docs = reports_dir / stage / region / "data_docs"
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    context.add_data_docs_site(
        site_name="lithomap",
        site_config={
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs.resolve())},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )
    source = context.data_sources.add_pandas(f"{stage}_{region}")
    report = ValidationReport(
        stage=stage, region=region, success=True, evaluated=0, data_docs=str(docs / "index.html"), inputs=inputs
    )
    for table in dict.fromkeys(name for name, _ in suite):
        frame = tables.get(table)
        expectations = [e for name, e in suite if name == table]
        if frame is None or frame.empty:
            log.info(
                "%s %s: no %s table (source absent); its %d expectations are skipped",
                stage,
                region,
                table,
                len(expectations),
            )
            continue
        columns = set(frame.columns)
        absent = [str(getattr(e, "column", None)) for e in expectations if getattr(e, "column", None) not in columns]
        if absent:
            log.info(
                "%s %s: %s table has no column %s (source lacks it); those expectations are skipped",
                stage,
                region,
                table,
                ", ".join(sorted(set(absent))),
            )
        expectations = [e for e in expectations if getattr(e, "column", None) in columns]
        batch = source.add_dataframe_asset(table).add_batch_definition_whole_dataframe("all")
        gx_suite = context.suites.add(gx.ExpectationSuite(name=f"{stage}_{table}", expectations=expectations))
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=f"{stage}_{region}_{table}", data=batch, suite=gx_suite)
        )
        checkpoint = context.checkpoints.add(
            gx.Checkpoint(
                name=f"{stage}_{region}_{table}",
                validation_definitions=[definition],
                actions=[gx.checkpoint.UpdateDataDocsAction(name="data_docs", site_names=["lithomap"])],
                result_format={"result_format": "COMPLETE", "unexpected_index_column_names": ["id"]},
            )
        )
        result = checkpoint.run(batch_parameters={"dataframe": frame})
        for run in result.run_results.values():
            for outcome in run.results:
                report.evaluated += 1
                if outcome.success:
                    continue
                config = outcome.expectation_config
                message = _describe(table, outcome)
                severity = config.severity if config else FailureSeverity.CRITICAL
                needed_for = (config.meta or {}).get("needed_for") if config else None
                if severity is not FailureSeverity.CRITICAL:
                    report.warnings.append(message)
                elif needed_for == "training":
                    report.training_blockers.append(message)
                else:
                    report.failures.append(message)
    report.success = not report.failures
    report.trainable = report.success and not report.training_blockers
    write_json(reports_dir / stage / f"{region}.json", asdict(report))
    return report


def enforce(report: ValidationReport, purpose: Purpose = "mapping") -> None:
    """Log warnings; raise ValidationFailedError listing every critical failure for ``purpose``.

    Args:
        report: the validation outcome.
        purpose: ``mapping`` (labels not needed: training blockers are logged) or
            ``training`` (training blockers are failures too).
    """
    for warning in report.warnings:
        log.warning("%s %s: %s", report.stage, report.region, warning)
    failures = report.failures + (report.training_blockers if purpose == "training" else [])
    if failures:
        listing = "\n".join(f"  - {failure}" for failure in failures)
        raise ValidationFailedError(
            f"{report.stage} data of region {report.region!r} failed {len(failures)} critical expectation(s) "
            f"for {purpose}:\n{listing}\nSee {report.data_docs}. Fix the inputs (or the thresholds in params.yaml "
            "`validation`) and run again."
        )


def _describe(table: str, outcome: ExpectationValidationResult) -> str:
    """One line saying which expectation failed and where, in the words of its description."""
    config = outcome.expectation_config
    result = outcome.result or {}
    ids = [row.get("id") for row in result.get("unexpected_index_list") or [] if isinstance(row, dict)]
    values = result.get("partial_unexpected_list") or []
    where = f" at {', '.join(str(i) for i in ids[:5])}" if ids else ""
    sample = f" (values {', '.join(_short(v) for v in values[:5])})" if values else ""
    if "observed_value" in result and not values:
        sample = f" (observed {_short(result['observed_value'])})"
    expected = (config.description or config.type) if config else "an unnamed expectation"
    return f"{table}: expected {expected}; not so{where}{sample}"


def _short(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
