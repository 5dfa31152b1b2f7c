"""neco from Python: the demo corpus's distinctive terms and a concordance.

Run it from the repository: ``python examples/quickstart.py [WORKSPACE]``.
"""

import sys

import neco

study = neco.open_study(sys.argv[1] if len(sys.argv) > 1 else "data/quickstart")
study.add_demo()  # or study.add("captions.csv", text_col="caption", community_col="group")
study.social(mode="lexical", skip=["semantic"])  # "fast"/"full" add tags, parses
keyness = study.keyness()  # every community against the rest, as a DataFrame
print(keyness.groupby("community").head(5)[["community", "term", "count", "logodds_z"]])
lines = study.kwic("carved", community="museum")  # the captions behind a number
print(lines[["left", "match", "right"]].head(5).to_string(index=False))
