"""Keyness: which terms are distinctive of a community, against the rest or another one.

For a term w, with ``a`` its count in the focus community (``n_a`` tokens in all) and ``b``
its count in the reference (the other communities together, or one other community; ``n_b``
tokens), three measures are reported:

``logodds_z`` — the log-odds ratio with an informative Dirichlet prior, as a z-score
(Monroe, Colaresi & Quinn 2008, "Fightin' Words", eq. 16-22). The prior for w is
``alpha_w = prior_scale * y_w``, where ``y_w`` is w's count in the whole corpus (all
communities), so ``alpha_0 = prior_scale * N``; ``prior_scale`` defaults to 1, the common
choice of using the background corpus's counts as the prior (Jurafsky et al. 2014)::

    delta_w = log((a + alpha_w) / (n_a + alpha_0 - a - alpha_w))
            - log((b + alpha_w) / (n_b + alpha_0 - b - alpha_w))
    var_w   = 1 / (a + alpha_w) + 1 / (b + alpha_w)
    logodds_z = delta_w / sqrt(var_w)

``g2`` — the log-likelihood statistic (Rayson & Garside 2000) with expected counts
``E_a = n_a (a + b) / (n_a + n_b)`` and ``E_b = n_b (a + b) / (n_a + n_b)``::

    g2 = 2 * (a ln(a / E_a) + b ln(b / E_b))        (0 ln 0 = 0)

with ``g2_p`` its p-value under chi-squared with one degree of freedom (no correction for
the many terms tested: read it as a ranking, or apply your own correction).

``log_ratio`` — Hardie's (2014) effect size, the binary log of the ratio of relative
frequencies, with a zero count replaced by 0.5::

    log_ratio = log2((max(a, 0.5) / n_a) / (max(b, 0.5) / n_b))

Counts are token counts; ``doc_count`` and ``rest_doc_count`` give the number of captions
containing the term. Works for any number of communities.

:func:`rank_keyness` orders each community's terms by another measure (``neco vocab
--rank``): ``g2`` (terms the community over-uses, z > 0, by decreasing G², then the others
by increasing G², since G² alone does not say which side uses a term more); ``doc_count`` or
``count`` (the terms distinctive at the 5% level, z > 1.96, by how many captions, or
occurrences, hold them, then the others by z). By ``doc_count`` the distinctive terms that
many captions share come first, and a term repeated in one long caption no longer does; the
threshold keeps the community's merely frequent words ("the topic of every caption", with a
z near 0) from heading the list.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from neco.errors import NecoError
from neco.social.terms import DocTermMatrix

KEYNESS_FORMULAS = __doc__ or ""


def log_odds_z(
    a: np.ndarray,
    b: np.ndarray,
    n_a: float,
    n_b: float,
    prior: np.ndarray,
    alpha0: float | None = None,
) -> np.ndarray:
    """Monroe et al.'s z-score of the log-odds ratio with Dirichlet prior ``prior`` (alpha_w).

    ``alpha0`` is the prior's total over the whole vocabulary (default: ``prior.sum()``).

    >>> z = log_odds_z(np.array([10.0]), np.array([2.0]), 100.0, 100.0, np.array([1.0]))
    >>> round(float(z[0]), 4)
    2.1255
    """
    alpha0 = float(prior.sum()) if alpha0 is None else alpha0
    delta = np.log((a + prior) / (n_a + alpha0 - a - prior)) - np.log(
        (b + prior) / (n_b + alpha0 - b - prior)
    )
    variance = 1.0 / (a + prior) + 1.0 / (b + prior)
    result: np.ndarray = delta / np.sqrt(variance)
    return result


def g2(a: np.ndarray, b: np.ndarray, n_a: float, n_b: float) -> np.ndarray:
    """Log-likelihood G² of Rayson & Garside (2000).

    >>> round(float(g2(np.array([10.0]), np.array([2.0]), 100.0, 100.0)[0]), 4)
    5.8221
    """
    total = a + b
    e_a = n_a * total / (n_a + n_b)
    e_b = n_b * total / (n_a + n_b)
    with np.errstate(divide="ignore", invalid="ignore"):
        part_a = np.where(a > 0, a * np.log(a / e_a), 0.0)
        part_b = np.where(b > 0, b * np.log(b / e_b), 0.0)
    result: np.ndarray = 2.0 * (part_a + part_b)
    return result


def log_ratio(a: np.ndarray, b: np.ndarray, n_a: float, n_b: float) -> np.ndarray:
    """Hardie's Log Ratio, zero counts replaced by 0.5.

    >>> float(log_ratio(np.array([8.]), np.array([0.]), 100., 100.)[0])
    4.0
    """
    result: np.ndarray = np.log2((np.maximum(a, 0.5) / n_a) / (np.maximum(b, 0.5) / n_b))
    return result


KEYNESS_SCHEMA = pa.schema(
    [
        ("community", pa.string()),
        ("reference", pa.string()),
        ("term", pa.string()),
        ("count", pa.int64()),
        ("doc_count", pa.int64()),
        ("rest_count", pa.int64()),
        ("rest_doc_count", pa.int64()),
        ("logodds_z", pa.float64()),
        ("g2", pa.float64()),
        ("g2_p", pa.float64()),
        ("log_ratio", pa.float64()),
    ]
)


def keyness_table(
    dtm: DocTermMatrix,
    *,
    communities: Sequence[str] | None = None,
    against: str | None = None,
    min_count: int = 3,
    prior_scale: float = 1.0,
) -> pa.Table:
    """Keyness of every term for each community, against the rest (or ``against``).

    Terms seen fewer than ``min_count`` times in the focus and reference together are left
    out. The table's schema metadata holds the formulas. Rows are sorted by community, then
    by decreasing ``logodds_z``.
    """
    from scipy.stats import chi2

    if prior_scale <= 0:
        raise NecoError(f"The 'prior_scale' parameter must be > 0. Got {prior_scale!r} instead.")
    names, counts, docs = dtm.by_community()
    if len(names) < 2:
        raise NecoError(
            f"Keyness compares communities, but the corpus has {len(names)}: "
            f"{', '.join(names) or 'none'}. Label rows with --community or --community-col, "
            "compare slices of it (neco vocab --by year), or list its terms by frequency "
            "(neco vocab --freq)."
        )
    focus = list(communities) if communities else names
    unknown = sorted(set(focus) - set(names)) + (
        [against] if against is not None and against not in names else []
    )
    if unknown:
        raise NecoError(f"No community {unknown[0]!r}. Communities: {', '.join(names)}.")
    with_terms = [n for n, row in zip(names, counts, strict=True) if row.sum() > 0]
    if len(with_terms) < 2:
        raise NecoError(
            f"Keyness needs {dtm.unit} terms in at least two communities; only "
            f"{', '.join(with_terms) or 'none'} has any."
            + (
                " Prompt specifiers exist only for prompt communities."
                if dtm.unit == "specifier"
                else ""
            )
            + " For one community's terms by frequency, add --freq (neco vocab)."
        )
    total_counts = counts.sum(axis=0)
    total_docs = docs.sum(axis=0)
    prior = prior_scale * total_counts.astype(float)
    out: dict[str, list[np.ndarray]] = {name: [] for name in KEYNESS_SCHEMA.names}
    for name in focus:
        if name == against:
            continue
        i = names.index(name)
        a, da = counts[i].astype(float), docs[i]
        if against is None:
            b, db, ref = total_counts - counts[i], total_docs - docs[i], "rest"
        else:
            j = names.index(against)
            b, db, ref = counts[j].astype(float), docs[j], against
        keep = (a + b) >= min_count
        # The prior comes from the counts of what is compared (the whole corpus vs rest).
        full_prior = prior if against is None else prior_scale * (a + b)
        a_k, b_k, p_k = a[keep], b[keep], full_prior[keep]
        n_a, n_b = float(a.sum()), float(b.sum())
        if n_a == 0 or n_b == 0:
            continue
        z = log_odds_z(a_k, b_k, n_a, n_b, p_k, alpha0=float(full_prior.sum()))
        ll = g2(a_k, b_k, n_a, n_b)
        order = np.argsort(-z, kind="stable")
        k = int(keep.sum())
        out["community"].append(np.full(k, name, dtype=object))
        out["reference"].append(np.full(k, ref, dtype=object))
        out["term"].append(dtm.terms[keep][order])
        out["count"].append(a_k[order].astype(np.int64))
        out["doc_count"].append(da[keep][order].astype(np.int64))
        out["rest_count"].append(b_k[order].astype(np.int64))
        out["rest_doc_count"].append(db[keep][order].astype(np.int64))
        out["logodds_z"].append(z[order])
        out["g2"].append(ll[order])
        out["g2_p"].append(chi2.sf(ll[order], 1))
        out["log_ratio"].append(log_ratio(a_k, b_k, n_a, n_b)[order])
    columns = {
        name: pa.array(np.concatenate(parts) if parts else [], type=KEYNESS_SCHEMA.field(name).type)
        for name, parts in out.items()
    }
    table = pa.table(columns, schema=KEYNESS_SCHEMA)
    meta = {
        "unit": dtm.unit,
        "prior_scale": str(prior_scale),
        "min_count": str(min_count),
        "formulas": KEYNESS_FORMULAS,
    }
    return table.replace_schema_metadata({k: v.encode() for k, v in meta.items()})


RANKS = ("z", "g2", "doc_count", "count")
#: z above which a term counts as distinctive when ranking by counts (two-sided 5% level).
DISTINCTIVE_Z = 1.96


def rank_keyness(table: pa.Table, rank: str = "z") -> pa.Table:
    """``table`` (from :func:`keyness_table`) with each community's terms ordered by ``rank``
    (module doc); the communities keep their order, ties keep the z order.

    >>> t = pa.table({"community": ["a", "a", "a", "a"], "term": ["x", "y", "v", "w"],
    ...               "count": [9, 4, 50, 1], "doc_count": [1, 4, 40, 1],
    ...               "g2": [8.0, 5.0, 0.1, 5.0], "logodds_z": [3.0, 2.5, 0.3, -2.0]})
    >>> rank_keyness(t, "doc_count").column("term").to_pylist()
    ['y', 'x', 'v', 'w']
    >>> rank_keyness(t, "g2").column("term").to_pylist()
    ['x', 'y', 'v', 'w']
    """
    if rank not in RANKS:
        raise NecoError(f"The 'rank' parameter must be one of {', '.join(RANKS)}. Got {rank!r}.")
    if rank == "z" or table.num_rows == 0:
        return table
    community = np.asarray(table.column("community").to_pylist(), dtype=object)
    _, first = np.unique(community, return_index=True)
    order_of = {community[i]: k for k, i in enumerate(sorted(first))}
    group = np.fromiter((order_of[c] for c in community), dtype=np.int64, count=len(community))
    z = np.asarray(table.column("logodds_z"), dtype=float)
    value = np.asarray(table.column(rank), dtype=float)
    if rank == "g2":
        over = z > 0
        key = np.where(over, -value, value)
    else:
        over = z > DISTINCTIVE_Z
        key = np.where(over, -value, 0.0)  # below the threshold: the z order (row order)
    # lexsort: the last key is the primary one; the row number keeps the z order on ties.
    order = np.lexsort((np.arange(table.num_rows), key, ~over, group))
    return table.take(pa.array(order))
