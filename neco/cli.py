"""The ``neco`` command line.

Exit codes: 0 success, 1 a bug in neco (with its traceback), 2 a user error (bad input,
missing file or dependency; printed as one message, no traceback).
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from neco import __version__
from neco.errors import NecoError, SourceError

app = typer.Typer(
    name="neco",
    help="neco — neural economy: what survives when captions become vectors.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

WorkspaceOpt = Annotated[
    Path, typer.Option("--workspace", "-w", help="Workspace folder.", show_default=True)
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON to stdout (no bars).")]


def _progress(quiet: bool) -> Any:
    from neco.progress import NullProgress, RichProgress

    return NullProgress() if quiet or not sys.stderr.isatty() else RichProgress()


# --------------------------------------------------------------------------- rendering


def _print_report(report: dict[str, Any]) -> None:
    table = Table(title="Sources", title_justify="left")
    for name in ("source", "format", "status", "read", "accepted", "rejected"):
        table.add_column(
            name, justify="right" if name in ("read", "accepted", "rejected") else "left"
        )
    for s in report["sources"]:
        table.add_row(
            s["key"],
            s.get("format") or "",
            s["status"],
            f"{s['rows_read']:,}",
            f"{s['accepted']:,}",
            f"{s['rejected']:,}",
        )
    out.print(table)
    for s in report["sources"]:
        if s.get("columns"):
            cols = ", ".join(f"{role} <- {col!r}" for role, col in s["columns"].items())
            out.print(f"  [dim]{s['key']}: columns {cols}[/dim]", highlight=False)
        for note in s.get("notes", []):
            out.print(f"  [dim]{s['key']}: {note}[/dim]", highlight=False)
    out.print(
        f"\n[bold]{report['rows_read']:,}[/bold] rows read: [green]{report['accepted']:,} "
        f"accepted[/green], [yellow]{report['rejected']:,} rejected[/yellow]"
    )
    if report["rejected_by_reason"]:
        out.print(
            "Rejected by reason: "
            + ", ".join(f"{k} {v:,}" for k, v in report["rejected_by_reason"].items())
        )
    if report.get("repairs"):
        out.print("Repaired: " + ", ".join(f"{k} {v:,}" for k, v in report["repairs"].items()))
    if report["communities"]:
        comm = Table(title="Rows per community", title_justify="left")
        comm.add_column("community")
        comm.add_column("rows", justify="right")
        for name, n in report["communities"].items():
            comm.add_row(name, f"{n:,}")
        out.print(comm)


def _print_info(info: dict[str, Any]) -> None:
    out.print(f"[bold]Workspace[/bold] {info['workspace']}  (updated {info['updated']})")
    _print_report(
        {
            **info,
            "repairs": {},
            "sources": [
                {**s, "status": "ingested", "columns": {}, "notes": []} for s in info["sources"]
            ],
        }
    )
    out.print("Tables: " + ", ".join(f"{k} ({v:,} rows)" for k, v in info["tables"].items()))
    stages = info.get("stage_states", {})
    if stages:
        out.print(
            "Stages: " + ", ".join(f"{name} ({escape(state)})" for name, state in stages.items())
        )
    stale = info.get("stale_tables", {})
    if stale:
        out.print(
            f"[red]Stale tables[/red] ({len(stale)}): {', '.join(stale)} — their inputs changed; "
            "rerun the stage (neco social / neco neural) or see neco tables."
        )


# --------------------------------------------------------------------------- commands


@app.command()
def ingest(
    sources: Annotated[list[Path], typer.Argument(help="Files or folders to read.")] = [],  # noqa: B006
    workspace: WorkspaceOpt = Path("data/workspace"),
    format: Annotated[
        str | None,
        typer.Option(
            "--format",
            "-f",
            help="Override the detected format (see `neco formats`).",
        ),
    ] = None,
    community: Annotated[
        str | None, typer.Option(help="Label every row of these sources with this community.")
    ] = None,
    text_col: Annotated[str | None, typer.Option(help="Column holding the caption text.")] = None,
    id_col: Annotated[str | None, typer.Option(help="Column holding a unique id.")] = None,
    community_col: Annotated[
        str | None, typer.Option(help="Column holding each row's community.")
    ] = None,
    parent_col: Annotated[
        str | None, typer.Option(help="Column holding the id replied to.")
    ] = None,
    thread_col: Annotated[str | None, typer.Option(help="Column holding a thread id.")] = None,
    author_col: Annotated[str | None, typer.Option(help="Column holding the author.")] = None,
    time_col: Annotated[str | None, typer.Option(help="Column holding a timestamp.")] = None,
    image_col: Annotated[
        str | None, typer.Option(help="Column holding an image path or URL.")
    ] = None,
    lang_col: Annotated[str | None, typer.Option(help="Column holding a language code.")] = None,
    lang: Annotated[
        str | None, typer.Option(help="Language code for rows without one (e.g. de).")
    ] = None,
    encoding: Annotated[str | None, typer.Option(help="Text encoding (default: detected).")] = None,
    delimiter: Annotated[
        str | None, typer.Option(help="Delimiter of CSV/TSV (default: sniffed).")
    ] = None,
    id_prefix: Annotated[
        str,
        typer.Option(help="Prefix for ids and reply links of these sources, keeping them apart."),
    ] = "",
    na_value: Annotated[
        list[str],
        typer.Option(help="Extra value that means 'no text' (repeatable), e.g. --na-value Image."),
    ] = [],  # noqa: B006
    dialog_rows: Annotated[
        str, typer.Option(help="Visual Dialog: one row per 'turn' or per 'utterance'.")
    ] = "turn",
    image_root: Annotated[
        Path | None,
        typer.Option(help="Folder that relative image paths are under (default: the source's)."),
    ] = None,
    allow_outside_root: Annotated[
        bool,
        typer.Option(
            "--allow-outside-root",
            help="Keep image paths (and follow image-folder links) that lead outside the image "
            "root; by default they are refused.",
        ),
    ] = False,
    max_record_length: Annotated[
        int | None,
        typer.Option(help="Longest record read, in characters (default 4 MiB); longer: too_long."),
    ] = None,
    max_field_length: Annotated[
        int | None,
        typer.Option(help="Longest field read, in characters (default 1 MiB); longer: too_long."),
    ] = None,
    max_json_mb: Annotated[
        int | None,
        typer.Option(help="Largest JSON document parsed whole, in MiB (default 512)."),
    ] = None,
    max_expansion: Annotated[
        float | None,
        typer.Option(
            help="How many times the compressed bytes read a .gz/.zst source may expand to "
            "(default 200; 0: any)."
        ),
    ] = None,
    no_header: Annotated[
        bool, typer.Option("--no-header", help="CSV/TSV without a header row: column_1, ...")
    ] = False,
    recipe: Annotated[
        Path | None,
        typer.Option(
            help="TOML file listing sources with their options (see corpora/demo/sources.toml)."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Read caption sources into a workspace and print what was accepted and rejected."""
    from neco.corpus.recipe import read_recipe
    from neco.corpus.sources import SourceSpec
    from neco.workspace import Workspace

    options = {
        "format": format,
        "community": community,
        "text_col": text_col,
        "id_col": id_col,
        "community_col": community_col,
        "parent_col": parent_col,
        "thread_col": thread_col,
        "author_col": author_col,
        "time_col": time_col,
        "image_col": image_col,
        "lang_col": lang_col,
        "encoding": encoding,
        "delimiter": delimiter,
        "lang": lang,
        "id_prefix": id_prefix,
        "na_value": tuple(na_value),
        "dialog_rows": dialog_rows,
        "no_header": no_header,
        "image_root": image_root,
        "allow_outside_root": allow_outside_root or None,
        "max_record_length": max_record_length,
        "max_field_length": max_field_length,
        "max_json_mb": max_json_mb,
        "max_expansion": max_expansion,
    }
    specs = [SourceSpec.from_options(path, **options) for path in sources]
    if recipe is not None:
        specs += read_recipe(recipe)
    if not specs:
        raise SourceError("Nothing to ingest: give one or more SOURCE paths or --recipe FILE.")
    with _progress(as_json) as progress:
        report = Workspace(workspace).ingest(specs, progress=progress)
    if as_json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        _print_report(report.to_dict())


@app.command()
def formats(as_json: JsonOpt = False) -> None:
    """List the source formats neco reads and the reasons a row can be rejected."""
    from neco.corpus.schema import REJECT_REASONS
    from neco.corpus.sources import FORMATS

    if as_json:
        print(json.dumps({"formats": FORMATS, "reject_reasons": REJECT_REASONS}, indent=2))
        return
    table = Table(title="Formats (detected from content and extension; --format overrides)")
    table.add_column("format")
    table.add_column("what")
    for name, what in FORMATS.items():
        table.add_row(name, what)
    out.print(table)
    reasons = Table(title="Why a row can be rejected (the rejected table's reason)")
    reasons.add_column("reason")
    reasons.add_column("meaning")
    for name, what in REJECT_REASONS.items():
        reasons.add_row(name, what)
    out.print(reasons)


@app.command()
def info(workspace: WorkspaceOpt = Path("data/workspace"), as_json: JsonOpt = False) -> None:
    """Summarise what a workspace holds: sources, rows, rejections, communities, tables."""
    from neco.stages import table_states
    from neco.workspace import Workspace

    ws = Workspace(workspace)
    summary = ws.summary()
    summary["stage_states"] = {
        name: record.get("status", "ran") for name, record in summary["stages"].items()
    }
    summary["stale_tables"] = {s.name: s.why for s in table_states(ws) if s.state == "stale"}
    if as_json:
        print(json.dumps(summary, indent=2, ensure_ascii=False))
    else:
        _print_info(summary)


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="A DuckDB SQL query over the workspace views.")],
    workspace: WorkspaceOpt = Path("data/workspace"),
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV to stdout.")] = False,
    as_json: JsonOpt = False,
    limit: Annotated[int, typer.Option(help="Rows shown in the table view.")] = 50,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write the result (.csv, .tsv or .parquet).")
    ] = None,
    raw_csv: Annotated[
        bool,
        typer.Option(
            "--raw-csv",
            help="CSV cells exactly as stored; by default a cell starting with = + - @ gets a "
            "leading ' so spreadsheets do not run it as a formula.",
        ),
    ] = False,
    write: Annotated[
        Path | None,
        typer.Option(
            "--write",
            help="Run on this DuckDB file (outside the workspace), where the query may create "
            "tables of its own; without it neco sql is read-only.",
        ),
    ] = None,
) -> None:
    """Run SQL through DuckDB over the workspace (views: corpus, rejected, ...).

    Read-only unless --write: queries only, no file access (COPY, read_text, ATTACH).
    """
    from neco.export import check_table_path, spreadsheet_safe, write_table
    from neco.workspace import Workspace

    if out_file is not None:
        check_table_path(out_file)
    result = Workspace(workspace).sql(query, write=write)
    if out_file is not None:
        write_table(result, out_file, spreadsheet_safe=not raw_csv)
        out.print(f"{result.num_rows:,} rows written to {escape(str(out_file))}")
        return
    if as_csv:
        writer = csv.writer(sys.stdout)
        writer.writerow(result.column_names)
        for row in zip(
            *(result.column(i).to_pylist() for i in range(result.num_columns)), strict=True
        ):
            cells = ["" if v is None else v for v in row]
            writer.writerow(cells if raw_csv else [spreadsheet_safe(v) for v in cells])
        return
    if as_json:
        print(json.dumps(result.to_pylist(), indent=2, ensure_ascii=False, default=str))
        return
    table = Table(show_lines=False)
    for name in result.column_names:
        table.add_column(escape(name), overflow="fold")
    for row in result.slice(0, limit).to_pylist():
        # escape: a caption such as "[bold]" is text, not markup for the terminal
        table.add_row(*("" if v is None else escape(str(v)) for v in row.values()))
    out.print(table)
    if result.num_rows > limit:
        out.print(
            f"[dim]{result.num_rows - limit:,} more rows; use --limit, --csv or --json.[/dim]"
        )


# --------------------------------------------------------------------------- NLP layer


def _print_stages(title: str, reports: list[Any]) -> None:
    table = Table(title=title, title_justify="left")
    table.add_column("stage")
    table.add_column("status")
    table.add_column("seconds", justify="right")
    table.add_column("result")
    colours = {"ran": "green", "unchanged": "cyan", "skipped": "yellow"}
    for report in reports:
        info = dict(report.summary)
        if "scopes" in info:
            info["graphs"] = "; ".join(
                f"{s['scope']}: {s['nodes']} terms, {s['edges']} edges, Q={s['modularity']}"
                for s in info.pop("scopes")
            )
        detail = report.reason or ", ".join(f"{k}={v}" for k, v in info.items())
        colour = colours.get(report.status, "white")
        table.add_row(
            report.name,
            f"[{colour}]{report.status}[/{colour}]",
            f"{report.seconds:.2f}",
            escape(detail),
        )
    out.print(table)


@app.command()
def social(
    workspace: WorkspaceOpt = Path("data/workspace"),
    mode: Annotated[
        str, typer.Option(help="lexical | fast | full (see neco.social.parse).")
    ] = "fast",
    processes: Annotated[int, typer.Option(help="spaCy processes.")] = 1,
    model: Annotated[str | None, typer.Option(help="spaCy English pipeline to use.")] = None,
    lang_model: Annotated[
        list[str],
        typer.Option(
            help="spaCy pipeline for another language, LANG=MODEL (repeatable), e.g. "
            "de=de_core_news_sm; default: spaCy's blank pipeline for that language."
        ),
    ] = [],  # noqa: B006
    skip: Annotated[
        list[str],
        typer.Option(
            help="Step to skip (repeatable): prompts, keyness, cooccurrence, discourse, "
            "semantic, relations."
        ),
    ] = [],  # noqa: B006
    top_terms: Annotated[
        int | None, typer.Option(help="Terms in the co-occurrence graphs.")
    ] = None,
    min_count: Annotated[
        int | None, typer.Option(help="Minimum co-occurrence count of an edge.")
    ] = None,
    backbone_alpha: Annotated[
        float | None,
        typer.Option(help="Significance level of the disparity-filter backbone, in (0, 1]."),
    ] = None,
    prompt_community: Annotated[
        list[str],
        typer.Option(
            help="Community written as text-to-image prompts (repeatable; default: detected)."
        ),
    ] = [],  # noqa: B006
    force: Annotated[bool, typer.Option(help="Rerun stages even when nothing changed.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Run the NLP layer: parse, prompts, keyness, graphs, discourse, semantics, relations.

    Defaults: top terms 2000, minimum count 3, backbone alpha 0.2 (see SocialConfig). Stages
    whose inputs and parameters did not change are skipped.
    """
    from neco.social.parse import ParseConfig
    from neco.social.pipeline import SocialConfig, run_social
    from neco.workspace import Workspace

    given: dict[str, Any] = {
        "top_terms": top_terms,
        "min_count": min_count,
        "backbone_alpha": backbone_alpha,
    }
    config = SocialConfig(
        parse=ParseConfig(
            mode=mode, processes=processes, model=model, lang_models=_lang_models(lang_model)
        ),
        skip=tuple(skip),
        prompt_communities=tuple(prompt_community) or None,
        **{k: v for k, v in given.items() if v is not None},
    )
    with _progress(as_json) as progress:
        result = run_social(Workspace(workspace), config, progress, force=force)
    if as_json:
        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False, default=str))
        return
    _print_stages("NLP layer", result.stages)
    out.print(f"Tables and GEXF graphs are in {workspace}; try: neco vocab -w {workspace}")


def _lang_models(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        lang, _, name = pair.partition("=")
        if not lang.strip() or not name.strip():
            raise NecoError(
                f"--lang-model takes LANG=MODEL, e.g. de=de_core_news_sm. Got {pair!r}."
            )
        out[lang.strip().lower()] = name.strip()
    return out


def _warn_stale(ws: Any) -> None:
    from neco.social.vocab import stale_warning

    warning = stale_warning(ws)
    if warning:
        err.print(f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False)


OutOpt = Annotated[
    Path | None, typer.Option("--out", help="Write the full table (.csv, .tsv or .parquet).")
]


WhereOpt = Annotated[
    str | None,
    typer.Option(
        help="Only captions satisfying this SQL condition on corpus columns and meta fields, "
        'e.g. "year(timestamp) >= 2021" or "TRY_CAST(meta->>\'score\' AS INT) > 100".',
    ),
]
StopFileOpt = Annotated[
    Path | None,
    typer.Option(help="Stop-list file: one term a line (# comments); those terms are not counted."),
]
ExcludeOpt = Annotated[
    list[str],
    typer.Option(
        help="Leave out terms matching this regular expression (searched, case-insensitive; "
        "repeatable), e.g. '^\\d+$'.",
    ),
]
KeepTagsOpt = Annotated[
    bool,
    typer.Option(
        help="Count the words inside tags of web text ([OC], (1200x800)) as words too.",
    ),
]


def _stop_terms(stop_file: Path | None) -> list[str]:
    from neco.social.vocab import read_stop_file

    return read_stop_file(stop_file) if stop_file is not None else []


@app.command()
def vocab(
    workspace: WorkspaceOpt = Path("data/workspace"),
    community: Annotated[
        list[str],
        typer.Option(help="Community to show, in this order (repeatable; default: all)."),
    ] = [],  # noqa: B006
    against: Annotated[
        str | None,
        typer.Option(help="Compare with this community (or slice) instead of all the rest."),
    ] = None,
    unit: Annotated[
        str, typer.Option(help="lemma | ngram | chunk | entity | specifier | tag.")
    ] = "lemma",
    top: Annotated[int, typer.Option(help="Terms shown per community.")] = 15,
    min_count: Annotated[
        int | None,
        typer.Option(help="Minimum count of a term (default 3; 1 with --freq)."),
    ] = None,
    keep_stop: Annotated[bool, typer.Option(help="Keep stop words.")] = False,
    collapse: Annotated[
        bool, typer.Option(help="Count repeated captions once per community.")
    ] = False,
    freq: Annotated[
        bool,
        typer.Option(
            "--freq",
            help="Frequency list: each community's terms by count and number of captions, "
            "no comparison (works with one community).",
        ),
    ] = False,
    rank: Annotated[
        str | None,
        typer.Option(
            help="Order of each community's terms: z | g2 | doc_count | count (default z; "
            "count with --freq). doc_count: a term repeated in one long caption no longer "
            "comes first.",
        ),
    ] = None,
    where: WhereOpt = None,
    by: Annotated[
        str | None,
        typer.Option(
            help="Compare slices instead of communities: year | month | a column | a meta "
            "field (each slice against the others; --community chooses the captions).",
        ),
    ] = None,
    stop_file: StopFileOpt = None,
    exclude: ExcludeOpt = [],  # noqa: B006
    keep_tags: KeepTagsOpt = False,
    plot: Annotated[
        Path | None,
        typer.Option(
            help="Also draw a figure (.svg or .png): a scatter of term frequencies for one "
            "comparison, top terms as bars for several communities.",
        ),
    ] = None,
    out_file: OutOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Distinctive terms of each community: log-odds z (Monroe et al.), G², log ratio.

    Examples: neco vocab --community museum --against news --unit ngram;
    neco vocab --community tidytuesday --by year; neco vocab --freq --unit specifier;
    neco vocab --unit tag; neco vocab --community a --community b --plot ab.svg
    """
    from neco.export import check_table_path, write_table
    from neco.social.vocab import frequencies, keyness
    from neco.workspace import Workspace

    if out_file is not None:
        check_table_path(out_file)
    if plot is not None:
        from neco.social.figures import check_figure_path

        check_figure_path(plot)
    ws = Workspace(workspace)
    options: dict[str, Any] = {
        "communities": community or None,
        "unit": unit,
        "keep_stop": keep_stop,
        "collapse": collapse,
        "where": where,
        "by": by,
        "keep_tags": keep_tags,
        "stop_terms": _stop_terms(stop_file),
        "exclude": exclude,
    }
    if freq:
        if against is not None:
            raise NecoError("--freq lists each community's terms; --against compares. Choose one.")
        table = frequencies(
            ws, min_count=1 if min_count is None else min_count, rank=rank or "count", **options
        )
    else:
        table = keyness(
            ws,
            against=against,
            min_count=3 if min_count is None else min_count,
            rank=rank or "z",
            **options,
        )
    _warn_stale(ws)
    slices = (table.schema.metadata or {}).get(b"slices")
    if slices and not as_json:
        err.print(f"[dim]{escape(slices.decode())}[/dim]", highlight=False)
    if out_file is not None:
        write_table(table, out_file)
    if plot is not None:
        from neco.social.figures import vocabulary_figure

        vocabulary_figure(table, plot, top=top)
    frame_out = table.to_pandas()
    # The table's order is the one asked for (communities as given, terms by --rank).
    shown = frame_out.groupby("community", sort=False).head(top)
    if as_json:
        print(shown.to_json(orient="records", force_ascii=False, indent=2))
        return
    for name, group in shown.groupby("community", sort=False):
        columns: tuple[str, ...]
        if freq:
            title = f"{name} ({unit}, by {rank or 'count'})"
            columns = ("term", "count", "doc_count", "share")
        else:
            title = f"{name} vs {group['reference'].iloc[0]} ({unit})"
            columns = ("term", "count", "doc_count", "rest_count", "logodds_z", "g2", "log_ratio")
        t = Table(title=escape(title), title_justify="left")
        for col in columns:
            t.add_column(col, justify="left" if col == "term" else "right")
        for row in group.itertuples(index=False):
            values = {
                "term": escape(str(row.term)),
                "count": str(row.count),
                "doc_count": str(row.doc_count),
                "share": f"{getattr(row, 'share', 0.0):.2%}",
                "rest_count": str(getattr(row, "rest_count", "")),
                "logodds_z": f"{getattr(row, 'logodds_z', 0.0):.2f}",
                "g2": f"{getattr(row, 'g2', 0.0):.1f}",
                "log_ratio": f"{getattr(row, 'log_ratio', 0.0):.2f}",
            }
            t.add_row(*(values[col] for col in columns))
        out.print(t)
    if out_file is not None:
        out.print(f"Full table ({table.num_rows:,} rows) written to {out_file}")
    if plot is not None:
        out.print(f"Figure written to {plot}")


def _kwic_widths(lines: Any, total: int) -> tuple[int, int, int, int]:
    """Widths of the community, left, match and right columns in ``total`` characters: the
    match is always shown whole (up to half the width); the contexts share what is left."""
    community = min(max((len(str(c)) for c in lines["community"]), default=0), 16)
    match = min(max((len(str(m)) for m in lines["match"]), default=0), total // 2)
    context = max((total - community - match - 6) // 2, 4)  # 6: one space around each column
    return community, context, match, context


def _clip_left(text: str, width: int) -> str:
    """The end of ``text`` (the words next to the match) in ``width`` characters."""
    return text if len(text) <= width else "…" + text[len(text) - width + 1 :]


def _clip_right(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


@app.command()
def kwic(
    term: Annotated[str, typer.Argument(help="A word or phrase (matched on words and lemmas).")],
    workspace: WorkspaceOpt = Path("data/workspace"),
    community: Annotated[str | None, typer.Option(help="Only this community.")] = None,
    width: Annotated[int, typer.Option(help="Characters of context on each side.")] = 40,
    sort: Annotated[str, typer.Option(help="right | left | none.")] = "right",
    limit: Annotated[int, typer.Option(help="Lines shown.")] = 40,
    where: WhereOpt = None,
    out_file: OutOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Concordance: every occurrence of TERM with its left and right context.

    In a narrow terminal the contexts are shortened, never the matched words.
    """
    from neco.export import check_table_path, write_table
    from neco.social.vocab import concordance
    from neco.workspace import Workspace

    if out_file is not None:
        check_table_path(out_file)
    ws = Workspace(workspace)
    lines = concordance(ws, term, community=community, width=width, sort=sort, where=where)
    _warn_stale(ws)
    if out_file is not None:
        write_table(lines, out_file)
    if as_json:
        print(lines.head(limit).to_json(orient="records", force_ascii=False, indent=2))
        return
    shown = lines.head(limit)
    widths = _kwic_widths(shown, out.width)
    t = Table(
        title=escape(f"{len(lines):,} lines for {term!r}"),
        title_justify="left",
        show_header=False,
        box=None,
        padding=(0, 1),
        pad_edge=False,
    )
    # The left context is right-aligned so that every match starts in the same column.
    t.add_column("community", width=widths[0], style="dim", no_wrap=True)
    t.add_column("left", width=widths[1], justify="right", no_wrap=True)
    t.add_column("match", width=widths[2], style="bold", no_wrap=True)
    t.add_column("right", width=widths[3], no_wrap=True)
    for row in shown.itertuples(index=False):
        t.add_row(
            escape(_clip_right(str(row.community), widths[0])),
            escape(_clip_left(str(row.left), widths[1])),
            escape(str(row.match)),
            escape(_clip_right(str(row.right), widths[3])),
        )
    out.print(t)


@app.command()
def collocates(
    term: Annotated[str, typer.Argument(help="The node word.")],
    workspace: WorkspaceOpt = Path("data/workspace"),
    community: Annotated[str | None, typer.Option(help="Only this community.")] = None,
    window: Annotated[int, typer.Option(help="Words on each side.")] = 4,
    min_count: Annotated[int, typer.Option(help="Minimum co-occurrences.")] = 2,
    sort: Annotated[str, typer.Option(help="npmi | g2 | count.")] = "npmi",
    top: Annotated[int, typer.Option(help="Collocates shown.")] = 25,
    where: WhereOpt = None,
    keep_stop: Annotated[bool, typer.Option(help="Keep stop words as collocates.")] = False,
    stop_file: StopFileOpt = None,
    exclude: ExcludeOpt = [],  # noqa: B006
    keep_tags: KeepTagsOpt = False,
    out_file: OutOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Words near TERM, scored by NPMI and log-likelihood.

    Example: neco collocates light --community prompts --sort g2 --min-count 5 --out light.csv
    """
    from neco.export import check_table_path, write_table
    from neco.social.vocab import collocates as find_collocates
    from neco.workspace import Workspace

    if out_file is not None:
        check_table_path(out_file)
    ws = Workspace(workspace)
    table = find_collocates(
        ws,
        term,
        window=window,
        community=community,
        min_count=min_count,
        where=where,
        sort=sort,
        keep_stop=keep_stop,
        keep_tags=keep_tags,
        stop_terms=_stop_terms(stop_file),
        exclude=exclude,
    )
    _warn_stale(ws)
    if out_file is not None:
        write_table(table, out_file)
    if as_json:
        print(table.head(top).to_json(orient="records", force_ascii=False, indent=2))
        return
    t = Table(
        title=escape(f"collocates of {term!r} (window {window}, by {sort})"), title_justify="left"
    )
    for col in ("term", "count", "term_count", "npmi", "g2"):
        t.add_column(col, justify="left" if col == "term" else "right")
    for row in table.head(top).itertuples(index=False):
        t.add_row(
            escape(str(row.term)),
            str(row.count),
            str(row.term_count),
            f"{row.npmi:.3f}",
            f"{row.g2:.1f}",
        )
    out.print(t)
    if out_file is not None:
        out.print(f"Full table ({len(table):,} rows) written to {out_file}")


@app.command()
def graph(
    kind: Annotated[
        str,
        typer.Option(
            "--kind",
            help="cooccurrence | bipartite | terms | captions | discourse | authors | semantic.",
        ),
    ],
    out_file: Annotated[
        Path, typer.Option("--out", help="File to write: .gexf, .graphml or .parquet.")
    ],
    workspace: WorkspaceOpt = Path("data/workspace"),
    community: Annotated[str | None, typer.Option(help="Only this community.")] = None,
    top_terms: Annotated[int, typer.Option(help="Terms in term graphs.")] = 2000,
    min_count: Annotated[int, typer.Option(help="Minimum count of an edge or term.")] = 3,
    as_json: JsonOpt = False,
) -> None:
    """Build one graph and export it for Gephi (GEXF), GraphML or Parquet edge lists."""
    from neco.social.graph_export import build_graph

    summary = build_graph(
        Path(workspace),
        kind,
        out_file,
        community=community,
        top_terms=top_terms,
        min_count=min_count,
    )
    if as_json:
        print(json.dumps(summary, indent=2, ensure_ascii=False))
    else:
        out.print(", ".join(f"{k}={v}" for k, v in summary.items()))


# --------------------------------------------------------------------------- stages, sample


@app.command()
def tables(
    workspace: WorkspaceOpt = Path("data/workspace"),
    declared: Annotated[
        bool, typer.Option("--declared", help="List every declared table, made or not.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """List the workspace's tables: rows, producing stage, inputs, fresh or stale."""
    from neco.catalogue import CATALOGUE, describe
    from neco.stages import table_states
    from neco.workspace import Workspace

    if declared:
        if as_json:
            print(json.dumps([describe(n) for n in CATALOGUE], indent=2))
            return
        t = Table(title="Declared tables (neco.catalogue)", title_justify="left")
        for col in ("table", "stage", "key", "one row is"):
            t.add_column(col, overflow="fold")
        for spec in CATALOGUE.values():
            t.add_row(spec.name, spec.stage, ", ".join(spec.keys), spec.meaning)
        out.print(t)
        return
    states = table_states(Workspace(workspace))
    if as_json:
        print(json.dumps([s.to_dict() for s in states], indent=2))
        return
    t = Table(title=f"Tables of {workspace}", title_justify="left")
    for col in ("table", "rows", "stage", "state", "inputs"):
        t.add_column(col, justify="right" if col == "rows" else "left", overflow="fold")
    for s in states:
        state = {"fresh": "[green]fresh[/green]", "stale": "[red]stale[/red]"}.get(
            s.state, f"[yellow]{s.state}[/yellow]"
        )
        if s.why:
            state += f" ({escape(s.why)})"
        t.add_row(s.name, f"{s.rows:,}", s.stage, state, escape(", ".join(s.inputs)))
    out.print(t)


@app.command()
def sample(
    workspace: WorkspaceOpt = Path("data/workspace"),
    size: Annotated[
        int | None, typer.Option(help="Captions in the item sample (default 5000).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the item sample (default 0).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Choose (or show) the item sample every caption-level stage of both layers measures."""
    from neco.sample import choose_sample, sample_params
    from neco.workspace import Workspace

    ws = Workspace(workspace)
    report = choose_sample(ws, size, seed)
    if as_json:
        print(json.dumps({**report.to_dict(), **sample_params(ws)}, indent=2))
        return
    params = sample_params(ws)
    out.print(
        f"item sample ({report.status}): {report.summary.get('items', 0):,} of "
        f"{report.summary.get('of', 0):,} captions, size {params['sample_size']:,}, "
        f"seed {params['sample_seed']}; stages that measure it rerun when it changes."
    )


@app.command()
def dashboard(
    workspace: WorkspaceOpt = Path("data/workspace"),
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8501,
    host: Annotated[
        str, typer.Option(help="Address to bind; 0.0.0.0 exposes it to the network.")
    ] = "127.0.0.1",
) -> None:
    """Serve the Streamlit dashboard of a workspace (Ctrl+C stops it)."""
    from neco.dashboard import launch
    from neco.workspace import Workspace

    if not Workspace(workspace).exists():
        err.print(
            f"[yellow]warning:[/yellow] no workspace at {escape(str(workspace))} yet; the "
            "dashboard will say so until `neco ingest` creates it.",
            highlight=False,
        )
    out.print(f"neco dashboard of {escape(str(workspace))}: http://{host}:{port}", highlight=False)
    code = launch(workspace, host=host, port=port)
    if code:
        raise typer.Exit(code)


# --------------------------------------------------------------------------- model layer


@app.command()
def neural(
    workspace: WorkspaceOpt = Path("data/workspace"),
    stages: Annotated[
        str, typer.Option(help="Comma-separated: tokens,text,probes,latents,attention,guidance.")
    ] = "tokens",
    components: Annotated[
        str, typer.Option(help="Component set (sd15) or a local diffusers pipeline folder.")
    ] = "sd15",
    clip: Annotated[str, typer.Option(help="CLIP model set (clip-l14) or a local folder.")] = (
        "clip-l14"
    ),
    vae: Annotated[
        str | None,
        typer.Option(
            help="VAE for the latents stage: taesd, sd-vae-ft-mse or a folder "
            "(default: the pipeline's own)."
        ),
    ] = None,
    device: Annotated[str | None, typer.Option(help="cpu or cuda (default: automatic).")] = None,
    dtype: Annotated[
        str | None, typer.Option(help="float32, float16 or bfloat16 (default: automatic).")
    ] = None,
    batch_size: Annotated[int, typer.Option(help="Batch size.")] = 32,
    sample: Annotated[
        int, typer.Option(help="First N items of the item sample for attention and guidance.")
    ] = 16,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    steps: Annotated[int, typer.Option(help="Denoising steps (attention, guidance).")] = 20,
    hidden_states: Annotated[
        bool, typer.Option(help="Also store per-token hidden states (large).")
    ] = False,
    force: Annotated[bool, typer.Option(help="Rerun stages even when nothing changed.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Run the model layer's stages; stages whose weights are absent say what is missing."""
    from neco.neural.pipeline import NeuralConfig, run_neural
    from neco.workspace import Workspace

    config = NeuralConfig(
        stages=tuple(s.strip() for s in stages.split(",") if s.strip()),
        components=components,
        clip=clip,
        vae=vae,
        device=device,
        dtype=dtype,
        batch_size=batch_size,
        sample=sample,
        seed=seed,
        steps=steps,
        hidden_states=hidden_states,
    )
    with _progress(as_json) as progress:
        result = run_neural(Workspace(workspace), config, progress, force=force)
    if as_json:
        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False, default=str))
        return
    _print_stages("Model layer", result.reports)


# --------------------------------------------------------------------------- survival


@app.command()
def survival(
    workspace: WorkspaceOpt = Path("data/workspace"),
    k: Annotated[int, typer.Option(help="Neighbours in the kNN metrics.")] = 10,
    null_samples: Annotated[int, typer.Option(help="Permutations in each null.")] = 200,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples per interval.")] = 200,
    seed: Annotated[int, typer.Option(help="Seed of nulls and intervals.")] = 0,
    force: Annotated[bool, typer.Option(help="Recompute even when nothing changed.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """The survival ledger: per community and stage, how much relational structure is kept."""
    from neco.survival.ledger import SurvivalConfig, run_survival
    from neco.workspace import Workspace

    ws = Workspace(workspace)
    config = SurvivalConfig(k=k, null_samples=null_samples, bootstrap=bootstrap, seed=seed)
    with _progress(as_json) as progress:
        reports = run_survival(ws, config, force=force, progress=progress)
    if as_json:
        print(json.dumps({r.name: r.to_dict() for r in reports}, indent=2, default=str))
        return
    _print_stages("Survival", reports)
    _print_ledger(ws)


def _print_ledger(ws: Any) -> None:
    ledger = ws.read_table("survival/ledger").to_pandas()
    table = Table(title="Survival ledger (value [95% interval], null mean)", title_justify="left")
    for col in ("stage", "metric", "community", "reference → representation", "value", "null"):
        table.add_column(col, overflow="fold")
    for row in ledger.itertuples(index=False):
        if row.status != "measured":
            table.add_row(
                row.stage,
                "[yellow]not measured[/yellow]",
                row.community,
                escape(str(row.reason)),
                "",
                "",
            )
            continue
        value = f"{row.value:.3f}" if row.value == row.value else "—"
        if row.low == row.low and row.low is not None:
            value += f" [{row.low:.3f}, {row.high:.3f}]"
        if row.mechanics_only:
            value += " [yellow](mechanics only)[/yellow]"
        null = f"{row.null_mean:.3f}" if row.null_mean == row.null_mean else ""
        table.add_row(
            row.stage,
            row.metric,
            escape(str(row.community)),
            escape(f"{row.reference} → {row.representation}"),
            value,
            null,
        )
    out.print(table)


@app.command()
def report(
    out_file: Annotated[Path, typer.Option("--out", help="File to write: .html or .md.")],
    workspace: WorkspaceOpt = Path("data/workspace"),
) -> None:
    """Write the survival report: findings per stage with intervals, plots and captions."""
    from neco.survival.report import write_report
    from neco.workspace import Workspace

    path = write_report(Workspace(workspace), out_file)
    out.print(f"Report written to {path}")


models_app = typer.Typer(
    help="Model weights: list what is here, pull, check.", no_args_is_help=True
)
app.add_typer(models_app, name="models")


@models_app.command("list")
def models_list(
    name: Annotated[
        str | None, typer.Argument(help="A set (sd15, clip-l14, ...) or folder.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Each component of the registered sets and whether its weights are on this machine."""
    from neco.neural.components import availability

    rows = availability(name)
    if as_json:
        print(json.dumps(rows, indent=2, default=str))
        return
    table = Table(title="Model components (offline: local folders and the Hugging Face cache)")
    for col in ("set", "component", "repo", "available", "where"):
        table.add_column(col)
    for row in rows:
        repo = row["repo_id"] + (f" / {row['subfolder']}" if row.get("subfolder") else "")
        mark = "[green]yes[/green]" if row["available"] else "[red]no[/red]"
        table.add_row(row["set"], row["component"], repo, mark, str(row["where"] or ""))
    out.print(table)
    if not all(row["available"] for row in rows):
        out.print("Missing weights: on a machine with internet run `neco models pull NAME`.")


@models_app.command("pull")
def models_pull(
    name: Annotated[str, typer.Argument(help="A registered set: sd15, clip-l14, sd-vae-ft-mse.")],
) -> None:
    """Download a set's safetensors weights into the Hugging Face cache (needs internet)."""
    from neco.neural.components import pull

    files = pull(name)
    out.print(f"{len(files)} files in the Hugging Face cache for {name}.")


@models_app.command("check")
def models_check(
    name: Annotated[str, typer.Argument(help="A registered set or a local pipeline folder.")],
    device: Annotated[str | None, typer.Option(help="cpu or cuda.")] = None,
) -> None:
    """Load every component of a set offline and report its class and size."""
    from neco.neural.components import load_set
    from neco.neural.device import choose_device

    loaded = load_set(name, device=choose_device(device))
    for kind, obj in loaded.items():
        params = sum(p.numel() for p in obj.parameters()) if hasattr(obj, "parameters") else 0
        size = f"{params / 1e6:.1f} M parameters" if params else ""
        out.print(f"{kind}: {type(obj).__name__} {size}")


@app.command()
def demo(
    workspace: WorkspaceOpt = Path("data/workspace"),
    fresh: Annotated[bool, typer.Option(help="Delete the workspace first.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Ingest the bundled demo corpus and run every stage that exists."""
    from neco.demo import run_demo

    with _progress(as_json) as progress:
        result = run_demo(workspace, fresh=fresh, progress=progress)
    if as_json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
        return
    _print_report(result["ingest"])
    out.print()
    colours = {"ran": "green", "unchanged": "cyan", "skipped": "yellow"}
    for stage in result["stages"]:
        colour = colours.get(stage["status"], "white")
        out.print(
            f"stage {stage['name']}: [{colour}]{stage['status']}[/{colour}] — "
            f"{escape(str(stage['detail']))}",
            highlight=False,
        )
    out.print(f"\nWorkspace: {result['workspace']}. Try: neco info -w {result['workspace']}")


def _version(value: bool) -> None:
    if value:
        print(f"neco {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """neco — neural economy: what survives when captions become vectors."""


def _click_exceptions() -> list[Any]:
    """The exception modules of click and of the copy of click that typer vendors."""
    import click.exceptions

    modules: list[Any] = [click.exceptions]
    try:
        import typer._click.exceptions as vendored  # typer >= 0.20 ships its own click

        modules.append(vendored)
    except ImportError:
        pass
    return modules


def _suggest_command(message: str) -> str:
    """'No such command' messages gain the nearest command names."""
    import difflib

    if "No such command" not in message or "Did you mean" in message:
        return ""
    wrong = message.split("'")[1] if "'" in message else ""
    names = [c.name for c in app.registered_commands if c.name] + [
        c.callback.__name__ for c in app.registered_commands if c.callback and not c.name
    ]
    names += [g.name for g in app.registered_groups if g.name]
    close = difflib.get_close_matches(wrong, names, n=3, cutoff=0.5)
    return (
        f" Did you mean: {', '.join(close)}?"
        if close
        else f" Commands: {', '.join(sorted(names))}."
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``neco`` command; returns the exit code.

    0 success; 2 a user error (bad input, an unknown option or command: one message, no
    traceback); 1 a bug in neco, with its traceback.
    """
    modules = _click_exceptions()
    import typer.exceptions

    exit_types = (typer.Exit, *(m.Exit for m in modules if hasattr(m, "Exit")))
    abort_types = (typer.Abort, *(m.Abort for m in modules if hasattr(m, "Abort")))
    usage_types = tuple(m.UsageError for m in modules)
    click_types = tuple(m.ClickException for m in modules)
    try:
        app(args=argv, prog_name="neco", standalone_mode=False)
    except NecoError as exc:
        err.print(f"[bold red]error:[/bold red] {escape(str(exc))}", highlight=False)
        return exc.exit_code
    except exit_types as exc:
        return int(getattr(exc, "exit_code", 0) or 0)
    except usage_types as exc:
        ctx = getattr(exc, "ctx", None)
        if ctx is not None:
            err.print(escape(ctx.get_usage()), highlight=False)
            err.print(f"Try '{ctx.command_path} --help' for help.", highlight=False)
        message = exc.format_message() + _suggest_command(exc.format_message())
        err.print(f"[bold red]error:[/bold red] {escape(message)}", highlight=False)
        return 2
    except click_types as exc:
        err.print(f"[bold red]error:[/bold red] {escape(exc.format_message())}", highlight=False)
        return 2
    except abort_types:
        err.print("aborted")
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


def run() -> None:
    """Console-script wrapper around :func:`main`."""
    sys.exit(main())
