"""What the Streamlit dashboard (``dashboards/``) reads from a workspace, and how it starts.

The pages in ``dashboards/views/`` stay thin: every number they show comes from a function
here, which reads declared tables through one read-only DuckDB connection
(:class:`WorkspaceReader`) or calls the NLP layer's own functions (keyness, concordance,
collocates). Aggregates are computed in DuckDB, so no page holds the token table in memory;
the few calls that need tokens read only the columns they use. Nothing here imports
Streamlit: the pages cache these functions with ``st.cache_data``, keyed by the manifest's
``updated`` stamp, so a new stage run invalidates them.

``neco dashboard -w WS`` calls :func:`launch`, which runs ``streamlit run dashboards/app.py``
with the workspace as a script argument (:func:`workspace_from_args` reads it back).

>>> workspace_from_args(["app.py", "--workspace", "data/ws"], {})
PosixPath('data/ws')
>>> workspace_from_args(["app.py"], {"NECO_WORKSPACE": "/tmp/w"})
PosixPath('/tmp/w')
>>> print(md_escape("<img src=x onerror=alert(1)> *bold*"))
\\<img src\\=x onerror\\=alert\\(1\\)\\> \\*bold\\*
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from neco.catalogue import CATALOGUE, view_name
from neco.errors import NecoError

if TYPE_CHECKING:
    import duckdb
    import pandas as pd
    import pyarrow as pa

    from neco.workspace import Workspace

ENV_WORKSPACE = "NECO_WORKSPACE"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8501
#: Files the Survival page may show as images (local files only, never URLs).
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp"})
MECHANICS_LABEL = "mechanics only (random weights)"
UNIT_NEEDS = {
    "chunk": ("social/chunks", "noun chunks need the full parse: neco social --mode full"),
    "entity": ("social/entities", "entities need the full parse: neco social --mode full"),
    "specifier": (
        "social/specifiers",
        "prompt specifiers exist only for prompt communities (neco social finds them; "
        "--prompt-community names them)",
    ),
}

# --------------------------------------------------------------------------- launching


def app_path() -> Path:
    """The dashboard's entry file, in the source tree next to the installed package."""
    import neco

    path = Path(neco.__file__).resolve().parents[1] / "dashboards" / "app.py"
    if not path.is_file():
        raise NecoError(
            f"The dashboard's app file was not found at {path}. It ships in the neco source "
            "tree (dashboards/app.py): install neco from a checkout with `pip install -e .`."
        )
    return path


def launch_command(
    workspace: str | Path, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT
) -> list[str]:
    """The ``streamlit run`` command line that serves the dashboard of ``workspace``."""
    if not 0 < port < 65536:
        raise NecoError(f"The 'port' parameter must be an int in [1, 65535]. Got {port!r}.")
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app_path()),
        "--server.headless",
        "true",
        "--server.address",
        host,
        "--server.port",
        str(port),
        # Offline and quiet: no usage statistics, no file watcher polling the source tree.
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
        # A research tool, not an app to deploy: no "Deploy" button or developer menu.
        "--client.toolbarMode",
        "minimal",
        "--",
        "--workspace",
        str(Path(workspace).resolve()),
    ]


def launch(workspace: str | Path, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> int:
    """Serve the dashboard of ``workspace`` until interrupted; the server's exit code."""
    from neco._lazy import require

    require("streamlit", "dashboard")
    require("altair", "dashboard")
    command = launch_command(workspace, host=host, port=port)
    env = {**os.environ, ENV_WORKSPACE: str(Path(workspace).resolve())}
    try:
        return subprocess.call(command, env=env)  # noqa: S603 (our own interpreter)
    except KeyboardInterrupt:
        return 0


def workspace_from_args(argv: Sequence[str], environ: Mapping[str, str]) -> Path | None:
    """The workspace given to the app: ``--workspace WS`` after the script, else
    ``$NECO_WORKSPACE``; None when neither names one."""
    args = list(argv[1:])
    for i, arg in enumerate(args):
        if arg == "--workspace" and i + 1 < len(args):
            return Path(args[i + 1])
        if arg.startswith("--workspace="):
            return Path(arg.split("=", 1)[1])
    value = environ.get(ENV_WORKSPACE)
    return Path(value) if value else None


# --------------------------------------------------------------------------- text safety

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&=])")


def md_escape(text: object) -> str:
    """``text`` made inert for Streamlit markdown: every markdown, HTML, LaTeX (``$``) and
    directive (``:red[...]``) character backslash-escaped, newlines folded into spaces.
    Captions, community names and file names are untrusted and pass through this before
    they reach any markdown-rendering element (labels, captions, messages)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def shorten(text: object, width: int = 80) -> str:
    """``text`` on one line, cut at ``width`` characters with an ellipsis."""
    line = " ".join(str(text).split())
    return line if len(line) <= width else line[: width - 1] + "…"


# --------------------------------------------------------------------------- reading


class WorkspaceReader:
    """Read-only access to a workspace: its manifest and one in-memory DuckDB connection
    with a view per table (named as :func:`neco.catalogue.view_name` names them).

    The workspace's own ``neco.duckdb`` is left alone: holding it open for as long as the
    dashboard runs would lock it against the CLI, and the dashboard never writes.
    """

    def __init__(self, path: str | Path) -> None:
        from neco.workspace import Workspace

        self.ws: Workspace = Workspace(path)
        self.manifest: dict[str, Any] = self.ws.manifest()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._lock = threading.Lock()

    @property
    def path(self) -> Path:
        return self.ws.path

    @property
    def stamp(self) -> str | None:
        """When the manifest last changed: the key of every cached result."""
        updated = self.manifest.get("updated")
        return str(updated) if updated else None

    def exists(self) -> bool:
        return self.ws.exists()

    def has(self, table: str) -> bool:
        return table in self.manifest.get("tables", {})

    def rows(self, table: str) -> int:
        return int(self.manifest.get("tables", {}).get(table, {}).get("rows", 0))

    def _connection(self) -> duckdb.DuckDBPyConnection:
        import duckdb

        with self._lock:
            if self._con is None:
                con = duckdb.connect(":memory:")
                for name in self.manifest.get("tables", {}):
                    files = [str(p.resolve()) for p in self.ws.table_files(name)]
                    if not files:
                        continue
                    listing = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
                    con.execute(
                        f'CREATE VIEW "{view_name(name)}" AS SELECT * FROM '
                        f"read_parquet([{listing}], union_by_name = true)"
                    )
                self._con = con
            return self._con

    def arrow(self, query: str, params: Sequence[Any] = ()) -> pa.Table:
        """``query`` (with ``?`` parameters) over the views, as Arrow."""
        import duckdb

        # A cursor per call: Streamlit serves sessions from several threads.
        cursor = self._connection().cursor()
        try:
            relation = cursor.sql(query, params=list(params) or None)
            # DuckDB 2 names it to_arrow_table; 1.x called it arrow.
            fetch = getattr(relation, "to_arrow_table", None) or relation.arrow
            table: pa.Table = fetch()
            return table
        except duckdb.Error as exc:
            raise NecoError(f"The query failed: {exc}") from exc
        finally:
            cursor.close()

    def sql(self, query: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        """``query`` (with ``?`` parameters) over the views, as pandas."""
        frame: pd.DataFrame = self.arrow(query, params).to_pandas()
        return frame


def how_to_make(
    table: str, workspace: str | Path, manifest: Mapping[str, Any] | None = None
) -> tuple[str, str]:
    """Why ``table`` is absent (the stage that makes it, and the reason it gave if it was
    skipped) and the command that runs that stage.

    >>> how_to_make("social/keyness", "ws")
    ('No table social/keyness yet: the stage social.keyness makes it.', 'neco social -w ws')
    """
    stage = CATALOGUE[table].stage if table in CATALOGUE else "?"
    ws = str(workspace)
    if stage == "ingest":
        command = f"neco ingest SOURCE -w {ws}"
    elif stage == "sample":
        command = f"neco sample -w {ws}"
    elif stage == "social.relations" or table in ("social/chunks", "social/entities"):
        command = f"neco social --mode full -w {ws}"
    elif stage.startswith("social."):
        command = f"neco social -w {ws}"
    elif stage.startswith("neural."):
        command = f"neco neural --stages {stage.removeprefix('neural.')} -w {ws}"
    elif stage == "survival":
        command = f"neco survival -w {ws}"
    else:
        command = "neco --help"
    sentence = f"No table {table} yet: the stage {stage} makes it."
    record = (manifest or {}).get("stages", {}).get(stage, {})
    if record.get("status") == "skipped" and record.get("reason"):
        sentence += f" It was skipped when it last ran: {record['reason']}"
    return sentence, command


def _absent(table: str, r: WorkspaceReader) -> NecoError:
    sentence, command = how_to_make(table, r.path, r.manifest)
    return NecoError(f"{sentence} Run: {command}")


def table_states(r: WorkspaceReader) -> pd.DataFrame:
    """Every table with its stage, rows and state (fresh, stale with why, no record)."""
    import pandas as pd

    from neco.stages import table_states as states

    rows = [s.to_dict() for s in states(r.ws)]
    frame = pd.DataFrame(rows, columns=["table", "stage", "rows", "state", "why", "inputs"])
    frame["inputs"] = frame["inputs"].map(", ".join)
    return frame


# --------------------------------------------------------------------------- corpus


def overview(r: WorkspaceReader) -> dict[str, Any]:
    """Counts for the sidebar and the Corpus page's head line."""
    summary = r.ws.summary()
    return {
        "captions": summary["accepted"],
        "rejected": summary["rejected"],
        "rows_read": summary["rows_read"],
        "communities": len(summary["communities"]),
        "sources": len(summary["sources"]),
        "updated": summary["updated"],
    }


def community_sizes(r: WorkspaceReader) -> pd.DataFrame:
    """Per community: captions, authors, threads, captions with an image, words per caption,
    first and last timestamp."""
    return r.sql(
        """
        SELECT community, count(*) AS captions, count(DISTINCT author) AS authors,
               count(DISTINCT thread_id) AS threads, count(image) AS with_image,
               round(avg(len(string_split(trim(text), ' '))), 1) AS mean_words,
               min(timestamp) AS first, max(timestamp) AS last
        FROM corpus GROUP BY community ORDER BY captions DESC, community
        """
    )


def sources(r: WorkspaceReader) -> pd.DataFrame:
    """The sources the manifest records: key, path, SHA-256, format, rows, when."""
    import pandas as pd

    columns = [
        "key", "path", "sha256", "format", "encoding", "rows_read", "accepted", "rejected",
        "ingested_at",
    ]  # fmt: skip
    rows = [{c: s.get(c) for c in columns} for s in r.manifest.get("sources", [])]
    return pd.DataFrame(rows, columns=columns)


def rejected_counts(r: WorkspaceReader) -> pd.DataFrame:
    """Rejected rows by reason and source."""
    if not r.has("rejected") or not r.rows("rejected"):
        import pandas as pd

        return pd.DataFrame(columns=["reason", "source", "rows"])
    return r.sql(
        "SELECT reason, source, count(*) AS rows FROM rejected GROUP BY ALL "
        "ORDER BY rows DESC, reason, source"
    )


def rejected_rows(r: WorkspaceReader, reason: str | None = None, limit: int = 1000) -> pd.DataFrame:
    """The rejected rows themselves (of one reason, or all), first ``limit``."""
    if not r.has("rejected") or not r.rows("rejected"):
        import pandas as pd

        return pd.DataFrame(columns=["source", "record", "line", "reason", "detail", "id", "raw"])
    return r.sql(
        "SELECT source, record, line, reason, detail, id, raw FROM rejected "
        "WHERE ? IS NULL OR reason = ? ORDER BY source, record LIMIT ?",
        [reason, reason, limit],
    )


def caption_lengths(r: WorkspaceReader, cap: int = 80) -> pd.DataFrame:
    """Words per caption by community: ``words`` (captions longer than ``cap`` are counted at
    ``cap``), ``captions`` and ``share`` of the community's captions."""
    return r.sql(
        """
        WITH w AS (
            SELECT community, least(len(string_split(trim(text), ' ')), ?) AS words
            FROM corpus)
        SELECT community, words, count(*) AS captions,
               count(*) / sum(count(*)) OVER (PARTITION BY community) AS share
        FROM w GROUP BY community, words ORDER BY community, words
        """,
        [cap],
    )


@dataclass(frozen=True)
class CaptionFilter:
    """Which captions count: a time range (ISO dates, inclusive), authors, a ``meta`` field
    holding a value (substring, case-insensitive). Empty: every caption."""

    start: str | None = None
    end: str | None = None
    authors: tuple[str, ...] = ()
    meta_key: str | None = None
    meta_value: str | None = None

    @property
    def active(self) -> bool:
        return bool(self.start or self.end or self.authors or (self.meta_key and self.meta_value))

    def where(self) -> tuple[str, list[Any]]:
        """A SQL condition on the ``corpus`` view and its parameters."""
        clauses: list[str] = ["TRUE"]
        params: list[Any] = []
        if self.start:
            clauses.append("timestamp >= CAST(? AS TIMESTAMPTZ)")
            params.append(self.start)
        if self.end:  # the whole end day
            clauses.append("timestamp < CAST(? AS TIMESTAMPTZ) + INTERVAL 1 DAY")
            params.append(self.end)
        if self.authors:
            clauses.append("list_contains(?, author)")
            params.append(list(self.authors))
        if self.meta_key and self.meta_value:
            clauses.append("contains(lower(json_extract_string(meta, ?)), lower(?))")
            params += ["$." + json.dumps(self.meta_key), self.meta_value]
        return " AND ".join(clauses), params

    def describe(self) -> str:
        parts = []
        if self.start or self.end:
            parts.append(
                f"time {self.start or '…'} to {self.end or '…'} (captions without a time left out)"
            )
        if self.authors:
            parts.append(f"{len(self.authors)} author(s)")
        if self.meta_key and self.meta_value:
            parts.append(f"meta {self.meta_key} contains {self.meta_value!r}")
        return ", ".join(parts) or "all captions"


def filter_choices(r: WorkspaceReader, authors: int = 500) -> dict[str, Any]:
    """What the metadata filters can offer: the time range, the most frequent authors,
    the ``meta`` fields seen in the first 5,000 captions that have any."""
    times = r.sql("SELECT min(timestamp) AS first, max(timestamp) AS last FROM corpus")
    top = r.sql(
        "SELECT author, count(*) AS n FROM corpus WHERE author IS NOT NULL "
        "GROUP BY author ORDER BY n DESC, author LIMIT ?",
        [authors],
    )
    keys = r.sql(
        """
        SELECT DISTINCT unnest(json_keys(meta)) AS key
        FROM (SELECT meta FROM corpus WHERE meta IS NOT NULL AND json_valid(meta)
              AND json_type(meta) = 'OBJECT' LIMIT 5000)
        ORDER BY key
        """
    )
    first, last = times["first"].iloc[0], times["last"].iloc[0]
    return {
        "first": None if first is None or first != first else first.date(),
        "last": None if last is None or last != last else last.date(),
        "authors": top["author"].tolist(),
        "meta_keys": keys["key"].tolist(),
    }


def search_captions(
    r: WorkspaceReader,
    text: str = "",
    communities: Sequence[str] = (),
    filters: CaptionFilter | None = None,
    limit: int = 1000,
) -> tuple[pd.DataFrame, int]:
    """Captions containing ``text`` (case-insensitive substring) with their metadata, first
    ``limit``, and how many match in all."""
    where, params = (filters or CaptionFilter()).where()
    condition = (
        f"({where}) AND (? = '' OR contains(lower(text), lower(?))) "
        "AND (len(?) = 0 OR list_contains(?, community))"
    )
    args = [*params, text, text, list(communities), list(communities)]
    total = int(r.sql(f"SELECT count(*) AS n FROM corpus WHERE {condition}", args)["n"].iloc[0])
    frame = r.sql(
        "SELECT id, community, text, author, timestamp, thread_id, parent_id, image, lang, "
        f"source, meta FROM corpus WHERE {condition} LIMIT ?",
        [*args, limit],
    )
    return frame, total


def sample_overview(r: WorkspaceReader, limit: int = 500) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The item sample: items per community (with the community's size), and its first
    ``limit`` items in sample order with their captions."""
    per = r.sql(
        """
        SELECT s.community, count(*) AS sampled, c.captions,
               round(count(*) / c.captions, 3) AS share
        FROM sample_items s
        JOIN (SELECT community, count(*) AS captions FROM corpus GROUP BY 1) c USING (community)
        GROUP BY s.community, c.captions ORDER BY s.community
        """
    )
    items = r.sql(
        'SELECT s."order", s.rank, s.community, s.id, c.text FROM sample_items s '
        'LEFT JOIN corpus c USING (id) ORDER BY s."order" LIMIT ?',
        [limit],
    )
    return per, items


def captions_by_id(r: WorkspaceReader, ids: Sequence[str]) -> pd.DataFrame:
    """The captions with these ids and their metadata."""
    return r.sql(
        "SELECT id, community, text, author, timestamp, thread_id, parent_id, image "
        "FROM corpus WHERE id IN (SELECT unnest(CAST(? AS VARCHAR[])))",  # a hash join
        [list(ids)],
    )


def communities(r: WorkspaceReader) -> list[str]:
    return r.sql("SELECT DISTINCT community FROM corpus ORDER BY 1")["community"].tolist()


# --------------------------------------------------------------------------- vocabularies


def unit_availability(r: WorkspaceReader) -> dict[str, str | None]:
    """For each unit, None when it can be counted here, or why it cannot."""
    out: dict[str, str | None] = {}
    tokens = r.has("social/tokens")
    for unit in ("lemma", "ngram", "chunk", "entity", "specifier"):
        if not tokens:
            out[unit] = "the NLP layer has not run: neco social"
        elif unit in UNIT_NEEDS:
            table, why = UNIT_NEEDS[unit]
            out[unit] = None if r.rows(table) else why
        else:
            out[unit] = None
    return out


def stored_keyness_min_count(r: WorkspaceReader) -> int | None:
    """The minimum count the stored ``social/keyness`` table was made with."""
    record = r.manifest.get("stages", {}).get("social.keyness", {})
    value = record.get("params", {}).get("keyness_min_count")
    return int(value) if value is not None else None


def keyness(
    r: WorkspaceReader,
    *,
    communities: Sequence[str] | None = None,
    against: str | None = None,
    unit: str = "lemma",
    min_count: int = 3,
    filters: CaptionFilter | None = None,
) -> tuple[pd.DataFrame, str]:
    """Distinctive terms (the ``social/keyness`` columns) and a sentence saying where they
    come from.

    Each community against the rest, by lemma, with the stage's minimum count: the stored
    table, read as it is. Another unit, comparison or minimum count, or metadata
    ``filters``: computed as :func:`neco.social.vocab.keyness` (``neco vocab``) computes it,
    with :func:`neco.social.terms.build_doc_terms` and
    :func:`neco.social.keyness.keyness_table`, on the captions that pass the filters, reading
    only the token columns the unit needs (``vocab.keyness`` reads them all, several hundred
    MB for 100,000 captions).
    """
    filters = filters or CaptionFilter()
    chosen = list(communities) if communities else None
    if (
        unit == "lemma"
        and against is None
        and not filters.active
        and r.has("social/keyness")
        and stored_keyness_min_count(r) == min_count
    ):
        frame = r.sql(
            "SELECT * FROM social_keyness WHERE ? IS NULL OR list_contains(?, community) "
            "ORDER BY community, logodds_z DESC",
            [chosen, chosen],
        )
        return frame, "the stored table social/keyness (stage social.keyness)"
    return _computed_keyness(r, chosen, against, unit, min_count, filters)


_UNIT_TOKEN_COLUMNS = {
    "lemma": ["id", "lemma", "is_stop", "is_punct"],
    "ngram": ["id", "lower", "is_stop", "is_punct"],
    "chunk": ["id", "head"],
    "entity": ["id", "head"],
    "specifier": ["id"],
}


def _computed_keyness(
    r: WorkspaceReader,
    chosen: list[str] | None,
    against: str | None,
    unit: str,
    min_count: int,
    filters: CaptionFilter,
) -> tuple[pd.DataFrame, str]:
    import pyarrow.compute as pc

    from neco.social.keyness import keyness_table
    from neco.social.pipeline import load_tokens
    from neco.social.terms import build_doc_terms

    where, params = filters.where()
    docs = r.arrow(f"SELECT id, community FROM corpus WHERE {where}", params)
    if docs.num_rows == 0:
        raise NecoError(f"No caption passes the filters ({filters.describe()}).")
    if unit not in _UNIT_TOKEN_COLUMNS:
        raise NecoError(
            f"The 'unit' parameter must be one of {', '.join(_UNIT_TOKEN_COLUMNS)}. Got {unit!r}."
        )
    # Only the columns the unit needs, only the captions that pass.
    tokens = load_tokens(r.ws, _UNIT_TOKEN_COLUMNS[unit])
    if filters.active:
        tokens = tokens.filter(pc.is_in(tokens.column("id"), value_set=docs.column("id")))
    extra: dict[str, Any] = {}
    if unit in ("chunk", "entity"):
        extra["chunks"] = r.ws.read_table("social/chunks")
        extra["entities"] = r.ws.read_table("social/entities")
    if unit == "specifier":
        if not r.has("social/specifiers"):
            raise NecoError(UNIT_NEEDS["specifier"][1])
        extra["specifiers"] = r.ws.read_table("social/specifiers")
    dtm = build_doc_terms(docs, tokens, unit, **extra)
    table = keyness_table(dtm, communities=chosen, against=against, min_count=min_count)
    if not filters.active:
        return table.to_pandas(), f"computed from social/tokens ({unit}), as neco vocab does"
    return (
        table.to_pandas(),
        f"computed on the {docs.num_rows:,} captions that pass the filters ({filters.describe()})",
    )


def parse_stoplist(text: str) -> list[str]:
    """Words separated by commas, spaces or new lines, lowercased.

    >>> parse_stoplist("x, OC\\n1600x1200")
    ['x', 'oc', '1600x1200']
    """
    return [w.lower() for w in re.split(r"[,\s]+", text) if w]


def valid_patterns(patterns: Sequence[str]) -> tuple[list[str], list[str]]:
    """The patterns that compile as regular expressions, and a message for each one that
    does not.

    >>> valid_patterns(["^oc$", "("])[0]
    ['^oc$']
    """
    good, problems = [], []
    for pattern in patterns:
        try:
            re.compile(pattern)
            good.append(pattern)
        except re.error as exc:
            problems.append(f"The exclusion pattern {pattern!r} is not valid ({exc}); ignored.")
    return good, problems


def filter_terms(
    frame: pd.DataFrame, stoplist: Sequence[str] = (), patterns: Sequence[str] = ()
) -> tuple[pd.DataFrame, int]:
    """``frame`` without the terms in ``stoplist`` or matching any regular expression in
    ``patterns`` (searched, case-insensitive); and how many rows were hidden. A pattern
    that is not a valid expression raises :class:`NecoError` naming it.

    >>> import pandas as pd
    >>> kept, hidden = filter_terms(pd.DataFrame({"term": ["oc", "kite", "1600x1200"]}),
    ...                             ["oc"], [r"^\\d+x\\d+$"])
    >>> kept["term"].tolist(), hidden
    (['kite'], 2)
    """
    terms = frame["term"].astype(str)
    drop = terms.str.lower().isin({w.lower() for w in stoplist})
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise NecoError(f"The exclusion pattern {pattern!r} is not valid: {exc}.") from exc
        drop |= terms.str.contains(pattern, case=False, regex=True)
    return frame[~drop].reset_index(drop=True), int(drop.sum())


def scatter_points(frame: pd.DataFrame, per_panel: int = 600, labels: int = 6) -> pd.DataFrame:
    """Points of the term-frequency scatter, as the static figures draw them
    (:func:`neco.social.figures.scatter_points`): per comparison, the ``per_panel`` most
    frequent terms with their rates per 10,000 terms on both sides, zero counts spread just
    below the log axis's floor, and labels for the most distinctive terms of each side."""
    from neco.social.figures import scatter_points as figure_points

    return figure_points(frame, per_panel=per_panel, labels=labels)


@dataclass
class Vocabulary:
    """What the Vocabularies page shows: the distinctive terms left after the stop-list and
    patterns (``terms``), the scatter's ``points``, how many terms were ``hidden`` and where
    the table came from (``source``)."""

    terms: pd.DataFrame
    points: pd.DataFrame
    hidden: int
    source: str


def vocabulary(
    r: WorkspaceReader,
    *,
    communities: Sequence[str] | None = None,
    against: str | None = None,
    unit: str = "lemma",
    min_count: int = 3,
    filters: CaptionFilter | None = None,
    stoplist: Sequence[str] = (),
    patterns: Sequence[str] = (),
) -> Vocabulary:
    """:func:`keyness`, then :func:`filter_terms` and :func:`scatter_points`, in one call so
    that the page can cache all of it."""
    frame, source = keyness(
        r, communities=communities, against=against, unit=unit, min_count=min_count,
        filters=filters,
    )  # fmt: skip
    terms, hidden = filter_terms(frame, stoplist, patterns)
    return Vocabulary(terms, scatter_points(terms), hidden, source)


# --------------------------------------------------------------------------- concordance

_TOKEN_COLUMNS = [
    "id", "community", "position", "lower", "lemma", "start", "end", "is_punct", "is_stop",
]  # fmt: skip


def concordance(
    r: WorkspaceReader,
    term: str,
    *,
    communities: Sequence[str] = (),
    width: int = 40,
    sort: str = "right",
) -> pd.DataFrame:
    """Concordance lines of ``term`` (:func:`neco.social.concordance.kwic`, the function
    behind ``neco kwic``) with each caption's text, author, thread and image.

    Only the tokens of captions that contain the term's first word are read (DuckDB finds
    them), which gives the same lines as reading every token.
    """
    import pandas as pd

    from neco.social.concordance import kwic

    columns = ["id", "community", "left", "match", "right", "start", "end"]
    words = term.lower().split()
    if not words:
        return pd.DataFrame(columns=columns)
    if not r.has("social/tokens"):
        raise _absent("social/tokens", r)
    chosen = list(communities)
    cols = ", ".join(f'"{c}"' for c in _TOKEN_COLUMNS)
    tokens = r.arrow(
        f"SELECT {cols} FROM social_tokens WHERE id IN ("
        "  SELECT id FROM social_tokens WHERE (lower = ? OR lower(lemma) = ?)"
        "  AND (len(?) = 0 OR list_contains(?, community)))"
        " ORDER BY id, position",
        [words[0], words[0], chosen, chosen],
    )
    ids = sorted(set(tokens.column("id").to_pylist()))
    meta = captions_by_id(r, ids)
    lines = kwic(meta[["id", "text"]], tokens, term, width=width, sort=sort)
    extra = meta.rename(columns={"text": "caption"}).drop(columns=["community"])
    return lines.merge(extra, on="id", how="left")


def collocates(
    r: WorkspaceReader,
    term: str,
    *,
    community: str | None = None,
    window: int = 4,
    min_count: int = 2,
) -> pd.DataFrame:
    """Collocates of ``term`` (:func:`neco.social.concordance.collocates`, as ``neco
    collocates``): reads the columns it needs of the community's tokens (or all)."""
    from neco.social.concordance import collocates as run_collocates

    if not r.has("social/tokens"):
        raise _absent("social/tokens", r)
    cols = ", ".join(f'"{c}"' for c in _TOKEN_COLUMNS)
    tokens = r.arrow(
        f"SELECT {cols} FROM social_tokens WHERE ? IS NULL OR community = ?",
        [community, community],
    )
    return run_collocates(tokens, term, window=window, min_count=min_count)


# --------------------------------------------------------------------------- graphs

#: Graph kinds the Graphs page draws: what they link, and the tables they are read from.
GRAPH_KINDS = {
    "cooccurrence": (
        "terms used in the same captions (NPMI backbone)",
        ("social/cooc_nodes", "social/cooc_edges"),
    ),
    "discourse": ("captions and the captions they reply to", ("social/discourse_edges",)),
    "semantic": (
        "sampled captions and their nearest in meaning (sentence embeddings)",
        ("social/semantic_edges",),
    ),
}


@dataclass
class DrawnGraph:
    """A graph ready to draw: nodes with positions, edges with both ends' positions, and
    how much was pruned to get there."""

    nodes: pd.DataFrame
    edges: pd.DataFrame
    total_nodes: int
    total_edges: int
    notes: list[str] = field(default_factory=list)

    @property
    def pruned_nodes(self) -> int:
        return self.total_nodes - len(self.nodes)

    @property
    def pruned_edges(self) -> int:
        return self.total_edges - len(self.edges)


def graph_scopes(r: WorkspaceReader, kind: str) -> list[str]:
    """The scopes a graph exists for: ``all`` and communities."""
    if kind == "cooccurrence":
        if not r.has("social/cooc_nodes"):
            return []
        scopes = r.sql("SELECT DISTINCT scope FROM social_cooc_nodes ORDER BY 1")["scope"]
        return sorted(scopes, key=lambda s: (s != "all", s))
    if kind == "discourse":
        if not r.has("social/discourse_edges"):
            return []
        found = r.sql("SELECT DISTINCT community FROM social_discourse_edges ORDER BY 1")
        return ["all", *found["community"]]
    if not r.has("social/semantic_edges") or not r.has("social/reference_vectors"):
        return []
    found = r.sql("SELECT DISTINCT community FROM social_reference_vectors ORDER BY 1")
    return ["all", *found["community"]]


def _layout(nodes: pd.DataFrame, edges: pd.DataFrame, seed: int) -> pd.DataFrame:
    import networkx as nx

    graph = nx.Graph()
    graph.add_nodes_from(nodes["node"])
    graph.add_weighted_edges_from(edges[["source", "target", "weight"]].itertuples(index=False))
    # ForceAtlas2 (Jacomy et al. 2014) with strong gravity: a spring layout sends the small
    # components that pruning leaves far away and squeezes the main one into a corner.
    positions = (
        nx.forceatlas2_layout(graph, seed=seed, gravity=0.5, strong_gravity=True, max_iter=200)
        if len(graph)
        else {}
    )
    return nodes.assign(
        x=[float(positions[n][0]) for n in nodes["node"]],
        y=[float(positions[n][1]) for n in nodes["node"]],
    )


def _prune(
    nodes: pd.DataFrame,
    edges: pd.DataFrame,
    top_n: int,
    seed: int,
    notes: list[str],
    keep: set[str] | None = None,
) -> DrawnGraph:
    """Keep the ``top_n`` nodes of highest degree (ties: ``strength``, name), or the nodes
    ``keep``, and the edges among them, and lay them out (networkx's ForceAtlas2, seeded)."""
    total_nodes, total_edges = len(nodes), len(edges)
    order = ["degree", "strength", "node"]
    ranked = nodes.sort_values(order, ascending=[False, False, True], kind="stable")
    kept = ranked.head(top_n) if keep is None else ranked[ranked["node"].isin(keep)]
    keep = set(kept["node"])
    kept_edges = edges[edges["source"].isin(keep) & edges["target"].isin(keep)]
    laid = _layout(kept.reset_index(drop=True), kept_edges, seed)
    where = laid.set_index("node")[["x", "y"]]
    kept_edges = kept_edges.assign(
        x=where.loc[kept_edges["source"], "x"].to_numpy(),
        y=where.loc[kept_edges["source"], "y"].to_numpy(),
        x2=where.loc[kept_edges["target"], "x"].to_numpy(),
        y2=where.loc[kept_edges["target"], "y"].to_numpy(),
    ).reset_index(drop=True)
    return DrawnGraph(laid, kept_edges, total_nodes, total_edges, notes)


def cooccurrence_graph(
    r: WorkspaceReader, scope: str, top_n: int = 150, seed: int = 0
) -> DrawnGraph:
    """The co-occurrence backbone of ``scope`` (its nodes' Leiden ``cluster``; each term's
    ``distinctive_of``: the community where its keyness z is highest)."""
    nodes = r.sql(
        "SELECT node, doc_count, community AS cluster, degree, strength, betweenness, "
        "eigenvector FROM social_cooc_nodes WHERE scope = ?",
        [scope],
    )
    edges = r.sql(
        "SELECT source, target, weight, pmi, count, alpha FROM social_cooc_edges WHERE scope = ?",
        [scope],
    )
    notes: list[str] = []
    if r.has("social/keyness"):
        best = r.sql(
            "SELECT term AS node, arg_max(community, logodds_z) AS distinctive_of "
            "FROM social_keyness WHERE reference = 'rest' GROUP BY term"
        )
        nodes = nodes.merge(best, on="node", how="left")
        nodes["distinctive_of"] = nodes["distinctive_of"].fillna("(not in keyness table)")
    else:
        nodes["distinctive_of"] = "(no keyness table)"
        notes.append(" Run: ".join(how_to_make("social/keyness", r.path, r.manifest)))
    nodes["cluster"] = nodes["cluster"].astype(str)
    nodes["label"] = nodes["node"]
    return _prune(nodes, edges, top_n, seed, notes)


def _caption_nodes(edges: pd.DataFrame, info: pd.DataFrame) -> pd.DataFrame:
    """Caption nodes with their degree and strength (summed edge weight) and ``info``."""
    import pandas as pd

    ends = pd.concat([edges["source"], edges["target"]])
    degree = ends.value_counts().rename_axis("node").reset_index(name="degree")
    strength = (
        pd.concat([edges[["source", "weight"]].set_axis(["node", "weight"], axis=1),
                   edges[["target", "weight"]].set_axis(["node", "weight"], axis=1)])
        .groupby("node")["weight"].sum().rename("strength").reset_index()
    )  # fmt: skip
    return degree.merge(strength, on="node").merge(info, on="node", how="left")


def discourse_graph(r: WorkspaceReader, scope: str, top_n: int = 150, seed: int = 0) -> DrawnGraph:
    """The reply graph (replies point to their parents) of one community or all."""
    edges = r.sql(
        "SELECT source, target, 1.0 AS weight, thread, community FROM social_discourse_edges "
        "WHERE ? = 'all' OR community = ?",
        [scope, scope],
    )
    ids = sorted(set(edges["source"]) | set(edges["target"]))
    captions = captions_by_id(r, ids)
    info = captions.rename(columns={"id": "node"})[["node", "community", "text", "author"]]
    thread_of = dict(zip(edges["source"], edges["thread"].fillna(""), strict=True))
    thread_of.update(zip(edges["target"], edges["thread"].fillna(""), strict=True))
    info = info.assign(thread=info["node"].map(thread_of).fillna(""))
    nodes = _caption_nodes(edges, info)
    nodes["label"] = nodes["text"].map(lambda t: shorten(t, 30))
    nodes["cluster"] = nodes["thread"]
    # Reply graphs are forests: the most connected nodes are roots whose replies would be
    # pruned away. Whole threads are kept instead, the largest first, up to top_n nodes.
    sizes = nodes.groupby("thread").size().sort_values(ascending=False, kind="stable")
    chosen: list[str] = []
    total = 0
    for thread, size in sizes.items():
        if chosen and total + size > top_n:
            break
        chosen.append(str(thread))
        total += int(size)
    keep = set(nodes.loc[nodes["thread"].isin(chosen), "node"])
    notes = [f"The {len(chosen):,} largest of {len(sizes):,} threads, drawn whole."]
    return _prune(nodes, edges[["source", "target", "weight"]], top_n, seed, notes, keep)


def semantic_graph(r: WorkspaceReader, scope: str, top_n: int = 150, seed: int = 0) -> DrawnGraph:
    """The kNN graph of the sampled captions' sentence embeddings (one community or all)."""
    edges = r.sql(
        """
        SELECT e.source, e.target, e.weight FROM social_semantic_edges e
        JOIN social_reference_vectors a ON a.id = e.source
        JOIN social_reference_vectors b ON b.id = e.target
        WHERE ? = 'all' OR (a.community = ? AND b.community = ?)
        """,
        [scope, scope, scope],
    )
    ids = sorted(set(edges["source"]) | set(edges["target"]))
    captions = captions_by_id(r, ids)
    info = captions.rename(columns={"id": "node"})[["node", "community", "text", "author"]]
    nodes = _caption_nodes(edges, info)
    nodes["label"] = nodes["text"].map(lambda t: shorten(t, 30))
    nodes["cluster"] = nodes["community"]
    notes = [] if scope == "all" else ["edges to captions of other communities are left out"]
    return _prune(nodes, edges, top_n, seed, notes)


def draw_graph(r: WorkspaceReader, kind: str, scope: str, top_n: int = 150) -> DrawnGraph:
    """The graph ``kind`` (a key of :data:`GRAPH_KINDS`) of ``scope``, pruned to ``top_n``."""
    makers = {
        "cooccurrence": cooccurrence_graph,
        "discourse": discourse_graph,
        "semantic": semantic_graph,
    }
    if kind not in makers:
        raise NecoError(f"The 'kind' parameter must be one of {', '.join(makers)}. Got {kind!r}.")
    return makers[kind](r, scope, top_n)


def graph_neighbours(r: WorkspaceReader, kind: str, scope: str, node: str) -> pd.DataFrame:
    """The edges of ``node`` in the whole (unpruned) graph, strongest first."""
    if kind == "cooccurrence":
        return r.sql(
            "SELECT CASE WHEN source = ? THEN target ELSE source END AS neighbour, weight AS npmi,"
            " count FROM social_cooc_edges WHERE scope = ? AND (source = ? OR target = ?) "
            "ORDER BY weight DESC",
            [node, scope, node, node],
        )
    table = "social_discourse_edges" if kind == "discourse" else "social_semantic_edges"
    weight = "1.0" if kind == "discourse" else "weight"
    return r.sql(
        f"SELECT CASE WHEN e.source = ? THEN e.target ELSE e.source END AS neighbour, "
        f"{weight} AS weight, c.community, c.text FROM {table} e "
        "LEFT JOIN corpus c ON c.id = CASE WHEN e.source = ? THEN e.target ELSE e.source END "
        "WHERE e.source = ? OR e.target = ? ORDER BY weight DESC",
        [node, node, node, node],
    )


# --------------------------------------------------------------------------- survival


def ledger(r: WorkspaceReader) -> pd.DataFrame:
    """The survival ledger, with a ``weights`` column that says "mechanics only (random
    weights)" on rows measured with random-weight components."""
    frame = r.sql("SELECT * FROM survival_ledger ORDER BY stage, metric, community")
    frame.insert(
        0, "weights", frame["mechanics_only"].map(lambda m: MECHANICS_LABEL if m else "pretrained")
    )
    return frame


def ledger_stages(r: WorkspaceReader) -> list[str]:
    """The stages in the order the ledger lists them (the order a run takes them)."""
    # DuckDB keeps the rows' stored order in a plain scan.
    return list(dict.fromkeys(r.sql("SELECT stage FROM survival_ledger")["stage"]))


def survival_examples(
    r: WorkspaceReader, stage: str | None = None, community: str | None = None
) -> pd.DataFrame:
    """Captions that illustrate ledger findings (of one stage and community, or all)."""
    if not r.has("survival/examples"):
        import pandas as pd

        return pd.DataFrame(columns=["stage", "community", "kind", "id", "text", "detail", "score"])
    return r.sql(
        "SELECT stage, community, kind, id, text, detail, score FROM survival_examples "
        "WHERE (? IS NULL OR stage = ?) AND (? IS NULL OR community = ?) "
        "ORDER BY stage, community, kind, score DESC NULLS LAST",
        [stage, stage, community, community],
    )


def lost_words(r: WorkspaceReader, top: int = 15) -> pd.DataFrame:
    """Words cut off past CLIP's 77 tokens: per community, the ``top`` most often lost, with
    how many times and in how many captions."""
    return r.sql(
        """
        SELECT community, lower(word) AS word, count(*) AS lost, count(DISTINCT id) AS captions
        FROM neural_token_words WHERE lost AND regexp_matches(word, '[[:alpha:]]')
        GROUP BY community, lower(word)
        QUALIFY row_number() OVER (PARTITION BY community ORDER BY count(*) DESC, lower(word))
                <= ?
        ORDER BY community, lost DESC, word
        """,
        [top],
    )


def stage_is_mechanics_only(r: WorkspaceReader, stage: str) -> bool:
    """True when ``stage`` last ran with a random-weight component (the manifest says so)."""
    record = r.manifest.get("stages", {}).get(stage, {})
    return any(c.get("weights") == "random" for c in record.get("components", []))


def token_summary(r: WorkspaceReader) -> pd.DataFrame:
    return r.sql("SELECT * FROM neural_token_summary ORDER BY truncation_rate DESC NULLS LAST")


def local_image(path: object, known: set[str]) -> Path | None:
    """``path`` as a file to show, only if it is one of the workspace's ``known`` image
    paths, local (not a URL), an existing file with an image suffix; else None.

    >>> local_image("https://example.org/a.png", {"https://example.org/a.png"}) is None
    True
    """
    if not isinstance(path, str) or path not in known or re.match(r"^[a-zA-Z][\w+.-]*://", path):
        return None
    file = Path(path)
    if file.suffix.lower() not in IMAGE_SUFFIXES or not file.is_file():
        return None
    return file


def latents(r: WorkspaceReader) -> pd.DataFrame:
    """The VAE round trip per caption (``neural/latents`` without its vectors), with the
    caption's community and ``local_path``: the image as a local file the page may show."""
    # Every column but the vectors, whatever this workspace's neco version named them.
    described = r.sql("DESCRIBE neural_latents")
    scalar = [
        name
        for name, kind in zip(described["column_name"], described["column_type"], strict=True)
        if "[" not in kind and name != "id"
    ]
    columns = ", ".join(f'l."{name}"' for name in scalar)
    frame = r.sql(
        f"SELECT l.id, c.community, {columns} FROM neural_latents l "
        "LEFT JOIN corpus c USING (id) ORDER BY c.community, l.id"
    )
    known = set(
        r.sql("SELECT DISTINCT image FROM corpus WHERE image IS NOT NULL")["image"].tolist()
    )
    frame["local_path"] = [
        str(p) if (p := local_image(image, known)) else None for image in frame["image"]
    ]
    # The stage's own side-by-side PNGs (original as the VAE saw it | reconstruction), kept
    # inside the workspace: shown only when the file is there and stays inside it.
    if "reconstruction" in frame.columns:
        root = r.ws.path.resolve()
        frame["round_trip_path"] = [
            str(p)
            if isinstance(rel, str)
            and (p := (root / rel).resolve()).is_relative_to(root)
            and p.is_file()
            else None
            for rel in frame["reconstruction"]
        ]
    return frame


# --------------------------------------------------------------------------- runs


def stage_records(r: WorkspaceReader) -> pd.DataFrame:
    """One row per stage the manifest records: status, when, seconds, rows, parameters,
    components, package versions, reason (when skipped)."""
    import pandas as pd

    rows = []
    for name, rec in r.manifest.get("stages", {}).items():
        rows.append(
            {
                "stage": name,
                "status": rec.get("status", "ran" if name == "ingest" else "?"),
                "finished": rec.get("finished"),
                "seconds": rec.get("seconds"),
                "rows": json.dumps(rec.get("rows", {}), ensure_ascii=False),
                "params": json.dumps(rec.get("params", {}), ensure_ascii=False, sort_keys=True),
                "components": json.dumps(rec.get("components", []), ensure_ascii=False),
                "package_versions": json.dumps(rec.get("package_versions", {}), sort_keys=True),
                "reason": rec.get("reason"),
                "key": rec.get("key"),
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "stage", "status", "finished", "seconds", "rows", "params", "components",
            "package_versions", "reason", "key",
        ],
    )  # fmt: skip


def citation(r: WorkspaceReader) -> str:
    """A plain-text note that identifies the workspace state a figure was made from."""
    import neco

    lines = [
        f"neco {neco.__version__}; workspace {r.path}",
        f"manifest updated {r.manifest.get('updated')}",
    ]
    for s in r.manifest.get("sources", []):
        lines.append(f"source {s.get('key')}: sha256 {s.get('sha256')} ({s.get('accepted')} rows)")
    for name, rec in r.manifest.get("stages", {}).items():
        if rec.get("key"):
            lines.append(f"stage {name}: {rec.get('status')}, key {rec['key'][:16]}")
    return "\n".join(lines)


__all__ = [
    "MECHANICS_LABEL",
    "CaptionFilter",
    "DrawnGraph",
    "Vocabulary",
    "WorkspaceReader",
    "app_path",
    "caption_lengths",
    "collocates",
    "community_sizes",
    "concordance",
    "draw_graph",
    "filter_terms",
    "how_to_make",
    "keyness",
    "launch",
    "launch_command",
    "ledger",
    "md_escape",
    "scatter_points",
    "vocabulary",
    "workspace_from_args",
]
