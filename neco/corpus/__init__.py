"""Reading caption corpora: sources of many formats -> validated rows, nothing lost.

>>> from neco.corpus import Corpus, SourceSpec
>>> SourceSpec("captions.csv", community="museum").community
'museum'
>>> SourceSpec.from_options("captions.csv", text_col="alt", no_header=False).columns
{'text': 'alt'}
"""

from neco.corpus.build import read_sources
from neco.corpus.corpus import Corpus
from neco.corpus.report import IngestReport, SourceReport
from neco.corpus.schema import CORPUS_SCHEMA, REJECT_REASONS, REJECTED_SCHEMA
from neco.corpus.sources import FORMATS, SourceSpec

__all__ = [
    "CORPUS_SCHEMA",
    "FORMATS",
    "REJECTED_SCHEMA",
    "REJECT_REASONS",
    "Corpus",
    "IngestReport",
    "SourceReport",
    "SourceSpec",
    "read_sources",
]
