"""The summary table `make demo` ends with: test scores, the gate's decision and the map per region and model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from lithomap.config import Params
from lithomap.mapping.folders import MAP_JSON, map_folder
from lithomap.registry.outcome import outcome
from lithomap.training.matrix import Cell, metrics_path


def champion_summary(params: Params, experiment: str) -> pd.DataFrame:
    """Per region and model: test scores of the default experiment, the promotion decision and the map.

    ``decision`` is ``promoted``, ``kept`` (the champion stays), ``not promoted`` (refused and
    no champion: e.g. below the per-pixel baseline) or ``–`` (the gate has not run); ``map``
    names the version its map was made with, ``not promoted`` when that is not a champion
    (``lithomap map --if-no-champion challenger``).
    """
    rows = []
    for region in params.regions:
        for arch in params.matrix.models:
            path = metrics_path(params, Cell(region, arch, experiment))
            if not path.is_file():
                continue
            metrics = json.loads(path.read_text())
            decision_path = params.promote.reports_dir / f"{region}-{arch}.json"
            decision = json.loads(decision_path.read_text()) if decision_path.is_file() else {}
            low, high = metrics.get("macro_f1_ci", [np.nan, np.nan])
            champion = (
                decision.get("candidate_version") if decision.get("promoted") else decision.get("champion_version")
            )
            rows.append(
                {
                    "region": region,
                    "model": arch,
                    "accuracy": metrics["oa"],
                    "macro_f1": metrics["macro_f1"],
                    "ci": f"[{low:.2f}, {high:.2f}]",
                    "kappa": metrics["kappa"],
                    "baseline_macro_f1": metrics["baseline"]["macro_f1"],
                    "champion": f"v{champion}" if champion else "–",
                    "decision": decision_words(decision),
                    "map": _map_words(map_folder(params.map.maps_dir, region, arch, experiment) / MAP_JSON),
                }
            )
    return pd.DataFrame(rows)


def decision_words(decision: dict) -> str:
    """``promoted``, ``kept`` (the champion stays), ``not promoted`` (refused, no champion) or ``–``."""
    if not decision:
        return "–"
    return outcome(bool(decision.get("promoted")), decision.get("champion_version"))


def _map_words(path: Path) -> str:
    """``v3``, ``v2 not promoted``, ``global v1`` or ``–`` (no map) for a map's map.json."""
    if not path.is_file():
        return "–"
    meta = json.loads(path.read_text())
    words = f"v{meta.get('version', '?')}"
    if meta.get("model_scope") == "global":
        words = f"global {words}"
    return words if meta.get("promoted", True) else f"{words} not promoted"
