"""The ``neco`` command line.

Exit codes: 0 success, 1 a bug in neco (with its traceback), 2 a user error (bad input,
missing file or dependency; printed as one message, no traceback).
"""

from __future__ import annotations

import csv
import json
import sys
import tomllib
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
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
    out.print("Stages run: " + (", ".join(info["stages"]) or "none"))


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
    from neco.corpus.sources import SourceSpec
    from neco.workspace import Workspace

    columns = {
        role: value
        for role, value in (
            ("text", text_col),
            ("id", id_col),
            ("community", community_col),
            ("parent", parent_col),
            ("thread", thread_col),
            ("author", author_col),
            ("timestamp", time_col),
            ("image", image_col),
            ("lang", lang_col),
        )
        if value
    }
    specs = [
        SourceSpec(
            path,
            format=format,
            community=community,
            columns=columns,
            encoding=encoding,
            delimiter=_delimiter(delimiter),
            lang=lang,
            id_prefix=id_prefix,
            na_values=tuple(na_value),
            dialog_rows=dialog_rows,
            header=not no_header,
            image_root=image_root,
        )
        for path in sources
    ]
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


def _delimiter(value: str | None) -> str | None:
    if value is None:
        return None
    named = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
    value = named.get(value, value)
    if len(value) != 1:
        raise SourceError(
            f"--delimiter must be one character (or tab, comma, semicolon, pipe). Got {value!r}."
        )
    return value


def read_recipe(path: Path) -> list[Any]:
    """Sources listed in a TOML recipe; paths are relative to the recipe's folder.

    Each ``[[source]]`` table takes the fields of :class:`neco.corpus.SourceSpec`.
    """
    from neco.corpus.sources import SourceSpec

    if not path.exists():
        raise SourceError(f"Recipe not found: {path}.")
    try:
        recipe = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SourceError(f"{path} is not valid TOML: {exc}") from exc
    entries = recipe.get("source")
    if not isinstance(entries, list) or not entries:
        raise SourceError(f"{path} lists no sources: expected one or more [[source]] tables.")
    allowed = set(SourceSpec.__dataclass_fields__)
    specs = []
    for n, entry in enumerate(entries, start=1):
        unknown = sorted(set(entry) - allowed)
        if unknown or "path" not in entry:
            raise SourceError(
                f"{path}, source {n}: expected the keys {sorted(allowed)} (path required); "
                f"found {sorted(entry)}."
            )
        entry = dict(entry)
        entry["path"] = path.parent / entry["path"]
        entry["na_values"] = tuple(entry.get("na_values", ()))
        specs.append(SourceSpec(**entry))
    return specs


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
    from neco.workspace import Workspace

    summary = Workspace(workspace).summary()
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
) -> None:
    """Run SQL through DuckDB over the workspace (views: corpus, rejected, ...)."""
    from neco.workspace import Workspace

    result = Workspace(workspace).sql(query)
    if as_csv:
        writer = csv.writer(sys.stdout)
        writer.writerow(result.column_names)
        for row in zip(
            *(result.column(i).to_pylist() for i in range(result.num_columns)), strict=True
        ):
            writer.writerow(["" if v is None else v for v in row])
        return
    if as_json:
        print(json.dumps(result.to_pylist(), indent=2, ensure_ascii=False, default=str))
        return
    table = Table(show_lines=False)
    for name in result.column_names:
        table.add_column(name, overflow="fold")
    for row in result.slice(0, limit).to_pylist():
        table.add_row(*("" if v is None else str(v) for v in row.values()))
    out.print(table)
    if result.num_rows > limit:
        out.print(
            f"[dim]{result.num_rows - limit:,} more rows; use --limit, --csv or --json.[/dim]"
        )


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
    for stage in result["stages"]:
        mark = "[green]ran[/green]" if stage["status"] == "ran" else "[yellow]skipped[/yellow]"
        out.print(f"stage {stage['name']}: {mark} — {stage['detail']}")
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


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``neco`` command; returns the exit code."""
    import click

    try:
        app(args=argv, standalone_mode=False)
    except NecoError as exc:
        err.print(f"[bold red]error:[/bold red] {exc}", highlight=False)
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return int(exc.exit_code or 0)
    except click.ClickException as exc:
        exc.show()
        return 2
    except click.exceptions.Abort:
        err.print("aborted")
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


def run() -> None:
    """Console-script wrapper around :func:`main`."""
    sys.exit(main())
