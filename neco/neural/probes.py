"""Relation probes: minimal pairs cut from the corpus's own captions, read against controls.

A caption and its copy with two words swapped contain the same words and differ only in who
does what to whom: "a dog chases a ball" / "a ball chases a dog". ARO (Yuksekgonul et al.
2023, "When and why vision-language models behave like bags-of-words") and Winoground
(Thrush et al. 2022) showed with fixed benchmarks that CLIP (Radford et al. 2021) often
scores such pairs as near-identical. Here the pairs come from the social layer's relations
(``neco.social.relations``), so the probe measures, per community, how much of the
corpus's own relational structure a text encoder — e.g. the one conditioning Stable
Diffusion (Rombach et al. 2022) — keeps apart.

Swaps (only the two words change places, plus the article exchanges below; every other
character of the caption is kept):

- ``svo`` — subject and object: "a dog chases a ball" -> "a ball chases a dog";
- ``prep`` — the two nouns around a preposition: "a mug in the grass" -> "a grass in the mug";
- ``amod`` — the adjectives of two different nouns, when a caption has two ``amod``
  relations with different adjectives and different nouns: "a red mug and a blue plate" ->
  "a blue mug and a red plate". A single ``amod`` yields no pair.

Casing stays with the position (see :func:`recase`).

**Agreement.** A swap moves a word but not its determiner or its verb, so it can break
agreement; such a pair would measure grammar, not relations. A swapped caption must also stay a
permutation of the original's words: a re-inflected verb ("chase" -> "chases") would be a
second difference besides the relation, and would make even a bag-of-words encoder "see" the
swap. So with ``agreement=True`` (it needs the parse columns ``lemma, pos, dep, head`` of
``social/tokens``) :func:`minimal_pairs` repairs only what exchanges words, and skips the
rest, counting each skip by reason (:data:`SKIP_REASONS`):

- ``pronoun`` — a pronoun would change case ("he chases her" -> "her chases he");
- ``number`` — the two nouns differ in number and a determiner marks it ("a dog chases two
  balls" -> "a balls chases two dog"), or one of them is bare ("dogs chase a ball" -> "ball
  chase a dogs"). A noun is plural when it is a ``NOUN``/``PROPN`` whose lowercased text
  differs from its lemma ("dogs"/"dog", "men"/"man"); an invariant plural ("people",
  "sheep") reads as singular — the parse's fine-grained tag (``NNS``) or ``Number``
  morphology would settle it, and ``social/tokens`` keeps neither;
- ``verb`` — the nouns differ in number behind number-neutral determiners ("the", possessives)
  and a swapped noun is the subject of a verb that shows its number ("the dogs chase the
  ball" -> "the ball chase the dogs"): the first auxiliary, else the verb itself, when it is
  is/are/was/were/has/have/does/do, a present form equal to its lemma ("chase", plural) or an
  -s form ("chases", singular). A modal ("can chase") or a past form ("chased") shows no
  number, so "the dogs chased the ball" -> "the ball chased the dogs" is kept;
- ``article`` — "a"/"an" before a slot must fit the word moving in. It is exchanged when that
  keeps the words ("an apple hits a man" -> "a man hits an apple", listed in
  ``reinflected``); the article a word takes is the one the caption writes before it, else
  its spelling, with the usual exceptions ("an hour", "a unicorn"). A pair whose repair would
  change a word ("an apple hits the man" -> "a man hits the apple"), or whose new word's
  sound the spelling does not tell ("8k"), is skipped;
- ``identical`` (the same word twice), ``overlap`` (the two tokens overlap), ``offsets``
  (the token table's offsets do not match the caption text) and ``truncated`` (a swapped
  word past what the encoder reads, CLIP's 77 tokens; see ``fits``) are skipped as well.

With ``agreement=False`` words move exactly as written, as in ARO, and only these last four
reasons apply.

**Controls.** Raw sensitivity (``1 - cosine`` of a caption and its swap) is not evidence: a
CLIP text tower with random weights already separates a swap from its original, because the
moved words meet other position embeddings (0.014 on crude subject/object swaps, 0.003 on
"X and Y" swaps, 0.197 between unrelated captions). Each score is therefore read against:

1. a **meaning-preserving control swap** per pair, moving words the same way without changing
   the meaning (:data:`CONTROL_KINDS`):

   - ``caption`` — a coordination of the same caption ("a cat and a dog" -> "a dog and a
     cat"): a ``conj`` whose head has the same part of speech (nouns, or adjectives), joined
     by a ``cc`` "and"/"or", whose two conjuncts have the same other dependents ("a cat" and
     "a dog", not "a black cat" and "a white dog", whose swap would rebind the adjectives),
     passing the same agreement checks, and whose token distance is within
     ``max_distance_gap`` of the pair's; the closest in distance, then in position, wins;
   - ``constructed`` — where the caption offers none: the pair's two words at their own
     positions in a symmetric "A and B" frame of the same token distance. The caption is
     kept up to and including the first word (so the first word keeps its position and its
     left dependents, "a brown"); then come "and", padding "also"s, a copy of the first
     word's left dependents (its "a"/"an" chosen for the second word), the second word, and
     the caption after the second word's own right-hand dependents. Both words carry the
     same modifiers, so the swap rebinds none, and coordination is symmetric, so it keeps
     the frame's meaning, however plain the frame: "A dog chases a ball." -> "A dog and a
     ball." <-> "A ball and a dog."; "A brown dog chases a red ball across the lawn" ->
     "A brown dog and a brown ball across the lawn"; "an old mug and a red plate" (adjectives)
     -> "an old and also a red plate" <-> "a red and also an old plate". When the copied
     words do not fit between, the frame is longer than the pair (``control_distance``).

   Token distances are counted in the parse's word tokens, not in CLIP's BPE pieces.
2. the **unrelated-caption spread** (:func:`unrelated_spread`): the mean (and standard
   deviation) of ``1 - cosine`` between seeded random pairs of distinct sampled captions —
   the scale on which "different" is measured;
3. a **random-weight floor** (:func:`random_weight_twin`): the same architecture, built from
   the loaded encoder's config with a seeded random initialisation, scoring the same pairs,
   controls and unrelated captions — what position embeddings and architecture alone give.

The **calibrated score** (:func:`calibrated_score`) is sensitivity beyond the control in units
of the spread, ``(sensitivity - control) / spread``, reported with the floor's own calibrated
score beside it (:func:`probe_summary`). The :func:`bag_of_words_encoder` is the known answer:
it ignores order, so every pair and every control scores exactly 1.0 and both its sensitivity
and its calibrated score are exactly zero.

>>> swap_spans("a dog chases a ball", (2, 5), (15, 19))
'a ball chases a dog'
>>> swap_spans("Dog chases a ball", (0, 3), (13, 17))
'Ball chases a dog'
>>> calibrated_score(0.05, 0.02, 0.2)
0.15
"""

from __future__ import annotations

import copy
import math
import re
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from neco._lazy import require
from neco.errors import NecoError

PAIR_KINDS = ("svo", "prep", "amod")
"""Relation kinds that yield minimal pairs."""
SKIP_REASONS = (
    "offsets",
    "overlap",
    "identical",
    "truncated",
    "pronoun",
    "number",
    "verb",
    "article",
)
"""Why a candidate pair was skipped (see the module docstring)."""
CONTROL_KINDS = ("caption", "constructed")
"""Where a pair's meaning-preserving control swap comes from (see the module docstring)."""
PAIR_COLUMNS = [
    "id",
    "community",
    "kind",
    "original",
    "swapped",
    "term_a",
    "relation",
    "term_b",
    "distance",
    "reinflected",
    "control_kind",
    "control_original",
    "control_swapped",
    "control_distance",
]
"""Columns of :attr:`MinimalPairs.pairs`: ``distance`` is the token distance of the two swapped
words; ``reinflected`` lists the articles exchanged ("an->a; a->an"), null when none."""
SKIP_COLUMNS = ["id", "community", "kind", "term_a", "relation", "term_b", "reason"]
"""Columns of :attr:`MinimalPairs.skipped`: one row per candidate pair not made, with its reason."""
SUMMARY_COLUMNS = [
    "community",
    "kind",
    "pairs",
    "skipped",
    *(f"skipped_{reason}" for reason in SKIP_REASONS),
    "caption_controls",
    "constructed_controls",
    "sensitivity",
    "control",
    "spread",
    "spread_std",
    "calibrated",
    "floor_sensitivity",
    "floor_control",
    "floor_spread",
    "floor_calibrated",
]
"""Columns of :func:`probe_summary`'s result."""
UNRELATED_PAIRS = 200
"""Default number of random caption pairs behind the unrelated-caption spread."""

_WORD = re.compile(r"\w+", re.UNICODE)
_NOUNS = ("NOUN", "PROPN")
_SUBJECTS = ("nsubj", "nsubjpass")
# Determiners that fit a singular and a plural noun alike: behind them a number change is
# carried by the verb alone.
_NEUTRAL_DETERMINERS = frozenset(
    {"the", "my", "your", "his", "her", "its", "our", "their", "no", "any"}
)
_NUMBER_WORDS = ("det", "predet", "nummod", "poss")
_MODALS = frozenset(
    {"can", "could", "will", "would", "shall", "should", "may", "might", "must", "'ll", "'d",
     "wo", "ca", "to"}
)  # fmt: skip
# Forms of be/have/do that show the subject's number ("'s" is "is" or "has").
_SINGULAR_FORMS = frozenset({"is", "was", "has", "does", "'s"})
_PLURAL_FORMS = frozenset({"are", "were", "have", "do", "'re", "'ve"})
# Spelling exceptions of "a"/"an": vowel letters read as a consonant, a silent "h".
_A_BEFORE_VOWEL = ("one", "once", "uni", "use", "usu", "uti", "eu", "ewe")
_AN_BEFORE_H = ("hour", "honest", "honor", "honour", "heir")
_COORDINATORS = ("and", "or")
_COORDINATES = {"NOUN": "noun", "PROPN": "noun", "ADJ": "adjective"}


# --------------------------------------------------------------------------- text edits


def recase(word: str, template: str) -> str:
    """``word`` written with the casing of the slot it moves into, whose old word is ``template``.

    An all-capitals template (two letters or more) makes ``word`` all capitals; a capitalised
    template capitalises ``word``'s first letter; a lowercase template lowers a word that is
    merely capitalised ("Dog" moving off the start of a caption). Anything else ("iPhone",
    "NASA" into a lowercase slot) is kept as written.

    >>> recase("ball", "Dog")
    'Ball'
    >>> recase("Dog", "ball")
    'dog'
    >>> recase("NASA", "ball")
    'NASA'
    >>> recase("ball", "DOG")
    'BALL'
    """
    if not word or not template:
        return word
    if len(template) > 1 and template.isupper():
        return word.upper()
    if template[0].isupper():
        return word[0].upper() + word[1:]
    if template[0].islower() and word[0].isupper() and word[1:] == word[1:].lower():
        return word[0].lower() + word[1:]
    return word


def swap_spans(text: str, span_a: tuple[int, int], span_b: tuple[int, int]) -> str:
    """``text`` with the characters of two non-overlapping spans exchanged, recased by position.

    >>> swap_spans("a mug in the grass", (2, 5), (13, 18))
    'a grass in the mug'
    >>> swap_spans("a red mug and a blue plate", (16, 20), (2, 5))
    'a blue mug and a red plate'
    """
    (s1, e1), (s2, e2) = sorted([span_a, span_b])
    if not (0 <= s1 < e1 <= s2 < e2 <= len(text)):
        raise ValueError(f"spans {span_a} and {span_b} overlap or fall outside the text")
    first, second = text[s1:e1], text[s2:e2]
    return text[:s1] + recase(second, first) + text[e1:s2] + recase(first, second) + text[e2:]


def _apply(text: str, edits: Mapping[tuple[int, int], str]) -> str:
    """``text`` with each character span of ``edits`` replaced (spans must not overlap)."""
    out, last = [], 0
    for (start, end), new in sorted(edits.items()):
        if start < last:
            raise ValueError(f"edits overlap at {start}")
        out += [text[last:start], new]
        last = end
    return "".join(out) + text[last:]


# --------------------------------------------------------------------------- agreement


def article_for(word: str) -> str | None:
    """The article ("a" or "an") before ``word`` by its spelling; ``None`` when it does not tell.

    >>> [article_for(w) for w in ("dog", "apple", "hour", "unicorn", "umbrella", "8k")]
    ['a', 'an', 'an', 'a', 'an', None]
    """
    low = word.lower()
    if not low[:1].isalpha():
        return None
    if low.startswith(_A_BEFORE_VOWEL):
        return "a"
    if low.startswith(_AN_BEFORE_H):
        return "an"
    return "an" if low[0] in "aeiou" else "a"


@dataclass(frozen=True)
class _Token:
    position: int
    text: str
    lower: str
    lemma: str
    pos: str
    dep: str
    head: int
    start: int
    end: int
    valid: bool  # its offsets agree with the caption text

    @property
    def span(self) -> tuple[int, int]:
        return self.start, self.end


class _Caption:
    """One caption's text and parsed tokens, looked up by token position."""

    def __init__(self, doc: str, tokens: Iterable[_Token]) -> None:
        self.doc = doc
        self.at = {t.position: t for t in tokens}
        self.children: dict[int, list[_Token]] = {}
        for t in sorted(self.at.values(), key=lambda t: t.position):
            if t.head != t.position and t.head >= 0:
                self.children.setdefault(t.head, []).append(t)

    def token(self, position: int) -> _Token | None:
        found = self.at.get(position)
        return found if found is not None and found.valid else None

    def dependents(self, position: int) -> list[_Token]:
        return self.children.get(position, [])

    def before(self, token: _Token) -> _Token | None:
        """The token right before ``token``, when only whitespace separates them."""
        prev = self.token(token.position - 1)
        if prev is None or prev.end > token.start or self.doc[prev.end : token.start].strip():
            return None
        return prev

    def in_subtree(self, position: int, root: int) -> bool:
        seen = 0
        t = self.at.get(position)
        while t is not None and seen <= len(self.at):
            if t.position == root:
                return True
            if t.head == t.position or t.head < 0:
                return False
            t, seen = self.at.get(t.head), seen + 1
        return False


def _number(t: _Token) -> str:
    return "plural" if t.pos in _NOUNS and t.lower != t.lemma.lower() else "singular"


def _neutral_number(c: _Caption, noun: _Token) -> bool:
    """Whether ``noun``'s determiners fit either number (a bare noun does not)."""
    words = [d for d in c.dependents(noun.position) if d.dep in _NUMBER_WORDS]
    return bool(words) and all(
        d.dep == "poss" or (d.dep != "nummod" and d.lower in _NEUTRAL_DETERMINERS) for d in words
    )


def _bearer(c: _Caption, verb: _Token) -> _Token | None:
    """The word that carries the subject's agreement: the first auxiliary, else the verb."""
    auxiliaries = [
        d
        for d in c.dependents(verb.position)
        if d.dep in ("aux", "auxpass") and d.position < verb.position
    ]
    if auxiliaries:
        return None if auxiliaries[0].lower in _MODALS else auxiliaries[0]
    return verb if verb.pos in ("VERB", "AUX") else None


def _bearer_number(t: _Token) -> str | None:
    """The number an agreeing form shows (``singular``/``plural``), ``None`` for a form without
    agreement (a past form, a participle, "am")."""
    low, lemma = t.lower, t.lemma.lower()
    if low in _SINGULAR_FORMS:
        return "singular"
    if low in _PLURAL_FORMS:
        return "plural"
    if lemma in ("be", "have", "do"):
        return None
    if low == lemma:
        return "plural"  # a present form without -s
    return "singular" if low.endswith("s") else None


@dataclass
class _Swap:
    """A swap as character edits of a text, the repairs it made, or why it cannot be made."""

    edits: dict[tuple[int, int], str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    reason: str | None = None


def _breaks_verb_agreement(c: _Caption, slot: _Token, incoming: _Token) -> bool:
    """Whether ``incoming`` in the place of ``slot``, a subject, disagrees with its verb."""
    if slot.dep not in _SUBJECTS or any(d.dep == "conj" for d in c.dependents(slot.position)):
        return False  # not a subject, or a coordinated subject (plural whatever its members)
    verb = c.at.get(slot.head)
    bearer = _bearer(c, verb) if verb is not None and verb.position != slot.position else None
    number = _bearer_number(bearer) if bearer is not None else None
    # A form that does not agree with the caption's own subject carries no agreement here
    # (a past form that looks like a present, "hit"; or a parse slip).
    return number == _number(slot) and number != _number(incoming)


def _wanted_article(c: _Caption, word: _Token) -> str | None:
    """The article ``word`` takes: the one the caption writes before it, else by spelling."""
    evidence = c.before(word)
    if evidence is not None and evidence.lower in ("a", "an"):
        return evidence.lower
    return article_for(word.text)


def _article_edit(c: _Caption, article: _Token | None, incoming: _Token, swap: _Swap) -> None:
    """Make the "a"/"an" right before a slot fit the word moving in."""
    if article is None or article.lower not in ("a", "an"):
        return
    wanted = _wanted_article(c, incoming)
    if wanted is None:
        swap.reason = "article"
    elif wanted != article.lower:
        new = recase(wanted, article.text)
        swap.edits[article.span] = new
        swap.notes.append(f"{article.text}->{new}")


def _words(text: str) -> list[str]:
    return sorted(_WORD.findall(text.lower()))


def _swap(c: _Caption, a: _Token, b: _Token, *, nouns: bool, verbs: bool, agreement: bool) -> _Swap:
    """Exchange tokens ``a`` and ``b`` of caption ``c``, with the agreement rules."""
    if a.start < b.end and b.start < a.end:
        return _Swap(reason="overlap")
    if a.lower == b.lower:
        return _Swap(reason="identical")
    swap = _Swap(edits={a.span: recase(b.text, a.text), b.span: recase(a.text, b.text)})
    if not agreement:
        return swap
    if "PRON" in (a.pos, b.pos):
        return _Swap(reason="pronoun")
    if nouns and _number(a) != _number(b):
        if not (_neutral_number(c, a) and _neutral_number(c, b)):
            return _Swap(reason="number")
        if verbs and (_breaks_verb_agreement(c, a, b) or _breaks_verb_agreement(c, b, a)):
            return _Swap(reason="verb")
    for slot, incoming in ((a, b), (b, a)):
        _article_edit(c, c.before(slot), incoming, swap)
    if swap.reason is None and _words(_apply(c.doc, swap.edits)) != _words(c.doc):
        swap.reason = "article"  # the repair would change a word, not only move words
    return swap if swap.reason is None else _Swap(reason=swap.reason)


# --------------------------------------------------------------------------- controls


@dataclass(frozen=True)
class _Control:
    kind: str
    original: str
    swapped: str
    distance: int
    first: int
    seen: str  # the original up to the later moved word: what the encoder must see


def _coordination_controls(c: _Caption) -> list[_Control]:
    """Meaning-preserving swaps of coordinated words ("a cat and a dog" -> "a dog and a cat")."""
    out = []
    for x in sorted(c.at.values(), key=lambda t: t.position):
        h = c.token(x.head)
        if x.dep != "conj" or not x.valid or h is None or h.position == x.position:
            continue
        group = _COORDINATES.get(h.pos)
        if group is None or _COORDINATES.get(x.pos) != group:
            continue
        joined = any(
            d.dep == "cc" and d.lower in _COORDINATORS
            for p in (h.position, x.position)
            for d in c.dependents(p)
        )

        def own(t: _Token) -> list[tuple[str, str]] | None:
            deps = [d for d in c.dependents(t.position) if d.dep not in ("cc", "conj", "punct")]
            if any(c.dependents(d.position) for d in deps):
                return None  # a modifier with its own words ("on a mat"): compare no further
            return sorted((d.dep, d.lower) for d in deps)

        if not joined or own(h) is None or own(h) != own(x):
            continue  # different modifiers would be rebound by the swap
        first, second = sorted((h, x), key=lambda t: t.position)
        swap = _swap(c, first, second, nouns=group == "noun", verbs=False, agreement=True)
        if swap.reason is None:
            out.append(
                _Control(
                    "caption",
                    c.doc,
                    _apply(c.doc, swap.edits),
                    second.position - first.position,
                    first.position,
                    c.doc[: second.end],
                )
            )
    return out


def _phrase(c: _Caption, t: _Token, step: int) -> list[_Token]:
    """The run of ``t``'s own dependents right before (``step=-1``) or after (``+1``) it."""
    out = []
    position = t.position + step
    while (n := c.token(position)) is not None and c.in_subtree(position, t.position):
        out.append(n)
        position += step
    return out[::-1] if step < 0 else out


def _constructed_control(c: _Caption, first: _Token, second: _Token) -> _Control | None:
    """The two words at their own positions in a symmetric "A and B" frame (module docstring).

    The second word gets a copy of the first word's left dependents ("A brown dog chases a red
    ball" -> "A brown dog and a brown ball"), so that the swap rebinds no modifier, and its own
    right-hand dependents are dropped for the same reason.
    """
    left = _phrase(c, first, -1)
    right = _phrase(c, second, +1)
    copy = [t.lower for t in left]
    article = c.before(first)
    copied_article = False
    if article is not None and article.lower in ("a", "an"):
        copied_article = True
        if not left or left[-1] is not article:
            # an article of the first word's noun ("an old mug"): the second word gets one
            # too, so that the swap exchanges articles instead of changing one
            copy = [article.lower]
    if copied_article:
        wanted = _wanted_article(c, second)
        if wanted is None:
            return None
        copy[-1] = wanted
    between = second.position - first.position - 1
    bridge = ["and"] + ["also"] * max(between - 1 - len(copy), 0) + copy
    head = c.doc[: first.end] + " " + " ".join(bridge) + " "
    text = head + second.text + c.doc[right[-1].end if right else second.end :]
    at = len(head)
    swap = _Swap(
        edits={
            first.span: recase(second.text, first.text),
            (at, at + len(second.text)): recase(first.text, second.text),
        }
    )
    _article_edit(c, article, second, swap)
    if copied_article:
        word = copy[-1]
        start = at - 1 - len(word)
        copied = _Token(-1, word, word, word, "DET", "det", -1, start, start + len(word), True)
        _article_edit(c, copied, first, swap)
    swapped = _apply(text, swap.edits)
    if swap.reason is not None or _words(swapped) != _words(text):
        return None
    seen = text[: at + len(second.text)]
    return _Control("constructed", text, swapped, len(bridge) + 1, first.position, seen)


def _choose_control(
    candidates: Sequence[_Control], first: int, distance: int, max_gap: int
) -> _Control | None:
    close = [k for k in candidates if abs(k.distance - distance) <= max_gap]
    if not close:
        return None
    return min(close, key=lambda k: (abs(k.distance - distance), abs(k.first - first), k.first))


# --------------------------------------------------------------------------- minimal pairs


@dataclass
class MinimalPairs:
    """What :func:`minimal_pairs` made: ``pairs`` (:data:`PAIR_COLUMNS`) and ``skipped``
    (:data:`SKIP_COLUMNS`). Every candidate is in one of them, except a repeat of a pair
    (two relations giving the same swap) and, with ``max_per_kind``, the pairs not sampled."""

    pairs: pd.DataFrame
    skipped: pd.DataFrame

    def skip_counts(self) -> dict[str, int]:
        """Skipped candidates per reason, every reason listed."""
        counts = self.skipped["reason"].value_counts()
        return {reason: int(counts.get(reason, 0)) for reason in SKIP_REASONS}


def _to_pandas(table: pd.DataFrame | pa.Table) -> pd.DataFrame:
    return table.to_pandas() if isinstance(table, pa.Table) else table


def _require_columns(frame: pd.DataFrame, columns: Iterable[str], what: str, hint: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise NecoError(
            f"The {what} lacks column(s) {', '.join(missing)}; found "
            f"{', '.join(map(str, frame.columns))}. {hint}"
        )


_SOCIAL_HINT = "Pass the table written by `neco social --mode full`."


def _captions(
    tokens: pd.DataFrame, texts: Mapping[str, str], ids: set[str], parsed: bool
) -> dict[str, _Caption]:
    t = tokens[tokens["id"].astype(str).isin(ids)]
    n = len(t)
    lower = t["lower"] if "lower" in t.columns else t["text"].astype(str).str.lower()
    lemma = t["lemma"] if parsed else lower
    pos = t["pos"] if parsed else pd.Series([""] * n, index=t.index)
    dep = t["dep"] if parsed else pd.Series([""] * n, index=t.index)
    head = t["head"].fillna(-1) if parsed else pd.Series([-1] * n, index=t.index)
    grouped: dict[str, list[_Token]] = {}
    for row in zip(
        t["id"], t["position"], t["text"], lower, lemma, pos, dep, head, t["start"], t["end"],
        strict=True,
    ):  # fmt: skip
        cid, position, text, low, lem, p, d, h, start, end = row
        doc = texts[str(cid)]
        start, end = int(start), int(end)
        valid = 0 <= start < end <= len(doc) and doc[start:end] == str(text)
        grouped.setdefault(str(cid), []).append(
            _Token(int(position), str(text), str(low), str(lem), str(p), str(d), int(h), start,
                   end, valid)
        )  # fmt: skip
    return {cid: _Caption(texts[cid], toks) for cid, toks in grouped.items()}


def minimal_pairs(
    relations: pd.DataFrame,
    tokens: pd.DataFrame | pa.Table,
    texts: Mapping[str, str],
    *,
    kinds: Sequence[str] = PAIR_KINDS,
    agreement: bool = True,
    max_distance_gap: int = 1,
    max_per_kind: int | None = None,
    seed: int = 0,
    fits: Callable[[str], bool] | None = None,
) -> MinimalPairs:
    """Minimal pairs ``(original, swapped)`` and their controls from the social layer's relations.

    ``relations`` has ``id, community, kind, term_a, relation, term_b, position_a, position_b``
    (``neco.social.relations.extract_relations``); ``tokens`` has ``id, position, text, start,
    end`` with character offsets into the texts of ``texts`` (caption id -> normalised text),
    and, for ``agreement=True``, the parse's ``lemma, pos, dep, head`` (``lower`` is used when
    present). Returns the pairs (:data:`PAIR_COLUMNS`, one per distinct swap, in caption order,
    each with its control swap) and the skipped candidates with their reasons (module
    docstring). A caption coordination is the control when its token distance is within
    ``max_distance_gap`` of the pair's, else the constructed frame. ``max_per_kind`` keeps a
    seeded random sample of that many pairs per kind. For ``amod`` pairs ``term_a``/``term_b``
    are "adjective noun" of the two nouns and ``relation`` is ``"amod"``.

    ``fits`` tells whether the encoder sees all of a text (e.g. within CLIP's 77 tokens),
    asked of the caption up to the later swapped word: a swap past the cut would score as "no
    difference" without being measured, so such a pair is skipped as ``truncated``, and a
    coordination past the cut is no control.
    """
    unknown = [k for k in kinds if k not in PAIR_KINDS]
    if unknown:
        raise NecoError(
            f"Unknown relation kind(s) {', '.join(map(repr, unknown))}. "
            f"Expected some of: {', '.join(PAIR_KINDS)}."
        )
    if max_distance_gap < 0:
        raise NecoError(f"max_distance_gap must be 0 or more, got {max_distance_gap}.")
    _require_columns(
        relations,
        ["id", "community", "kind", "term_a", "relation", "term_b", "position_a", "position_b"],
        "relations table",
        _SOCIAL_HINT,
    )
    token_frame = _to_pandas(tokens)
    _require_columns(
        token_frame, ["id", "position", "text", "start", "end"], "token table", _SOCIAL_HINT
    )
    if agreement:
        _require_columns(
            token_frame,
            ["lemma", "pos", "dep", "head"],
            "token table",
            "Agreement checks need the dependency parse: pass `social/tokens` from "
            "`neco social --mode full`, or agreement=False for raw swaps as in ARO.",
        )
    rel = relations[relations["kind"].isin(list(kinds))]
    rel = rel[rel["id"].astype(str).isin(set(map(str, texts)))]
    captions = _captions(token_frame, texts, set(rel["id"].astype(str)), agreement)
    records: list[dict[str, Any]] = [
        {str(k): v for k, v in record.items()}
        for record in rel.assign(id=rel["id"].astype(str))
        .sort_values(["id", "kind", "position_b", "position_a"], kind="stable")
        .to_dict("records")
    ]

    rows: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    coordinations: dict[str, list[_Control]] = {}
    checked = mismatched = 0

    def add(row: dict[str, Any], a: _Token, b: _Token, terms: tuple[str, str, str]) -> None:
        c = captions[row["id"]]
        nouns = row["kind"] != "amod"
        swap = _swap(c, a, b, nouns=nouns, verbs=nouns, agreement=agreement)
        meta = {
            "id": row["id"],
            "community": row["community"],
            "kind": row["kind"],
            "term_a": terms[0],
            "relation": terms[1],
            "term_b": terms[2],
        }
        first, second = sorted((a, b), key=lambda t: t.position)
        if fits is not None and not fits(c.doc[: second.end]):
            swap.reason = "truncated"
        if swap.reason is not None:
            skipped.append({**meta, "reason": swap.reason})
            return
        distance = second.position - first.position
        if row["id"] not in coordinations:
            found = _coordination_controls(c) if agreement else []
            coordinations[row["id"]] = [k for k in found if fits is None or fits(k.seen)]
        control = _choose_control(
            coordinations[row["id"]], first.position, distance, max_distance_gap
        ) or _constructed_control(c, first, second)
        if control is None or (fits is not None and not fits(control.seen)):
            # the pair's own checks passed, so only a frame longer than the pair can fail
            skipped.append({**meta, "reason": "truncated" if control else "article"})
            return
        rows.append(
            {
                **meta,
                "original": c.doc,
                "swapped": _apply(c.doc, swap.edits),
                "distance": distance,
                "reinflected": "; ".join(swap.notes) or None,
                "control_kind": control.kind,
                "control_original": control.original,
                "control_swapped": control.swapped,
                "control_distance": control.distance,
            }
        )

    adjectives: dict[str, list[tuple[dict[str, Any], _Token]]] = {}
    for row in records:
        c = captions.get(row["id"])
        a = c.token(int(row["position_a"])) if c is not None else None
        b = c.token(int(row["position_b"])) if c is not None else None
        checked += 1
        if a is None or (b is None and row["kind"] != "amod"):
            mismatched += 1
            skipped.append({**{k: row[k] for k in SKIP_COLUMNS[:-1]}, "reason": "offsets"})
        elif row["kind"] == "amod":
            adjectives.setdefault(row["id"], []).append((row, a))
        elif b is not None:
            add(row, a, b, (str(row["term_a"]), str(row["relation"]), str(row["term_b"])))

    # amod: the adjectives of two different nouns (two adjectives of one noun are no pair).
    for members in adjectives.values():
        for (r1, adj1), (r2, adj2) in combinations(members, 2):
            if r1["position_b"] == r2["position_b"] or r1["term_b"] == r2["term_b"]:
                continue
            terms = (f"{r1['term_a']} {r1['term_b']}", "amod", f"{r2['term_a']} {r2['term_b']}")
            add(r1, adj1, adj2, terms)

    if checked and mismatched == checked:
        raise NecoError(
            f"None of the {checked} relation tokens matched its caption text at the token "
            "table's character offsets. Expected the captions' normalised texts (the ones the "
            "social layer parsed); pass those as `texts`."
        )
    pairs = pd.DataFrame(rows, columns=PAIR_COLUMNS)
    pairs = pairs.drop_duplicates(["id", "kind", "swapped"]).reset_index(drop=True)
    if max_per_kind is not None:
        pairs = _sample_per_kind(pairs, max_per_kind, seed)
    return MinimalPairs(pairs, pd.DataFrame(skipped, columns=SKIP_COLUMNS))


def _sample_per_kind(pairs: pd.DataFrame, limit: int, seed: int) -> pd.DataFrame:
    if limit < 0:
        raise NecoError(f"max_per_kind must be 0 or more, got {limit}.")
    rng = np.random.default_rng(seed)
    keep: list[np.ndarray] = []
    for kind in PAIR_KINDS:
        index = np.flatnonzero((pairs["kind"] == kind).to_numpy())
        if len(index) > limit:
            index = np.sort(rng.choice(index, size=limit, replace=False))
        keep.append(index)
    return pairs.iloc[np.sort(np.concatenate(keep))].reset_index(drop=True)


# --------------------------------------------------------------------------- scoring


def _encode_all(
    texts: Sequence[str], encode: Callable[[list[str]], np.ndarray], batch_size: int
) -> np.ndarray:
    """Vectors of ``texts`` as float64 rows, ``batch_size`` texts per call to ``encode``."""
    if batch_size < 1:
        raise NecoError(f"batch_size must be at least 1, got {batch_size}.")
    chunks = []
    for start in range(0, len(texts), batch_size):
        batch = list(texts[start : start + batch_size])
        vectors = np.asarray(encode(batch), dtype=np.float64)
        if vectors.ndim != 2 or vectors.shape[0] != len(batch):
            raise NecoError(
                f"The encoder returned an array of shape {vectors.shape} for {len(batch)} texts; "
                "expected (number of texts, dimension)."
            )
        chunks.append(vectors)
    return np.concatenate(chunks) if chunks else np.zeros((0, 0))


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine; identical rows score exactly 1.0 (no rounding from the norms)."""

    def unit(v: np.ndarray) -> np.ndarray:
        norms = np.linalg.norm(v, axis=1, keepdims=True)
        return v / np.where(norms == 0, 1.0, norms)

    cosine = np.einsum("ij,ij->i", unit(a), unit(b))
    return np.where((a == b).all(axis=1), 1.0, np.clip(cosine, -1.0, 1.0))


def probe_pairs(
    pairs: pd.DataFrame,
    encode: Callable[[list[str]], np.ndarray],
    *,
    batch_size: int = 256,
    prefix: str = "",
) -> pd.DataFrame:
    """``pairs`` with ``{prefix}cosine`` (original vs swapped) and, when ``pairs`` has control
    texts, ``{prefix}control_cosine`` (control original vs control swapped).

    ``encode`` maps a list of texts to an ``(n, d)`` array (pooled CLIP embeddings, say); vectors
    are L2-normalised here. Each distinct text is encoded once, ``batch_size`` texts per call.
    Identical vectors score exactly 1.0. Score the random-weight floor into the same frame with
    ``prefix="floor_"``.

    >>> pairs = pd.DataFrame({"original": ["a dog chases a ball"],
    ...                       "swapped": ["a ball chases a dog"]})
    >>> probe_pairs(pairs, bag_of_words_encoder)["cosine"].tolist()
    [1.0]
    """
    _require_columns(pairs, ["original", "swapped"], "pairs table", "Pass minimal_pairs().pairs.")
    columns = [("original", "swapped", f"{prefix}cosine")]
    if {"control_original", "control_swapped"} <= set(pairs.columns):
        columns.append(("control_original", "control_swapped", f"{prefix}control_cosine"))
    texts = [pairs[c] for left, right, _ in columns for c in (left, right)]
    unique = pd.Index(pd.unique(pd.concat(texts))) if len(pairs) else pd.Index([])
    vectors = _encode_all([str(t) for t in unique], encode, batch_size)
    result = pairs.copy()
    for left, right, out in columns:
        if pairs.empty:
            result[out] = pd.Series(dtype="float64")
            continue
        a = vectors[unique.get_indexer(pd.Index(pairs[left]))]
        b = vectors[unique.get_indexer(pd.Index(pairs[right]))]
        result[out] = _cosine(a, b)
    return result


@dataclass(frozen=True)
class Spread:
    """How far apart unrelated captions lie: mean and standard deviation of ``1 - cosine`` over
    ``pairs`` random pairs of distinct captions (NaN when fewer than two distinct captions)."""

    mean: float
    std: float
    pairs: int


def unrelated_spread(
    texts: Sequence[str],
    encode: Callable[[list[str]], np.ndarray],
    *,
    pairs: int = UNRELATED_PAIRS,
    seed: int = 0,
    batch_size: int = 256,
) -> Spread:
    """The unrelated-caption spread: the scale a swap's sensitivity is measured on.

    Distinct texts are paired at random (seeded): all pairs when there are at most ``pairs``
    of them, else ``pairs`` distinct pairs drawn without replacement (with replacement beyond
    3,000 texts, where repeats are rare and enumerating pairs is not worth it).

    >>> s = unrelated_spread(["a dog", "a cat", "red kite"], bag_of_words_encoder)
    >>> round(s.mean, 4), s.pairs
    (0.8333, 3)
    """
    if pairs < 1:
        raise NecoError(f"The 'pairs' parameter of unrelated_spread must be >= 1. Got {pairs}.")
    distinct = [str(t) for t in pd.unique(pd.Series(list(texts), dtype="object"))]
    n = len(distinct)
    if n < 2:
        return Spread(math.nan, math.nan, 0)
    rng = np.random.default_rng(seed)
    total = n * (n - 1) // 2
    if total <= pairs:
        left, right = np.triu_indices(n, 1)
    elif n <= 3000:
        upper = np.triu_indices(n, 1)
        chosen = np.sort(rng.choice(total, size=pairs, replace=False))
        left, right = upper[0][chosen], upper[1][chosen]
    else:
        left = rng.integers(n, size=pairs)
        right = rng.integers(n - 1, size=pairs)
        right = right + (right >= left)
    needed = np.unique(np.concatenate([left, right]))
    encoded = _encode_all([distinct[i] for i in needed], encode, batch_size)
    vectors = np.zeros((n, encoded.shape[1]))
    vectors[needed] = encoded
    distance = 1.0 - _cosine(vectors[left], vectors[right])
    return Spread(float(distance.mean()), float(distance.std()), len(distance))


def calibrated_score(sensitivity: float, control: float, spread: float) -> float:
    """Sensitivity beyond the control, in units of the unrelated-caption spread.

    ``(sensitivity - control) / spread``; NaN when any input is missing or the spread is not
    positive (then there is no scale to read the difference on).

    >>> calibrated_score(0.014, 0.003, 0.197) == (0.014 - 0.003) / 0.197
    True
    >>> calibrated_score(0.0, 0.0, 0.3), math.isnan(calibrated_score(0.1, 0.0, 0.0))
    (0.0, True)
    """
    values = (sensitivity, control, spread)
    if any(v is None or not math.isfinite(v) for v in values) or spread <= 0:
        return math.nan
    return (sensitivity - control) / spread


def random_weight_twin(encoder: Any, *, seed: int = 0) -> Any:
    """The random-weight floor: ``encoder``'s architecture with fresh, seeded random weights.

    Built as ``type(encoder)(config)`` from a copy of the loaded encoder's config (so the same
    layers, widths, vocabulary and position embeddings), initialised under
    ``torch.manual_seed(seed)`` inside a forked RNG (the caller's random state is untouched),
    then moved to the encoder's device and dtype and put in eval mode. The same seed gives the
    same weights on every machine (the initialisation runs on the CPU).
    """
    torch = require("torch", "models")
    config = getattr(encoder, "config", None)
    if config is None:
        raise NecoError(
            f"The random-weight floor needs a model built from a config; found a "
            f"{type(encoder).__name__} without `.config`. Pass the text encoder from load_set."
        )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        twin = type(encoder)(copy.deepcopy(config))
    reference = next(encoder.parameters())
    return twin.to(device=reference.device, dtype=reference.dtype).eval()


def bag_of_words_encoder(texts: Sequence[str], dim: int = 4096) -> np.ndarray:
    """Counts of lowercased words, hashed (CRC-32) into ``dim`` buckets: an order-blind reference.

    Every swap pair and every control has exactly the same words, so its cosine is exactly 1.0
    and its relation sensitivity exactly zero.

    >>> v = bag_of_words_encoder(["a dog chases a ball", "A ball chases a dog"])
    >>> v.shape, bool((v[0] == v[1]).all()), float(v[0].sum())
    ((2, 4096), True, 5.0)
    """
    out = np.zeros((len(texts), dim), dtype=np.float64)
    for row, text in enumerate(texts):
        for word in _WORD.findall(text.lower()):
            out[row, zlib.crc32(word.encode("utf-8")) % dim] += 1.0
    return out


# --------------------------------------------------------------------------- summary


def _mean_distance(frame: pd.DataFrame, column: str) -> float:
    if column not in frame.columns or frame.empty:
        return math.nan
    return float((1.0 - frame[column].astype("float64")).mean())


def probe_summary(
    probed: pd.DataFrame,
    *,
    spread: Spread | None = None,
    floor_spread: Spread | None = None,
    skipped: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per community and kind (:data:`SUMMARY_COLUMNS`), sorted.

    ``sensitivity`` and ``control`` are the means of ``1 - cosine`` and ``1 - control_cosine``
    over the group's pairs; ``spread``/``spread_std`` come from :func:`unrelated_spread` (one
    scale for all groups, so calibrated scores compare across communities); ``calibrated`` is
    :func:`calibrated_score`. The ``floor_*`` columns are the same for the random-weight twin
    (``floor_cosine``/``floor_control_cosine`` from ``probe_pairs(..., prefix="floor_")``, on
    its own spread). ``pairs`` counts the measured pairs, ``caption_controls`` /
    ``constructed_controls`` their controls by kind, ``skipped`` and ``skipped_<reason>`` the
    candidates of :attr:`MinimalPairs.skipped`. A group with skipped candidates only is listed
    with missing scores, never as zeros.

    >>> probed = pd.DataFrame({"community": ["x", "x"], "kind": ["svo", "svo"],
    ...                        "cosine": [1.0, 0.5], "control_cosine": [1.0, 0.9],
    ...                        "control_kind": ["caption", "constructed"]})
    >>> row = probe_summary(probed, spread=Spread(0.5, 0.1, 10)).iloc[0]
    >>> [round(float(row[c]), 6) for c in ("sensitivity", "control", "calibrated")]
    [0.25, 0.05, 0.4]
    """
    _require_columns(
        probed, ["community", "kind", "cosine"], "probed pairs table", "Pass probe_pairs()."
    )
    skipped = skipped if skipped is not None else pd.DataFrame(columns=SKIP_COLUMNS)
    keys = pd.concat([probed[["community", "kind"]], skipped[["community", "kind"]]])
    groups = sorted(
        {(str(c), str(k)) for c, k in zip(keys["community"], keys["kind"], strict=True)}
    )
    probed_keys = probed["community"].astype(str) + "\x00" + probed["kind"].astype(str)
    skipped_keys = skipped["community"].astype(str) + "\x00" + skipped["kind"].astype(str)
    spread = spread or Spread(math.nan, math.nan, 0)
    floor_spread = floor_spread or Spread(math.nan, math.nan, 0)
    rows = []
    for community, kind in groups:
        group = probed[(probed_keys == f"{community}\x00{kind}").to_numpy()]
        skips = skipped[(skipped_keys == f"{community}\x00{kind}").to_numpy()]
        controls = group.get("control_kind", pd.Series([], dtype="object"))
        sensitivity = _mean_distance(group, "cosine")
        control = _mean_distance(group, "control_cosine")
        floor_sensitivity = _mean_distance(group, "floor_cosine")
        floor_control = _mean_distance(group, "floor_control_cosine")
        rows.append(
            {
                "community": community,
                "kind": kind,
                "pairs": len(group),
                "skipped": len(skips),
                **{f"skipped_{r}": int((skips["reason"] == r).sum()) for r in SKIP_REASONS},
                "caption_controls": int((controls == "caption").sum()),
                "constructed_controls": int((controls == "constructed").sum()),
                "sensitivity": sensitivity,
                "control": control,
                "spread": spread.mean,
                "spread_std": spread.std,
                "calibrated": calibrated_score(sensitivity, control, spread.mean),
                "floor_sensitivity": floor_sensitivity,
                "floor_control": floor_control,
                "floor_spread": floor_spread.mean,
                "floor_calibrated": calibrated_score(
                    floor_sensitivity, floor_control, floor_spread.mean
                ),
            }
        )
    summary = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    counts = ["pairs", "skipped", *(f"skipped_{r}" for r in SKIP_REASONS)]
    counts += ["caption_controls", "constructed_controls"]
    summary[counts] = summary[counts].astype("int64")
    return summary
