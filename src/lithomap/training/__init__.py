"""Training, evaluation, promotion and the experiment matrix."""
