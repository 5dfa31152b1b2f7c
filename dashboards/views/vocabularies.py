"""Vocabularies: which terms are distinctive of which community, for any number of them."""

from __future__ import annotations

import altair as alt
import neco_ui as ui
import streamlit as st

from neco import dashboard as dash

r = ui.reader()
st.title("Vocabularies")
if not r.has("social/tokens"):
    ui.missing("social/tokens")
    st.stop()
ui.stale_notice(["social/tokens", "social/keyness", "social/specifiers", "social/chunks"])

names = ui.load(dash.communities)
if len(names) < 2:
    st.info(f"Keyness compares communities; this workspace has {len(names)}.")
    st.stop()
available = ui.load(dash.unit_availability)
stored_min = ui.load(dash.stored_keyness_min_count) or 3

# 1. what to compare ------------------------------------------------------------------------
MODES = {
    "all": "each community against the rest",
    "one": "one community against the rest",
    "two": "two communities",
}
c1, c2, c3, c4 = st.columns([2, 2, 1, 1])
mode = c1.radio("Compare", list(MODES), format_func=MODES.get, key="vocab_mode")
communities: tuple[str, ...] | None = None
against = None
if mode == "one":
    communities = (c2.selectbox("Community", names, key="vocab_focus"),)
elif mode == "two":
    focus = c2.selectbox("Community", names, key="vocab_focus")
    against = c2.selectbox("against", [n for n in names if n != focus], key="vocab_against")
    communities = (focus,)
unit = c3.selectbox(
    "Unit",
    list(available),
    format_func=lambda u: u if available[u] is None else f"{u} (not available)",
    key="vocab_unit",
)
min_count = c4.number_input("Minimum count", min_value=1, value=stored_min, key="vocab_min")

with st.expander("Stop-list and exclusion patterns (hide terms from the chart and table)"):
    s1, s2 = st.columns(2)
    stoplist = dash.parse_stoplist(
        s1.text_area("Stop-list (comma or line separated)", "x, oc", key="vocab_stop")
    )
    patterns = [
        p.strip()
        for p in s2.text_area(
            "Exclusion patterns (regular expressions, one a line, case-insensitive)",
            r"^\d+x\d+$",
            key="vocab_patterns",
            help=r"^\d+x\d+$ hides image sizes such as 1600x1200.",
        ).splitlines()
        if p.strip()
    ]

with st.expander("Filter captions by metadata (recomputes the keyness table)"):
    choices = ui.load(dash.filter_choices)
    f1, f2, f3 = st.columns(3)
    start = end = None
    if choices["first"] is not None:
        use_time = f1.checkbox("Only captions in a time range", key="vocab_use_time")
        if use_time:
            span = f1.date_input(
                "From – to",
                (choices["first"], choices["last"]),
                min_value=choices["first"],
                max_value=choices["last"],
                key="vocab_span",
            )
            if isinstance(span, tuple) and len(span) == 2:
                start, end = (d.isoformat() for d in span)
    else:
        f1.caption("No caption has a timestamp.")
    authors = f2.multiselect(
        "Authors", choices["authors"], placeholder="any author", key="vocab_authors"
    )
    meta_key = f3.selectbox(
        "meta field", ["", *choices["meta_keys"]], key="vocab_meta_key",
        help="Columns of the sources that neco keeps in the meta column.",
    )  # fmt: skip
    meta_value = f3.text_input("contains", key="vocab_meta_value") if meta_key else ""
    filters = dash.CaptionFilter(start, end, tuple(authors), meta_key or None, meta_value or None)

if available[unit] is not None:
    st.info(ui.esc(f"The unit {unit!r} is not available here: {available[unit]}."))
    st.stop()

# 2. the comparison ---------------------------------------------------------------------------
patterns, problems = dash.valid_patterns(patterns)
for problem in problems:
    st.warning(ui.esc(problem))
view = ui.attempt(
    dash.vocabulary,
    communities=communities,
    against=against,
    unit=unit,
    min_count=int(min_count),
    filters=filters,
    stoplist=tuple(stoplist),
    patterns=tuple(patterns),
)
kept, points = view.terms, view.points
st.caption(
    ui.esc(
        f"Source: {view.source}. {len(kept):,} terms shown; {view.hidden:,} hidden by the "
        "stop-list and patterns."
    )
)

pick = alt.selection_point(fields=["term"], name="pick", on="click", clear="dblclick")
base = alt.Chart(points).encode(
    x=alt.X("rest_rate:Q", scale=alt.Scale(type="log"), title="reference, per 10,000 terms"),
    y=alt.Y("rate:Q", scale=alt.Scale(type="log"), title="community, per 10,000 terms"),
)
dots = base.mark_circle(size=36).encode(
    color=alt.Color(
        "logodds_z:Q",
        # Clipped at ±4: one community's own language (z of 20 or more) would otherwise
        # wash out every other term.
        scale=alt.Scale(scheme="redblue", domain=[-4, 4], clamp=True, reverse=True),
        title="log-odds z (±4+)",
    ),
    opacity=alt.condition(pick, alt.value(0.9), alt.value(0.25)),
    tooltip=[
        "term", "community", "reference", "count", "rest_count",
        alt.Tooltip("logodds_z:Q", format=".2f", title="log-odds z"),
        alt.Tooltip("g2:Q", format=".1f", title="G²"),
        alt.Tooltip("log_ratio:Q", format=".2f", title="log ratio"),
        alt.Tooltip("zero:N", title="never used in"),
    ],
).add_params(pick)  # fmt: skip
labels = base.mark_text(dy=-8, fontSize=11).encode(text="label:N")
layered = alt.layer(dots, labels)
panels = points["panel"].nunique() if len(points) else 0
if panels > 1:
    scatter = layered.properties(width=250, height=250).facet(
        facet=alt.Facet("panel:N", title=None), columns=3
    )
else:
    scatter = layered.properties(height=460)
st.subheader("Term frequencies")
st.caption(
    "Each point is a term (the 600 most frequent of each comparison), placed by its frequency "
    "in the community (up) and in the reference (right): top left is the community's own "
    "vocabulary. Terms one side never uses sit at that axis's left or bottom edge. Colour: "
    "log-odds z with an informative prior (Monroe et al. 2008), red = distinctive of the "
    "community, blue = of the reference. Click a term to read its concordance; double-click "
    "to clear. Frequencies are per 10,000 of the terms counted in the table (those seen at "
    "least the minimum count)."
)
ui.chart(
    scatter, points, "term-scatter",
    select=ui.pick_from_chart("term-scatter", "pick", "term", "vocab_term"),
)  # fmt: skip

st.subheader("Distinctive terms")
shown_communities = st.multiselect(
    "Show communities", sorted(kept["community"].unique()), placeholder="all", key="vocab_show"
)
table = kept if not shown_communities else kept[kept["community"].isin(shown_communities)]
columns = ["community", "reference", "term", "count", "rest_count", "doc_count", "logodds_z",
           "g2", "g2_p", "log_ratio"]  # fmt: skip
full = table[columns]
# The most distinctive terms of each comparison (a large corpus has hundreds of thousands
# of n-grams, which a browser table does not need); the CSV has them all.
SHOWN = 1000
table = full.groupby(["community", "reference"], sort=False).head(SHOWN).reset_index(drop=True)
st.caption(
    f"The {SHOWN:,} most distinctive terms of each comparison ({len(full):,} in all; the CSV has "
    "every one), by log-odds z; G² (Rayson & Garside 2000) with its p-value (uncorrected) and "
    "Hardie's log ratio. Click a row to read the term's concordance."
)
ui.table(
    table,
    "keyness",
    select=ui.pick_from_table("keyness", table, "term", "vocab_term"),
    height=380,
    download=full,
    column_config=ui.KEYNESS_FORMATS,
)

# 3. from a term to its captions ----------------------------------------------------------------
options = list(dict.fromkeys(table["term"].head(500)))
chosen_term = st.session_state.get("vocab_term")
if chosen_term and chosen_term not in options:
    options.insert(0, chosen_term)
term = st.selectbox(
    "Concordance of",
    options,
    index=None,
    key="vocab_term",  # a click on a point or a row sets it too
    placeholder="click a point or a row, or choose a term",
)
if term:
    in_communities = tuple(communities or ()) + ((against,) if against else ())
    lines = ui.attempt(dash.concordance, term, communities=in_communities)
    st.caption(ui.esc(f"{ui.plural(len(lines), 'line')} of “{term}”."))
    ui.kwic_block(lines, limit=15)
    st.page_link(
        "views/concordance.py",
        label="Open the full concordance, with collocates",
        icon=":material/arrow_forward:",
        query_params={"term": term},
    )
