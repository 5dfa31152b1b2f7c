"""Tags of web text: the bracketed labels and resolution marks that titles carry.

Image-forum titles label themselves: ``[OC]`` (original content), ``[Self]``, ``(1200x800)``,
``[1968 x 1310]``, often chained (``(1200x800)(OC)``). Tokenised as words they become junk
terms ("x" between two numbers; ``1200x800)(oc`` as one token). Here they are recognised
as a unit of their own, ``tag``, counted and compared like any other term
(``neco vocab --unit tag``), and the word tokens inside them are left out of the lemma and
n-gram counts.

Rules (:func:`find_tags`, on the normalised caption text):

1. **Resolution marks** — two numbers of three to five digits joined by ``x``, ``X`` or ``×``
   (one space allowed on each side), optionally followed by ``px``, as a whole word
   (``RESOLUTION``). Anywhere in the text, also
   in prompt communities ("wallpaper 1920x1080"). Three digits at least, so that "2x4
   lumber" or "10x zoom" are not marks. A bracket pair around the mark belongs to it.
2. **Square-bracket tags** — ``[...]`` with 1 to 40 characters inside, no bracket and no
   line break (``SQUARE``). One word (``[OC]``, ``[Self]``, ``[1]``) or one holding a
   resolution mark (``[OC, 4000x3000]``) is a tag anywhere in the text; several words
   (``[love this]``, ``[use case]``) only where a round tag is one (rule 3), since in the
   middle of a post they are often prose. Not in prompt communities, where square brackets
   are attention weights (``neco.social.prompts``).
3. **Round-bracket tags** — ``(...)`` likewise (``ROUND``), only where titles put tags: at
   the start or the end of the text, alone or in a chain of tags separated by spaces or
   nothing (``[OC] (Canon 5D)`` at the end; ``(OC) My dog`` at the start). In the middle of
   a sentence a parenthesis is prose ("John Smith (left) and ...") and stays words; at the
   end it is read as an annotation ("... and Jones (right)" gives the tag ``[right]``). Not
   in prompt communities (round brackets weigh there too).

Each tag becomes the term ``[content]``: lower-cased, whitespace collapsed, round brackets
written as square ones (``(OC)`` and ``[OC]`` are one term), and every resolution mark
inside written ``WxH`` (``[1968 x 1310]`` -> ``[WxH]``, ``[OC, 4000x3000]`` ->
``[oc, WxH]``): single resolutions are noise, the habit of giving one is the signal.

A word token whose character span lies inside a tag (tags that touch count as one span, so
``1200x800)(oc`` lies inside ``(1200x800)(OC)``) is left out of the lemma and n-gram counts
and of the collocate windows; a token that only overlaps a tag ("sunset[oc") is kept.

>>> find_tags(["t"], ["Abandoned mill at dusk [OC] (1200x800)(OC)"]).to_pylist()
... # doctest: +NORMALIZE_WHITESPACE
[{'id': 't', 'start': 23, 'end': 27, 'tag': '[oc]'},
 {'id': 't', 'start': 28, 'end': 38, 'tag': '[WxH]'},
 {'id': 't', 'start': 38, 'end': 42, 'tag': '[oc]'}]
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

RESOLUTION = r"(?<![\w.])\d{3,5} ?[x×X] ?\d{3,5}(?: ?px)?(?!\w|\.\d)"
SQUARE = r"\[[^\[\]()\n]{1,40}\]"
ROUND = r"\([^\[\]()\n]{1,40}\)"

_RESOLUTION = re.compile(RESOLUTION)
_BRACKETED_RESOLUTION = re.compile(r"[\[(] ?" + RESOLUTION + r" ?[\])]")
_GROUP = re.compile(f"(?P<square>{SQUARE})|(?P<round>{ROUND})")
# A text worth scanning: it has a bracket or a digit followed (maybe after a space) by an x.
_CANDIDATE = re.compile(r"[\[(]|\d ?[x×X] ?\d")

TAG_SCHEMA = pa.schema(
    [("id", pa.string()), ("start", pa.int64()), ("end", pa.int64()), ("tag", pa.string())]
)


def tag_term(text: str) -> str:
    """The term of one tag as written (brackets included).

    >>> tag_term("(OC)"), tag_term("[1968 x 1310]"), tag_term("[OC,  4000x3000]")
    ('[oc]', '[WxH]', '[oc, WxH]')
    """
    inner = text[1:-1] if text[:1] in "[(" and text[-1:] in "])" else text
    inner = _RESOLUTION.sub("WxH", inner)
    inner = " ".join(inner.split())
    return f"[{inner.lower().replace('wxh', 'WxH')}]"


def _tags_of(text: str, brackets: bool) -> list[tuple[int, int, str]]:
    """(start, end, term) of the tags of one text, in order (rules 1-3)."""
    marks: list[tuple[int, int, str]] = []
    taken = np.zeros(len(text) + 1, dtype=bool)
    for m in _BRACKETED_RESOLUTION.finditer(text):
        marks.append((m.start(), m.end(), "[WxH]"))
        taken[m.start() : m.end()] = True
    for m in _RESOLUTION.finditer(text):
        if not taken[m.start()]:
            marks.append((m.start(), m.end(), "[WxH]"))
    if not brackets:
        return sorted(marks)
    bracketed = {(start, end) for start, end, _ in marks}
    squares: list[tuple[int, int, str]] = []  # tags anywhere
    edged: list[tuple[int, int, str]] = []  # tags only in a chain at the start or the end
    for m in _GROUP.finditer(text):
        if (m.start(), m.end()) in bracketed:  # "[1968 x 1310]": a resolution mark already
            continue
        span = (m.start(), m.end(), tag_term(m.group()))
        inner = m.group()[1:-1].strip()
        anywhere = m.group("square") and (" " not in inner or _RESOLUTION.search(inner))
        (squares if anywhere else edged).append(span)
    groups = squares + _at_edges(text, edged, squares + marks)
    # A mark inside a group ("[OC, 4000x3000]") is part of that group's term.
    alone = [r for r in marks if not any(g[0] <= r[0] and r[1] <= g[1] for g in groups)]
    return sorted(groups + alone)


def _at_edges(
    text: str, edged: list[tuple[int, int, str]], others: list[tuple[int, int, str]]
) -> list[tuple[int, int, str]]:
    """The groups of ``edged`` in the chain of tags that starts or ends the text (rule 3)."""
    spans = sorted(edged + others)
    chained: set[int] = set()  # indices into spans
    position = len(text) - len(text.lstrip())
    for i, (start, end, _) in enumerate(spans):  # from the start
        if start != position:
            break
        chained.add(i)
        position = end + len(text[end:]) - len(text[end:].lstrip())
    position = len(text.rstrip(" \t.!"))
    for i in range(len(spans) - 1, -1, -1):  # from the end
        start, end, _ = spans[i]
        if end != position:
            break
        chained.add(i)
        position = len(text[:start].rstrip())
    wanted = set(edged)
    return [spans[i] for i in sorted(chained) if spans[i] in wanted]


def find_tags(
    ids: Sequence[str], texts: Sequence[str], *, prompt_ids: Collection[str] = ()
) -> pa.Table:
    """Tags of the captions ``texts`` (rules of the module doc): columns ``id``, ``start``,
    ``end`` (character offsets in the text) and ``tag`` (the term), in text order.

    Captions whose id is in ``prompt_ids`` (texts of prompt communities) get resolution
    marks only: their brackets are attention weights.
    """
    prompts = set(prompt_ids)
    rows: dict[str, list[object]] = {"id": [], "start": [], "end": [], "tag": []}
    for caption_id, text in zip(ids, texts, strict=True):
        if not isinstance(text, str) or not _CANDIDATE.search(text):
            continue
        for start, end, term in _tags_of(text, brackets=caption_id not in prompts):
            rows["id"].append(caption_id)
            rows["start"].append(start)
            rows["end"].append(end)
            rows["tag"].append(term)
    return pa.table(rows, schema=TAG_SCHEMA)


def inside_tags(tokens: pd.DataFrame, tags: pa.Table) -> np.ndarray:
    """True for the rows of ``tokens`` (``id``, ``start``, ``end``) that lie inside a tag.

    Tags that touch or overlap are merged first, so that a token spanning two adjacent
    tags (``1200x800)(oc``) lies inside their union.
    """
    mask = np.zeros(len(tokens), dtype=bool)
    if tags.num_rows == 0 or len(tokens) == 0:
        return mask
    spans = tags.select(["id", "start", "end"]).to_pandas().sort_values(["id", "start"])
    # Merge touching spans within a caption: a new group starts where a span begins after
    # the furthest end seen so far.
    furthest = spans.groupby("id", sort=False)["end"].cummax().shift()
    same = spans["id"].eq(spans["id"].shift())
    new_group = ~same | (spans["start"] > furthest)
    spans["group"] = new_group.cumsum()
    merged = spans.groupby("group").agg(id=("id", "first"), lo=("start", "min"), hi=("end", "max"))
    tagged = tokens["id"].isin(set(merged["id"]))
    if not tagged.any():
        return mask
    candidates = tokens.loc[tagged, ["id", "start", "end"]].assign(
        row=np.flatnonzero(tagged.to_numpy())
    )
    joined = candidates.merge(merged, on="id")
    hit = (joined["start"] >= joined["lo"]) & (joined["end"] <= joined["hi"])
    mask[joined.loc[hit, "row"].to_numpy()] = True
    return mask
