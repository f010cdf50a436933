"""Data quality: the latest validation of each region and stage, in words, with its Data Docs."""

from __future__ import annotations

import streamlit as st

from dashboard import ui, wording
from dashboard.reports import STAGES, validation_summary

STAGE_WORDS = {"raw": "Raw satellite files", "processed": "Training datasets"}

st.title("Data quality")
st.write(
    "Before anything is trained, the raw files and the prepared datasets are checked "
    "(Great Expectations). A failed check stops the pipeline; warnings are kept and shown here."
)
found = ui.sources()
ui.regions_or_stop(found)
for region in found.regions:
    st.subheader(wording.region_name(region))
    for stage in STAGES:
        summary = ui.guarded(validation_summary, found.validation_dir, stage, region)
        if summary is None:
            ui.need(f"lithomap validate --stage {stage} -r {region}", f"{STAGE_WORDS[stage]}: not checked yet.")
            continue
        words = wording.validation_words(summary.status, len(summary.failures), len(summary.warnings))
        text = f"{STAGE_WORDS[stage]}: {words} ({summary.evaluated} checks, last run {wording.when(summary.written)})."
        {"passed": st.success, "warned": st.warning, "failed": st.error}[summary.status](text)
        for failure in summary.failures:
            st.markdown(f"- critical: {failure}")
        if summary.warnings:
            with st.expander(f"{len(summary.warnings)} warnings"):
                for warning in summary.warnings:
                    st.markdown(f"- {warning}")
        docs = summary.data_docs.resolve()
        if docs.is_file():
            st.markdown(f"Data Docs: [{docs.name}]({docs.as_uri()}) (open the file in a browser: `{docs}`)")
        else:
            st.caption(f"Data Docs are missing at {docs}; run `lithomap validate --stage {stage} -r {region}`.")
