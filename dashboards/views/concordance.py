"""Concordance: every occurrence of a word or phrase in its captions, and its collocates."""

from __future__ import annotations

import neco_ui as ui
import streamlit as st

from neco import dashboard as dash

r = ui.reader()
st.title("Concordance")
if not r.has("social/tokens"):
    ui.missing("social/tokens")
    st.stop()
ui.stale_notice(["social/tokens"])
names = ui.load(dash.communities)

c1, c2, c3, c4 = st.columns([2, 2, 1, 1])
# Bound to the URL (?term=...): the Vocabularies and Graphs pages link here with a term.
term = c1.text_input("Word or phrase", key="term", bind="query-params").strip()
chosen = c2.multiselect("Communities", names, placeholder="all communities", key="kwic_in")
width = c3.slider("Context (characters)", 20, 120, 50, step=10, key="kwic_width")
sort = c4.radio(
    "Sort by", ["right", "left", "none"], key="kwic_sort",
    format_func={"right": "words after", "left": "words before", "none": "caption id"}.get,
)  # fmt: skip

if not term:
    st.info("Type a word or phrase (matched on words and their lemmas, so kite finds kites).")
    st.stop()

lines = ui.attempt(dash.concordance, term, communities=tuple(chosen), width=width, sort=sort)
if lines.empty:
    st.info(ui.esc(f"No occurrence of “{term}”" + (" in these communities." if chosen else ".")))
else:
    per = lines.groupby("community").size().sort_values(ascending=False)
    st.caption(
        ui.esc(
            f"{ui.plural(len(lines), 'line')} in {ui.plural(lines['id'].nunique(), 'caption')}: "
            + ", ".join(f"{c} {n:,}" for c, n in per.items())
        )
    )
    ui.kwic_block(lines, height=360)

left, right = st.columns([3, 2], gap="large")
with left:
    st.subheader("Lines with their captions")
    if not lines.empty:
        shown = lines[["community", "left", "match", "right", "id", "caption", "author",
                       "timestamp", "thread_id", "image"]]  # fmt: skip
        event = ui.table(
            shown,
            "concordance",
            select=True,
            height=420,
            column_config={
                "left": st.column_config.TextColumn(width="medium", alignment="right"),
                "match": st.column_config.TextColumn(width="small", alignment="center"),
                "right": st.column_config.TextColumn(width="medium"),
            },
        )
        row = ui.selected_row(event, shown)
        if row is not None:
            st.text(f"{row['id']} · {row['community']}"
                    + (f" · thread {row['thread_id']}" if row["thread_id"] else "")
                    + (f" · image {row['image']}" if row["image"] else ""))  # fmt: skip
            st.text(row["caption"])
        else:
            st.caption("Select a row to read its caption in full.")

with right:
    st.subheader("Collocates")
    words = term.split()
    if len(words) != 1:
        st.info("Collocates take one word as node.")
    else:
        k1, k2 = st.columns(2)
        scope = k1.selectbox("In", ["all communities", *names], key="coll_scope")
        window = k2.slider("Window (words each side)", 1, 10, 4, key="coll_window")
        k3, k4 = st.columns(2)
        min_count = k3.number_input("Minimum count", 1, value=2, key="coll_min")
        order = k4.radio(
            "Sort by", ["npmi", "g2", "count"], horizontal=True, key="coll_sort",
            format_func={"npmi": "NPMI", "g2": "G²", "count": "count"}.get,
        )  # fmt: skip
        found = ui.attempt(
            dash.collocates,
            term,
            community=None if scope == "all communities" else scope,
            window=window,
            min_count=int(min_count),
        )
        found = found.sort_values([order, "term"], ascending=[False, True]).reset_index(drop=True)
        st.caption(
            "Lemmas within the window (stop words left out): NPMI (Bouma 2009) and G² "
            "(Dunning 1993) over window positions. Select one to read its concordance."
        )
        event = ui.table(
            found,
            "collocates",
            select=True,
            height=420,
            column_config={
                "npmi": st.column_config.NumberColumn("NPMI", format="%.3f"),
                "g2": st.column_config.NumberColumn("G²", format="%.1f"),
            },
        )
        row = ui.selected_row(event, found)
        if row is not None:
            st.button(
                f"Concordance of {ui.esc(row['term'])}",
                on_click=lambda t=row["term"]: st.session_state.update(term=t),
            )
