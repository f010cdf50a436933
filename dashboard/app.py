"""Entry point of the lithomap dashboard: ``streamlit run dashboard/app.py`` (or ``make dashboard``).

Reads the MLflow store (``$MLFLOW_TRACKING_URI``, default ``sqlite:///mlflow.db``) and the
files under ``reports/`` and ``maps/``; run it from the repository root. It never trains
and never writes.
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st


def main() -> None:
    """Configure the page and run the page the visitor picked."""
    root = str(Path(__file__).resolve().parents[1])
    if root not in sys.path:
        sys.path.insert(0, root)  # `streamlit run` puts dashboard/, not the repository, on the path
    st.set_page_config(page_title="lithomap", page_icon=":material/landscape:", layout="wide")
    pages = [
        st.Page("views/overview.py", title="Overview", icon=":material/public:", default=True),
        st.Page("views/experiments.py", title="Experiments", icon=":material/science:"),
        st.Page("views/maps.py", title="Maps", icon=":material/map:"),
        st.Page("views/signatures.py", title="Thermal signatures", icon=":material/thermostat:"),
        st.Page("views/quality.py", title="Data quality", icon=":material/fact_check:"),
        st.Page("views/registry.py", title="Registry", icon=":material/inventory_2:"),
    ]
    st.navigation(pages).run()


main()
