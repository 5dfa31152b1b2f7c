"""Survival: how much of a corpus's relational structure each neural stage keeps.

The only place where the social layer meets the neural layer. Modules:

- :mod:`neco.survival.neighbours` — blocked nearest neighbours and neighbour ranks (never an
  ``n x n`` matrix), the one neighbour routine that every kNN metric uses, and the input
  checks the metrics share;
- :mod:`neco.survival.metrics` — metrics on two representations of the same items: mutual kNN
  overlap, kNN Jaccard, trustworthiness and continuity, debiased linear CKA, RSA, adjusted
  mutual information of clusters;
- :mod:`neco.survival.graph_overlap` — the social side as a graph: graph neighbours against
  nearest neighbours in a representation;
- :mod:`neco.survival.scoring` — permutation nulls, bootstrap and half-sample intervals, and
  :func:`~neco.survival.scoring.score`, which returns a metric with all of them as one
  :class:`~neco.survival.scoring.Score` (the registry :data:`~neco.survival.scoring.METRICS`
  names the metrics it knows).

Importing this package imports nothing heavy; scipy and scikit-learn are loaded by the
functions that need them.
"""
