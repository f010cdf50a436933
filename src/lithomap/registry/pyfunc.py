"""The MLflow model of a lithomap network: Keras weights + normalisation, raw inputs in.

``LithomapPyfunc`` wraps the ``.keras`` file and the normalisation statistics JSON
(artifacts ``keras_model`` and ``normalisation``). Its ``predict`` takes a dict of raw,
un-normalised arrays keyed by input name — ``{"features": (B, H, W, C)}`` for the CNN,
``{"sequence": (B, T, H, W, Ct), "static": (B, H, W, Cs)}`` for the ConvLSTM — normalises
them with the statistics and returns class probabilities (B, H, W, 14), or labels
(B, H, W) with ``params={"output": "labels"}``. The channel names of every input are in
the statistics file, the model metadata (``input_channels``) and the signature's input names.
The model is logged from code (``pyfunc_model.py``), not pickled; loading it needs lithomap
installed. A global model also carries its summary model (artifact ``summary_model``,
metadata ``summary_blend``: its weight): ``predict_with_stats``, the prediction for a region
the model did not train on, returns the transfer model's blend (``lithomap.models.transfer``);
``predict`` stays the network's.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import keras
import mlflow
import numpy as np
from mlflow.models import ModelSignature
from mlflow.models.model import ModelInfo
from mlflow.pyfunc import PythonModel, PythonModelContext
from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema, TensorSpec

from lithomap.errors import InputDataError
from lithomap.models.normalisation import ChannelStats, load_stats, save_stats
from lithomap.models.transfer import SUMMARY_MODEL_FILE, SummaryModel

OUTPUTS = ("probabilities", "labels")
SUMMARY_ARTIFACT = "summary_model"
SUMMARY_BLEND = "summary_blend"
"""Metadata key of a pyfunc carrying a summary model: the summary model's weight in the blend."""
MODEL_SCRIPT = Path(__file__).with_name("pyfunc_model.py")


class LithomapPyfunc(PythonModel):
    """Keras segmentation model that normalises its raw inputs itself."""

    def load_context(self, context: PythonModelContext) -> None:
        """Load the Keras model (uncompiled), the normalisation statistics and the summary model, if any."""
        self.model = keras.saving.load_model(context.artifacts["keras_model"], compile=False)
        self.stats: dict[str, ChannelStats] = load_stats(context.artifacts["normalisation"])
        summary = context.artifacts.get(SUMMARY_ARTIFACT)
        self.summary: SummaryModel | None = SummaryModel.load(Path(summary)) if summary else None

    # model_input stays unannotated: MLflow turns predict's type hints into a data schema.
    def predict(self, context: Any, model_input, params: dict[str, Any] | None = None) -> np.ndarray:
        """Class probabilities (or labels) for raw inputs.

        Args:
            context: the MLflow context (unused; artifacts are loaded in ``load_context``).
            model_input: dict of input name → raw array (a bare array for a one-input model).
            params: ``{"output": "probabilities" | "labels"}``; default probabilities.

        Returns:
            (B, H, W, K) float32 probabilities or (B, H, W) int32 labels.

        Raises:
            InputDataError: missing inputs, wrong channel counts or an unknown output.
        """
        output = (params or {}).get("output", "probabilities")
        if output not in OUTPUTS:
            raise InputDataError("<predict params>", f"unknown output {output!r}", f"use one of {OUTPUTS}")
        probabilities = self.network_probabilities(model_input, self.stats)
        if output == "labels":
            return probabilities.argmax(axis=-1).astype(np.int32)
        return probabilities

    def predict_with_stats(self, model_input: Any, stats: Mapping[str, ChannelStats]) -> np.ndarray:
        """(B, H, W, K) probabilities for a region the model did not train on: normalised with ``stats``.

        ``stats`` are that region's own (``lithomap.datasets.target_normalisation``). With a
        summary model (a global model's) the network's probabilities are blended with it:
        the transfer model (``lithomap.models.transfer``).

        Raises:
            InputDataError: as ``network_probabilities``.
        """
        probabilities = self.network_probabilities(model_input, stats)
        if self.summary is None:
            return probabilities
        return self.summary.blend(probabilities, _as_inputs(model_input, stats))

    def network_probabilities(self, model_input: Any, stats: Mapping[str, ChannelStats]) -> np.ndarray:
        """(B, H, W, K) the network's class probabilities of raw inputs normalised with ``stats``.

        Raises:
            InputDataError: missing inputs, wrong channel counts, or ``stats`` naming other
                channels than the model's.
        """
        for name, given in stats.items():
            stored = self.stats.get(name)
            if stored is not None and given.channels != stored.channels:
                raise InputDataError(
                    "<normalisation stats>",
                    f"statistics of input {name!r} name channels {list(given.channels)}, the model reads "
                    f"{list(stored.channels)}",
                    "compute them for the model's experiment (its input_channels metadata)",
                )
        probabilities = self.model.predict(normalise_inputs(model_input, stats), verbose=0)
        return np.asarray(probabilities, dtype=np.float32)


def _as_inputs(model_input: Any, stats: Mapping[str, ChannelStats]) -> Mapping[str, np.ndarray]:
    """The raw input dict (a bare array is the only input)."""
    if isinstance(model_input, np.ndarray):
        return {next(iter(stats)): model_input}
    return model_input


def normalise_inputs(model_input: Any, stats: Mapping[str, ChannelStats]) -> dict[str, np.ndarray]:
    """Apply each input's statistics to the raw arrays (a bare array means the only input).

    Raises:
        InputDataError: an input is missing or unknown, or its channel count is wrong.
    """
    if isinstance(model_input, np.ndarray):
        if len(stats) != 1:
            raise InputDataError(
                "<model input>", f"one array given, the model takes {sorted(stats)}", "pass a dict keyed by input name"
            )
        model_input = {next(iter(stats)): model_input}
    missing = sorted(set(stats) - set(model_input))
    unknown = sorted(set(model_input) - set(stats))
    if missing or unknown:
        raise InputDataError(
            "<model input>",
            f"inputs {sorted(model_input)} do not match the model's {sorted(stats)}",
            "pass exactly the inputs named in the model signature",
        )
    return {name: stats[name].apply(np.asarray(model_input[name])) for name in stats}


def build_signature(model: keras.Model, n_classes: int) -> ModelSignature:
    """Tensor signature: one named float32 input per model input (free batch, H, W and T)."""
    inputs: list[ColSpec | TensorSpec] = []
    for tensor in model.inputs:
        # batch, time and spatial sizes stay free; only the channel count is fixed
        free = (-1, *(-1 for _ in tensor.shape[1:-1]), int(tensor.shape[-1]))
        inputs.append(TensorSpec(np.dtype(np.float32), free, name=tensor.name.split(":")[0]))
    outputs = Schema([TensorSpec(np.dtype(np.float32), (-1, -1, -1, n_classes), name="probabilities")])
    params = ParamSchema([ParamSpec("output", "string", "probabilities")])
    return ModelSignature(inputs=Schema(inputs), outputs=outputs, params=params)


def pip_requirements() -> list[str]:
    """Pinned requirements of the serving environment (skips MLflow's slow inference)."""
    from importlib.metadata import PackageNotFoundError, version

    pins = []
    for package in ("mlflow", "keras", "tensorflow", "numpy", "scikit-learn", "joblib"):
        try:
            pins.append(f"{package}=={version(package)}")
        except PackageNotFoundError:
            pins.append(package)
    return pins


def log_pyfunc_model(
    model: keras.Model,
    stats: Mapping[str, ChannelStats],
    input_example: Mapping[str, np.ndarray],
    *,
    arch: str,
    name: str = "model",
    registered_model_name: str | None = None,
    shift_reference: Mapping[str, Any] | None = None,
    summary_model: SummaryModel | None = None,
) -> ModelInfo:
    """Log the wrapped model to the active MLflow run.

    Args:
        model: the trained Keras model (inputs named ``features``, or ``sequence``/``static``).
        stats: normalisation statistics per model input, naming its channels.
        input_example: a small raw (un-normalised) input dict, stored with the model.
        arch: ``cnn`` or ``convlstm`` (recorded in the metadata).
        name: the logged model's name within the run.
        registered_model_name: register the model under this name too (usually left to
            ``lithomap.registry.registry.register``).
        shift_reference: the training pixels' summary distribution
            (``lithomap.models.shift.ShiftReference.to_dict``), kept in the metadata so
            ``lithomap map`` scores a region's domain shift without the training data.
        summary_model: the transfer model's summary model (a global model's), stored as
            artifact ``summary_model``; its weight goes into the metadata (``summary_blend``).

    Returns:
        MLflow's ModelInfo (``model_uri`` is what ``register`` takes).

    Raises:
        InputDataError: the statistics do not cover the model's inputs.
    """
    input_names = sorted(tensor.name.split(":")[0] for tensor in model.inputs)
    if sorted(stats) != input_names:
        raise InputDataError(
            "<normalisation stats>",
            f"statistics for {sorted(stats)} but the model takes {input_names}",
            "compute statistics for exactly the model's inputs",
        )
    n_classes = int(model.outputs[0].shape[-1])
    with tempfile.TemporaryDirectory(prefix="lithomap-model-") as folder:
        keras_path = Path(folder) / "model.keras"
        model.save(keras_path)
        stats_path = save_stats(stats, Path(folder) / "normalisation.json")
        artifacts = {"keras_model": str(keras_path), "normalisation": str(stats_path)}
        if summary_model is not None:
            artifacts[SUMMARY_ARTIFACT] = str(summary_model.save(Path(folder) / SUMMARY_MODEL_FILE))
        return mlflow.pyfunc.log_model(
            name=name,
            python_model=str(MODEL_SCRIPT),
            artifacts=artifacts,
            signature=build_signature(model, n_classes),
            input_example={key: np.asarray(value, dtype=np.float32) for key, value in input_example.items()},
            pip_requirements=pip_requirements(),
            registered_model_name=registered_model_name,
            metadata={
                "arch": arch,
                "n_classes": n_classes,
                "input_channels": {key: list(value.channels) for key, value in stats.items()},
                **({"shift_reference": dict(shift_reference)} if shift_reference is not None else {}),
                **({SUMMARY_BLEND: summary_model.weight} if summary_model is not None else {}),
            },
        )
