"""The file formats Clanka imports, and how each maps onto ticks and signals.

Every format turns one source row into one *normalised row* (`row_no, ts_ns, mint,
price, size, liquidity, uid`, plus what it needs later), which the shared validator
checks; valid rows then become one or more ticks (and, for pump.fun, signals). The
README's "Import formats" section documents each mapping for users.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import polars as pl

from data.hashing import as_u64, combine, hash_strings, to_int64
from data.importers.columns import first_reason, numeric, text
from data.importers.timestamps import parse_ts
from data.mints import MintSpec
from engine.codes import SignalKind

WSOL = "So11111111111111111111111111111111111111112"
PUMP_V_SOL0 = 30.0
"""pump.fun curve: virtual SOL reserve at launch."""
PUMP_V_TOK0 = 1_073_000_000.0
"""pump.fun curve: virtual token reserve at launch (whole tokens)."""
PUMP_K = PUMP_V_SOL0 * PUMP_V_TOK0
EXCHANGE_DECIMALS = 8
"""Raw-unit scale for exchange instruments (Binance's base-asset precision)."""
QUOTE_VOLUME_VENUES = frozenset({"ftx_perp"})
"""Bar venues whose `volume` is quote-denominated (see shared/data/README.md)."""
_KNOWN_QUOTES = ("USDT", "USDC", "BUSD", "USD", "BTC", "ETH", "BNB", "SOL")


@dataclass
class Normalised:
    """Normalised rows plus format facts the pipeline needs.

    Besides the row columns, `rows` carries `ts_reason` (why the timestamp was refused,
    see importers.timestamps) and `cast_reason` (a present value that is not a number),
    both null for a row whose values read cleanly.
    """

    rows: pl.DataFrame
    liquidity_required: bool


class Format(Protocol):
    """A source file format: detection, normalisation, and the mapping to events."""

    name: str
    columns: str
    """The columns that identify the format, as a user would write them."""

    def matches(self, columns: set[str]) -> bool:
        """Tell whether a file with these columns is in this format."""
        ...

    def default_source(self, df: pl.DataFrame) -> str:
        """The partition/source name used when the user gives none."""
        ...

    def normalise(self, df: pl.DataFrame) -> Normalised:
        """Map raw rows to normalised rows (one per source row, in file order)."""
        ...

    def mint_specs(self, valid: pl.DataFrame) -> list[MintSpec]:
        """Describe every instrument that has valid rows."""
        ...

    def ticks(self, valid: pl.DataFrame) -> pl.DataFrame:
        """Ticks for valid rows: ts_ns, mint_id, price, size (raw), side, liquidity, uid.

        `valid` has the normalised columns plus `mint_id` and `scale` (10**decimals).
        """
        ...

    def signals(self, valid: pl.DataFrame) -> pl.DataFrame | None:
        """Signals for valid rows (ts_ns, mint_id, kind, value, uid), if the format has any."""
        ...


def raw_units(ui: pl.Expr) -> pl.Expr:
    """Whole-token amount -> int64 raw units, rounded to the nearest unit."""
    return (ui * pl.col("scale")).round(0).cast(pl.Int64)


def leg_uid(row_uid: np.ndarray, leg: int | np.ndarray) -> np.ndarray:
    """Uid of the `leg`-th event derived from a source row (leg 0 is the row's own uid)."""
    rows = np.ascontiguousarray(row_uid, dtype=np.int64)
    legs = np.broadcast_to(np.asarray(leg, dtype=np.uint64), rows.shape)
    mixed = to_int64(combine(rows.view(np.uint64), legs))
    return np.where(legs == 0, rows, mixed)


def _side_code(col: str) -> pl.Expr:
    s = pl.col(col).str.to_lowercase()
    return (
        pl.when(s.is_in(["buy", "b", "bid"]))
        .then(1)
        .when(s.is_in(["sell", "s", "ask"]))
        .then(-1)
        .otherwise(0)
        .cast(pl.Int8)
    )


def _quote_of(symbol: str) -> str | None:
    if symbol.endswith("-PERP"):
        return "USD"
    for q in _KNOWN_QUOTES:
        if symbol.endswith(q) and len(symbol) > len(q):
            return q
    return None


def exchange_mint_specs(valid: pl.DataFrame) -> list[MintSpec]:
    """Specs for exchange symbols: 8 decimals, quote asset guessed from the suffix."""
    return [
        MintSpec(m, m, EXCHANGE_DECIMALS, _quote_of(m))
        for m in valid["mint"].unique(maintain_order=True).to_list()
    ]


def spl_mint_specs(valid: pl.DataFrame) -> list[MintSpec]:
    """Specs for Solana SPL mints quoted in SOL; decimals guessed from the amounts."""
    return [
        MintSpec(m, None, _spl_decimals(g["size"]), "SOL")
        for (m,), g in valid.group_by("mint", maintain_order=True)
    ]


def _first_str(df: pl.DataFrame, col: str, default: str) -> str:
    if col in df.columns:
        vals = df[col].drop_nulls()
        if len(vals):
            v = re.sub(r"[^A-Za-z0-9_.\-]", "_", str(vals[0]))[:64].lstrip("_.-")
            if v:
                return v
    return default


def _trade_uid(df: pl.DataFrame, ts: pl.Series, price: pl.Series, size: pl.Series,
               side: pl.Series) -> np.ndarray:  # fmt: skip
    """A trade's stable id: its trade_id, else its transaction leg, else its values.

    - `trade_id` (integers as they are, unsigned 64-bit ones by their bits; text hashed);
    - else `signature` plus the leg's position among the rows with that signature in
      file order: several trades of one transaction (multi-leg swaps, bot round trips)
      are distinct events even when their time, price and size agree;
    - else a hash of (ts, price, size, side), so an exact repeat of a row is a duplicate.
    A row whose identity column is null falls back to the value hash.
    """
    by_values = to_int64(
        combine(
            as_u64(ts.fill_null(0).to_numpy()),
            as_u64(price.fill_null(np.nan).to_numpy()),
            as_u64(size.fill_null(np.nan).to_numpy()),
            hash_strings(side),
        )
    )
    if "trade_id" in df.columns:
        tid = df["trade_id"]
        if tid.dtype.is_integer():
            ids = as_u64(tid.fill_null(0).cast(pl.UInt64, wrap_numerical=True).to_numpy())
            own = to_int64(ids)
        else:
            # Text ids that are integers (CSV) keep their value, as in a Parquet file.
            txt = text(df, "trade_id")
            as_int = txt.str.strip_chars().cast(pl.Int64, strict=False)
            own = np.where(as_int.is_null().to_numpy(), to_int64(hash_strings(txt)),
                           as_int.fill_null(0).to_numpy())  # fmt: skip
        return np.where(tid.is_null().to_numpy(), by_values, own)
    if "signature" in df.columns:
        sig = text(df, "signature")
        leg = pl.DataFrame({"s": sig}).select(pl.int_range(pl.len()).over("s")).to_series()
        own = to_int64(combine(hash_strings(sig), as_u64(leg.cast(pl.Int64).to_numpy())))
        return np.where(sig.is_null().to_numpy(), by_values, own)
    return by_values


def _spl_decimals(sizes: pl.Series) -> int:
    """Guess an SPL token's decimals (6 or 9) from the finest fraction its sizes show.

    Sources that already divided raw amounts by 10**decimals print at most that many
    fractional digits; pump.fun and most new tokens use 6, older ones 9.
    """
    digits = 0
    for v in sizes.drop_nulls().to_list()[:10_000]:
        text = repr(float(v))
        if "e" in text or "." not in text:
            continue
        digits = max(digits, len(text.split(".")[1].rstrip("0")))
    return 9 if digits > 6 else 6


class TradesFormat:
    """Exchange or DEX trade ticks: `ts, symbol|mint, price, size, side [, trade_id]`.

    Maps 1 row -> 1 tick: price as given (quote per whole token), size in raw units
    (exchange symbols: 8 decimals; a `mint` column means Solana SPL tokens quoted in
    SOL, 6 or 9 decimals), side from `side`, liquidity unknown (NaN). The
    uid is `trade_id` when present, else a hash of (ts, price, size, side), so an
    exact repeat of a row counts as a duplicate.
    """

    name = "trades"
    columns = "ts, symbol|mint, price, size, side"

    def matches(self, columns: set[str]) -> bool:
        """Trade files have price, size and side and an instrument column."""
        return {"ts", "price", "size", "side"} <= columns and bool({"symbol", "mint"} & columns)

    def default_source(self, df: pl.DataFrame) -> str:
        """The `venue` column if any, else the `dex` column, else 'trades'."""
        return _first_str(df, "venue", _first_str(df, "dex", "trades"))

    def normalise(self, df: pl.DataFrame) -> Normalised:
        """One normalised row per trade."""
        inst = "symbol" if "symbol" in df.columns else "mint"
        ts = parse_ts(df["ts"])
        price, price_bad = numeric(df, "price", "price_not_numeric")
        size, size_bad = numeric(df, "size", "size_not_numeric")
        side = text(df, "side")
        rows = pl.DataFrame(
            {
                "row_no": np.arange(df.height, dtype=np.int64),
                "ts_ns": ts.ns,
                "ts_reason": ts.reason,
                "cast_reason": first_reason([price_bad, size_bad]),
                "mint": text(df, inst),
                "price": price,
                "size": size,
                "liquidity": pl.Series([None] * df.height, dtype=pl.Float64).fill_null(np.nan),
                "uid": _trade_uid(df, ts.ns, price, size, side),
                "side": pl.DataFrame({"side": side}).select(_side_code("side")).to_series(),
                "spl": pl.Series([inst == "mint"] * df.height, dtype=pl.Boolean),
            }
        )
        return Normalised(rows, liquidity_required=False)

    def mint_specs(self, valid: pl.DataFrame) -> list[MintSpec]:
        """Exchange symbols: 8 decimals, quote from the suffix; Solana mints: SPL, in SOL."""
        if valid.height and bool(valid["spl"][0]):
            return spl_mint_specs(valid)
        return exchange_mint_specs(valid)

    def ticks(self, valid: pl.DataFrame) -> pl.DataFrame:
        """One tick per trade."""
        return valid.select(
            "ts_ns", "mint_id", "price", "side", "liquidity", "uid", size=raw_units(pl.col("size"))
        )

    def signals(self, valid: pl.DataFrame) -> pl.DataFrame | None:
        """Trades carry no signals."""
        return None


class DexSwapsFormat(TradesFormat):
    """Solana DEX swap legs (Substreams `sf.solana.dex.trades.v1` output).

    Maps 1 leg -> 1 tick: price = SOL per token, size = token amount (decimals 6 or 9,
    guessed per mint from the amounts), side = the trader's side on the token, pool
    liquidity unknown (the file has vault deltas, not reserves). Legs keep file order
    (`row_in_block`), which is chain order inside the block. The uid hashes
    (signature, ix_index, pool, mint, side), so the same leg in two files matches.
    """

    name = "solana_dex_swaps"
    columns = "ts, mint, price, size, side, signature, pool"

    def matches(self, columns: set[str]) -> bool:
        """Swap files have a transaction signature and a pool."""
        return {"ts", "mint", "price", "size", "side", "signature", "pool"} <= columns

    def default_source(self, df: pl.DataFrame) -> str:
        """Always 'solana_dex'."""
        return "solana_dex"

    def normalise(self, df: pl.DataFrame) -> Normalised:
        """One normalised row per swap leg."""
        n = super().normalise(df)
        if "ix_index" in df.columns:
            ix, _ = numeric(df, "ix_index", "ix_not_numeric")
            ix_i = ix.fill_nan(None).fill_null(-1).clip(-(2**62), 2**62).cast(pl.Int64)
        else:
            ix_i = pl.Series([0] * df.height, dtype=pl.Int64)
        uid = combine(
            hash_strings(text(df, "signature")),
            as_u64(ix_i.to_numpy()),
            hash_strings(text(df, "pool")),
            hash_strings(text(df, "mint")),
            hash_strings(text(df, "side")),
        )
        return Normalised(n.rows.with_columns(uid=pl.Series(to_int64(uid))), False)

    def mint_specs(self, valid: pl.DataFrame) -> list[MintSpec]:
        """SPL tokens quoted in SOL; decimals guessed from the amounts."""
        return spl_mint_specs(valid)


_INTERVAL_RE = re.compile(r"^(\d+)([smhdw])$")
_UNIT_NS = {
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
    "d": 86_400_000_000_000,
    "w": 604_800_000_000_000,
}


def _interval_ns(df: pl.DataFrame, ts: pl.Series, inst: str) -> pl.Series:
    """Bar length per row: from the `interval` column, else the symbol's median step."""
    if "interval" in df.columns:
        parsed = [
            (int(m.group(1)) * _UNIT_NS[m.group(2)]) if (m := _INTERVAL_RE.match(str(v))) else None
            for v in text(df, "interval").to_list()
        ]
        return pl.Series("interval_ns", parsed, dtype=pl.Int64)
    steps = (
        pl.DataFrame({"mint": text(df, inst), "ts": ts})
        .with_columns(step=pl.col("ts").diff().over("mint"))
        .with_columns(pl.col("step").filter(pl.col("step") > 0).median().over("mint"))
    )
    return steps["step"].cast(pl.Int64).alias("interval_ns")


class BarsFormat:
    """OHLCV bars: `ts (bar open), symbol, open, high, low, close, volume [, interval]`.

    Each bar becomes four ticks inside its own interval [t, t + iv), so nothing of a
    bar is visible before the bar opened and its close not before its last instant:

        open at t, low at t + iv/3, high at t + 2*iv/3, close at t + iv - 1 ns.

    Low comes before high because Clanka trades long only: an open position then
    meets the bar's low (its stop) before the bar's high (its targets), which is the
    pessimistic order. Volume is split evenly over the four ticks in raw units (the
    remainder goes to the close); side is unknown (0); liquidity unknown (NaN).
    `volume` is base units, except for venues in QUOTE_VOLUME_VENUES, where it is
    divided by the bar's typical price (h + l + c) / 3.
    """

    name = "bars"
    columns = "ts, symbol|mint, open, high, low, close, volume"

    def matches(self, columns: set[str]) -> bool:
        """Bar files have open, high, low, close and volume."""
        return {"ts", "open", "high", "low", "close", "volume"} <= columns and bool(
            {"symbol", "mint"} & columns
        )

    def default_source(self, df: pl.DataFrame) -> str:
        """The `venue` column if any, else 'bars'."""
        return _first_str(df, "venue", "bars")

    def normalise(self, df: pl.DataFrame) -> Normalised:
        """One normalised row per bar; prices checked on all of O, H, L, C."""
        inst = "symbol" if "symbol" in df.columns else "mint"
        parsed = parse_ts(df["ts"])
        ts = parsed.ns
        ohlc = [numeric(df, k, "price_not_numeric") for k in ("open", "high", "low", "close")]
        o, h, lo, c = (v for v, _ in ohlc)
        vol, vol_bad = numeric(df, "volume", "size_not_numeric")
        if "venue" in df.columns:
            quote_vol = text(df, "venue").is_in(list(QUOTE_VOLUME_VENUES))
            typical = (h + lo + c) / 3
            vol = pl.Series(
                np.where(
                    quote_vol.fill_null(False).to_numpy(),
                    (vol / typical).to_numpy(),
                    vol.to_numpy(),
                )
            )
        rows = pl.DataFrame(
            {
                "row_no": np.arange(df.height, dtype=np.int64),
                "ts_ns": ts,
                "ts_reason": parsed.reason,
                "cast_reason": first_reason([*(r for _, r in ohlc), vol_bad]),
                "mint": text(df, inst),
                "open": o,
                "high": h,
                "low": lo,
                "close": c,
                "size": vol,
                "interval_ns": _interval_ns(df, ts, inst),
            }
        ).with_columns(
            price=pl.col("close"),
            price_min=pl.min_horizontal("open", "high", "low", "close"),
            price_max=pl.max_horizontal("open", "high", "low", "close"),
            price_max_nf=pl.max_horizontal(
                *(~pl.col(k).is_finite() for k in ("open", "high", "low", "close"))
            ),
            liquidity=pl.lit(np.nan),
        )
        rows = rows.with_columns(
            price_min=pl.when(pl.col("price_max_nf")).then(pl.lit(np.nan)).otherwise("price_min"),
            format_reason=pl.when(
                (pl.col("high") < pl.max_horizontal("open", "close", "low"))
                | (pl.col("low") > pl.min_horizontal("open", "close"))
            )
            .then(pl.lit("ohlc_inconsistent"))
            .when(pl.col("interval_ns").is_null() | (pl.col("interval_ns") <= 0))
            .then(pl.lit("interval_unknown"))
            .otherwise(None),
            uid=pl.Series(
                to_int64(combine(hash_strings(text(df, inst)), as_u64(ts.fill_null(0).to_numpy())))
            ),
        ).drop("price_max_nf")
        return Normalised(rows, liquidity_required=False)

    def mint_specs(self, valid: pl.DataFrame) -> list[MintSpec]:
        """Exchange symbols get 8 decimals and a quote asset guessed from the suffix."""
        return exchange_mint_specs(valid)

    def ticks(self, valid: pl.DataFrame) -> pl.DataFrame:
        """Four ticks per bar (open, low, high, close), as the class docstring says."""
        iv = valid["interval_ns"].to_numpy()
        t = valid["ts_ns"].to_numpy()
        uid = valid["uid"].to_numpy()
        total = valid.select(raw_units(pl.col("size"))).to_series().to_numpy()
        quarter = total // 4
        legs = [
            (t, "open", quarter),
            (t + iv // 3, "low", quarter),
            (t + 2 * iv // 3, "high", quarter),
            (t + iv - 1, "close", total - 3 * quarter),
        ]
        frames = [
            pl.DataFrame(
                {
                    "ts_ns": ts_leg,
                    "mint_id": valid["mint_id"],
                    "price": valid[col],
                    "size": size,
                    "side": np.zeros(valid.height, np.int8),
                    "liquidity": np.full(valid.height, np.nan),
                    "uid": leg_uid(uid, k),
                    "leg": np.full(valid.height, k, np.int8),
                }
            )
            for k, (ts_leg, col, size) in enumerate(legs)
        ]
        return pl.concat(frames).sort("ts_ns", "leg", maintain_order=True).drop("leg")

    def signals(self, valid: pl.DataFrame) -> pl.DataFrame | None:
        """Bars carry no signals."""
        return None


_PUMP_SIGNALS = {
    "unique_buyers": SignalKind.UNIQUE_BUYERS,
    "top3_pct": SignalKind.TOP3_PCT,
    "whale_flag": SignalKind.WHALE_FLAG,
    "bot_like": SignalKind.BOT_LIKE,
    "buy_pressure": SignalKind.BUY_PRESSURE,
    "sell_pressure": SignalKind.SELL_PRESSURE,
}


def _signal_values(df: pl.DataFrame, col: str) -> pl.Series:
    """An optional signal column as Float64: booleans 0/1, anything unreadable null."""
    s = df[col]
    if s.dtype == pl.Boolean or s.dtype.is_numeric():
        return s.cast(pl.Float64)
    if s.dtype == pl.String or s.dtype == pl.Categorical:
        t = s.cast(pl.String).str.strip_chars().str.to_lowercase()
        flags = t.replace_strict({"true": 1.0, "false": 0.0}, default=None, return_dtype=pl.Float64)
        return flags.fill_null(t.cast(pl.Float64, strict=False))
    return pl.Series(col, [None] * len(s), pl.Float64)


class PumpFunFormat:
    """pump.fun bonding-curve snapshots: `ts, mint, sol_in_pool, price_sol, ...`.

    Maps 1 snapshot -> 1 tick with price = price_sol, liquidity = sol_in_pool (the
    curve's virtual SOL reserve). Snapshots have no trade size, so size is the net
    token flow since the mint's previous valid snapshot (the launch state, 30 SOL /
    1.073e9 tokens, for the first): |v_tok(prev) - v_tok(now)| with
    v_tok = 30 * 1.073e9 / sol_in_pool, and side is the sign of the SOL reserve's
    change (+1 buying, -1 selling, 0 unchanged). Both look only backwards. Holder and
    flow columns become `signals` (kinds in engine.codes.SignalKind; flags as 0/1).
    """

    name = "pumpfun_snapshots"
    columns = "ts, mint, sol_in_pool, price_sol"

    def matches(self, columns: set[str]) -> bool:
        """Snapshot files carry the curve's SOL reserve."""
        return {"ts", "mint", "sol_in_pool", "price_sol"} <= columns

    def default_source(self, df: pl.DataFrame) -> str:
        """Always 'pumpfun'."""
        return "pumpfun"

    def normalise(self, df: pl.DataFrame) -> Normalised:
        """One normalised row per snapshot; liquidity is required.

        Holder and flow columns are optional signals: a value that is not a number is
        skipped (the snapshot still counts), booleans count as 0/1.
        """
        parsed = parse_ts(df["ts"])
        ts = parsed.ns
        extra = {k: _signal_values(df, k) for k in _PUMP_SIGNALS if k in df.columns}
        price, price_bad = numeric(df, "price_sol", "price_not_numeric")
        liq, liq_bad = numeric(df, "sol_in_pool", "liquidity_not_numeric")
        mint = text(df, "mint")
        rows = pl.DataFrame(
            {
                "row_no": np.arange(df.height, dtype=np.int64),
                "ts_ns": ts,
                "ts_reason": parsed.reason,
                "cast_reason": first_reason([price_bad, liq_bad]),
                "mint": mint,
                "price": price,
                "size": pl.Series([0.0] * df.height),
                "liquidity": liq,
                "uid": to_int64(combine(hash_strings(mint), as_u64(ts.fill_null(0).to_numpy()))),
                **extra,
            }
        )
        return Normalised(rows, liquidity_required=True)

    def mint_specs(self, valid: pl.DataFrame) -> list[MintSpec]:
        """pump.fun tokens have 6 decimals and trade against SOL."""
        return [
            MintSpec(m, None, 6, "SOL") for m in valid["mint"].unique(maintain_order=True).to_list()
        ]

    def ticks(self, valid: pl.DataFrame) -> pl.DataFrame:
        """One tick per snapshot, with size/side from the change since the last one."""
        sol = pl.col("liquidity")
        prev_sol = sol.shift(1, fill_value=PUMP_V_SOL0).over("mint")
        # k/prev - k/now, written so that nearly equal reserves do not cancel.
        flow = PUMP_K * (sol - prev_sol).abs() / (prev_sol * sol)
        return valid.select(
            "ts_ns",
            "mint_id",
            "price",
            size=raw_units(flow),
            side=pl.when(pl.col("liquidity") > prev_sol)
            .then(1)
            .when(pl.col("liquidity") < prev_sol)
            .then(-1)
            .otherwise(0)
            .cast(pl.Int8),
            liquidity="liquidity",
            uid="uid",
        )

    def signals(self, valid: pl.DataFrame) -> pl.DataFrame | None:
        """One signal per present holder/flow column per snapshot (nulls skipped)."""
        present = [(c, k) for c, k in _PUMP_SIGNALS.items() if c in valid.columns]
        if not present:
            return None
        frames = [
            valid.filter(pl.col(c).is_not_null() & pl.col(c).is_finite()).select(
                "ts_ns",
                "mint_id",
                kind=pl.lit(int(k), pl.Int16),
                value=pl.col(c),
                uid=pl.col("uid"),
                leg=pl.lit(100 + int(k), pl.Int64),
            )
            for c, k in present
        ]
        out = pl.concat(frames).sort("ts_ns", "kind", maintain_order=True)
        uid = leg_uid(out["uid"].to_numpy(), out["leg"].to_numpy())
        return out.with_columns(uid=pl.Series(uid)).drop("leg")


REFERENCE_SYMBOLS = {
    "SOLUSD": SignalKind.SOL_USD, "SOL-USD": SignalKind.SOL_USD, "SOL/USD": SignalKind.SOL_USD,
    "SOLUSDT": SignalKind.SOL_USD, "SOLUSDC": SignalKind.SOL_USD,
}  # fmt: skip
"""Reference symbols Clanka knows, and the global signal each becomes."""


class ReferencePricesFormat:
    """Reference prices: `ts, symbol, price` and nothing to trade (e.g. SOL/USD hourly).

    Each row becomes one global signal (mint id -1) of the symbol's kind, SOLUSD ->
    SignalKind.SOL_USD (USD per SOL), at its own time: the kernel then applies the
    strategy's USD thresholds. No ticks and no mints; a symbol Clanka does not know is
    quarantined (`reference_unknown`).
    """

    name = "reference_prices"
    columns = "ts, symbol, price (no size)"

    def matches(self, columns: set[str]) -> bool:
        """A price per symbol and time, with no trade size or bar columns."""
        return {"ts", "symbol", "price"} <= columns and not (
            {"size", "qty", "volume", "open", "mint", "side"} & columns
        )

    def default_source(self, df: pl.DataFrame) -> str:
        """Always 'reference'."""
        return "reference"

    def normalise(self, df: pl.DataFrame) -> Normalised:
        """One normalised row per price; size 0, liquidity unknown."""
        parsed = parse_ts(df["ts"])
        ts = parsed.ns
        price, price_bad = numeric(df, "price", "price_not_numeric")
        symbol = text(df, "symbol")
        known = symbol.str.to_uppercase().is_in(list(REFERENCE_SYMBOLS))
        rows = pl.DataFrame(
            {
                "row_no": np.arange(df.height, dtype=np.int64),
                "ts_ns": ts,
                "ts_reason": parsed.reason,
                "cast_reason": first_reason([price_bad]),
                "mint": symbol,
                "price": price,
                "size": pl.Series([0.0] * df.height),
                "liquidity": pl.Series([float("nan")] * df.height),
                "uid": to_int64(combine(hash_strings(symbol), as_u64(ts.fill_null(0).to_numpy()))),
                "format_reason": pl.Series(
                    [None if k else "reference_unknown" for k in known.fill_null(False)],
                    dtype=pl.String,
                ),
            }
        )
        return Normalised(rows, liquidity_required=False)

    def mint_specs(self, valid: pl.DataFrame) -> list[MintSpec]:
        """Reference symbols are not instruments to trade: no mints."""
        return []

    def ticks(self, valid: pl.DataFrame) -> pl.DataFrame:
        """No ticks."""
        return pl.DataFrame(
            schema={
                "ts_ns": pl.Int64,
                "mint_id": pl.Int32,
                "price": pl.Float64,
                "size": pl.Int64,
                "side": pl.Int8,
                "liquidity": pl.Float64,
                "uid": pl.Int64,
            }
        )

    def signals(self, valid: pl.DataFrame) -> pl.DataFrame | None:
        """One global signal per price."""
        kinds = [int(REFERENCE_SYMBOLS[m.upper()]) for m in valid["mint"].to_list()]
        return pl.DataFrame(
            {
                "ts_ns": valid["ts_ns"].cast(pl.Int64),
                "mint_id": pl.Series([-1] * valid.height, dtype=pl.Int32),
                "kind": pl.Series(kinds, dtype=pl.Int16),
                "value": valid["price"].cast(pl.Float64),
                "uid": valid["uid"].cast(pl.Int64),
            }
        )


FORMATS: list[Format] = [PumpFunFormat(), DexSwapsFormat(), BarsFormat(), TradesFormat(),
                         ReferencePricesFormat()]  # fmt: skip
"""Detection order: the most specific schemas first."""


def detect(columns: set[str]) -> Format | None:
    """Return the first format whose required columns the file has."""
    for fmt in FORMATS:
        if fmt.matches(columns):
            return fmt
    return None
