"""The discourse graph: who replies to whom, in which threads.

Three views of the reply links kept by ingestion (dangling links and cycles were already
repaired there):

- the caption reply graph (directed, reply -> the caption it answers), with each caption's
  community, author, thread, depth (0 for a thread's root) and number of direct replies;
- one row per thread: root, size, depth, number of authors and communities;
- the author graph (directed, replier -> replied-to author, weight = number of replies),
  when authors are known.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np
import pandas as pd


@dataclass
class Discourse:
    """Reply graph of captions, thread table and author graph."""

    replies: nx.DiGraph
    threads: pd.DataFrame
    authors: nx.DiGraph


def _depths(ids: np.ndarray, parents: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Depth of each caption in its reply tree (root 0) and the id of its root."""
    index = {caption: i for i, caption in enumerate(ids)}
    depth = np.full(len(ids), -1, dtype=np.int64)
    roots = np.empty(len(ids), dtype=object)
    for start in range(len(ids)):
        path = []
        i: int | None = start
        while i is not None and depth[i] < 0:
            path.append(i)
            parent = parents[i]
            i = index.get(parent) if isinstance(parent, str) else None
        base = -1 if i is None else int(depth[i])
        root = ids[path[-1]] if i is None else roots[i]
        for step, j in enumerate(reversed(path), start=1):
            depth[j] = base + step
            roots[j] = root
    return depth, roots


def discourse(corpus: pd.DataFrame) -> Discourse:
    """Build the discourse views from a corpus frame (``id``, ``community``, ``parent_id``,
    ``thread_id``, ``author``).

    >>> frame = pd.DataFrame({"id": ["a", "b", "c"], "community": ["f"] * 3,
    ...     "parent_id": [None, "a", "b"], "thread_id": ["t", "t", "t"],
    ...     "author": ["ana", "ben", "ana"]})
    >>> d = discourse(frame)
    >>> sorted(d.replies.edges()), d.threads["depth"].tolist()
    ([('b', 'a'), ('c', 'b')], [2])
    >>> sorted(d.authors.edges(data="weight"))
    [('ana', 'ben', 1), ('ben', 'ana', 1)]
    """
    frame = corpus[["id", "community", "parent_id", "thread_id", "author"]].copy()
    frame = frame.astype(object).where(frame.notna(), None)
    linked = frame[frame["parent_id"].notna() | frame["id"].isin(set(frame["parent_id"]))]
    ids = linked["id"].to_numpy()
    parents = linked["parent_id"].to_numpy()
    depth, roots = _depths(ids, parents)
    linked = linked.assign(thread_id=linked["thread_id"].where(linked["thread_id"].notna(), roots))
    replies = nx.DiGraph()
    n_replies = linked["parent_id"].value_counts()
    for row, d in zip(linked.itertuples(index=False), depth, strict=True):
        replies.add_node(
            row.id,
            community=row.community,
            author=row.author or "",
            thread=row.thread_id or "",
            depth=int(d),
            replies=int(n_replies.get(row.id, 0)),
        )
    for child, parent in zip(ids, parents, strict=True):
        if isinstance(parent, str) and parent in replies:
            replies.add_edge(child, parent)

    linked = linked.assign(depth=depth)
    threads = (
        linked.groupby("thread_id", sort=True)
        .agg(
            root=(
                "id",
                lambda s: (
                    s[linked.loc[s.index, "depth"] == 0].iloc[0]
                    if (linked.loc[s.index, "depth"] == 0).any()
                    else s.iloc[0]
                ),
            ),
            size=("id", "size"),
            depth=("depth", "max"),
            authors=("author", lambda s: s.dropna().nunique()),
            communities=("community", "nunique"),
        )
        .reset_index()
    )

    authors = nx.DiGraph()
    by_id = frame.set_index("id")["author"]
    pairs = frame[frame["parent_id"].notna() & frame["author"].notna()]
    for reply_author, parent in zip(pairs["author"], pairs["parent_id"], strict=True):
        parent_author = by_id.get(parent)
        if parent_author is None or (isinstance(parent_author, float)):
            continue
        if authors.has_edge(reply_author, parent_author):
            authors[reply_author][parent_author]["weight"] += 1
        else:
            authors.add_edge(reply_author, parent_author, weight=1)
    return Discourse(replies, threads, authors)
