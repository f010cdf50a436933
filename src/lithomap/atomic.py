"""Atomic file writes: write beside the target under a hidden temporary name, then rename.

A crash mid-write therefore never leaves a half-written file where a good one stood;
whole folders (a cube, a dataset, a model) are built under a temporary name by
:func:`atomic_directory` and swapped in only once complete. Every writer in lithomap
uses this module.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def temporary_path(path: Path, suffix: str = "") -> Path:
    """A hidden sibling of ``path`` to write into first (keeps the extension writers look at)."""
    return path.with_name(f".{path.stem}.tmp-{os.getpid()}{suffix or path.suffix}")


def write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_path(path)
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)
    return path


def write_json(path: Path, payload: Any) -> Path:
    """JSON with two-space indent; values JSON cannot hold (dates, paths) become strings."""
    return write_text(path, json.dumps(payload, indent=1, default=str))


def save_figure(figure: Any, path: Path, dpi: int = 90, **options: Any) -> Path:
    """Save a matplotlib figure atomically and close it."""
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_path(path)
    figure.savefig(temporary, dpi=dpi, **options)
    plt.close(figure)
    temporary.replace(path)
    return path


@contextmanager
def atomic_directory(final: Path) -> Iterator[Path]:
    """Yield a temporary folder beside ``final``; on success it replaces ``final``, on failure it vanishes.

    A previous good ``final`` stays untouched until the new one is complete. Parent folders
    created here are removed again on failure, so a failed run leaves nothing behind.
    """
    created = [p for p in (final.parent, *final.parent.parents) if not p.exists()]
    final.parent.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex[:8]
    temporary = final.parent / f".{final.name}.tmp-{token}"
    try:
        yield temporary
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        for folder in created:
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        raise
    old = final.parent / f".{final.name}.old-{token}"
    if final.exists():
        final.rename(old)
    temporary.rename(final)
    shutil.rmtree(old, ignore_errors=True)
