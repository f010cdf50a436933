"""Atomic file writes: write beside the target under a hidden temporary name, then rename.

A crash mid-write therefore never leaves a half-written file where a good one stood.
(Whole folders use ``lithomap.io.cube.atomic_directory``.)
"""

from __future__ import annotations

import json
import os
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
