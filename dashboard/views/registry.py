"""Registry: registered models, their versions and aliases, and every decision of the promotion gate."""

from __future__ import annotations

import streamlit as st

from dashboard import ui, wording

st.title("Model registry")
st.write(
    "Every evaluated model is registered as a new version (alias `challenger`). The gate makes it "
    "`champion` only if it beats the per-pixel baseline and the current champion on the same test areas, "
    "without any class getting much worse. The rule is set in params.yaml: `margin` (the score must rise by "
    "more than the margin) or `paired` (the interval of the paired difference challenger − champion, over "
    "the same test blocks, must lie above 0). A global model, trained on every region, has no test area of "
    "its own: it is scored by the macro-F1 expected on a region it never saw (leave-one-region-out)."
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
        column_config={
            "scored_on": st.column_config.TextColumn("score"),
            "macro_f1": st.column_config.NumberColumn("macro-F1", format="%.3f"),
            "macro_f1_low": st.column_config.NumberColumn("95 % low", format="%.3f"),
            "macro_f1_high": st.column_config.NumberColumn("95 % high", format="%.3f"),
        },
    )

st.subheader("Promotion history")
if history.empty:
    ui.need("lithomap promote", "The promotion gate has not decided on any version yet.")
else:
    outcome = [wording.decision_words(row.decision, row.champion_version) for row in history.itertuples(index=False)]
    numbers = ("candidate_macro_f1", "champion_macro_f1", "gain", "margin", "paired_difference")
    st.dataframe(
        history.assign(outcome=outcome),
        hide_index=True,
        column_config={
            **{key: st.column_config.NumberColumn(key.replace("_", " "), format="%.4f") for key in numbers},
            "paired_ci_low": st.column_config.NumberColumn("paired interval low", format="%.4f"),
            "paired_ci_high": st.column_config.NumberColumn("paired interval high", format="%.4f"),
            "paired_confidence": st.column_config.NumberColumn("paired confidence", format="%.2f"),
            "worst_class_drop": st.column_config.NumberColumn("worst class drop", format="%.4f"),
        },
    )
