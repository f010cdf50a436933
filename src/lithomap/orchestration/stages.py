"""The pipeline's stages as dvc.yaml defines them, grouped by the region each one works on.

Nothing here re-declares a stage: names, commands and order come from DVC's own index
(``dvc.repo.Repo(...).index``), so a new stage in dvc.yaml — a ``foreach`` over other
regions, a ``tune`` or ``map`` stage — is picked up without touching the flows.
"""

from __future__ import annotations

import itertools
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from lithomap.errors import ConfigError

REGION_FLAGS = ("--region", "-r")
SHARED = "(shared)"


@dataclass(frozen=True)
class PipelineStage:
    """One stage of dvc.yaml (``ingest@puertollano``): its group, region and command.

    ``target`` addresses it for DVC from any working directory (``/abs/dvc.yaml:name``).
    """

    name: str
    target: str
    group: str
    region: str | None
    cmd: str
    wdir: Path
    outs: tuple[str, ...] = ()


def region_of(cmd: str) -> str | None:
    """The region a stage command works on: the value of its ``--region``/``-r`` option, if any."""
    words = shlex.split(cmd)
    for flag, value in itertools.pairwise(words):
        if flag in REGION_FLAGS:
            return value
    for word in words:
        if word.startswith("--region="):
            return word.split("=", 1)[1]
    return None


def discover_stages(root: Path) -> list[PipelineStage]:
    """Every stage with a command in ``root``'s DVC pipeline, in an order that runs dependencies first.

    Raises:
        ConfigError: ``root`` is not a DVC repository or its dvc.yaml cannot be read.
    """
    import networkx as nx
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    try:
        with Repo(str(root)) as repo:
            graph = repo.index.graph
            ordered = list(reversed(list(nx.topological_sort(graph))))
            stages = []
            for stage in ordered:
                if not getattr(stage, "cmd", None):
                    continue
                command = stage.cmd if isinstance(stage.cmd, str) else " && ".join(stage.cmd)
                dvcfile = Path(stage.dvcfile.path).resolve()
                relative = dvcfile.relative_to(Path(repo.root_dir).resolve())
                stages.append(
                    PipelineStage(
                        name=stage.name if relative == Path("dvc.yaml") else f"{relative}:{stage.name}",
                        target=f"{dvcfile}:{stage.name}",
                        group=stage.name.split("@", 1)[0],
                        region=region_of(command),
                        cmd=command,
                        wdir=Path(stage.wdir),
                        outs=tuple(str(out.def_path) for out in stage.outs),
                    )
                )
            return stages
    except DvcException as error:
        raise ConfigError(
            f"{root}: cannot read the DVC pipeline ({error}). Fix: run from the repository root "
            "(where dvc.yaml and .dvc/ are) or pass the project folder."
        ) from error


def stages_by_region(stages: Sequence[PipelineStage], regions: Iterable[str] | None = None) -> dict[str, list]:
    """Stages per region, each list in run order; stages naming no region under ``SHARED``.

    Args:
        stages: as ``discover_stages`` returns them.
        regions: keep these regions only (default: every region a stage names).

    Raises:
        ConfigError: a requested region has no stage in dvc.yaml.
    """
    grouped: dict[str, list[PipelineStage]] = {}
    for stage in stages:
        grouped.setdefault(stage.region or SHARED, []).append(stage)
    if regions is None:
        return {name: grouped[name] for name in sorted(grouped, key=lambda n: (n == SHARED, n))}
    wanted = list(regions)
    unknown = [name for name in wanted if name not in grouped]
    if unknown:
        known = sorted(name for name in grouped if name != SHARED)
        raise ConfigError(
            f"dvc.yaml has no stage for region(s) {unknown}; known regions: {known}. "
            "Fix: add the region to the stages' foreach lists in dvc.yaml, or pick a known one."
        )
    return {name: grouped[name] for name in wanted}
