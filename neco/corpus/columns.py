"""Which source column plays which role (text, id, community, parent, ...).

A role given by the user wins; then a reader's preset (COCO's ``caption`` is the text); then
the first column whose name matches one of the common names below (case, spaces, hyphens and
underscores ignored). Only the text is required; a missing text column stops the ingest with
a message that lists the columns that exist.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from neco.corpus.schema import ROLES
from neco.errors import SourceError, shorten

#: Common column names for each role, in order of preference.
CANDIDATES: dict[str, tuple[str, ...]] = {
    "text": (
        "text",
        "caption",
        "prompt",
        "description",
        "alt_text",
        "alttext",
        "alt",
        "body",
        "content",
        "sentence",
        "utterance",
        "comment",
        "message",
        "selftext",
        "tweet",
        "title",  # reddit image posts: the title is the caption
    ),
    "id": (
        "id",
        "caption_id",
        "post_id",
        "comment_id",
        "tweet_id",
        "annotation_id",
        "uid",
        "uuid",
        "object_id",
        "alt_id",
        "record_id",
        "key",
    ),
    "community": ("community", "subreddit", "group", "forum", "channel"),
    "parent": (
        "parent_id",
        "parent",
        "reply_to",
        "reply_to_id",
        "in_reply_to",
        "in_reply_to_id",
        "in_reply_to_status_id",
        "replied_to",
    ),
    "thread": (
        "thread_id",
        "thread",
        "conversation_id",
        "link_id",
        "submission_id",
        "dialog_id",
        "discussion_id",
    ),
    "author": ("author", "user", "username", "user_name", "screen_name", "handle", "speaker"),
    "timestamp": (
        "timestamp",
        "created_at",
        "created_utc",
        "created",
        "posted_at",
        "published",
        "datetime",
        "date",
        "time",
        "tweet_date",
    ),
    # A URL is kept as the image's reference and never fetched (the latents stage says so).
    "image": (
        "image",
        "image_path",
        "image_url",
        "file_name",
        "filename",
        "img",
        "image_file",
        "url",
    ),
    "lang": ("lang", "language", "locale"),
}


def _listing(names: Sequence[str]) -> str:
    """Column names for a message: each shortened, about 200 characters in all (a file of NUL
    bytes has one column 64 KiB long, which must not be printed whole)."""
    shown = ", ".join(shorten(repr(name), 40) for name in names[:20])
    if len(names) > 20:
        shown += f", ... ({len(names) - 20:,} more)"
    return shorten(shown) or "none"


def _key(name: str) -> str:
    return re.sub(r"[\s_\-]+", "", name).lower()


def map_columns(
    columns: Sequence[str],
    given: dict[str, str] | None = None,
    preset: dict[str, str] | None = None,
    source: str = "the source",
) -> dict[str, str]:
    """Return ``{role: column}`` for the roles this source has.

    >>> map_columns(["Caption", "post_id", "reply_to"])
    {'text': 'Caption', 'id': 'post_id', 'parent': 'reply_to'}
    >>> map_columns(["a", "b"], {"text": "b"})
    {'text': 'b'}
    >>> map_columns(["text", "lang"], {"community": "lang"})
    {'text': 'text', 'community': 'lang', 'lang': 'lang'}
    >>> map_columns(["title", "url", "score"])
    {'text': 'title', 'image': 'url'}
    """
    given = dict(given or {})
    unknown_roles = sorted(set(given) - set(ROLES))
    if unknown_roles:
        raise SourceError(
            f"Unknown column role(s) {unknown_roles}. Expected roles: {', '.join(ROLES)}."
        )
    present = list(columns)
    for role, name in given.items():
        if name not in present:
            raise SourceError(
                f"The {role} column {name!r} was not found in {source}. "
                f"Columns found: {_listing(present)}."
            )
    by_key: dict[str, str] = {}
    for name in present:
        by_key.setdefault(_key(name), name)
    mapping: dict[str, str] = {}
    used: set[str] = set(given.values())
    for role in ROLES:
        if role in given:
            mapping[role] = given[role]
            continue
        if preset and role in preset and preset[role] in present:
            if preset[role] not in used:
                mapping[role] = preset[role]
                used.add(preset[role])
            continue
        for candidate in CANDIDATES[role]:
            found = by_key.get(_key(candidate))
            # A column can be both the community and the language (--community-col lang):
            # German rows must still reach the German pipeline.
            shared = role == "lang" and found is not None and found == mapping.get("community")
            if found is not None and (found not in used or shared):
                mapping[role] = found
                used.add(found)
                break
    if "text" not in mapping:
        raise SourceError(
            f"No text column found in {source}. Expected one named like "
            f"{', '.join(CANDIDATES['text'][:8])}, ... or given with --text-col. "
            f"Columns found: {_listing(present)}."
        )
    return mapping
