"""Survival: what each model stage keeps of each community's structure, with its null."""

from __future__ import annotations

import altair as alt
import neco_ui as ui
import pandas as pd
import streamlit as st

from neco import dashboard as dash

r = ui.reader()
st.title("Survival")
ui.stale_notice(["survival/ledger", "survival/examples", "neural/token_words", "neural/latents"])

# 1. the ledger ---------------------------------------------------------------------------------
st.header("The ledger")
if not r.has("survival/ledger"):
    st.info("No survival ledger yet: run neco survival (after neco social and neco neural).")
    st.code(f"neco survival -w {r.path}", language="bash")
else:
    ledger = ui.load(dash.ledger)
    st.caption(
        "For each stage, each community's score (point) with its bootstrap interval (bar) "
        "and the level a permutation of item correspondence gives (grey tick: the null). "
        "A score is a finding only where its interval clears the null. Click a point to read "
        "the captions behind it."
    )
    if ledger["mechanics_only"].any():
        st.warning(
            f"Rows labelled “{dash.MECHANICS_LABEL}” were measured with random-weight "
            "components: they show that the pipeline runs, not what a trained model keeps."
        )
    for stage in ui.load(dash.ledger_stages):
        rows = ledger[ledger["stage"] == stage]
        mechanics = bool(rows["mechanics_only"].any())
        st.subheader(ui.esc(f"Stage {stage}{ui.mechanics_label(mechanics)}"))
        measured = rows[rows["status"] == "measured"]
        if len(measured):
            base = alt.Chart(measured).encode(
                y=alt.Y("community:N", title=None),
            )
            interval = base.mark_rule(strokeWidth=3, opacity=0.6).encode(
                x=alt.X("low:Q", title="score"), x2="high:Q",
                color=alt.Color("weights:N", title="weights",
                                scale=alt.Scale(domain=["pretrained", dash.MECHANICS_LABEL],
                                                range=["#1f77b4", "#d62728"]),
                                legend=alt.Legend(labelLimit=0, orient="bottom",
                                                  values=sorted(set(measured["weights"])))),
            )  # fmt: skip
            null = base.mark_tick(color="#777", thickness=2, size=18).encode(
                x="null_mean:Q",
                tooltip=[alt.Tooltip("null_mean:Q", title="null mean", format=".3f"),
                         alt.Tooltip("null_std:Q", title="null sd", format=".3f")],
            )  # fmt: skip
            pick = alt.selection_point(fields=["community"], name="cell", on="click")
            point = base.mark_point(filled=True, size=70).encode(
                x="value:Q",
                color="weights:N",
                tooltip=[
                    "community", "metric", "reference", "representation",
                    alt.Tooltip("value:Q", format=".3f"),
                    alt.Tooltip("low:Q", format=".3f"), alt.Tooltip("high:Q", format=".3f"),
                    alt.Tooltip("null_mean:Q", format=".3f"),
                    alt.Tooltip("p_value:Q", format=".3g"), "n_items", "weights",
                ],
            ).add_params(pick)  # fmt: skip
            title = f"{stage}{ui.mechanics_label(mechanics)}"
            drawing = (
                alt.layer(interval, null, point)
                .properties(width=260, height=max(60, 28 * measured["community"].nunique()))
                .facet(facet=alt.Facet("metric:N", title=None), columns=3)
                .resolve_scale(x="independent")
            )
            # On screen the heading above names the stage; a downloaded figure carries it.
            event = ui.chart(drawing, measured, f"ledger-{stage}", select=True, title=title)
            shown = measured[["weights", "metric", "community", "reference", "representation",
                              "value", "low", "high", "null_mean", "null_std", "calibrated",
                              "p_value", "n_items", "components", "params"]]  # fmt: skip
            ui.table(shown, f"ledger-{stage}")
            community = ui.chart_selection(event, "cell", "community")
            if community:
                examples = ui.load(dash.survival_examples, stage, community)
                label = ui.mechanics_label(mechanics)
                st.markdown(ui.esc(f"Captions behind {stage} / {community}{label}"))
                if examples.empty:
                    st.caption("No example captions were recorded for this cell.")
                else:
                    ui.table(examples, f"examples-{stage}-{community}")
        not_measured = rows[rows["status"] != "measured"]
        if len(not_measured):
            st.markdown("**Not measured**")
            for _, row in not_measured.iterrows():
                st.markdown(
                    "- "
                    + ui.esc(
                        f"{row['metric']} · {row['community']}: {row['status']} — "
                        f"{row['reason'] or 'no reason recorded'}"
                        f"{ui.mechanics_label(bool(row['mechanics_only']))}"
                    )
                )

    st.subheader("Captions behind the ledger")
    examples = ui.load(dash.survival_examples)
    if examples.empty:
        st.caption("The ledger recorded no example captions.")
    else:
        e1, e2 = st.columns(2)
        stage_pick = e1.selectbox("Stage", ["(all)", *sorted(examples["stage"].unique())])
        community_pick = e2.selectbox(
            "Community", ["(all)", *sorted(examples["community"].unique())]
        )
        chosen = examples
        if stage_pick != "(all)":
            chosen = chosen[chosen["stage"] == stage_pick]
        if community_pick != "(all)":
            chosen = chosen[chosen["community"] == community_pick]
        ui.table(chosen.reset_index(drop=True), "examples")

# 2. words cut off at 77 tokens -----------------------------------------------------------------
st.header("Words cut off at 77 tokens")
if not r.has("neural/token_words"):
    ui.missing("neural/token_words")
else:
    st.caption(
        "CLIP's text encoder reads 77 tokens (with start and end): Stable Diffusion 1.x never "
        "sees the words after the cut."
    )
    ui.table(ui.load(dash.token_summary), "token-summary")
    lost = ui.load(dash.lost_words)
    if lost.empty:
        st.success("No caption is longer than CLIP's 77-token window: no word is lost.")
    else:
        bars = (
            alt.Chart(lost)
            .mark_bar()
            .encode(
                x=alt.X("lost:Q", title="times cut off"),
                y=alt.Y("word:N", sort="-x", title=None),
                tooltip=["community", "word", "lost", "captions"],
            )
            .properties(width=220, height=alt.Step(14))
            .facet(facet=alt.Facet("community:N", title=None), columns=3)
            .resolve_scale(y="independent")
        )
        ui.chart(bars, lost, "lost-words")

# 3. the VAE round trip -------------------------------------------------------------------------
st.header("Images through the VAE")
if not r.has("neural/latents"):
    ui.missing("neural/latents")
else:
    mechanics = ui.load(dash.stage_is_mechanics_only, "neural.latents")
    latents = ui.load(dash.latents)
    if mechanics:
        st.warning(f"VAE round trip: {dash.MECHANICS_LABEL}.")
    latents = latents.assign(weights=dash.MECHANICS_LABEL if mechanics else "pretrained")
    ui.table(latents, "latents")
    if "round_trip_path" in latents.columns:  # the stage's side-by-side PNG, else the original
        latents["shown"] = latents["round_trip_path"].fillna(latents["local_path"])
    else:
        latents["shown"] = latents["local_path"]
    local = latents[latents["shown"].notna()].head(12)
    st.caption(
        "Each picture: the image as the VAE received it (left) and what came back (right); "
        "where the stage stored no reconstruction, the original alone. Only files inside the "
        "workspace or local image files the corpus names are shown, never URLs."
    )
    columns = st.columns(3)
    for i, (_, row) in enumerate(local.iterrows()):
        with columns[i % len(columns)]:
            st.image(row["shown"])
            scores = [
                f"{name} {row[name]:.2f}"
                for name in ("psnr", "ssim", "cosine")
                if name in row and pd.notna(row[name])
            ]
            st.text(" · ".join([str(row["id"]), *scores]))
