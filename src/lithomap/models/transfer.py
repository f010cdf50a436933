"""The transfer model: a network blended with the summary model, for regions the network never saw.

A network trained on some regions reads each sequence step as it saw them there; another
region's steps fall on other dates and hours, and its scores drop (README 10b). The
*summary model* (``models.baseline``, feature set ``summary``) is a per-pixel gradient
boosting on the networks' static channels only — the all-date thermal summaries (mean
emissivity, mean LST anomaly of day and of night dates, the anomaly's spread) and the
static layers — which do not depend on which dates a region got. The transfer model
averages the two models' class probabilities:

    p = (1 − w) · p_network + w · p_summary,   w = ``loro.summary_blend`` (default 0.5)

Held out of training, the blend beat both members on every default region (README 10b).
``lithomap loro`` scores it as ``<arch>+summary``; the global model keeps its summary
model (``SUMMARY_MODEL_FILE``, fitted on every labelled pixel of its regions) beside the
network and in its registered pyfunc, and ``lithomap map`` blends when it maps with such a
model by the target region's statistics (``LithomapPyfunc.predict_with_stats``). A region's
own models carry no summary model and map with the network alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np

from lithomap.atomic import temporary_path
from lithomap.errors import InputDataError
from lithomap.models.baseline import PixelBaseline

SUMMARY_MODEL_FILE = "summary_model.joblib"
BLEND_SUFFIX = "+summary"


def blend_name(arch: str) -> str:
    """The name of ``arch``'s transfer model in the leave-one-region-out table: ``<arch>+summary``."""
    return f"{arch}{BLEND_SUFFIX}"


def blend_probabilities(network: np.ndarray, summary: np.ndarray, weight: float) -> np.ndarray:
    """(…, K) ``(1 − weight) · network + weight · summary``; NaN (no window reached) stays NaN.

    Raises:
        ValueError: the shapes differ or ``weight`` is outside [0, 1].
    """
    if network.shape != summary.shape:
        raise ValueError(f"blend_probabilities: network {network.shape} and summary {summary.shape} differ")
    if not 0 <= weight <= 1:
        raise ValueError(f"blend_probabilities: weight {weight} must be in [0, 1]")
    return ((1 - weight) * network + weight * summary).astype(np.float32)


@dataclass
class SummaryModel:
    """The summary model of a transfer model: a fitted ``PixelBaseline`` and the static channels it reads.

    Attributes:
        baseline: fitted on the ``summary`` features (``static_names``, in that order).
        static_names: the networks' static channel names (summaries, then static layers).
        weight: its weight in the blend.
    """

    baseline: PixelBaseline
    static_names: list[str]
    weight: float

    def probabilities(self, static: np.ndarray) -> np.ndarray:
        """(…, 14) class probabilities of (…, Cs) raw static channels (NaN = missing)."""
        static = np.asarray(static, dtype=np.float32)
        if static.shape[-1] != len(self.static_names):
            raise InputDataError(
                "<summary model input>",
                f"{static.shape[-1]} static channels given, the summary model reads {len(self.static_names)} "
                f"({', '.join(self.static_names)})",
                "pass the static channels of the model's experiment",
            )
        rows = static.reshape(-1, static.shape[-1])
        return self.baseline.predict_proba(rows).reshape(*static.shape[:-1], -1)

    def blend(self, network: np.ndarray, model_input: Mapping[str, np.ndarray]) -> np.ndarray:
        """The transfer model's (B, H, W, 14) probabilities from the network's and a raw model input batch."""
        static = static_channels(model_input, len(self.static_names))
        return blend_probabilities(np.asarray(network, np.float32), self.probabilities(static), self.weight)

    def save(self, path: Path) -> Path:
        """Write the model to ``path`` (joblib; written under a temporary name, then moved)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = temporary_path(path)
        joblib.dump(self, partial)
        partial.replace(path)
        return path

    @staticmethod
    def load(path: Path) -> SummaryModel:
        """Read a model written by ``save``.

        Raises:
            InputDataError: the file holds something else.
        """
        model = joblib.load(path)
        if not isinstance(model, SummaryModel):
            raise InputDataError(
                path, f"holds a {type(model).__name__}, not a summary model", "train the global model again"
            )
        return model


def static_channels(model_input: Mapping[str, np.ndarray], count: int) -> np.ndarray:
    """A raw model input batch's static channels: ``static`` (ConvLSTM) or the last ``count`` of ``features`` (CNN).

    Raises:
        InputDataError: neither input is there.
    """
    if "static" in model_input:
        return np.asarray(model_input["static"])
    if "features" in model_input:
        return np.asarray(model_input["features"])[..., -count:]
    raise InputDataError(
        "<model input>",
        f"no static channels in inputs {sorted(model_input)}",
        "pass the inputs named in the model signature",
    )


def load_summary_model(folder: Path) -> SummaryModel | None:
    """The summary model saved in a model folder, or None where there is none."""
    path = folder / SUMMARY_MODEL_FILE
    return SummaryModel.load(path) if path.is_file() else None
