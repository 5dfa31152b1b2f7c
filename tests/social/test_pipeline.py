"""The NLP layer end to end on a small workspace, through the API and the CLI."""

from __future__ import annotations

import json

import networkx as nx
import pytest

from neco.cli import main
from neco.errors import NecoError
from neco.social.parse import ParseConfig
from neco.social.pipeline import SocialConfig, run_social
from neco.workspace import Workspace

BIRDS = [
    "A red kite hovers over the dunes",
    "Two red kites circle above the dunes",
    "A red kite and a buzzard over the dunes",
    "The red kite glides over the marsh",
    "A heron stands in the marsh reeds",
    "A grey heron in the marsh at dawn",
]
PROMPTS = [
    "red kite, (dramatic sky:1.3), masterpiece, best quality, 8k",
    "castle on a hill, matte painting, by greg rutkowski, highly detailed",
    "cyberpunk street, neon rain, cinematic lighting, 8k, masterpiece",
    "portrait of a knight, ((detailed face)), art by alphonse mucha, best quality",
    "red kite over dunes, watercolor, soft light, masterpiece",
    "foggy harbour, oil painting, highly detailed, 8k, trending on artstation",
]


@pytest.fixture
def workspace(tmp_path):
    captions = tmp_path / "captions.csv"
    rows = ["id,text,community"]
    rows += [f"b{i},{t},birds" for i, t in enumerate(BIRDS)]
    rows += [f'p{i},"{t}",prompts' for i, t in enumerate(PROMPTS)]
    captions.write_text("\n".join(rows) + "\n", encoding="utf-8")
    forum = tmp_path / "forum.jsonl"
    posts = [
        ("f1", None, "ana", "My red kite shot from the dunes, 1/2000s at f/8"),
        ("f2", "f1", "ben", "Great wings, I would crop the dunes a little"),
        ("f3", "f2", "ana", "Thanks, I will crop it tonight"),
        ("f4", "f1", "cy", "The sky is a bit noisy"),
    ]
    forum.write_text(
        "\n".join(
            json.dumps({"id": i, "reply_to": p, "user": u, "text": t, "community": "forum"})
            for i, p, u, t in posts
        )
        + "\n",
        encoding="utf-8",
    )
    ws = Workspace(tmp_path / "ws")
    ws.ingest([captions, forum])
    return ws


def test_pipeline_full_run_writes_every_table(workspace):
    config = SocialConfig(
        parse=ParseConfig(mode="full"), min_count=2, semantic_k=3, backbone_alpha=0.9
    )
    result = run_social(workspace, config)
    assert list(result.steps) == [
        "parse",
        "prompts",
        "keyness",
        "cooccurrence",
        "discourse",
        "sample",
        "semantic",
        "relations",
    ]
    assert {s["status"] for s in result.steps.values()} == {"ran"}
    assert result.steps["prompts"]["communities"] == ["prompts"]
    tables = set(workspace.tables())
    for name in (
        "social/tokens",
        "social/keyness",
        "social/specifiers",
        "social/cooc_nodes",
        "social/cooc_edges",
        "social/discourse_threads",
        "social/semantic_edges",
        "social/reference_vectors",
        "sample/items",
        "social/relations",
        "social/relation_counts",
    ):
        assert name in tables
    keyness = (
        workspace.sql(
            "SELECT term FROM social_keyness WHERE community = 'birds' "
            "ORDER BY logodds_z DESC LIMIT 3"
        )
        .column("term")
        .to_pylist()
    )
    assert "marsh" in keyness
    artists = (
        workspace.sql(
            "SELECT DISTINCT artist FROM social_specifiers WHERE artist IS NOT NULL ORDER BY 1"
        )
        .column("artist")
        .to_pylist()
    )
    assert artists == ["alphonse mucha", "greg rutkowski"]
    threads = workspace.sql("SELECT root, size, depth, authors FROM social_discourse_threads")
    assert threads.to_pylist() == [{"root": "f1", "size": 4, "depth": 2, "authors": 3}]
    semantic = workspace.sql("SELECT count(DISTINCT source) AS n FROM social_semantic_edges")
    assert semantic.column("n").to_pylist()[0] >= 10
    relations = workspace.sql(
        "SELECT term_a, relation, term_b FROM social_relations "
        "WHERE kind = 'amod' AND term_b = 'kite'"
    ).to_pylist()
    assert {"term_a": "red", "relation": "amod", "term_b": "kite"} in relations
    gexf = workspace.path / "social" / "graphs" / "cooccurrence_all.gexf"
    graph = nx.read_gexf(gexf)
    assert graph.number_of_nodes() > 0 and "community" in next(iter(graph.nodes.values()))
    replies = nx.read_gexf(workspace.path / "social" / "graphs" / "discourse_replies.gexf")
    assert sorted(replies.edges()) == [("f2", "f1"), ("f3", "f2"), ("f4", "f1")]


def test_pipeline_second_run_skips_every_unchanged_stage(workspace):
    config = SocialConfig(parse=ParseConfig(mode="lexical"), skip=("semantic",))
    first = run_social(workspace, config)
    tokens = workspace.read_table("social/tokens")
    again = run_social(workspace, config)
    assert first.steps["parse"]["status"] == "ran"
    assert {name: s["status"] for name, s in again.steps.items()} == {
        "parse": "unchanged",
        "prompts": "unchanged",
        "keyness": "unchanged",
        "cooccurrence": "unchanged",
        "discourse": "unchanged",
        "relations": "skipped",
    }
    assert workspace.read_table("social/tokens").equals(tokens)
    assert again.steps["relations"]["reason"] == (
        "relations need dependency parses: run neco social --mode full"
    )
    with pytest.raises(NecoError, match="Unknown step"):
        run_social(workspace, SocialConfig(skip=("everything",)))


def test_pipeline_cli_vocab_kwic_collocates_graph(workspace, tmp_path, capsys):
    ws = str(workspace.path)
    assert main(["vocab", "-w", ws]) == 2  # no parse yet
    assert "Run: neco social" in capsys.readouterr().err
    assert main(["social", "-w", ws, "--mode", "lexical", "--skip", "semantic", "--json"]) == 0
    steps = json.loads(capsys.readouterr().out)["stages"]
    assert steps["social.parse"]["mode"] == "lexical"
    out = tmp_path / "keyness.csv"
    code = main(
        ["vocab", "-w", ws, "--community", "birds", "--min-count", "2", "--json", "--out", str(out)]
    )
    assert code == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["term"] in {"marsh", "heron", "dune"}
    assert out.read_text().startswith('"community","reference","term"')
    # specifiers exist only in the one prompt community: nothing to compare them with
    assert main(["vocab", "-w", ws, "--unit", "specifier", "--json", "--min-count", "2"]) == 2
    assert "only prompts has any" in capsys.readouterr().err
    assert main(["kwic", "red kite", "-w", ws, "--json", "--community", "birds"]) == 0
    lines = json.loads(capsys.readouterr().out)
    assert len(lines) == 4 and {line["match"] for line in lines} == {"red kite", "red kites"}
    assert main(["collocates", "dune", "-w", ws, "--json", "--min-count", "1"]) == 0
    assert "red" in {r["term"] for r in json.loads(capsys.readouterr().out)}
    target = tmp_path / "forum.graphml"
    assert main(["graph", "-w", ws, "--kind", "discourse", "--out", str(target), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["nodes"], summary["edges"]) == (4, 3)
    assert nx.read_graphml(target).number_of_edges() == 3
    assert main(["vocab", "-w", ws, "--unit", "chunk"]) == 2
    assert "needs the full parse" in capsys.readouterr().err


def test_pipeline_graph_projections(workspace, tmp_path, capsys):
    ws = str(workspace.path)
    main(["social", "-w", ws, "--mode", "lexical", "--skip", "semantic", "--json"])
    capsys.readouterr()
    target = tmp_path / "captions.gexf"
    code = main(
        [
            "graph",
            "-w",
            ws,
            "--kind",
            "captions",
            "--out",
            str(target),
            "--json",
            "--min-count",
            "2",
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    graph = nx.read_gexf(target)
    assert graph.number_of_nodes() == summary["nodes"] == 16  # every caption is a node
    assert graph.has_edge("b0", "b1") or graph.has_edge("b1", "b0")  # "red kite ... dunes"
    assert main(["graph", "-w", ws, "--kind", "tree", "--out", str(target)]) == 2


def test_pipeline_cli_lang_model_option(workspace, capsys):
    ws = str(workspace.path)
    assert main(["social", "-w", ws, "--lang-model", "de"]) == 2
    assert "--lang-model takes LANG=MODEL" in capsys.readouterr().err
    # a model that is not installed is named in the error, for the language it was asked for
    frame_lang = workspace.sql("SELECT DISTINCT lang FROM corpus").column("lang").to_pylist()
    assert frame_lang == [None]  # this corpus has no language column: every row is English
    code = main(
        [
            "social",
            "-w",
            ws,
            "--mode",
            "lexical",
            "--lang-model",
            "en=nope_core_sm",
            "--skip",
            "semantic",
        ]
    )
    assert code == 2
    assert "The spaCy model 'nope_core_sm' for 'en' is not installed" in capsys.readouterr().err


def test_pipeline_every_exported_graph_reads_back_and_names_stay_apart(tmp_path):
    # ids and authors are stored as written (control characters and all); terms may hold
    # U+FFFE; communities "a/b", "a_b" and "a.b" used to share one file name.
    import random

    import numpy as np

    from neco.social.graph_export import KINDS, make_graph
    from neco.social.graphs import export_graph
    from neco.social.semantic import semantic_graph

    rng = random.Random(5)
    bad = [chr(c) for c in (0x01, 0x02, 0x0B, 0x1F)] + ["\ufffe", "\uffff"]
    communities = ["a/b", "a_b", "a.b", "b"]
    captions = BIRDS + PROMPTS
    records = []
    for i in range(24):
        words = captions[i % len(captions)].split()
        text = " ".join(w + rng.choice(["", "", "\ufffe"]) for w in words)
        records.append(
            {
                "id": f"c{i}{rng.choice(bad)}",
                "text": text,
                "community": communities[i % 4],
                "author": f"user{i % 3}{rng.choice(bad)}",
                "reply_to": f"c{i - 1}" if i % 4 else None,
            }
        )
    records = [{**r, "reply_to": records[i - 1]["id"] if i % 4 else None}
               for i, r in enumerate(records)]  # fmt: skip
    src = tmp_path / "hostile.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in records), encoding="utf-8")
    ws = Workspace(tmp_path / "ws")
    ws.ingest([src])
    result = run_social(
        ws, SocialConfig(parse=ParseConfig(mode="lexical"), skip=("semantic",), min_count=1)
    )
    cooc = next(s for s in result.stages if s.name == "social.cooccurrence")
    files = cooc.summary["graph_files"]
    assert len(files) == len(set(files)) == 5  # the whole corpus and four communities
    assert files[0] == "cooccurrence_all.gexf"
    folder = ws.path / "social" / "graphs"
    written = sorted(p.name for p in folder.glob("*.gexf"))
    assert set(files) <= set(written)
    for name, scope in zip(files, cooc.summary["scopes"], strict=True):
        assert nx.read_gexf(folder / name).number_of_nodes() == scope["nodes"], name
    replies = nx.read_gexf(folder / "discourse_replies.gexf")
    assert replies.number_of_nodes() == 24
    for kind in KINDS[:-1]:  # the semantic kind needs the sentence model: built below
        for suffix in (".gexf", ".graphml"):
            out = tmp_path / f"{kind}{suffix}"
            graph, _ = make_graph(ws.path, kind, out, min_count=1)
            back = nx.read_gexf(out) if suffix == ".gexf" else nx.read_graphml(out)
            assert back.number_of_nodes() == graph.number_of_nodes() > 0, (kind, suffix)
            assert back.number_of_edges() == graph.number_of_edges(), (kind, suffix)
    ids = [r["id"] for r in records]
    vectors = np.random.default_rng(0).normal(size=(len(ids), 8)).astype(np.float32)
    semantic = semantic_graph(ids, vectors, k=3)
    for suffix in (".gexf", ".graphml"):
        [out] = export_graph(semantic, tmp_path / f"semantic{suffix}")
        back = nx.read_gexf(out) if suffix == ".gexf" else nx.read_graphml(out)
        assert back.number_of_nodes() == 24
