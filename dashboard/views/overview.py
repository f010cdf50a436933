"""Overview: where the regions are, their champion models, the last retrain and data checks."""

from __future__ import annotations

import altair as alt
import streamlit as st

from dashboard import models, ui, wording
from dashboard.regions import extent, region_locations
from dashboard.reports import STAGES, validation_summary
from dashboard.runs import last_run_by_region

st.title("lithomap: rock and soil maps from satellite heat")
st.write(
    "Models learn each rock and soil type from how the ground warms and cools over days and "
    "seasons (thermal images), with radar and vegetation where they help."
)
found = ui.sources()

locations = region_locations(found.regions)
if not locations.empty:
    st.subheader("Regions")
    west, south, east, north = extent(locations, margin_deg=2.0)
    x = alt.X("lon:Q", title="longitude (°E)", scale=alt.Scale(domain=[west, east]))
    y = alt.Y("lat:Q", title="latitude (°N)", scale=alt.Scale(domain=[south, north]))
    base = alt.Chart(locations).encode(x=x, y=y)
    chart = alt.layer(
        base.mark_circle(size=160, color="#c0392b").encode(tooltip=["region", "lon", "lat"]),
        base.mark_text(dx=10, align="left", fontSize=13).encode(text="region"),
    ).properties(height=300)
    st.altair_chart(chart)

st.subheader("Champion models")
client = ui.client_or_stop(found)
champions = ui.guarded(ui.tracked, found.tracking_uri, "champions")
runs = ui.guarded(ui.tracked, found.tracking_uri, "runs")
if champions is None or runs is None:
    st.stop()
if champions.empty:
    ui.need("lithomap promote", "Models are tracked, but none has been promoted to champion yet.")
for row in champions.itertuples():
    st.markdown(
        wording.champion_sentence(
            row.region,
            row.arch,
            row.version,
            row.experiment,
            row.macro_f1,
            row.macro_f1_low,
            row.macro_f1_high,
            global_model=row.scored_on == models.LORO_SCORE,
        )
        + f" Champion since {wording.when(row.promoted_at)}."
    )
last = last_run_by_region(runs)
rows = []
for region in sorted(set(found.regions) | set(last)):
    checks = []
    for stage in STAGES:
        summary = ui.guarded(validation_summary, found.validation_dir, stage, region)
        words = (
            wording.validation_words(summary.status, len(summary.failures), len(summary.warnings))
            if summary
            else "not checked yet"
        )
        checks.append(f"{stage}: {words}")
    rows.append(
        {
            "region": wording.region_name(region),
            "last training run": wording.when(last.get(region)),
            "data checks": "; ".join(checks),
        }
    )
st.subheader("Retraining and data checks")
st.dataframe(rows, hide_index=True)
