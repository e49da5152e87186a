"""Parse a source's timestamp column into int64 ns since the epoch (UTC), row by row.

Integer (and float) columns carry their unit implicitly; the file's unit is read from
the magnitude of its median value (a 2020s date is ~1.6e9 s, 1.6e12 ms, 1.6e15 us or
1.6e18 ns). Every row is then checked on its own, and refused with its own reason
rather than silently stored at a wrong time:

| reason             | the row's timestamp                                            |
|--------------------|----------------------------------------------------------------|
| ts_unparseable     | is missing, or text that is neither ISO 8601 nor a number      |
| ts_unit_mismatch   | has the magnitude of another unit than the file's (a ms value  |
|                    | in a file of seconds)                                          |
| ts_overflow        | does not fit int64 nanoseconds (after year 2262 or before 1677) |
| ts_out_of_range    | is before 2009-01-03 (no market data is older) or more than a  |
|                    | day after the import                                           |

Scaling is overflow-checked before it multiplies (int64 arithmetic wraps silently),
and floats keep their fraction (1.5 s is 1,500,000,000 ns, not 2 s). Strings are ISO
8601 (naive means UTC) or integers; datetimes with a time zone are converted to UTC.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

import numpy as np
import polars as pl

from data.errors import ImportFileError

TS_MIN_NS = 1_230_940_800 * 1_000_000_000
"""2009-01-03T00:00:00Z: no market data Clanka imports is older."""
TS_FUTURE_SLACK_NS = 86_400 * 1_000_000_000
"""A row may be at most one day after the import (clock skew, time zones)."""
I64_MAX = np.iinfo(np.int64).max
_SCALES = np.array([1_000_000_000, 1_000_000, 1_000, 1], dtype=np.int64)
"""ns per unit for the classes s, ms, us, ns."""
_CLASS_BOUNDS = np.array([1e11, 1e14, 1e17])
"""Magnitudes at which a value stops looking like s, ms, us (then ns)."""
UNIT_NAMES = ("s", "ms", "us", "ns")


@dataclass(frozen=True)
class ParsedTs:
    """Timestamps in ns (null where refused) and the refusal reason per row."""

    ns: pl.Series
    reason: pl.Series
    unit: str | None
    """The unit read from the file's magnitudes (numeric columns only)."""


def _unit_class(mag: np.ndarray) -> np.ndarray:
    return np.searchsorted(_CLASS_BOUNDS, mag, side="right").astype(np.int64)


def _scale_numbers(whole: np.ndarray, frac: np.ndarray, valid: np.ndarray) -> ParsedTs:
    """Scale integer parts (and float fractions) to ns with unit and overflow checks."""
    n = len(whole)
    ns = np.zeros(n, np.int64)
    reason = np.full(n, None, dtype=object)
    reason[~valid] = "ts_unparseable"
    if not valid.any():
        return ParsedTs(pl.Series("ts_ns", [None] * n, pl.Int64),
                        pl.Series("ts_reason", reason.tolist(), pl.String), None)  # fmt: skip
    mag = np.abs(whole.astype(np.float64) + frac)
    cls = _unit_class(mag)
    file_cls = int(_unit_class(np.array([np.median(mag[valid])]))[0])
    scale = int(_SCALES[file_cls])
    mismatch = valid & (cls != file_cls)
    reason[mismatch] = "ts_unit_mismatch"
    ok = valid & ~mismatch
    limit = (I64_MAX // scale) - 1
    fits = (whole >= -limit) & (whole <= limit)  # not np.abs: abs(int64 min) overflows
    over = ok & ~fits
    reason[over] = "ts_overflow"
    ok &= fits
    ns[ok] = whole[ok] * scale + np.round(frac[ok] * scale).astype(np.int64)
    out = pl.Series("ts_ns", ns, pl.Int64)
    out = out.scatter(np.flatnonzero(~ok), None)
    return ParsedTs(out, pl.Series("ts_reason", reason.tolist(), pl.String), UNIT_NAMES[file_cls])


def _from_ints(s: pl.Series) -> ParsedTs:
    valid = s.is_not_null().to_numpy()
    if s.dtype == pl.UInt64:
        big = valid & (s.fill_null(0) > I64_MAX).to_numpy()
        whole = s.fill_null(0).clip(upper_bound=I64_MAX).cast(pl.Int64).to_numpy()
        parsed = _scale_numbers(whole, np.zeros(len(s)), valid)
        if big.any():  # beyond int64 in any unit
            reason = parsed.reason.to_numpy().copy()
            reason[big] = "ts_overflow"
            ns = parsed.ns.scatter(np.flatnonzero(big), None)
            return ParsedTs(ns, pl.Series("ts_reason", reason.tolist(), pl.String), parsed.unit)
        return parsed
    whole = s.cast(pl.Int64).fill_null(0).to_numpy()
    return _scale_numbers(whole, np.zeros(len(s)), valid)


def _from_floats(s: pl.Series) -> ParsedTs:
    f = s.cast(pl.Float64).to_numpy()
    valid = np.isfinite(f)
    whole_f = np.floor(np.where(valid, f, 0.0))
    huge = valid & (np.abs(whole_f) >= 9.2e18)
    whole = np.where(huge, 0.0, whole_f).astype(np.int64)
    parsed = _scale_numbers(whole, np.where(valid, f, 0.0) - whole_f, valid)
    if huge.any():
        reason = parsed.reason.to_numpy().copy()
        reason[huge] = "ts_overflow"
        ns = parsed.ns.scatter(np.flatnonzero(huge), None)
        return ParsedTs(ns, pl.Series("ts_reason", reason.tolist(), pl.String), parsed.unit)
    return parsed


def _from_datetimes(s: pl.Series) -> ParsedTs:
    dtype = s.dtype
    assert isinstance(dtype, pl.Datetime)
    if dtype.time_zone is not None:
        s = s.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
    unit_scale = {"ns": 1, "us": 1_000, "ms": 1_000_000}[dtype.time_unit]
    raw = s.cast(pl.Int64)
    valid = raw.is_not_null().to_numpy()
    whole = raw.fill_null(0).to_numpy()
    limit = I64_MAX // unit_scale - 1
    fits = (whole >= -limit) & (whole <= limit)
    ok = valid & fits
    ns = np.where(ok, whole * unit_scale, 0)
    reason = np.full(len(s), None, dtype=object)
    reason[~valid] = "ts_unparseable"
    reason[valid & ~fits] = "ts_overflow"
    out = pl.Series("ts_ns", ns, pl.Int64).scatter(np.flatnonzero(~ok), None)
    return ParsedTs(out, pl.Series("ts_reason", reason.tolist(), pl.String), None)


def _iso_one(text: str) -> dt.datetime | None:
    try:
        t = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t.astimezone(dt.UTC)


def _from_strings(s: pl.Series) -> ParsedTs:
    stripped = s.str.strip_chars()
    numeric = stripped.cast(pl.Int64, strict=False)
    if numeric.is_not_null().any():
        by_number = _from_ints(numeric)
    else:
        by_number = ParsedTs(pl.Series("ts_ns", [None] * len(s), pl.Int64),
                             pl.Series("ts_reason", ["ts_unparseable"] * len(s), pl.String),
                             None)  # fmt: skip
    # Microseconds hold years 1-9999: parse wide, then scale to ns with the checks.
    iso = stripped.str.to_datetime(time_unit="us", time_zone="UTC", strict=False)
    left = iso.is_null() & stripped.is_not_null() & numeric.is_null()
    if left.any():
        # polars infers one format from the first value; rows in another ISO 8601 form
        # (an offset, a fraction, a space separator) are parsed one by one.
        idx = np.flatnonzero(left.to_numpy())
        vals = [_iso_one(v) for v in stripped.gather(idx).to_list()]
        iso = iso.scatter(idx, pl.Series(vals, dtype=pl.Datetime("us", "UTC")))
    by_iso = _from_datetimes(iso.dt.replace_time_zone(None))
    use_iso = numeric.is_null()
    ns = by_iso.ns.zip_with(use_iso, by_number.ns).alias("ts_ns")
    reason = by_iso.reason.zip_with(use_iso, by_number.reason).alias("ts_reason")
    return ParsedTs(ns, reason, by_number.unit)


def parse_ts(s: pl.Series, now_ns: int | None = None) -> ParsedTs:
    """Timestamps in ns with a refusal reason per row (see the module's table).

    `now_ns` is the import's clock (default: now): rows more than a day after it are
    out of range.
    """
    dtype = s.dtype
    if dtype.is_integer():
        parsed = _from_ints(s)
    elif dtype.is_float() or dtype.is_decimal():
        parsed = _from_floats(s)
    elif isinstance(dtype, pl.Datetime):
        parsed = _from_datetimes(s)
    elif dtype == pl.Date:
        parsed = _from_datetimes(s.cast(pl.Datetime("ms")))
    elif dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum):
        parsed = _from_strings(s.cast(pl.String))
    else:
        raise ImportFileError(
            f"column {s.name!r} has type {dtype}; timestamps must be numbers, datetimes or text"
        )
    hi = (time.time_ns() if now_ns is None else now_ns) + TS_FUTURE_SLACK_NS
    ns = parsed.ns
    outside = ns.is_not_null() & ((ns < TS_MIN_NS) | (ns > hi))
    reason = pl.select(
        pl.when(pl.lit(outside)).then(pl.lit("ts_out_of_range")).otherwise(pl.lit(parsed.reason))
    ).to_series()
    ns = pl.select(pl.when(pl.lit(outside)).then(None).otherwise(pl.lit(ns))).to_series()
    return ParsedTs(ns.alias("ts_ns").cast(pl.Int64), reason.alias("ts_reason"), parsed.unit)
