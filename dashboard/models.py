"""The model registry as tables: registered models, versions, champions and promotion decisions.

Registered models ``lithomap-<region>-<arch>`` carry the aliases ``champion`` and
``challenger``; each version is tagged with its region, arch, experiment and test
macro-F1 (``lithomap.*``) and, once the gate has run on it, its decision (``promotion.*``).
"""

from __future__ import annotations

import pandas as pd
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from dashboard.runs import EXPERIMENT_PREFIX, as_timestamp
from dashboard.sources import DashboardDataError
from lithomap.registry.registry import CHAMPION
from lithomap.registry.tracking import TAG_PREFIX, TEST_PREFIX

PROMOTION_PREFIX = "promotion."
VERSION_COLUMNS = ("model", "version", "aliases", "region", "arch", "experiment", "macro_f1", "created", "run_id")
PROMOTION_COLUMNS = (
    "decided_at",
    "model",
    "candidate_version",
    "champion_version",
    "decision",
    "reason",
    "candidate_macro_f1",
    "champion_macro_f1",
    "gain",
    "margin",
    "worst_class",
    "worst_class_drop",
)
CHAMPION_COLUMNS = (
    "region",
    "arch",
    "model",
    "version",
    "experiment",
    "macro_f1",
    "macro_f1_low",
    "macro_f1_high",
    "promoted_at",
    "run_id",
)


def _number(text: str | None) -> float | None:
    try:
        return None if text in (None, "none") else float(text)
    except ValueError:
        return None


def _versions(client: MlflowClient) -> list[ModelVersion]:
    try:
        return [
            version
            for version in client.search_model_versions(max_results=10000)
            if version.name.startswith(EXPERIMENT_PREFIX)
        ]
    except MlflowException as error:
        raise DashboardDataError(f"the model registry cannot be read ({error.message})") from error


def _aliases(client: MlflowClient) -> dict[tuple[str, str], list[str]]:
    """(model, version) → its aliases."""
    found: dict[tuple[str, str], list[str]] = {}
    for model in client.search_registered_models(max_results=1000):
        for alias, version in (model.aliases or {}).items():
            found.setdefault((model.name, str(version)), []).append(alias)
    return found


def versions_table(client: MlflowClient) -> pd.DataFrame:
    """Every registered version of every lithomap model, newest first."""
    aliases = _aliases(client)
    rows = [
        {
            "model": version.name,
            "version": int(version.version),
            "aliases": ", ".join(sorted(aliases.get((version.name, str(version.version)), []))),
            "region": version.tags.get(f"{TAG_PREFIX}region", ""),
            "arch": version.tags.get(f"{TAG_PREFIX}arch", ""),
            "experiment": version.tags.get(f"{TAG_PREFIX}experiment", ""),
            "macro_f1": _number(version.tags.get(f"{TAG_PREFIX}{TEST_PREFIX}macro_f1")),
            "created": as_timestamp(version.creation_timestamp),
            "run_id": version.run_id,
        }
        for version in _versions(client)
    ]
    frame = pd.DataFrame(rows, columns=list(VERSION_COLUMNS))
    return frame.sort_values(["model", "version"], ascending=[True, False], ignore_index=True)


def promotion_history(client: MlflowClient) -> pd.DataFrame:
    """Every decision of the promotion gate (from the version tags), newest first."""
    rows = []
    for version in _versions(client):
        tags = version.tags
        if f"{PROMOTION_PREFIX}decision" not in tags:
            continue
        rows.append(
            {
                "decided_at": tags.get(f"{PROMOTION_PREFIX}decided_at", ""),
                "model": version.name,
                "candidate_version": int(version.version),
                "champion_version": tags.get(f"{PROMOTION_PREFIX}champion_version", "none"),
                "decision": tags[f"{PROMOTION_PREFIX}decision"],
                "reason": tags.get(f"{PROMOTION_PREFIX}reason", ""),
                "candidate_macro_f1": _number(tags.get(f"{PROMOTION_PREFIX}candidate_macro_f1")),
                "champion_macro_f1": _number(tags.get(f"{PROMOTION_PREFIX}champion_macro_f1")),
                "gain": _number(tags.get(f"{PROMOTION_PREFIX}gain")),
                "margin": _number(tags.get(f"{PROMOTION_PREFIX}margin")),
                "worst_class": tags.get(f"{PROMOTION_PREFIX}worst_class", "none"),
                "worst_class_drop": _number(tags.get(f"{PROMOTION_PREFIX}worst_class_drop")),
            }
        )
    frame = pd.DataFrame(rows, columns=list(PROMOTION_COLUMNS))
    return frame.sort_values(["decided_at", "candidate_version"], ascending=False, ignore_index=True)


def champions(client: MlflowClient) -> pd.DataFrame:
    """The champion of every registered lithomap model with its test macro-F1 and interval."""
    rows = []
    for model in client.search_registered_models(max_results=1000):
        if not model.name.startswith(EXPERIMENT_PREFIX) or CHAMPION not in (model.aliases or {}):
            continue
        version = client.get_model_version_by_alias(model.name, CHAMPION)
        metrics = client.get_run(version.run_id).data.metrics if version.run_id else {}
        promoted = version.tags.get(f"{PROMOTION_PREFIX}decided_at")
        rows.append(
            {
                "region": version.tags.get(f"{TAG_PREFIX}region", ""),
                "arch": version.tags.get(f"{TAG_PREFIX}arch", ""),
                "model": model.name,
                "version": int(version.version),
                "experiment": version.tags.get(f"{TAG_PREFIX}experiment", ""),
                "macro_f1": metrics.get(f"{TEST_PREFIX}macro_f1"),
                "macro_f1_low": metrics.get(f"{TEST_PREFIX}macro_f1_ci_low"),
                "macro_f1_high": metrics.get(f"{TEST_PREFIX}macro_f1_ci_high"),
                "promoted_at": pd.Timestamp(promoted) if promoted else as_timestamp(version.creation_timestamp),
                "run_id": version.run_id,
            }
        )
    return pd.DataFrame(rows, columns=list(CHAMPION_COLUMNS)).sort_values(["region", "arch"], ignore_index=True)
