"""The survival report: the ledger as a document a reader can check (HTML or Markdown).

For each stage: which communities keep most and least (with values, intervals and the null
level), a plot of the communities side by side, the captions that illustrate it, and the rows
that could not be measured with their reasons. Rows from random-weight components are
labelled "mechanics only" everywhere. The HTML file is self-contained (inline SVG, no
scripts, no remote resources) and escapes every caption, community and file name.

>>> import pandas as pd
>>> svg = interval_plot(pd.DataFrame({"community": ["a<b>", "c"], "value": [0.5, 0.8],
...     "low": [0.4, 0.7], "high": [0.6, 0.9], "null_mean": [0.1, 0.1]}), "mutual_knn")
>>> "a&lt;b&gt;" in svg and "<script" not in svg
True
"""

from __future__ import annotations

import datetime as dt
import html
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from neco.errors import NecoError

if TYPE_CHECKING:
    from neco.workspace import Workspace

MECHANICS = (
    "mechanics only (random weights): shows the measurement works, not what a real model does"
)

STAGE_TITLES = {
    "tokens": "CLIP tokenizer: the 77-token window and BPE fragmentation",
    "text": "CLIP text encoder: do neighbourhoods of captions survive?",
    "relations": "Relations: can the encoder tell a relation from its swap?",
    "latents": "VAE latents: what the image round trip keeps",
    "attention": "U-Net cross-attention: which words are heard",
    "guidance": "Classifier-free guidance: diversity as the scale grows",
}
HIGHER_IS_MORE_LOSS = {"truncation_rate", "pieces_per_word", "neglected_rate", "gini"}


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _fmt(x: Any, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return str(x)


def interval_plot(rows: pd.DataFrame, metric: str, width: int = 560) -> str:
    """An inline SVG: one line per community, its value as a dot, the interval as a bar and
    the null mean as a grey tick."""
    rows = rows.reset_index(drop=True)
    values = pd.concat(
        [rows[c] for c in ("value", "low", "high", "null_mean") if c in rows.columns]
    ).astype(float)
    values = values[np.isfinite(values)]
    if values.empty:
        return ""
    lo, hi = float(values.min()), float(values.max())
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    pad = (hi - lo) * 0.05
    lo, hi = lo - pad, hi + pad
    left, right, row_h = 170, 20, 22
    height = 30 + row_h * len(rows)

    def x(v: float) -> float:
        return left + (v - lo) / (hi - lo) * (width - left - right)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="{_e(metric)} by community">',
        f'<text x="{left}" y="14" font-size="11" fill="#555">{_e(metric)}: dot = value, '
        "bar = 95% interval, grey tick = null mean</text>",
    ]
    for i, row in rows.iterrows():
        y = 30 + row_h * int(str(i)) + row_h / 2
        parts.append(
            f'<text x="{left - 8}" y="{y + 4}" font-size="12" text-anchor="end">'
            f"{_e(row['community'])}</text>"
        )
        low, high = row.get("low"), row.get("high")
        if low is not None and high is not None and np.isfinite(low) and np.isfinite(high):
            parts.append(
                f'<line x1="{x(low):.1f}" x2="{x(high):.1f}" y1="{y}" y2="{y}" '
                'stroke="#4c78a8" stroke-width="3"/>'
            )
        null = row.get("null_mean")
        if null is not None and np.isfinite(null):
            parts.append(
                f'<line x1="{x(null):.1f}" x2="{x(null):.1f}" y1="{y - 7}" y2="{y + 7}" '
                'stroke="#999" stroke-width="2"/>'
            )
        if np.isfinite(row["value"]):
            parts.append(f'<circle cx="{x(row["value"]):.1f}" cy="{y}" r="4" fill="#e45756"/>')
    parts.append(
        f'<text x="{left}" y="{height - 2}" font-size="10" fill="#777">{lo:.3g}</text>'
        f'<text x="{width - right}" y="{height - 2}" font-size="10" fill="#777" '
        f'text-anchor="end">{hi:.3g}</text></svg>'
    )
    return "".join(parts)


def _findings(stage_rows: pd.DataFrame) -> list[str]:
    """Sentences: which community keeps most and least, per metric (measured rows only)."""
    out = []
    for (metric, reference, representation), group in stage_rows.groupby(
        ["metric", "reference", "representation"], sort=False
    ):
        group = group[(group["community"] != "all") & group["value"].notna()]
        if len(group) < 2:
            continue
        ordered = group.sort_values("value", ascending=metric in HIGHER_IS_MORE_LOSS)
        best, worst = ordered.iloc[0], ordered.iloc[-1]

        def say(row: pd.Series) -> str:
            interval = f" [{_fmt(row['low'])}, {_fmt(row['high'])}]" if pd.notna(row["low"]) else ""
            null = f", null {_fmt(row['null_mean'])}" if pd.notna(row["null_mean"]) else ""
            return f"{row['community']} {_fmt(row['value'])}{interval}{null}"

        out.append(
            f"{metric} ({reference} vs {representation}): keeps most — {say(best)}; "
            f"keeps least — {say(worst)}."
        )
    return out


def _cross_community(ledger: pd.DataFrame) -> list[str]:
    """Across communities (small n: read as a pattern to check, not a test)."""
    from scipy.stats import spearmanr

    out = []
    frag = ledger[(ledger["metric"] == "pieces_per_word") & (ledger["community"] != "all")]
    for metric in ("edge_survival", "mutual_knn"):
        other = ledger[
            (ledger["metric"] == metric) & (ledger["community"] != "all") & ledger["value"].notna()
        ]
        if other.empty:
            continue
        kept = other.groupby("community")["value"].first()
        joined = (
            frag.set_index("community")["value"]
            .to_frame("frag")
            .join(kept.to_frame("kept"), how="inner")
        )
        if len(joined) >= 3:
            rho, p = spearmanr(joined["frag"], joined["kept"])
            out.append(
                f"BPE fragmentation (pieces per word) vs {metric}: Spearman ρ = {rho:.2f} over "
                f"{len(joined)} communities (p = {p:.2f}; with so few communities this is a "
                "pattern to check on more corpora, not a test)."
            )
    probes = ledger[(ledger["stage"] == "relations") & ledger["value"].notna()]
    if not probes.empty:
        kind = probes["reference"].str.removeprefix("relation ")
        relational = probes[kind.isin(["svo", "prep"])]
        attributive = probes[kind == "amod"]
        if len(relational) and len(attributive):
            column = "calibrated" if probes["calibrated"].notna().any() else "value"
            out.append(
                f"Relational swaps (svo, prep) mean {column} {relational[column].mean():.3f} vs "
                f"attributive (amod) {attributive[column].mean():.3f} "
                f"({len(relational)} and {len(attributive)} community rows)."
            )
    return out


def build_report(ws: Workspace, *, title: str | None = None) -> dict[str, Any]:
    """The report's content as data (used by both writers)."""
    if "survival/ledger" not in ws.require().tables():
        raise NecoError(
            f"The workspace {ws.path} has no ledger yet. Run: neco survival -w {ws.path}"
        )
    from neco.stages import stale_tables

    ledger = ws.read_table("survival/ledger").to_pandas()
    examples = ws.read_table("survival/examples").to_pandas()
    stale = stale_tables(ws, ["survival/ledger"])
    sections = []
    for stage in [s for s in STAGE_TITLES if s in set(ledger["stage"])]:
        rows = ledger[ledger["stage"] == stage]
        measured = rows[rows["status"] == "measured"]
        sections.append(
            {
                "stage": stage,
                "title": STAGE_TITLES[stage],
                "mechanics_only": bool(measured["mechanics_only"].any()),
                "findings": _findings(measured),
                "measured": measured,
                "not_measured": rows[rows["status"] != "measured"],
                "examples": examples[examples["stage"] == stage].head(12),
            }
        )
    return {
        "title": title or f"neco survival report — {ws.path.name}",
        "workspace": str(ws.path),
        "made": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "stale": stale,
        "sections": sections,
        "across": _cross_community(ledger),
        "ledger": ledger,
    }


def _plots(measured: pd.DataFrame) -> list[tuple[str, str]]:
    out = []
    for (metric, reference, representation), group in measured.groupby(
        ["metric", "reference", "representation"], sort=False
    ):
        if len(group) < 2 and (group["community"] == "all").all():
            continue
        label = f"{metric} — {reference} vs {representation}"
        out.append((label, interval_plot(group, str(metric))))
    return out


def write_html(report: dict[str, Any], path: Path) -> Path:
    """A self-contained HTML file (inline SVG, no scripts)."""
    e = _e
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{e(report['title'])}</title>",
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
        "style-src 'unsafe-inline'; img-src data:\">",
        "<style>body{font-family:system-ui,sans-serif;max-width:60em;margin:2em auto;"
        "line-height:1.45;color:#222}table{border-collapse:collapse;font-size:.9em}"
        "td,th{border:1px solid #ddd;padding:.25em .5em;text-align:left}"
        ".mech{background:#fff3cd;border:1px solid #e0c46c;padding:.3em .6em}"
        ".stale{background:#f8d7da;padding:.3em .6em}.muted{color:#666}</style></head><body>",
        f"<h1>{e(report['title'])}</h1>",
        f"<p class='muted'>Workspace {e(report['workspace'])}; made {e(report['made'])} by neco. "
        "Every score: value, 95% bootstrap interval, permutation-null mean where one applies "
        "(a score without its null is descriptive, not a finding).</p>",
    ]
    if report["stale"]:
        parts.append(
            "<p class='stale'>Stale: "
            + e("; ".join(f"{k}: {v}" for k, v in report["stale"].items()))
            + " — rerun neco survival.</p>"
        )
    for section in report["sections"]:
        parts.append(f"<h2>{e(section['title'])}</h2>")
        if section["mechanics_only"]:
            parts.append(f"<p class='mech'>{e(MECHANICS)}</p>")
        if section["findings"]:
            parts.append(
                "<ul>" + "".join(f"<li>{e(f)}</li>" for f in section["findings"]) + "</ul>"
            )
        for label, svg in _plots(section["measured"]):
            parts.append(f"<h3>{e(label)}</h3>{svg}")
        if len(section["examples"]):
            parts.append(
                "<h3>Captions behind it</h3><table><tr><th>community</th><th>caption</th>"
                "<th>what</th></tr>"
            )
            for row in section["examples"].itertuples():
                parts.append(
                    f"<tr><td>{e(row.community)}</td><td>{e(row.text)}</td>"
                    f"<td>{e(row.detail)}</td></tr>"
                )
            parts.append("</table>")
        if len(section["not_measured"]):
            parts.append("<h3>Not measured</h3><ul>")
            for row in section["not_measured"].itertuples():
                parts.append(f"<li>{e(row.metric)} ({e(row.community)}): {e(row.reason)}</li>")
            parts.append("</ul>")
    if report["across"]:
        parts.append("<h2>Across communities</h2><ul>")
        parts += [f"<li>{e(line)}</li>" for line in report["across"]]
        parts.append("</ul>")
    parts.append("<h2>The ledger</h2><table><tr>")
    columns = [
        "stage",
        "metric",
        "community",
        "reference",
        "representation",
        "value",
        "low",
        "high",
        "null_mean",
        "calibrated",
        "n_items",
        "status",
        "mechanics_only",
    ]
    parts += [f"<th>{e(c)}</th>" for c in columns]
    parts.append("</tr>")
    for row in report["ledger"][columns].itertuples(index=False):
        parts.append("<tr>" + "".join(f"<td>{e(_fmt(v))}</td>" for v in row) + "</tr>")
    parts.append("</table></body></html>")
    path.write_text("".join(parts), encoding="utf-8")
    return path


def _md(value: Any) -> str:
    text = str(value).replace("\n", " ")
    for ch in "\\`*_[]<>|":
        text = text.replace(ch, "\\" + ch)
    return text


def write_markdown(report: dict[str, Any], path: Path) -> Path:
    """The same report as Markdown (tables; plots are left to the HTML version)."""
    lines = [
        f"# {_md(report['title'])}",
        "",
        f"Workspace `{report['workspace']}`, made {report['made']}.",
        "",
    ]
    if report["stale"]:
        lines += [f"**Stale:** {_md(report['stale'])}", ""]
    for section in report["sections"]:
        lines += [f"## {_md(section['title'])}", ""]
        if section["mechanics_only"]:
            lines += [f"> **{MECHANICS}**", ""]
        lines += [f"- {_md(f)}" for f in section["findings"]] + [""]
        for row in section["not_measured"].itertuples():
            lines.append(f"- not measured: {_md(row.metric)} — {_md(row.reason)}")
        for row in section["examples"].itertuples():
            lines.append(f"- *{_md(row.community)}*: {_md(row.text)} — {_md(row.detail)}")
        lines.append("")
    if report["across"]:
        lines += ["## Across communities", ""] + [f"- {_md(x)}" for x in report["across"]] + [""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def write_report(ws: Workspace, out: str | Path) -> Path:
    """Write the report to ``out`` (``.html`` or ``.md``)."""
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in (".html", ".htm", ".md"):
        raise NecoError(f"--out must end in .html or .md. Got {out.name!r}.")
    report = build_report(ws)
    out.parent.mkdir(parents=True, exist_ok=True)
    return write_markdown(report, out) if suffix == ".md" else write_html(report, out)
