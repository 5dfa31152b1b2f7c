"""The stage contract: skipping what is unchanged, rerunning exactly what depends on a change,
stale marking, all-or-nothing commits (also under SIGKILL), and the catalogue."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from neco.catalogue import CATALOGUE, check_schema, conform, markdown_reference
from neco.errors import NecoError, WorkspaceError
from neco.neural.pipeline import NeuralConfig, run_neural
from neco.social.parse import ParseConfig
from neco.social.pipeline import SocialConfig, run_social, social_stages
from neco.stages import Input, Stage, StageOutput, run_stages, stale_tables, table_states
from neco.workspace import Workspace
from tests.conftest import REPO

ROWS = [
    ("b1", "birds", "A red kite circles over the marsh at dawn", None),
    ("b2", "birds", "Two herons wade through the shallow marsh", None),
    ("b3", "birds", "A kite and a heron share the marsh sky", None),
    ("p1", "prompts", "castle on a hill, matte painting, (dramatic sky:1.3), 8k", None),
    ("p2", "prompts", "red kite over dunes, watercolor, by greg rutkowski", None),
    ("p3", "prompts", "a knight in the fog, cinematic lighting, masterpiece", None),
    ("f1", "forum", "Shot this kite at the marsh with a 400mm lens", None),
    ("f2", "forum", "Lovely light on the kite, what iso did you use?", "f1"),
]
LEXICAL = SocialConfig(parse=ParseConfig(mode="lexical"), skip=("semantic",), min_count=1)


def _source(tmp_path, rows=ROWS):
    path = tmp_path / "captions.jsonl"
    records = [
        {"id": i, "community": c, "text": t, **({"parent_id": p} if p else {})}
        for i, c, t, p in rows
    ]
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def ws(tmp_path):
    workspace = Workspace(tmp_path / "ws")
    workspace.ingest([_source(tmp_path)])
    return workspace


def _statuses(reports):
    return {r.name: r.status for r in reports}


def _replace_caption(ws, caption_id, text):
    corpus = ws.read_table("corpus")
    texts = [
        text if i == caption_id else t
        for i, t in zip(
            corpus.column("id").to_pylist(), corpus.column("text").to_pylist(), strict=True
        )
    ]
    ws.write_table("corpus", corpus.set_column(1, "text", pa.array(texts, pa.string())))


def test_stages_second_run_skips_every_stage_and_says_so(ws):
    first = run_social(ws, LEXICAL).stages + run_neural(ws, NeuralConfig()).reports
    assert {r.status for r in first} <= {"ran", "skipped"}
    again = run_social(ws, LEXICAL).stages + run_neural(ws, NeuralConfig()).reports
    assert {r.name: r.status for r in again if r.status != "skipped"} == dict.fromkeys(
        [
            "social.parse",
            "social.prompts",
            "social.keyness",
            "social.cooccurrence",
            "social.discourse",
            "neural.tokens",
        ],
        "unchanged",
    )
    forced = run_social(ws, LEXICAL, force=True).stages
    assert _statuses(forced)["social.parse"] == "ran"


def test_stages_changing_one_caption_reruns_exactly_what_depends_on_it(ws):
    run_social(ws, LEXICAL)
    run_neural(ws, NeuralConfig())
    ws.commit_stage("sample", {})  # not run by these stages
    _replace_caption(ws, "b2", "Two egrets wade through the shallow marsh")
    states = {s.name: s for s in table_states(ws)}
    assert states["social/tokens"].state == "stale"
    assert "corpus[id,text,community,lang] changed" in states["social/tokens"].why
    assert states["social/keyness"].state == "stale"  # it reads the text too (tags)
    # a stage that reads only the token table: its input is unchanged, but stale itself
    derived = Stage(
        "test.derived",
        (Input("social/tokens"),),
        ("social/semantic_edges",),
        lambda ctx: StageOutput(
            {"social/semantic_edges": pa.table({"source": ["a"], "target": ["b"], "weight": [1.0]})}
        ),
    )
    _replace_caption(ws, "b2", "Two herons wade through the shallow marsh")  # back, then
    run_social(ws, LEXICAL)
    run_stages(ws, [derived], {})
    _replace_caption(ws, "b2", "Two egrets wade through the shallow marsh")
    states = {s.name: s for s in table_states(ws, [*social_stages(), derived])}
    assert states["social/semantic_edges"].state == "stale"
    assert states["social/semantic_edges"].why.startswith("social/tokens is stale")
    states = {s.name: s for s in table_states(ws)}
    # the discourse graph reads ids, communities and reply links only: still fresh
    assert states["social/discourse_edges"].state == "fresh"
    assert states["neural/token_captions"].state == "stale"
    assert set(stale_tables(ws, ["social/discourse_threads", "social/specifiers"])) == {
        "social/specifiers"
    }
    rerun = _statuses(run_social(ws, LEXICAL).stages + run_neural(ws, NeuralConfig()).reports)
    assert rerun == {
        "social.parse": "ran",
        "social.prompts": "ran",
        "social.keyness": "ran",
        "social.cooccurrence": "ran",
        "social.discourse": "unchanged",
        "social.relations": "skipped",
        "neural.tokens": "ran",
    }
    assert {s.state for s in table_states(ws)} == {"fresh"}
    lemmas = ws.sql("SELECT lemma FROM social_tokens WHERE id = 'b2'").column("lemma")
    assert "egret" in lemmas.to_pylist()


def test_stages_manifest_records_inputs_params_versions_rows(ws):
    run_social(ws, LEXICAL)
    record = ws.manifest()["stages"]["social.cooccurrence"]
    assert record["status"] == "ran"
    assert set(record["inputs"]) == {
        "social/tokens",
        "corpus[id,community,text]",
        "social/specifiers[id,community]",
    }
    assert record["params"] == {"top_terms": 2000, "min_count": 1, "backbone_alpha": 0.2, "seed": 0}
    assert (
        record["rows"]["social/cooc_nodes"] == ws.manifest()["tables"]["social/cooc_nodes"]["rows"]
    )
    assert "pyarrow" in record["package_versions"]
    assert ws.manifest()["tables"]["social/cooc_nodes"]["stage"] == "social.cooccurrence"


def test_stages_commit_is_refused_when_an_input_changed_meanwhile(ws):
    def meddle(ctx):
        _replace_caption(ctx.ws, "b1", "A black kite")  # another process, in effect
        return StageOutput(
            {
                "social/semantic_edges": pa.table(
                    {"source": ["b1"], "target": ["b2"], "weight": [1.0]}
                )
            }
        )

    stage = Stage("test.meddle", (Input("corpus"),), ("social/semantic_edges",), meddle)
    with pytest.raises(WorkspaceError, match="changed while it ran; nothing was committed"):
        run_stages(ws, [stage], {})
    assert "social/semantic_edges" not in ws.tables()


def test_stages_missing_input_is_a_skip_naming_the_stage_to_run(ws):
    with pytest.raises(NecoError, match="'nowhere-set' is neither a registered set"):
        NeuralConfig(stages=("probes",), components="nowhere-set")  # a typo is an error
    reports = run_neural(ws, NeuralConfig(stages=("probes",), components="sd15")).reports
    probes = next(r for r in reports if r.name == "neural.probes")
    assert probes.status == "skipped"
    assert "social/relations" in probes.reason and "social.relations" in probes.reason


_KILL = textwrap.dedent(
    """
    import os, signal, sys
    sys.path.insert(0, {repo!r})
    from neco.workspace import Workspace
    from neco.social.parse import ParseConfig
    from neco.social.pipeline import SocialConfig, run_social, social_stages
    import neco.social.pipeline as pipeline
    import neco.workspace as workspace

    where = sys.argv[2]
    if where == "commit":  # the parts are written, the manifest not yet
        def die(self, manifest):
            os.kill(os.getpid(), signal.SIGKILL)
        workspace.Workspace._commit = die
    else:  # in the middle of the stage's own work
        real = pipeline.StageOutput
        def die(*args, **kwargs):
            os.kill(os.getpid(), signal.SIGKILL)
        pipeline.StageOutput = die
    ws = Workspace(sys.argv[1])
    run_social(ws, SocialConfig(parse=ParseConfig(mode="lexical"), skip=("semantic",),
                                min_count=1))
    """
)


@pytest.mark.parametrize("where", ["commit", "run"])
def test_stages_sigkill_half_way_leaves_the_previous_complete_state(ws, tmp_path, where):
    run_social(ws, LEXICAL)
    _replace_caption(ws, "b2", "Two egrets wade through the shallow marsh")
    before = ws.manifest_path.read_bytes()
    script = tmp_path / "kill.py"
    script.write_text(_KILL.format(repo=str(REPO)), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(script), str(ws.path), where], capture_output=True, timeout=120
    )
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    assert ws.manifest_path.read_bytes() == before
    for name in ws.tables():  # every listed part is there and readable
        assert ws.read_table(name).num_rows == ws.manifest()["tables"][name]["rows"]
    assert ws.sql("SELECT count(*) AS n FROM social_tokens").column("n")[0].as_py() > 0
    assert stale_tables(ws, ["social/tokens"])  # still the old parse, and it says so
    rerun = _statuses(run_social(ws, LEXICAL).stages)
    assert rerun["social.parse"] == "ran"
    folder = ws.path / "social" / "tokens.parquet"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ws.manifest()["tables"]["social/tokens"]["parts"]
    )  # the dead process's parts were removed
    assert not (ws.path / ".staging").exists() or not any((ws.path / ".staging").iterdir())


def _threads(**columns):
    base = {
        "thread_id": ["t1"],
        "root": ["a"],
        "size": [3],
        "depth": [2],
        "authors": [2],
        "communities": [1],
    }
    return pa.table({**base, **columns})


def test_catalogue_conform_casts_and_refuses_with_expected_and_found():
    table = conform(
        "social/discourse_threads",
        _threads(thread_id=pa.array(["t1"], pa.large_string()), size=pa.array([3], pa.int32())),
    )
    assert table.schema.field("thread_id").type == pa.string()
    assert table.schema.field("size").type == pa.int64()
    assert table.column_names == CATALOGUE["social/discourse_threads"].column_names
    with pytest.raises(NecoError, match="root: expected no nulls, found 1"):
        conform("social/discourse_threads", _threads(root=[None]))
    with pytest.raises(NecoError, match="expected its key \\['thread_id'\\] to be unique"):
        conform(
            "social/discourse_threads",
            pa.concat_tables([_threads(), _threads(root=["b"])]),
        )
    with pytest.raises(NecoError, match="size: expected int64, found string"):
        conform("social/discourse_threads", _threads(size=["x"]))
    with pytest.raises(NecoError, match="missing \\['depth'\\], undeclared \\['deep'\\]"):
        conform(
            "social/discourse_threads",
            _threads().rename_columns(
                ["thread_id", "root", "size", "deep", "authors", "communities"]
            ),
        )


def test_catalogue_every_stage_table_on_a_small_workspace_matches_its_declaration(ws):
    run_social(ws, SocialConfig(parse=ParseConfig(mode="full"), semantic_k=2, min_count=1))
    run_neural(ws, NeuralConfig())
    made = ws.tables()
    expected = {
        n for n, s in CATALOGUE.items() if s.stage.split(".")[0] in ("ingest", "social", "sample")
    }
    expected.add("neural/token_summary")
    assert expected <= set(made)
    for name in made:
        table = ws.read_table(name)
        assert check_schema(name, table.schema) == [], name
        keys = list(CATALOGUE[name].keys)
        if keys and table.num_rows:
            grouped = table.select(keys).group_by(keys).aggregate([([], "count_all")])
            assert pc.max(grouped.column("count_all")).as_py() == 1, name


def test_catalogue_readme_table_reference_is_generated_from_the_catalogue():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- tables:start -->\n(.*?)\n<!-- tables:end -->", readme, re.S)
    assert found, "README.md lacks the <!-- tables:start --> ... <!-- tables:end --> block"
    assert found.group(1).strip() == markdown_reference().strip(), (
        "README's table reference differs from neco.catalogue; regenerate it with "
        "python -m neco.catalogue"
    )


def test_stages_an_ingest_while_a_stage_runs_aborts_its_commit(ws, tmp_path):
    more = tmp_path / "more.jsonl"
    more.write_text('{"id": "z1", "community": "birds", "text": "A zebra finch"}\n', "utf-8")

    def ingest_meanwhile(ctx):
        Workspace(ctx.ws.path).ingest([more])  # `neco ingest` in another terminal, in effect
        return StageOutput(
            {
                "social/semantic_edges": pa.table(
                    {"source": ["b1"], "target": ["b2"], "weight": [1.0]}
                )
            }
        )

    stage = Stage("test.slow", (Input("corpus"),), ("social/semantic_edges",), ingest_meanwhile)
    with pytest.raises(WorkspaceError, match="read corpus, which another neco process changed"):
        run_stages(ws, [stage], {})
    assert "social/semantic_edges" not in ws.tables()
    assert len(ws.corpus()) == len(ROWS) + 1  # the ingest itself went through


def test_stages_commands_reading_stale_tables_say_so_after_a_second_ingest(ws, tmp_path, capsys):
    from neco.cli import main

    run_social(ws, LEXICAL)
    zebras = tmp_path / "zebras.jsonl"
    zebras.write_text(
        "\n".join(
            json.dumps({"id": f"z{i}", "community": "birds", "text": f"A zebra finch {i}"})
            for i in range(4)
        ),
        encoding="utf-8",
    )
    ws.ingest([zebras])
    capsys.readouterr()
    assert main(["kwic", "zebra", "-w", str(ws.path), "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == []  # the token table predates the zebras...
    assert "stale results (social/tokens: corpus[id,text,community,lang] changed" in captured.err
    assert f"Run: neco social -w {ws.path}" in captured.err  # ...and the command says so
    run_social(ws, LEXICAL)
    assert main(["kwic", "zebra", "-w", str(ws.path), "--json"]) == 0
    captured = capsys.readouterr()
    assert len(json.loads(captured.out)) == 4 and "stale" not in captured.err
    # a corpus part replaced behind neco's back: still no traceback, and it says so
    part = ws.table_files("corpus")[-1]
    keep = "COPY (SELECT * FROM corpus WHERE id <> 'z0') TO '{}' (FORMAT parquet)"
    ws.sql(keep.format(part), write=tmp_path / "mine.duckdb")
    assert main(["kwic", "zebra", "-w", str(ws.path), "--json"]) == 0
    captured = capsys.readouterr()
    assert len(json.loads(captured.out)) == 3
    assert "stale results (social/tokens" in captured.err
    assert main(["tables", "-w", str(ws.path), "--json"]) == 0
    corpus = next(t for t in json.loads(capsys.readouterr().out) if t["table"] == "corpus")
    assert corpus["state"] == "stale" and corpus["why"].startswith("changed outside neco")
