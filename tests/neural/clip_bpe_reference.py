"""A second, deliberately plain implementation of CLIP's tokenizer, used only as a test oracle.

It re-implements what OpenAI's CLIP tokenizer does (Radford et al. 2021), straight from the
vocabulary file, without transformers or the `tokenizers` library and without sharing any code
with ``neco.neural.tokenizer``:

1. clean: ``ftfy.fix_text``, ``html.unescape`` twice, strip, collapse whitespace, lowercase;
2. split into words with CLIP's pre-tokenization pattern
   ``<|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+``,
   written out here as a hand-made scanner over ``unicodedata`` categories instead of a regex;
3. map each word's UTF-8 bytes to the 256 printable stand-in characters, mark the last one
   with ``</w>``;
4. merge adjacent symbols greedily, always the pair with the lowest merge rank, until no pair
   of the merge list is left;
5. look each symbol up in the vocabulary (bytes, bytes + ``</w>``, merges, then the two
   special tokens).

It is slow (no cache, no regex) and meant to be: every step can be read and checked by eye.
"""

from __future__ import annotations

import gzip
import html
import importlib.util
import re
import unicodedata
from pathlib import Path

N_MERGES = 48894
SPECIALS = ("<|startoftext|>", "<|endoftext|>")
CONTRACTIONS = ("'s", "'t", "'re", "'ve", "'m", "'ll", "'d")


def vocab_file() -> Path:
    """The BPE file that ships with open_clip (found without importing open_clip)."""
    spec = importlib.util.find_spec("open_clip")
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations))) / "bpe_simple_vocab_16e6.txt.gz"


def byte_characters() -> list[str]:
    """For byte b (0..255), the character that stands for it in the vocabulary.

    Bytes that are printable Latin-1 characters (other than space and the soft hyphen) stand
    for themselves; the remaining 68 bytes get the characters U+0100, U+0101, ... in order.
    """
    table = []
    extra = 0
    for b in range(256):
        if 33 <= b <= 126 or 161 <= b <= 172 or 174 <= b <= 255:
            table.append(chr(b))
        else:
            table.append(chr(256 + extra))
            extra += 1
    return table


def base_order() -> list[str]:
    """The 256 byte characters in vocabulary order: printable bytes first, then the others."""
    chars = byte_characters()
    printable = [chars[b] for b in range(256) if ord(chars[b]) == b]
    rest = [chars[b] for b in range(256) if ord(chars[b]) != b]
    return printable + rest


class ReferenceCLIP:
    """Plain byte-level BPE with CLIP's vocabulary; ``encode`` gives content ids (no specials)."""

    def __init__(self, path: Path | None = None) -> None:
        with gzip.open(path or vocab_file(), "rt", encoding="utf-8") as handle:
            lines = handle.read().split("\n")
        self.merges: list[tuple[str, str]] = []
        for line in lines[1 : N_MERGES + 1]:
            left, right = line.split()
            self.merges.append((left, right))
        self.rank: dict[tuple[str, str], int] = {}
        for i, pair in enumerate(self.merges):
            self.rank[pair] = i
        tokens = base_order()
        tokens = tokens + [t + "</w>" for t in tokens]
        tokens = tokens + [left + right for left, right in self.merges]
        tokens = tokens + list(SPECIALS)
        self.token_to_id: dict[str, int] = {}
        for i, token in enumerate(tokens):
            self.token_to_id[token] = i
        self.byte_char = byte_characters()

    # -- cleaning -------------------------------------------------------------------------
    @staticmethod
    def clean(text: str) -> str:
        import ftfy

        text = ftfy.fix_text(text)
        text = html.unescape(html.unescape(text))
        text = text.strip()
        text = re.sub(r"\s+", " ", text)
        text = text.strip()
        return text.lower()

    # -- pre-tokenization -----------------------------------------------------------------
    @staticmethod
    def _kind(ch: str) -> str:
        if ch.isspace():
            return "space"
        category = unicodedata.category(ch)
        if category.startswith("L"):
            return "letter"
        if category.startswith("N"):
            return "number"
        return "other"

    def words(self, cleaned: str) -> list[str]:
        """Split cleaned text the way CLIP's pattern does (alternatives tried in order)."""
        out = []
        i = 0
        n = len(cleaned)
        while i < n:
            found = ""
            for literal in SPECIALS + CONTRACTIONS:
                if cleaned.startswith(literal, i):
                    found = literal
                    break
            if found:
                out.append(found)
                i += len(found)
                continue
            kind = self._kind(cleaned[i])
            if kind == "space":
                i += 1
                continue
            if kind == "number":
                out.append(cleaned[i])
                i += 1
                continue
            j = i + 1
            while j < n and self._kind(cleaned[j]) == kind:
                j += 1
            out.append(cleaned[i:j])
            i = j
        return out

    # -- BPE ------------------------------------------------------------------------------
    def bpe(self, word: str) -> list[str]:
        """The BPE pieces of one word (``</w>`` on the last piece)."""
        if word in SPECIALS:
            return [word]
        symbols = [self.byte_char[b] for b in word.encode("utf-8")]
        symbols[-1] = symbols[-1] + "</w>"
        while len(symbols) > 1:
            best_rank = None
            best_pair = None
            for k in range(len(symbols) - 1):
                pair = (symbols[k], symbols[k + 1])
                r = self.rank.get(pair)
                if r is not None and (best_rank is None or r < best_rank):
                    best_rank = r
                    best_pair = pair
            if best_pair is None:
                break
            merged = []
            k = 0
            while k < len(symbols):
                if (
                    k + 1 < len(symbols)
                    and symbols[k] == best_pair[0]
                    and symbols[k + 1] == best_pair[1]
                ):
                    merged.append(symbols[k] + symbols[k + 1])
                    k += 2
                else:
                    merged.append(symbols[k])
                    k += 1
            symbols = merged
        return symbols

    def tokens(self, text: str) -> list[str]:
        out = []
        for word in self.words(self.clean(text)):
            out.extend(self.bpe(word))
        return out

    def encode(self, text: str) -> list[int]:
        """Content ids of ``text`` (without ``<|startoftext|>`` / ``<|endoftext|>``)."""
        return [self.token_to_id[t] for t in self.tokens(text)]
