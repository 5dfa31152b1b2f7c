"""Writing result tables to files a researcher opens elsewhere (CSV, TSV, Parquet).

>>> import tempfile, pathlib, pyarrow as pa
>>> path = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
>>> _ = write_table(pa.table({"term": ["kite"], "z": [2.5]}), path)
>>> path.read_text().splitlines()
['"term","z"', '"kite",2.5']
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from neco.errors import NecoError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

TABLE_SUFFIXES = (".csv", ".tsv", ".parquet")


def check_table_path(path: str | Path) -> Path:
    """``path`` if it ends in a suffix :func:`write_table` writes; else a clear error."""
    path = Path(path)
    if path.suffix.lower() not in TABLE_SUFFIXES:
        raise NecoError(f"--out must end in {', '.join(TABLE_SUFFIXES)}. Got {path.name!r}.")
    return path


def write_table(table: pa.Table | pd.DataFrame, path: str | Path) -> Path:
    """Write ``table`` as CSV, TSV or Parquet, chosen by the file's suffix."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    path = check_table_path(path)
    if not isinstance(table, pa.Table):
        table = pa.Table.from_pandas(table, preserve_index=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = table.replace_schema_metadata(None)
    if path.suffix.lower() == ".parquet":
        pq.write_table(table, path)
    else:
        delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
        pacsv.write_csv(table, path, pacsv.WriteOptions(delimiter=delimiter))
    return path
