"""Relations from the dependency parse: the corpus's own minimal-pair material.

From the full parse (``neco social --mode full``) three kinds of triples are read:

- ``svo`` — subject, verb, object: a ``nsubj``/``nsubjpass`` and a ``dobj``/``obj`` of the same
  verb ("a dog chases a ball" -> dog, chase, ball);
- ``prep`` — noun, preposition, noun: a noun's ``prep`` child and that preposition's ``pobj``
  ("a mug in the grass" -> mug, in, grass);
- ``amod`` — adjective, noun ("a red mug" -> red, mug).

Each triple keeps the caption id and the token positions of its two swappable words, so the
model layer can build minimal pairs (swap subject and object, swap two nouns around a
preposition, swap the adjectives of two nouns) from the captions themselves, as ARO
(Yuksekgonul et al. 2023) and Winoground (Thrush et al. 2022) do with fixed benchmarks.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from neco.errors import NecoError

NOUNS = ("NOUN", "PROPN")
RELATION_COLUMNS = [
    "id",
    "community",
    "kind",
    "term_a",
    "relation",
    "term_b",
    "position_a",
    "position_b",
    "position_relation",
]


def extract_relations(tokens: pa.Table) -> pd.DataFrame:
    """Triples ``(term_a, relation, term_b)`` with caption id and token positions.

    Lemmas are lowercased. Needs a full parse (heads present).
    """
    if tokens.num_rows and tokens.column("head").null_count == tokens.num_rows:
        raise NecoError("Relations need the dependency parse. Run: neco social --mode full")
    cols = ["id", "community", "position", "lemma", "pos", "dep", "head"]
    t = tokens.select(cols).to_pandas()
    t["lemma"] = t["lemma"].str.lower()
    key = ["id", "head"]
    frames = []

    subj = t[t["dep"].isin(["nsubj", "nsubjpass"])]
    obj = t[t["dep"].isin(["dobj", "obj"])]
    verb = t[t["pos"].isin(["VERB", "AUX"])][["id", "position", "lemma"]]
    svo = subj.merge(obj, on=key, suffixes=("_s", "_o")).merge(
        verb, left_on=key, right_on=["id", "position"]
    )
    frames.append(
        pd.DataFrame(
            {
                "id": svo["id"],
                "community": svo["community_s"],
                "kind": "svo",
                "term_a": svo["lemma_s"],
                "relation": svo["lemma"],
                "term_b": svo["lemma_o"],
                "position_a": svo["position_s"],
                "position_b": svo["position_o"],
                "position_relation": svo["position"],
            }
        )
    )

    prep = t[t["dep"] == "prep"]
    pobj = t[(t["dep"] == "pobj") & t["pos"].isin(NOUNS)]
    nouns = t[t["pos"].isin(NOUNS)][["id", "position", "lemma"]]
    pp = prep.merge(pobj, left_on=["id", "position"], right_on=key, suffixes=("_p", "_o"))
    pp = pp.merge(nouns, left_on=["id", "head_p"], right_on=["id", "position"])
    frames.append(
        pd.DataFrame(
            {
                "id": pp["id"],
                "community": pp["community_p"],
                "kind": "prep",
                "term_a": pp["lemma"],
                "relation": pp["lemma_p"],
                "term_b": pp["lemma_o"],
                "position_a": pp["position"],
                "position_b": pp["position_o"],
                "position_relation": pp["position_p"],
            }
        )
    )

    amod = t[(t["dep"] == "amod") & (t["pos"] == "ADJ")]
    an = amod.merge(
        nouns, left_on=["id", "head"], right_on=["id", "position"], suffixes=("_a", "_n")
    )
    frames.append(
        pd.DataFrame(
            {
                "id": an["id"],
                "community": an["community"],
                "kind": "amod",
                "term_a": an["lemma_a"],
                "relation": "amod",
                "term_b": an["lemma_n"],
                "position_a": an["position_a"],
                "position_b": an["position_n"],
                "position_relation": an["position_a"],
            }
        )
    )
    result = pd.concat(frames, ignore_index=True)[RELATION_COLUMNS]
    return result.sort_values(["id", "kind", "position_a"]).reset_index(drop=True)


def relation_counts(relations: pd.DataFrame) -> pd.DataFrame:
    """Number of captions with each triple, per community."""
    grouped = relations.groupby(["community", "kind", "term_a", "relation", "term_b"])["id"]
    return (
        grouped.nunique()
        .rename("count")
        .reset_index()
        .sort_values(["community", "count"], ascending=[True, False])
        .reset_index(drop=True)
    )
