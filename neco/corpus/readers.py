"""Readers: each turns one source into a stream of raw records.

A reader knows its source's column names up front (for column mapping), may preset some
roles (COCO's ``caption`` is the text), and yields :class:`RawRecord` objects one by one, so
large files are streamed. A record that cannot be parsed (a malformed JSON line, a row with the
wrong number of fields) is yielded with an error instead of being skipped: the builder keeps it
in the rejected table.

Every text reader goes through :class:`_Lines`, which never holds more than
``SourceSpec.max_record_length`` characters of one record: a longer line is read past in blocks
and its record rejected as ``too_long``, so one 8 GiB line costs no more memory than a short one.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neco.corpus.normalise import escape_undecodable
from neco.corpus.sources import (
    CAPTION_SUFFIXES,
    IMAGE_SUFFIXES,
    EncodingChoice,
    SourceSpec,
    detect_encoding,
    detect_format,
    head_bytes,
    json_too_deep,
    json_too_large,
    open_bytes,
    open_text,
    size_of,
)
from neco.errors import SourceError, shorten

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))

_DELIMITERS = ("\t", ",", ";", "|")
_SAMPLE_RECORDS = 2000
_SAMPLE_CHARS = 1 << 16
#: Characters of a rejected record kept in the rejected table's ``raw`` when it is too long.
RAW_KEPT = 200


@dataclass(slots=True)
class RawRecord:
    """One record of a source as read, before mapping and validation.

    ``fields`` is ``None`` when the record could not be parsed; then ``error`` holds
    ``(reason_code, sentence)`` and ``raw`` the text as it was.
    """

    record: int
    line: int | None
    fields: dict[str, Any] | None
    error: tuple[str, str] | None = None
    raw: str | None = None


@dataclass
class SourceReader:
    """An opened source: its format, columns, preset roles and record stream."""

    path: Path
    format: str
    columns: list[str]
    records: Callable[[], Iterator[RawRecord]]
    preset: dict[str, str] = field(default_factory=dict)
    encoding: EncodingChoice | None = None
    notes: list[str] = field(default_factory=list)
    total_bytes: int = 0
    progress: Callable[[], int] = lambda: 0  # bytes consumed so far


def open_source(spec: SourceSpec) -> SourceReader:
    """Open ``spec`` with the reader for its (given or detected) format."""
    path = Path(spec.path)
    if not path.exists():
        raise SourceError(f"Source not found: {path}. Expected a file or folder that exists.")
    fmt = spec.format or detect_format(path, spec.max_json_bytes)
    opener = _READERS.get(fmt)
    if opener is None:  # pragma: no cover - SourceSpec validates formats
        raise SourceError(f"No reader for format {fmt!r}.")
    reader = opener(path, spec)
    reader.total_bytes = size_of(path)
    return reader


# --------------------------------------------------------------------------- bounded lines


class _TooLong(Exception):  # a signal between _Lines and its reader, not a user error
    """A record longer than the limit: its lines were read past, ``head`` is its beginning."""

    def __init__(self, first_line: int, last_line: int, length: int, head: str, limit: int):
        super().__init__(first_line)
        self.first_line = first_line
        self.last_line = last_line
        self.length = length
        self.head = head
        self.limit = limit

    @property
    def error(self) -> tuple[str, str]:
        lines = (
            f"line {self.first_line}"
            if self.first_line == self.last_line
            else f"lines {self.first_line}-{self.last_line}"
        )
        more = "" if self.last_line > self.first_line else "at least "
        return (
            "too_long",
            f"record of {more}{self.length:,} characters ({lines}) is longer than the limit of "
            f"{self.limit:,}; pass --max-record-length to read it",
        )


class _Lines:
    """The physical lines of a text handle (endings kept, as ``csv`` wants them), bounded.

    A line longer than ``limit`` characters is read past in blocks, never held whole, and
    raises :class:`_TooLong`; so does a record that grows past ``limit`` over several lines
    (an unclosed quote in a CSV). The reader calls :meth:`start_record` before each record.
    ``count`` is the number of lines read so far, ``record_start`` the record's first line.
    """

    def __init__(self, handle: io.TextIOBase, limit: int) -> None:
        self.handle = handle
        self.limit = limit
        self.count = 0
        self.record_start = 1
        self.record_chars = 0

    def __iter__(self) -> _Lines:
        return self

    def start_record(self) -> None:
        self.record_start = self.count + 1
        self.record_chars = 0

    def __next__(self) -> str:
        line = self.handle.readline(self.limit + 1)
        if not line:
            raise StopIteration
        self.count += 1
        self.record_chars += len(line)
        if len(line) > self.limit and not line.endswith(("\n", "\r")):
            while True:  # read past the rest of the line, a block at a time
                more = self.handle.readline(1 << 20)
                self.record_chars += len(more)
                if not more or more.endswith(("\n", "\r")):
                    break
        if self.record_chars > self.limit:
            raise _TooLong(
                self.record_start, self.count, self.record_chars, line[:RAW_KEPT], self.limit
            )
        return line


def _decode_error(path: Path, choice: EncodingChoice, exc: UnicodeDecodeError) -> SourceError:
    return SourceError(
        f"{path} cannot be decoded as {choice.encoding} ({shorten(str(exc))}). "
        "Pass --encoding with the file's encoding."
    )


# --------------------------------------------------------------------------- delimited


def _choose_delimiter(sample: str, suffix_hint: str | None) -> str:
    """Pick the delimiter that splits the sample's rows into a consistent number of fields."""
    if suffix_hint:
        return suffix_hint
    best: tuple[float, int, str] | None = None
    for rank, delim in enumerate(_DELIMITERS):
        try:
            # newline="": lines may end in \r\n, \n or a lone \r (old Mac files).
            rows = list(csv.reader(io.StringIO(sample, newline=""), delimiter=delim))[:200]
        except csv.Error:
            continue
        if len(rows) > 1 and not sample.endswith(("\n", "\r")):
            rows = rows[:-1]  # the last sampled row may be cut short
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        consistent = sum(len(r) == width for r in rows) / len(rows)
        score = (consistent, width, -rank)
        if best is None or score > (best[0], best[1], -_DELIMITERS.index(best[2])):
            best = (consistent, width, delim)
    return best[2] if best else ","


def _unique_header(names: list[str]) -> list[str]:
    seen: Counter[str] = Counter()
    out = []
    for i, raw in enumerate(names):
        name = raw.strip().lstrip("\ufeff") or f"column_{i + 1}"
        seen[name] += 1
        out.append(name if seen[name] == 1 else f"{name}.{seen[name] - 1}")
    return out


def _sample_text(path: Path, spec: SourceSpec, choice: EncodingChoice) -> str:
    """The first lines of a delimited file: the whole header line (however wide) and about
    64 KiB after it, to choose the delimiter from."""
    text, _ = open_text(path, choice, spec.max_expansion)
    lines = _Lines(text, spec.max_record_length)
    parts: list[str] = []
    size = 0
    try:
        with text:
            for line in lines:
                lines.start_record()
                parts.append(line)
                size += len(line)
                if size >= len(parts[0]) + _SAMPLE_CHARS or len(parts) > _SAMPLE_RECORDS:
                    break
    except _TooLong as exc:
        if not parts:
            raise SourceError(
                f"{path}: the first line holds {exc.length:,} characters or more, longer than "
                f"the limit of {exc.limit:,}. Expected a header row; if the file has one this "
                "long, pass --max-record-length."
            ) from exc
    except UnicodeDecodeError as exc:
        raise _decode_error(path, choice, exc) from exc
    return "".join(parts)


def _read_delimited(path: Path, spec: SourceSpec, fmt: str) -> SourceReader:
    choice = detect_encoding(head_bytes(path), spec.encoding)
    sample = _sample_text(path, spec, choice)
    hint = "\t" if fmt == "tsv" else None
    delimiter = spec.delimiter or _choose_delimiter(sample, hint)
    try:
        first = next(csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter), None)
    except csv.Error as exc:
        raise SourceError(
            f"{path}: the header row cannot be parsed as delimited text ({exc}). Expected a "
            "CSV/TSV file with a header row; check --format, --delimiter and --encoding."
        ) from exc
    if not first:
        raise SourceError(f"{path} is empty: expected a header row and at least one data row.")
    if spec.header:
        header = _unique_header(first)
    else:  # headerless files such as Conceptual Captions: column_1, column_2, ...
        header = [f"column_{i + 1}" for i in range(len(first))]
    header_cells = [cell.lstrip("\ufeff") for cell in first]
    state: dict[str, Any] = {"counter": None}

    def records() -> Iterator[RawRecord]:
        handle, counter = open_text(path, choice, spec.max_expansion)
        state["counter"] = counter
        with handle:
            lines = _Lines(handle, spec.max_record_length)
            reader = csv.reader(lines, delimiter=delimiter)
            n = 0
            if spec.header:
                lines.start_record()
                next(reader, None)  # read at open: it fits the limit
            while True:
                lines.start_record()
                try:
                    row = next(reader)
                except StopIteration:
                    return
                except _TooLong as exc:
                    n += 1
                    yield RawRecord(
                        n, exc.first_line, None, exc.error, escape_undecodable(exc.head)
                    )
                    continue
                except csv.Error as exc:  # e.g. a NUL byte, which the csv module refuses
                    n += 1
                    yield RawRecord(
                        n,
                        lines.record_start,
                        None,
                        ("malformed_row", f"cannot be parsed as delimited text: {exc}"),
                        "",
                    )
                    continue
                except UnicodeDecodeError as exc:
                    raise _decode_error(path, choice, exc) from exc
                line = lines.record_start
                if not row:  # blank line: not a record
                    continue
                n += 1
                if spec.header and [cell.lstrip("\ufeff") for cell in row] == header_cells:
                    # Two files joined (`cat a.csv b.csv`): the second header is no caption.
                    after = " after a byte-order mark" if row[0].startswith("\ufeff") else ""
                    yield RawRecord(
                        n,
                        line,
                        None,
                        (
                            "repeated_header",
                            f"the header row again{after}: two files joined into one?",
                        ),
                        escape_undecodable(delimiter.join(row)),
                    )
                    continue
                if len(row) != len(header):
                    raw = delimiter.join(row)
                    yield RawRecord(
                        n,
                        line,
                        None,
                        (
                            "malformed_row",
                            f"expected {len(header)} fields as in the header, found {len(row)}",
                        ),
                        escape_undecodable(raw),
                    )
                    continue
                yield RawRecord(n, line, dict(zip(header, row, strict=True)))

    names = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe"}
    reader = SourceReader(path, fmt, header, records, encoding=choice)
    reader.notes.append(f"delimiter: {names.get(delimiter, repr(delimiter))}")
    if choice.note:
        reader.notes.append(choice.note)
    reader.progress = lambda: state["counter"].count if state["counter"] else 0
    return reader


def _read_csv(path: Path, spec: SourceSpec) -> SourceReader:
    return _read_delimited(path, spec, "csv")


def _read_tsv(path: Path, spec: SourceSpec) -> SourceReader:
    return _read_delimited(path, spec, "tsv")


# --------------------------------------------------------------------------- JSON lines


def _sample_keys(objs: Iterator[dict[str, Any]]) -> list[str]:
    keys: dict[str, None] = {}
    for i, obj in enumerate(objs):
        keys.update(dict.fromkeys(obj))
        if i >= _SAMPLE_RECORDS:
            break
    return list(keys)


def _iter_json_lines(
    path: Path, choice: EncodingChoice, state: dict[str, Any], spec: SourceSpec
) -> Iterator[tuple[int, str, Any, tuple[str, str] | None]]:
    """Yield (line number, raw line, parsed value or None, (reason, sentence) or None)."""
    handle, counter = open_text(path, choice, spec.max_expansion)
    state["counter"] = counter
    with handle:
        lines = _Lines(handle, spec.max_record_length)
        while True:
            lines.start_record()
            try:
                line = next(lines)
            except StopIteration:
                return
            except _TooLong as exc:
                yield exc.first_line, exc.head, None, exc.error
                continue
            except UnicodeDecodeError as exc:
                raise _decode_error(path, choice, exc) from exc
            # A byte-order mark inside the file is where two files were joined.
            stripped = line.strip().lstrip("\ufeff")
            if not stripped:
                continue
            try:
                value = json.loads(stripped)
            except RecursionError:
                yield lines.count, stripped, None, ("malformed_json", "nested too deeply to parse")
                continue
            except ValueError as exc:
                yield lines.count, stripped, None, ("malformed_json", f"not valid JSON: {exc}")
                continue
            yield lines.count, stripped, value, None


def _json_object_records(
    lines: Iterator[tuple[int, str, Any, tuple[str, str] | None]],
    to_rows: Callable[[dict[str, Any]], Iterator[dict[str, Any]]],
) -> Iterator[RawRecord]:
    """Records from parsed JSON lines: each object becomes ``to_rows(object)``; a malformed
    line or a non-object value becomes one rejected record."""
    n = 0
    for lineno, raw, value, error in lines:
        if error is not None or not isinstance(value, dict):
            n += 1
            error = error or (
                "not_an_object",
                f"expected a JSON object, found {type(value).__name__}",
            )
            yield RawRecord(n, lineno, None, error, escape_undecodable(raw))
            continue
        for row in to_rows(value):
            n += 1
            yield RawRecord(n, lineno, row)


def _read_jsonl(path: Path, spec: SourceSpec) -> SourceReader:
    choice = detect_encoding(head_bytes(path), spec.encoding)
    state: dict[str, Any] = {"counter": None}

    def records() -> Iterator[RawRecord]:
        lines = _iter_json_lines(path, choice, state, spec)
        return _json_object_records(lines, lambda obj: iter([obj]))

    sample_state: dict[str, Any] = {}
    columns = _sample_keys(
        v
        for _, _, v, e in _iter_json_lines(path, choice, sample_state, spec)
        if isinstance(v, dict)
    )
    reader = SourceReader(path, "jsonl", columns, records, encoding=choice)
    if choice.note:
        reader.notes.append(choice.note)
    reader.progress = lambda: state["counter"].count if state["counter"] else 0
    return reader


# --------------------------------------------------------------------------- JSON documents


def _load_json(path: Path, spec: SourceSpec) -> tuple[Any, EncodingChoice]:
    """A JSON document parsed whole: refused when larger than ``spec.max_json_bytes``."""
    choice = detect_encoding(head_bytes(path), spec.encoding)
    handle, _ = open_text(path, choice, spec.max_expansion)
    with handle:
        try:
            text = handle.read(spec.max_json_bytes + 1)
        except UnicodeDecodeError as exc:
            raise _decode_error(path, choice, exc) from exc
    if len(text) > spec.max_json_bytes:
        raise json_too_large(path, spec.max_json_bytes)
    try:
        return json.loads(text), choice
    except RecursionError as exc:
        raise json_too_deep(path) from exc
    except ValueError as exc:
        raise SourceError(f"{path} is not valid JSON: {shorten(str(exc))}") from exc


def _records_from_list(items: list[Any]) -> Iterator[RawRecord]:
    for n, item in enumerate(items, start=1):
        if isinstance(item, dict):
            yield RawRecord(n, None, item)
        else:
            yield RawRecord(
                n,
                None,
                None,
                ("not_an_object", f"expected a JSON object, found {type(item).__name__}"),
                escape_undecodable(json.dumps(item, ensure_ascii=False)),
            )


def _read_json(path: Path, spec: SourceSpec) -> SourceReader:
    doc, choice = _load_json(path, spec)
    notes = []
    if isinstance(doc, dict):
        lists = [k for k, v in doc.items() if isinstance(v, list)]
        if len(lists) != 1:
            raise SourceError(
                f"{path} holds a JSON object; expected an array of records, or an object with "
                f"exactly one array of records. Found arrays under: {lists or 'none'}."
            )
        notes.append(f"records read from the key {lists[0]!r}")
        doc = doc[lists[0]]
    if not isinstance(doc, list):
        raise SourceError(
            f"{path} holds a JSON {type(doc).__name__}; expected an array of objects."
        )
    items: list[Any] = doc
    columns = _sample_keys(x for x in items if isinstance(x, dict))
    reader = SourceReader(path, "json", columns, lambda: _records_from_list(items))
    reader.encoding = choice
    reader.notes = notes + ([choice.note] if choice.note else [])
    return reader


def _read_coco(path: Path, spec: SourceSpec) -> SourceReader:
    doc, choice = _load_json(path, spec)
    if not (isinstance(doc, dict) and "annotations" in doc and "images" in doc):
        raise SourceError(
            f"{path} is not COCO captions JSON: expected the keys 'images' and 'annotations', "
            f"found {sorted(doc) if isinstance(doc, dict) else type(doc).__name__}."
        )
    for key in ("images", "annotations"):
        if not isinstance(doc[key], list):
            raise SourceError(
                f"{path} is not COCO captions JSON: expected {key!r} to be a list, found "
                f"{type(doc[key]).__name__}."
            )
    licenses = doc.get("licenses")
    licences = {
        _hashable(lic.get("id")): lic.get("name")
        for lic in (licenses if isinstance(licenses, list) else [])
        if isinstance(lic, dict)
    }
    images = {_hashable(img.get("id")): img for img in doc["images"] if isinstance(img, dict)}

    def records() -> Iterator[RawRecord]:
        for n, ann in enumerate(doc["annotations"], start=1):
            if not isinstance(ann, dict):
                yield RawRecord(
                    n,
                    None,
                    None,
                    ("not_an_object", "annotation is not a JSON object"),
                    escape_undecodable(json.dumps(ann, ensure_ascii=False)),
                )
                continue
            img = images.get(_hashable(ann.get("image_id")), {})
            fields = {
                "id": ann.get("id"),
                "caption": ann.get("caption"),
                "image_id": ann.get("image_id"),
                "file_name": img.get("file_name"),
                "coco_url": img.get("coco_url"),
                "flickr_url": img.get("flickr_url"),
                "width": img.get("width"),
                "height": img.get("height"),
                "license": licences.get(_hashable(img.get("license"))),
                "date_captured": img.get("date_captured"),
            }
            yield RawRecord(n, None, fields)

    columns = ["id", "caption", "image_id", "file_name", "coco_url", "flickr_url"]
    columns += ["width", "height", "license", "date_captured"]
    preset = {"text": "caption", "id": "id", "image": "file_name"}
    reader = SourceReader(path, "coco", columns, records, preset=preset, encoding=choice)
    reader.notes.append(
        f"{len(doc['annotations'])} captions of {len(images)} images, {len(licences)} licences"
    )
    return reader


def _hashable(value: Any) -> Any:
    """``value`` as a dictionary key: ids that are lists or objects become their JSON text."""
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, default=str)
    return value


def _as_text(value: Any) -> str | None:
    """A question or answer as text (a number or a nested value as written)."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else str(value)


# --------------------------------------------------------------------------- Visual Dialog


def _dialog_rows(dialogue: dict[str, Any], per: str) -> Iterator[dict[str, Any]]:
    """Rows for one dialogue: its caption, then each turn linked to the row before it."""
    image_id = dialogue.get("image_id")
    caption = dialogue.get("caption", dialogue.get("coco_caption"))
    root = f"vd{image_id}"
    extra = {k: v for k, v in dialogue.items() if k not in ("dialog", "caption", "coco_caption")}
    yield {
        "id": root,
        "text": caption,
        "parent_id": None,
        "thread_id": root,
        "author": "captioner",
        "turn": 0,
        **extra,
    }
    parent = root
    turns = dialogue.get("dialog")
    for i, turn in enumerate(turns if isinstance(turns, list) else [], start=1):
        if not isinstance(turn, dict):
            turn = {"question": _as_text(turn)}
        number = turn.get("turn", i)
        if not isinstance(number, int | str) or isinstance(number, bool):
            number = i
        question = _as_text(turn.get("questioner", turn.get("question")))
        answer = _as_text(turn.get("answerer", turn.get("answer")))
        if per == "turn":
            q = (question or "").strip()
            q = q if not q or q.endswith("?") else q + "?"
            text = f"{q} {answer or ''}".strip()
            row_id = f"{root}-t{number}"
            yield {
                "id": row_id,
                "text": text,
                "parent_id": parent,
                "thread_id": root,
                "author": "dialogue",
                "turn": number,
                "question": question,
                "answer": answer,
                "image_id": image_id,
            }
            parent = row_id
        else:
            for role, said in (("questioner", question), ("answerer", answer)):
                row_id = f"{root}-t{number}{role[0]}"
                yield {
                    "id": row_id,
                    "text": said,
                    "parent_id": parent,
                    "thread_id": root,
                    "author": role,
                    "turn": number,
                    "image_id": image_id,
                }
                parent = row_id


def _read_visdial(path: Path, spec: SourceSpec) -> SourceReader:
    columns = ["id", "text", "parent_id", "thread_id", "author", "turn", "image_id"]
    preset = {
        "text": "text",
        "id": "id",
        "parent": "parent_id",
        "thread": "thread_id",
        "author": "author",
    }
    sample = head_bytes(path, 4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    if sample.startswith(b"[") or (sample.startswith(b"{") and not _single_line_object(sample)):
        return _read_visdial_official(path, spec, columns, preset)
    choice = detect_encoding(head_bytes(path), spec.encoding)
    state: dict[str, Any] = {"counter": None}

    def records() -> Iterator[RawRecord]:
        lines = _iter_json_lines(path, choice, state, spec)
        return _json_object_records(lines, lambda obj: _dialog_rows(obj, spec.dialog_rows))

    reader = SourceReader(path, "visdial", columns, records, preset=preset, encoding=choice)
    reader.notes.append(f"one row per {spec.dialog_rows}, linked to the row before it")
    reader.progress = lambda: state["counter"].count if state["counter"] else 0
    return reader


def _single_line_object(sample: bytes) -> bool:
    try:
        json.loads(sample.split(b"\n", 1)[0])
    except ValueError:
        return False
    return True


def _read_visdial_official(
    path: Path, spec: SourceSpec, columns: list[str], preset: dict[str, str]
) -> SourceReader:
    """The official VisDial v1.0 JSON: questions and answers are indices into shared lists."""
    doc, choice = _load_json(path, spec)
    if isinstance(doc, list):  # a JSON array of dialogues in the JSON-lines shape
        doc = {"data": {"dialogs": doc, "questions": [], "answers": []}}
    data = doc.get("data") if isinstance(doc, dict) else None
    if not isinstance(data, dict) or "dialogs" not in data:
        raise SourceError(
            f"{path} is not Visual Dialog data: expected JSON lines with a 'dialog' list, or "
            "a JSON object with data.dialogs, data.questions and data.answers."
        )
    questions, answers = data.get("questions", []), data.get("answers", [])
    dialogs = data["dialogs"]
    if not all(isinstance(x, list) for x in (questions, answers, dialogs)):
        raise SourceError(
            f"{path} is not Visual Dialog data: expected data.dialogs, data.questions and "
            "data.answers to be lists."
        )

    def pick(values: list[Any], index: Any) -> Any:
        if isinstance(index, int) and not isinstance(index, bool) and 0 <= index < len(values):
            return values[index]
        return index

    def resolve(turn: Any) -> dict[str, Any]:
        if not isinstance(turn, dict):
            return {"question": _as_text(turn)}
        q = turn.get("question", turn.get("questioner"))
        a = turn.get("answer", turn.get("answerer"))
        return {"question": pick(questions, q), "answer": pick(answers, a)}

    def records() -> Iterator[RawRecord]:
        n = 0
        for dialogue in dialogs:
            if not isinstance(dialogue, dict):
                n += 1
                yield RawRecord(
                    n,
                    None,
                    None,
                    (
                        "not_an_object",
                        f"expected a dialogue object, found {type(dialogue).__name__}",
                    ),
                    escape_undecodable(json.dumps(dialogue, ensure_ascii=False)),
                )
                continue
            resolved = dict(dialogue)
            turns = dialogue.get("dialog")
            resolved["dialog"] = [resolve(t) for t in (turns if isinstance(turns, list) else [])]
            for row in _dialog_rows(resolved, spec.dialog_rows):
                n += 1
                yield RawRecord(n, None, row)

    return SourceReader(path, "visdial", columns, records, preset=preset, encoding=choice)


# --------------------------------------------------------------------------- Parquet and HF


def _arrow_value(value: Any) -> Any:
    """Keep records JSON-able: image bytes become a short placeholder."""
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if isinstance(value, dict):
        return {k: _arrow_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_arrow_value(v) for v in value]
    return value


def _records_from_batches(
    batches: Iterator[Any], extra: dict[str, Any] | None = None, start: int = 0
) -> Iterator[RawRecord]:
    n = start
    for batch in batches:
        for row in batch.to_pylist():
            n += 1
            fields = {k: _arrow_value(v) for k, v in row.items()}
            if extra:
                fields.update(extra)
            yield RawRecord(n, None, fields)


def _read_parquet(path: Path, spec: SourceSpec) -> SourceReader:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:
        raise SourceError(f"{path} is not a readable Parquet file: {exc}") from exc
    state = {"rows": 0}

    def records() -> Iterator[RawRecord]:
        import pyarrow as pa

        try:
            batches = pq.ParquetFile(path).iter_batches(batch_size=5_000)
            for rec in _records_from_batches(batches):
                state["rows"] = rec.record
                yield rec
        except (pa.ArrowException, OSError) as exc:
            raise SourceError(
                f"{path} cannot be read past record {state['rows']:,}: {shorten(str(exc))}. "
                "Expected an intact Parquet file."
            ) from exc

    total_rows = max(parquet.metadata.num_rows, 1)
    reader = SourceReader(path, "parquet", parquet.schema_arrow.names, records)
    reader.progress = lambda: int(reader.total_bytes * state["rows"] / total_rows)
    return reader


def _read_json_file(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise SourceError(
            f"{path} cannot be read as JSON ({shorten(str(exc))}). Expected the file "
            "datasets' save_to_disk writes."
        ) from exc


def _hf_arrow_files(folder: Path) -> list[Path]:
    state_file = folder / "state.json"
    if state_file.exists():
        state = _read_json_file(state_file)
        files = state.get("_data_files") if isinstance(state, dict) else None
        names = [f.get("filename") for f in files or [] if isinstance(f, dict)]
        if not isinstance(files, list) or not all(isinstance(n, str) for n in names):
            raise SourceError(
                f"{state_file} does not list its data files: expected _data_files, a list of "
                '{"filename": ...} objects.'
            )
        paths = [folder / str(name) for name in names]
        outside = [n for n, p in zip(names, paths, strict=True) if not _inside(p, folder)]
        if outside:
            raise SourceError(
                f"{state_file} names data files outside its folder ({shorten(str(outside))}). "
                "Expected file names inside the dataset folder."
            )
        return paths
    return sorted(folder.glob("*.arrow"))


def _inside(path: Path, root: Path) -> bool:
    """Whether ``path`` (symbolic links followed, ``..`` resolved) lies under ``root``."""
    return path.resolve().is_relative_to(root.resolve())


def _read_hf(path: Path, spec: SourceSpec) -> SourceReader:
    import pyarrow as pa

    splits: list[tuple[str | None, Path]] = []
    dict_file = path / "dataset_dict.json"
    if dict_file.exists():
        listed = _read_json_file(dict_file)
        names = listed.get("splits") if isinstance(listed, dict) else None
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise SourceError(
                f"{dict_file} does not list its splits: expected a list of names under 'splits'."
            )
        for split in names:
            if not _inside(path / split, path):
                raise SourceError(
                    f"{dict_file} names a split outside its folder ({shorten(split)!r}). "
                    "Expected split folders inside the dataset folder."
                )
            splits.append((split, path / split))
    else:
        splits.append((None, path))
    files = [(split, f) for split, folder in splits for f in _hf_arrow_files(folder)]
    if not files:
        raise SourceError(f"{path} looks like a Hugging Face dataset but holds no .arrow files.")

    def open_stream(file: Path) -> Any:
        try:
            try:
                return pa.ipc.open_stream(pa.memory_map(str(file), "r"))
            except pa.ArrowInvalid:
                return pa.ipc.open_file(pa.memory_map(str(file), "r"))
        except (pa.ArrowException, OSError) as exc:
            raise SourceError(
                f"{file} is not a readable Arrow file ({shorten(str(exc))}). Expected the "
                "files datasets' save_to_disk writes."
            ) from exc

    columns = list(open_stream(files[0][1]).schema.names)
    if splits[0][0] is not None:
        columns.append("split")

    def records() -> Iterator[RawRecord]:
        n = 0
        for split, file in files:
            stream = open_stream(file)
            batches = (
                iter(stream)
                if hasattr(stream, "__iter__")
                else (stream.get_batch(i) for i in range(stream.num_record_batches))
            )
            extra = {"split": split} if split is not None else None
            try:
                for rec in _records_from_batches(batches, extra, start=n):
                    n = rec.record
                    yield rec
            except (pa.ArrowException, OSError) as exc:
                raise SourceError(
                    f"{file} cannot be read past record {n:,}: {shorten(str(exc))}. "
                    "Expected the intact files datasets' save_to_disk writes."
                ) from exc

    reader = SourceReader(path, "hf", columns, records)
    if splits[0][0] is not None:
        reader.notes.append(f"splits: {', '.join(s for s, _ in splits if s)}")
    return reader


# --------------------------------------------------------------------------- image folders


def _read_sidecar(path: Path, limit: int) -> str | None:
    """A caption file's text, or ``None`` when it holds more than ``limit`` bytes."""
    with path.open("rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        return None
    choice = detect_encoding(data[: 1 << 16])
    errors = "surrogateescape" if choice.encoding.startswith("utf-8") else "strict"
    try:
        return data.decode(choice.encoding, errors)
    except UnicodeDecodeError:  # e.g. UTF-16 cut in the middle of a character
        return data.decode("utf-8", "surrogateescape")


def _outside_root(file: Path, root: Path, spec: SourceSpec) -> str | None:
    """Why ``file`` may not be read (a link out of the folder), or ``None``."""
    if spec.allow_outside_root or _inside(file, root):
        return None
    rel = file.relative_to(root).as_posix()
    return (
        f"{rel} is a symbolic link to {file.resolve()}, outside the folder {root}; "
        "pass --allow-outside-root to follow it"
    )


def _read_imagefolder_metadata(path: Path, meta: Path, spec: SourceSpec) -> SourceReader:
    """The Hugging Face imagefolder layout: a metadata file names each image's file_name.

    The image is the ``file_name`` as written; the ingest resolves it under the folder (and
    refuses it when it leads outside, see :class:`SourceSpec`).
    """
    if (why := _outside_root(meta, path, spec)) is not None:
        raise SourceError(f"The metadata file {why}.")
    inner = _read_jsonl(meta, spec) if meta.suffix == ".jsonl" else _read_csv(meta, spec)

    def meta_records() -> Iterator[RawRecord]:
        for rec in inner.records():
            if rec.fields is not None and "file_name" in rec.fields:
                rec.fields["image"] = rec.fields["file_name"]
            yield rec

    reader = SourceReader(path, "imagefolder", [*inner.columns, "image"], meta_records)
    reader.preset = {"image": "image"}
    reader.notes = [f"captions from {meta.name}", *inner.notes]
    return reader


def _read_imagefolder(path: Path, spec: SourceSpec) -> SourceReader:
    for meta_name in ("metadata.jsonl", "metadata.csv"):
        if (path / meta_name).exists():
            return _read_imagefolder_metadata(path, path / meta_name, spec)

    files = sorted(p for p in path.rglob("*") if p.is_file())
    images = {p.with_suffix(""): p for p in files if p.suffix.lower() in IMAGE_SUFFIXES}
    captions = {p.with_suffix(""): p for p in files if p.suffix.lower() in CAPTION_SUFFIXES}
    stems = sorted(set(images) | set(captions))
    limit = spec.max_record_length

    def records() -> Iterator[RawRecord]:
        for n, stem in enumerate(stems, start=1):
            rel = stem.relative_to(path).as_posix()
            image, caption = images.get(stem), captions.get(stem)
            shown = (image or caption or stem).relative_to(path).as_posix()
            outside = [why for f in (caption, image) if f and (why := _outside_root(f, path, spec))]
            if outside:
                yield RawRecord(n, None, None, ("outside_root", outside[0]), shown)
                continue
            if caption is None:
                yield RawRecord(
                    n,
                    None,
                    None,
                    (
                        "no_caption",
                        f"image {rel}{image.suffix if image else ''} has no caption "
                        f"file (expected {rel}.txt)",
                    ),
                    shown,
                )
                continue
            text = _read_sidecar(caption, limit)
            if text is None:
                too_long = (
                    "too_long",
                    f"caption file {caption.relative_to(path).as_posix()} holds more than "
                    f"{limit:,} bytes; pass --max-record-length to read it",
                )
                yield RawRecord(n, None, None, too_long, shown)
                continue
            if image is None:
                yield RawRecord(
                    n,
                    None,
                    None,
                    (
                        "no_image",
                        f"caption file {caption.relative_to(path)} has no image beside it",
                    ),
                    escape_undecodable(text),
                )
                continue
            yield RawRecord(
                n, None, {"id": rel, "text": text, "image": image.relative_to(path).as_posix()}
            )

    reader = SourceReader(path, "imagefolder", ["id", "text", "image"], records)
    reader.preset = {"id": "id", "text": "text", "image": "image"}
    reader.notes.append(f"{len(images)} images, {len(captions)} caption files")
    return reader


# --------------------------------------------------------------------------- Reddit

_REDDIT_GONE = ("[removed]", "[deleted]")


def _reddit_row(obj: dict[str, Any]) -> dict[str, Any]:
    """A post or comment as a row; ids are Reddit fullnames (t1_ comments, t3_ posts)."""
    is_comment = "body" in obj
    kind = "t1" if is_comment else "t3"
    row_id = obj.get("name") or (f"{kind}_{obj['id']}" if obj.get("id") else None)
    if is_comment:
        text = obj.get("body")
        thread = obj.get("link_id")
        parent = obj.get("parent_id")
    else:
        title = obj.get("title") or ""
        body = obj.get("selftext") or ""
        text = f"{title}\n\n{body}" if body and body not in _REDDIT_GONE else title
        thread, parent = row_id, None
    url = obj["url"] if isinstance(obj.get("url"), str) else ""
    image = url if Path(url.split("?")[0]).suffix.lower() in IMAGE_SUFFIXES else None
    author = obj.get("author")
    row = {
        "id": row_id,
        "text": text,
        "parent_id": parent,
        "thread_id": thread,
        "author": None if author in _REDDIT_GONE else author,
        "subreddit": obj.get("subreddit"),
        "created_utc": obj.get("created_utc"),
        "image": image,
        "kind": "comment" if is_comment else "post",
    }
    for key in ("score", "permalink", "num_comments", "over_18"):
        if key in obj:
            row[key] = obj[key]
    return row


def _read_reddit(path: Path, spec: SourceSpec) -> SourceReader:
    choice = detect_encoding(head_bytes(path), spec.encoding)
    state: dict[str, Any] = {"counter": None}

    def records() -> Iterator[RawRecord]:
        lines = _iter_json_lines(path, choice, state, spec)
        return _json_object_records(lines, lambda obj: iter([_reddit_row(obj)]))

    columns = ["id", "text", "parent_id", "thread_id", "author", "subreddit", "created_utc"]
    columns += ["image", "kind"]
    preset = {
        "text": "text",
        "id": "id",
        "parent": "parent_id",
        "thread": "thread_id",
        "author": "author",
        "community": "subreddit",
        "timestamp": "created_utc",
        "image": "image",
    }
    reader = SourceReader(path, "reddit", columns, records, preset=preset, encoding=choice)
    reader.notes.append("ids are Reddit fullnames (t1_ comments, t3_ posts)")
    reader.progress = lambda: state["counter"].count if state["counter"] else 0
    return reader


_READERS: dict[str, Callable[[Path, SourceSpec], SourceReader]] = {
    "csv": _read_csv,
    "tsv": _read_tsv,
    "jsonl": _read_jsonl,
    "json": _read_json,
    "coco": _read_coco,
    "parquet": _read_parquet,
    "hf": _read_hf,
    "imagefolder": _read_imagefolder,
    "visdial": _read_visdial,
    "reddit": _read_reddit,
}

__all__ = ["RawRecord", "SourceReader", "open_bytes", "open_source"]
