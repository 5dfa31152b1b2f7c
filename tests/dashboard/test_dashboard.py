"""neco.dashboard: the data the pages show, checked against the library's own functions."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import neco
from neco import dashboard as dash
from neco.cli import main
from neco.errors import NecoError
from neco.social import vocab
from neco.workspace import Workspace

from .conftest import INJECTION


@pytest.fixture
def reader(workspace: Path) -> dash.WorkspaceReader:
    return dash.WorkspaceReader(workspace)


def test_dashboard_md_escape_makes_markup_inert() -> None:
    escaped = dash.md_escape(INJECTION + " *x* [a](javascript:1) $x$ :red[y]")
    for special in "<>*[]()$:":
        assert special not in escaped.replace("\\" + special, "")
    assert dash.md_escape("two\nlines") == "two lines"


def test_dashboard_workspace_from_args_prefers_the_command_line(tmp_path: Path) -> None:
    env = {dash.ENV_WORKSPACE: str(tmp_path / "env")}
    assert dash.workspace_from_args(["app.py", "--workspace", "cli"], env) == Path("cli")
    assert dash.workspace_from_args(["app.py", "--workspace=eq"], env) == Path("eq")
    assert dash.workspace_from_args(["pytest", "-x"], env) == tmp_path / "env"
    assert dash.workspace_from_args(["app.py"], {}) is None


def test_dashboard_launch_command_serves_the_app_on_localhost(tmp_path: Path) -> None:
    command = dash.launch_command(tmp_path, port=8600)
    assert command[1:4] == ["-m", "streamlit", "run"]
    assert Path(command[4]) == dash.app_path() and dash.app_path().name == "app.py"
    options = dict(zip(command[5:-3:2], command[6:-3:2], strict=True))
    assert options["--server.address"] == "127.0.0.1"
    assert options["--server.port"] == "8600"
    assert options["--server.headless"] == "true"
    assert command[-3:] == ["--", "--workspace", str(tmp_path.resolve())]
    with pytest.raises(NecoError, match="port"):
        dash.launch_command(tmp_path, port=0)


def test_dashboard_app_path_missing_is_a_user_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(neco, "__file__", str(tmp_path / "site" / "neco" / "__init__.py"))
    with pytest.raises(NecoError, match=r"dashboards/app\.py"):
        dash.app_path()


def test_dashboard_cli_passes_workspace_host_and_port(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    monkeypatch.setattr(dash, "launch", lambda ws, **kw: calls.append((ws, kw)) or 0)
    assert main(["dashboard", "-w", str(workspace), "--port", "8765"]) == 0
    assert calls == [(workspace, {"host": "127.0.0.1", "port": 8765})]


def test_dashboard_reader_leaves_the_workspace_database_alone(workspace: Path) -> None:
    database = Workspace(workspace).database_path
    before = database.stat().st_mtime_ns
    r = dash.WorkspaceReader(workspace)
    assert r.sql("SELECT count(*) AS n FROM corpus")["n"].iloc[0] == 15
    assert database.stat().st_mtime_ns == before


def test_dashboard_community_sizes_and_rejected_rows(reader: dash.WorkspaceReader) -> None:
    sizes = reader and dash.community_sizes(reader).set_index("community")
    assert sizes["captions"].to_dict() == {"forum": 5, "museum": 5, "prompts": 5}
    assert sizes.loc["forum", "threads"] == 1
    counts = dash.rejected_counts(reader)
    assert counts[["reason", "rows"]].values.tolist() == [["empty_text", 1]]
    assert dash.rejected_rows(reader, "empty_text")["reason"].tolist() == ["empty_text"]
    assert dash.rejected_rows(reader, "no_such_reason").empty


def test_dashboard_caption_lengths_share_sums_to_one(reader: dash.WorkspaceReader) -> None:
    lengths = dash.caption_lengths(reader, cap=20)
    assert lengths.groupby("community")["share"].sum().round(9).eq(1).all()
    assert lengths["words"].max() == 20  # the long prompt is counted at the cap
    assert lengths.query("community == 'museum'")["captions"].sum() == 5


def test_dashboard_search_is_a_literal_substring(reader: dash.WorkspaceReader) -> None:
    found, total = dash.search_captions(reader, "onerror=alert(1)")
    assert total == 1 and found["text"].tolist() == [INJECTION]
    # SQL and LIKE syntax in the search box is text, not syntax.
    assert dash.search_captions(reader, "' OR 1=1 --")[1] == 0
    assert dash.search_captions(reader, "%")[1] == 0
    _, museum = dash.search_captions(reader, "carved", ("museum",))
    assert museum == 5


def test_dashboard_stored_keyness_equals_neco_vocab(reader: dash.WorkspaceReader) -> None:
    minimum = dash.stored_keyness_min_count(reader)
    stored, source = dash.keyness(reader, min_count=minimum)
    assert "stored table" in source
    computed = vocab.keyness(reader.ws, min_count=minimum).to_pandas()
    key = ["community", "reference", "term"]
    pd.testing.assert_frame_equal(
        stored.sort_values(key).reset_index(drop=True),
        computed.sort_values(key).reset_index(drop=True),
    )
    museum = stored.query("community == 'museum'")
    assert museum.iloc[0]["term"] == "carve"  # the lexical lemma of "carved"


@pytest.mark.parametrize(
    ("unit", "communities", "against"),
    [("lemma", ["museum"], "prompts"), ("ngram", None, None), ("ngram", ["forum"], None)],
)
def test_dashboard_computed_keyness_equals_neco_vocab(
    reader: dash.WorkspaceReader, unit: str, communities: list[str] | None, against: str | None
) -> None:
    ours, source = dash.keyness(
        reader, communities=communities, against=against, unit=unit, min_count=1
    )
    assert "as neco vocab does" in source
    theirs = vocab.keyness(
        reader.ws, communities=communities, against=against, unit=unit, min_count=1
    ).to_pandas()
    pd.testing.assert_frame_equal(ours, theirs)


def test_dashboard_keyness_of_one_prompt_community_says_why(reader: dash.WorkspaceReader) -> None:
    with pytest.raises(NecoError, match="only prompts has any"):
        dash.keyness(reader, unit="specifier")


def test_dashboard_filtered_keyness_counts_only_passing_captions(
    reader: dash.WorkspaceReader,
) -> None:
    everyone = dash.CaptionFilter(start="2000-01-01")
    filtered, source = dash.keyness(reader, min_count=1, filters=everyone)
    assert "15 captions" in source
    full, _ = dash.keyness(reader, min_count=1)
    key = ["community", "reference", "term"]
    pd.testing.assert_frame_equal(
        filtered.sort_values(key).reset_index(drop=True),
        full.sort_values(key).reset_index(drop=True),
        check_dtype=False,
    )
    # Only 2023 onwards: museum keeps one caption (m5), so "porcelain" is gone.
    late, source = dash.keyness(reader, min_count=1, filters=dash.CaptionFilter(start="2023-01-01"))
    assert "11 captions" in source
    assert "porcelain" not in set(late["term"]) and "silver" in set(late["term"])
    # nova writes prompts, ana in the forum: two communities left to compare.
    two, _ = dash.keyness(reader, min_count=1, filters=dash.CaptionFilter(authors=("nova", "ana")))
    assert set(two["community"]) == {"prompts", "forum"}
    with pytest.raises(NecoError, match="No caption passes"):
        dash.keyness(reader, filters=dash.CaptionFilter(authors=("nobody",)))


def test_dashboard_filter_terms_stoplist_and_patterns() -> None:
    frame = pd.DataFrame({"term": ["x", "OC", "1600x1200", "kite", "oak"]})
    kept, hidden = dash.filter_terms(frame, dash.parse_stoplist("x, oc"), [r"^\d+x\d+$", "^o"])
    assert kept["term"].tolist() == ["kite"] and hidden == 4
    with pytest.raises(NecoError, match="not valid"):
        dash.filter_terms(frame, [], ["("])


def test_dashboard_scatter_points_one_panel_per_comparison(reader: dash.WorkspaceReader) -> None:
    frame, _ = dash.keyness(reader, min_count=1)
    points = dash.scatter_points(frame, per_panel=5, labels=1)
    assert sorted(points["panel"].unique()) == [
        "forum vs rest", "museum vs rest", "prompts vs rest",
    ]  # fmt: skip
    assert points.groupby("panel").size().max() <= 5
    assert (points["rate"] > 0).all() and (points["rest_rate"] > 0).all()
    museum = dash.scatter_points(frame).query("panel == 'museum vs rest'")
    n_focus = frame.query("community == 'museum'")["count"].sum()
    carve = museum.set_index("term").loc["carve"]
    assert carve["rate"] == pytest.approx(carve["count"] / n_focus * 10_000)


def test_dashboard_concordance_equals_neco_kwic(reader: dash.WorkspaceReader) -> None:
    for term, communities in [("light", ()), ("oil on canvas", ()), ("carved", ("museum",))]:
        ours = dash.concordance(reader, term, communities=communities)
        theirs = vocab.concordance(
            reader.ws, term, community=communities[0] if communities else None
        )
        cols = ["id", "community", "left", "match", "right", "start", "end"]
        assert ours[cols].sort_values(cols).values.tolist() == (
            theirs[cols].sort_values(cols).values.tolist()
        )
    lines = dash.concordance(reader, "onerror")
    assert lines["caption"].tolist() == [INJECTION]
    assert lines["thread_id"].notna().all() and lines["author"].tolist() == ["eve"]


def test_dashboard_collocates_equal_neco_collocates(reader: dash.WorkspaceReader) -> None:
    for community in (None, "prompts"):
        ours = dash.collocates(reader, "light", community=community, min_count=1)
        theirs = vocab.collocates(reader.ws, "light", community=community, min_count=1)
        pd.testing.assert_frame_equal(ours, theirs)


def test_dashboard_graphs_prune_to_top_nodes(reader: dash.WorkspaceReader) -> None:
    full = dash.draw_graph(reader, "cooccurrence", "all", top_n=500)
    assert full.pruned_nodes == 0 and full.total_nodes == len(full.nodes) > 3
    small = dash.draw_graph(reader, "cooccurrence", "all", top_n=3)
    assert len(small.nodes) == 3 and small.pruned_nodes == full.total_nodes - 3
    assert set(small.nodes["node"]) == set(full.nodes.nlargest(3, "degree")["node"]) or (
        small.nodes["degree"].min() >= full.nodes["degree"].nlargest(3).min()
    )
    kept = set(small.nodes["node"])
    assert small.edges["source"].isin(kept).all() and small.edges["target"].isin(kept).all()
    assert small.pruned_edges == full.total_edges - len(small.edges)
    assert {"x", "y", "distinctive_of", "cluster"} <= set(full.nodes.columns)
    replies = dash.draw_graph(reader, "discourse", "forum")
    assert replies.total_edges == 4 and "f1" in set(replies.nodes["node"])
    neighbours = dash.graph_neighbours(reader, "discourse", "forum", "f1")
    assert set(neighbours["neighbour"]) == {"f2", "f4", "f5"}
    assert dash.graph_scopes(reader, "semantic") == []  # the semantic step was skipped


def test_dashboard_ledger_labels_mechanics_only(reader: dash.WorkspaceReader) -> None:
    ledger = dash.ledger(reader)
    assert ledger.loc[ledger["mechanics_only"], "weights"].tolist() == [dash.MECHANICS_LABEL]
    assert set(ledger.loc[~ledger["mechanics_only"], "weights"]) == {"pretrained"}
    examples = dash.survival_examples(reader, "neural.text", "museum")
    assert examples["id"].tolist() == ["m1"]


def test_dashboard_lost_words_are_past_the_77_token_cut(reader: dash.WorkspaceReader) -> None:
    lost = dash.lost_words(reader)
    assert set(lost["community"]) == {"prompts"}
    assert {"trailing", "window"} <= set(lost["word"])
    assert not lost["word"].str.fullmatch(r"\W+").any()  # punctuation is not a word


def test_dashboard_local_image_shows_only_known_local_files(tmp_path: Path) -> None:
    picture = tmp_path / "a.png"
    picture.write_bytes(b"\x89PNG")
    known = {str(picture), "https://example.org/b.png", str(tmp_path / "gone.png")}
    assert dash.local_image(str(picture), known) == picture
    assert dash.local_image(str(picture), set()) is None  # not named by the corpus
    assert dash.local_image("https://example.org/b.png", known) is None
    assert dash.local_image(str(tmp_path / "gone.png"), known) is None


def test_dashboard_runs_records_and_citation(reader: dash.WorkspaceReader) -> None:
    stages = dash.stage_records(reader).set_index("stage")
    assert stages.loc["social.relations", "status"] == "skipped"
    assert "dependency parses" in stages.loc["social.relations", "reason"]
    text = dash.citation(reader)
    assert reader.manifest["sources"][0]["sha256"] in text
    states = dash.table_states(reader)
    assert set(states["state"]) <= {"fresh", "no record"}


def test_dashboard_how_to_make_gives_the_skip_reason(reader: dash.WorkspaceReader) -> None:
    sentence, command = dash.how_to_make("social/relations", reader.path, reader.manifest)
    assert "skipped" in sentence and "dependency parses" in sentence
    assert command == f"neco social --mode full -w {reader.path}"
