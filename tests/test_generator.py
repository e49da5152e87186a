"""The synthetic market: determinism, curve arithmetic, regimes, signals, idempotency."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from data.base58 import b58encode
from data.generator.market import MarketParams, generate_into, mint_address, simulate
from data.store import EventStore
from engine.codes import SignalKind

K = 30.0 * 1_073_000_000.0  # pump.fun virtual reserves: 30 SOL x 1.073e9 tokens

SMALL = MarketParams(mints=40, hours=12, seed=11)


@pytest.fixture(scope="module")
def market():  # type: ignore[no-untyped-def]
    return simulate(SMALL)


def test_same_seed_same_bytes_other_seed_differs(market) -> None:  # type: ignore[no-untyped-def]
    again = simulate(SMALL)
    for k in market.ticks:
        assert market.ticks[k].tobytes() == again.ticks[k].tobytes()
    for k in market.signals:
        assert market.signals[k].tobytes() == again.signals[k].tobytes()
    other = simulate(SMALL.model_copy(update={"seed": 12}))
    assert other.ticks["price"].tobytes() != market.ticks["price"].tobytes()


def test_ticks_follow_the_constant_product_curve(market) -> None:  # type: ignore[no-untyped-def]
    t = pl.DataFrame(
        {k: market.ticks[k] for k in ("ts_ns", "mint", "price", "size", "side", "liquidity")}
    )
    t = t.with_columns(prev=pl.col("liquidity").shift(1, fill_value=30.0).over("mint"))
    # A trade moving the SOL reserve from v0 to v1 on x*y=k executes at v0*v1/k.
    want_price = (t["prev"] * t["liquidity"] / K).to_numpy()
    np.testing.assert_allclose(t["price"].to_numpy(), want_price, rtol=1e-9)
    # Tokens moved = k*|1/v0 - 1/v1|; raw size is that in 6-decimal units, rounded down.
    tokens = (K * (t["liquidity"] - t["prev"]).abs() / (t["prev"] * t["liquidity"])).to_numpy()
    assert np.all(np.abs(t["size"].to_numpy() - np.floor(tokens * 1e6)) <= 1)
    # Buys add SOL to the pool, sells remove it.
    up = (t["liquidity"] > t["prev"]).to_numpy()
    assert np.array_equal(up, t["side"].to_numpy() == 1)
    assert t["ts_ns"].is_sorted()
    assert (t["price"] > 0).all()
    assert (t["size"] >= 1).all()


def test_every_regime_occurs_and_rugs_crash_prices(market) -> None:  # type: ignore[no-untyped-def]
    assert set(market.regimes) == {"calm", "pump", "dump", "rug"}
    assert all(v > 0 for v in market.regimes.values())
    t = pl.DataFrame({"mint": market.ticks["mint"], "price": market.ticks["price"]})
    drawdown = t.group_by("mint").agg(dd=pl.col("price").last() / pl.col("price").max())
    assert (drawdown["dd"] < 0.2).sum() >= market.regimes["rug"] // 2


def test_signals_are_the_pumpfun_kinds_with_sane_values(market) -> None:  # type: ignore[no-untyped-def]
    s = pl.DataFrame(market.signals)
    # The generator emits what the pump.fun tracker records: kinds 1-6.
    pumpfun = {int(k) for k in SignalKind if k <= SignalKind.SELL_PRESSURE}
    assert set(s["kind"].unique().to_list()) == pumpfun
    top3 = s.filter(pl.col("kind") == SignalKind.TOP3_PCT)["value"]
    assert top3.min() >= 0 and top3.max() <= 100 + 1e-9
    flags = s.filter(pl.col("kind").is_in([SignalKind.WHALE_FLAG, SignalKind.BOT_LIKE]))
    assert set(flags["value"].unique().to_list()) <= {0.0, 1.0}
    buyers = s.filter(pl.col("kind") == SignalKind.UNIQUE_BUYERS)
    mono = buyers.group_by("mint").agg(ok=pl.col("value").diff().drop_nulls().min() >= 0)
    assert mono["ok"].fill_null(True).all()


def test_generate_into_store_is_labelled_and_idempotent(store: EventStore) -> None:
    p = MarketParams(mints=5, hours=2, seed=3)
    r1 = generate_into(store, p)
    assert r1.ticks > 0
    assert r1.signals > 0
    r2 = generate_into(store, p)
    assert r2.already_generated
    assert store.rows("ticks") == r1.ticks
    (src, n) = store.con.sql("SELECT source, count(*) FROM ticks GROUP BY 1").fetchall()[0]
    assert (src, n) == ("synthetic", r1.ticks)
    syms = [r[0] for r in store.con.sql("SELECT symbol FROM mints ORDER BY mint_id").fetchall()]
    assert syms == ["SYN0000", "SYN0001", "SYN0002", "SYN0003", "SYN0004"]
    (fmt,) = store.con.sql("SELECT format FROM imports").fetchall()[0]
    assert fmt == "synthetic_market"


def test_mint_addresses_are_32_byte_base58() -> None:
    a = mint_address(7, 0)
    assert a != mint_address(7, 1)
    assert a != mint_address(8, 0)
    alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    n = 0
    for ch in a:
        n = n * 58 + alphabet.index(ch)
    assert n.bit_length() <= 256
    # Known vectors: leading zero bytes become '1's; b'hello world' is StV1DL6CwTryKyV.
    assert b58encode(b"\x00\x00\x01") == "112"
    assert b58encode(b"hello world") == "StV1DL6CwTryKyV"


def test_launches_can_spread_over_the_whole_market() -> None:
    """A multi-day market for soaks launches over (almost) all of it; the default keeps
    the first 75%, and its key and ticks are what they were before the option."""
    early = MarketParams(mints=40, hours=10, seed=4)
    late = MarketParams(mints=40, hours=10, seed=4, launches_until=1.0)
    assert early.content_key() != late.content_key()

    def first_ticks(p: MarketParams) -> np.ndarray:
        m = simulate(p)
        _, first = np.unique(m.ticks["mint"], return_index=True)
        return np.asarray(m.ticks["ts_ns"][first] - p.start_ns)

    horizon = 10 * 3600 * 10**9
    assert first_ticks(early).max() < 0.75 * horizon
    assert first_ticks(late).max() > 0.75 * horizon
