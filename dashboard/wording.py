"""Plain words for stakeholders: model names, scores with intervals, validation outcomes, dates."""

from __future__ import annotations

import math
from collections.abc import Callable

import pandas as pd

from lithomap.registry.outcome import outcome

ARCH_NAMES = {"cnn": "U-Net (CNN)", "convlstm": "ConvLSTM (time-aware)"}
STATUS_WORDS = {"passed": "passed", "warned": "passed with warnings", "failed": "failed"}


def architecture(arch: str) -> str:
    """``cnn`` → ``U-Net (CNN)``; unknown names unchanged."""
    return ARCH_NAMES.get(arch, arch)


def loro_model(name: str) -> str:
    """A model of the leave-one-region-out table in words: ``cnn+summary`` → ``U-Net (CNN) + summary model …``."""
    if name == "baseline":
        return "per-pixel baseline"
    if name == "summary":
        return "summary model alone"
    if name.endswith("+summary"):
        return f"{architecture(name.removesuffix('+summary'))} + summary model (what maps of new regions use)"
    return architecture(name)


def region_name(region: str) -> str:
    """``santa_olalla`` → ``Santa Olalla``."""
    return region.replace("_", " ").title()


def listing(names: object, name: Callable[[str], str] = str, empty: str = "none") -> str:
    """Names as words: ``santa_olalla villoslada`` (a table cell) or a list → ``Santa Olalla, Villoslada``.

    ``name`` words each item (e.g. ``region_name``); nothing, or a missing cell, is ``empty``.
    """
    items = names.split() if isinstance(names, str) else list(names) if isinstance(names, list | tuple) else []
    return ", ".join(name(item) for item in items) if items else empty


def _known(value: float | None) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def score(value: float | None, low: float | None = None, high: float | None = None) -> str:
    """``0.87 (95 % interval 0.66–0.90)``, or ``not scored``."""
    if not _known(value):
        return "not scored"
    text = f"{value:.2f}"
    if _known(low) and _known(high):
        text += f" (95 % interval {low:.2f}–{high:.2f})"
    return text


def when(moment: pd.Timestamp | None) -> str:
    """``2026-11-20 14:05 UTC``, or ``unknown``."""
    if moment is None or pd.isna(moment):
        return "unknown"
    stamp = pd.Timestamp(moment)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.strftime("%Y-%m-%d %H:%M UTC")


def champion_sentence(
    region: str, arch: str, version: int, experiment: str, macro_f1, low, high, global_model: bool = False
) -> str:
    """One sentence on a champion, e.g. for the overview page (a global model's score is its expected one)."""
    if global_model:
        return (
            f"All regions (global model): the {architecture(arch)} model, version {version}, trained on the "
            f"'{experiment}' inputs of every labelled region, is expected to score {score(macro_f1, low, high)} "
            "on average over the rock and soil classes of a region it never saw (leave-one-region-out macro-F1; "
            "1 is perfect)."
        )
    return (
        f"{region_name(region)}: the {architecture(arch)} model, version {version}, trained on the "
        f"'{experiment}' inputs, scores {score(macro_f1, low, high)} on average over the rock and soil "
        "classes (macro-F1 on test areas it never saw; 1 is perfect)."
    )


def validation_words(status: str, failures: int, warnings: int) -> str:
    """``passed``, ``passed with 2 warnings`` or ``failed: 3 critical problems``."""
    if status == "failed":
        return f"failed: {failures} critical problem{'s' if failures != 1 else ''}"
    if status == "warned":
        return f"passed with {warnings} warning{'s' if warnings != 1 else ''}"
    return "passed"


DECISION_WORDS = {
    "promoted": "became champion",
    "kept": "kept the champion",
    "not promoted": "not promoted (no champion)",
}


def decision_words(decision: str, champion_version: str = "") -> str:
    """A ``promotion.decision`` tag in words (``registry.outcome``); unknown values unchanged.

    ``promoted`` → ``became champion``; ``refused`` → ``kept the champion`` or, with no
    champion (``promotion.champion_version`` ``none``), ``not promoted (no champion)``.
    """
    if decision not in ("promoted", "refused"):
        return decision
    return DECISION_WORDS[outcome(decision == "promoted", champion_version)]


def map_notes(meta: dict) -> list[tuple[str, str]]:
    """What a map's map.json says about trusting it, as (``warning`` | ``info``, sentence) pairs.

    "Not promoted" first (a map made with a version the promotion gate refused), then the
    expected macro-F1 of a map of a region the model never saw, the domain shift, how the
    inputs were normalised (and batch normalisation adapted) for such a map, whether the
    transfer model (network and summary model blended) made it, and the map's warning.
    Maps made before these keys existed give fewer notes.
    """
    notes = []
    if meta.get("promoted") is False:
        model = f"{meta.get('registered_model', 'the model')} version {meta.get('version', '?')}"
        notes.append(
            (
                "warning",
                f"Not promoted: made with {model}, which the promotion gate did not make champion "
                f"({meta.get('promotion_reason') or 'no reason recorded'}).",
            )
        )
    expected = meta.get("expected_macro_f1")
    if expected:
        low, high = expected.get("macro_f1_interval") or (None, None)
        held = listing(expected.get("held_out"), region_name, "unknown")
        notes.append(
            (
                "info",
                f"Expected macro-F1 on this region: {score(expected.get('macro_f1_learnable'), low, high)}, from "
                f"leave-one-region-out runs (held out: {held}).",
            )
        )
    shift = meta.get("domain_shift")
    if _known(shift):
        notes.append(
            (
                "info",
                f"Domain shift: {shift:.2f} (how far this region's inputs lie from the training pixels; "
                "about 0 for the model's own region).",
            )
        )
    if meta.get("normalisation") == "target":
        adapted = " and the network's batch normalisation adapted to them" if meta.get("adapted_batch_norm") else ""
        notes.append(
            (
                "info",
                f"Inputs normalised by this region's own statistics{adapted} (no labels used), as the "
                "leave-one-region-out runs were scored.",
            )
        )
    blend = meta.get("summary_blend")
    if _known(blend):
        notes.append(
            (
                "info",
                f"Made by the transfer model: the network's probabilities averaged with those of a per-pixel model "
                f"of the all-date thermal summaries (weight {blend:g}).",
            )
        )
    if meta.get("warning"):
        notes.append(("warning", f"Warning: {meta['warning']}"))
    return notes
