"""Writing result tables to files a researcher opens elsewhere (CSV, TSV, Parquet).

CSV and TSV are written **spreadsheet-safe** by default: a text cell that begins with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return gets a leading apostrophe, so that Excel,
LibreOffice and Google Sheets show it as text instead of running it as a formula (CSV
injection; captions from the web can start with ``=HYPERLINK(...)``). Numbers are not
touched. ``spreadsheet_safe=False`` (``neco sql --raw-csv``) writes cells exactly as stored.
Parquet is always written as stored.

>>> import tempfile, pathlib, pyarrow as pa
>>> path = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
>>> _ = write_table(pa.table({"term": ["kite", "=1+1"], "z": [2.5, -1.0]}), path)
>>> print(path.read_text())
"term","z"
"kite",2.5
"'=1+1",-1
<BLANKLINE>
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from neco.errors import NecoError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

TABLE_SUFFIXES = (".csv", ".tsv", ".parquet")
#: First characters that make a spreadsheet read a cell as a formula (or a command).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """``value`` with a leading apostrophe when it is text a spreadsheet would run.

    >>> spreadsheet_safe("=SUM(A1:A9)"), spreadsheet_safe("a kite"), spreadsheet_safe(-2)
    ("'=SUM(A1:A9)", 'a kite', -2)
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def spreadsheet_safe_table(table: pa.Table) -> pa.Table:
    """``table`` with :func:`spreadsheet_safe` applied to every text column."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = []
    for column in table.columns:
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            pattern = "^[" + "".join("\\" + c if c in "-" else c for c in FORMULA_STARTS) + "]"
            risky = pc.fill_null(pc.match_substring_regex(column, pattern), False)
            # Typed scalars: pandas 3 strings arrive as large_string, which "'" does not join.
            quote, empty = pa.scalar("'", column.type), pa.scalar("", column.type)
            column = pc.if_else(risky, pc.binary_join_element_wise(quote, column, empty), column)
        columns.append(column)
    return pa.table(columns, names=table.column_names)


def check_table_path(path: str | Path) -> Path:
    """``path`` if it ends in a suffix :func:`write_table` writes; else a clear error."""
    path = Path(path)
    if path.suffix.lower() not in TABLE_SUFFIXES:
        raise NecoError(f"--out must end in {', '.join(TABLE_SUFFIXES)}. Got {path.name!r}.")
    return path


def write_table(
    table: pa.Table | pd.DataFrame, path: str | Path, *, spreadsheet_safe: bool = True
) -> Path:
    """Write ``table`` as CSV, TSV or Parquet, chosen by the file's suffix.

    CSV and TSV cells that a spreadsheet would run as formulas get a leading apostrophe
    unless ``spreadsheet_safe`` is false (see the module docstring).
    """
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
        if spreadsheet_safe:
            table = spreadsheet_safe_table(table)
        delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
        pacsv.write_csv(table, path, pacsv.WriteOptions(delimiter=delimiter))
    return path
