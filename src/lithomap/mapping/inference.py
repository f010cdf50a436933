"""Full-scene inference: slide a window over a region, predict in batches, blend seam-free.

One inference path for evaluation and for maps. ``infer_scene`` takes

- a ``predict`` callable (a batch of model inputs → (n, P, P, C) probabilities; see
  ``keras_predict``, or an MLflow pyfunc's ``predict`` wrapped the same way),
- a window input source (``SceneInputs``: the region cube read window by window, laid out
  and normalised as the dataset manifest says),
- the window size and overlap (or explicit window origins, e.g. the test patches),

and yields the blended probabilities strip by strip (``Strip``: first row and a
(rows, width, C) array) as soon as no later window can reach those rows, so memory
follows the window height, not the scene. Windows past the bottom/right edge are padded
(no data), so every pixel of the scene gets full coverage. Take the argmax last.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from lithomap.classes import N_CLASSES
from lithomap.datasets.features import Architecture, model_inputs
from lithomap.datasets.manifest import Manifest
from lithomap.datasets.patches import patch_origins
from lithomap.datasets.scene import CubeChannels
from lithomap.mapping.blending import Blender
from lithomap.models.normalisation import PhysicalStats

Predict = Callable[[dict[str, np.ndarray]], np.ndarray]
PREDICT_BATCH = 16


class WindowInputs(Protocol):
    """A source of model inputs for square windows of a scene."""

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) of the scene."""
        ...

    def __call__(self, origins: np.ndarray, patch: int) -> dict[str, np.ndarray]:
        """Model inputs of the (n, 2) row/col window origins, batch first."""
        ...


@dataclass
class SceneInputs:
    """Model inputs read from a region cube, laid out and normalised as a dataset's manifest says.

    ``normalisation`` replaces the manifest's statistics (e.g. ``target_normalisation`` of
    a region the model did not train on).
    """

    channels: CubeChannels
    manifest: Manifest
    architecture: Architecture
    normalisation: PhysicalStats | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return self.channels.shape

    def __call__(self, origins: np.ndarray, patch: int) -> dict[str, np.ndarray]:
        sequence, static = self.channels.read_windows(origins, patch)
        return model_inputs(
            sequence,
            static,
            self.manifest.times(),
            self.manifest.normalisation if self.normalisation is None else self.normalisation,
            self.manifest.step_channels,
            self.manifest.static_channels,
            self.architecture,
        )


@dataclass(frozen=True)
class Strip:
    """Blended probabilities of scene rows ``row`` to ``row + len(probabilities)``."""

    row: int
    probabilities: np.ndarray


def keras_predict(model, batch_size: int = PREDICT_BATCH) -> Predict:
    """A ``predict`` callable for a Keras model (softmax output)."""

    def predict(inputs: dict[str, np.ndarray]) -> np.ndarray:
        return np.asarray(model.predict(inputs, batch_size=batch_size, verbose=0), dtype=np.float32)

    return predict


def infer_scene(
    predict: Predict,
    inputs: WindowInputs,
    patch: int,
    overlap: float = 0.5,
    *,
    origins: np.ndarray | None = None,
    batch_size: int = PREDICT_BATCH,
) -> Iterator[Strip]:
    """Blended probabilities of a scene, strip by strip (see the module docstring).

    Args:
        predict: batch of model inputs → (n, patch, patch, n_classes) probabilities.
        inputs: the window input source.
        patch: window side in pixels.
        overlap: fraction of a window shared with its neighbour (0.5: stride patch/2).
        origins: (n, 2) window origins to use instead of the whole-scene grid; rows no
            window reaches are NaN.
        batch_size: windows per ``predict`` call.

    Yields:
        Strips covering every row of the scene once, top to bottom.
    """
    height, _ = inputs.shape
    grid = patch_origins(inputs.shape, patch, overlap, Path("<scene>")) if origins is None else np.asarray(origins)
    grid = grid[np.lexsort((grid[:, 1], grid[:, 0]))] if len(grid) else grid.reshape(0, 2)
    blender = None
    for start in range(0, len(grid), batch_size):
        batch = grid[start : start + batch_size]
        probabilities = predict(inputs(batch, patch))
        blender = blender or Blender(inputs.shape, patch, probabilities.shape[-1])
        blender.add(probabilities, batch)
        done = int(grid[start + batch_size, 0]) if start + batch_size < len(grid) else height
        top = blender.top
        rows = blender.flush(done)
        if len(rows):
            yield Strip(top, rows)
    blender = blender or Blender(inputs.shape, patch, N_CLASSES)
    if blender.top < height:
        top = blender.top
        yield Strip(top, blender.flush(height))


def blend_scene(
    predict: Predict,
    inputs: WindowInputs,
    patch: int,
    overlap: float = 0.5,
    *,
    origins: np.ndarray | None = None,
    batch_size: int = PREDICT_BATCH,
) -> np.ndarray:
    """(height, width, C) blended probabilities of the whole scene (``infer_scene`` collected)."""
    strips = infer_scene(predict, inputs, patch, overlap, origins=origins, batch_size=batch_size)
    return np.concatenate([strip.probabilities for strip in strips])
