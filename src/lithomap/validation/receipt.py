"""Whether a region's raw files passed the raw gate: the receipt ``lithomap ingest`` asks for.

``lithomap validate --stage raw`` stores a fingerprint of the files it validated in its
JSON report. Before building a cube, ``ingest`` compares it with the files it is about to
read; when no passing report speaks for exactly these files it runs the raw gate itself,
so Celsius LST or an emissivity above 1 never reaches a cube unless the user says
``--skip-validation``. The fingerprint hashes contents (not modification times), so files
restored by ``dvc pull`` or ``dvc checkout`` still match.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

CHUNK_BYTES = 1 << 20


def inputs_fingerprint(raw_dir: Path) -> str:
    """BLAKE2b of every file under ``raw_dir``: relative path, size and content, in path order."""
    digest = hashlib.blake2b(digest_size=16)
    for path in sorted(p for p in raw_dir.rglob("*") if p.is_file()):
        digest.update(f"{path.relative_to(raw_dir).as_posix()}\0{path.stat().st_size}\0".encode())
        with path.open("rb") as handle:
            while chunk := handle.read(CHUNK_BYTES):
                digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class Receipt:
    """What the raw validation report says about the files as they are now."""

    report: Path
    valid: bool
    reason: str


def raw_receipt(region: str, raw_dir: Path, reports_dir: Path) -> Receipt:
    """Whether ``<reports_dir>/raw/<region>.json`` is a passing report for the files now in ``raw_dir``."""
    report = reports_dir / "raw" / f"{region}.json"
    if not report.is_file():
        return Receipt(report, False, f"no raw validation report ({report})")
    try:
        content = json.loads(report.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        return Receipt(report, False, f"the raw validation report {report} cannot be read ({error})")
    if not content.get("success"):
        return Receipt(report, False, f"the raw validation report {report} records a failure")
    if content.get("inputs") != inputs_fingerprint(raw_dir):
        return Receipt(report, False, f"the files in {raw_dir} changed since the raw validation report {report}")
    return Receipt(report, True, f"raw validation passed for these files ({report})")
