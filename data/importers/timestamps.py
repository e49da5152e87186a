"""Parse a source's timestamp column into int64 ns since the epoch (UTC), or null.

Integer columns carry their unit implicitly; it is read from their magnitude (a
2020s date is ~1.6e9 s, 1.6e12 ms, 1.6e15 us or 1.6e18 ns). Strings are parsed as
ISO 8601 (naive means UTC) or as integers; anything unparseable becomes null, which
the validator quarantines as `ts_unparseable`.
"""

from __future__ import annotations

import polars as pl

_UNIT_SCALE = [(1e17, 1), (1e14, 1_000), (1e11, 1_000_000), (0.0, 1_000_000_000)]


def _scale_for(magnitude: float) -> int:
    for bound, scale in _UNIT_SCALE:
        if magnitude >= bound:
            return scale
    return 1_000_000_000


def _ints_to_ns(s: pl.Series) -> pl.Series:
    med = s.drop_nulls().abs().median()
    scale = _scale_for(float(med)) if isinstance(med, int | float) else 1
    return (s.cast(pl.Int64) * scale).alias("ts_ns")


def parse_ts(s: pl.Series) -> pl.Series:
    """Return an Int64 series of ns timestamps, null where a value cannot be parsed."""
    dt = s.dtype
    if dt.is_integer():
        return _ints_to_ns(s)
    if dt.is_float():
        f = s.fill_nan(None)
        ok = f.is_finite().fill_null(False)
        as_int = pl.Series(s.name, [None] * len(s), dtype=pl.Int64)
        as_int = as_int.scatter(ok.arg_true(), f.filter(ok).round(0).cast(pl.Int64))
        return _ints_to_ns(as_int)
    if isinstance(dt, pl.Datetime):
        if dt.time_zone is not None:
            s = s.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
        return s.dt.cast_time_unit("ns").cast(pl.Int64).alias("ts_ns")
    if dt == pl.String:
        stripped = s.str.strip_chars()
        numeric = stripped.cast(pl.Int64, strict=False)
        iso = stripped.str.to_datetime(time_unit="ns", time_zone="UTC", strict=False)
        iso_ns = iso.dt.replace_time_zone(None).cast(pl.Int64)
        num_ns = _ints_to_ns(numeric)
        return num_ns.fill_null(iso_ns).alias("ts_ns")
    return pl.Series("ts_ns", [None] * len(s), dtype=pl.Int64)
