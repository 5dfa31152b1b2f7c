"""neco in a notebook: a :class:`Study` wraps a workspace with the calls a researcher makes.

Open (or create) a workspace, add corpora from files or pandas DataFrames, run the NLP and
model layers, and get every result back as a pandas DataFrame (``arrow=True`` for Arrow).
Keyword names are the command line's option names (``text_col``, ``community_col``, ...);
defaults are the library's, the same the CLI uses.

>>> import tempfile, pandas as pd
>>> study = open_study(tempfile.mkdtemp())
>>> df = pd.DataFrame({"caption": ["A red kite over dunes", "Two herons at dawn"],
...                    "group": ["coast", "wetland"]})
>>> study.add(df, text_col="caption", community_col="group").accepted
2
>>> study.sql("SELECT community, count(*) AS n FROM corpus GROUP BY 1 ORDER BY 1")
  community  n
0     coast  1
1   wetland  1
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from neco.errors import NecoError

if TYPE_CHECKING:
    import networkx as nx
    import pandas as pd
    import pyarrow as pa

    from neco.corpus.report import IngestReport
    from neco.neural.pipeline import NeuralResult
    from neco.social.pipeline import SocialResult
    from neco.workspace import Workspace


class Study:
    """A workspace and the questions asked of it. Make one with :func:`open_study`."""

    def __init__(self, path: str | Path) -> None:
        from neco.workspace import Workspace

        self.workspace: Workspace = Workspace(path)

    def __repr__(self) -> str:
        return f"Study({str(self.workspace.path)!r})"

    # ------------------------------------------------------------------ corpora

    def add(self, source: str | Path | pd.DataFrame, **options: Any) -> IngestReport:
        """Ingest a file, folder or DataFrame with ``neco ingest``'s options as keywords.

        A DataFrame is stored in the workspace (``sources/``, Parquet, named by its content
        hash) and ingested from there, so that the manifest can cite it like any file.
        """
        import pandas as pd

        from neco.corpus.sources import SourceSpec

        if isinstance(source, pd.DataFrame):
            source = self._store_frame(source)
        spec = SourceSpec.from_options(source, **options)
        return self.workspace.ingest([spec])

    def _store_frame(self, frame: pd.DataFrame) -> Path:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(frame, preserve_index=False)
        digest = hashlib.sha256(pd_hash(frame) + str(table.schema).encode("utf-8")).hexdigest()[:16]
        folder = self.workspace.path / "sources"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"dataframe-{digest}.parquet"
        if not path.exists():
            pq.write_table(table, path)
        return path

    def add_demo(self) -> IngestReport:
        """Ingest the bundled demo corpus (six communities written for neco)."""
        from neco.corpus.recipe import read_recipe
        from neco.demo import demo_recipe

        return self.workspace.ingest(read_recipe(demo_recipe()))

    # ------------------------------------------------------------------ stages

    def social(self, *, mode: str = "fast", force: bool = False, **options: Any) -> SocialResult:
        """Run the NLP layer (``neco social``); ``options`` are :class:`SocialConfig` fields
        (``skip``, ``top_terms``, ``min_count``, ``backbone_alpha``, ...)."""
        from neco.social.parse import ParseConfig
        from neco.social.pipeline import SocialConfig, run_social

        parse = {k: options.pop(k) for k in ("processes", "model", "lang_models") if k in options}
        if "skip" in options:
            options["skip"] = tuple(options["skip"])
        config = SocialConfig(parse=ParseConfig(mode=mode, **parse), **options)
        return run_social(self.workspace, config, force=force)

    def neural(
        self, stages: Sequence[str] = ("tokens",), *, force: bool = False, **options: Any
    ) -> NeuralResult:
        """Run model-layer stages (``neco neural``); ``options`` are :class:`NeuralConfig`
        fields (``components``, ``clip``, ``vae``, ``device``, ``sample``, ...)."""
        from neco.neural.pipeline import NeuralConfig, run_neural

        config = NeuralConfig(stages=tuple(stages), **options)
        return run_neural(self.workspace, config, force=force)

    def sample(self, size: int | None = None, seed: int | None = None) -> pd.DataFrame:
        """The item sample every caption-level stage measures; ``size``/``seed`` change it."""
        from neco.sample import choose_sample, sample_items

        ws = self.workspace
        choose_sample(ws, size, seed)
        return sample_items(ws)

    # ------------------------------------------------------------------ results

    def keyness(
        self,
        community: str | Sequence[str] | None = None,
        *,
        against: str | None = None,
        unit: str = "lemma",
        min_count: int = 3,
        keep_stop: bool = False,
        collapse: bool = False,
        where: str | None = None,
        by: str | None = None,
        rank: str = "z",
        stop_terms: Sequence[str] = (),
        stop_file: str | Path | None = None,
        exclude: Sequence[str] = (),
        keep_tags: bool = False,
        plot: str | Path | None = None,
        arrow: bool = False,
    ) -> pd.DataFrame | pa.Table:
        """Distinctive terms of each community (``neco vocab``), in the order of
        ``community``, each one's terms by ``rank`` (``z``, ``g2``, ``doc_count``, ``count``).

        ``where`` is a SQL condition on the corpus (``"year(timestamp) = 2021"``); ``by``
        compares slices (``"year"``, ``"month"``, a column or a meta field) instead of
        communities; ``stop_terms``, ``stop_file`` and ``exclude`` (regular expressions)
        leave terms out; ``plot`` also writes the figure (``.svg`` or ``.png``). See
        :mod:`neco.social.vocab`.

        >>> study.keyness("tidytuesday", by="year")            # doctest: +SKIP
        >>> study.keyness(["b", "a"], rank="doc_count", exclude=[r"^\\d+$"])  # doctest: +SKIP
        """
        from neco.social.vocab import keyness

        table = keyness(
            self.workspace,
            communities=_names(community),
            against=against,
            unit=unit,
            min_count=min_count,
            keep_stop=keep_stop,
            collapse=collapse,
            where=where,
            by=by,
            rank=rank,
            stop_terms=_stop_terms(stop_terms, stop_file),
            exclude=exclude,
            keep_tags=keep_tags,
        )
        if plot is not None:
            from neco.social.figures import vocabulary_figure

            vocabulary_figure(table, plot)
        return table if arrow else table.to_pandas()

    def frequencies(
        self,
        community: str | Sequence[str] | None = None,
        *,
        unit: str = "lemma",
        min_count: int = 1,
        keep_stop: bool = False,
        collapse: bool = False,
        where: str | None = None,
        by: str | None = None,
        rank: str = "count",
        stop_terms: Sequence[str] = (),
        stop_file: str | Path | None = None,
        exclude: Sequence[str] = (),
        keep_tags: bool = False,
        arrow: bool = False,
    ) -> pd.DataFrame | pa.Table:
        """Each community's terms by count and number of captions (``neco vocab --freq``);
        one community is enough (``unit="specifier"`` lists a prompt community's
        specifiers)."""
        from neco.social.vocab import frequencies

        table = frequencies(
            self.workspace,
            communities=_names(community),
            unit=unit,
            min_count=min_count,
            keep_stop=keep_stop,
            collapse=collapse,
            where=where,
            by=by,
            rank=rank,
            stop_terms=_stop_terms(stop_terms, stop_file),
            exclude=exclude,
            keep_tags=keep_tags,
        )
        return table if arrow else table.to_pandas()

    def kwic(
        self,
        term: str,
        *,
        community: str | None = None,
        width: int = 40,
        sort: str = "right",
        where: str | None = None,
    ) -> pd.DataFrame:
        """Concordance lines of ``term`` (``neco kwic``), in the captions satisfying the SQL
        condition ``where`` if given."""
        from neco.social.vocab import concordance

        return concordance(
            self.workspace, term, community=community, width=width, sort=sort, where=where
        )

    def collocates(
        self,
        term: str,
        *,
        community: str | None = None,
        window: int = 4,
        min_count: int = 2,
        sort: str = "npmi",
        where: str | None = None,
        keep_stop: bool = False,
        stop_terms: Sequence[str] = (),
        stop_file: str | Path | None = None,
        exclude: Sequence[str] = (),
        keep_tags: bool = False,
    ) -> pd.DataFrame:
        """Words near ``term`` with NPMI and G² (``neco collocates``), sorted by ``sort``
        (``npmi``, ``g2`` or ``count``)."""
        from neco.social.vocab import collocates

        return collocates(
            self.workspace,
            term,
            community=community,
            window=window,
            min_count=min_count,
            sort=sort,
            where=where,
            keep_stop=keep_stop,
            keep_tags=keep_tags,
            stop_terms=_stop_terms(stop_terms, stop_file),
            exclude=exclude,
        )

    def graph(
        self,
        kind: str = "cooccurrence",
        *,
        community: str | None = None,
        out: str | Path | None = None,
        top_terms: int = 2000,
        min_count: int = 3,
    ) -> nx.Graph:
        """A graph of the corpus as networkx (``neco graph``); ``out`` also writes it."""
        from neco.social.graph_export import make_graph

        graph, _ = make_graph(
            self.workspace.path,
            kind,
            out,
            community=community,
            top_terms=top_terms,
            min_count=min_count,
        )
        return graph

    def table(self, name: str, *, arrow: bool = False) -> pd.DataFrame | pa.Table:
        """Any table of the workspace by its catalogue name (``social/keyness``, ...)."""
        from neco.catalogue import spec_of

        spec_of(name)
        if name not in self.workspace.require().tables():
            raise NecoError(
                f"The workspace has no table {name!r} yet: it is made by the stage "
                f"{spec_of(name).stage}. Made so far: {', '.join(self.workspace.tables())}."
            )
        table = self.workspace.read_table(name)
        return table if arrow else table.to_pandas()

    def tables(self) -> pd.DataFrame:
        """The workspace's tables with rows, stage and fresh/stale state (``neco tables``)."""
        import pandas as pd

        from neco.stages import table_states

        return pd.DataFrame([s.to_dict() for s in table_states(self.workspace)])

    def sql(self, query: str, *, arrow: bool = False) -> pd.DataFrame | pa.Table:
        """A DuckDB query over the workspace's views (``neco sql``)."""
        table = self.workspace.sql(query)
        return table if arrow else table.to_pandas()


def pd_hash(frame: pd.DataFrame) -> bytes:
    """Bytes that change when any value of ``frame`` changes (for content addressing)."""
    import pandas as pd

    text = frame.astype(str)
    return pd.util.hash_pandas_object(text, index=False).to_numpy().tobytes() + "\x1f".join(
        map(str, frame.columns)
    ).encode("utf-8")


def open_study(path: str | Path = Path("data") / "workspace") -> Study:
    """Open the workspace at ``path`` as a :class:`Study` (created by the first ``add``)."""
    return Study(path)


def _names(community: str | Sequence[str] | None) -> list[str] | None:
    """One community or several, as the list the library takes."""
    if community is None:
        return None
    return [community] if isinstance(community, str) else list(community)


def _stop_terms(terms: Sequence[str], stop_file: str | Path | None) -> list[str]:
    """The stop-list given as terms and as a file (one term a line), together."""
    from neco.social.vocab import read_stop_file

    listed = [t.lower() for t in terms]
    return listed + (read_stop_file(stop_file) if stop_file is not None else [])
