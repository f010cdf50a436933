"""The promotion gate as a pipeline step: decide, record on the model version, write a JSON report."""

from __future__ import annotations

from lithomap.atomic import write_json
from lithomap.config import Params


def promote_model(region: str, arch: str, params: Params) -> dict:
    """Move ``champion`` to the region/arch challenger if it beats the champion by the margin.

    The decision and its numbers are recorded as tags on the model version (by
    ``lithomap.registry.registry.promote``) and written to
    ``<promote.reports_dir>/<region>-<arch>.json``.
    """
    from lithomap.registry.registry import promote
    from lithomap.registry.tracking import configure_tracking

    configure_tracking()
    decision = promote(region, arch, margin=params.promote.margin, max_class_drop=params.promote.max_class_drop)
    write_json(params.promote.reports_dir / f"{region}-{arch}.json", decision)
    return decision
