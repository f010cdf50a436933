"""Two epochs on a tiny synthetic task: the loss of both models falls."""

from __future__ import annotations

import keras
import numpy as np

from lithomap.models.convlstm import build_convlstm
from lithomap.models.keras_metrics import MacroF1
from lithomap.models.losses import make_loss
from lithomap.models.unet import build_unet

SIZE, STEPS, SAMPLES = 16, 3, 8


def _task(seed: int = 0):
    """Class 1 where the day–night swing is large, class 2 where it is small, 0 on a border."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(1, 3, (SAMPLES, SIZE, SIZE)).astype("int32")
    labels[:, 0, :] = 0
    swing = np.where(labels == 1, 1.0, -1.0)[:, None]
    signs = np.array([1.0, -1.0, 1.0])[None, :, None, None]
    lst = swing * signs + rng.normal(0, 0.3, (SAMPLES, STEPS, SIZE, SIZE))
    sequence = np.stack([lst, rng.normal(size=lst.shape), np.ones_like(lst)], axis=-1).astype("float32")
    static = rng.normal(size=(SAMPLES, SIZE, SIZE, 2)).astype("float32")
    return sequence, static, labels


def _fit(model: keras.Model, inputs: dict, labels: np.ndarray) -> list[float]:
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=make_loss([1.0] * 14, gamma=2.0, focal_weight=0.5),
        metrics=[MacroF1()],
    )
    history = model.fit(inputs, labels, batch_size=2, epochs=2, verbose=0, shuffle=False)
    return history.history["loss"]


def test_unet_loss_falls():
    keras.utils.set_random_seed(0)
    sequence, static, labels = _task()
    features = np.concatenate([sequence[..., 0].transpose(0, 2, 3, 1), static], axis=-1)
    model = build_unet((SIZE, SIZE, features.shape[-1]), base_filters=4, depth=2, l2=1e-4, dropout=0.0)
    losses = _fit(model, {"features": features}, labels)
    assert losses[1] < losses[0]


def test_convlstm_loss_falls():
    keras.utils.set_random_seed(0)
    sequence, static, labels = _task()
    model = build_convlstm((STEPS, SIZE, SIZE, 3), 2, base_filters=4, depth=2, l2=1e-4, dropout=0.0, lstm_filters=4)
    losses = _fit(model, {"sequence": sequence, "static": static}, labels)
    assert losses[1] < losses[0]
