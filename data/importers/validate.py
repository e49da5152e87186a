"""Row validation shared by every importer: one reason per refused row.

Rules run in a fixed order and a row is refused for the first rule it breaks, so
each quarantined row carries exactly one reason code:

| code                | rule                                                           |
|---------------------|----------------------------------------------------------------|
| ts_unparseable      | the timestamp is missing or cannot be parsed                   |
| mint_missing        | the instrument (mint or symbol) is empty                       |
| price_not_finite    | a price is NaN, infinite or missing                            |
| price_not_positive  | a price is zero or negative                                    |
| size_not_finite     | the size (or volume) is NaN, infinite or missing               |
| size_negative       | the size (or volume) is negative                               |
| liquidity_invalid   | the pool reserve is negative, zero, infinite (or missing where |
|                     | the format always has it)                                      |
| <format rule>       | bars: ohlc_inconsistent, interval_unknown                      |
| duplicate           | the same source event (same uid) was already accepted earlier  |
|                     | in the file                                                    |
| ts_backwards        | earlier than the latest accepted row of the same instrument    |
| size_overflow       | the size in raw token units would not fit in int64             |
"""

from __future__ import annotations

import polars as pl

from data.importers.order_nb import BACKWARDS, DUPLICATE, accept_in_order_nb

REASON_DETAIL = {
    "ts_unparseable": "timestamp is missing or unparseable",
    "mint_missing": "instrument (mint/symbol) is empty",
    "price_not_finite": "price is NaN, infinite or missing",
    "price_not_positive": "price is zero or negative",
    "size_not_finite": "size is NaN, infinite or missing",
    "size_negative": "size is negative",
    "liquidity_invalid": "pool liquidity is negative, zero, infinite or missing",
    "ohlc_inconsistent": "high/low do not bound open and close",
    "interval_unknown": "bar length unknown (no interval column and no step to infer it)",
    "duplicate": "same source event was already accepted earlier in the file",
    "ts_backwards": "timestamp earlier than the latest accepted row of the same instrument",
    "size_overflow": "size does not fit int64 raw token units",
}


def _finite(col: str) -> pl.Expr:
    return pl.col(col).is_not_null() & pl.col(col).is_finite()


def validate(rows: pl.DataFrame, *, liquidity_required: bool) -> pl.DataFrame:
    """Add a `reason` column (null = valid) to normalised rows.

    `rows` has `row_no, ts_ns, mint, price, size, liquidity, uid` and may carry
    `price_min` (the lowest of several prices, e.g. a bar's low) and `format_reason`
    (a format's own rule, null when the row passes it).
    """
    price_min = pl.col("price_min") if "price_min" in rows.columns else pl.col("price")
    price_ok = _finite("price") & (
        price_min.is_finite() if "price_min" in rows.columns else pl.lit(True)
    )
    liq = pl.col("liquidity")
    liq_bad = liq.is_infinite() | (liq <= 0)
    if liquidity_required:
        liq_bad = liq_bad | liq.is_null() | liq.is_nan()
    fmt = pl.col("format_reason") if "format_reason" in rows.columns else pl.lit(None, pl.String)
    reason = (
        pl.when(pl.col("ts_ns").is_null())
        .then(pl.lit("ts_unparseable"))
        .when(pl.col("mint").is_null() | (pl.col("mint").str.strip_chars() == ""))
        .then(pl.lit("mint_missing"))
        .when(~price_ok)
        .then(pl.lit("price_not_finite"))
        .when((pl.col("price") <= 0) | (price_min <= 0))
        .then(pl.lit("price_not_positive"))
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
