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


def has_undecodable(text: str) -> bool:
    """True when ``text`` holds bytes that could not be decoded (lone surrogates).

    Readers decode with ``errors="surrogateescape"``, which turns each undecodable byte into
    a lone surrogate; such a row is rejected rather than guessed at.

    >>> has_undecodable(b"caf\\xe9".decode("utf-8", "surrogateescape"))
    True
    """
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def escape_undecodable(text: str) -> str:
    """Make ``text`` safe to store, showing undecodable bytes as ``\\xNN``.

    >>> escape_undecodable(b"caf\\xe9".decode("utf-8", "surrogateescape"))
    'caf\\\\xe9'
    """
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
