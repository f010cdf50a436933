"""Segmentation models (U-Net CNN, ConvLSTM), their loss, metrics, baseline and figures.

Model input contract (the dataset code produces exactly this):

- CNN (``build_unet``): one input ``features`` of shape (batch, H, W, 7·T + Cs) float32 —
  the same 7 channels of every step stacked as channels, then the static channels — and output ``probabilities``
  (batch, H, W, 14), softmax over the 14 classes.
- ConvLSTM (``build_convlstm``): input ``sequence`` (batch, T, H, W, 7) float32 with the
  7 channels of each step (LST anomaly, emissivity, valid mask, sin/cos of local solar
  hour, sin/cos of day of year; ``lithomap.datasets.features``) and input ``static``
  (batch, H, W, Cs) float32 (the thermal summaries, then vv, vh, ndvi). With Cs = 0 (thermal-only experiments) the
  ``static`` input does not exist. Output ``probabilities`` (batch, H, W, 14), softmax.
- Labels: (batch, H, W) int32 in 0..13; 0 (background / no data) is ignored by the loss
  and every metric.
- Both models take a dict keyed by input name (``{"features": x}``, ``{"sequence": s,
  "static": v}``), which is what the dataset pipeline yields with the labels.
- H and W are divisible by ``2**depth`` (patches of 64 or 128 px; tests use 16).
- Inputs are normalised per channel with the statistics of ``normalisation.py`` (non-finite
  values set to 0 after normalisation); the registered MLflow model applies them itself.

Models use Keras layers and ``keras.ops`` only, so they run on any Keras backend.

Modules (import them directly; this package imports nothing, so the numpy-only modules
``metrics`` and ``baseline`` load without Keras):

- ``unet``: ``build_unet`` and the shared encoder–decoder body.
- ``convlstm``: ``build_convlstm``.
- ``losses``: ``make_loss``, ``WeightedFocalLoss``, ``class_weights_auto``, ``THESIS_CLASS_WEIGHTS``.
- ``keras_metrics``: ``MacroF1`` for validation monitoring and early stopping.
- ``metrics``: ``confusion_matrix``, ``scores_from_confusion``, ``block_bootstrap`` (numpy).
- ``normalisation``: ``ChannelStats``, ``save_stats``, ``load_stats``.
- ``baseline``: the fair (``network_features``) and raw (``scene_features``) per-pixel
  features, ``PixelBaseline``, ``fit_baseline``, ``predict_baseline`` (scikit-learn).
- ``plots``: ``plot_confusion``, ``plot_curves``, ``plot_sample``.
"""
