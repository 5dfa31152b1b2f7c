"""CLIP tokenizer stage: ids against an independent BPE, truncation, word pieces, summaries."""

from __future__ import annotations

import gzip
import importlib.util
import json
import random
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from neco.errors import NecoError
from neco.neural import tokenizer as tk
from neco.neural.tokenizer import (
    BOS_ID,
    CONTEXT_LENGTH,
    EOS_ID,
    VOCAB_SIZE,
    TokenizedCorpus,
    build_clip_tokenizer_files,
    clean_text,
    clip_vocab_path,
    community_summary,
    encode_texts,
    load_clip_tokenizer,
    tokenize_captions,
)
from tests.neural.clip_bpe_reference import ReferenceCLIP, base_order

ftfy = pytest.importorskip("ftfy")
transformers = pytest.importorskip("transformers")
if importlib.util.find_spec("open_clip") is None:
    pytest.skip(
        "needs CLIP's BPE file: pip install --no-deps open_clip_torch", allow_module_level=True
    )

CAPTIONS = [
    "A photo of a cat",
    "Two men shaking hands, 1990s, Kodak Portra 400!!!",
    "It's a dog's life; they're here, we've won, I'm sure, you'll see, he'd go",
    "Café Crème à la française, naïve résumé",
    "A happy family 👨‍👩‍👧 at the beach 🏖️😀",
    "masterpiece, (red:1.3), [blue|green], ((best quality)), <lora:foo_v2:0.8>",
    "Fish &amp; chips &lt;3 &amp;amp; more",
    "double  spaces\tand\nnewlines   everywhere  ",
    "ÉCOLE NORMALE SUPÉRIEURE, ΟΔΟΣ ΣΙΣΥΦΟΣ",
    "Ｆｕｌｌｗｉｄｔｈ letters and the ﬁne ligature",
    "He doesnâ€™t know",
    "‘Curly’ “quotes” everywhere",
    "日本語のキャプション、東京タワー",
    "e\u0301cole with a combining accent",
    "a cat <|endoftext|> a dog",
    "1,000,000 people at 12:30pm on 2024-01-01",
    "",
    "a red kite hovering over the dunes, " * 12 + "antidisestablishmentarianism",
]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_clip_tokenizer_files(tmp_path_factory.mktemp("clip"))


@pytest.fixture(scope="module")
def tok(folder: Path) -> Any:
    return load_clip_tokenizer(folder)


@pytest.fixture(scope="module")
def ref() -> ReferenceCLIP:
    return ReferenceCLIP()


def test_tokenizer_ids_match_reference_bpe(tok: Any, ref: ReferenceCLIP) -> None:
    expected = [ref.encode(text) for text in CAPTIONS]
    assert encode_texts(CAPTIONS, tok) == expected
    # The unmodified transformers tokenizer agrees once the text is cleaned as CLIP cleans it.
    for text, ids in zip(CAPTIONS, expected, strict=True):
        assert tok(clean_text(text), add_special_tokens=False).input_ids == ids
    # ... and the corpus tables hold the same words and pieces.
    out = tokenize_captions(list(range(len(CAPTIONS))), CAPTIONS, ["x"] * len(CAPTIONS), tok)
    words = out.words.to_pylist()
    for i, text in enumerate(CAPTIONS):
        mine = [w for w in words if w["id"] == i]
        ref_words = ref.words(ref.clean(text))
        assert [w["word"] for w in mine] == ref_words
        assert [w["pieces"] for w in mine] == [" ".join(ref.bpe(w)) for w in ref_words]
        assert out.captions.column("n_tokens")[i].as_py() == len(expected[i])
    # ftfy and HTML unescaping happened: "&amp;amp;" is a single "&" for CLIP.
    assert ref.clean(CAPTIONS[6]) == "fish & chips <3 & more"
    assert clean_text(CAPTIONS[6]) == "fish & chips <3 & more"


def test_tokenizer_ids_match_reference_on_random_strings(tok: Any, ref: ReferenceCLIP) -> None:
    rng = random.Random(3)
    pool = [
        *"abcdefghijkXYZ0123456789 .,;:!?'\"()[]<>|/\\-_&#@%~",
        *"éèçñüößåÉÑ‘’“”–—…·€©®™°²³¼×ﬁＡｃ１日本語中文한국ΑΣσςабвБ٣४Ⅲ①",
        *"\u0301\u0308\u00a0\u2003\u200b\u180e\ufeff\u0085\u2028\u3000\t\n\r\x0b\x1c\x7f\x9d",
        *["😀", "👨\u200d👩\u200d👧", "🏖️", "🇫🇷", "&amp;", "&#39;", "'s", "'LL", "Ã©", "â€™"],
    ]
    texts = ["".join(rng.choice(pool) for _ in range(rng.randint(0, 30))) for _ in range(1000)]
    assert encode_texts(texts, tok) == [ref.encode(t) for t in texts]


def test_tokenizer_known_ids_and_vocabulary_size(tok: Any, folder: Path) -> None:
    assert tok.convert_tokens_to_ids("<|startoftext|>") == 49406 == BOS_ID
    assert tok.convert_tokens_to_ids("<|endoftext|>") == 49407 == EOS_ID
    assert len(tok) == VOCAB_SIZE == 49408
    vocab = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
    assert len(vocab) == 49408
    # "a</w>" straight from the file's layout: 256 byte characters, then the same with </w>.
    a_id = 256 + base_order().index("a")
    assert vocab["a</w>"] == a_id == tok.convert_tokens_to_ids("a</w>") == 320
    # A merged token's id is 512 + its line among the merges (line 1 follows the header).
    with gzip.open(clip_vocab_path(), "rt", encoding="utf-8") as handle:
        merges = handle.read().split("\n")[1:48895]
    dog_id = 512 + [m.replace(" ", "") for m in merges].index("dog</w>")
    assert vocab["dog</w>"] == dog_id == 1929
    assert tok("a photo of a cat").input_ids == [49406, 320, 1125, 539, 320, 2368, 49407]


def test_tokenizer_truncation_exact_at_77(tok: Any, ref: ReferenceCLIP) -> None:
    assert ref.bpe("dog") == ["dog</w>"]
    fits, over = "dog " * 75, "dog " * 76
    out = tokenize_captions(["fits", "over"], [fits, over], ["c", "c"], tok)
    rows = out.captions.to_pylist()
    assert CONTEXT_LENGTH - 2 == 75
    assert rows[0]["n_tokens"] == 75 and rows[0]["truncated"] is False
    assert rows[0]["n_words_lost"] == 0 and rows[0]["lost_words"] == ""
    assert rows[0]["cut_char"] is None
    assert rows[1]["n_tokens"] == 76 and rows[1]["truncated"] is True
    assert rows[1]["n_words_lost"] == 1 and rows[1]["lost_words"] == "dog"
    assert rows[1]["cut_char"] == 75 * 4
    lost = out.words.filter(pa.compute.field("lost")).to_pylist()
    assert [(w["id"], w["word_index"], w["first_token_index"]) for w in lost] == [("over", 75, 75)]
    # What Stable Diffusion does: 77 ids, the 75 first content tokens, the end token kept.
    ids = tok(over, max_length=77, truncation=True, padding="max_length").input_ids
    assert len(ids) == 77 and ids[0] == 49406 and ids[-1] == 49407
    assert ids[1:-1] == [1929] * 75


def test_tokenizer_pieces_per_word(tok: Any, ref: ReferenceCLIP) -> None:
    words = ["dog", "corgi", "photorealistic", "policewoman", "antidisestablishmentarianism"]
    out = tokenize_captions(["w"], [" ".join(words)], ["c"], tok)
    rows = out.words.to_pylist()
    assert [r["word"] for r in rows] == words
    assert [r["pieces"] for r in rows] == [" ".join(ref.bpe(w)) for w in words]
    assert [r["n_pieces"] for r in rows] == [1, 1, 2, 2, 6]
    assert rows[4]["pieces"] == "anti dise stab lish ment arianism</w>"
    assert [r["first_token_index"] for r in rows] == [0, 1, 2, 4, 6]


def _summary_corpus(tok: Any) -> TokenizedCorpus:
    texts = {
        "1": ("A red kite over the grey heron", "birds"),
        "2": ("A policewoman, a red kite, a heron and a red kite", "birds"),
        "3": ("A sleeping cat on the mat", "pets"),
    }
    ids = list(texts)
    return tokenize_captions(
        ids, [texts[i][0] for i in ids], [texts[i][1] for i in ids], tok, context_length=10
    )


def test_tokenizer_community_summary_exact_values(tok: Any, ref: ReferenceCLIP) -> None:
    corpus = _summary_corpus(tok)
    # Hand count, checked against the reference: every word is one piece but "policewoman".
    assert ref.bpe("policewoman") == ["police", "woman</w>"]
    assert all(len(ref.bpe(w)) == 1 for w in ["a", "red", "kite", "heron", "and", ",", "mat"])
    caption2 = corpus.captions.to_pylist()[1]
    assert caption2["n_tokens"] == 14 and caption2["truncated"] is True
    assert caption2["n_words"] == 13 and caption2["n_words_lost"] == 6
    assert caption2["lost_words"] == "a heron and a red kite"
    assert caption2["cut_char"] == 27  # "A policewoman, a red kite, |a heron ..."

    table = community_summary(corpus)
    birds, pets = table.to_pylist()
    assert birds == {
        "community": "birds",
        "captions": 2,
        "truncation_rate": 0.5,
        "mean_tokens": 10.5,
        "p95_tokens": pytest.approx(13.65),  # numpy's linear percentile of [7, 14]
        "words": 20,
        "pieces_per_word": pytest.approx(21 / 20),
        "share_words_split": pytest.approx(1 / 20),
        "share_words_lost": pytest.approx(6 / 20),
    }
    assert pets == {
        "community": "pets",
        "captions": 1,
        "truncation_rate": 0.0,
        "mean_tokens": 6.0,
        "p95_tokens": 6.0,
        "words": 6,
        "pieces_per_word": 1.0,
        "share_words_split": 0.0,
        "share_words_lost": 0.0,
    }


def test_tokenizer_load_reuses_cached_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    first = load_clip_tokenizer(None)
    folder = tmp_path / "neco" / "clip-tokenizer"
    stamps = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    assert sorted(stamps) == sorted(tk.TOKENIZER_FILES)
    second = load_clip_tokenizer(None)
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == stamps
    assert first("a photo").input_ids == second("a photo").input_ids == [49406, 320, 1125, 49407]
    direct = transformers.CLIPTokenizer.from_pretrained(folder)
    assert direct("a photo of a cat").input_ids == [49406, 320, 1125, 539, 320, 2368, 49407]
    # A Stable Diffusion checkpoint folder: the tokenizer/ subfolder is used.
    sd = tmp_path / "sd-checkpoint"
    build_clip_tokenizer_files(sd / "tokenizer")
    assert load_clip_tokenizer(sd)("a cat").input_ids == [49406, 320, 2368, 49407]


def test_tokenizer_fast_path_equals_ftfy_cleaning(ref: ReferenceCLIP) -> None:
    rng = random.Random(7)
    alphabet = [chr(c) for c in range(32, 127) if chr(c) != "&"]
    for _ in range(500):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))
        assert ftfy.fix_text(text) == text
        assert clean_text(text) == ref.clean(text)
    for text in CAPTIONS:
        assert clean_text(text) == ref.clean(text)


def test_tokenizer_cut_char_points_into_the_original_text(tok: Any, ref: ReferenceCLIP) -> None:
    texts = [
        "Fish &amp;amp; Chips,   " + "Dog " * 80,  # cleaning shortens the text before the cut
        "‘Quoted’ \t" + "Dog " * 80,  # ftfy straightens the quotes
        "ÉCOLE " * 80,  # two pieces a word: the cut falls inside word 38
    ]
    out = tokenize_captions(["a", "b", "c"], texts, ["x"] * 3, tok)
    rows = out.captions.to_pylist()
    for text, row in zip(texts[:2], rows, strict=False):
        assert text[row["cut_char"] :].startswith("Dog ")
    assert rows[0]["cut_char"] == len("Fish &amp;amp; Chips,   ") + 4 * (75 - 4)  # fish & chips ,
    assert rows[1]["cut_char"] == len("‘Quoted’ \t") + 4 * (75 - 3)
    assert ref.bpe("école") == ["Ã©", "cole</w>"]  # é is two bytes, Ã and ©
    assert rows[2]["cut_char"] == 37 * len("ÉCOLE ") + 1
    assert rows[2]["n_words_lost"] == 80 - 38 and rows[2]["lost_words"].startswith("école")


def test_tokenizer_duplicates_and_missing_text(tok: Any) -> None:
    texts = ["A red kite", None, "A red kite", "dog " * 80, "dog " * 80]
    out = tokenize_captions([1, 2, 3, 4, 5], texts, ["a", "b", "a", "c", "c"], tok, batch_size=2)
    rows = out.captions.to_pylist()
    assert rows[0] | {"id": 3} == rows[2]
    assert rows[3] | {"id": 5} == rows[4]
    assert rows[1]["n_tokens"] == 0 and rows[1]["n_words"] == 0
    assert out.words.column("id").to_pylist() == [1, 1, 1, 3, 3, 3] + [4] * 80 + [5] * 80
    summary = community_summary(out).to_pylist()
    assert [r["community"] for r in summary] == ["a", "b", "c"]
    assert summary[1]["words"] == 0 and summary[1]["pieces_per_word"] is None


def test_tokenizer_user_errors(tok: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(NecoError, match="found 2 ids, 1 texts and 2 communities"):
        tokenize_captions(["a", "b"], ["x"], ["c", "c"], tok)
    with pytest.raises(NecoError, match="context_length: expected at least 3"):
        tokenize_captions(["a"], ["x"], ["c"], tok, context_length=2)
    with pytest.raises(NecoError, match=r"vocab\.json \+ merges\.txt.*found: an empty folder"):
        load_clip_tokenizer(tmp_path)
    with pytest.raises(NecoError, match="Expected a fast tokenizer"):
        encode_texts(["x"], object())  # type: ignore[arg-type]

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "open_clip" else real(name)
    )
    with pytest.raises(NecoError, match=r"pip install --no-deps open_clip_torch"):
        clip_vocab_path()
