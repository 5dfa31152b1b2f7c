"""Static figures of vocabularies for papers: ``neco vocab --plot FILE.svg|png``.

Two figures, chosen by what the table compares (:func:`vocabulary_figure`):

- **one comparison** (a community against the rest or against another community; also the
  two communities of a two-community corpus, whose two rows mirror each other): a
  log-log scatter of every term's frequency in the reference (x) and in the community (y),
  per 10,000 counted terms, in the manner of scattertext (Kessler 2017) but static. The
  diagonal is equal frequency; terms above it are the community's. Colour is the log-odds z
  (Monroe et al. 2008), clipped at ±4, and the ``labels`` most distinctive terms of each
  side are written beside their points. A term one side never uses has no place on a log
  axis: it is drawn at a count of 0.5 to 0.8 (spread by a hash of the term so that such
  terms can be told apart), at the axis's low edge.
- **several communities**, or a frequency list (``--freq``): a bar chart of each community's
  ``top`` terms, by log-odds z (keyness) or by count (frequency list), one panel per
  community in the table's order.

Charts are Vega-Lite (Altair) rendered offline by vl-convert, both in the ``dashboard``
extra; a PNG is drawn at twice the nominal size (for print).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from neco._lazy import require
from neco.errors import NecoError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

FIGURE_SUFFIXES = (".svg", ".png")
#: z beyond which colours saturate: one community's own language (z of 20 or more) would
#: otherwise wash out every other term.
Z_CLIP = 4.0
_FONT = "Helvetica, Arial, sans-serif"
#: Width and height of the scatter's plotting area, in pixels.
SIZE = 460


def check_figure_path(path: str | Path) -> Path:
    """``path`` if it ends in a suffix :func:`save_chart` writes; else a clear error."""
    path = Path(path)
    if path.suffix.lower() not in FIGURE_SUFFIXES:
        raise NecoError(f"--plot must end in {', '.join(FIGURE_SUFFIXES)}. Got {path.name!r}.")
    return path


def scatter_points(frame: pd.DataFrame, per_panel: int = 600, labels: int = 6) -> pd.DataFrame:
    """Points of the term-frequency scatter: for each comparison (community against its
    reference), the ``per_panel`` most frequent terms with their frequency per 10,000
    counted terms on both sides (``rate``, ``rest_rate``), a ``label`` for the ``labels``
    most distinctive terms of the community and as many of the reference, ``panel``
    ("a vs rest") and ``zero`` (which side never uses the term, if one).
    """
    import pandas as pd

    if frame.empty:
        return frame.assign(rate=[], rest_rate=[], label=[], panel=[], zero=[])

    def floor(terms: pd.Series, counts: pd.Series) -> np.ndarray:
        digests = [hashlib.md5(str(t).encode(), usedforsecurity=False).hexdigest() for t in terms]
        spread = np.array([int(d[:6], 16) for d in digests], dtype=float) / 0xFFFFFF
        return np.where(counts > 0, counts, 0.5 + 0.3 * spread)

    parts = []
    for (community, reference), group in frame.groupby(["community", "reference"], sort=False):
        n_focus = max(float(group["count"].sum()), 1.0)
        n_rest = max(float(group["rest_count"].sum()), 1.0)
        total = group["count"] + group["rest_count"]
        top = group.loc[total.sort_values(ascending=False, kind="stable").index[:per_panel]]
        zero = np.where(
            top["rest_count"] == 0, "reference", np.where(top["count"] == 0, "community", "")
        )
        top = top.assign(
            rate=floor(top["term"], top["count"]) / n_focus * 10_000,
            rest_rate=floor(top["term"], top["rest_count"]) / n_rest * 10_000,
            panel=f"{community} vs {reference}",
            zero=zero,
        )
        ends = set(top[top["logodds_z"] > 0].nlargest(labels, "logodds_z")["term"]) | set(
            top[top["logodds_z"] < 0].nsmallest(labels, "logodds_z")["term"]
        )
        top["label"] = top["term"].where(top["term"].isin(ends), "")
        parts.append(top)
    return pd.concat(parts, ignore_index=True)


def _comparisons(frame: pd.DataFrame) -> list[tuple[str, str]]:
    pairs = frame[["community", "reference"]].drop_duplicates()
    return [(str(c), str(r)) for c, r in pairs.itertuples(index=False)]


def scatter_chart(frame: pd.DataFrame, *, labels: int = 8, title: str | None = None) -> Any:
    """The scatter of one comparison (the first of ``frame``); see the module doc."""
    alt = require("altair", "dashboard")
    community, reference = _comparisons(frame)[0]
    one = frame[(frame["community"] == community) & (frame["reference"] == reference)]
    points = scatter_points(one, per_panel=2000, labels=labels)
    points = points.assign(z=points["logodds_z"].clip(-Z_CLIP, Z_CLIP))
    other = "the other communities" if reference == "rest" else reference
    x_title = f"{other}, per 10,000 terms"
    y_title = f"{community}, per 10,000 terms"
    low = float(min(points["rate"].min(), points["rest_rate"].min()))
    high = float(max(points["rate"].max(), points["rest_rate"].max()))
    domain = [low * 0.8, high * 1.25]
    points["label"] = _without_overlaps(points, domain, SIZE)
    scale = alt.Scale(type="log", domain=domain, nice=False)
    base = alt.Chart(points).encode(
        x=alt.X("rest_rate:Q", scale=scale, title=x_title),
        y=alt.Y("rate:Q", scale=scale, title=y_title),
    )
    dots = base.mark_circle(size=22, opacity=0.75).encode(
        color=alt.Color(
            "z:Q",
            scale=alt.Scale(scheme="redblue", domain=[-Z_CLIP, Z_CLIP], reverse=True),
            title=["log-odds z", f"(clipped at ±{Z_CLIP:g})"],
        )
    )
    marked = base.transform_filter(alt.datum.label != "")
    rings = marked.mark_circle(size=40, fill=None, stroke="black", strokeWidth=0.8)
    texts = marked.mark_text(align="left", dx=6, dy=-4, fontSize=11, font=_FONT).encode(
        text="label:N"
    )
    diagonal = (
        alt.Chart(_diagonal(domain))
        .mark_line(color="#888", strokeDash=[4, 4], strokeWidth=1)
        .encode(x="x:Q", y="y:Q")
    )
    heading = alt.TitleParams(
        title or f"{community} vs {other} ({_unit(frame)})",
        subtitle=[
            f"Each point is one of the {_unit(frame)}; dashed: equal frequency. A term one side",
            "never uses is drawn at 0.5 to 0.8 occurrences there. Labelled: the most distinctive.",
        ],
        subtitleColor="#555",
    )
    return (
        alt.layer(diagonal, dots, rings, texts)
        .properties(width=SIZE, height=SIZE, title=heading)
        .configure_axis(labelFont=_FONT, titleFont=_FONT, titleFontSize=13, labelFontSize=11)
        .configure_title(font=_FONT, subtitleFont=_FONT, fontSize=15, anchor="start")
        .configure_legend(labelFont=_FONT, titleFont=_FONT)
        .configure_view(stroke=None)
    )


def _without_overlaps(points: pd.DataFrame, domain: list[float], size: int) -> np.ndarray:
    """The labels that fit: from the most distinctive (largest |z|) down, a label is kept
    when its box (about 6.5 px a character by 13 px, right of its point) overlaps no label
    kept before; a static figure cannot move labels apart on hover."""
    lo, hi = np.log10(domain[0]), np.log10(domain[1])
    x = (np.log10(points["rest_rate"].to_numpy()) - lo) / (hi - lo) * size + 6
    y = size - (np.log10(points["rate"].to_numpy()) - lo) / (hi - lo) * size - 4
    labels = points["label"].to_numpy(dtype=object).copy()
    placed: list[tuple[float, float, float, float]] = []
    for i in np.argsort(-points["logodds_z"].abs().to_numpy(), kind="stable"):
        if not labels[i]:
            continue
        box = (x[i], y[i] - 13, x[i] + 6.5 * len(str(labels[i])), y[i])
        if any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in placed):
            labels[i] = ""
        else:
            placed.append(box)
    return labels


def _diagonal(domain: list[float]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame({"x": domain, "y": domain})


def _unit(frame: pd.DataFrame) -> str:
    return str(frame.attrs.get("unit", "terms"))


def bar_chart(
    frame: pd.DataFrame, *, top: int = 15, value: str = "logodds_z", title: str | None = None
) -> Any:
    """Each community's ``top`` terms as horizontal bars of ``value``, a panel per community
    in the table's order."""
    alt = require("altair", "dashboard")
    order = list(dict.fromkeys(frame["community"].astype(str)))
    shown = frame.groupby("community", sort=False).head(top).copy()
    shown["community"] = shown["community"].astype(str)
    value_title = {"logodds_z": "log-odds z", "count": "count", "doc_count": "captions"}
    chart = (
        alt.Chart(shown)
        .mark_bar(color="#4c78a8")
        .encode(
            x=alt.X(f"{value}:Q", title=value_title.get(value, value)),
            y=alt.Y(
                "term:N",
                sort=alt.EncodingSortField(field=value, order="descending"),
                title=None,
            ),
        )
        .properties(width=180, height=alt.Step(14))
        .facet(
            facet=alt.Facet("community:N", sort=order, title=None),
            columns=min(len(order), 4),
        )
        .resolve_scale(y="independent", x="independent")
        .properties(title=title or f"Top {_unit(frame)} by {value_title.get(value, value)}")
    )
    return (
        chart.configure_axis(labelFont=_FONT, titleFont=_FONT, labelFontSize=11)
        .configure_header(labelFont=_FONT, labelFontSize=13)
        .configure_title(font=_FONT, fontSize=15, anchor="start")
        .configure_view(stroke=None)
    )


def save_chart(chart: Any, path: str | Path) -> Path:
    """Write an Altair chart as SVG or PNG (by suffix) with vl-convert, offline."""
    path = check_figure_path(path)
    vl_convert = require("vl_convert", "dashboard")
    spec = chart.to_json()
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".svg":
        path.write_text(vl_convert.vegalite_to_svg(spec), encoding="utf-8")
    else:
        path.write_bytes(vl_convert.vegalite_to_png(spec, scale=2))
    return path


def vocabulary_figure(
    table: pa.Table | pd.DataFrame, path: str | Path, *, top: int = 15, labels: int = 8
) -> Path:
    """The figure of a ``neco vocab`` table (keyness or ``--freq``), written to ``path``.

    A keyness table of one comparison gives the scatter, of several the bar chart of
    log-odds z; a frequency list gives the bar chart of counts (module doc).
    """
    import pyarrow as pa

    path = check_figure_path(path)
    if isinstance(table, pa.Table):
        unit = (table.schema.metadata or {}).get(b"unit", b"terms").decode()
        frame = table.to_pandas()
    else:
        frame, unit = table, str(table.attrs.get("unit", "terms"))
    frame.attrs["unit"] = f"{unit}s" if unit != "terms" else unit
    if frame.empty:
        raise NecoError("Nothing to draw: the table has no terms (lower --min-count?).")
    if "reference" not in frame:
        return save_chart(bar_chart(frame, top=top, value="count"), path)
    pairs = _comparisons(frame)
    mirrored = (
        len(pairs) == 2
        and all(ref == "rest" for _, ref in pairs)
        and frame["rest_count"].sum() > 0
        and _two_communities_only(frame)
    )
    if len(pairs) == 1 or mirrored:
        return save_chart(scatter_chart(frame, labels=labels), path)
    return save_chart(bar_chart(frame, top=top), path)


def _two_communities_only(frame: pd.DataFrame) -> bool:
    """Whether "rest" of each of the two communities is the other one (their totals agree)."""
    totals = frame.groupby("community", sort=False)[["count", "rest_count"]].sum()
    first, second = totals.index[:2]
    return bool(
        totals.loc[first, "count"] == totals.loc[second, "rest_count"]
        and totals.loc[second, "count"] == totals.loc[first, "rest_count"]
    )
