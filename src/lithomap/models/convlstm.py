"""ConvLSTM segmentation model: a recurrent thermal encoder fused with static inputs, then a U-Net.

Architecture for ``build_convlstm((T, 64, 64, 7), static_channels=4, base_filters=16,
depth=3, lstm_filters=16)`` (f = base filters, L = lstm filters):

| stage            | layers                                                   | output shape        |
|------------------|----------------------------------------------------------|---------------------|
| input            | ``sequence`` (7 channels per step, see below)            | T × 64 × 64 × 7     |
| input            | ``static`` (thermal summaries, vv, vh, ndvi)             | 64 × 64 × Cs        |
| temporal encoder | ConvLSTM2D(L, 3×3, last state), batch norm               | 64 × 64 × 16        |
| static encoder   | 2 × conv(f) (+ batch norm, ReLU)                         | 64 × 64 × 16        |
| fusion           | concatenate temporal and static features                 | 64 × 64 × 32        |
| encoder 1–3      | as the U-Net: 2 × conv(f·2^k), dropout, max-pool 2       | 32² × 16 … 8² × 64  |
| bottleneck       | 2 × conv(8f), dropout                                    | 8 × 8 × 128         |
| decoder 3–1      | transposed conv, concat skip, 2 × conv                   | 16² × 64 … 64² × 16 |
| head             | 1 × 1 conv, softmax                                      | 64 × 64 × 14        |

About 505 k parameters (ConvLSTM 13 k, static encoder 3 k, U-Net body 488 k).

Per step the sequence holds LST anomaly, emissivity, a valid mask and sin/cos of the local
solar hour and of the day of year (``lithomap.datasets.features``).

The ConvLSTM reads the whole date sequence at full resolution and keeps its last hidden
state, so the order of dates (diurnal and seasonal timing) is what it learns from; the
valid-mask channel lets it learn to discount cloudy dates. With Cs = 0 (thermal-only experiments) the
static branch and its input do not exist and the U-Net runs on the temporal features alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from lithomap.errors import ConfigError
from lithomap.models.unet import DEFAULT_N_CLASSES, check_spatial, conv_block, encoder_decoder


def build_convlstm(
    sequence_shape: Sequence[int | None],
    static_channels: int,
    n_classes: int = DEFAULT_N_CLASSES,
    base_filters: int = 16,
    depth: int = 3,
    l2: float = 0.05,
    dropout: float = 0.1,
    lstm_filters: int = 16,
    batch_norm: bool = True,
) -> keras.Model:
    """Build the ConvLSTM segmentation model.

    Args:
        sequence_shape: (T, H, W, Ct) of one patch's date sequence; T, H and W may be None.
        static_channels: Cs, the number of static channels (vv, vh, ndvi); 0 creates no
            ``static`` input.
        n_classes: number of output classes.
        base_filters: filters of the first U-Net stage and of the static encoder.
        depth: number of pooling steps of the U-Net decoder.
        l2: L2 regularisation factor of every kernel (ConvLSTM and convolutions).
        dropout: dropout rate in the U-Net body.
        lstm_filters: hidden channels of the ConvLSTM.
        batch_norm: whether convolutions and the ConvLSTM output are batch-normalised.

    Returns:
        An uncompiled functional model with inputs ``sequence`` (batch, T, H, W, Ct) and, when
        Cs > 0, ``static`` (batch, H, W, Cs), and output ``probabilities`` (batch, H, W, n_classes).

    Raises:
        ConfigError: a bad shape, channel count or depth.
    """
    if len(sequence_shape) != 4 or not sequence_shape[3]:
        raise ConfigError(
            f"build_convlstm: sequence_shape must be (T, H, W, Ct) with Ct > 0, got {tuple(sequence_shape)}"
        )
    if static_channels < 0:
        raise ConfigError(f"build_convlstm: static_channels must be >= 0, got {static_channels}")
    _, height, width, _ = sequence_shape
    check_spatial(height, width, depth, "build_convlstm")
    regularizer = keras.regularizers.L2(l2) if l2 > 0 else None

    sequence = keras.Input(shape=tuple(sequence_shape), name="sequence", dtype="float32")
    temporal = layers.ConvLSTM2D(
        lstm_filters,
        3,
        padding="same",
        return_sequences=False,
        kernel_regularizer=regularizer,
        recurrent_regularizer=regularizer,
        name="temporal_convlstm",
    )(sequence)
    if batch_norm:
        temporal = layers.BatchNormalization(name="temporal_bn")(temporal)

    inputs = {"sequence": sequence}
    fused = temporal
    if static_channels > 0:
        static = keras.Input(shape=(height, width, static_channels), name="static", dtype="float32")
        inputs["static"] = static
        static_features = conv_block(static, base_filters, l2=l2, batch_norm=batch_norm, name="static")
        fused = layers.Concatenate(name="fusion")([temporal, static_features])

    outputs = encoder_decoder(
        fused,
        n_classes=n_classes,
        base_filters=base_filters,
        depth=depth,
        l2=l2,
        dropout=dropout,
        batch_norm=batch_norm,
    )
    return keras.Model(inputs=inputs, outputs=outputs, name="convlstm")
