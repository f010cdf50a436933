"""Domain errors: each names the file or key, the problem and the fix."""

from __future__ import annotations

from pathlib import Path


class LithomapError(Exception):
    """Base class of every error lithomap raises on purpose."""


class ConfigError(LithomapError, ValueError):
    """params.yaml holds an unknown key, a missing key or a bad value."""


class InputDataError(LithomapError, ValueError):
    """An input file cannot be used as it is.

    Args:
        path: the offending file or folder.
        problem: what is wrong with it.
        fix: what the user can do about it.
    """

    def __init__(self, path: str | Path, problem: str, fix: str) -> None:
        self.path = Path(path)
        self.problem = problem
        self.fix = fix
        super().__init__(f"{self.path}: {problem}. Fix: {fix}")


class MissingSourceError(InputDataError, FileNotFoundError):
    """A source a step truly needs (thermal data, labels) is absent."""


class ExperimentNotPossibleError(InputDataError):
    """A region's data cannot make an experiment (it selects no date, or needs a layer the region lacks)."""


class PipelineError(LithomapError, RuntimeError):
    """A pipeline stage's command failed, or a retrain ended with failed regions."""


class TrackingError(LithomapError, RuntimeError):
    """The MLflow tracking store is unreachable or unreadable (not: a model or alias is absent)."""
