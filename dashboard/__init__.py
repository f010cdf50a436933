"""The lithomap Streamlit dashboard: thin pages over small, pure data functions that only read."""
