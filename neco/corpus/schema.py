"""The columns of neco's corpus and rejected tables.

Every source, whatever its format, ends up as rows of :data:`CORPUS_SCHEMA`; every row that
could not be used ends up in :data:`REJECTED_SCHEMA` with the reason. For every source,
``accepted + rejected == rows read``.
"""

from __future__ import annotations

import pyarrow as pa

#: One row per accepted caption.
CORPUS_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),  # unique in the workspace
        pa.field("text", pa.string(), nullable=False),  # normalised (NFC, whitespace collapsed)
        pa.field("text_raw", pa.string(), nullable=False),  # exactly as read
        pa.field("community", pa.string(), nullable=False),
        pa.field("parent_id", pa.string()),  # reply-to, an id in the workspace (or null)
        pa.field("thread_id", pa.string()),
        pa.field("author", pa.string()),
        pa.field("timestamp", pa.timestamp("us", tz="UTC")),
        pa.field("image", pa.string()),  # path or URL
        pa.field("lang", pa.string()),
        pa.field("source", pa.string(), nullable=False),  # key of the source in the manifest
        pa.field("record", pa.int64(), nullable=False),  # 1-based record number in the source
        pa.field("line", pa.int64()),  # line where the record starts (text formats)
        pa.field("meta", pa.string()),  # JSON object: the source's other columns
        pa.field("repairs", pa.string()),  # what ingestion changed on this row, if anything
    ]
)

#: One row per record that could not be accepted.
REJECTED_SCHEMA = pa.schema(
    [
        pa.field("source", pa.string(), nullable=False),
        pa.field("record", pa.int64(), nullable=False),
        pa.field("line", pa.int64()),
        pa.field("reason", pa.string(), nullable=False),  # a code from REJECT_REASONS
        pa.field("detail", pa.string(), nullable=False),  # a sentence for people
        pa.field("id", pa.string()),
        pa.field("raw", pa.string()),  # the record as read (JSON) or the raw line
    ]
)

#: Why a record can be rejected. Keys are the ``reason`` codes.
REJECT_REASONS: dict[str, str] = {
    "malformed_json": "the line or record is not valid JSON",
    "not_an_object": "the JSON value is not an object with named fields",
    "malformed_row": "a delimited row has a different number of fields than the header",
    "missing_field": "the record lacks the text field",
    "not_text": "the text field holds a list or an object, not text",
    "undecodable": "the row holds bytes not valid in the file's encoding, or a lone surrogate "
    "(a JSON \\ud800 escape) that is no character",
    "empty_text": "the text is empty, only whitespace, or a missing-value placeholder",
    "missing_id": "the id column is empty on this row",
    "duplicate_id": "another accepted row already has this id",
    "no_caption": "an image in an image folder has no caption file",
    "no_image": "a caption file in an image folder has no image beside it",
    "too_long": "the record or one field is longer than the limit (--max-record-length, "
    "--max-field-length)",
    "too_nested": "a field nests lists or objects more than 100 levels deep",
    "repeated_header": "a delimited file's header row appears again (two files joined into one)",
    "outside_root": "an image folder's caption or image is a symbolic link leading outside the "
    "folder (--allow-outside-root follows it)",
}

#: The roles a source column can play; ``text`` is the only required one.
ROLES: tuple[str, ...] = (
    "text",
    "id",
    "community",
    "parent",
    "thread",
    "author",
    "timestamp",
    "image",
    "lang",
)
