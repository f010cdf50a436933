"""Model registry: register versions, the promotion gate, and loading by alias.

Registered models are named ``lithomap-<region>-<arch>``. A newly registered version gets
the alias ``challenger``; ``promote`` moves ``champion`` to it only when it beats the current
champion's test macro-F1 on the same test blocks by more than ``margin`` and no class's F1
falls by more than ``max_class_drop``. The first version of a model becomes champion. Every
decision is written as tags on the candidate version (``promotion.*``) and returned as a
dict for the caller's JSON report. Stages are not used (deprecated in MLflow 3).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

import mlflow
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from lithomap.errors import ConfigError, LithomapError
from lithomap.registry.tracking import TAG_PREFIX, TEST_PREFIX

Arch = Literal["cnn", "convlstm"]
ARCHES: tuple[str, ...] = ("cnn", "convlstm")
CHAMPION = "champion"
CHALLENGER = "challenger"
HEADLINE = "macro_f1"
_F1_PREFIX = f"{TEST_PREFIX}f1_"


def model_name(region: str, arch: str) -> str:
    """Registered model name ``lithomap-<region>-<arch>``.

    Raises:
        ConfigError: an unknown arch or a region that is not a lower-case identifier.
    """
    if arch not in ARCHES:
        raise ConfigError(f"unknown model arch {arch!r}; use one of {ARCHES}")
    if not re.fullmatch(r"[a-z][a-z0-9_]*", region):
        raise ConfigError(f"region {region!r} must be a lower-case identifier such as 'santa_olalla'")
    return f"lithomap-{region}-{arch}"


def champion_uri(region: str, arch: str) -> str:
    """``models:/lithomap-<region>-<arch>@champion``."""
    return f"models:/{model_name(region, arch)}@{CHAMPION}"


def load_champion(region: str, arch: str) -> mlflow.pyfunc.PyFuncModel:
    """The champion model, ready to predict on raw inputs (normalisation included).

    Raises:
        LithomapError: no champion exists yet.
    """
    uri = champion_uri(region, arch)
    try:
        return mlflow.pyfunc.load_model(uri)
    except MlflowException as error:
        raise LithomapError(
            f"{uri}: cannot load the champion ({error.message}); train and promote a model first"
        ) from error


def register(
    model_uri: str,
    region: str,
    arch: str,
    *,
    client: MlflowClient | None = None,
) -> ModelVersion:
    """Register a logged model as a new version and give it the alias ``challenger``.

    The version is tagged with the run's region, arch, experiment, test-block fingerprint
    and test macro-F1 (``lithomap.*`` tags), copied from its run.

    Args:
        model_uri: the logged model (``ModelInfo.model_uri`` or ``runs:/<id>/model``).
        region: study region.
        arch: ``cnn`` or ``convlstm``.
        client: MLflow client (default: the configured store).

    Returns:
        The new model version.
    """
    client = client or MlflowClient()
    name = model_name(region, arch)
    version = mlflow.register_model(model_uri, name)
    run = client.get_run(version.run_id) if version.run_id else None
    tags = {f"{TAG_PREFIX}region": region, f"{TAG_PREFIX}arch": arch}
    if run is not None:
        for key in ("experiment", "test_blocks", "git_commit", "data_version"):
            value = run.data.tags.get(f"{TAG_PREFIX}{key}")
            if value is not None:
                tags[f"{TAG_PREFIX}{key}"] = value
        headline = run.data.metrics.get(f"{TEST_PREFIX}{HEADLINE}")
        if headline is not None:
            tags[f"{TAG_PREFIX}test_{HEADLINE}"] = f"{headline:.6f}"
    for key, value in tags.items():
        client.set_model_version_tag(name, version.version, key, value)
    client.set_registered_model_alias(name, CHALLENGER, version.version)
    return client.get_model_version(name, version.version)


def version_scores(name: str, version: str, client: MlflowClient | None = None) -> dict[str, Any]:
    """Test macro-F1, per-class F1 and test-block fingerprint of a version, read from its run.

    Raises:
        LithomapError: the version's run logged no test macro-F1.
    """
    client = client or MlflowClient()
    model_version = client.get_model_version(name, version)
    run = client.get_run(model_version.run_id)
    metrics = run.data.metrics
    if f"{TEST_PREFIX}{HEADLINE}" not in metrics:
        raise LithomapError(
            f"{name} version {version}: its run {model_version.run_id} has no {TEST_PREFIX}{HEADLINE} metric; "
            "log the test evaluation (tracking.log_evaluation) before registering"
        )
    return {
        HEADLINE: metrics[f"{TEST_PREFIX}{HEADLINE}"],
        "per_class_f1": {
            key.removeprefix(_F1_PREFIX): value for key, value in metrics.items() if key.startswith(_F1_PREFIX)
        },
        "test_blocks": run.data.tags.get(f"{TAG_PREFIX}test_blocks", "unknown"),
    }


def _alias_version(client: MlflowClient, name: str, alias: str) -> str | None:
    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def gate_decision(
    candidate: Mapping[str, Any], champion: Mapping[str, Any], margin: float, max_class_drop: float
) -> tuple[bool, str, dict[str, Any]]:
    """The promotion gate on two versions' scores (as ``version_scores`` returns them).

    Passes when both were tested on the same blocks, the macro-F1 gain exceeds ``margin``
    and no class the champion scored loses more than ``max_class_drop`` F1.

    Returns:
        (passed, reason, numbers): numbers holds ``gain``, ``class_f1_drops``,
        ``worst_class`` and ``worst_class_drop``.
    """
    gain = candidate[HEADLINE] - champion[HEADLINE]
    drops = {
        class_name: champion_f1 - candidate["per_class_f1"].get(class_name, 0.0)
        for class_name, champion_f1 in champion["per_class_f1"].items()
    }
    worst = max(drops, key=drops.__getitem__) if drops else None
    numbers = {
        "gain": gain,
        "class_f1_drops": drops,
        "worst_class": worst,
        "worst_class_drop": drops[worst] if worst else 0.0,
    }
    if champion["test_blocks"] != candidate["test_blocks"]:
        return False, "test blocks differ from the champion's: re-evaluate the champion on the same blocks", numbers
    if gain <= margin:
        return False, f"macro-F1 gain {gain:+.4f} does not exceed the margin {margin:.4f}", numbers
    if worst is not None and drops[worst] > max_class_drop:
        return False, f"F1 of class {worst} falls by {drops[worst]:.4f} > {max_class_drop:.4f}", numbers
    return (
        True,
        f"macro-F1 gain {gain:+.4f} > margin {margin:.4f}; no class F1 falls by more than {max_class_drop}",
        numbers,
    )


def promote(
    region: str,
    arch: str,
    *,
    margin: float = 0.01,
    max_class_drop: float = 0.05,
    version: str | None = None,
    champion_scores: Mapping[str, Any] | None = None,
    client: MlflowClient | None = None,
) -> dict[str, Any]:
    """Run the promotion gate for a candidate version and move ``champion`` if it passes.

    Args:
        region: study region.
        arch: ``cnn`` or ``convlstm``.
        margin: the macro-F1 gain over the champion must exceed this.
        max_class_drop: the largest allowed fall of any class's F1 (classes the champion
            scored; a class the candidate does not score counts as F1 0).
        version: candidate version (default: the ``challenger`` alias).
        champion_scores: the champion re-evaluated on the candidate's test blocks, as
            ``version_scores`` returns it; default: read from the champion's run.
        client: MLflow client (default: the configured store).

    Returns:
        The decision: ``model``, ``candidate_version``, ``champion_version`` (before),
        ``promoted``, ``reason``, ``candidate_macro_f1``, ``champion_macro_f1``, ``gain``,
        ``margin``, ``max_class_drop``, ``class_f1_drops``, ``worst_class``,
        ``worst_class_drop``, ``test_blocks``, ``decided_at``.

    Raises:
        LithomapError: no candidate version, or a version without test metrics.
    """
    client = client or MlflowClient()
    name = model_name(region, arch)
    candidate_version = version or _alias_version(client, name, CHALLENGER)
    if candidate_version is None:
        raise LithomapError(f"{name}: no version to promote (no '{CHALLENGER}' alias); register a model first")
    candidate = version_scores(name, candidate_version, client)
    champion_version = _alias_version(client, name, CHAMPION)
    decision: dict[str, Any] = {
        "model": name,
        "candidate_version": str(candidate_version),
        "champion_version": champion_version,
        "candidate_macro_f1": candidate[HEADLINE],
        "champion_macro_f1": None,
        "gain": None,
        "margin": margin,
        "max_class_drop": max_class_drop,
        "class_f1_drops": {},
        "worst_class": None,
        "worst_class_drop": None,
        "test_blocks": candidate["test_blocks"],
        "decided_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if champion_version is None:
        promoted, reason = True, "first version: no champion yet"
    elif champion_version == str(candidate_version):
        promoted, reason = False, "candidate is already the champion"
    else:
        champion = dict(champion_scores) if champion_scores else version_scores(name, champion_version, client)
        if champion_scores:
            champion.setdefault("test_blocks", candidate["test_blocks"])
        promoted, reason, numbers = gate_decision(candidate, champion, margin, max_class_drop)
        decision.update(numbers, champion_macro_f1=champion[HEADLINE])
    decision.update(promoted=promoted, reason=reason)
    _record(client, name, decision)
    if promoted:
        client.set_registered_model_alias(name, CHAMPION, str(candidate_version))
        if champion_version is not None:
            client.set_model_version_tag(name, champion_version, "promotion.replaced_by", str(candidate_version))
    return decision


def _record(client: MlflowClient, name: str, decision: Mapping[str, Any]) -> None:
    """Write the decision and its numbers as ``promotion.*`` tags on the candidate version."""
    version = decision["candidate_version"]
    tags = {
        "promotion.decision": "promoted" if decision["promoted"] else "refused",
        "promotion.reason": decision["reason"],
        "promotion.champion_version": decision["champion_version"] or "none",
        "promotion.candidate_macro_f1": decision["candidate_macro_f1"],
        "promotion.champion_macro_f1": decision["champion_macro_f1"],
        "promotion.gain": decision["gain"],
        "promotion.margin": decision["margin"],
        "promotion.max_class_drop": decision["max_class_drop"],
        "promotion.worst_class": decision["worst_class"],
        "promotion.worst_class_drop": decision["worst_class_drop"],
        "promotion.decided_at": decision["decided_at"],
    }
    for key, value in tags.items():
        text = "none" if value is None else f"{value:.6f}" if isinstance(value, float) else str(value)
        client.set_model_version_tag(name, version, key, text)
