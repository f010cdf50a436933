"""Experiments: every tracked run, filtered and compared side by side, the experiment matrix and the
leave-one-region-out table (how well a model maps a region it never saw)."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import ui, wording
from dashboard.reports import loro_table, matrix_table
from dashboard.runs import filter_runs, mlflow_ui_link, per_class_f1, run_label, training_curves

st.title("Experiments")
found = ui.sources()
client = ui.client_or_stop(found)
runs = ui.guarded(ui.tracked, found.tracking_uri, "runs")
if runs is None:
    st.stop()
if runs.empty:
    ui.need(ui.RUN_PIPELINE, "The tracking store holds no lithomap runs yet.")
    st.stop()

left, middle, right = st.columns(3)
regions = left.multiselect("Region", sorted(runs["region"].unique()), key="filter_region")
architectures = middle.multiselect("Model", sorted(runs["model"].unique()), key="filter_model")
experiments = right.multiselect("Experiment", sorted(runs["experiment"].unique()), key="filter_experiment")
shown = filter_runs(runs, regions, architectures, experiments)
st.caption(f"{len(shown)} of {len(runs)} runs. Scores are on test areas the models never saw.")
st.dataframe(
    shown.drop(columns=["experiment_id"]),
    hide_index=True,
    column_config={
        "macro_f1": st.column_config.NumberColumn("macro-F1", format="%.3f"),
        "macro_f1_low": st.column_config.NumberColumn("95 % low", format="%.3f"),
        "macro_f1_high": st.column_config.NumberColumn("95 % high", format="%.3f"),
        "accuracy": st.column_config.NumberColumn("accuracy", format="%.3f"),
        "kappa": st.column_config.NumberColumn("kappa", format="%.3f"),
        "baseline_macro_f1": st.column_config.NumberColumn("per-pixel baseline", format="%.3f"),
        "started": st.column_config.DatetimeColumn("started"),
    },
)

st.subheader("Compare runs")
labels = {run_label(row): row["run_id"] for _, row in shown.iterrows()}
picked = st.multiselect("Runs to compare", list(labels), default=list(labels)[:2], key="compare")
chosen = shown[shown["run_id"].isin([labels[label] for label in picked])]
if chosen.empty:
    st.info("Pick one or more runs above to compare them.")
else:
    st.link_button("Open these runs in the MLflow UI", mlflow_ui_link(found.mlflow_ui, chosen))
    st.caption("The MLflow UI runs apart from the dashboard: `make mlflow-ui`.")
    names = {row["run_id"]: run_label(row) for _, row in chosen.iterrows()}
    st.dataframe(
        [
            {
                "run": names[row["run_id"]],
                "macro-F1 (95 % interval)": wording.score(row["macro_f1"], row["macro_f1_low"], row["macro_f1_high"]),
                "accuracy": wording.score(row["accuracy"]),
                "kappa": wording.score(row["kappa"]),
                "per-pixel baseline macro-F1": wording.score(row["baseline_macro_f1"]),
            }
            for _, row in chosen.iterrows()
        ],
        hide_index=True,
    )
    f1 = ui.guarded(per_class_f1, client, list(chosen["run_id"]))
    if f1 is not None and not f1.empty:
        f1["run"] = f1["run_id"].map(names)
        st.markdown("**F1 per class**")
        st.altair_chart(
            alt.Chart(f1)
            .mark_bar()
            .encode(x=alt.X("class:N"), xOffset="run:N", y=alt.Y("f1:Q", scale=alt.Scale(domain=[0, 1])), color="run:N")
            .properties(height=260)
        )
    columns = st.columns(min(len(chosen), 3))
    for column, run_id in zip(columns, chosen["run_id"], strict=False):
        with column:
            st.markdown(f"**{names[run_id]}**")
            picture = ui.run_figure(found.tracking_uri, run_id, "figures/confusion_matrix.png")
            if picture:
                st.image(picture, caption="confusion matrix (rows: reference)")
            else:
                st.info("This run has no confusion matrix figure.")
            curves = ui.guarded(training_curves, client, run_id)
            if curves is not None and not curves.empty:
                st.line_chart(curves.pivot_table(index="epoch", columns="metric", values="value"), height=200)

st.subheader("Experiment matrix")
matrix = ui.guarded(matrix_table, found.matrix_dir)
if matrix is None:
    ui.need("lithomap matrix", "The region × model × experiment table has not been made yet.")
else:
    heat = matrix.assign(cell=matrix["region"] + " " + matrix["model"])
    st.altair_chart(
        alt.Chart(heat)
        .mark_rect()
        .encode(
            x="experiment:N",
            y="cell:N",
            color=alt.Color("macro_f1:Q", scale=alt.Scale(scheme="viridis")),
            tooltip=list(heat.columns),
        )
        + alt.Chart(heat)
        .mark_text(color="white")
        .encode(x="experiment:N", y="cell:N", text=alt.Text("macro_f1:Q", format=".2f"))
    )
    st.dataframe(pd.DataFrame(matrix), hide_index=True)

st.subheader("Maps of regions without labels")
loro = ui.guarded(loro_table, found.loro_dir)
if loro is None:
    ui.need(
        "lithomap loro --all",
        "No leave-one-region-out table yet: it measures how well a model maps a region it never saw.",
    )
else:
    members = [name for arch in architectures for name in (arch, f"{arch}+summary")]
    chosen_models = [*members, "baseline", "summary"] if architectures else []
    held = filter_runs(loro.rename(columns={"held_out": "region"}), regions, chosen_models, experiments)
    st.caption(
        "Each labelled region is held out of training in turn and mapped whole by a model trained on the others "
        "(`lithomap loro`). Macro-F1 over the classes the training regions hold, with its 95 % block-bootstrap "
        "interval: what a map of a region without labels can expect. A model *+ summary model* is the transfer "
        "model that maps regions without labels: the network's probabilities blended with a per-pixel model of the "
        "all-date thermal summaries (also shown alone). The baseline is the per-pixel model on the network's inputs."
    )
    if held.empty:
        st.info("No leave-one-region-out rows match the filters above.")
    else:
        held = held.assign(run=held["model"] + " · " + held["experiment"])
        x = alt.X("region:N", title="held-out region", axis=alt.Axis(labelAngle=0))
        y = alt.Y("macro_f1_learnable:Q", title="macro-F1 (learnable classes)", scale=alt.Scale(domain=[0, 1]))
        bars = alt.Chart(held).mark_bar().encode(x=x, xOffset="run:N", y=y, color="run:N", tooltip=list(held.columns))
        intervals = (
            alt.Chart(held.dropna(subset=["macro_f1_learnable_low", "macro_f1_learnable_high"]))
            .mark_rule()
            .encode(x=x, xOffset="run:N", y="macro_f1_learnable_low:Q", y2="macro_f1_learnable_high:Q")
        )
        st.altair_chart(bars + intervals)
        st.dataframe(
            [
                {
                    "held out": wording.region_name(row["region"]),
                    "model": wording.loro_model(row["model"]),
                    "experiment": row["experiment"],
                    "trained on": wording.listing(row.get("trained_on"), wording.region_name, "not recorded"),
                    "macro-F1, learnable classes": wording.score(
                        row["macro_f1_learnable"], row.get("macro_f1_learnable_low"), row.get("macro_f1_learnable_high")
                    ),
                    "macro-F1, all classes": wording.score(row.get("macro_f1")),
                    "not learnable": wording.listing(row.get("not_learnable")),
                }
                for _, row in held.iterrows()
            ],
            hide_index=True,
        )
