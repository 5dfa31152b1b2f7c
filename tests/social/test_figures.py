"""Static vocabulary figures (neco.social.figures) from hand-made keyness tables."""

from __future__ import annotations

import sys

import pandas as pd
import pyarrow as pa
import pytest

from neco.errors import MissingDependencyError, NecoError
from neco.social import figures


def _keyness(rows: list[tuple[str, str, str, int, int, float]]) -> pa.Table:
    frame = pd.DataFrame(
        rows, columns=["community", "reference", "term", "count", "rest_count", "logodds_z"]
    )
    frame["doc_count"] = frame["count"]
    frame["g2"] = frame["logodds_z"].abs()
    table = pa.Table.from_pandas(frame, preserve_index=False)
    return table.replace_schema_metadata({b"unit": b"lemma"})


ONE = _keyness([
    ("museum", "news", "carved", 40, 2, 5.2),
    ("museum", "news", "oil & canvas", 30, 1, 4.8),
    ("museum", "news", "<bronze>", 12, 0, 3.1),
    ("museum", "news", "photo", 20, 22, -0.2),
    ("museum", "news", "minister", 1, 35, -4.4),
    ("museum", "news", "police", 0, 18, -3.9),
])  # fmt: skip


def test_figures_scatter_svg_has_escaped_labels_and_axis_titles(tmp_path):
    path = figures.vocabulary_figure(ONE, tmp_path / "museum.svg", labels=2)
    svg = path.read_text(encoding="utf-8")
    assert svg.startswith("<svg")
    assert "carved" in svg and "oil &amp; canvas" in svg  # two most distinctive of museum
    assert "minister" in svg and "police" in svg  # and of the reference
    assert "&lt;bronze&gt;" not in svg  # the third is not labelled
    assert "news, per 10,000 terms" in svg and "museum, per 10,000 terms" in svg
    assert "museum vs news (lemmas)" in svg


def test_figures_scatter_points_rates_and_zero_floor():
    points = figures.scatter_points(ONE.to_pandas(), labels=1).set_index("term")
    # museum counts 103 terms, news 78: carved is 40 / 103 per 10,000 on the community side
    assert points.loc["carved", "rate"] == pytest.approx(40 / 103 * 10_000)
    assert points.loc["carved", "rest_rate"] == pytest.approx(2 / 78 * 10_000)
    # police is never used by museum: drawn at a count between 0.5 and 0.8
    assert 0.5 / 103 * 10_000 <= points.loc["police", "rate"] <= 0.8 / 103 * 10_000
    assert points.loc["police", "zero"] == "community"
    assert points.loc["<bronze>", "zero"] == "reference"
    assert set(points.loc[points["label"] != "", "label"]) == {"carved", "minister"}


def test_figures_bars_for_several_communities_png_and_frequency_lists(tmp_path):
    three = _keyness([
        ("a", "rest", "kite", 9, 1, 3.0), ("a", "rest", "dune", 5, 1, 2.0),
        ("b", "rest", "heron", 7, 0, 2.5), ("c", "rest", "rain", 6, 2, 1.5),
    ])  # fmt: skip
    svg = figures.vocabulary_figure(three, tmp_path / "bars.svg", top=1).read_text()
    assert "kite" in svg and "heron" in svg and "rain" in svg and "dune" not in svg
    assert "Top lemmas by log-odds z" in svg
    png = figures.vocabulary_figure(three, tmp_path / "bars.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    freq = pa.table({"community": ["a", "a"], "term": ["kite", "dune"], "count": [9, 5],
                     "doc_count": [3, 5]})  # fmt: skip
    svg = figures.vocabulary_figure(freq, tmp_path / "freq.svg").read_text()
    assert "Top terms by count" in svg and "kite" in svg


def test_figures_errors(tmp_path, monkeypatch):
    with pytest.raises(NecoError, match=r"--plot must end in \.svg, \.png. Got 'f.pdf'"):
        figures.vocabulary_figure(ONE, tmp_path / "f.pdf")
    with pytest.raises(NecoError, match="Nothing to draw"):
        figures.vocabulary_figure(ONE.slice(0, 0), tmp_path / "f.svg")
    # as if vl-convert were not installed: importing it fails
    monkeypatch.setitem(sys.modules, "vl_convert", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'neco\[dashboard\]'"):
        figures.vocabulary_figure(ONE, tmp_path / "f.svg")
