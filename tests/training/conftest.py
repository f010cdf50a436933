"""Fixtures of the pooled-training tests (leave-one-region-out, the global model)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from lithomap.config import Params, parse_params
from lithomap.datasets.preprocess import preprocess_experiment, split_region
from lithomap.io.ingest import ingest_region
from lithomap.scenes.generate import generate_region

OTHER_CLASS_MIX = {"sand": 0.2, "clay": 0.2, "carbonate": 0.15, "foliated": 0.2, "detritic": 0.25}
"""The second region's classes: foliated, which ``tiny`` lacks, is not learnable when ``tiny`` trains alone."""


@pytest.fixture(scope="session")
def two_regions() -> Callable[..., Params]:
    """A builder of two labelled tiny regions, ``tiny`` and ``other``, generated, ingested, split, preprocessed.

    ``build(raw, root, **loro)`` adds ``other`` (``tiny``'s site with seed 99 and
    ``OTHER_CLASS_MIX``) and the ``loro`` section (reports under ``root``, plus ``loro``) to
    ``raw`` (from ``tests.conftest.tiny_params_dict``), builds the ``thermal`` dataset of
    both and returns the parsed params.
    """

    def build(raw: dict, root: Path, **loro: object) -> Params:
        other = json.loads(json.dumps(raw["regions"]["tiny"]))
        other["raw_dir"] = str(root / "raw" / "other")
        other["synthetic"]["seed"] = 99
        other["synthetic"]["class_mix"] = dict(OTHER_CLASS_MIX)
        raw["regions"]["other"] = other
        raw["loro"] = {"reports_dir": str(root / "reports" / "loro"), **loro}
        params = parse_params(raw)
        for name in ("tiny", "other"):
            region = params.region(name)
            generate_region(name, region, params.generate, quicklook=False, progress=False)
            ingest_region(name, region, params.ingest, progress=False)
            split_region(name, region, params.ingest, params.preprocess)
            experiment = params.experiment("thermal")
            preprocess_experiment(name, region, params.ingest, params.preprocess, "thermal", experiment)
        return params

    return build
