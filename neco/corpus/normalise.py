"""Text normalisation applied to every caption.

The normalised ``text`` is what every later stage reads; ``text_raw`` keeps the original.
Three steps, in this order:

1. Unicode NFC, so that "é" written as one code point or as "e" + combining accent counts once;
2. control characters (Unicode category Cc other than whitespace, and the invisible
   U+200B ZERO WIDTH SPACE, U+2060 WORD JOINER and U+FEFF BYTE ORDER MARK) are removed;
3. runs of whitespace (spaces, tabs, newlines, no-break spaces) collapse to one space and the
   ends are stripped.

Characters that carry meaning, such as emoji joiners (U+200D), are kept.
"""

from __future__ import annotations

import re
import unicodedata

# C0 and C1 control characters except tab, newline, vertical tab, form feed and carriage
# return (those are whitespace, collapsed below), plus DEL and three invisible format chars.
_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\u200b\u2060\ufeff]")
_SPACE = re.compile(r"\s+")

#: Cell values that mean "no value" in exported tables; they count as missing, not as text.
DEFAULT_NA_VALUES: frozenset[str] = frozenset(
    {"", "NA", "N/A", "n/a", "NaN", "nan", "null", "NULL", "None", "none", "#N/A"}
)


def normalise_text(text: str) -> str:
    """Return ``text`` in NFC with control characters removed and whitespace collapsed.

    >>> normalise_text("  Cafe\\u0301\\t au\\n\\n lait\\x00 ")
    'Café au lait'
    """
    text = unicodedata.normalize("NFC", text)
    text = _CONTROL.sub("", text)
    return _SPACE.sub(" ", text).strip()


_SURROGATE = re.compile("[\ud800-\udfff]")


def has_undecodable(text: str) -> bool:
    """True when ``text`` holds bytes that could not be decoded, or any lone surrogate.

    Readers decode with ``errors="surrogateescape"``, which turns each undecodable byte into
    a lone surrogate (U+DC80-U+DCFF); a JSON escape such as ``\\ud800`` gives another lone
    surrogate. Neither is a character (UTF-8 cannot store it), so such a row is rejected
    rather than guessed at.

    >>> has_undecodable(b"caf\\xe9".decode("utf-8", "surrogateescape"))
    True
    >>> has_undecodable("a\\ud800b")
    True
    """
    return _SURROGATE.search(text) is not None


def _escape_surrogate(match: re.Match[str]) -> str:
    code = ord(match.group())
    # surrogateescape's range stands for one undecodable byte; the others were escapes.
    return f"\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"\\u{code:04x}"


def escape_undecodable(text: str) -> str:
    """Make ``text`` safe to store, showing undecodable bytes as ``\\xNN`` and other lone
    surrogates as ``\\uNNNN``.

    >>> escape_undecodable(b"caf\\xe9".decode("utf-8", "surrogateescape"))
    'caf\\\\xe9'
    >>> escape_undecodable("a\\ud800b")
    'a\\\\ud800b'
    """
    return _SURROGATE.sub(_escape_surrogate, text)
