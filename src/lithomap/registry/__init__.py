"""MLflow tracking, the model registry and the promotion gate.

Modules (import them directly; nothing here touches MLflow at import time):

- ``tracking``: ``configure_tracking`` (call it in entry points), ``training_run``,
  ``log_history``, ``log_evaluation``, ``flatten_params``.
- ``provenance``: ``git_commit``, ``data_version``, ``blocks_fingerprint``.
- ``pyfunc``: ``LithomapPyfunc`` and ``log_pyfunc_model`` — the logged model takes raw
  inputs and applies its normalisation statistics.
- ``registry``: ``model_name`` (the one home of the registered-model name), ``register``,
  ``version_scores``, ``load_champion``; ``expected_tags`` / ``recorded_expectation``, the
  expected accuracy a global version carries.
- ``promotion``: the gate — ``gate_decision``, ``promote``, ``promote_model`` (the step);
  ``promote_global``, ``promote_global_model`` for ``lithomap-global-<arch>``, gated on its
  leave-one-region-out score.
- ``outcome``: ``outcome`` — a decision in one word (promoted, kept, not promoted), the
  rule every report words the gate by.
- ``publish``: ``publish_evaluation`` — the MLflow run of an evaluated model, registered
  as the challenger; ``publish_global`` the same for the global model.
"""
