"""One writer at a time: a lock file beside what a step writes, naming the process that holds it.

``lithomap generate`` and ``lithomap ingest`` take the lock of the folder they publish
before they start. A second run on the same region refuses with a message naming the
lock file; a lock whose process has died (a killed run) is taken over, since no one is
writing any more. Holding the lock also tells a step that leftovers of the same kind
(``.cube.zarr.tmp-*`` from an interrupted ingest) belong to no running process.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lithomap.errors import LithomapError


class FolderLockedError(LithomapError):
    """Another running lithomap process holds the lock of the folder this step writes.

    Args:
        lock: the lock file.
        holder: what the lock file says about its holder (pid and host).
        step: the step that was refused.
    """

    def __init__(self, lock: Path, holder: str, step: str) -> None:
        self.lock = lock
        super().__init__(
            f"{lock}: another `lithomap {step}` ({holder}) is writing this region. Fix: wait for it to finish; "
            f"if no such run is active (e.g. it ran on another machine and was killed), delete {lock}"
        )


def lock_path(target: Path) -> Path:
    """The lock file of a folder: a hidden sibling ``.<name>.lock``."""
    return target.parent / f".{target.name}.lock"


@contextmanager
def folder_lock(target: Path, step: str) -> Iterator[Path]:
    """Hold the lock of ``target`` while the block runs; yield the lock file.

    Args:
        target: the folder the step publishes (it need not exist yet).
        step: the verb, for the message a refused run prints.

    Raises:
        FolderLockedError: a live process on this machine, or any process on another
            machine, holds the lock.
    """
    lock = lock_path(target)
    created = [p for p in (lock.parent, *lock.parent.parents) if not p.exists()]
    lock.parent.mkdir(parents=True, exist_ok=True)
    _acquire(lock, step)
    try:
        yield lock
    finally:
        lock.unlink(missing_ok=True)
        for folder in created:
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()


def _acquire(lock: Path, step: str) -> None:
    me = f"pid {os.getpid()} on {socket.gethostname()}"
    for _ in range(2):
        try:
            descriptor = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _read(lock)
            if _alive(holder):
                raise FolderLockedError(lock, holder, step) from None
            lock.unlink(missing_ok=True)  # its process died: a stale lock
            continue
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(me)
        return
    raise FolderLockedError(lock, _read(lock), step)


def _read(lock: Path) -> str:
    try:
        return lock.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return ""


def _alive(holder: str) -> bool:
    """Whether the process a lock names still runs (a holder on another host counts as alive)."""
    parts = holder.split()
    if len(parts) != 4 or parts[0] != "pid" or not parts[1].isdigit():
        return False
    if parts[3] != socket.gethostname():
        return True
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
