"""Class-weighted cross-entropy combined with focal loss, ignoring background (keras.ops only).

For a pixel of reference class y with predicted probability p = p_y, class weight w_y,
focusing parameter γ and focal share λ (``focal_weight``):

    loss = w_y · [(1 − λ) · (−log p) + λ · (1 − p)^γ · (−log p)]

so the class weight multiplies the focal term instead of replacing its modulating factor,
λ = 0 is class-weighted cross-entropy, λ = 1 (the default) is the class-weighted focal loss
the thesis used, and γ = 0 gives class-weighted cross-entropy for any λ. Pixels of
``ignore_index`` contribute nothing; the batch loss is the sum over the other pixels
divided by their number (so doubling every weight doubles the loss).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import keras
import numpy as np
from keras import ops

from lithomap.errors import ConfigError

# SCIENCE.md, the thesis's Table 12 (class ids 0–13: background, sand, clay, chalk, silt, peat,
# loam, detritic, carbonate, volcanic, plutonic, foliated, non-foliated, water).
THESIS_CLASS_WEIGHTS: Mapping[str, tuple[float, ...]] = {
    "puertollano": (1.5, 10.0, 10.0, 1.0, 7.5, 1.0, 4.0, 1.0, 1.5, 3.0, 1.0, 15.0, 2.5, 1.0),
    "santa_olalla": (1.5, 8.0, 1.0, 8.0, 4.0, 1.0, 1.0, 2.5, 3.0, 3.0, 3.0, 1.0, 4.0, 4.0),
    "villoslada": (1.0, 3.5, 2.5, 1.0, 4.0, 5.0, 1.0, 1.0, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0),
}

_EPSILON = 1e-7


def class_weights_auto(
    label_counts: Sequence[float] | np.ndarray,
    mode: Literal["inverse", "inverse_sqrt"] = "inverse_sqrt",
    ignore_index: int | None = 0,
) -> tuple[float, ...]:
    """Per-class weights from the training label histogram.

    Weights are proportional to 1/n (``inverse``) or 1/√n (``inverse_sqrt``) and scaled so
    that their mean over the classes present (count > 0, not ``ignore_index``) is 1.
    Absent classes and ``ignore_index`` get weight 0.

    Args:
        label_counts: pixel count per class id.
        mode: ``inverse`` or ``inverse_sqrt`` frequency.
        ignore_index: class whose weight is 0 (None: none).

    Returns:
        One weight per class.

    Raises:
        ConfigError: an unknown mode, negative counts or no class present.
    """
    counts = np.asarray(label_counts, dtype=np.float64)
    if mode not in ("inverse", "inverse_sqrt"):
        raise ConfigError(f"class weight mode must be 'inverse' or 'inverse_sqrt', got {mode!r}")
    if counts.ndim != 1 or (counts < 0).any():
        raise ConfigError(f"label_counts must be a 1-D array of non-negative counts, got {counts!r}")
    present = counts > 0
    if ignore_index is not None and 0 <= ignore_index < counts.size:
        present[ignore_index] = False
    if not present.any():
        raise ConfigError("cannot compute class weights: no labelled pixel outside the ignored class")
    weights = np.zeros_like(counts)
    power = 1.0 if mode == "inverse" else 0.5
    weights[present] = counts[present] ** -power
    weights[present] /= weights[present].mean()
    return tuple(float(w) for w in weights)


@keras.saving.register_keras_serializable(package="lithomap")
class WeightedFocalLoss(keras.losses.Loss):
    """Class-weighted cross-entropy + focal loss on softmax probabilities (see module docstring).

    Args:
        class_weights: one weight per class.
        gamma: focusing parameter γ ≥ 0.
        ignore_index: label whose pixels are left out (None: none).
        focal_weight: λ in [0, 1], the share of the focal term.
        name: loss name.
    """

    def __init__(
        self,
        class_weights: Sequence[float],
        gamma: float = 2.0,
        ignore_index: int | None = 0,
        focal_weight: float = 1.0,
        name: str = "weighted_focal",
        **kwargs: Any,
    ) -> None:
        kwargs.pop("reduction", None)
        super().__init__(name=name, reduction="sum_over_batch_size", **kwargs)
        self.class_weights = tuple(float(w) for w in class_weights)
        self.gamma = float(gamma)
        self.ignore_index = ignore_index
        self.focal_weight = float(focal_weight)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        """Mean weighted loss over the non-ignored pixels of the batch (a scalar).

        Args:
            y_true: (batch, H, W) integer labels (a trailing axis of 1 is accepted).
            y_pred: (batch, H, W, K) softmax probabilities.
        """
        n_classes = len(self.class_weights)
        y_pred = ops.cast(y_pred, "float32")
        labels = ops.cast(y_true, "int32")
        if len(labels.shape) == len(y_pred.shape):
            labels = ops.squeeze(labels, axis=-1)
        valid = ops.ones_like(labels, dtype="float32")
        if self.ignore_index is not None:
            valid = ops.cast(ops.not_equal(labels, self.ignore_index), "float32")
        safe_labels = ops.clip(labels, 0, n_classes - 1)
        one_hot = ops.one_hot(safe_labels, n_classes, dtype="float32")
        p_true = ops.clip(ops.sum(y_pred * one_hot, axis=-1), _EPSILON, 1.0 - _EPSILON)
        weight = ops.take(ops.convert_to_tensor(self.class_weights, dtype="float32"), safe_labels)
        cross_entropy = -ops.log(p_true)
        modulation = ops.power(1.0 - p_true, self.gamma)
        per_pixel = weight * (
            (1.0 - self.focal_weight) * cross_entropy + self.focal_weight * modulation * cross_entropy
        )
        total = ops.sum(per_pixel * valid)
        return total / ops.maximum(ops.sum(valid), 1.0)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.pop("reduction", None)
        config.update(
            class_weights=list(self.class_weights),
            gamma=self.gamma,
            ignore_index=self.ignore_index,
            focal_weight=self.focal_weight,
        )
        return config


def make_loss(
    class_weights: Sequence[float],
    gamma: float = 2.0,
    ignore_index: int | None = 0,
    focal_weight: float = 1.0,
) -> WeightedFocalLoss:
    """The training loss: class-weighted cross-entropy combined with focal loss.

    Args:
        class_weights: one weight per class (e.g. ``THESIS_CLASS_WEIGHTS[region]`` or
            ``class_weights_auto(...)``); the weight of ``ignore_index`` has no effect.
        gamma: focusing parameter γ ≥ 0 (0: no focusing).
        ignore_index: label left out of the loss (background, 0).
        focal_weight: λ in [0, 1]; 0 is weighted cross-entropy, 1 the weighted focal loss.

    Returns:
        A Keras loss for (batch, H, W) labels and (batch, H, W, K) probabilities.

    Raises:
        ConfigError: negative weights or gamma, or λ outside [0, 1].
    """
    if not class_weights or any(w < 0 for w in class_weights):
        raise ConfigError(f"class_weights must be non-empty and non-negative, got {list(class_weights)}")
    if gamma < 0:
        raise ConfigError(f"focal gamma must be >= 0, got {gamma}")
    if not 0.0 <= focal_weight <= 1.0:
        raise ConfigError(f"focal_weight must lie in [0, 1], got {focal_weight}")
    return WeightedFocalLoss(class_weights, gamma=gamma, ignore_index=ignore_index, focal_weight=focal_weight)
