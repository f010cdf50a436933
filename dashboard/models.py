"""The model registry as tables: registered models, versions, champions and promotion decisions.

Registered models ``lithomap-<region>-<arch>`` carry the aliases ``champion`` and
``challenger``; each version is tagged with its region, arch, experiment and test
macro-F1 (``lithomap.*``) and, once the gate has run on it, its decision (``promotion.*``:
the rule, margin or paired, and under the paired rule the paired difference and its
interval). A global model ``lithomap-global-<arch>`` has no test region of its own: its
score is the expected macro-F1 on a new region, its leave-one-region-out score
(``lithomap.expected_*`` tags), and the tables say which score a row shows (``scored_on``).
"""

from __future__ import annotations

import pandas as pd
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from dashboard.runs import EXPERIMENT_PREFIX, as_timestamp
from dashboard.sources import DashboardDataError
from lithomap.registry.registry import CHAMPION, recorded_expectation
from lithomap.registry.tracking import TAG_PREFIX, TEST_PREFIX

PROMOTION_PREFIX = "promotion."
RUN_ID_CHUNK = 100  # run ids per search: keeps the SQL filter short
TEST_SCORE = "test macro-F1"
LORO_SCORE = "expected macro-F1 on a new region (leave-one-region-out)"
VERSION_COLUMNS = (
    "model",
    "version",
    "aliases",
    "region",
    "arch",
    "experiment",
    "scored_on",
    "macro_f1",
    "macro_f1_low",
    "macro_f1_high",
    "created",
    "run_id",
)
PROMOTION_COLUMNS = (
    "decided_at",
    "model",
    "candidate_version",
    "champion_version",
    "decision",
    "reason",
    "rule",
    "scored_on",
    "candidate_macro_f1",
    "champion_macro_f1",
    "gain",
    "margin",
    "paired_difference",
    "paired_ci_low",
    "paired_ci_high",
    "paired_confidence",
    "worst_class",
    "worst_class_drop",
)
CHAMPION_COLUMNS = (
    "region",
    "arch",
    "model",
    "version",
    "experiment",
    "scored_on",
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


def runs_metrics(client: MlflowClient, run_ids: list[str]) -> dict[str, dict[str, float]]:
    """run id → its metrics, in one search per 100 runs (not one request per version).

    A run that is gone (deleted, or in a store the dashboard cannot read) is left out.
    """
    wanted = sorted({run_id for run_id in run_ids if run_id})
    if not wanted:
        return {}
    try:
        experiment_ids = [e.experiment_id for e in client.search_experiments()]
        found: dict[str, dict[str, float]] = {}
        for start in range(0, len(wanted), RUN_ID_CHUNK):
            chunk = ", ".join(f"'{run_id}'" for run_id in wanted[start : start + RUN_ID_CHUNK])
            for run in client.search_runs(
                experiment_ids, filter_string=f"attributes.run_id IN ({chunk})", max_results=RUN_ID_CHUNK
            ):
                found[run.info.run_id] = dict(run.data.metrics)
    except MlflowException:
        return {}
    return found


def version_score(version: ModelVersion, metrics: dict[str, float]) -> dict[str, object]:
    """``scored_on``, ``macro_f1`` and its interval of a version.

    A region's model: its test macro-F1 (version tag, else its run's metric) and the run's
    block-bootstrap interval. A global model: its expected macro-F1 on a new region and
    interval, the leave-one-region-out score it was registered with (``lithomap.expected_*``).
    """
    expected = recorded_expectation(version)
    if expected is not None:
        low, high = expected["macro_f1_interval"]
        return {
            "scored_on": LORO_SCORE,
            "macro_f1": expected["macro_f1_learnable"],
            "macro_f1_low": low,
            "macro_f1_high": high,
        }
    tagged = _number(version.tags.get(f"{TAG_PREFIX}{TEST_PREFIX}macro_f1"))
    return {
        "scored_on": TEST_SCORE,
        "macro_f1": tagged if tagged is not None else metrics.get(f"{TEST_PREFIX}macro_f1"),
        "macro_f1_low": metrics.get(f"{TEST_PREFIX}macro_f1_ci_low"),
        "macro_f1_high": metrics.get(f"{TEST_PREFIX}macro_f1_ci_high"),
    }


def versions_table(client: MlflowClient) -> pd.DataFrame:
    """Every registered version of every lithomap model, newest first, with the score it is known by."""
    aliases = _aliases(client)
    versions = _versions(client)
    metrics = runs_metrics(client, [version.run_id for version in versions])
    rows = [
        {
            "model": version.name,
            "version": int(version.version),
            "aliases": ", ".join(sorted(aliases.get((version.name, str(version.version)), []))),
            "region": version.tags.get(f"{TAG_PREFIX}region", ""),
            "arch": version.tags.get(f"{TAG_PREFIX}arch", ""),
            "experiment": version.tags.get(f"{TAG_PREFIX}experiment", ""),
            **version_score(version, metrics.get(version.run_id, {})),
            "created": as_timestamp(version.creation_timestamp),
            "run_id": version.run_id,
        }
        for version in versions
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
                "rule": tags.get(f"{PROMOTION_PREFIX}rule", "margin"),  # versions decided before the tag: margin
                "scored_on": LORO_SCORE if tags.get(f"{PROMOTION_PREFIX}scope") == "global" else TEST_SCORE,
                "candidate_macro_f1": _number(tags.get(f"{PROMOTION_PREFIX}candidate_macro_f1")),
                "champion_macro_f1": _number(tags.get(f"{PROMOTION_PREFIX}champion_macro_f1")),
                "gain": _number(tags.get(f"{PROMOTION_PREFIX}gain")),
                "margin": _number(tags.get(f"{PROMOTION_PREFIX}margin")),
                "paired_difference": _number(tags.get(f"{PROMOTION_PREFIX}paired_difference")),
                "paired_ci_low": _number(tags.get(f"{PROMOTION_PREFIX}paired_ci_low")),
                "paired_ci_high": _number(tags.get(f"{PROMOTION_PREFIX}paired_ci_high")),
                "paired_confidence": _number(tags.get(f"{PROMOTION_PREFIX}paired_confidence")),
                "worst_class": tags.get(f"{PROMOTION_PREFIX}worst_class", "none"),
                "worst_class_drop": _number(tags.get(f"{PROMOTION_PREFIX}worst_class_drop")),
            }
        )
    frame = pd.DataFrame(rows, columns=list(PROMOTION_COLUMNS))
    return frame.sort_values(["decided_at", "candidate_version"], ascending=False, ignore_index=True)


def champions(client: MlflowClient) -> pd.DataFrame:
    """The champion of every registered lithomap model with its score and interval (``version_score``)."""
    versions = [
        client.get_model_version_by_alias(model.name, CHAMPION)
        for model in client.search_registered_models(max_results=1000)
        if model.name.startswith(EXPERIMENT_PREFIX) and CHAMPION in (model.aliases or {})
    ]
    metrics = runs_metrics(client, [version.run_id for version in versions])
    rows = []
    for version in versions:
        promoted = version.tags.get(f"{PROMOTION_PREFIX}decided_at")
        rows.append(
            {
                "region": version.tags.get(f"{TAG_PREFIX}region", ""),
                "arch": version.tags.get(f"{TAG_PREFIX}arch", ""),
                "model": version.name,
                "version": int(version.version),
                "experiment": version.tags.get(f"{TAG_PREFIX}experiment", ""),
                **version_score(version, metrics.get(version.run_id, {})),
                "promoted_at": pd.Timestamp(promoted) if promoted else as_timestamp(version.creation_timestamp),
                "run_id": version.run_id,
            }
        )
    return pd.DataFrame(rows, columns=list(CHAMPION_COLUMNS)).sort_values(["region", "arch"], ignore_index=True)
