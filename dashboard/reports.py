"""Report files the pipeline writes, read as tables: validation summaries, the experiment
matrix, the leave-one-region-out table, thermal signatures and hypotheses.

Each reader returns None when the file does not exist yet (the page then says what to
run) and raises ``DashboardDataError`` naming the file when it exists but cannot be used.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from dashboard.sources import DashboardDataError

STAGES = ("raw", "processed")
SIGNATURE_COLUMNS = {
    "diurnal": ("class", "solar_hour_bin", "lst_mean", "lst_anomaly_mean", "n"),
    "seasonal": ("class", "month", "lst_mean", "lst_anomaly_mean", "n"),
}
HYPOTHESIS_COLUMNS = ("hypothesis", "measure", "value", "holds")


@dataclass(frozen=True)
class ValidationSummary:
    """The latest validation of one region at one stage (``reports/validation/<stage>/<region>.json``)."""

    stage: str
    region: str
    success: bool
    evaluated: int
    failures: tuple[str, ...]
    warnings: tuple[str, ...]
    data_docs: Path
    written: pd.Timestamp

    @property
    def status(self) -> str:
        """One of ``passed``, ``warned``, ``failed``."""
        if not self.success:
            return "failed"
        return "warned" if self.warnings else "passed"


def read_json(path: Path) -> dict | None:
    """A JSON object from ``path``, None if the file is absent."""
    if not path.is_file():
        return None
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DashboardDataError(f"{path}: not readable JSON ({error}); run the step that writes it again") from error
    if not isinstance(document, dict):
        raise DashboardDataError(f"{path}: expected a JSON object; run the step that writes it again")
    return document


def read_table(path: Path, columns: tuple[str, ...], producer: str) -> pd.DataFrame | None:
    """A CSV with at least ``columns``, None if absent.

    Raises:
        DashboardDataError: unreadable, or a column is missing (``producer`` says what to rerun).
    """
    if not path.is_file():
        return None
    try:
        frame = pd.read_csv(path)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise DashboardDataError(f"{path}: not a readable CSV ({error}); run `{producer}` again") from error
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise DashboardDataError(f"{path}: columns {', '.join(missing)} are missing; run `{producer}` again")
    return frame


def validation_summary(validation_dir: Path, stage: str, region: str) -> ValidationSummary | None:
    """The latest validation summary of a region at a stage, None before ``lithomap validate``."""
    path = validation_dir / stage / f"{region}.json"
    document = read_json(path)
    if document is None:
        return None
    try:
        return ValidationSummary(
            stage=stage,
            region=region,
            success=bool(document["success"]),
            evaluated=int(document.get("evaluated", 0)),
            failures=tuple(document.get("failures") or ()),
            warnings=tuple(document.get("warnings") or ()),
            data_docs=Path(document.get("data_docs") or validation_dir / stage / region / "data_docs" / "index.html"),
            written=pd.Timestamp(path.stat().st_mtime, unit="s", tz="UTC"),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise DashboardDataError(
            f"{path}: not a validation summary ({error}); run `lithomap validate --stage {stage} -r {region}` again"
        ) from error


def matrix_table(matrix_dir: Path) -> pd.DataFrame | None:
    """``matrix.csv`` of ``lithomap matrix``, None before it ran."""
    return read_table(matrix_dir / "matrix.csv", ("region", "model", "experiment", "macro_f1"), "lithomap matrix")


def loro_table(loro_dir: Path) -> pd.DataFrame | None:
    """``loro.csv`` of ``lithomap loro``: each region held out and mapped whole; None before it ran."""
    return read_table(
        loro_dir / "loro.csv", ("held_out", "model", "experiment", "macro_f1_learnable"), "lithomap loro --all"
    )


def signatures(science_dir: Path, region: str, kind: str) -> pd.DataFrame | None:
    """Per-class ``diurnal`` or ``seasonal`` thermal curves of a region, None before ``lithomap report``."""
    path = science_dir / region / f"signatures_{kind}.csv"
    return read_table(path, SIGNATURE_COLUMNS[kind], "lithomap report")


def hypotheses(science_dir: Path, region: str) -> pd.DataFrame | None:
    """The hypothesis table of a region, None before ``lithomap report``."""
    return read_table(science_dir / region / "hypotheses.csv", HYPOTHESIS_COLUMNS, "lithomap report")
