"""Row validation shared by every importer: one reason per refused row.

Rules run in a fixed order and a row is refused for the first rule it breaks, so
each quarantined row carries exactly one reason code:

| code                | rule                                                           |
|---------------------|----------------------------------------------------------------|
| ts_unparseable      | the timestamp is missing or cannot be parsed                   |
| ts_unit_mismatch    | a numeric timestamp's magnitude is another unit than the file's |
| ts_overflow         | the timestamp does not fit int64 nanoseconds                   |
| ts_out_of_range     | before 2009-01-03, or more than a day after the import         |
| <col>_not_numeric   | a price, size or liquidity value is present but not a number   |
| mint_missing        | the instrument (mint or symbol) is empty                       |
| price_not_finite    | a price is NaN, infinite or missing                            |
| price_not_positive  | a price is zero or negative                                    |
| price_out_of_range  | a price is outside [1e-18, 1e15] (subnormal or absurd values   |
|                     | that would turn every computation on them into 0 or inf)       |
| size_not_finite     | the size (or volume) is NaN, infinite or missing               |
| size_negative       | the size (or volume) is negative                               |
| liquidity_invalid   | the pool reserve is negative, zero, infinite, above 1e15 (or   |
|                     | missing where the format always has it)                        |
| <format rule>       | bars: ohlc_inconsistent, interval_unknown                      |
| duplicate           | the same source event (same uid) was already accepted earlier  |
|                     | in the file                                                    |
| ts_backwards        | earlier than the latest accepted row of the same instrument    |
| size_overflow       | the size in raw token units would not fit in int64             |
"""

from __future__ import annotations

import polars as pl

from data.importers.order_nb import BACKWARDS, DUPLICATE, accept_in_order_nb

PRICE_MIN = 1e-18
"""Smallest price accepted (quote per whole token): below, values are noise or subnormal."""
PRICE_MAX = 1e15
"""Largest price (and pool liquidity) accepted: beyond, sizes times prices overflow."""

REASON_DETAIL = {
    "ts_unparseable": "timestamp is missing or unparseable",
    "ts_unit_mismatch": "timestamp magnitude is another unit (s/ms/us/ns) than the file's",
    "ts_overflow": "timestamp does not fit int64 nanoseconds (before 1678 or after 2262)",
    "ts_out_of_range": "timestamp before 2009-01-03 or more than a day after the import",
    "price_not_numeric": "a price value is not a number",
    "size_not_numeric": "the size (or volume) value is not a number",
    "liquidity_not_numeric": "the pool liquidity value is not a number",
    "price_out_of_range": f"price outside [{PRICE_MIN:g}, {PRICE_MAX:g}]",
    "mint_missing": "instrument (mint/symbol) is empty",
    "price_not_finite": "price is NaN, infinite or missing",
    "price_not_positive": "price is zero or negative",
    "size_not_finite": "size is NaN, infinite or missing",
    "size_negative": "size is negative",
    "liquidity_invalid": f"pool liquidity is negative, zero, infinite, above {PRICE_MAX:g} or "
    "missing",
    "ohlc_inconsistent": "high/low do not bound open and close",
    "interval_unknown": "bar length unknown (no interval column and no step to infer it)",
    "duplicate": "same source event was already accepted earlier in the file",
    "ts_backwards": "timestamp earlier than the latest accepted row of the same instrument",
    "size_overflow": "size does not fit int64 raw token units",
    "reference_unknown": "reference symbol Clanka does not know (it knows SOLUSD)",
}


def _finite(col: str) -> pl.Expr:
    return pl.col(col).is_not_null() & pl.col(col).is_finite()


def validate(rows: pl.DataFrame, *, liquidity_required: bool) -> pl.DataFrame:
    """Add a `reason` column (null = valid) to normalised rows.

    `rows` has `row_no, ts_ns, mint, price, size, liquidity, uid` and may carry
    `ts_reason` and `cast_reason` (set by the format's reading of the file),
    `price_min` / `price_max` (the lowest and highest of several prices, e.g. a bar's)
    and `format_reason` (a format's own rule, null when the row passes it).
    """
    price_min = pl.col("price_min") if "price_min" in rows.columns else pl.col("price")
    price_max = pl.col("price_max") if "price_max" in rows.columns else pl.col("price")
    price_ok = _finite("price") & (
        price_min.is_finite() if "price_min" in rows.columns else pl.lit(True)
    )
    liq = pl.col("liquidity")
    # polars orders NaN above every number: NaN (unknown liquidity) is not "too large".
    liq_bad = liq.is_infinite() | (liq <= 0) | ((liq > PRICE_MAX) & ~liq.is_nan())
    if liquidity_required:
        liq_bad = liq_bad | liq.is_null() | liq.is_nan()
    fmt = pl.col("format_reason") if "format_reason" in rows.columns else pl.lit(None, pl.String)
    ts_why = pl.col("ts_reason") if "ts_reason" in rows.columns else pl.lit(None, pl.String)
    cast_why = pl.col("cast_reason") if "cast_reason" in rows.columns else pl.lit(None, pl.String)
    reason = (
        pl.when(ts_why.is_not_null())
        .then(ts_why)
        .when(pl.col("ts_ns").is_null())
        .then(pl.lit("ts_unparseable"))
        .when(cast_why.is_not_null())
        .then(cast_why)
        .when(pl.col("mint").is_null() | (pl.col("mint").str.strip_chars() == ""))
        .then(pl.lit("mint_missing"))
        .when(~price_ok)
        .then(pl.lit("price_not_finite"))
        .when((pl.col("price") <= 0) | (price_min <= 0))
        .then(pl.lit("price_not_positive"))
        .when((price_min < PRICE_MIN) | (price_max > PRICE_MAX))
        .then(pl.lit("price_out_of_range"))
        .when(~_finite("size"))
        .then(pl.lit("size_not_finite"))
        .when(pl.col("size") < 0)
        .then(pl.lit("size_negative"))
        .when(liq_bad.fill_null(False))
        .then(pl.lit("liquidity_invalid"))
        .otherwise(fmt)
    )
    out = rows.with_columns(reason=reason)
    # Duplicates and time order: one pass in file order over the rows that passed every
    # rule above, so a refused row never shadows a good copy of the same event.
    candidate = out["reason"].is_null().to_numpy()
    codes = out["mint"].cast(pl.Categorical).to_physical().fill_null(0).cast(pl.Int64)
    verdict = accept_in_order_nb(
        codes.to_numpy(),
        out["uid"].cast(pl.Int64).to_numpy(),
        out["ts_ns"].fill_null(0).cast(pl.Int64).to_numpy(),
        candidate,
    )
    return out.with_columns(
        reason=pl.when(pl.Series(verdict == DUPLICATE))
        .then(pl.lit("duplicate"))
        .when(pl.Series(verdict == BACKWARDS))
        .then(pl.lit("ts_backwards"))
        .otherwise(pl.col("reason"))
    )
