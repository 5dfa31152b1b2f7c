"""Discourse views on a hand-made forum with known depths, threads and authors."""

from __future__ import annotations

import pandas as pd

from neco.social.discourse import discourse


def test_discourse_threads_depths_and_author_graph():
    frame = pd.DataFrame({
        "id": ["p1", "p2", "p3", "p4", "q1", "q2", "solo"],
        "community": ["forum"] * 6 + ["news"],
        "parent_id": [None, "p1", "p2", "p1", None, "q1", None],
        "thread_id": ["T1", "T1", "T1", "T1", None, None, None],
        "author": ["ana", "ben", "ana", "cy", "ben", None, "dee"],
    })  # fmt: skip
    d = discourse(frame)
    assert sorted(d.replies.edges()) == [("p2", "p1"), ("p3", "p2"), ("p4", "p1"), ("q2", "q1")]
    assert "solo" not in d.replies  # no reply links: not part of the discourse graph
    assert d.replies.nodes["p3"]["depth"] == 2
    assert d.replies.nodes["p1"]["replies"] == 2
    threads = d.threads.set_index("thread_id")
    assert threads.loc["T1", ["root", "size", "depth", "authors"]].tolist() == ["p1", 4, 2, 3]
    assert threads.loc["q1", ["root", "size", "depth", "authors"]].tolist() == ["q1", 2, 1, 1]
    assert sorted(d.authors.edges(data="weight")) == [
        ("ana", "ben", 1), ("ben", "ana", 1), ("cy", "ana", 1),
    ]  # fmt: skip
