"""Registry: registered models, their versions and aliases, and every decision of the promotion gate."""

from __future__ import annotations

import streamlit as st

from dashboard import ui, wording

st.title("Model registry")
st.write(
    "Every evaluated model is registered as a new version (alias `challenger`). The gate makes it "
    "`champion` only if it beats the current champion on the same test areas by the margin in "
    "params.yaml, without any class getting much worse."
)
found = ui.sources()
ui.client_or_stop(found)
versions = ui.guarded(ui.tracked, found.tracking_uri, "versions")
history = ui.guarded(ui.tracked, found.tracking_uri, "promotions")
if versions is None or history is None:
    st.stop()
if versions.empty:
    ui.need(ui.RUN_PIPELINE, "No model has been registered yet.")
    st.stop()

st.subheader("Registered models")
for name, group in versions.groupby("model", sort=True):
    aliases = ", ".join(
        f"{alias} → v{row.version}" for row in group.itertuples() for alias in row.aliases.split(", ") if alias
    )
    st.markdown(f"**{name}** — {len(group)} versions; {aliases or 'no aliases'}")
    st.dataframe(
        group.drop(columns=["model"]),
        hide_index=True,
        column_config={"macro_f1": st.column_config.NumberColumn("test macro-F1", format="%.3f")},
    )

st.subheader("Promotion history")
if history.empty:
    ui.need("lithomap promote", "The promotion gate has not decided on any version yet.")
else:
    st.dataframe(
        history.assign(outcome=history["decision"].map(wording.decision_words)),
        hide_index=True,
        column_config={
            key: st.column_config.NumberColumn(key.replace("_", " "), format="%.4f")
            for key in ("candidate_macro_f1", "champion_macro_f1", "gain", "margin", "worst_class_drop")
        },
    )
