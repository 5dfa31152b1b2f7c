"""Prompt-aware segmentation of text-to-image prompts.

Communities of prompt writers do not describe images in sentences: they write comma-separated
lists of *specifiers* ("portrait of a witch, glowing eyes, by alphonse mucha, 8k"), weight
some of them with an attention syntax, attach model add-ons and append generation parameters.
This module turns such a text into a :class:`PromptParse`: the positive and negative parts,
one :class:`Specifier` per item with its effective weight, and the Midjourney parameters.
Only the standard library is used; the scanner is written for this project.

The weight syntax follows the "Attention/emphasis" section of the *Features* page of the
AUTOMATIC1111 stable-diffusion-webui wiki (A1111 for short); the parameters follow
Midjourney's *Parameter List* documentation.

Rules
-----

1. **Weights** (:func:`parse_weights`). ``(x)`` multiplies the weight of ``x`` by 1.1 and
   ``[x]`` divides it by 1.1, once per bracket level, so ``((x))`` is 1.21 and ``[[x]]`` is
   1/1.21. ``(x:1.3)`` multiplies by the explicit number instead of 1.1. Levels multiply, as
   in A1111: in ``((a (b:1.5)))`` ``a`` has 1.1 x 1.1 = 1.21 and ``b`` 1.1 x 1.1 x 1.5 =
   1.815. Weights are rounded to 6 decimals (so ``((x))`` is exactly ``1.21``). ``\\(``,
   ``\\)``, ``\\[``, ``\\]`` and ``\\\\`` are escapes for the literal character; any other
   backslash is literal. Choices where A1111 differs or is silent:

   * an unmatched bracket (``((``, a stray ``)``) is literal text and weights nothing
     (A1111 also keeps a stray closer, but applies an unclosed opener up to the end);
   * ``(a:b)``, whose "weight" is not a number, is the literal text ``a:b`` inside plain
     parentheses, so weight 1.1 (what A1111 does too); a number must be written as digits
     with an optional point and sign (``1``, ``1.3``, ``.5``, ``-1``), and a non-finite
     value (``1e400`` written out in digits) counts as not a number;
   * ``(x:1.3)`` with no opening parenthesis is literal text;
   * A1111's prompt editing ``[a:b:0.5]`` and alternation ``[a|b]`` are not interpreted: the
     square brackets weigh 1/1.1 and the text stays as written;
   * :func:`parse_weights` of an empty text is ``[]`` (A1111 returns one empty run).

   :func:`parse_weights` interprets only this syntax: commas, ``|``, ``BREAK``, ``<lora:...>``
   tags, Midjourney parameters and the two forms below are ordinary text there. Adjacent runs
   of equal weight are merged.

   Two more forms are read at the level of specifiers (rule 2), as their writers mean them:

   * a **weight suffix**: an item that ends in ``:number`` right after a letter or a closing
     bracket (``masterpiece:1.2``, ``sachin teng:4``, ``((cat)):2``, ``fog :0.5``) has its
     weight multiplied by the number and the suffix removed from its text. A1111 itself
     reads such a suffix as text (the model sees the characters); ``16:9`` or ``12:30``
     (a digit before the colon) and a lone ``:1.3`` stay text;
   * Midjourney **multi-prompts**: ``::`` splits a part into pieces, and a number right
     after it (``::2``, ``::-0.5``, ``::.5``) weighs the piece before it; a piece without a
     number, and the last piece, weigh 1. Every specifier of a piece (a piece may hold
     several comma-separated items) has its weight multiplied by the piece's weight, so
     ``cat::2 dog::-0.5`` gives ``cat`` 2.0 and ``dog`` -0.5. A negative weight is kept as it
     is (Midjourney uses it to push the piece away); the specifier stays in the positive part.

2. **Specifiers.** Each part is split on commas, ``|`` and line breaks, and on the
   upper-case keywords ``BREAK`` and ``AND`` (A1111's chunk break and composable-diffusion
   separator). Splitting happens at every bracket depth: ``(red hair, blue eyes:1.2)`` gives
   two specifiers that both inherit 1.2. Full stops do not split. A specifier's ``text`` is
   its characters with the weight syntax removed and whitespace collapsed; empty specifiers
   (``",,"``) are dropped. Its ``weight`` is the single weight of its runs when they agree;
   when they differ ("a (red:1.3) car") it is the mean of the run weights weighted by the
   number of words in each run: (1 x 1.0 + 1 x 1.3 + 1 x 1.0) / 3 = 1.1. A word is a
   whitespace-separated piece holding a letter or digit (a word cut by the syntax,
   "super(man:1.2)", counts once in each run); runs without one (spaces, a stray bracket)
   carry no weight, unless no run has a word, when every non-space piece counts.

3. **Model add-ons.** ``<lora:name:0.7>``, ``<lyco:name:0.7>`` and ``<hypernet:name:0.7>``
   (case-insensitive) become specifiers of kind ``"lora"`` whose text is ``name`` and whose
   weight is the first number after the name (1.0 when absent or not a number). Like A1111,
   which removes these tags before weighting, the number is not multiplied by surrounding
   brackets. The tag is removed from the text around it; within one comma-separated item a
   tag that comes before any word is placed before that item's text specifier, otherwise
   after it. A tag without a name (``<lora:>``) is removed and yields nothing.

4. **Negative prompt.** A line starting with ``Steps:`` followed by a digit, and everything
   after it (A1111's generation-parameters block), is dropped. The text is then split at the
   first ``Negative prompt:`` (case-insensitive): what follows is the negative part. A
   non-blank ``negative_prompt`` argument takes precedence over an inline negative part (the
   inline part is still cut from the positive text, so it cannot leak into it). Midjourney's
   ``--no a, b`` adds negative specifiers after those of the negative part. Negative
   specifiers have ``negative=True`` and their own positions from 0. ``PromptParse.negative``
   is the A1111-style negative part only; ``--no`` shows in ``parameters["no"]``.

5. **Midjourney parameters.** ``--name value`` (or ``—name``, the em dash that some keyboards
   substitute) starting a word. Flags take no value (``tile``, ``turbo``, ``relax``, ``fast``,
   ``video``, ``draft``, ``hd``, ``test``, ``testp``, ``creative``, ``uplight``, ``upbeta``,
   ``upanime``; see ``MJ_FLAGS``); ``ar``, ``v``, ``s``, ``style`` and the other one-value
   parameters in ``MJ_SINGLE_VALUE`` take one word (stray words after it return to the
   prompt text); ``no`` and any other parameter take everything up to the next parameter.
   Keys are lower-cased, without dashes and not aliased (``--aspect`` stays ``aspect``); a
   repeated key keeps its last value in ``parameters`` but every occurrence yields a
   specifier. Each parameter becomes a specifier of kind ``"parameter"``, text ``"--ar 16:9"``
   (``"--tile"`` for a flag), weight 1.0, after the positive text specifiers.
   ``PromptParse.prompt`` keeps the positive part as written, parameters included.

6. **Embeddings.** A specifier is of kind ``"embedding"`` when its text, case-insensitively,
   is one of ``KNOWN_EMBEDDINGS`` (a dozen textual-inversion names that circulate as words,
   mostly in negative prompts) or has the form ``embedding:NAME`` (ComfyUI's syntax), in
   which case the text is ``NAME``.

7. **Artists.** In a text specifier, ``by X`` (which covers "art by", "artwork by",
   "painted by", "inspired by"...), ``style of X`` and ``in the style of X`` mark an artist
   reference; "X style" is not read as one (too ambiguous). ``X`` runs to the next marker or
   the end of the specifier and is split on ``and``, ``&`` and ``+`` into names, lower-cased,
   with surrounding punctuation and a weight suffix (``:4``) stripped. Guards against false
   positives: a ``by`` preceded by a word in ``PASSIVE_PARTICIPLES`` ("lit by", "surrounded
   by"...) is skipped; a marker whose first name starts with a word in ``DETERMINERS`` ("by
   the sea") or ``BY_STOPWORDS`` ("by night", "side by side") or with a digit is skipped; any
   other name so starting, or longer than five words, is dropped.

   **Lists across commas.** Commas split specifiers, so "by A, B and C" arrives as the items
   "by A" and "B and C". A specifier that ends with its artist names continues into the
   following text specifiers when they close the list the English way: every item up to and
   including the first one that holds (or starts with) ``and``, ``&`` or ``+`` reads as names
   only ("by A, B, C, D, E and F" gives six names, the Oxford comma "by A, B, and C" too).
   A continued name must pass the guards above and also be at most three words long, hold
   no digit and no word of ``NOT_NAME_WORDS`` (descriptors such as "detailed", "lighting",
   "art", and prepositions), so "by A, highly detailed and intricate" stays one name. An
   open list ("by A, B, C" with no closing ``and``) cannot be told from "by A, dark fantasy,
   octane render" and keeps A only; "by A, fox and hare" reads as three names (without a
   list of artists the two shapes cannot be told apart).

   ``Specifier.artists`` holds every name a specifier references, in order (a continued
   item holds its own names: "B" or "B and C"); ``Specifier.artist`` is the first of them
   (only text specifiers have any). A table of specifiers gives a specifier naming several
   artists one row per artist, each with its position, text and weight (the catalogue's
   ``social/specifiers`` has no key, so that counting artists counts each); counts of
   specifiers (``neco vocab --unit specifier``) count each (id, position) once either way.
   :func:`artist_references` lists every name of the positive part in order, repeats
   included (the negative part is left out).

8. **Is this a prompt corpus?** :func:`looks_like_prompts` counts the non-blank texts that
   show a prompt signal: an explicit decimal weight ``(x:1.2)`` or a doubled bracket ``((``
   / ``[[``; an add-on tag; a known Midjourney parameter; an inline ``Negative prompt:``; a
   quality booster from ``QUALITY_BOOSTERS``; or at least three commas with at least 75% of
   the comma-separated segments four words long or shorter, unless the text ends with
   ``.``, ``!`` or ``?`` (captions that name people "left" and "right" in commas do). The
   corpus looks like prompts when that share is at least ``threshold``.

9. **Robustness.** No string makes these functions raise; stray syntax becomes text (the
   one error is a ``threshold`` outside [0, 1]). Absurd nesting can push a weight to
   ``inf`` or ``0.0``, never to an exception.

10. **Speed.** A part without brackets, backslashes, ``<`` or keywords is split with one
    regular expression; other parts go through a one-pass regex tokenizer and a pass over
    its tokens. Either way the work per prompt is linear in its length.

Worked example
--------------

>>> p = segment_prompt(
...     "portrait of a witch, ((glowing eyes)), a (red:1.3) cloak, <lora:ink:0.6>,"
...     " art by greg rutkowski and artgerm --ar 2:3 --no text, watermark"
... )
>>> [(s.text, s.weight, s.kind) for s in p.specifiers]  # doctest: +NORMALIZE_WHITESPACE
[('portrait of a witch', 1.0, 'text'), ('glowing eyes', 1.21, 'text'),
 ('a red cloak', 1.1, 'text'), ('ink', 0.6, 'lora'),
 ('art by greg rutkowski and artgerm', 1.0, 'text'),
 ('--ar 2:3', 1.0, 'parameter'), ('--no text, watermark', 1.0, 'parameter'),
 ('text', 1.0, 'text'), ('watermark', 1.0, 'text')]
>>> p.specifiers[4].artist, p.specifiers[4].artists
('greg rutkowski', ('greg rutkowski', 'artgerm'))
>>> [(s.text, s.position, s.negative) for s in p.specifiers if s.negative]
[('text', 0, True), ('watermark', 1, True)]
>>> p.parameters
{'ar': '2:3', 'no': 'text, watermark'}

"a (red:1.3) cloak" has runs "a " (1.0), "red" (1.3) and " cloak" (1.0), one word each, so
its weight is (1.0 + 1.3 + 1.0) / 3 = 1.1.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

__all__ = [
    "BY_STOPWORDS",
    "DETERMINERS",
    "KNOWN_EMBEDDINGS",
    "MJ_FLAGS",
    "MJ_SINGLE_VALUE",
    "NOT_NAME_WORDS",
    "PASSIVE_PARTICIPLES",
    "QUALITY_BOOSTERS",
    "PromptParse",
    "Specifier",
    "artist_references",
    "looks_like_prompts",
    "parse_weights",
    "segment_prompt",
]

#: Multiplier of one level of round brackets; square brackets divide by it.
ROUND_FACTOR = 1.1
SQUARE_FACTOR = 1 / ROUND_FACTOR
#: Weights are rounded to this many decimals.
WEIGHT_DIGITS = 6

#: Textual-inversion embeddings that circulate as plain words, lower-cased.
KNOWN_EMBEDDINGS: frozenset[str] = frozenset(
    {
        "easynegative",
        "easynegativev2",
        "fastnegativev2",
        "badhandv4",
        "bad-hands-5",
        "bad_prompt_version2",
        "bad-artist",
        "bad-artist-anime",
        "bad-picture-chill-75v",
        "negative_hand-neg",
        "ng_deepnegative_v1_75t",
        "verybadimagenegative_v1.3",
    }
)

#: Midjourney parameters that take no value.
MJ_FLAGS: frozenset[str] = frozenset(
    {
        "tile",
        "turbo",
        "relax",
        "fast",
        "video",
        "draft",
        "hd",
        "test",
        "testp",
        "creative",
        "uplight",
        "upbeta",
        "upanime",
    }
)

#: Midjourney parameters that take exactly one word.
MJ_SINGLE_VALUE: frozenset[str] = frozenset(
    {
        "ar",
        "aspect",
        "v",
        "version",
        "s",
        "stylize",
        "style",
        "c",
        "chaos",
        "niji",
        "q",
        "quality",
        "seed",
        "sameseed",
        "iw",
        "cw",
        "sw",
        "sv",
        "stop",
        "w",
        "weird",
        "r",
        "repeat",
        "exp",
    }
)

#: A name that starts with one of these is not an artist ("by the sea", "by a lake").
DETERMINERS: frozenset[str] = frozenset(
    {
        "the",
        "a",
        "an",
        "this",
        "that",
        "these",
        "those",
        "his",
        "her",
        "their",
        "its",
        "my",
        "our",
        "your",
        "some",
        "many",
        "several",
        "each",
        "every",
        "no",
    }
)

#: A name that starts with one of these is not an artist ("by night", "step by step").
BY_STOPWORDS: frozenset[str] = frozenset(
    {
        "night",
        "day",
        "daylight",
        "hand",
        "hands",
        "candle",
        "candles",
        "candlelight",
        "moonlight",
        "sunlight",
        "starlight",
        "firelight",
        "lamplight",
        "torchlight",
        "light",
        "lights",
        "water",
        "fire",
        "side",
        "step",
        "one",
        "two",
        "far",
        "default",
        "chance",
        "car",
        "train",
        "boat",
        "bus",
        "plane",
        "foot",
        "me",
        "you",
        "him",
        "them",
        "us",
        "itself",
        "himself",
        "herself",
        "themselves",
        "someone",
        "people",
        "nature",
    }
)

#: "by" right after one of these is an agent, not an artist ("lit by candles").
PASSIVE_PARTICIPLES: frozenset[str] = frozenset(
    {
        "lit",
        "lighted",
        "surrounded",
        "covered",
        "framed",
        "illuminated",
        "flanked",
        "guarded",
        "followed",
        "made",
        "filled",
        "lined",
        "backed",
        "topped",
        "accompanied",
        "watched",
        "bathed",
        "held",
        "carried",
        "driven",
        "powered",
        "pulled",
        "chased",
        "hidden",
        "overgrown",
        "engulfed",
        "protected",
    }
)

#: Quality boosters: phrases prompt writers add to ask for a "better" image.
QUALITY_BOOSTERS: tuple[str, ...] = (
    "masterpiece",
    "best quality",
    "highly detailed",
    "ultra detailed",
    "intricate details",
    "sharp focus",
    "8k",
    "4k",
    "uhd",
    "trending on artstation",
    "artstation",
    "octane render",
    "unreal engine",
    "cinematic lighting",
    "hyperrealistic",
    "photorealistic",
)

#: Words that do not occur in a name continuing an artist list across commas (rule 7):
#: the descriptors that follow artists in prompts, and prepositions. Name particles
#: ("van", "de", "af", "von", "da") are not here.
NOT_NAME_WORDS: frozenset[str] = frozenset(
    {
        # descriptors
        "art", "artwork", "artstation", "background", "beautiful", "cinematic", "color",
        "colors", "colour", "colours", "concept", "detail", "detailed", "details", "digital",
        "dramatic", "elegant", "engine", "epic", "fantasy", "focus", "hd", "highly",
        "illustration", "intricate", "landscape", "light", "lighting", "masterpiece", "matte",
        "octane", "painting", "photo", "photograph", "photorealistic", "portrait", "quality",
        "realistic", "render", "rendering", "sharp", "smooth", "soft", "style", "trending",
        "ultra", "unreal", "vibrant", "volumetric", "wallpaper",
        # prepositions and conjunctions that a name does not hold
        "about", "above", "at", "behind", "below", "for", "from", "in", "into", "of", "on",
        "or", "over", "under", "with", "without",
    }
)  # fmt: skip

_MAX_ARTIST_WORDS = 5
#: Longest name read from an item that continues an artist list (rule 7).
_MAX_LISTED_WORDS = 3


@dataclass(frozen=True, slots=True)
class Specifier:
    """One item of a prompt.

    ``text`` is the item with the weight syntax removed and whitespace collapsed; ``weight``
    its effective attention weight; ``position`` its 0-based index within its part (positive
    or negative); ``artist`` the first artist name it references, if any, and ``artists``
    every one, in order (rule 7); ``kind`` one of ``"text"``, ``"lora"``, ``"embedding"``,
    ``"parameter"``.
    """

    text: str
    weight: float
    position: int
    negative: bool
    artist: str | None
    kind: str
    artists: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PromptParse:
    """A segmented prompt: both parts as written, the specifiers and the MJ parameters."""

    prompt: str
    negative: str | None
    specifiers: tuple[Specifier, ...]
    parameters: dict[str, str]


# --------------------------------------------------------------------------- scanning

# One alternative per token; together they cover every character, so finditer leaves no gap.
_TOKEN = re.compile(
    r"(?P<esc>\\[()\[\]\\])"
    r"|(?P<net><(?i:lora|lyco|hypernet):[^<>]*>)"
    r"|:[ \t]*(?P<num>[+-]?(?:\d+(?:\.\d*)?|\.\d+))[ \t]*\)"
    r"|(?P<open>[(\[])"
    r"|(?P<close>[)\]])"
    r"|(?P<sep>[,|\n])"
    r"|(?P<text>[^\\()\[\]<:,|\n]+|[\\<:])"
)
_KEYWORD = re.compile(r"\b(?:BREAK|AND)\b")
# Anything that needs the full scanner; without it a part is split on separators only.
_SPECIAL = re.compile(r"[\\()\[\]<]|BREAK|AND")
_SEPARATORS = re.compile(r"[,|\n]")

# Token kinds; the two literal kinds come first so that "kind <= _OPEN" tests for text.
_TEXT = 0
_OPEN = 1  # an opener not (yet) matched: literal text
_SEP = 2
_NET = 3
_OPEN_ROUND = 4
_OPEN_SQUARE = 5
_CLOSE_ROUND = 6
_CLOSE_SQUARE = 7

_Token = tuple[int, str, float]


def _tokenize(text: str, structure: bool) -> list[_Token]:
    """Tokens of ``text`` with brackets paired; unmatched brackets become text.

    With ``structure`` false, separators and add-on tags are plain text.
    """
    toks: list[_Token] = []
    rounds: list[int] = []
    squares: list[int] = []
    append = toks.append
    for m in _TOKEN.finditer(text):
        group = m.lastgroup
        s = m.group()
        if group == "text":
            append((_TEXT, s, 0.0))
        elif group == "sep":
            append((_SEP if structure else _TEXT, s, 0.0))
        elif group == "open":
            (rounds if s == "(" else squares).append(len(toks))
            append((_OPEN, s, 0.0))
        elif group == "close":
            if s == ")":
                if rounds:
                    i = rounds.pop()
                    toks[i] = (_OPEN_ROUND, "(", ROUND_FACTOR)
                    append((_CLOSE_ROUND, s, 0.0))
                else:
                    append((_TEXT, s, 0.0))
            elif squares:
                i = squares.pop()
                toks[i] = (_OPEN_SQUARE, "[", SQUARE_FACTOR)
                append((_CLOSE_SQUARE, s, 0.0))
            else:
                append((_TEXT, s, 0.0))
        elif group == "num":
            value = float(m.group("num"))
            if rounds and math.isfinite(value):
                i = rounds.pop()
                toks[i] = (_OPEN_ROUND, "(", value)
                append((_CLOSE_ROUND, s, 0.0))
            elif rounds:
                # Not a usable number: the ":digits" is text, the ")" closes normally.
                append((_TEXT, s[:-1], 0.0))
                i = rounds.pop()
                toks[i] = (_OPEN_ROUND, "(", ROUND_FACTOR)
                append((_CLOSE_ROUND, ")", 0.0))
            else:
                append((_TEXT, s, 0.0))
        elif group == "esc":
            append((_TEXT, s[1], 0.0))
        else:  # net
            append((_NET if structure else _TEXT, s, 0.0))
    return toks


def parse_weights(text: str) -> list[tuple[str, float]]:
    """Split ``text`` into runs of constant attention weight (rule 1 of the module doc).

    >>> parse_weights("a (red:1.3) car")
    [('a ', 1.0), ('red', 1.3), (' car', 1.0)]
    >>> parse_weights("((a (b:1.5))), [c]")
    [('a ', 1.21), ('b', 1.815), (', ', 1.0), ('c', 0.909091)]
    >>> parse_weights(r"\\(literal\\) ((")
    [('(literal) ((', 1.0)]
    """
    runs: list[tuple[str, float]] = []
    pieces: list[str] = []
    current = 1.0
    rounds = [1.0]
    squares = [1.0]
    weight = 1.0
    for kind, s, factor in _tokenize(text, structure=False):
        if kind <= _OPEN:
            if weight != current:
                if pieces:
                    runs.append(("".join(pieces), current))
                    pieces = []
                current = weight
            pieces.append(s)
            continue
        if kind == _OPEN_ROUND:
            rounds.append(rounds[-1] * factor)
        elif kind == _OPEN_SQUARE:
            squares.append(squares[-1] * factor)
        elif kind == _CLOSE_ROUND:
            rounds.pop()
        else:  # _CLOSE_SQUARE
            squares.pop()
        weight = round(rounds[-1] * squares[-1], WEIGHT_DIGITS)
    if pieces:
        runs.append(("".join(pieces), current))
    return runs


# ----------------------------------------------------------------------- specifiers

# A word, for the mixed-weight mean: a whitespace-separated piece with a letter or digit.
_WORD = re.compile(r"[^\s\w]*[^\W_]\S*")
# A weight suffix: ":number" ending an item, right after a letter or a closing bracket.
_WEIGHT_SUFFIX = re.compile(r"(?<=[^\W\d_]|[)\]])\s*:\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*$")
# A Midjourney multi-prompt separator, with the weight of the piece before it; add-on tags
# are matched too so that the "::" of "<lora::0.5>" is passed over.
_MULTI = re.compile(r"<(?i:lora|lyco|hypernet):[^<>]*>|::(?P<w>[+-]?(?:\d+(?:\.\d*)?|\.\d+))?")
_EMBEDDING_PREFIX = re.compile(r"^(embedding:)\S+$", re.IGNORECASE)
_ARTIST_MARK = re.compile(r"\b(?:(?P<by>by)|(?:in\s+the\s+)?style\s+of)\b")
_NAME_SPLIT = re.compile(r"\s+(?:and|&|\+)\s+|\s*[&+]\s*")
_NAME_STRIP = " \t.,;:!?\"'()[]{}*_-"
# A weight written after a name ("sachin teng:4"); rule 1's suffix, inside a name list.
_NAME_WEIGHT = re.compile(r"\s*:\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)\s*$")
# An item that closes a list across commas: it starts with, or holds, a conjunction.
_LIST_CLOSER = re.compile(r"^(?:and|&|\+)\s+|\s(?:and|&|\+)\s|[&+]")
_LIST_LEAD = re.compile(r"^(?:and|&|\+)\s+")


def _name_words(raw: str) -> list[str]:
    return _NAME_WEIGHT.sub("", raw.strip(_NAME_STRIP)).strip(_NAME_STRIP).split()


def _passes_guards(words: list[str], longest: int) -> bool:
    return (
        bool(words)
        and len(words) <= longest
        and words[0] not in DETERMINERS
        and words[0] not in BY_STOPWORDS
        and not words[0][0].isdigit()
    )


def _names(segment: str) -> list[str]:
    """Artist names in the text after a marker; [] when the first name fails a guard."""
    names: list[str] = []
    for i, raw in enumerate(_NAME_SPLIT.split(segment)):
        words = _name_words(raw)
        if _passes_guards(words, _MAX_ARTIST_WORDS):
            names.append(" ".join(words))
        elif i == 0:
            return []
    return names


def _listed_names(low: str) -> list[str]:
    """The names of an item continuing an artist list, or [] when any part is no name."""
    if _ARTIST_MARK.search(low):
        return []
    names: list[str] = []
    for raw in _NAME_SPLIT.split(_LIST_LEAD.sub("", low)):
        words = _name_words(raw)
        if not (
            _passes_guards(words, _MAX_LISTED_WORDS)
            and not any(ch.isdigit() for ch in raw)
            and NOT_NAME_WORDS.isdisjoint(words)
        ):
            return []
        names.append(" ".join(words))
    return names


def _artists(low: str) -> list[str]:
    """Artist names referenced in one specifier's lower-cased text (rule 7)."""
    marks = list(_ARTIST_MARK.finditer(low))
    names: list[str] = []
    for i, m in enumerate(marks):
        if m.group("by"):
            before = low[: m.start()].split()
            if before and before[-1].strip(_NAME_STRIP) in PASSIVE_PARTICIPLES:
                continue
        end = marks[i + 1].start() if i + 1 < len(marks) else len(low)
        names.extend(_names(low[m.end() : end]))
    return names


def _continue_artist_lists(specs: list[Specifier]) -> list[Specifier]:
    """Give the items that continue an artist list across commas their names (rule 7)."""
    out = list(specs)
    i = 0
    while i < len(out):
        spec = out[i]
        i += 1
        if not spec.artists or not _ends_with_name(spec):
            continue
        pending: list[tuple[int, list[str]]] = []
        for j in range(i, len(out)):
            item = out[j]
            if item.kind != "text" or item.artists or item.negative != spec.negative:
                break
            low = item.text.lower()
            names = _listed_names(low)
            if not names:
                break
            pending.append((j, names))
            if _LIST_CLOSER.search(low):  # the list is closed: every pending item is names
                for k, found in pending:
                    out[k] = replace(out[k], artist=found[0], artists=tuple(found))
                i = j + 1
                break
    return out


def _ends_with_name(spec: Specifier) -> bool:
    """Whether the specifier's text ends with its last artist name ("art by A and B")."""
    tail = _NAME_WEIGHT.sub("", spec.text.lower().rstrip(_NAME_STRIP)).rstrip(_NAME_STRIP)
    return tail.endswith(spec.artists[-1])


def _mean_weight(
    texts: list[str], weights: list[float], words: Callable[[str], list[str]]
) -> float:
    """Word-weighted mean of run weights; the single weight if the worded runs agree."""
    distinct: set[float] = set()
    total = 0
    acc = 0.0
    for s, w in zip(texts, weights, strict=True):
        n = len(words(s))
        if n:
            total += n
            acc += n * w
            distinct.add(w)
    if not total:
        return math.nan
    return distinct.pop() if len(distinct) == 1 else round(acc / total, WEIGHT_DIGITS)


def _text_specifier(
    texts: list[str], weights: list[float], position: int, negative: bool
) -> Specifier | None:
    """The specifier of one item from its runs (``texts[i]`` has weight ``weights[i]``)."""
    texts, weights, factor = _cut_suffix(texts, weights)
    text = " ".join((texts[0] if len(texts) == 1 else "".join(texts)).split())
    if not text:
        return None
    weight = weights[0]
    if weights.count(weight) != len(weights):
        # Mixed weights: mean weighted by the words of each run (rule 2).
        weight = _mean_weight(texts, weights, _WORD.findall)
        if math.isnan(weight):  # no run holds a letter or digit: count any piece
            weight = _mean_weight(texts, weights, str.split)
    if factor != 1.0:
        weight = round(weight * factor, WEIGHT_DIGITS)
    return _classified(text, weight, position, negative)


def _suffix(text: str) -> tuple[int, float] | None:
    """Where a weight suffix (``masterpiece:1.2``, rule 1) starts in ``text``, and its value."""
    if ":" not in text:
        return None
    m = _WEIGHT_SUFFIX.search(text)
    if m is None:
        return None
    value = float(m.group(1))
    return (m.start(), value) if math.isfinite(value) else None


def _cut_suffix(texts: list[str], weights: list[float]) -> tuple[list[str], list[float], float]:
    """The runs without a trailing weight suffix, and the suffix's value (1.0 if none).

    The suffix is cut from the runs before their weights are averaged: in ``((cat)):2`` the
    characters ``:2`` are syntax, not a word of weight 1.0.
    """
    found = _suffix("".join(texts))
    if found is None:
        return texts, weights, 1.0
    cut, value = found
    kept_texts: list[str] = []
    kept_weights: list[float] = []
    offset = 0
    for s, w in zip(texts, weights, strict=True):
        if offset >= cut:
            break
        kept_texts.append(s[: cut - offset])
        kept_weights.append(w)
        offset += len(s)
    return kept_texts, kept_weights, value


def _classified(text: str, weight: float, position: int, negative: bool) -> Specifier:
    """A specifier of kind "text" or "embedding", with its artist (rules 6 and 7)."""
    low = text.lower()
    if low in KNOWN_EMBEDDINGS:
        return Specifier(text, weight, position, negative, None, "embedding")
    if low.startswith("embedding:") and _EMBEDDING_PREFIX.match(text):
        return Specifier(text[10:], weight, position, negative, None, "embedding")
    if "by" in low or "style" in low:
        names = _artists(low)
        if names:
            return Specifier(text, weight, position, negative, names[0], "text", tuple(names))
    return Specifier(text, weight, position, negative, None, "text")


def _addon(tag: str) -> tuple[str, float] | None:
    """Name and weight of an add-on tag such as ``<lora:name:0.7>``; None without a name."""
    parts = tag[1:-1].split(":")
    name = " ".join(parts[1].split()) if len(parts) > 1 else ""
    if not name:
        return None
    weight = 1.0
    if len(parts) > 2:
        try:
            weight = float(parts[2])
        except ValueError:
            weight = 1.0
        if not math.isfinite(weight):
            weight = 1.0
    return name, round(weight, WEIGHT_DIGITS)


def _segment(text: str, negative: bool, start: int) -> list[Specifier]:
    """Specifiers of one part (positive text without parameters, or negative)."""
    out: list[Specifier] = []
    if not _SPECIAL.search(text):
        # Fast path: no weight syntax, tags or keywords; every item weighs 1.0.
        for piece in _SEPARATORS.split(text):
            item = " ".join(piece.split())
            weight = 1.0
            found = _suffix(item)
            if found is not None:
                item, weight = item[: found[0]].rstrip(), round(found[1], WEIGHT_DIGITS)
            if item:
                out.append(_classified(item, weight, start + len(out), negative))
        return out

    texts: list[str] = []
    weights: list[float] = []
    lead: list[tuple[str, float]] = []  # add-ons before the item's first word
    tail: list[tuple[str, float]] = []  # add-ons after it

    def flush() -> None:
        for name, w in lead:
            out.append(Specifier(name, w, start + len(out), negative, None, "lora"))
        if texts:
            spec = _text_specifier(texts, weights, start + len(out), negative)
            if spec is not None:
                out.append(spec)
        for name, w in tail:
            out.append(Specifier(name, w, start + len(out), negative, None, "lora"))
        texts.clear()
        weights.clear()
        lead.clear()
        tail.clear()

    rounds = [1.0]
    squares = [1.0]
    weight = 1.0
    for kind, s, factor in _tokenize(text, structure=True):
        if kind <= _OPEN:
            if ("BREAK" in s or "AND" in s) and _KEYWORD.search(s):
                for j, piece in enumerate(_KEYWORD.split(s)):
                    if j:
                        flush()
                    texts.append(piece)
                    weights.append(weight)
            else:
                texts.append(s)
                weights.append(weight)
        elif kind == _SEP:
            flush()
        elif kind == _NET:
            addon = _addon(s)
            if addon is not None:
                seen_word = any(not t.isspace() for t in texts if t)
                (tail if seen_word else lead).append(addon)
        else:
            if kind == _OPEN_ROUND:
                rounds.append(rounds[-1] * factor)
            elif kind == _OPEN_SQUARE:
                squares.append(squares[-1] * factor)
            elif kind == _CLOSE_ROUND:
                rounds.pop()
            else:
                squares.pop()
            weight = round(rounds[-1] * squares[-1], WEIGHT_DIGITS)
    flush()
    return out


def _pieces(text: str, negative: bool, start: int) -> list[Specifier]:
    """Specifiers of one part, its Midjourney multi-prompt pieces weighted (rule 1)."""
    if "::" not in text:
        return _segment(text, negative, start)
    out: list[Specifier] = []
    begin = 0
    for m in _MULTI.finditer(text):
        if m.group().startswith("<"):
            continue
        factor = float(m.group("w")) if m.group("w") else 1.0
        if not math.isfinite(factor):
            factor = 1.0
        for spec in _segment(text[begin : m.start()], negative, start + len(out)):
            weight = round(spec.weight * factor, WEIGHT_DIGITS)
            out.append(spec if weight == spec.weight else replace(spec, weight=weight))
        begin = m.end()
    out.extend(_segment(text[begin:], negative, start + len(out)))
    return out


# ----------------------------------------------------------------------- parameters

_PARAM = re.compile(r"(?<!\S)(?:--|\u2014)([A-Za-z][A-Za-z0-9_]*)")


def _extract_parameters(text: str) -> tuple[str, list[tuple[str, str]]]:
    """The text without Midjourney parameters, and the parameters in order (rule 5)."""
    if "--" not in text and "\u2014" not in text:
        return text, []
    matches = list(_PARAM.finditer(text))
    if not matches:
        return text, []
    pieces = [text[: matches[0].start()]]
    params: list[tuple[str, str]] = []
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        name = m.group(1).lower()
        rest = text[m.end() : end]
        if name in MJ_FLAGS:
            value, left = "", rest
        elif name in MJ_SINGLE_VALUE:
            words = rest.split(None, 1)
            value = words[0] if words else ""
            left = words[1] if len(words) > 1 else ""
        else:
            value, left = rest, ""
        params.append((name, " ".join(value.split())))
        if left.strip():
            pieces.append(left)
    return ", ".join(pieces), params


# ---------------------------------------------------------------------------- parts

_NEGATIVE_MARK = re.compile(r"\bnegative prompt\s*:", re.IGNORECASE)
_STEPS = re.compile(r"^[ \t]*Steps:[ \t]*\d", re.MULTILINE)


def segment_prompt(text: str, negative_prompt: str | None = None) -> PromptParse:
    """Segment a prompt into specifiers, following the rules of the module docstring.

    >>> p = segment_prompt("a castle by the sea, (stormy sky:1.2)\\nNegative prompt: blurry")
    >>> [(s.text, s.weight, s.position, s.negative) for s in p.specifiers]
    ... # doctest: +NORMALIZE_WHITESPACE
    [('a castle by the sea', 1.0, 0, False), ('stormy sky', 1.2, 1, False),
     ('blurry', 1.0, 0, True)]
    >>> p.prompt, p.negative
    ('a castle by the sea, (stormy sky:1.2)', 'blurry')
    """
    steps = _STEPS.search(text)
    if steps is not None:
        text = text[: steps.start()]
    mark = _NEGATIVE_MARK.search(text)
    if mark is not None:
        positive = text[: mark.start()].strip()
        negative: str | None = text[mark.end() :].strip()
    else:
        positive = text.strip()
        negative = None
    if negative_prompt is not None and negative_prompt.strip():
        negative = negative_prompt.strip()

    body, params = _extract_parameters(positive)
    specs = _continue_artist_lists(_pieces(body, False, 0))
    for name, value in params:
        label = f"--{name} {value}" if value else f"--{name}"
        specs.append(Specifier(label, 1.0, len(specs), False, None, "parameter"))

    negs = _pieces(negative, True, 0) if negative else []
    for name, value in params:
        if name == "no" and value:
            negs.extend(_pieces(value, True, len(negs)))
    negs = _continue_artist_lists(negs)
    return PromptParse(positive, negative, tuple(specs + negs), dict(params))


def artist_references(text: str) -> list[str]:
    """Artist names referenced in the positive part of ``text``, in order (rule 7).

    >>> artist_references("a knight, art by greg rutkowski and artgerm, lit by candles")
    ['greg rutkowski', 'artgerm']
    >>> artist_references("a harbour in the style of J. M. W. Turner, a castle by the sea")
    ['j. m. w. turner']
    """
    names: list[str] = []
    for spec in segment_prompt(text).specifiers:
        if spec.kind == "text" and not spec.negative:
            names.extend(spec.artists)
    return names


# ------------------------------------------------------------------------- detection

_SIGNAL = re.compile(
    r"\([^()]*:\s*[+-]?\d*\.\d+\s*\)"  # explicit decimal weight
    r"|\(\(|\[\["  # doubled brackets
    r"|<(?:lora|lyco|hypernet):"  # add-on tag
    r"|(?<!\S)(?:--|\u2014)(?:ar|aspect|v|version|s|stylize|style|chaos|c|niji|q|quality"
    r"|seed|tile|no|iw|sref|cref|weird|w|stop|repeat|r|p)\b"
    r"|\bnegative prompt\s*:"
    r"|\b(?:" + "|".join(re.escape(b) for b in QUALITY_BOOSTERS) + r")\b",
    re.IGNORECASE,
)


def _has_signal(text: str) -> bool:
    if _SIGNAL.search(text):
        return True
    if text.count(",") < 3 or text.rstrip(" \t\n\"')").endswith((".", "!", "?")):
        return False
    segments = [seg for seg in text.split(",") if seg.strip()]
    short = sum(1 for seg in segments if len(seg.split()) <= 4)
    return short >= 0.75 * len(segments)


def looks_like_prompts(texts: Sequence[str], threshold: float = 0.3) -> bool:
    """Whether a community's texts read as text-to-image prompts (rule 8).

    Blank texts (and non-strings, such as missing values) are not counted; with none left
    the answer is False. ``threshold`` must lie in [0, 1].

    >>> looks_like_prompts(["masterpiece, 1girl, red hair", "A dog lies on a sofa."])
    True
    >>> looks_like_prompts(["A dog lies on a sofa.", "Two boats in a harbour."])
    False
    """
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must lie in [0, 1], got {threshold!r}")
    counted = 0
    hits = 0
    for text in texts:
        if not isinstance(text, str) or not text.strip():
            continue
        counted += 1
        if _has_signal(text):
            hits += 1
    return counted > 0 and hits >= threshold * counted
