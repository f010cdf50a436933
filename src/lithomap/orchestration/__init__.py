"""Running the DVC pipeline's own stages from an orchestrator: discovery, status, commit, summary."""
