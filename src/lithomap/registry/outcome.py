"""A promotion decision in one word: the one rule the CLI, the summaries and the dashboard word it by.

Light on purpose (no MLflow import): the summary table and the flow summary use it.
"""

from __future__ import annotations

from typing import Literal

Outcome = Literal["promoted", "kept", "not promoted"]


def outcome(promoted: bool, champion_version: str | int | None) -> Outcome:
    """A gate decision in one word, the one rule every report words it by.

    ``promoted`` (the candidate is champion now), ``kept`` (refused, and a champion stays)
    or ``not promoted`` (refused with no champion: the model has none). ``champion_version``
    is the decision's (before the gate) or the ``promotion.champion_version`` tag, which
    writes a missing one as ``none``.
    """
    if promoted:
        return "promoted"
    return "kept" if has_champion(champion_version) else "not promoted"


def has_champion(champion_version: str | int | None) -> bool:
    """Whether a decision's (or a tag's) champion version names one: not None, empty or ``none``."""
    return champion_version not in (None, "", "none")
