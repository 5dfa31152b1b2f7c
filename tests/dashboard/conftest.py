"""A small workspace for the dashboard's tests: three communities, a reply thread, a
script-injection caption, the NLP layer (lexical parse), CLIP's tokenizer stage and a
hand-made survival ledger."""

from __future__ import annotations

import csv
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from neco.api import open_study
from neco.catalogue import CATALOGUE, VECTOR
from neco.neural.pipeline import NeuralConfig, run_neural
from neco.social.parse import ParseConfig
from neco.social.pipeline import SocialConfig, run_social
from neco.workspace import Workspace

APP = Path(__file__).resolve().parents[2] / "dashboards" / "app.py"
INJECTION = "<img src=x onerror=alert(1)>"
LONG_PROMPT = (
    ", ".join(["masterpiece", "best quality", "a lighthouse at dusk", "volumetric light"] * 12)
    + ", trailing words past the window"
)
ROWS = [
    # id, text, community, parent_id, author, timestamp
    ("m1", "A carved oak chest with iron hinges.", "museum", "", "", "2021-03-01"),
    ("m2", "Carved walnut panel, oil on canvas frame.", "museum", "", "", "2021-05-01"),
    ("m3", "Oil on canvas: a carved harbour scene.", "museum", "", "", "2022-01-10"),
    ("m4", "Porcelain vase with carved lid.", "museum", "", "", "2022-06-01"),
    ("m5", "Silver cup, carved handle, oak stand.", "museum", "", "", "2023-02-01"),
    (
        "p1",
        "a lighthouse at dusk, volumetric light, masterpiece",
        "prompts",
        "",
        "nova",
        "2023-04-01",
    ),
    ("p2", "portrait of a fox, volumetric light, trending", "prompts", "", "nova", "2023-04-02"),
    ("p3", "a castle in fog, masterpiece, best quality", "prompts", "", "kai", "2023-05-01"),
    ("p4", LONG_PROMPT, "prompts", "", "kai", "2023-05-02"),
    ("p5", "neon city street, volumetric light, 8k", "prompts", "", "nova", "2023-06-01"),
    ("f1", "My first long exposure of the harbour light.", "forum", "", "ana", "2024-01-01"),
    ("f2", "Lovely light! Which lens did you use?", "forum", "f1", "ben", "2024-01-02"),
    ("f3", "A 35mm lens, tripod and a lot of patience.", "forum", "f2", "ana", "2024-01-03"),
    ("f4", INJECTION, "forum", "f1", "eve", "2024-01-04"),
    ("f5", "The harbour light at dawn is softer.", "forum", "f1", "cai", "2024-01-05"),
    ("f6", "", "forum", "", "dan", "2024-01-06"),  # empty text: rejected
]
LEDGER = [
    # stage, metric, community, value, low, high, null_mean, status, reason, mechanics_only
    ("neural.text", "mutual_knn", "museum", 0.4242, 0.35, 0.49, 0.05, "measured", None, False),
    ("neural.text", "mutual_knn", "forum", 0.2, 0.1, 0.3, 0.05, "measured", None, False),
    ("neural.text", "mutual_knn", "prompts", None, None, None, None, "not measured",
     "fewer than 3 sampled captions have a semantic neighbour", False),
    ("neural.latents", "cka", "forum", 0.1234, 0.05, 0.2, 0.1, "measured", None, True),
]  # fmt: skip


def write_ledger(ws: Workspace) -> None:
    rows = [
        {
            "stage": stage,
            "metric": metric,
            "community": community,
            "reference": "semantic",
            "representation": "clip_pooled",
            "value": value,
            "null_mean": null,
            "null_std": None if null is None else 0.02,
            "calibrated": None if value is None else value - null,
            "p_value": None if value is None else 0.001,
            "low": low,
            "high": high,
            "n_items": 5,
            "status": status,
            "reason": reason,
            "mechanics_only": mechanics,
            "components": "tiny-random" if mechanics else "clip-l14",
            "params": '{"k": 3}',
        }
        for stage, metric, community, value, low, high, null, status, reason, mechanics in LEDGER
    ]
    ws.write_table("survival/ledger", pd.DataFrame(rows))
    ws.write_table(
        "survival/examples",
        pd.DataFrame(
            [
                {
                    "stage": "neural.text",
                    "community": "museum",
                    "kind": "kept neighbour",
                    "id": "m1",
                    "text": "A carved oak chest with iron hinges.",
                    "detail": "its nearest caption is m5 on both sides",
                    "score": 0.9,
                }
            ]
        ),
    )


#: Captions with an image: a small PNG written next to the source.
IMAGES = {"f1": "f1.png"}


def ingest_rows(folder: Path, rows: list[tuple[str, ...]], name: str = "captions.csv") -> Path:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "text", "community", "parent_id", "author", "timestamp", "image"])
        for row in rows:
            image = IMAGES.get(row[0], "")
            if image:
                Image.new("RGB", (16, 16), (200, 80, 40)).save(folder / image)
            writer.writerow([*row, image])
    return path


def write_latents(ws: Workspace) -> None:
    """One caption's image through a VAE, as the latents stage records it."""
    image = ws.read_table("corpus", ["id", "image"]).to_pandas().set_index("id")["image"]["f1"]
    values = {"id": "f1", "image": image, "ok": True, "psnr": 31.5, "ssim": 0.91,
              "descriptor": "pixels 16x16", "cosine": 0.97}  # fmt: skip
    columns = {
        col.name: pa.array([None], pa.list_(pa.float32()))
        if col.type == VECTOR
        else pa.array([values.get(col.name)], col.type)
        for col in CATALOGUE["neural/latents"].columns
    }
    ws.write_table("neural/latents", pa.table(columns))


@pytest.fixture(scope="session")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The full small workspace (built once; tests must not change it)."""
    root = tmp_path_factory.mktemp("dashboard")
    ws = Workspace(root / "ws")
    ws.ingest([ingest_rows(root / "src", ROWS)])
    config = SocialConfig(parse=ParseConfig(mode="lexical"), skip=("semantic",), min_count=1)
    run_social(ws, config)
    open_study(ws.path).sample()  # the semantic step (skipped) would have drawn it
    run_neural(ws, NeuralConfig(stages=("tokens",)))
    write_ledger(ws)
    write_latents(ws)
    return ws.path


@pytest.fixture
def copy_of(tmp_path: Path, workspace: Path) -> Path:
    """A copy of the small workspace that a test may change."""
    target = tmp_path / "ws"
    shutil.copytree(workspace, target)
    # The manifest names its parts relative to the folder, so the copy stands alone.
    return target


@pytest.fixture
def app_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No workspace from the environment unless a test sets one."""
    monkeypatch.delenv("NECO_WORKSPACE", raising=False)
    yield


def unescape(text: str) -> str:
    """Markdown source as it reads on screen (backslash escapes removed)."""
    return re.sub(r"\\(.)", r"\1", text)


def page_text(at: object) -> str:
    """Everything an AppTest run put on the page as text, markdown unescaped."""
    parts: list[str] = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "text", "code",
                 "info", "warning", "error", "success"):  # fmt: skip
        parts += [unescape(str(e.value)) for e in getattr(at, kind)]
    parts += [str(m.label) + " " + str(m.value) for m in at.metric]
    return "\n".join(parts)


def raw_markdown(at: object) -> list[str]:
    """The markdown sources of the elements Streamlit interprets as markdown."""
    out: list[str] = []
    for kind in ("markdown", "caption", "info", "warning", "error", "success", "subheader",
                 "header", "title"):  # fmt: skip
        out += [str(e.value) for e in getattr(at, kind)]
    return out


def os_env_workspace(path: Path) -> dict[str, str]:
    return {**os.environ, "NECO_WORKSPACE": str(path)}
