"""The survival ledger on small workspaces with known answers, and its report."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

from neco.neural.pipeline import NeuralConfig, run_neural
from neco.sample import SAMPLE_STAGE, sample_params
from neco.social.parse import ParseConfig
from neco.social.pipeline import SocialConfig, run_social
from neco.stages import run_stages
from neco.survival.ledger import SurvivalConfig, run_survival
from neco.survival.report import write_report
from neco.workspace import Workspace

EXACT = SurvivalConfig(null_samples=0, bootstrap=0)


def _ingest(tmp_path, rows):
    path = tmp_path / "c.jsonl"
    path.write_text(
        "\n".join(json.dumps({"id": i, "community": c, "text": t}) for i, c, t in rows) + "\n",
        encoding="utf-8",
    )
    ws = Workspace(tmp_path / "ws")
    ws.ingest([path])
    return ws


def _ledger(ws):
    return ws.read_table("survival/ledger").to_pandas()


def _value(ledger, **where):
    rows = ledger
    for column, value in where.items():
        rows = rows[rows[column] == value]
    assert len(rows) == 1, rows
    return rows.iloc[0]


def test_ledger_tokens_edge_and_term_survival_known_answer(tmp_path):
    filler = " ".join(["the"] * 80)
    ws = _ingest(
        tmp_path,
        [
            ("c1", "birds", "kite heron 2024"),  # 2024 is four BPE pieces: split
            ("c2", "birds", "kite heron"),
            ("c3", "birds", f"heron {filler} kite"),  # kite falls past token 77
            ("d1", "other", "a plain caption"),
        ],
    )
    run_social(ws, SocialConfig(parse=ParseConfig(mode="lexical"), skip=("semantic",), min_count=1))
    run_neural(ws, NeuralConfig())
    # the backbone, by hand: two edges of the community "birds"
    edges = {
        "source": ["kite", "kite"],
        "target": ["heron", "2024"],
        "weight": [0.5, 0.5],
        "pmi": [1.0, 1.0],
        "count": [2, 1],
        "alpha": [0.01, 0.01],
        "scope": ["birds", "birds"],
    }
    ws.write_table("social/cooc_edges", pa.table(edges))
    run_survival(ws, EXACT)
    ledger = _ledger(ws)
    # terms present per caption: c1 kite ok, heron ok, 2024 split; c2 both ok; c3 heron ok,
    # kite lost -> 5 of 7. Edges present: c1 (kite, heron) ok, (kite, 2024) not; c2 ok; c3 not.
    terms = _value(ledger, metric="term_survival", community="birds")
    assert terms["value"] == pytest.approx(5 / 7) and terms["n_items"] == 7
    assert _value(ledger, metric="edge_survival", community="birds")["value"] == pytest.approx(0.5)
    assert _value(ledger, metric="truncation_rate", community="birds")["value"] == pytest.approx(
        1 / 3
    )
    examples = ws.read_table("survival/examples").to_pandas()
    cut = examples[examples["kind"] == "cut_words"]
    assert cut["id"].tolist() == ["c3"] and "kite" in cut["detail"].iloc[0]
    # stages that did not run are rows with reasons, never zeros
    missing = ledger[ledger["status"] == "not measured"]
    assert set(missing["stage"]) == {"text", "relations", "latents", "attention", "guidance"}
    assert missing["value"].isna().all() and missing["reason"].str.len().gt(10).all()
    assert "neco neural --stages attention" in _value(ledger, stage="attention")["reason"]


def _text_workspace(tmp_path, neural):
    rows = [(f"a{i}", "art", f"caption {i}") for i in range(20)]
    rows += [(f"b{i}", "bird", f"caption b{i}") for i in range(20)]
    ws = _ingest(tmp_path, rows)
    run_stages(ws, [SAMPLE_STAGE], sample_params(ws))
    ids = [r[0] for r in rows]
    rng = np.random.default_rng(0)
    social = rng.normal(size=(40, 8)).astype(np.float32)
    social[:20, 0] += 10  # two clusters (in direction, as cosine sees them)
    social[20:, 1] += 10

    def column(values):
        return pa.FixedSizeListArray.from_arrays(pa.array(values.ravel()), values.shape[1])

    communities = [r[1] for r in rows]
    ws.write_table(
        "social/reference_vectors",
        pa.table(
            {"id": ids, "community": communities, "vector": column(social), "model": ["m"] * 40}
        ),
    )
    pooled = neural(social, rng).astype(np.float16)
    ws.commit_stage(
        "neural.text",
        {
            "neural/text_pooled": pa.table(
                {"id": ids, "community": communities, "pooled": column(pooled)}
            )
        },
        {"status": "ran", "components": [{"name": "tiny/text_encoder", "weights": "random"}]},
    )
    return ws


def test_ledger_text_identity_keeps_everything_and_beats_its_null(tmp_path):
    rotation = np.linalg.qr(np.random.default_rng(1).normal(size=(8, 8)))[0]
    ws = _text_workspace(tmp_path, lambda x, rng: x @ rotation * 3.0)
    run_survival(ws, SurvivalConfig(k=5, null_samples=50, bootstrap=50))
    ledger = _ledger(ws)
    overall = _value(ledger, stage="text", metric="mutual_knn", community="all")
    assert overall["value"] == pytest.approx(1.0, abs=1e-3)
    assert overall["null_mean"] < 0.35 and overall["calibrated"] > 5
    assert overall["mechanics_only"]  # random-weight component recorded by the stage
    cka = _value(ledger, stage="text", metric="cka", community="art")
    assert cka["value"] == pytest.approx(1.0, abs=1e-2)
    ami = _value(ledger, stage="text", metric="partition_ami", representation="pooled (EOS)")
    assert ami["value"] == pytest.approx(1.0)


def test_ledger_text_unrelated_vectors_sit_at_the_null(tmp_path):
    ws = _text_workspace(tmp_path, lambda x, rng: rng.normal(size=x.shape))
    run_survival(ws, SurvivalConfig(k=5, null_samples=100, bootstrap=0))
    overall = _value(_ledger(ws), stage="text", metric="mutual_knn", community="all")
    assert abs(overall["calibrated"]) < 3
    assert overall["value"] == pytest.approx(overall["null_mean"], abs=0.08)


def test_report_is_self_contained_and_escapes_captions(tmp_path):
    evil = "<img src=x onerror=alert(1)> " + " ".join(["word"] * 90)
    ws = _ingest(tmp_path, [("e1", "web<script>", evil), ("e2", "museum", "a carved chair")])
    run_social(ws, SocialConfig(parse=ParseConfig(mode="lexical"), skip=("semantic",), min_count=1))
    run_neural(ws, NeuralConfig())
    run_survival(ws, EXACT)
    page = write_report(ws, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<script" not in page and "web&lt;script&gt;" in page
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert "CLIP tokenizer" in page and "Not measured" in page
    md = write_report(ws, tmp_path / "r.md").read_text(encoding="utf-8")
    assert "\\<img src=x onerror=alert(1)\\>" in md
