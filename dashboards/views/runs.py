"""Runs: what the manifest says, so that a figure can be cited and reproduced."""

from __future__ import annotations

import json

import neco_ui as ui
import streamlit as st

from neco import dashboard as dash

r = ui.reader()
st.title("Runs")
st.caption(
    "Everything here comes from the workspace's manifest.json: the sources with their "
    "SHA-256, each stage's parameters, model components and package versions, and whether "
    "each table still describes its inputs."
)

st.header("Tables")
states = ui.load(dash.table_states)
stale = states[states["state"] == "stale"]
if len(stale):
    st.warning(
        ui.esc(
            f"{len(stale)} stale table(s): "
            + "; ".join(f"{t} ({w})" for t, w in zip(stale["table"], stale["why"], strict=True))
        )
    )
else:
    st.success("Every table is fresh: made from the current state of its inputs.")
ui.table(states, "tables")

st.header("Stages")
stages = ui.load(dash.stage_records)
skipped = stages[stages["status"] == "skipped"]
for name, reason in zip(skipped["stage"], skipped["reason"], strict=True):
    st.markdown(f"- **{ui.esc(name)}** skipped: {ui.esc(reason)}")
ui.table(stages, "stages")

st.header("Sources")
ui.table(ui.load(dash.sources), "sources")

st.header("Cite this state")
st.caption("Paste this with a figure: it names the data (by hash) and the stages (by key).")
st.code(ui.load(dash.citation), language=None)
st.download_button(
    "Download manifest.json",
    data=json.dumps(r.manifest, indent=2, ensure_ascii=False).encode("utf-8"),
    file_name="manifest.json",
    mime="application/json",
    icon=":material/download:",
)
