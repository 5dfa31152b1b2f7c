"""Errors that neco reports to its users.

A :class:`NecoError` is a *user* error: bad input, a missing file, a missing optional
dependency. The CLI prints its message without a traceback and exits with code 2. Anything
else that escapes is a bug in neco and keeps its traceback (exit code 1).
"""

from __future__ import annotations


class NecoError(Exception):
    """A problem with the user's input or environment, with a message that says how to fix it."""

    exit_code = 2


class SourceError(NecoError):
    """A source file cannot be read at all (missing, unknown format, required column absent)."""


class WorkspaceError(NecoError):
    """A workspace is missing, unreadable or inconsistent."""


class MissingDependencyError(NecoError):
    """An optional dependency (an extra) is not installed."""


def shorten(text: str, limit: int = 200) -> str:
    """``text`` cut to about ``limit`` characters for a message, saying how much was left out.

    Messages echo parts of the user's files; a file of NUL bytes must not print 64 KiB of them.

    >>> shorten("x" * 500, 10)
    'xxxxxxxxxx... (490 more characters)'
    """
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit:,} more characters)"
