"""The promotion gate: the one place that decides whether a challenger becomes champion.

``promote`` moves the alias ``champion`` to the candidate (default: the ``challenger``)
only when it beats the per-pixel baseline on the same test pixels, beats the current
champion on the same test blocks, and no class's F1 falls by more than ``max_class_drop``;
the first version of a model that beats the baseline becomes champion. "Beats the
champion" follows ``rule``: ``margin`` — the stored test macro-F1 gain exceeds ``margin``;
``paired`` — the lower bound of the paired block-bootstrap interval of challenger −
champion macro-F1 (``models.paired``: each replicate resamples the same test blocks for
both) is above zero. Every decision is written as tags on the candidate version
(``promotion.*``). ``promote_model`` is the pipeline step (``lithomap promote``): it also
writes the decision to ``<promote.reports_dir>/<region>-<arch>.json``.

The global model (``lithomap-global-<arch>``, trained on every labelled region) has no
unseen test region, so ``promote_global`` gates it on its leave-one-region-out score: the
mean learnable macro-F1 of the same training with each region held out in turn
(``reports/loro/loro.csv``). It must beat the fair per-pixel baseline's score in the same
runs and the champion's recorded score by more than ``margin``; the first version that
beats the baseline becomes champion. Without a leave-one-region-out table there is nothing
to gate on, and it refuses. ``promote_global_model`` writes ``global-<arch>.json``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from mlflow.tracking import MlflowClient

from lithomap.atomic import write_json
from lithomap.config import GLOBAL_MODEL, PromoteParams
from lithomap.errors import ConfigError, LithomapError
from lithomap.models.paired import paired_block_bootstrap
from lithomap.registry.registry import (
    CHALLENGER,
    CHAMPION,
    HEADLINE,
    alias_version,
    expected_tags,
    model_name,
    version_block_confusions,
    version_run,
    version_scores,
)
from lithomap.registry.tracking import TAG_PREFIX, configure_tracking

Rescorer = Callable[[str, str], Mapping[str, Any]]
COMPARED_TAGS = ("lithomap.data_version", "lithomap.test_blocks")
RULES = ("margin", "paired")
BlockConfusions = Mapping[str, np.ndarray]


def promote_model(
    region: str, arch: str, settings: PromoteParams, rescore: Rescorer | None = None, n_boot: int = 1000
) -> dict[str, Any]:
    """Run the gate for the region/arch challenger and write the decision's JSON report.

    A fair gate compares both models on the same current data: when the champion's run
    was scored on other data than the challenger's (another DVC data version or other
    test blocks, e.g. after new acquisitions), ``rescore(model_uri, experiment)`` scores
    the champion on the challenger's current test data first (as ``version_scores``
    returns scores, with ``block_confusions``), and the new number is tagged on the
    champion's version (``lithomap.rescored_*``). Without ``rescore`` the gate refuses such
    a comparison. With ``settings.rule == "paired"`` a champion whose run logged no
    per-block test confusions (evaluated by an older lithomap) is re-scored the same way.

    Args:
        region: study region.
        arch: ``cnn`` or ``convlstm``.
        settings: the ``promote`` section.
        rescore: scores a registered model on the region's current test data
            (``training.evaluate.score_registered_model``).
        n_boot: bootstrap replicates of the paired interval (``evaluate.n_boot``).

    Returns:
        The decision (see ``promote``), plus ``champion_rescored`` and
        ``champion_stored_macro_f1`` (the champion's own stored score).
    """
    configure_tracking()
    rescored, stored = _rescored_champion(region, arch, rescore, need_blocks=settings.rule == "paired")
    decision = promote(
        region,
        arch,
        rule=settings.rule,
        margin=settings.margin,
        confidence=settings.paired_confidence,
        n_boot=n_boot,
        max_class_drop=settings.max_class_drop,
        beat_baseline=settings.beat_baseline,
        baseline=settings.baseline,
        champion_scores=rescored,
    )
    decision.update(champion_rescored=rescored is not None, champion_stored_macro_f1=stored)
    write_json(settings.reports_dir / f"{region}-{arch}.json", decision)
    return decision


def _rescored_champion(
    region: str, arch: str, rescore: Rescorer | None, need_blocks: bool = False
) -> tuple[Mapping[str, Any] | None, float | None]:
    """(the champion re-scored on the challenger's data or None when its stored score is comparable, stored score).

    With ``need_blocks`` a champion without stored per-block confusions is re-scored too.
    """
    client = MlflowClient()
    name = model_name(region, arch)
    champion_version = alias_version(client, name, CHAMPION)
    challenger_version = alias_version(client, name, CHALLENGER)
    if champion_version is None or challenger_version is None or champion_version == challenger_version:
        return None, None
    stored = version_scores(name, champion_version, client)[HEADLINE]
    _, champion_run = version_run(client, name, champion_version)
    _, challenger_run = version_run(client, name, challenger_version)
    comparable = all(champion_run.data.tags.get(t) == challenger_run.data.tags.get(t) for t in COMPARED_TAGS)
    if rescore is None or (
        comparable and not (need_blocks and version_block_confusions(name, champion_version, client) is None)
    ):
        return None, stored
    experiment = challenger_run.data.tags.get("lithomap.experiment", "thermal")
    scores = rescore(f"models:/{name}/{champion_version}", experiment)
    tags = {
        "lithomap.rescored_test_macro_f1": f"{scores[HEADLINE]:.6f}",
        "lithomap.rescored_for_version": str(challenger_version),
        "lithomap.rescored_data_version": challenger_run.data.tags.get("lithomap.data_version", "unknown"),
    }
    for key, value in tags.items():
        client.set_model_version_tag(name, champion_version, key, value)
    return scores, stored


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
    numbers = _class_numbers(candidate, champion)
    gain, worst = numbers["gain"], numbers["worst_class"]
    if champion["test_blocks"] != candidate["test_blocks"]:
        return False, BLOCKS_DIFFER, numbers
    if gain <= margin:
        return False, f"macro-F1 gain {gain:+.4f} does not exceed the margin {margin:.4f}", numbers
    if worst is not None and numbers["worst_class_drop"] > max_class_drop:
        return False, f"F1 of class {worst} falls by {numbers['worst_class_drop']:.4f} > {max_class_drop:.4f}", numbers
    return (
        True,
        f"macro-F1 gain {gain:+.4f} > margin {margin:.4f}; no class F1 falls by more than {max_class_drop}",
        numbers,
    )


BLOCKS_DIFFER = "test blocks differ from the champion's: re-evaluate the champion on the same blocks"


def _class_numbers(candidate: Mapping[str, Any], champion: Mapping[str, Any]) -> dict[str, Any]:
    """``gain`` (macro-F1), ``class_f1_drops`` per class the champion scored, ``worst_class`` and its drop."""
    drops = {
        class_name: champion_f1 - candidate["per_class_f1"].get(class_name, 0.0)
        for class_name, champion_f1 in champion["per_class_f1"].items()
    }
    worst = max(drops, key=drops.__getitem__) if drops else None
    return {
        "gain": candidate[HEADLINE] - champion[HEADLINE],
        "class_f1_drops": drops,
        "worst_class": worst,
        "worst_class_drop": drops[worst] if worst else 0.0,
    }


def paired_gate_decision(
    candidate: Mapping[str, Any],
    champion: Mapping[str, Any],
    candidate_blocks: BlockConfusions,
    champion_blocks: BlockConfusions,
    *,
    confidence: float = 0.95,
    max_class_drop: float = 0.05,
    n_boot: int = 1000,
    seed: int = 0,
) -> tuple[bool, str, dict[str, Any]]:
    """The promotion gate with the paired rule: challenger − champion on the same test blocks.

    The two versions' per-block confusion matrices are paired by block id and resampled
    together (``models.paired.paired_block_bootstrap``); the gate passes when the lower
    bound of the ``confidence`` interval of the macro-F1 difference is above zero and no
    class the champion scored loses more than ``max_class_drop`` F1.

    Args:
        candidate: the candidate's scores (as ``version_scores`` returns them).
        champion: the champion's scores on the same test blocks.
        candidate_blocks: test block id → the candidate's confusion matrix there.
        champion_blocks: the same for the champion.
        confidence: confidence level of the interval.
        max_class_drop: the largest allowed fall of any class's F1.
        n_boot: bootstrap replicates.
        seed: seed of the resampling.

    Returns:
        (passed, reason, numbers): numbers holds what ``gate_decision`` gives plus
        ``paired_difference``, ``paired_interval`` ([low, high]) and ``paired_blocks``;
        the paired numbers are None when the two were not scored on the same pixels.
    """
    numbers = _class_numbers(candidate, champion)
    numbers.update(paired_difference=None, paired_interval=None, paired_blocks=None)
    blocks = sorted(candidate_blocks)
    if set(blocks) != set(champion_blocks) or champion["test_blocks"] != candidate["test_blocks"]:
        return False, BLOCKS_DIFFER, numbers
    ours = np.stack([np.asarray(candidate_blocks[block]) for block in blocks])
    theirs = np.stack([np.asarray(champion_blocks[block]) for block in blocks])
    if not np.array_equal(ours.sum(axis=2), theirs.sum(axis=2)):
        return (
            False,
            "the champion was scored on other test pixels of the same blocks: re-score it on the challenger's data",
            numbers,
        )
    difference = paired_block_bootstrap(ours, theirs, n_boot=n_boot, seed=seed, alpha=1 - confidence)
    value, (low, high) = difference.difference[HEADLINE], difference.intervals[HEADLINE]
    numbers.update(paired_difference=value, paired_interval=[low, high], paired_blocks=difference.blocks)
    where = f"({confidence:.0%} paired block bootstrap over {difference.blocks} test blocks)"
    if low <= 0:
        return False, f"not shown better: {value:.3f} [{low:.3f}, {high:.3f}] {where}", numbers
    shown = f"challenger better by {value:.3f} [{low:.3f}, {high:.3f}] {where}"
    worst = numbers["worst_class"]
    if worst is not None and numbers["worst_class_drop"] > max_class_drop:
        return False, f"{shown}, but F1 of class {worst} falls by {numbers['worst_class_drop']:.4f}", numbers
    return True, f"{shown}; no class F1 falls by more than {max_class_drop}", numbers


def _paired_blocks(
    client: MlflowClient, name: str, version: str, scores: Mapping[str, Any] | None, fix: str
) -> BlockConfusions:
    """The per-block confusions of a version: from its re-scored ``scores`` if given, else from its run."""
    if scores is not None:
        blocks, source = scores.get("block_confusions"), "its re-scoring returned no per-block test confusions"
    else:
        blocks = version_block_confusions(name, version, client)
        source = (
            "its run logged no per-block test confusions (evaluation/block_confusions.json; evaluated by an "
            "older lithomap)"
        )
    if blocks is None:
        raise LithomapError(
            f"{name} version {version}: {source}, which promote.rule: paired needs. Fix: {fix}, or set "
            "promote.rule: margin"
        )
    return blocks


def promote(
    region: str,
    arch: str,
    *,
    rule: str = "margin",
    margin: float = 0.01,
    confidence: float = 0.95,
    n_boot: int = 1000,
    seed: int = 0,
    max_class_drop: float = 0.05,
    beat_baseline: bool = True,
    baseline: str = "raw",
    version: str | None = None,
    champion_scores: Mapping[str, Any] | None = None,
    client: MlflowClient | None = None,
) -> dict[str, Any]:
    """Run the promotion gate for a candidate version and move ``champion`` if it passes.

    Args:
        region: study region.
        arch: ``cnn`` or ``convlstm``.
        rule: ``margin`` (``gate_decision``) or ``paired`` (``paired_gate_decision``, on
            the per-block test confusions both versions' runs logged).
        margin: rule margin: the macro-F1 gain over the champion must exceed this.
        confidence: rule paired: confidence level of the challenger − champion interval.
        n_boot: rule paired: bootstrap replicates.
        seed: rule paired: seed of the resampling (the same inputs give the same decision).
        max_class_drop: the largest allowed fall of any class's F1 (classes the champion
            scored; a class the candidate does not score counts as F1 0).
        beat_baseline: refuse a candidate whose test macro-F1 does not exceed the per-pixel
            baseline's on the same test pixels (first versions included); a run that logged
            no baseline score is not held to it, and the decision says so.
        baseline: which per-pixel baseline is the floor: ``raw`` or ``fair`` (see
            ``registry.BASELINE_METRICS``).
        version: candidate version (default: the ``challenger`` alias).
        champion_scores: the champion re-evaluated on the candidate's test blocks, as
            ``version_scores`` returns it (with ``block_confusions`` for rule paired);
            default: read from the champion's run.
        client: MLflow client (default: the configured store).

    Returns:
        The decision: ``model``, ``candidate_version``, ``champion_version`` (before),
        ``promoted``, ``reason``, ``rule``, ``candidate_macro_f1``, ``champion_macro_f1``,
        ``gain``, ``margin`` (None under rule paired), ``paired_confidence``,
        ``paired_difference``, ``paired_interval``, ``paired_blocks``, ``n_boot`` (None
        under rule margin, and the paired numbers None without a champion),
        ``max_class_drop``, ``class_f1_drops``, ``worst_class``, ``worst_class_drop``,
        ``baseline``, ``baseline_macro_f1``, ``test_blocks``, ``decided_at``.

    Raises:
        ConfigError: an unknown ``rule``.
        LithomapError: no candidate version, a version without test metrics, or (rule
            paired) a version whose run logged no per-block test confusions.
    """
    if rule not in RULES:
        raise ConfigError(f"promote.rule {rule!r} is not a promotion rule. Fix: use one of {', '.join(RULES)}")
    paired = rule == "paired"
    client = client or MlflowClient()
    name = model_name(region, arch)
    candidate_version = version or alias_version(client, name, CHALLENGER)
    if candidate_version is None:
        raise LithomapError(f"{name}: no version to promote (no '{CHALLENGER}' alias); register a model first")
    candidate = version_scores(name, candidate_version, client)
    champion_version = alias_version(client, name, CHAMPION)
    decision: dict[str, Any] = {
        "model": name,
        "candidate_version": str(candidate_version),
        "champion_version": champion_version,
        "candidate_macro_f1": candidate[HEADLINE],
        "champion_macro_f1": None,
        "gain": None,
        "rule": rule,
        "margin": None if paired else margin,
        "paired_confidence": confidence if paired else None,
        "n_boot": n_boot if paired else None,
        "paired_difference": None,
        "paired_interval": None,
        "paired_blocks": None,
        "max_class_drop": max_class_drop,
        "class_f1_drops": {},
        "worst_class": None,
        "worst_class_drop": None,
        "baseline": baseline,
        "baseline_macro_f1": candidate["baselines"].get(baseline),
        "test_blocks": candidate["test_blocks"],
        "decided_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    floor = decision["baseline_macro_f1"]
    below_baseline = _below_baseline(candidate[HEADLINE], floor, baseline) if beat_baseline else None
    if below_baseline is not None:
        promoted, reason = False, below_baseline
    elif champion_version is None:
        promoted, reason = (
            True,
            "first version: no champion yet" + _baseline_note(candidate[HEADLINE], floor, baseline, beat_baseline),
        )
    elif champion_version == str(candidate_version):
        promoted, reason = False, "candidate is already the champion"
    else:
        champion = dict(champion_scores) if champion_scores else version_scores(name, champion_version, client)
        if champion_scores:
            champion.setdefault("test_blocks", candidate["test_blocks"])
        if paired:
            promoted, reason, numbers = paired_gate_decision(
                candidate,
                champion,
                _paired_blocks(client, name, str(candidate_version), None, "re-run `lithomap evaluate` for it"),
                _paired_blocks(
                    client, name, champion_version, champion_scores, "run `lithomap promote`, which re-scores it"
                ),
                confidence=confidence,
                max_class_drop=max_class_drop,
                n_boot=n_boot,
                seed=seed,
            )
        else:
            promoted, reason, numbers = gate_decision(candidate, champion, margin, max_class_drop)
        decision.update(numbers, champion_macro_f1=champion[HEADLINE])
        if promoted:
            reason += _baseline_note(candidate[HEADLINE], floor, baseline, beat_baseline)
    decision.update(promoted=promoted, reason=reason)
    _record(client, name, decision)
    if promoted:
        client.set_registered_model_alias(name, CHAMPION, str(candidate_version))
        if champion_version is not None:
            client.set_model_version_tag(name, champion_version, "promotion.replaced_by", str(candidate_version))
    return decision


def _below_baseline(score: float, floor: float | None, name: str) -> str | None:
    """Why the candidate fails the baseline check, or None (it beats the baseline, or none was logged)."""
    if floor is None or score > floor:
        return None
    return (
        f"test macro-F1 {score:.4f} does not beat the per-pixel baseline's ({name}) {floor:.4f} on the same test pixels"
    )


def _baseline_note(score: float, floor: float | None, name: str, beat_baseline: bool) -> str:
    """The baseline part of a passing decision's reason."""
    if not beat_baseline:
        return "; baseline check off (promote.beat_baseline: false)"
    if floor is None:
        return f"; no {name} per-pixel baseline score logged, baseline not checked"
    return f"; beats the {name} per-pixel baseline ({score:.4f} > {floor:.4f})"


def _record(client: MlflowClient, name: str, decision: Mapping[str, Any]) -> None:
    """Write the decision and its numbers as ``promotion.*`` tags on the candidate version."""
    version = decision["candidate_version"]
    interval = decision["paired_interval"]
    tags = {
        "promotion.decision": "promoted" if decision["promoted"] else "refused",
        "promotion.reason": decision["reason"],
        "promotion.champion_version": decision["champion_version"] or "none",
        "promotion.candidate_macro_f1": decision["candidate_macro_f1"],
        "promotion.champion_macro_f1": decision["champion_macro_f1"],
        "promotion.gain": decision["gain"],
        "promotion.rule": decision["rule"],
        "promotion.margin": decision["margin"],
        "promotion.paired_confidence": decision["paired_confidence"],
        "promotion.paired_difference": decision["paired_difference"],
        "promotion.paired_ci_low": interval[0] if interval else None,
        "promotion.paired_ci_high": interval[1] if interval else None,
        "promotion.max_class_drop": decision["max_class_drop"],
        "promotion.worst_class": decision["worst_class"],
        "promotion.worst_class_drop": decision["worst_class_drop"],
        "promotion.baseline_macro_f1": decision["baseline_macro_f1"],
        "promotion.decided_at": decision["decided_at"],
    }
    _set_tags(client, name, version, tags)


def _set_tags(client: MlflowClient, name: str, version: str | int, tags: dict[str, Any]) -> None:
    """Write ``tags`` on a model version: floats with 6 decimals, None as ``none``."""
    for key, value in tags.items():
        text = "none" if value is None else f"{value:.6f}" if isinstance(value, float) else str(value)
        client.set_model_version_tag(name, str(version), key, text)


EXPECTED_TAG = f"{TAG_PREFIX}expected_macro_f1"  # the leave-one-region-out score a global version was registered with


def no_loro_table(arch: str, experiment: str, table: Path, blended: bool = False) -> LithomapError:
    """The refusal of a global model without a leave-one-region-out score to gate it on.

    ``blended``: the global model maps as the transfer model, whose rows (``<arch>+summary``)
    a table from before the transfer model lacks.
    """
    scored = f"{arch}+summary (the transfer model the global model maps with)" if blended else arch
    return LithomapError(
        f"{model_name(GLOBAL_MODEL, arch)}: no leave-one-region-out score for {scored}/{experiment} in {table}; "
        "the global model is gated on it (trained on every region, it has no unseen region to be tested on). "
        f"Fix: run `lithomap loro --all -m {arch} -e {experiment}` first"
    )


def promote_global_model(
    arch: str,
    experiment: str,
    expected: Mapping[str, Any] | None,
    settings: PromoteParams,
    table: Path,
    *,
    settings_differ: Sequence[str] | None = None,
    version: str | None = None,
) -> dict[str, Any]:
    """Run the global model's gate and write the decision to ``<promote.reports_dir>/global-<arch>.json``.

    Args, returns and raises: as ``promote_global``.
    """
    configure_tracking()
    decision = promote_global(
        arch,
        expected,
        experiment=experiment,
        table=table,
        margin=settings.margin,
        beat_baseline=settings.beat_baseline,
        settings_differ=settings_differ,
        version=version,
    )
    write_json(settings.reports_dir / f"{GLOBAL_MODEL}-{arch}.json", decision)
    return decision


def promote_global(
    arch: str,
    expected: Mapping[str, Any] | None,
    *,
    experiment: str,
    table: Path,
    margin: float = 0.01,
    beat_baseline: bool = True,
    settings_differ: Sequence[str] | None = None,
    version: str | None = None,
    client: MlflowClient | None = None,
) -> dict[str, Any]:
    """The gate of ``lithomap-global-<arch>``: move ``champion`` if its leave-one-region-out score earns it.

    Args:
        arch: ``cnn`` or ``convlstm``.
        expected: the leave-one-region-out table's answer for (arch, experiment)
            (``training.loro_table.transfer_expectation``), None when it has no rows.
        experiment: the experiment the candidate was trained on.
        table: the table's path, for messages.
        margin: the score's gain over the champion's recorded one must exceed this.
        beat_baseline: refuse a score not above the fair per-pixel baseline's in the same
            leave-one-region-out runs (not checked when the table has no baseline rows).
        settings_differ: training settings in which the candidate differs from the
            table's leave-one-region-out models (any: refused, their score is not its);
            None when those models' folders were not found to compare.
        version: candidate version (default: the ``challenger`` alias).
        client: MLflow client (default: the configured store).

    Returns:
        The decision: ``model``, ``scope`` (``global``), ``experiment``,
        ``candidate_version``, ``champion_version`` (before), ``promoted``, ``reason``,
        ``candidate_macro_f1`` and ``candidate_interval`` (the leave-one-region-out score),
        ``champion_macro_f1`` (its recorded one), ``gain``, ``rule`` (always ``margin``),
        ``margin``, ``baseline_macro_f1``, ``held_out``, ``loro_table``, ``settings_checked``,
        ``settings_differ``, ``decided_at``.

    Raises:
        LithomapError: no leave-one-region-out score, no candidate, a candidate of another
            experiment, or a champion registered without a recorded score.
    """
    if expected is None:
        raise no_loro_table(arch, experiment, table)
    client = client or MlflowClient()
    name = model_name(GLOBAL_MODEL, arch)
    candidate_version = version or alias_version(client, name, CHALLENGER)
    if candidate_version is None:
        raise LithomapError(
            f"{name}: no version to promote (no '{CHALLENGER}' alias); run `lithomap train-global -m {arch}` first"
        )
    trained_on = client.get_model_version(name, candidate_version).tags.get(f"{TAG_PREFIX}experiment")
    if trained_on != experiment:
        raise LithomapError(
            f"{name} version {candidate_version} was trained on experiment {trained_on!r}, not {experiment!r}. "
            f"Fix: gate it with the leave-one-region-out score of {trained_on!r}"
        )
    score, floor = float(expected["macro_f1_learnable"]), expected.get("baseline_macro_f1_learnable")
    champion_version = alias_version(client, name, CHAMPION)
    decision: dict[str, Any] = {
        "model": name,
        "scope": GLOBAL_MODEL,
        "experiment": experiment,
        "candidate_version": str(candidate_version),
        "champion_version": champion_version,
        "candidate_macro_f1": score,
        "candidate_interval": list(expected["macro_f1_interval"]),
        "champion_macro_f1": None,
        "gain": None,
        "rule": "margin",  # one leave-one-region-out score per version: no paired blocks to compare
        "margin": margin,
        "baseline_macro_f1": floor,
        "held_out": list(expected["held_out"]),
        "loro_table": str(table),
        "settings_checked": settings_differ is not None,
        "settings_differ": list(settings_differ or []),
        "decided_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    promoted = False
    if settings_differ:
        rerun = f"`lithomap loro --all -m {arch} -e {experiment} --retrain`"
        reason = (
            "the leave-one-region-out models of the table were trained with other settings ("
            + "; ".join(settings_differ[:5])
            + f"), so their score is not this model's: run {rerun}"
        )
    elif beat_baseline and floor is not None and score <= floor:
        reason = (
            f"leave-one-region-out macro-F1 {score:.4f} does not beat the fair per-pixel baseline's {floor:.4f} "
            "in the same runs"
        )
    elif champion_version is None:
        promoted, reason = True, f"first version: no champion yet (leave-one-region-out macro-F1 {score:.4f})"
    elif champion_version == str(candidate_version):
        reason = "candidate is already the champion"
    else:
        recorded = client.get_model_version(name, champion_version).tags.get(EXPECTED_TAG)
        if recorded is None:
            raise LithomapError(
                f"{name} version {champion_version} (champion) has no recorded leave-one-region-out score "
                f"({EXPECTED_TAG}). Fix: register global models with `lithomap train-global`"
            )
        gain = score - float(recorded)
        decision.update(champion_macro_f1=float(recorded), gain=gain)
        promoted = gain > margin
        verb = "exceeds" if promoted else "does not exceed"
        reason = f"leave-one-region-out macro-F1 gain {gain:+.4f} over the champion {verb} the margin {margin:.4f}"
    decision.update(promoted=promoted, reason=reason)
    _record_global(client, name, decision)
    if promoted:
        for key, value in expected_tags(expected).items():  # a champion's expected accuracy: the score it won on
            client.set_model_version_tag(name, str(candidate_version), key, value)
        client.set_registered_model_alias(name, CHAMPION, str(candidate_version))
        if champion_version is not None:
            client.set_model_version_tag(name, champion_version, "promotion.replaced_by", str(candidate_version))
    return decision


def _record_global(client: MlflowClient, name: str, decision: Mapping[str, Any]) -> None:
    """Write the global gate's decision as ``promotion.*`` tags on the candidate version."""
    tags = {
        "promotion.decision": "promoted" if decision["promoted"] else "refused",
        "promotion.reason": decision["reason"],
        "promotion.scope": decision["scope"],
        "promotion.score": "leave-one-region-out macro-F1 (learnable classes)",
        "promotion.champion_version": decision["champion_version"] or "none",
        "promotion.candidate_macro_f1": decision["candidate_macro_f1"],
        "promotion.champion_macro_f1": decision["champion_macro_f1"],
        "promotion.gain": decision["gain"],
        "promotion.rule": decision["rule"],
        "promotion.margin": decision["margin"],
        "promotion.baseline_macro_f1": decision["baseline_macro_f1"],
        "promotion.decided_at": decision["decided_at"],
    }
    _set_tags(client, name, decision["candidate_version"], tags)
