"""The :class:`Corpus`: captions in memory, with what was rejected and why.

All constructors end in :meth:`Corpus.from_sources`, which runs the same ingest loop
(:func:`neco.corpus.build.read_sources`) as ``neco ingest``; a workspace is not needed. The
constructors take the options of ``neco ingest`` as keywords (``text_col="caption"``,
``na_value="Image"``, ``no_header=True``; see :meth:`SourceSpec.from_options`).

>>> import pandas as pd
>>> df = pd.DataFrame({"caption": ["A red kite over dunes", "  ", "Two herons"],
...                    "group": ["coast", "coast", "wetland"]})
>>> corpus = Corpus.from_df(df, columns={"community": "group"})
>>> len(corpus), corpus.n_rejected, corpus.communities
(2, 1, ['coast', 'wetland'])
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pyarrow as pa

from neco.corpus.build import build_source, read_sources, repair_discourse
from neco.corpus.readers import RawRecord, SourceReader
from neco.corpus.report import IngestReport, source_report
from neco.corpus.schema import CORPUS_SCHEMA, REJECTED_SCHEMA
from neco.corpus.sources import SourceSpec, as_specs, sha256_of
from neco.errors import SourceError

if TYPE_CHECKING:
    import pandas as pd


class StoredCorpus(Protocol):
    """What :meth:`Corpus.from_workspace` needs: a :class:`neco.workspace.Workspace` has it.

    The corpus package sits below the workspace (the workspace imports it, never the other
    way), so it names what it reads instead of importing the workspace.
    """

    def corpus(self) -> pd.DataFrame: ...

    def rejected(self) -> pd.DataFrame: ...


@dataclass
class Corpus:
    """Accepted captions (``rows``), rejected rows (``rejected``) and the ingest report.

    ``rows`` has the columns of :data:`neco.corpus.schema.CORPUS_SCHEMA`; ``rejected`` those
    of :data:`~neco.corpus.schema.REJECTED_SCHEMA`.
    """

    rows: pd.DataFrame
    rejected: pd.DataFrame
    report: IngestReport | None = None

    # ------------------------------------------------------------------ constructors

    @classmethod
    def from_sources(cls, sources: Sequence[SourceSpec | str | Path]) -> Corpus:
        """Read several sources into one corpus (ids must be unique across them)."""
        results = read_sources(as_specs(sources))
        reports = [
            source_report(r, sha256_of(Path(r.spec.path)), str(r.spec.path)) for r in results
        ]
        accepted = (
            pa.concat_tables([r.accepted for r in results])
            if results
            else (CORPUS_SCHEMA.empty_table())
        )
        rejected = (
            pa.concat_tables([r.rejected for r in results])
            if results
            else (REJECTED_SCHEMA.empty_table())
        )
        return cls(accepted.to_pandas(), rejected.to_pandas(), IngestReport(None, reports))

    @classmethod
    def from_source(cls, path: str | Path, **options: Any) -> Corpus:
        """One source of any format; ``options`` as in :meth:`SourceSpec.from_options`.

        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "alt.csv"
        >>> _ = path.write_text("caption,group\\nA kite,coast\\nImage,coast\\n")
        >>> corpus = Corpus.from_source(path, text_col="caption", community_col="group",
        ...                             na_value="Image")
        >>> corpus.texts, corpus.rejected["reason"].tolist()
        (['A kite'], ['empty_text'])
        """
        return cls.from_sources([SourceSpec.from_options(path, **options)])

    @classmethod
    def from_csv(cls, path: str | Path, **options: Any) -> Corpus:
        """A CSV file (delimiter sniffed unless ``delimiter`` is given)."""
        return cls.from_source(path, **_with_format(options, "from_csv", "csv"))

    @classmethod
    def from_tsv(cls, path: str | Path, **options: Any) -> Corpus:
        """A tab-separated file."""
        return cls.from_source(path, **_with_format(options, "from_tsv", "tsv"))

    @classmethod
    def from_jsonl(cls, path: str | Path, **options: Any) -> Corpus:
        """A JSON-lines file."""
        return cls.from_source(path, **_with_format(options, "from_jsonl", "jsonl"))

    @classmethod
    def from_json(cls, path: str | Path, **options: Any) -> Corpus:
        """A JSON array of objects (or an object holding one array)."""
        return cls.from_source(path, **_with_format(options, "from_json", "json"))

    @classmethod
    def from_coco(cls, path: str | Path, **options: Any) -> Corpus:
        """COCO captions JSON (``images`` + ``annotations``)."""
        return cls.from_source(path, **_with_format(options, "from_coco", "coco"))

    @classmethod
    def from_parquet(cls, path: str | Path, **options: Any) -> Corpus:
        """A Parquet file."""
        return cls.from_source(path, **_with_format(options, "from_parquet", "parquet"))

    @classmethod
    def from_hf_dataset(cls, path: str | Path, **options: Any) -> Corpus:
        """A folder written by Hugging Face ``datasets``' ``save_to_disk``."""
        return cls.from_source(path, **_with_format(options, "from_hf_dataset", "hf"))

    @classmethod
    def from_image_folder(cls, path: str | Path, **options: Any) -> Corpus:
        """Images with sidecar ``.txt`` captions, or a ``metadata.jsonl``/``.csv``."""
        return cls.from_source(path, **_with_format(options, "from_image_folder", "imagefolder"))

    @classmethod
    def from_visdial(cls, path: str | Path, **options: Any) -> Corpus:
        """Visual Dialog: each caption and each question/answer turn becomes a row."""
        return cls.from_source(path, **_with_format(options, "from_visdial", "visdial"))

    @classmethod
    def from_df(cls, df: pd.DataFrame, name: str = "dataframe", **options: Any) -> Corpus:
        """A pandas DataFrame; ``name`` is the source key and the default community."""
        if not isinstance(name, str) or not name:
            raise SourceError(f"name must be a non-empty string. Got {name!r} instead.")
        if "format" in options:
            raise SourceError(
                "from_df reads a DataFrame; expected no 'format' option. "
                f"Got format={options['format']!r}."
            )
        columns = [str(c) for c in df.columns]
        records = df.to_dict(orient="records")

        def iterate() -> Iterator[RawRecord]:
            for n, row in enumerate(records, start=1):
                yield RawRecord(n, None, {str(k): _plain(v) for k, v in row.items()})

        spec = SourceSpec.from_options(name, **options)
        reader = SourceReader(Path(name), "dataframe", columns, iterate)
        result = build_source(spec, name, set(), reader)
        repair_discourse([result])
        report = IngestReport(None, [source_report(result, "", name)])
        return cls(result.accepted.to_pandas(), result.rejected.to_pandas(), report)

    @classmethod
    def from_workspace(cls, workspace: StoredCorpus) -> Corpus:
        """The corpus stored in a :class:`neco.workspace.Workspace`."""
        if isinstance(workspace, str | Path):
            raise SourceError(
                "Corpus.from_workspace takes a Workspace. Got the path "
                f"{str(workspace)!r}; use: from neco.workspace import Workspace; "
                f"Corpus.from_workspace(Workspace({str(workspace)!r}))."
            )
        return cls(workspace.corpus(), workspace.rejected(), None)

    # ------------------------------------------------------------------ views

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def n_rejected(self) -> int:
        """Number of rejected rows."""
        return len(self.rejected)

    @property
    def communities(self) -> list[str]:
        """The community labels, sorted."""
        return sorted(self.rows["community"].unique().tolist())

    @property
    def counts(self) -> dict[str, int]:
        """Accepted captions per community."""
        return {
            str(k): int(v) for k, v in self.rows["community"].value_counts().sort_index().items()
        }

    @property
    def texts(self) -> list[str]:
        """The normalised caption texts, in corpus order."""
        return self.rows["text"].tolist()

    def community(self, name: str) -> Corpus:
        """The captions of one community."""
        if name not in self.communities:
            raise SourceError(f"No community {name!r}. Communities: {', '.join(self.communities)}.")
        return Corpus(
            self.rows[self.rows["community"] == name].reset_index(drop=True),
            self.rejected.iloc[0:0],
            None,
        )


def _plain(value: Any) -> Any:
    """pandas missing values become None; numpy scalars become Python scalars."""
    try:
        import pandas as pd

        if not isinstance(value, list | dict | tuple) and pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value.item() if hasattr(value, "item") and not isinstance(value, str) else value


def _with_format(options: dict[str, Any], constructor: str, fmt: str) -> dict[str, Any]:
    """``options`` with ``format=fmt``; a different format is a mistake worth naming."""
    given = options.get("format")
    if given is not None and given != fmt:
        raise SourceError(
            f"Corpus.{constructor} reads format {fmt!r}. Got format={given!r}; use "
            "Corpus.from_source to read another format."
        )
    return {**options, "format": fmt}
