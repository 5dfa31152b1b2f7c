"""The NLP layer: a caption corpus's social exchange value as vocabularies and graphs.

Modules follow the data flow:

- :mod:`neco.social.parse` — spaCy parsing in three modes into a token table (cached);
- :mod:`neco.social.prompts` — segmentation of text-to-image prompts (specifiers, weights,
  negative prompts, artist references);
- :mod:`neco.social.terms` — term units (lemma, n-gram, noun chunk, entity, specifier) and
  the caption x term matrix;
- :mod:`neco.social.keyness` — distinctive terms per community (log-odds z, G², log ratio);
- :mod:`neco.social.concordance` — concordance lines and collocates;
- :mod:`neco.social.graphs` — co-occurrence and bipartite graphs, backbone, communities,
  centralities, exports;
- :mod:`neco.social.discourse` — reply graphs, threads, authors;
- :mod:`neco.social.semantic` — sentence embeddings (all-MiniLM-L6-v2, offline) and kNN graphs;
- :mod:`neco.social.relations` — dependency triples for minimal pairs;
- :mod:`neco.social.pipeline` — all of it on a workspace (``neco social``).

Importing this package imports nothing heavy; spaCy, sentence-transformers and torch are
loaded by the functions that need them.
"""
