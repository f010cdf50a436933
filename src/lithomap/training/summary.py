"""The summary table `make demo` ends with: test scores and the gate's decision per region and model."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from lithomap.config import Params
from lithomap.training.matrix import Cell, metrics_path


def champion_summary(params: Params, experiment: str) -> pd.DataFrame:
    """Per region and model: test scores of the default experiment and the promotion decision."""
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
                    "decision": "promoted" if decision.get("promoted") else ("kept" if decision else "–"),
                }
            )
    return pd.DataFrame(rows)
