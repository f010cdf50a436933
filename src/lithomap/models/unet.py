"""U-Net segmentation model (the thesis's CNN) and the encoder–decoder body the ConvLSTM reuses.

Architecture for ``build_unet((64, 64, C), base_filters=16, depth=3)`` (f = base filters;
every convolution is 3×3, "same" padding, He-normal initialised, L2-regularised, followed
by batch normalisation when enabled and ReLU):

| stage        | layers                                         | output shape      |
|--------------|------------------------------------------------|-------------------|
| input        | ``features``                                   | 64 × 64 × C       |
| encoder 1    | 2 × conv(f), dropout, max-pool 2               | 32 × 32 × 16      |
| encoder 2    | 2 × conv(2f), dropout, max-pool 2              | 16 × 16 × 32      |
| encoder 3    | 2 × conv(4f), dropout, max-pool 2              | 8 × 8 × 64        |
| bottleneck   | 2 × conv(8f), dropout                          | 8 × 8 × 128       |
| decoder 3    | transposed conv(4f, stride 2), concat, 2 × conv | 16 × 16 × 64     |
| decoder 2    | transposed conv(2f, stride 2), concat, 2 × conv | 32 × 32 × 32     |
| decoder 1    | transposed conv(f, stride 2), concat, 2 × conv  | 64 × 64 × 16     |
| head         | 1 × 1 conv, softmax                            | 64 × 64 × 14      |

About 485 k parameters with C = 10 (almost all in the bottleneck and the deepest decoder
stage). Skip connections join each encoder stage (before pooling) to the decoder stage of the
same resolution. H and W must be divisible by ``2**depth``.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from lithomap.errors import ConfigError

DEFAULT_N_CLASSES = 14


def conv_block(
    inputs: keras.KerasTensor,
    filters: int,
    *,
    l2: float,
    batch_norm: bool,
    name: str,
) -> keras.KerasTensor:
    """Two 3×3 convolutions, each followed by optional batch normalisation and ReLU.

    Args:
        inputs: a (batch, H, W, C) tensor.
        filters: number of output channels.
        l2: L2 regularisation factor of the kernels (0 disables it).
        batch_norm: whether to normalise each convolution's output.
        name: prefix of the layer names.

    Returns:
        A (batch, H, W, filters) tensor.
    """
    x = inputs
    regularizer = keras.regularizers.L2(l2) if l2 > 0 else None
    for index in (1, 2):
        x = layers.Conv2D(
            filters,
            3,
            padding="same",
            kernel_initializer="he_normal",
            kernel_regularizer=regularizer,
            use_bias=not batch_norm,
            name=f"{name}_conv{index}",
        )(x)
        if batch_norm:
            x = layers.BatchNormalization(name=f"{name}_bn{index}")(x)
        x = layers.Activation("relu", name=f"{name}_relu{index}")(x)
    return x


def encoder_decoder(
    inputs: keras.KerasTensor,
    *,
    n_classes: int,
    base_filters: int,
    depth: int,
    l2: float,
    dropout: float,
    batch_norm: bool,
) -> keras.KerasTensor:
    """U-Net body and softmax head on a full-resolution feature map.

    Args:
        inputs: a (batch, H, W, C) tensor, H and W divisible by ``2**depth``.
        n_classes: number of output classes.
        base_filters: filters of the first stage; each stage down doubles them.
        depth: number of pooling steps.
        l2: L2 regularisation factor of every convolution kernel.
        dropout: dropout rate after each encoder block and the bottleneck (0 disables it).
        batch_norm: whether convolutions are batch-normalised.

    Returns:
        The (batch, H, W, n_classes) softmax probabilities.
    """
    regularizer = keras.regularizers.L2(l2) if l2 > 0 else None
    skips = []
    x = inputs
    for level in range(depth):
        x = conv_block(x, base_filters * 2**level, l2=l2, batch_norm=batch_norm, name=f"enc{level + 1}")
        if dropout > 0:
            x = layers.Dropout(dropout, name=f"enc{level + 1}_dropout")(x)
        skips.append(x)
        x = layers.MaxPooling2D(2, name=f"enc{level + 1}_pool")(x)
    x = conv_block(x, base_filters * 2**depth, l2=l2, batch_norm=batch_norm, name="bottleneck")
    if dropout > 0:
        x = layers.Dropout(dropout, name="bottleneck_dropout")(x)
    for level in reversed(range(depth)):
        filters = base_filters * 2**level
        x = layers.Conv2DTranspose(
            filters, 2, strides=2, padding="same", kernel_regularizer=regularizer, name=f"dec{level + 1}_up"
        )(x)
        x = layers.Concatenate(name=f"dec{level + 1}_concat")([x, skips[level]])
        x = conv_block(x, filters, l2=l2, batch_norm=batch_norm, name=f"dec{level + 1}")
    return layers.Conv2D(n_classes, 1, activation="softmax", dtype="float32", name="probabilities")(x)


def check_spatial(height: int | None, width: int | None, depth: int, what: str) -> None:
    """Raise ConfigError unless H and W are divisible by ``2**depth`` (None = decided at call time)."""
    if depth < 1:
        raise ConfigError(f"{what}: depth must be at least 1, got {depth}")
    factor = 2**depth
    for size in (height, width):
        if size is not None and size % factor:
            raise ConfigError(
                f"{what}: patch side {size} is not divisible by 2**depth = {factor}; "
                f"use a patch size that is a multiple of {factor} or a smaller depth"
            )


def build_unet(
    input_shape: Sequence[int | None],
    n_classes: int = DEFAULT_N_CLASSES,
    base_filters: int = 16,
    depth: int = 3,
    l2: float = 0.05,
    dropout: float = 0.1,
    batch_norm: bool = True,
) -> keras.Model:
    """Build the U-Net segmentation model.

    Args:
        input_shape: (H, W, C) of one patch; H and W may be None for any size divisible by
            ``2**depth`` (sliding-window inference uses the patch size anyway).
        n_classes: number of output classes (14 lithology classes, 0 = background).
        base_filters: filters of the first stage.
        depth: number of pooling steps.
        l2: L2 regularisation factor of every convolution kernel (thesis: 0.05).
        dropout: dropout rate after each encoder block and the bottleneck.
        batch_norm: whether convolutions are batch-normalised.

    Returns:
        An uncompiled functional model with input ``features`` (batch, H, W, C) and output
        ``probabilities`` (batch, H, W, n_classes).

    Raises:
        ConfigError: a bad shape or depth.
    """
    if len(input_shape) != 3 or not input_shape[2]:
        raise ConfigError(f"build_unet: input_shape must be (H, W, C) with C > 0, got {tuple(input_shape)}")
    check_spatial(input_shape[0], input_shape[1], depth, "build_unet")
    features = keras.Input(shape=tuple(input_shape), name="features", dtype="float32")
    outputs = encoder_decoder(
        features,
        n_classes=n_classes,
        base_filters=base_filters,
        depth=depth,
        l2=l2,
        dropout=dropout,
        batch_norm=batch_norm,
    )
    return keras.Model(inputs={"features": features}, outputs=outputs, name="unet")
