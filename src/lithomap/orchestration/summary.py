"""What a retrain did, per region and stage, in words a person reads at the end of a run."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from lithomap.registry.outcome import has_champion, outcome

Status = Literal["ran", "up_to_date", "new_data", "skipped", "failed", "not_run"]


@dataclass
class StageOutcome:
    """How one stage ended in a run."""

    stage: str
    status: Status
    detail: str = ""
    seconds: float = 0.0
    new_acquisitions: int = 0
    decisions: list[dict] = field(default_factory=list)


@dataclass
class RegionOutcome:
    """The stages of one region in run order; it stops at the first failure."""

    region: str
    stages: list[StageOutcome] = field(default_factory=list)

    @property
    def failed(self) -> StageOutcome | None:
        return next((s for s in self.stages if s.status == "failed"), None)

    @property
    def did_work(self) -> bool:
        return any(s.status in ("ran", "new_data") for s in self.stages)

    def summary(self) -> str:
        """One line, e.g. ``villoslada: 3 new dates; ran 9 stages; cnn: challenger 0.86 vs ...``."""
        parts: list[str] = []
        dates = sum(s.new_acquisitions for s in self.stages)
        if dates:
            parts.append(f"{dates} new dates")
        ran = [s for s in self.stages if s.status == "ran"]
        if ran:
            parts.append(f"ran {len(ran)} stage{'s' * (len(ran) != 1)} ({sum(s.seconds for s in ran):.0f} s)")
        parts += [decision_text(d) for s in self.stages for d in s.decisions]
        failed = self.failed
        if failed is not None:
            parts.append(f"FAILED at {failed.stage}: {failed.detail}")
            not_run = sum(s.status == "not_run" for s in self.stages)
            if not_run:
                parts.append(f"{not_run} later stages not run")
        if not self.did_work and failed is None:
            parts.append(f"nothing to do, all {len(self.stages)} stages up to date")
        skipped = [s for s in self.stages if s.status == "skipped"]
        parts += [f"skipped {s.stage} ({s.detail})" for s in skipped]
        return f"{self.region}: " + "; ".join(parts)


VERDICTS = {"promoted": "promoted the challenger", "kept": "kept the champion", "not promoted": "not promoted"}


def decision_text(decision: dict) -> str:
    """A promotion decision in words: ``cnn: challenger 0.86 vs champion 0.85, kept the champion (margin 0.01)``.

    Under ``promote.rule: paired`` the bracket holds the paired difference and its interval
    (``paired +0.012 [-0.020, 0.041]``).
    """
    model = str(decision.get("model", "model")).rsplit("-", 1)[-1]
    candidate = decision.get("candidate_macro_f1")
    champion = decision.get("champion_macro_f1")
    words = outcome(bool(decision.get("promoted")), decision.get("champion_version"))
    verdict = VERDICTS[words]
    scores = f"challenger {candidate:.2f}" if isinstance(candidate, float) else "challenger"
    if isinstance(champion, float):
        scores += f" vs champion {champion:.2f}"
        if decision.get("champion_rescored"):
            scores += " (re-scored on the current test data)"
    else:  # no champion, or refused before any comparison (e.g. below the per-pixel baseline): say why
        had = has_champion(decision.get("champion_version"))
        scores += " (not compared with the champion)" if had else " (no champion yet)"
        if words != "promoted":
            verdict += f": {decision.get('reason') or 'refused by the gate'}"
    interval = decision.get("paired_interval")
    if decision.get("rule") == "paired":
        rule = (
            f"paired {decision['paired_difference']:+.3f} [{interval[0]:.3f}, {interval[1]:.3f}]"
            if interval
            else "paired rule"
        )
    else:
        rule = f"margin {decision.get('margin', 0):g}"
    return f"{model}: {scores}, {verdict} ({rule})"


def read_decisions(root: Path, outputs: list[str]) -> list[dict]:
    """Promotion decisions among a stage's JSON outputs (files holding a ``promoted`` key)."""
    decisions = []
    for relative in outputs:
        path = root / relative
        if path.suffix == ".json" and path.is_file():
            content = json.loads(path.read_text())
            if isinstance(content, dict) and "promoted" in content:
                decisions.append(content)
    return decisions


def run_summary(outcomes: list[RegionOutcome]) -> str:
    """All regions' lines, failed regions first named in a header line."""
    failed = [o for o in outcomes if o.failed is not None]
    lines = [o.summary() for o in outcomes]
    if failed:
        names = ", ".join(f"{o.region} ({o.failed.stage})" for o in failed if o.failed)
        lines.insert(0, f"retrain failed in {len(failed)} of {len(outcomes)} regions: {names}")
    elif not any(o.did_work for o in outcomes):
        lines.insert(0, "retrain: nothing changed, no stage ran")
    return "\n".join(lines)
