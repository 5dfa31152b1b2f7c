"""Every page of the dashboard, run by Streamlit's AppTest on the small workspace."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from neco import dashboard as dash
from neco.workspace import Workspace

from .conftest import APP, INJECTION, ingest_rows, page_text, raw_markdown

TIMEOUT = 60  # seconds; the first run imports pandas, DuckDB and the NLP layer


@pytest.fixture
def open_page(monkeypatch: pytest.MonkeyPatch, workspace: Path) -> Callable[..., AppTest]:
    def run(page: str, ws: Path | None = None, **query: str) -> AppTest:
        monkeypatch.setenv(dash.ENV_WORKSPACE, str(ws or workspace))
        at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
        at.run()
        for key, value in query.items():
            at.query_params[key] = value
        if page != "corpus":
            at.switch_page(f"views/{page}.py").run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    return run


def assert_no_live_markup(at: AppTest) -> None:
    """No untrusted text reached markdown unescaped: every < or * is backslash-escaped."""
    for source in raw_markdown(at):
        assert "<img" not in source.replace("\\<img", ""), source


def frames(at: AppTest) -> list:
    return [d.value for d in at.dataframe]


def chart_frames(at: AppTest) -> list:
    """The data of every Altair chart on the page (Streamlit sends it as Arrow)."""
    out = []
    for element in at.get("vega_lite_chart"):
        for dataset in element.proto.datasets:
            out.append(pa.ipc.open_stream(dataset.data.data).read_all().to_pandas())
    return out


def test_pages_corpus_shows_communities_rejections_and_captions(open_page) -> None:
    at = open_page("corpus")
    text = page_text(at)
    assert "**forum** 5 · **museum** 5 · **prompts** 5" in text
    assert "Rejected rows 1" in text
    tables = frames(at)
    captions = next(t for t in tables if "text" in t.columns and "meta" in t.columns)
    assert INJECTION in set(captions["text"])  # in a table: drawn as text, never as HTML
    rejected = next(t for t in tables if list(t.columns) == ["reason", "source", "rows"])
    assert rejected["reason"].tolist() == ["empty_text"]
    sample = next(t for t in tables if "sampled" in t.columns)
    assert sample["sampled"].sum() == 15
    assert any(e.proto.spec for e in at.get("vega_lite_chart"))
    assert_no_live_markup(at)


def test_pages_corpus_search_finds_the_injection_caption_as_text(open_page) -> None:
    at = open_page("corpus")
    at.text_input(key="q").input("onerror").run()
    captions = next(t for t in frames(at) if "meta" in t.columns)
    assert captions["text"].tolist() == [INJECTION]
    assert "Matching: 1 caption;" in page_text(at)


def test_pages_vocabularies_distinctive_term_and_its_concordance(open_page) -> None:
    at = open_page("vocabularies")
    keyness = next(t for t in frames(at) if "logodds_z" in t.columns)
    museum = keyness[keyness["community"] == "museum"]
    assert museum.iloc[0]["term"] == "carve"
    assert "x, oc" in at.text_area(key="vocab_stop").value
    term_box = next(s for s in at.selectbox if s.label == "Concordance of")
    term_box.select("carve").run()
    text = page_text(at)
    assert "4 lines of “carve”" in text
    assert "A  carved  oak chest" in text  # a concordance line, aligned on its match
    assert_no_live_markup(at)


def test_pages_vocabularies_two_communities_and_stoplist(open_page) -> None:
    at = open_page("vocabularies")
    at.radio(key="vocab_mode").set_value("two").run()
    at.selectbox(key="vocab_focus").select("museum").run()
    at.selectbox(key="vocab_against").select("prompts").run()
    at.text_area(key="vocab_stop").input("carve").run()
    keyness = next(t for t in frames(at) if "logodds_z" in t.columns)
    assert set(keyness["reference"]) == {"prompts"} and set(keyness["community"]) == {"museum"}
    assert "carve" not in set(keyness["term"])
    assert "hidden by the stop-list" in page_text(at)


def test_pages_vocabularies_unit_needing_full_parse_says_so(open_page) -> None:
    at = open_page("vocabularies")
    at.selectbox(key="vocab_unit").select("chunk").run()
    assert "full parse" in page_text(at)
    assert not at.exception


def test_pages_concordance_lines_and_collocates(open_page) -> None:
    at = open_page("concordance", term="light")
    text = page_text(at)
    assert "harbour  light" in text  # a KWIC line, aligned on its match
    lines = next(t for t in frames(at) if "match" in t.columns)
    assert set(lines["community"]) == {"prompts", "forum"}
    assert lines["thread_id"].notna().any()
    collocates = next(t for t in frames(at) if "npmi" in t.columns)
    assert "volumetric" in set(collocates["term"])
    at.multiselect(key="kwic_in").select("forum").run()
    lines = next(t for t in frames(at) if "match" in t.columns)
    assert set(lines["community"]) == {"forum"}


def test_pages_concordance_shows_injection_caption_as_text(open_page) -> None:
    at = open_page("concordance", term="onerror")
    code = "\n".join(c.value for c in at.code)
    assert "<img src=x  onerror  =alert(1)>" in code  # a code block: text, not markup
    assert_no_live_markup(at)


def test_pages_graphs_cooccurrence_and_discourse(open_page) -> None:
    at = open_page("graphs")
    text = page_text(at)
    assert "Showing" in text and "pruned" in text
    nodes = next(t for t in frames(at) if "distinctive_of" in t.columns)
    assert "light" in set(nodes["node"])
    at.selectbox(key="graph_node").select("light").run()  # as a click on the node does
    assert "lines of “light” in all" in page_text(at)
    neighbours = next(t for t in frames(at) if "npmi" in t.columns)
    assert len(neighbours) > 0
    at.slider(key="graph_top").set_value(20).run()
    at.radio(key="graph_kind").set_value("discourse").run()
    nodes = next(t for t in frames(at) if "thread" in t.columns)
    assert "f1" in set(nodes["node"])
    at.radio(key="graph_kind").set_value("semantic").run()
    assert "social.semantic" in page_text(at)  # skipped here: says which stage makes it


def test_pages_survival_ledger_labels_and_reasons(open_page) -> None:
    at = open_page("survival")
    text = page_text(at)
    assert "fewer than 3 sampled captions have a semantic neighbour" in text  # not measured
    assert dash.MECHANICS_LABEL in text
    assert f"Stage neural.latents — {dash.MECHANICS_LABEL}" in text
    tables = frames(at)
    ledgers = [t for t in tables if "null_mean" in t.columns]
    values = {v for t in ledgers for v in t["value"].dropna()}
    assert 0.4242 in values
    latents = next(t for t in ledgers if set(t["metric"]) == {"cka"})
    assert latents["weights"].tolist() == [dash.MECHANICS_LABEL]
    specs = [e.proto.spec for e in at.get("vega_lite_chart")]
    assert any(dash.MECHANICS_LABEL in s for s in specs)  # on the chart itself
    lost = next(t for t in chart_frames(at) if "lost" in t.columns)
    assert "trailing" in set(lost["word"])
    latents = next(t for t in tables if "psnr" in t.columns)
    assert latents["psnr"].tolist() == [31.5] and latents["local_path"].notna().all()
    assert len(at.get("image")) == 1  # the original image, a local file the corpus names
    assert "f1 · psnr 31.50" in text


def test_pages_survival_without_ledger_says_run_neco_survival(open_page, copy_of: Path) -> None:
    ws = Workspace(copy_of)
    ws.commit_stage(None, {}, replaces=["survival/ledger", "survival/examples"])
    at = open_page("survival", ws=copy_of)
    assert "run neco survival" in page_text(at)


def test_pages_runs_sources_stages_and_states(open_page, workspace: Path) -> None:
    at = open_page("runs")
    tables = frames(at)
    stages = next(t for t in tables if "components" in t.columns)
    assert {"social.parse", "neural.tokens"} <= set(stages["stage"])
    states = next(t for t in tables if "why" in t.columns)
    assert "survival/ledger" in set(states["table"])
    sha = Workspace(workspace).manifest()["sources"][0]["sha256"]
    assert sha in page_text(at)
    assert "social.relations** skipped: relations need dependency parses" in page_text(at)


def test_pages_missing_workspace_is_a_message(open_page, tmp_path: Path) -> None:
    at = open_page("corpus", ws=tmp_path / "nowhere")
    assert "No neco workspace at" in page_text(at)
    assert "neco ingest SOURCE" in page_text(at)


def test_pages_ingest_only_workspace_explains_missing_tables(open_page, tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    ws.ingest([ingest_rows(tmp_path / "src", [("a", "A red kite", "birds", "", "", "")])])
    for page, expected in [
        ("corpus", "sample/items"),
        ("vocabularies", "neco social"),
        ("concordance", "neco social"),
        ("graphs", "social.cooccurrence"),
        ("survival", "run neco survival"),
        ("runs", "Every table is fresh"),
    ]:
        at = open_page(page, ws=ws.path)
        assert expected in page_text(at), page


def test_pages_stale_tables_are_named(open_page, copy_of: Path, tmp_path: Path) -> None:
    ws = Workspace(copy_of)
    ws.ingest([ingest_rows(tmp_path / "more", [("n1", "A grey heron", "museum", "", "", "")],
                           "more.csv")])  # fmt: skip
    at = open_page("vocabularies", ws=copy_of)
    warning = "\n".join(w.value for w in at.warning)
    assert "Stale" in warning and "social/keyness" in warning.replace("\\", "")
    at = open_page("runs", ws=copy_of)
    assert "stale table" in page_text(at)


def test_pages_chart_downloads_draw_png_and_svg_offline() -> None:
    pytest.importorskip("vl_convert", reason="PNG/SVG export needs vl-convert-python")
    import sys

    import altair as alt
    import pandas as pd

    sys.path.insert(0, str(APP.parent))
    try:
        import neco_ui
    finally:
        sys.path.remove(str(APP.parent))
    data = pd.DataFrame({"community": ["a", "b"], "metric": ["m", "m"], "value": [0.2, 0.4]})
    pick = alt.selection_point(fields=["community"], name="cell")
    chart = (
        alt.layer(
            alt.Chart(data).mark_point().encode(x="value:Q", y="community:N").add_params(pick)
        )
        .facet(facet="metric:N")
        .properties(title=f"stage — {dash.MECHANICS_LABEL}")
    )  # the shape of the Survival page's charts: layered, faceted, with a selection
    png = neco_ui._export(chart, "png")()
    svg = neco_ui._export(chart, "svg")().decode()
    spec = neco_ui._export(chart, "json")().decode()
    assert png.startswith(b"\x89PNG")
    assert svg.lstrip().startswith("<svg") and dash.MECHANICS_LABEL in svg
    assert '"facet"' in spec
