"""One DVC workspace shared by parallel stage runs: status checks and commits under one lock.

DVC locks the whole repository while ``dvc repro`` runs, so two ``dvc repro`` processes
cannot share a workspace. Here only the short bookkeeping holds a lock — deciding whether
a stage is up to date (DVC's own check against dvc.lock) and recording its outputs
afterwards (what ``dvc commit`` does: hash, cache, write dvc.lock) — while the stage's
command runs unlocked, so the commands of different regions overlap. The lock is an
advisory ``flock`` on ``.dvc/tmp/lithomap-orchestration.lock``, which serialises threads
and processes alike (POSIX only).
"""

from __future__ import annotations

import fcntl
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

LOCK_FILE = Path(".dvc") / "tmp" / "lithomap-orchestration.lock"
_ACQUISITION = re.compile(r"doy(\d{13})|(\d{8}T\d{6})")

Verdict = Literal["changed", "up_to_date", "new_data"]


@dataclass
class StageStatus:
    """DVC's verdict on a stage before it runs.

    ``new_data``: a raw-data stage whose outputs changed while its code, params and command
    did not — data arrived (``lithomap generate --append-dates``, a download); the outputs
    are committed as they are, not rebuilt.
    """

    name: str
    verdict: Verdict
    reason: str
    new_files: list[str] = field(default_factory=list)

    @property
    def new_acquisitions(self) -> int:
        """Distinct acquisition times among the new files (AppEEARS ``doy…`` or ``YYYYMMDDTHHMMSS``)."""
        return len({m.group(0) for name in self.new_files if (m := _ACQUISITION.search(Path(name).name))})


@contextmanager
def workspace_lock(root: Path) -> Iterator[None]:
    """Hold the workspace's orchestration lock (blocking) for DVC bookkeeping."""
    path = root / LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _stage(repo, target: str):
    dvcfile, name = target.rsplit(":", 1)
    matches = [
        stage
        for stage in repo.index.stages
        if stage.name == name and Path(stage.dvcfile.path).resolve() == Path(dvcfile).resolve()
    ]
    if not matches:
        from lithomap.errors import ConfigError

        raise ConfigError(f"dvc.yaml: no stage {name!r}. Fix: rerun; the pipeline changed while the flow ran.")
    return matches[0]


def stage_status(root: Path, target: str, new_data_groups: tuple[str, ...] = ()) -> StageStatus:
    """Whether a stage must run, by DVC's own up-to-date check (``dvc status``).

    Args:
        root: the repository root.
        target: the stage as ``/abs/path/dvc.yaml:name`` (``PipelineStage.target``).
        new_data_groups: stage groups producing raw data (see ``StageStatus``).
    """
    from dvc.repo import Repo

    name = target.rsplit(":", 1)[1]
    with workspace_lock(root), Repo(str(root)) as repo, repo.lock:
        stage = _stage(repo, target)
        if not stage.changed():
            return StageStatus(name, "up_to_date", "up to date")
        group = name.split("@", 1)[0]
        unchanged_recipe = not stage.changed_stage() and not stage.changed_deps()
        if group in new_data_groups and unchanged_recipe and all(out.exists for out in stage.outs):
            return StageStatus(name, "new_data", "outputs changed: new data", _new_files(repo, stage))
        return StageStatus(name, "changed", "changed")


def _new_files(repo, stage) -> list[str]:
    """Files in the stage's directory outputs that the committed version (dvc.lock) lacks."""
    found: list[str] = []
    for out in stage.outs:
        if not out.use_cache or not out.hash_info or not out.hash_info.isdir:
            continue
        listing = Path(repo.cache.local.oid_to_path(out.hash_info.value))
        if not listing.is_file():
            continue
        before = {entry["relpath"] for entry in json.loads(listing.read_text())}
        folder = Path(out.fs_path)
        now = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
        found += sorted(f"{out.def_path}/{name}" for name in now - before)
    return found


def remove_outputs(root: Path, target: str) -> None:
    """Delete a stage's outputs before its command runs, as ``dvc repro`` does."""
    from dvc.repo import Repo

    with workspace_lock(root), Repo(str(root)) as repo, repo.lock:
        _stage(repo, target).remove_outs(ignore_remove=False, force=False)


def commit_stage(root: Path, target: str) -> None:
    """Record a stage's outputs as ``dvc commit -f`` does: hash, cache, .gitignore, dvc.lock entry.

    DVC's run cache is not written (it assumes the working directory is the repository's).
    """
    from dvc.repo import Repo

    with workspace_lock(root), Repo(str(root)) as repo, repo.lock:
        stage = _stage(repo, target)
        stage.save(run_cache=False)
        stage.commit()
        stage.dvcfile.dump_stages([stage], update_pipeline=False)
