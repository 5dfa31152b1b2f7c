"""What every page of the dashboard shares: the workspace, cached reads, safe text, downloads.

Pages import this module (Streamlit puts the entry file's folder on ``sys.path``). Data come
only from :mod:`neco.dashboard`; this module adds Streamlit's caching and the widgets that
every page repeats.
"""

from __future__ import annotations

import importlib.util
import io
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from neco import dashboard as dash
from neco.errors import NecoError
from neco.workspace import Workspace

esc = dash.md_escape
VL_CONVERT = importlib.util.find_spec("vl_convert") is not None


# --------------------------------------------------------------------------- the workspace


def workspace_path() -> Path | None:
    """The workspace given on the command line (``-- --workspace WS``) or in $NECO_WORKSPACE."""
    return dash.workspace_from_args(sys.argv, os.environ)


@st.cache_resource(max_entries=4, show_spinner=False)
def _reader(path: str, stamp: str | None) -> dash.WorkspaceReader:
    # One reader (and DuckDB connection) per state of the manifest: a stage that commits
    # changes the stamp, so the next run reads the new tables.
    return dash.WorkspaceReader(path)


def reader() -> dash.WorkspaceReader:
    """The current workspace's reader; stops the page with a message when there is none."""
    path = workspace_path()
    if path is None:
        st.error("No workspace given. Start the dashboard with: neco dashboard -w WORKSPACE")
        st.stop()
    ws = Workspace(path)
    if not ws.exists():
        st.error(f"No neco workspace at {esc(path)} (no manifest.json there). Create one with:")
        st.code(f"neco ingest SOURCE -w {path}\nneco social -w {path}", language="bash")
        st.stop()
    try:
        stamp = ws.manifest().get("updated")
    except NecoError as exc:
        st.error(esc(exc))
        st.stop()
    return _reader(str(ws.path.resolve()), stamp)


@st.cache_data(max_entries=512, show_spinner="Reading the workspace…")
def _load(name: str, path: str, stamp: str | None, args: tuple[Any, ...], kwargs: Any) -> Any:
    return getattr(dash, name)(_reader(path, stamp), *args, **dict(kwargs))


def load(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``function(reader, *args, **kwargs)`` from :mod:`neco.dashboard`, cached until the
    workspace's manifest changes."""
    r = reader()
    return _load(function.__name__, str(r.path), r.stamp, args, tuple(sorted(kwargs.items())))


def attempt(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """:func:`load`, showing a user error (a :class:`NecoError`) as a message and stopping."""
    try:
        return load(function, *args, **kwargs)
    except NecoError as exc:
        st.warning(esc(exc))
        st.stop()


def missing(table: str) -> None:
    """Say that ``table`` is not there yet, which stage makes it and the command to run."""
    r = reader()
    sentence, command = dash.how_to_make(table, r.path, r.manifest)
    st.info(esc(sentence) + " To make it, run:")
    st.code(command, language="bash")


def stale_notice(tables: Sequence[str]) -> None:
    """A warning naming the tables of ``tables`` that are stale, and why."""
    states = load(dash.table_states)
    stale = states[states["table"].isin(list(tables)) & (states["state"] == "stale")]
    if len(stale):
        pairs = zip(stale["table"], stale["why"], strict=True)
        items = "; ".join(f"{t} ({why})" for t, why in pairs)
        st.warning(
            esc(f"Stale: {items}. These results describe an earlier state of their inputs.")
            + " Rerun the stage (see **Runs**)."
        )


# --------------------------------------------------------------------------- tables, charts


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "table"


def _csv(frame: pd.DataFrame) -> Callable[[], bytes]:
    # Made when the button is clicked, not on every run: a large table takes seconds.
    return lambda: frame.to_csv(index=False).encode("utf-8")


def table(
    frame: pd.DataFrame,
    name: str,
    *,
    select: bool | Callable[[], None] = False,
    height: int | str = "auto",
    download: pd.DataFrame | None = None,
    **kw: Any,
) -> Any:
    """``frame`` as an interactive table (rendered on a canvas: text stays text) with a CSV
    download (of ``download`` when the table shows only part of it); with ``select``,
    single-row selection that reruns the page (and first calls ``select`` when it is a
    function, see :func:`pick_from_table`)."""
    # A fixed height only for long tables: a short one would show rows of empty cells.
    if len(frame) <= 10:
        height = "auto"
    options: dict[str, Any] = {"hide_index": True, "height": height, "key": f"table-{name}"}
    if select:
        on_select = select if callable(select) else "rerun"
        options.update(on_select=on_select, selection_mode="single-row")
    event = st.dataframe(frame, **options, **kw)
    st.download_button(
        f"Download {name} (CSV)",
        data=_csv(frame if download is None else download),
        file_name=f"{_slug(name)}.csv",
        mime="text/csv",
        key=f"csv-{name}",
        icon=":material/download:",
        type="tertiary",
    )
    return event


def _selection(event: Any) -> Any:
    # The value st.dataframe / st.altair_chart return, or the same kept in Session State.
    try:
        return event["selection"]
    except (KeyError, TypeError):
        return getattr(event, "selection", None)


def selected_row(event: Any, frame: pd.DataFrame) -> pd.Series | None:
    """The row of ``frame`` selected in a table made by :func:`table` with ``select``."""
    try:
        rows = _selection(event)["rows"]
    except (KeyError, TypeError):
        return None
    if not rows or rows[0] >= len(frame):
        return None
    return frame.iloc[rows[0]]


def _export(chart: alt.TopLevelMixin, fmt: str) -> Callable[[], bytes]:
    def make() -> bytes:
        with alt.data_transformers.disable_max_rows():
            if fmt == "png":
                buffer = io.BytesIO()
                chart.save(buffer, format="png", scale_factor=2)
                return buffer.getvalue()
            text = io.StringIO()
            chart.save(text, format=fmt)
            return text.getvalue().encode("utf-8")

    return make


def chart(
    spec: alt.TopLevelMixin,
    data: pd.DataFrame,
    name: str,
    *,
    select: bool | Callable[[], None] = False,
    title: str | None = None,
) -> Any:
    """Draw an Altair chart with its downloads: PNG and SVG (drawn offline by vl-convert,
    only when asked for), the Vega-Lite spec, and the data as CSV; ``title`` is given to the
    downloaded figures only (the page has its own headings). With ``select``, a click
    on a point reruns the page (and first calls ``select`` when it is a function, see
    :func:`pick_from_chart`)."""
    options: dict[str, Any] = {"key": f"chart-{name}", "width": "stretch"}
    if select:
        options.update(on_select=select if callable(select) else "rerun", selection_mode=None)
    event = st.altair_chart(spec, **options)
    exported = spec if title is None else spec.properties(title=title)
    slug = _slug(name)
    row = st.container(horizontal=True, gap="small")
    buttons: list[tuple[str, Any, str, str]] = []
    if VL_CONVERT:
        buttons += [
            ("PNG", _export(exported, "png"), f"{slug}.png", "image/png"),
            ("SVG", _export(exported, "svg"), f"{slug}.svg", "image/svg+xml"),
        ]
    buttons += [
        ("Vega-Lite", _export(exported, "json"), f"{slug}.vl.json", "application/json"),
        ("data CSV", _csv(data), f"{slug}.csv", "text/csv"),
    ]
    for label, payload, file_name, mime in buttons:
        row.download_button(
            label,
            data=payload,
            file_name=file_name,
            mime=mime,
            key=f"{label}-{name}",
            icon=":material/download:",
            type="tertiary",
        )
    if not VL_CONVERT:
        st.caption("PNG/SVG export needs vl-convert-python (pip install 'neco[dashboard]').")
    return event


def chart_selection(event: Any, param: str, field: str) -> str | None:
    """The value of ``field`` in the point the user clicked (selection ``param``)."""
    try:
        points = _selection(event)[param]
    except (KeyError, TypeError):
        return None
    if isinstance(points, list) and points and isinstance(points[0], dict):
        value = points[0].get(field)
        return None if value is None else str(value)
    return None


# The last click wins: a point of a chart and a row of a table both choose a term (or a
# node); each writes it into one Session State key, which a selectbox shows and changes.


def pick_from_chart(name: str, param: str, field: str, target: str) -> Callable[[], None]:
    """A callback for :func:`chart` ``name``: the clicked point's ``field`` into
    ``st.session_state[target]``."""

    def remember() -> None:
        value = chart_selection(st.session_state.get(f"chart-{name}"), param, field)
        if value is not None:
            st.session_state[target] = value

    return remember


def pick_from_table(name: str, frame: pd.DataFrame, column: str, target: str) -> Callable[[], None]:
    """A callback for :func:`table` ``name`` showing ``frame``: the selected row's
    ``column`` into ``st.session_state[target]``."""

    def remember() -> None:
        row = selected_row(st.session_state.get(f"table-{name}"), frame)
        if row is not None:
            st.session_state[target] = str(row[column])

    return remember


def kwic_block(lines: pd.DataFrame, limit: int = 200, height: int | None = None) -> None:
    """Concordance lines aligned on the match, in a plain-text block (never interpreted)."""
    if lines.empty:
        return
    shown = lines.head(limit)
    left = [" ".join(str(t).split()) for t in shown["left"]]
    right = [" ".join(str(t).split()) for t in shown["right"]]
    width = max(len(t) for t in left)
    text = "\n".join(
        f"{lf:>{width}}  {m}  {rt}"
        for lf, m, rt in zip(left, shown["match"].astype(str), right, strict=True)
    )
    tall = height is not None and len(shown) > 15
    st.code(text, language=None, wrap_lines=False, height=height if tall else "content")
    if len(lines) > limit:
        st.caption(f"First {limit:,} of {len(lines):,} lines; the table below has them all.")


def plural(n: int, word: str, words: str | None = None) -> str:
    """``1 line``, ``2 lines`` (with thousands separators)."""
    return f"{n:,} {word if n == 1 else (words or word + 's')}"


def mechanics_label(flag: bool) -> str:
    return f" — {dash.MECHANICS_LABEL}" if flag else ""


def community_colours(extra: Sequence[str] = ()) -> alt.Scale:
    """One colour per community, the same on every page (``extra`` adds other values)."""
    names = [*load(dash.communities), *extra]
    return alt.Scale(domain=names, scheme="tableau20" if len(names) > 10 else "tableau10")


#: Number formats of the keyness columns, for st.dataframe.
KEYNESS_FORMATS = {
    "logodds_z": st.column_config.NumberColumn("log-odds z", format="%.2f"),
    "g2": st.column_config.NumberColumn("G²", format="%.1f"),
    "g2_p": st.column_config.NumberColumn("G² p", format="%.1e"),
    "log_ratio": st.column_config.NumberColumn("log ratio", format="%.2f"),
}
