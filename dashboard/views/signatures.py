"""Thermal signatures: how each class warms and cools over the day and the year, and the hypotheses."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import ui, wording
from dashboard.reports import hypotheses, signatures
from lithomap.classes import all_classes

st.title("Thermal signatures")
st.write(
    "Clay heats slowly and keeps its heat; sand heats fast and loses it fast; hard rock barely "
    "moves. These curves show each class's land-surface temperature relative to the scene "
    "average, by time of day and by month, measured on this project's own data."
)
found = ui.sources()
ui.regions_or_stop(found)
region = st.selectbox("Region", list(found.regions), format_func=wording.region_name, key="signature_region")
colours = {c.name: c.colour for c in all_classes()}


def curve(frame: pd.DataFrame, x: str, title: str) -> alt.Chart:
    """Per-class line chart of the LST anomaly against ``x`` in the class colours."""
    present = [name for name in colours if name in set(frame["class"])]
    scale = alt.Scale(domain=present, range=[colours[name] for name in present])
    return (
        alt.Chart(frame, title=title)
        .mark_line(point=True)
        .encode(
            x=alt.X(f"{x}:Q"),
            y=alt.Y("lst_anomaly_mean:Q", title="LST minus scene mean (K)"),
            color=alt.Color("class:N", scale=scale),
            tooltip=["class", x, "lst_mean", "lst_anomaly_mean", "n"],
        )
        .properties(height=300)
    )


diurnal = ui.guarded(signatures, found.science_dir, region, "diurnal")
seasonal = ui.guarded(signatures, found.science_dir, region, "seasonal")
if diurnal is None and seasonal is None:
    ui.need("lithomap report", f"The thermal signatures of {wording.region_name(region)} have not been computed yet.")
else:
    left, right = st.columns(2)
    if diurnal is not None:
        left.altair_chart(curve(diurnal, "solar_hour_bin", "Over the day (local solar hour)"))
    if seasonal is not None:
        right.altair_chart(curve(seasonal, "month", "Over the year (month)"))

st.subheader("Hypotheses")
table = ui.guarded(hypotheses, found.science_dir, region)
if table is None:
    ui.need("lithomap report", "The hypothesis table has not been computed yet.")
else:
    table = table.assign(verdict=table["holds"].map(lambda held: "holds" if bool(held) else "does not hold"))
    st.dataframe(table[["hypothesis", "measure", "value", "verdict"]], hide_index=True)
