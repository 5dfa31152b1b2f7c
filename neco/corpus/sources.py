"""Describing a source, recognising its format and encoding, and fingerprinting it.

A :class:`SourceSpec` says where a source is and how to read it. Everything left as ``None``
is detected: the format from the content and the extension, the encoding from byte-order
marks and a UTF-8 check, the delimiter of a delimited file from the rows themselves, the
columns from common names (:mod:`neco.corpus.columns`).

:meth:`SourceSpec.from_options` builds a spec from the option names of ``neco ingest``
(``text_col``, ``na_value``, ``no_header``, ...) as well as the field names, so that the CLI
and the Python API (``Corpus.from_csv(path, text_col="caption")``) read a source the same way.
"""

from __future__ import annotations

import codecs
import difflib
import gzip
import hashlib
import io
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any, cast

from neco.errors import SourceError, shorten

#: Formats neco reads, with what they are.
FORMATS: dict[str, str] = {
    "csv": "delimited text with a header row (delimiter sniffed: comma, tab, semicolon, pipe)",
    "tsv": "tab-separated text with a header row",
    "jsonl": "one JSON object per line (also .ndjson)",
    "json": "a JSON array of objects, or an object holding one such array",
    "coco": "COCO captions JSON (`images` + `annotations`)",
    "parquet": "an Apache Parquet file",
    "hf": "a Hugging Face `datasets` folder written by `save_to_disk`",
    "imagefolder": "a folder of images with sidecar .txt captions (or a metadata.jsonl/.csv)",
    "visdial": "Visual-Dialog-style JSONL or JSON: a caption plus question/answer turns",
    "reddit": "Reddit dumps (Pushshift/Arctic Shift JSON lines, .zst ok): posts and comments",
}

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"})
CAPTION_SUFFIXES = (".txt", ".caption")

_EXT_FORMAT = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".parquet": "parquet",
    ".pq": "parquet",
}

#: Option names of ``neco ingest`` (``--text-col`` ...) and the column role each one sets.
COLUMN_OPTIONS: dict[str, str] = {
    "text_col": "text",
    "id_col": "id",
    "community_col": "community",
    "parent_col": "parent",
    "thread_col": "thread",
    "author_col": "author",
    "time_col": "timestamp",
    "image_col": "image",
    "lang_col": "lang",
}

#: Names a delimiter can be given by (shells make a literal tab awkward to type).
DELIMITER_NAMES: dict[str, str] = {
    "tab": "\t",
    "\\t": "\t",
    "comma": ",",
    "semicolon": ";",
    "pipe": "|",
}

# Options that must be text when given; the others are checked by the dataclass or the reader.
_TEXT_OPTIONS = ("format", "community", "encoding", "delimiter", "lang", "id_prefix")

#: Limits that keep a hostile or broken source from exhausting memory (see ``SourceSpec``).
#: Characters of one record (a line, or a CSV record over several lines): 4 MiB.
MAX_RECORD_LENGTH = 4 * 2**20
#: Characters of one field: 1 MiB, far above any caption.
MAX_FIELD_LENGTH = 2**20
#: Bytes of one JSON document (JSON arrays, COCO, Visual Dialog JSON), which is parsed whole.
MAX_JSON_BYTES = 512 * 2**20
#: A compressed source may expand to this many times the compressed bytes read so far (once
#: past 4 MiB) and no more.
MAX_EXPANSION = 200.0
_EXPANSION_FLOOR = 4 * 2**20
# Compressed bytes are read in small blocks so that the ratio is measured early.
_COMPRESSED_BLOCK = 1 << 14
_LIMITS = {
    "allow_outside_root": False,
    "max_record_length": MAX_RECORD_LENGTH,
    "max_field_length": MAX_FIELD_LENGTH,
    "max_json_bytes": MAX_JSON_BYTES,
    "max_expansion": MAX_EXPANSION,
}


@dataclass
class SourceSpec:
    """Where a source is and how to read it; ``None`` means "detect".

    ``columns`` maps a role (``text``, ``id``, ``community``, ``parent``, ``thread``,
    ``author``, ``timestamp``, ``image``, ``lang``) to a column name of the source.
    ``community`` labels every row of the source (it wins over a community column);
    without either, rows are labelled with the file's stem. Relative image paths are looked
    up under ``image_root`` (default: the source's folder) and stored as absolute paths when
    the file is there; URLs and paths not found are kept as written.

    An image path (or an image folder's file) that leads outside ``image_root`` -- an
    absolute path elsewhere, ``../`` or a symbolic link -- is refused unless
    ``allow_outside_root``: a tabular source's row keeps its caption and loses the image (a
    repair noted on the row), an image folder's record is rejected (``outside_root``).

    Limits (a record or field over them is rejected as ``too_long``; the others stop the
    source with a :class:`~neco.errors.SourceError`): ``max_record_length`` characters of one
    record, ``max_field_length`` characters of one field, ``max_json_bytes`` of a JSON
    document parsed whole, and ``max_expansion``: how many times the compressed bytes read a
    ``.gz``/``.zst`` source may expand to (0: no limit), against decompression bombs.

    >>> SourceSpec("prompts.jsonl", community="prompters").community
    'prompters'
    """

    path: str | Path
    format: str | None = None
    community: str | None = None
    columns: dict[str, str] = field(default_factory=dict)
    encoding: str | None = None
    delimiter: str | None = None
    lang: str | None = None
    id_prefix: str = ""
    na_values: tuple[str, ...] = ()
    dialog_rows: str = "turn"
    header: bool = True
    image_root: str | Path | None = None
    allow_outside_root: bool = False
    max_record_length: int = MAX_RECORD_LENGTH
    max_field_length: int = MAX_FIELD_LENGTH
    max_json_bytes: int = MAX_JSON_BYTES
    max_expansion: float = MAX_EXPANSION

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        for name in ("max_record_length", "max_field_length", "max_json_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise SourceError(
                    f"The {name!r} option of a source must be a positive int. "
                    f"Got {value!r} instead."
                )
        if (
            isinstance(self.max_expansion, bool)
            or not isinstance(self.max_expansion, int | float)
            or not self.max_expansion >= 0
        ):
            raise SourceError(
                "The 'max_expansion' option of a source must be a number >= 0 (0: no limit). "
                f"Got {self.max_expansion!r} instead."
            )
        if not isinstance(self.allow_outside_root, bool):
            raise SourceError(
                "The 'allow_outside_root' option of a source must be a bool. "
                f"Got {self.allow_outside_root!r} instead."
            )
        if self.format is not None and self.format not in FORMATS:
            raise SourceError(
                f"Unknown format {self.format!r} for {self.path}. "
                f"Expected one of: {', '.join(FORMATS)}."
            )
        if self.delimiter is not None:
            self.delimiter = DELIMITER_NAMES.get(self.delimiter, self.delimiter)
            if not isinstance(self.delimiter, str) or len(self.delimiter) != 1:
                raise SourceError(
                    "The delimiter must be one character (or tab, comma, semicolon, pipe). "
                    f"Got {self.delimiter!r} instead."
                )
        # A single string is one value, not a sequence of one-letter values.
        self.na_values = (
            (self.na_values,) if isinstance(self.na_values, str) else tuple(self.na_values)
        )
        if self.dialog_rows not in ("turn", "utterance"):
            raise SourceError(
                f"dialog_rows must be 'turn' or 'utterance'. Got {self.dialog_rows!r} instead."
            )

    @classmethod
    def from_options(cls, path: str | Path, **options: Any) -> SourceSpec:
        """A spec from ``neco ingest``'s option names or the field names (or a mix).

        Accepted, besides the fields: the column options of :data:`COLUMN_OPTIONS`
        (``text_col="caption"`` is ``columns={"text": "caption"}``), ``na_value`` (one value
        or several, added to ``na_values``), ``no_header`` (``header=not no_header``) and
        ``max_json_mb`` (``max_json_bytes`` in MiB).
        ``None`` means "not given", so the CLI can pass its defaults through. A name neco does
        not know, the same column role given twice with different columns, or ``community``
        (a label for every row) together with a community column raises
        :class:`~neco.errors.SourceError`.

        >>> spec = SourceSpec.from_options("a.csv", text_col="caption", na_value="Image",
        ...                                no_header=False, delimiter="tab")
        >>> spec.columns, spec.na_values, spec.header, spec.delimiter
        ({'text': 'caption'}, ('Image',), True, '\\t')
        """
        accepted = sorted(
            {*cls.__dataclass_fields__, *COLUMN_OPTIONS, "na_value", "no_header", "max_json_mb"}
        )
        accepted.remove("path")
        unknown = sorted(set(options) - set(accepted))
        if unknown:
            hints = [
                f"{name!r} (did you mean {close[0]!r}?)" if close else repr(name)
                for name in unknown
                for close in [difflib.get_close_matches(name, accepted, n=1)]
            ]
            raise SourceError(
                f"Unknown source option(s): {', '.join(hints)}. "
                f"Expected any of: {', '.join(accepted)}."
            )
        given = {name: value for name, value in options.items() if value is not None}
        for name in _TEXT_OPTIONS:
            if name in given and not isinstance(given[name], str):
                raise SourceError(
                    f"The {name!r} option of a source must be a str. Got {given[name]!r} instead."
                )
        for name in ("header", "no_header"):
            if name in given and not isinstance(given[name], bool):
                raise SourceError(
                    f"The {name!r} option of a source must be a bool. Got {given[name]!r} instead."
                )
        columns = given.pop("columns", {})
        if not isinstance(columns, dict):
            raise SourceError(
                "The 'columns' option of a source must be a dict of role -> column name. "
                f"Got {columns!r} instead."
            )
        columns = dict(columns)
        for option, role in COLUMN_OPTIONS.items():
            name = given.pop(option, None)
            if name is None:
                continue
            if columns.get(role, name) != name:
                raise SourceError(
                    f"Two columns given for the role {role!r}: {option}={name!r} and "
                    f"columns[{role!r}]={columns[role]!r}. Expected one."
                )
            columns[role] = name
        if "community" in given and "community" in columns:
            raise SourceError(
                f"Both community={given['community']!r} (one label for every row) and the "
                f"community column {columns['community']!r} were given. Expected one of them: "
                "community for a fixed label, community_col to read it from each row."
            )
        na_values = [
            *_text_values(given.pop("na_values", ())),
            *_text_values(given.pop("na_value", ())),
        ]
        if "max_json_mb" in given:
            megabytes = given.pop("max_json_mb")
            if isinstance(megabytes, bool) or not isinstance(megabytes, int):
                raise SourceError(
                    f"The 'max_json_mb' option of a source must be an int. Got {megabytes!r}."
                )
            given.setdefault("max_json_bytes", megabytes * 2**20)
        if "no_header" in given:
            no_header = given.pop("no_header")
            if "header" in given and bool(given["header"]) == bool(no_header):
                raise SourceError(
                    f"header={given['header']!r} and no_header={no_header!r} contradict each "
                    "other. Expected one of them."
                )
            given["header"] = not no_header
        return cls(path, columns=columns, na_values=tuple(dict.fromkeys(na_values)), **given)

    def options(self) -> dict[str, Any]:
        """The reading options as plain JSON-able values (for the manifest).

        Limits left at their defaults are omitted, so that a source ingested before they
        existed is still recognised as the same source read the same way.
        """
        out = asdict(self)
        out["path"] = str(self.path)
        out["na_values"] = list(self.na_values)
        out["image_root"] = None if self.image_root is None else str(self.image_root)
        for name, default in _LIMITS.items():
            if out[name] == default:
                del out[name]
        return out


def _text_values(value: str | Iterable[str]) -> list[str]:
    """One string or an iterable of them, as a list (a lone string is one value)."""
    if isinstance(value, str):
        values = [value]
    elif isinstance(value, Iterable):
        values = list(value)
    else:
        raise SourceError(
            f"Missing-value markers must be a str or a list of str. Got {value!r} instead."
        )
    for item in values:
        if not isinstance(item, str):
            raise SourceError(f"Missing-value markers must be str. Got {item!r} instead.")
    return values


def as_specs(
    sources: SourceSpec | str | Path | Sequence[SourceSpec | str | Path],
) -> list[SourceSpec]:
    """Specs for a list of sources; a path becomes a spec that detects everything.

    >>> [s.path.name for s in as_specs(["a.csv", SourceSpec("b.jsonl")])]
    ['a.csv', 'b.jsonl']
    >>> as_specs("c.tsv")[0].path.name  # one source need not be wrapped in a list
    'c.tsv'
    """
    if isinstance(sources, SourceSpec | str | Path):
        sources = [sources]
    specs = []
    for source in sources:
        if not isinstance(source, SourceSpec | str | Path):
            raise SourceError(
                "Expected sources as SourceSpec, str or pathlib.Path. "
                f"Got a {type(source).__name__}: {source!r}."
            )
        specs.append(source if isinstance(source, SourceSpec) else SourceSpec(source))
    return specs


# --------------------------------------------------------------------------- fingerprints


def sha256_of(path: Path) -> str:
    """SHA-256 of a file's bytes, or of a folder's files (relative names and contents).

    >>> import tempfile, os
    >>> d = tempfile.mkdtemp(); p = Path(d, "a.txt"); _ = p.write_bytes(b"abc")
    >>> sha256_of(p)[:12]
    'ba7816bf8f01'
    """
    if not path.exists():
        raise SourceError(f"Source not found: {path}. Expected a file or folder that exists.")
    if not path.is_dir() and not path.is_file():
        # A FIFO or a device (/dev/zero) would be read forever.
        raise SourceError(f"{path} is not a regular file or folder. Expected a file to read.")
    if path.is_dir():
        digest = hashlib.sha256()
        for child in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(child.relative_to(path).as_posix().encode("utf-8") + b"\0")
            digest.update(sha256_of(child).encode("ascii"))
        return digest.hexdigest()
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def size_of(path: Path) -> int:
    """Bytes in a file, or in all files of a folder."""
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


# --------------------------------------------------------------------------- opening bytes


class CountingReader(io.RawIOBase):
    """A raw binary stream that counts the bytes read through it (for progress bars)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.count += n
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


class _ExpansionGuard(io.RawIOBase):
    """A decompressed stream that stops with a :class:`SourceError` when it has expanded more
    than ``ratio`` times the compressed bytes read so far (once past 4 MiB).

    A few hundred kilobytes of ``.zst`` can expand to gigabytes of short rows; text compresses
    5 to 20 times, so only a decompression bomb reaches the ratio (see
    ``SourceSpec.max_expansion``). Measured as it goes, a bomb is stopped after a few MiB,
    whatever the size of the file.
    """

    def __init__(
        self, raw: IO[bytes], compressed: CountingReader, path: Path, ratio: float
    ) -> None:
        self._raw = raw
        self._compressed = compressed
        self._path = path
        self._ratio = ratio
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.count += n
        if self.count > _EXPANSION_FLOOR and self.count > self._ratio * self._compressed.count:
            raise SourceError(
                f"{self._path} expands more than {self._ratio:g} times: {self.count:,} bytes "
                f"from the first {self._compressed.count:,} compressed bytes. A decompression "
                "bomb, or data far more repetitive than text; expected a compressed corpus. "
                "If it is one, pass --max-expansion 0."
            )
        return n

    def close(self) -> None:
        self._raw.close()
        self._compressed.close()
        super().close()


def open_bytes(path: Path, max_expansion: float = MAX_EXPANSION) -> IO[bytes]:
    """Open a file for reading bytes, decompressing ``.gz`` and ``.zst`` transparently.

    A compressed file may expand to ``max_expansion`` times the compressed bytes read so far
    (once past 4 MiB; 0: no limit) before reading stops with a :class:`SourceError`.
    """
    if path.suffix not in (".gz", ".zst"):
        return path.open("rb")
    compressed = CountingReader(path.open("rb"))
    raw: IO[bytes]
    if path.suffix == ".gz":
        buffered = io.BufferedReader(compressed, _COMPRESSED_BLOCK)  # GzipFile reads 8 KiB
        raw = gzip.GzipFile(fileobj=buffered, mode="rb")  # type: ignore[assignment]
    else:
        import zstandard

        # Reddit dumps are compressed with a 2 GiB window.
        decompressor = zstandard.ZstdDecompressor(max_window_size=2**31)
        raw = decompressor.stream_reader(
            cast(IO[bytes], compressed), read_size=_COMPRESSED_BLOCK, closefd=True
        )
    ratio = max_expansion or float("inf")  # the guard also closes the compressed file
    return io.BufferedReader(_ExpansionGuard(raw, compressed, path, ratio), 1 << 16)


def logical_suffix(path: Path) -> str:
    """The extension that says the format, looking through ``.gz``: data.csv.gz -> .csv."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in (".gz", ".zst"):
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def head_bytes(path: Path, n: int = 1 << 20) -> bytes:
    with open_bytes(path, max_expansion=0) as fh:  # a bounded read needs no bomb guard
        return fh.read(n)


# --------------------------------------------------------------------------- encodings


@dataclass(frozen=True)
class EncodingChoice:
    """How a text source is decoded, and a note for the report when it was a fallback."""

    encoding: str
    note: str | None = None


_CESU8 = re.compile(rb"\xed[\xa0-\xbf][\x80-\xbf]")


def _looks_utf16(sample: bytes) -> str | None:
    """Guess UTF-16 without a BOM from the pattern of NUL bytes in ASCII-heavy text."""
    if len(sample) < 4:
        return None
    even = sample[0::2]
    odd = sample[1::2]
    if odd.count(0) > 0.4 * len(odd) and even.count(0) < 0.05 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.4 * len(even) and odd.count(0) < 0.05 * len(odd):
        return "utf-16-be"
    return None


def _valid_utf8_prefix(sample: bytes) -> bool:
    """True if ``sample`` is valid UTF-8, allowing a character cut at the end."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(sample, final=False)
    except UnicodeDecodeError:
        return False
    return True


def detect_encoding(sample: bytes, requested: str | None = None) -> EncodingChoice:
    """Choose how to decode a text source from its first bytes.

    Order: an explicit ``requested`` encoding; a byte-order mark (UTF-8, UTF-16); UTF-16
    without a mark (from its NUL bytes); valid UTF-8, also when a few stray bytes are mixed
    in; then Windows-1252 (or Latin-1 where CP1252 leaves a byte undefined), which is
    reported as a fallback. Decoding uses ``surrogateescape`` so that a
    row with stray bytes later in a UTF-8 file is rejected as undecodable, not guessed at.

    >>> detect_encoding(b"\\xef\\xbb\\xbftext,id").encoding
    'utf-8-sig'
    >>> detect_encoding("caf\\u00e9 au lait".encode("cp1252")).note
    'not valid UTF-8; decoded as cp1252 (fallback)'
    """
    if requested:
        try:
            codecs.lookup(requested)
        except LookupError as exc:
            raise SourceError(
                f"Unknown encoding {requested!r}. Expected a Python codec name such as "
                "'utf-8', 'utf-16', 'cp1252' or 'latin-1'."
            ) from exc
        return EncodingChoice(requested)
    if sample.startswith(codecs.BOM_UTF8):
        return EncodingChoice("utf-8-sig")
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return EncodingChoice("utf-16")
    # NUL bytes are valid UTF-8, so UTF-16 without a mark is recognised first.
    utf16 = _looks_utf16(sample)
    if utf16:
        return EncodingChoice(utf16, "no byte-order mark; decoded as UTF-16 from its NUL pattern")
    if _valid_utf8_prefix(sample):
        return EncodingChoice("utf-8")
    # Surrogates encoded as UTF-8 (CESU-8, or Java's "modified UTF-8") are UTF-8 in all but
    # name: the rows holding them are rejected, the rest of the file is read as UTF-8.
    without_cesu, cesu = _CESU8.subn(b"", sample)
    if cesu and _valid_utf8_prefix(without_cesu):
        return EncodingChoice("utf-8", f"UTF-8 with {cesu} CESU-8 surrogate(s) in the first MiB")
    decoded = sample.decode("utf-8", "surrogateescape")
    stray = sum("\udc80" <= ch <= "\udcff" for ch in decoded)
    multibyte = sum(ch > "\x7f" and not "\udc80" <= ch <= "\udcff" for ch in decoded)
    if multibyte and multibyte >= stray:
        # Mostly UTF-8 with a few stray bytes (mixed sources): rows holding them are rejected
        # as undecodable rather than decoding the whole file in a legacy encoding.
        return EncodingChoice("utf-8", f"UTF-8 with {stray} stray byte(s) in the first MiB")
    try:
        sample.decode("cp1252")
    except UnicodeDecodeError:
        return EncodingChoice("latin-1", "not valid UTF-8; decoded as latin-1 (fallback)")
    return EncodingChoice("cp1252", "not valid UTF-8; decoded as cp1252 (fallback)")


def open_text(
    path: Path, choice: EncodingChoice, max_expansion: float = MAX_EXPANSION
) -> tuple[io.TextIOWrapper, CountingReader]:
    """Open a text source decoded as ``choice``; the counter reports bytes read so far."""
    counter = CountingReader(open_bytes(path, max_expansion))
    errors = "surrogateescape" if choice.encoding.startswith("utf-8") else "strict"
    if choice.encoding in ("cp1252",):
        errors = "surrogateescape"
    text = io.TextIOWrapper(
        io.BufferedReader(counter, buffer_size=1 << 16),
        encoding=choice.encoding,
        errors=errors,
        newline="",
    )
    return text, counter


# --------------------------------------------------------------------------- formats


def _first_json_value_kind(sample: bytes) -> str | None:
    text = sample.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"["):
        return "array"
    if text.startswith(b"{"):
        first_line = text.split(b"\n", 1)[0].strip()
        try:
            json.loads(first_line)
        except ValueError:
            return "object"
        return "lines"
    return None


def _jsonl_kind(sample: bytes) -> str:
    """``visdial``, ``reddit`` or plain ``jsonl``, from the first line's keys."""
    if _is_visdial_line(sample):
        return "visdial"
    first_line = sample.lstrip(b"\xef\xbb\xbf \t\r\n").split(b"\n", 1)[0]
    try:
        obj = json.loads(first_line)
    except ValueError:
        return "jsonl"
    if isinstance(obj, dict) and "subreddit" in obj and ("body" in obj or "title" in obj):
        return "reddit"
    return "jsonl"


def _is_visdial_line(sample: bytes) -> bool:
    first_line = sample.lstrip(b"\xef\xbb\xbf \t\r\n").split(b"\n", 1)[0]
    try:
        obj = json.loads(first_line)
    except ValueError:
        return False
    return isinstance(obj, dict) and isinstance(obj.get("dialog"), list)


def _iter_dir_files(path: Path) -> Iterator[Path]:
    return (p for p in path.rglob("*") if p.is_file())


def detect_format(path: Path, max_json_bytes: int = MAX_JSON_BYTES) -> str:
    """Recognise a source's format from its content and extension.

    Raises :class:`SourceError` for a missing path or a format neco does not read.
    """
    if not path.exists():
        raise SourceError(f"Source not found: {path}. Expected a file or folder that exists.")
    if path.is_dir():
        if (path / "dataset_dict.json").exists() or (
            (path / "state.json").exists() and (path / "dataset_info.json").exists()
        ):
            return "hf"
        if (path / "metadata.jsonl").exists() or (path / "metadata.csv").exists():
            return "imagefolder"
        if any(p.suffix.lower() in IMAGE_SUFFIXES for p in _iter_dir_files(path)):
            return "imagefolder"
        raise SourceError(
            f"Cannot tell what the folder {path} holds. Expected a Hugging Face dataset saved "
            "with save_to_disk (state.json + dataset_info.json, or dataset_dict.json) or an "
            "image folder (images with .txt captions, or metadata.jsonl/.csv)."
        )
    sample = head_bytes(path)
    if sample.startswith(b"PAR1"):
        return "parquet"
    suffix = logical_suffix(path)
    kind = _first_json_value_kind(sample)
    if suffix in (".jsonl", ".ndjson"):
        return _jsonl_kind(sample)
    if suffix == ".json" or kind is not None:
        # One JSON document (possibly on one line), or JSON lines saved under .json.
        return _detect_json_document(path, sample, max_json_bytes)
    if suffix in _EXT_FORMAT:
        return _EXT_FORMAT[suffix]
    if suffix in (".txt", ""):
        if b"\0" in sample[:4096] and not _looks_utf16(sample[:4096]):
            raise SourceError(
                f"{path} looks like a binary file. Expected one of: {', '.join(FORMATS)}."
            )
        return "csv"
    raise SourceError(
        f"Unknown format for {path} (extension {suffix!r}). Expected one of: "
        f"{', '.join(sorted(_EXT_FORMAT))}, a folder, or --format with one of: "
        f"{', '.join(FORMATS)}."
    )


def _second_json_line(sample: bytes) -> bool:
    rest = sample.lstrip(b"\xef\xbb\xbf \t\r\n").split(b"\n", 1)
    if len(rest) < 2:
        return False
    second = rest[1].lstrip(b" \t\r\n").split(b"\n", 1)
    if len(second) < 2:  # the second line may be cut short by the end of the sample
        return False
    try:
        json.loads(second[0])
    except ValueError:
        return False
    return True


def json_too_large(path: Path, limit: int) -> SourceError:
    """The error for a JSON document that is too large to parse whole."""
    return SourceError(
        f"{path} is a JSON document larger than {limit / 2**20:,.0f} MiB, which neco would "
        "have to hold in memory whole. Expected a smaller document: convert it to JSON lines "
        "(jq -c '.[]' file.json > file.jsonl, read as a stream) or raise --max-json-mb."
    )


def json_too_deep(path: Path) -> SourceError:
    """The error for a JSON document nested deeper than Python's parser goes."""
    return SourceError(
        f"{path} is JSON nested deeper than Python's parser allows (about 1,000 levels). "
        "Expected records of captions: a list of flat objects."
    )


def _detect_json_document(path: Path, sample: bytes, max_json_bytes: int) -> str:
    lines = _first_json_value_kind(sample) == "lines"
    if lines and _second_json_line(sample):
        # Two JSON values on their own lines: JSON lines, whatever the extension says.
        return _jsonl_kind(sample)
    with open_bytes(path, max_expansion=0) as fh:  # bounded by max_json_bytes
        data = fh.read(max_json_bytes + 1)
    if len(data) > max_json_bytes:
        if lines:  # JSON lines are streamed, whatever their size
            return _jsonl_kind(sample)
        raise json_too_large(path, max_json_bytes)
    try:
        doc = json.loads(data.decode(detect_encoding(sample).encoding, "replace"))
    except RecursionError as exc:
        raise json_too_deep(path) from exc
    except ValueError as exc:
        if lines:
            return _jsonl_kind(sample)
        raise SourceError(f"{path} is not valid JSON: {shorten(str(exc))}") from exc
    if isinstance(doc, dict):
        if isinstance(doc.get("annotations"), list) and isinstance(doc.get("images"), list):
            return "coco"
        inner = doc.get("data")
        if isinstance(inner, dict) and "dialogs" in inner and "questions" in inner:
            return "visdial"
    if isinstance(doc, list) and doc and isinstance(doc[0], dict) and "dialog" in doc[0]:
        return "visdial"
    return "json"
