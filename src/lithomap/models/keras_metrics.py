"""Keras-side macro-F1: a streaming confusion matrix for validation monitoring and early stopping."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="lithomap")
class MacroF1(keras.metrics.Metric):
    """Macro-F1 over the classes present in the reference seen so far, ignoring one label.

    Accumulates a (K, K) confusion matrix (rows = reference) over batches with keras.ops,
    so the value equals ``lithomap.models.metrics.scores_from_confusion(cm)["macro_f1"]``
    of the whole epoch, not a mean of per-batch scores.

    Args:
        n_classes: number of classes K.
        ignore_index: reference label left out (background, 0; None: none).
        name: metric name (history keys ``macro_f1`` and ``val_macro_f1``).
    """

    def __init__(
        self, n_classes: int = 14, ignore_index: int | None = 0, name: str = "macro_f1", **kwargs: Any
    ) -> None:
        super().__init__(name=name, **kwargs)
        self.n_classes = int(n_classes)
        self.ignore_index = ignore_index
        self.confusion = self.add_variable(
            shape=(self.n_classes, self.n_classes), initializer="zeros", dtype="float32", name="confusion"
        )

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Add one batch: (batch, H, W) labels and (batch, H, W, K) probabilities."""
        labels = ops.cast(ops.reshape(y_true, (-1,)), "int32")
        predicted = ops.cast(ops.reshape(ops.argmax(y_pred, axis=-1), (-1,)), "int32")
        weight = ops.ones_like(labels, dtype="float32")
        if self.ignore_index is not None:
            weight = ops.cast(ops.not_equal(labels, self.ignore_index), "float32")
        if sample_weight is not None:
            weight = weight * ops.cast(ops.reshape(sample_weight, (-1,)), "float32")
        reference = ops.one_hot(ops.clip(labels, 0, self.n_classes - 1), self.n_classes, dtype="float32")
        prediction = ops.one_hot(predicted, self.n_classes, dtype="float32")
        batch_confusion = ops.matmul(ops.transpose(reference * weight[:, None]), prediction)
        self.confusion.assign_add(batch_confusion)

    def result(self) -> Any:
        support = ops.sum(self.confusion, axis=1)
        predicted = ops.sum(self.confusion, axis=0)
        diagonal = ops.diagonal(self.confusion)
        f1 = 2.0 * diagonal / ops.maximum(support + predicted, 1.0)
        present = ops.cast(support > 0, "float32")
        if self.ignore_index is not None:
            present = present * (1.0 - ops.one_hot(self.ignore_index, self.n_classes, dtype="float32"))
        return ops.sum(f1 * present) / ops.maximum(ops.sum(present), 1.0)

    def reset_state(self) -> None:
        self.confusion.assign(ops.zeros((self.n_classes, self.n_classes), dtype="float32"))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "n_classes": self.n_classes, "ignore_index": self.ignore_index}
