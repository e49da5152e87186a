"""Reading a source's columns at the types Clanka needs, without ever crashing on them.

Files come from everywhere, and a column of the right name may hold the wrong kind of
value. Two cases are told apart:

- a column whose *type* cannot hold the value at all (a list or a struct where a price
  should be, booleans as prices, bytes as a symbol) makes the whole file wrong: the
  import is refused in one line naming the column and its type;
- a text column whose *values* may or may not be numbers (CSV files, hand edits) is
  cast value by value: a value that is present but not a number quarantines its row
  with `<column>_not_numeric`, and never becomes a silent null or zero.
"""

from __future__ import annotations

import polars as pl

from data.errors import ImportFileError

_TEXT_TYPES = (pl.String, pl.Categorical)


def _refuse(df: pl.DataFrame, col: str, want: str) -> ImportFileError:
    return ImportFileError(
        f"column {col!r} has type {df.schema[col]}; Clanka needs {want} there "
        "(the file was not imported)"
    )


def numeric(df: pl.DataFrame, col: str, reason: str) -> tuple[pl.Series, pl.Series]:
    """`col` as Float64, and per row `reason` where a present value is not a number."""
    s = df[col]
    dtype = s.dtype
    if dtype.is_numeric() or dtype == pl.Null:
        return s.cast(pl.Float64), pl.Series(col, [None] * len(s), pl.String)
    if dtype in _TEXT_TYPES or isinstance(dtype, pl.Enum):
        text = s.cast(pl.String).str.strip_chars()
        values = text.cast(pl.Float64, strict=False)
        bad = values.is_null() & text.is_not_null()
        why = pl.select(pl.when(pl.lit(bad)).then(pl.lit(reason))).to_series()
        return values, why.cast(pl.String)
    raise _refuse(df, col, "numbers (or numeric text)")


def text(df: pl.DataFrame, col: str) -> pl.Series:
    """`col` as String (numbers and categories are spelled out; nested types refused)."""
    s = df[col]
    dtype = s.dtype
    if dtype.is_numeric() or dtype in _TEXT_TYPES or isinstance(dtype, pl.Enum):
        return s.cast(pl.String)
    if dtype == pl.Null:
        return pl.Series(col, [None] * len(s), pl.String)
    raise _refuse(df, col, "text")


def first_reason(reasons: list[pl.Series]) -> pl.Series:
    """Per row, the first non-null reason of several columns (null: all fine)."""
    if not reasons:
        raise ValueError("no reason columns")
    return pl.select(pl.coalesce([pl.lit(r) for r in reasons])).to_series().alias("cast_reason")
