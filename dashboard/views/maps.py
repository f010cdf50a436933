"""Maps: ground truth, prediction, confidence and NDVI of a region side by side, an overlay, downloads."""

from __future__ import annotations

import numpy as np
import streamlit as st

from dashboard import rasters, ui, wording
from dashboard.runs import open_client

st.title("Maps")
found = ui.sources()
ui.regions_or_stop(found)

region = st.selectbox("Region", list(found.regions), format_func=wording.region_name, key="map_region")
maps = rasters.map_runs(found.maps_dir, region)
champion_names: list[str] = []
client = open_client(found.tracking_uri)
if client is not None:
    champions = ui.guarded(ui.tracked, found.tracking_uri, "champions")
    if champions is not None:
        best = champions[champions["region"] == region].sort_values("macro_f1", ascending=False)
        champion_names = [f"{row.arch}-{row.experiment}" for row in best.itertuples()]
chosen = None
if maps:
    index = rasters.default_map(maps, champion_names)
    chosen = st.selectbox(
        "Model",
        maps,
        index=index,
        format_func=rasters.map_label,
        key="map_model",
    )
    for kind, note in wording.map_notes(chosen.meta):
        (st.warning if kind == "warning" else st.info)(note)
else:
    model = champion_names[0] if champion_names else "convlstm"
    ui.need(
        f"lithomap map -r {region} -m {model.split('-')[0]}",
        f"No predicted map of {wording.region_name(region)} yet; ground truth and NDVI are shown alone.",
    )

cube = ui.guarded(ui.cube_layers, found.interim_dir / region / "cube.zarr")
if not cube:
    ui.need(f"lithomap ingest -r {region}", "The region cube (labels, NDVI) is not there yet.")
test = ui.guarded(ui.test_pixels, found.processed_dir / region / "split.npz")
prediction = ui.guarded(ui.band, chosen.folder / "classes.tif") if chosen else None
confidence = None
if chosen and (chosen.folder / "confidence.tif").is_file():
    confidence = ui.guarded(ui.band, chosen.folder / "confidence.tif")

panels = []
truth = (cube or {}).get("label")
if truth is not None:
    panels.append(("Ground truth (geological map)", rasters.with_outline(rasters.class_rgb(truth), test)))
if prediction is not None:
    panels.append(("Prediction", rasters.with_outline(rasters.class_rgb(prediction), test)))
if confidence is not None:
    panels.append(("Confidence (dark: unsure, yellow: sure)", rasters.scalar_rgb(confidence, "viridis", 0.0, 1.0)))
ndvi = (cube or {}).get("ndvi")
if ndvi is not None:
    panels.append(("NDVI (vegetation; green: dense)", rasters.scalar_rgb(ndvi, "YlGn", -0.1, 0.9)))
if not panels:
    st.stop()

st.caption("Black outlines mark the test blocks: areas held out of training and used for scoring.")
for column, (title, picture) in zip(st.columns(len(panels)), panels, strict=True):
    column.image(picture, caption=title, width="stretch", output_format="PNG")

classes_layer = prediction if prediction is not None else truth
ids = rasters.classes_present(*(layer for layer in (truth, prediction) if layer is not None))
left, right = st.columns([3, 1])
with left:
    if classes_layer is not None:
        opacity = st.slider("Opacity of the class map over NDVI", 0.0, 1.0, 0.6, 0.05, key="map_opacity")
        base = (
            rasters.scalar_rgb(ndvi, "Greys_r", -0.1, 0.9)
            if ndvi is not None
            else np.full((*classes_layer.shape, 3), 255, np.uint8)
        )
        st.image(rasters.blend(base, rasters.class_rgb(classes_layer), opacity), width="stretch", output_format="PNG")
with right:
    ui.legend([i for i in ids if i > 0] or ids)

if chosen is not None:
    st.subheader("Downloads")
    if chosen.meta:
        st.caption(
            f"Model {chosen.meta.get('registered_model', chosen.name)}, version {chosen.meta.get('version', '?')}, "
            f"made {chosen.meta.get('created', 'at an unknown time')}."
        )
    for file, label, mime in (
        ("classes.tif", "Class map (GeoTIFF)", "image/tiff"),
        ("map.gpkg", "Class polygons (GeoPackage)", "application/geopackage+sqlite3"),
    ):
        path = chosen.folder / file
        if path.is_file():
            data = ui.guarded(ui.file_bytes, path)
            if data is not None:
                st.download_button(label, data, file_name=f"{region}-{chosen.name}-{file}", mime=mime, key=f"dl_{file}")
        else:
            st.info(f"{file} is missing from {chosen.folder}; run `lithomap map -r {region}` again.")
