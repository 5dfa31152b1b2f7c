"""Corpus: communities, sources, rejected rows, caption lengths, captions, the item sample."""

from __future__ import annotations

import altair as alt
import neco_ui as ui
import streamlit as st

from neco import dashboard as dash

r = ui.reader()
st.title("Corpus")
ui.stale_notice(["sample/items"])

info = ui.load(dash.overview)
cols = st.columns(4)
cols[0].metric("Captions", f"{info['captions']:,}")
cols[1].metric("Communities", info["communities"])
cols[2].metric("Rejected rows", f"{info['rejected']:,}")
cols[3].metric("Sources", info["sources"])

st.header("Communities")
sizes = ui.load(dash.community_sizes)
st.markdown(
    " · ".join(
        f"**{ui.esc(c)}** {n:,}" for c, n in zip(sizes["community"], sizes["captions"], strict=True)
    )
)
ui.table(sizes, "communities")

st.subheader("Caption length")
lengths = ui.load(dash.caption_lengths)
st.caption(
    "Share of each community's captions by number of words (whitespace-separated); "
    "captions of 80 words or more are counted at 80. Hover for counts."
)
length_chart = (
    alt.Chart(lengths)
    .mark_line(point=alt.OverlayMarkDef(size=18), interpolate="step-after")
    .encode(
        x=alt.X("words:Q", title="words per caption"),
        y=alt.Y("share:Q", title="share of the community's captions", axis=alt.Axis(format="%")),
        color=alt.Color("community:N", title="community", scale=ui.community_colours()),
        tooltip=["community", "words", "captions", alt.Tooltip("share:Q", format=".1%")],
    )
    .properties(height=280)
)
ui.chart(length_chart, lengths, "caption-lengths")

st.header("Sources")
ui.table(ui.load(dash.sources), "sources")

st.header("Rejected rows")
counts = ui.load(dash.rejected_counts)
if counts.empty:
    st.success("No row was rejected: every row read is in the corpus.")
else:
    ui.table(counts, "rejected-by-reason")
    reasons = ["(all)", *sorted(counts["reason"].unique())]
    reason = st.selectbox("Show the rejected rows of", reasons)
    rows = ui.load(dash.rejected_rows, None if reason == "(all)" else reason)
    st.caption(f"The first {len(rows):,} rows (the raw record is kept as it was read).")
    ui.table(rows, "rejected-rows")

st.header("Captions")
names = ui.load(dash.communities)
left, right = st.columns([2, 1])
query = left.text_input("Search captions (case-insensitive substring)", key="q")
chosen = right.multiselect("Communities", names, placeholder="all communities")
found, total = ui.load(dash.search_captions, query, tuple(chosen), None, 1000)
st.caption(
    f"Matching: {ui.plural(total, 'caption')}; showing the first {len(found):,}. "
    "Select a row to read the caption in full."
)
event = ui.table(found, "captions", select=True)
row = ui.selected_row(event, found)
if row is not None:
    st.text(f"{row['id']} · {row['community']}")
    st.text(row["text"])

st.header("Item sample")
if not r.has("sample/items"):
    ui.missing("sample/items")
else:
    per, items = ui.load(dash.sample_overview)
    st.caption(
        "The seeded, stratified sample every caption-level stage of both layers measures, "
        "so that survival compares the same items on both sides."
    )
    ui.table(per, "sample-by-community")
    ui.table(items, "sample-items", height=300)
