"""neco's dashboard: the social and the neural side of a workspace, side by side.

Start it with ``neco dashboard -w WORKSPACE`` (or ``streamlit run dashboards/app.py --
--workspace WORKSPACE``). The pages only read the workspace, through :mod:`neco.dashboard`.
"""

from __future__ import annotations

import neco_ui as ui
import streamlit as st

from neco import dashboard as dash

st.set_page_config(page_title="neco", page_icon=":material/hub:", layout="wide")

# The pages live in views/, not pages/: Streamlit runs a file of a pages/ folder on its own
# (without this entry file, its navigation or its layout) when a new session opens its
# address directly, e.g. a link to /concordance?term=light.
PAGES = [
    st.Page("views/corpus.py", title="Corpus", icon=":material/table_rows:", default=True),
    st.Page("views/vocabularies.py", title="Vocabularies", icon=":material/compare_arrows:"),
    st.Page("views/concordance.py", title="Concordance", icon=":material/format_align_center:"),
    st.Page("views/graphs.py", title="Graphs", icon=":material/hub:"),
    st.Page("views/survival.py", title="Survival", icon=":material/monitoring:"),
    st.Page("views/runs.py", title="Runs", icon=":material/history:"),
]
page = st.navigation(PAGES)

r = ui.reader()  # stops with a message when there is no workspace
with st.sidebar:
    info = ui.load(dash.overview)
    st.caption("Workspace")
    st.code(str(r.path), language=None, wrap_lines=True)
    st.caption(
        f"{info['captions']:,} captions · {info['communities']} communities · "
        f"{info['sources']} sources · updated {ui.esc(info['updated'])}"
    )
    states = ui.load(dash.table_states)
    n_stale = int((states["state"] == "stale").sum())
    if n_stale:
        st.warning(
            f"{n_stale} stale table(s): their inputs changed since they were made. See Runs."
        )

page.run()
