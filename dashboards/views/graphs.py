"""Graphs: term co-occurrence, discourse and semantic graphs, per community."""

from __future__ import annotations

import altair as alt
import neco_ui as ui
import pandas as pd
import streamlit as st

from neco import dashboard as dash

r = ui.reader()
st.title("Graphs")

c1, c2, c3, c4 = st.columns([2, 2, 2, 2])
kind = c1.radio(
    "Graph",
    list(dash.GRAPH_KINDS),
    captions=[label for label, _ in dash.GRAPH_KINDS.values()],
    key="graph_kind",
    bind="query-params",  # ?graph_kind=discourse links to a graph
)
needed = dash.GRAPH_KINDS[kind][1]
absent = [t for t in needed if not r.has(t)]
if absent:
    for t in absent:
        ui.missing(t)
    st.stop()
ui.stale_notice(needed)
scopes = ui.load(dash.graph_scopes, kind)
if not scopes:
    st.info("This graph has no nodes in this workspace.")
    st.stop()
scope = c2.selectbox(
    "Scope", scopes, key="graph_scope",
    format_func=lambda s: "all communities" if s == "all" else s,
)  # fmt: skip
top_n = c3.slider("Nodes drawn (at most)", 20, 500, 150, step=10, key="graph_top")
colours = {
    "cooccurrence": {"distinctive_of": "community (where the term is most distinctive)",
                     "cluster": "Leiden cluster"},
    "discourse": {"community": "community", "cluster": "thread"},
    "semantic": {"community": "community"},
}[kind]  # fmt: skip
colour = c4.radio("Colour by", list(colours), format_func=colours.get, key=f"graph_colour_{kind}")

graph = ui.load(dash.draw_graph, kind, scope, top_n)
for note in graph.notes:
    st.caption(ui.esc(note))
if graph.nodes.empty:
    st.info("This graph has no edges in this scope.")
    st.stop()
which = "whole threads" if kind == "discourse" else "the most connected"
st.caption(
    f"Showing {len(graph.nodes):,} of {graph.total_nodes:,} nodes ({which}) and "
    f"{len(graph.edges):,} of {graph.total_edges:,} edges; pruned: {graph.pruned_nodes:,} "
    f"nodes and {graph.pruned_edges:,} edges. Layout: ForceAtlas2 (networkx, seed 0). "
    "Scroll to zoom, drag to pan, click a node to see its captions."
)

# Communities keep their colours across pages; clusters and threads get a palette of their own.
scale = (
    ui.community_colours(
        sorted({"(not in keyness table)", "(no keyness table)"} & set(graph.nodes[colour]))
    )
    if colour in ("community", "distinctive_of")
    else alt.Scale(scheme="tableau20")
)
pick = alt.selection_point(fields=["node"], name="node", on="click", clear="dblclick")
no_axis = alt.Axis(title=None, labels=False, ticks=False, domain=False, grid=False)


def _padded(values: pd.Series) -> list[float]:
    """The layout's range with a margin, so outer nodes and their labels are not cut off."""
    lo, hi = float(values.min()), float(values.max())
    pad = max(hi - lo, 1e-9) * 0.08
    return [lo - pad, hi + pad]


x_domain, y_domain = _padded(graph.nodes["x"]), _padded(graph.nodes["y"])
edges = (
    alt.Chart(graph.edges)
    .mark_rule(color="#9aa0a6", opacity=0.35)
    .encode(
        # Layout coordinates: no axis, and no zero forced into the domain.
        x=alt.X("x:Q", axis=no_axis, scale=alt.Scale(domain=x_domain, nice=False)),
        y=alt.Y("y:Q", axis=no_axis, scale=alt.Scale(domain=y_domain, nice=False)),
        x2="x2:Q",
        y2="y2:Q",
        strokeWidth=alt.StrokeWidth("weight:Q", scale=alt.Scale(range=[0.5, 3]), legend=None),
    )
)
tooltip = ["label:N", "degree:Q", f"{colour}:N"]
if kind == "cooccurrence":
    tooltip += ["doc_count:Q", alt.Tooltip("betweenness:Q", format=".3f")]
else:
    tooltip += ["node:N", "author:N"]
nodes = (
    alt.Chart(graph.nodes)
    .mark_circle(stroke="white", strokeWidth=0.5)
    .encode(
        x="x:Q",
        y="y:Q",
        size=alt.Size("degree:Q", scale=alt.Scale(range=[20, 400]), legend=None),
        color=alt.Color(f"{colour}:N", title=colours[colour].split(" (")[0],
                        legend=alt.Legend(columns=1, symbolLimit=30, labelLimit=200,
                                          values=sorted(graph.nodes[colour].unique())),
                        scale=scale),
        opacity=alt.condition(pick, alt.value(1.0), alt.value(0.35)),
        tooltip=tooltip,
    )
    .add_params(pick)
)  # fmt: skip
# Terms are short labels; captions are long: fewer of them, or they cover the drawing.
labelled = graph.nodes.nlargest(30 if kind == "cooccurrence" else 10, "degree")
labels = alt.Chart(labelled).mark_text(dy=-10, fontSize=11).encode(x="x:Q", y="y:Q", text="label:N")
drawing = alt.layer(edges, nodes, labels).properties(height=620).interactive()

# A node chosen on another graph (or scope) means nothing here.
if st.session_state.get("graph_node") not in set(graph.nodes["node"]):
    st.session_state.pop("graph_node", None)
chart_name = f"graph-{kind}-{scope}"
left, right = st.columns([3, 2], gap="medium")
with left:
    ui.chart(
        drawing, graph.nodes, chart_name,
        select=ui.pick_from_chart(chart_name, "node", "node", "graph_node"),
    )  # fmt: skip
with right:
    st.subheader("Nodes")
    columns = {
        "cooccurrence": ["node", "degree", "doc_count", "cluster", "distinctive_of", "strength",
                         "betweenness", "eigenvector"],
        "discourse": ["node", "degree", "community", "thread", "author", "text"],
        "semantic": ["node", "degree", "community", "strength", "text"],
    }[kind]  # fmt: skip
    node_table = graph.nodes[columns].sort_values("degree", ascending=False, kind="stable")
    node_table = node_table.reset_index(drop=True)
    table_name = f"nodes-{kind}"
    ui.table(
        node_table, table_name, height=520,
        select=ui.pick_from_table(table_name, node_table, "node", "graph_node"),
    )  # fmt: skip
    labels_of = dict(zip(graph.nodes["node"], graph.nodes["label"], strict=True))
    node = st.selectbox(
        "Node",
        node_table["node"].tolist(),
        index=None,
        key="graph_node",  # a click on a point or a row sets it too
        format_func=lambda n: n if kind == "cooccurrence" else f"{n}: {labels_of.get(n, '')}",
        placeholder="click a node or a row, or choose one",
    )

if node:
    neighbours = ui.load(dash.graph_neighbours, kind, scope, node)
    if kind == "cooccurrence":
        st.subheader(ui.esc(f"“{node}”: its captions and neighbours"))
        in_scope = () if scope == "all" else (scope,)
        lines = ui.attempt(dash.concordance, node, communities=in_scope)
        st.caption(ui.esc(f"{ui.plural(len(lines), 'line')} of “{node}” in {scope}."))
        ui.kwic_block(lines, limit=20)
        st.page_link(
            "views/concordance.py",
            label="Open the full concordance, with collocates",
            icon=":material/arrow_forward:",
            query_params={"term": node},
        )
    else:
        st.subheader("The caption and its neighbours")
        caption = graph.nodes[graph.nodes["node"] == node]
        if len(caption):
            st.text(f"{node} · {caption['community'].iloc[0]}")
            st.text(caption["text"].iloc[0])
    ui.table(neighbours, "neighbours", height=240)
