"""Scores with their uncertainty: permutation nulls, bootstrap intervals, the metric registry.

A number without its null is not a finding (see the survival design). For every metric of
:mod:`neco.survival.metrics` and :mod:`neco.survival.graph_overlap`:

- :func:`permutation_null` — the metric with the rows of ``b`` shuffled, which keeps both
  representations and destroys only which row belongs to which item (the chance level), with
  the calibrated score ``(observed - null mean) / null std`` and an empirical p-value;
- :func:`bootstrap_interval` — percentile bootstrap interval (Efron 1979) of a mean of
  per-item values, the interval for kNN and graph metrics; :func:`half_sample_interval` —
  an interval from random halves of the items (delete-d jackknife), for whole-sample metrics
  (CKA, RSA), which duplicated items would bias;
- :func:`score` — all of it as one :class:`Score`, the row the survival ledger stores, for a
  metric named in :data:`METRICS`.

Everything random draws from ``np.random.default_rng(seed)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from neco.errors import NecoError
from neco.survival.graph_overlap import _graph_null, graph_knn_jaccard, graph_neighbour_recall
from neco.survival.metrics import (
    DEFAULT_K,
    RSA_MAX_ITEMS,
    _cka_null,
    _continuity_null,
    _knn_set_null,
    _rsa_null,
    _trust_null,
    continuity,
    continuity_per_item,
    knn_jaccard,
    knn_jaccard_per_item,
    linear_cka,
    mutual_knn_overlap,
    mutual_knn_per_item,
    rsa_spearman,
    trustworthiness,
    trustworthiness_per_item,
)
from neco.survival.neighbours import check_int

__all__ = [
    "METRICS",
    "Null",
    "Score",
    "bootstrap_interval",
    "half_sample_interval",
    "permutation_null",
    "score",
]


def _check_level(level: object, function: str) -> float:
    if isinstance(level, bool) or not isinstance(level, float | int) or not 0 < level < 1:
        raise NecoError(
            f"The 'level' parameter of {function} must be a float in (0, 1). Got {level!r} instead."
        )
    return float(level)


@dataclass(frozen=True)
class _Spec:
    """What :func:`score` and :func:`permutation_null` know about a metric."""

    function: Callable[..., Any]
    # Per-item values whose mean is the metric (nan for items it leaves out), if it has them.
    per_item: Callable[..., np.ndarray] | None = None
    # (a, b, rng, n_samples, **params) -> (observed per-item values or 0-d, null values).
    null: Callable[..., tuple[np.ndarray, np.ndarray]] | None = None
    uses_k: bool = False


_SPECS: dict[str, _Spec] = {
    "mutual_knn": _Spec(
        mutual_knn_overlap,
        mutual_knn_per_item,
        partial(_knn_set_null, "overlap"),
        uses_k=True,
    ),
    "knn_jaccard": _Spec(
        knn_jaccard,
        knn_jaccard_per_item,
        partial(_knn_set_null, "jaccard"),
        uses_k=True,
    ),
    "trustworthiness": _Spec(trustworthiness, trustworthiness_per_item, _trust_null, True),
    "continuity": _Spec(continuity, continuity_per_item, _continuity_null, True),
    "cka": _Spec(linear_cka, None, _cka_null),
    "rsa": _Spec(rsa_spearman, None, _rsa_null),
    "graph_knn_jaccard": _Spec(
        graph_knn_jaccard,
        lambda *args, **params: graph_knn_jaccard(*args, **params).per_item,
        partial(_graph_null, "jaccard"),
        uses_k=True,
    ),
    "graph_neighbour_recall": _Spec(
        graph_neighbour_recall,
        lambda *args, **params: graph_neighbour_recall(*args, **params).per_item,
        partial(_graph_null, "recall"),
        uses_k=True,
    ),
}

METRICS: Mapping[str, Callable[..., Any]] = {name: spec.function for name, spec in _SPECS.items()}
"""The metrics :func:`score` knows, by name. For the ``graph_*`` ones, ``a`` is the graph."""

_BY_FUNCTION = {spec.function: spec for spec in _SPECS.values()}


def _lookup(metric: str | Callable[..., Any], function: str) -> _Spec:
    if callable(metric):
        return _BY_FUNCTION.get(metric, _Spec(metric))
    if metric not in _SPECS:
        raise NecoError(
            f"{function} knows no metric {metric!r}. The metrics are: {', '.join(_SPECS)}."
        )
    return _SPECS[metric]


@dataclass(frozen=True)
class Null:
    """A permutation null: the metric with the item correspondence of ``b`` shuffled.

    ``calibrated`` is ``(observed - mean) / std`` (``nan`` when the null has no spread);
    ``p_value`` is one-sided, ``(1 + #{null >= observed}) / (1 + n_samples)``.
    """

    observed: float
    mean: float
    std: float
    calibrated: float
    p_value: float
    n_samples: int
    values: np.ndarray = field(repr=False, compare=False)


def _null(
    spec: _Spec, a: Any, b: Any, n_samples: int, seed: int, params: Mapping[str, Any]
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    if spec.null is not None:
        return spec.null(a, b, rng, n_samples, **params)
    # Any other metric is recomputed on b with its rows permuted.
    rows = np.asarray(b)
    observed = np.array(float(spec.function(a, rows, **params)))
    null = np.array(
        [
            float(spec.function(a, rows[rng.permutation(len(rows))], **params))
            for _ in range(n_samples)
        ]
    )
    return observed, null


def _summarise_null(observed: float, null: np.ndarray) -> Null:
    mean = float(np.mean(null))
    std = float(np.std(null, ddof=1))
    calibrated = (observed - mean) / std if std > 0 else float("nan")
    p_value = (1 + int(np.count_nonzero(null >= observed))) / (1 + null.size)
    if np.isnan(observed):  # an undefined metric (RSA of a constant side) has no p-value
        p_value = float("nan")
    return Null(observed, mean, std, float(calibrated), p_value, null.size, null)


def permutation_null(
    metric_fn: str | Callable[..., Any],
    a: Any,
    b: Any,
    *,
    n_samples: int = 200,
    seed: int = 0,
    **params: Any,
) -> Null:
    """Compare a metric with its values when the rows of ``b`` are randomly permuted.

    Permuting which row of ``b`` belongs to which item keeps both representations intact and
    destroys only their correspondence: the level a metric reaches by chance. ``metric_fn``
    is a name of :data:`METRICS` or a function ``(a, b, **params) -> float``; ``params`` go
    to it. The metrics of this module take fast paths: kNN metrics search neighbours once and
    relabel them; trustworthiness and continuity sort the reference's distance rows once (so
    keep them to some 20,000 items); CKA reuses each side's own HSIC and recomputes only the
    cross product; RSA permutes the items of its subsample (a Mantel test).

    >>> rng = np.random.default_rng(0)
    >>> a = rng.normal(size=(40, 5))
    >>> null = permutation_null(mutual_knn_overlap, a, a, n_samples=20, k=3)
    >>> null.observed, null.p_value
    (1.0, 0.047619047619047616)
    """
    spec = _lookup(metric_fn, "permutation_null")
    n_samples = check_int(n_samples, "n_samples", "permutation_null", 2)
    observed, null = _null(spec, a, b, n_samples, seed, params)
    return _summarise_null(float(np.nanmean(observed)), null)


def bootstrap_interval(
    per_item_values: np.ndarray, *, n_samples: int = 200, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval (Efron 1979) of the mean of per-item values.

    Items are resampled with replacement; ``nan`` values (items a metric leaves out, such as
    isolated nodes in the graph metrics) are not part of the mean. This is the interval to use
    for kNN metrics: resampling items before a neighbour search would make duplicated items
    each other's nearest neighbours. Items are treated as independent, although neighbouring
    items share neighbours: read the interval as a lower bound on the uncertainty.

    >>> low, high = bootstrap_interval(np.array([0.2, 0.4, 0.6, 0.8]), n_samples=50)
    >>> bool(0.2 <= low < 0.5 < high <= 0.8)
    True
    """
    values = np.asarray(per_item_values, dtype=np.float64).ravel()
    values = values[~np.isnan(values)]
    if values.size == 0:
        raise NecoError("bootstrap_interval needs at least one per-item value; found none.")
    n_samples = check_int(n_samples, "n_samples", "bootstrap_interval", 1)
    tail = (1 - _check_level(level, "bootstrap_interval")) / 2
    rng = np.random.default_rng(seed)
    means = np.array(
        [values[rng.integers(0, values.size, values.size)].mean() for _ in range(n_samples)]
    )
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(low), float(high)


def half_sample_interval(
    metric_fn: str | Callable[..., Any],
    a: np.ndarray,
    b: np.ndarray,
    *,
    n_samples: int = 200,
    seed: int = 0,
    level: float = 0.95,
    **params: Any,
) -> tuple[float, float]:
    """Interval of a whole-sample metric (CKA, RSA) from random halves of the items.

    The bootstrap would resample items with replacement, but a duplicated item is a pair of
    items at distance zero on both sides, which CKA and RSA read as agreement: on 200 items
    of a CKA of 0.50 the bootstrap replicates average 0.53, two standard errors too high, and
    the percentile interval misses the value. Halves drawn without replacement have no
    duplicates, and by the finite-population correction the spread of a statistic over
    halves of ``n / 2`` items matches its sampling spread at ``n`` items: the delete-d
    jackknife with ``d = n / 2`` (Shao & Wu 1989, Annals of Statistics). The interval is the
    observed value plus the percentiles of the half-sample values around their mean. Halves
    where the metric is undefined (``nan``) are left out.

    >>> rng = np.random.default_rng(0)
    >>> a = rng.normal(size=(30, 3))
    >>> low, high = half_sample_interval("cka", a, 2 * a, n_samples=10)
    >>> round(low, 9), round(high, 9)
    (1.0, 1.0)
    """
    spec = _lookup(metric_fn, "half_sample_interval")
    x, y = np.asarray(a), np.asarray(b)
    n_samples = check_int(n_samples, "n_samples", "half_sample_interval", 2)
    tail = (1 - _check_level(level, "half_sample_interval")) / 2
    value = float(spec.function(x, y, **params))
    rng = np.random.default_rng(seed)
    values = np.empty(n_samples)
    for s in range(n_samples):
        items = np.sort(rng.choice(len(x), size=len(x) // 2, replace=False))
        values[s] = float(spec.function(x[items], y[items], **params))
    low, high = np.nanquantile(values - np.nanmean(values), [tail, 1 - tail])
    return value + float(low), value + float(high)


@dataclass(frozen=True)
class Score:
    """A metric's value with its permutation null and bootstrap interval, as the ledger stores it.

    ``value``: the metric; ``null_mean``, ``null_std``: its permutation null; ``calibrated``:
    ``(value - null_mean) / null_std``; ``p_value``: one-sided, +1 smoothed; ``low``, ``high``:
    the interval at the requested level (per-item bootstrap, or half-samples for CKA and RSA);
    ``n_items``: items the value rests on. Parts not computed are nan.
    """

    value: float
    null_mean: float
    null_std: float
    calibrated: float
    p_value: float
    low: float
    high: float
    n_items: int


def score(
    metric_name: str,
    a: Any,
    b: Any,
    *,
    k: int | None = None,
    null_samples: int = 200,
    bootstrap: int = 200,
    seed: int = 0,
    level: float = 0.95,
    **params: Any,
) -> Score:
    """One metric of :data:`METRICS` with its permutation null and bootstrap interval.

    ``k`` (default :data:`DEFAULT_K`) goes to the kNN metrics; other ``params`` (``metric``,
    ``debiased``, ``max_items``, ...) to the metric itself. ``null_samples=0`` or
    ``bootstrap=0`` skips that part. Metrics with per-item values get
    :func:`bootstrap_interval`, the others :func:`half_sample_interval`.

    >>> rng = np.random.default_rng(0)
    >>> a = rng.normal(size=(40, 5))
    >>> result = score("mutual_knn", a, a, k=3, null_samples=20, bootstrap=20)
    >>> result.value, result.low, result.high, result.n_items
    (1.0, 1.0, 1.0, 40)
    """
    spec = _lookup(metric_name, "score")
    options = dict(params)
    if spec.uses_k:
        options["k"] = DEFAULT_K if k is None else k
    elif k is not None:
        raise NecoError(f"The metric {metric_name!r} takes no 'k'; leave it out.")
    null_samples = check_int(null_samples, "null_samples", "score", 0)
    if null_samples == 1:  # no spread to calibrate with
        raise NecoError("score needs null_samples = 0 (no null) or at least 2. Got 1 instead.")
    bootstrap = check_int(bootstrap, "bootstrap", "score", 0)
    null = None
    if null_samples:
        observed, values = _null(spec, a, b, null_samples, seed, options)
        null = _summarise_null(float(np.nanmean(observed)), values)
    elif spec.per_item is not None:
        observed = spec.per_item(a, b, **options)
    else:
        observed = np.array(float(spec.function(a, b, **options)))
    value = float(np.nanmean(observed))

    if observed.ndim:  # per-item values
        n_items = int(np.count_nonzero(~np.isnan(observed)))
    elif metric_name == "rsa":
        n_items = min(len(b), options.get("max_items", RSA_MAX_ITEMS))
    else:
        n_items = len(b)
    low = high = float("nan")
    if bootstrap and observed.ndim:
        low, high = bootstrap_interval(observed, n_samples=bootstrap, seed=seed, level=level)
    elif bootstrap:
        low, high = half_sample_interval(
            spec.function, a, b, n_samples=bootstrap, seed=seed, level=level, **options
        )
    if null is None:
        nan = float("nan")
        return Score(value, nan, nan, nan, nan, low, high, n_items)
    return Score(value, null.mean, null.std, null.calibrated, null.p_value, low, high, n_items)
