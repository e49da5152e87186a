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


DRIFT = MarketParams(mints=120, hours=30, seed=5, launches_until=0.9, drift="rug_traps",
                     drift_day=0.25, trap_chance=1.0)  # fmt: skip
NO_DRIFT = DRIFT.model_copy(update={"drift": "none"})
S = 1_000_000_000


def test_a_drift_market_is_the_market_without_it_until_the_drift_sets_in() -> None:
    """Before drift_day the two markets are the same ticks, byte for byte; after it
    they differ (and the keys differ, so neither dedupes against the other)."""
    a, b = simulate(DRIFT), simulate(NO_DRIFT)
    cut = DRIFT.start_ns + DRIFT.drift_start_ns
    for k in ("ts_ns", "mint", "price", "size", "side", "liquidity", "uid"):
        before_a = a.ticks[k][a.ticks["ts_ns"] < cut]
        before_b = b.ticks[k][b.ticks["ts_ns"] < cut]
        assert before_a.tobytes() == before_b.tobytes(), k
    assert a.ticks["price"].tobytes() != b.ticks["price"].tobytes()
    assert DRIFT.content_key() != NO_DRIFT.content_key()
    assert NO_DRIFT.content_key() == MarketParams(
        mints=120, hours=30, seed=5, launches_until=0.9).content_key()  # fmt: skip


def _first_trap(ts: np.ndarray, liq: np.ndarray, drift_at: int, *, thin: bool = True) -> int | None:
    """The docstring's rule, worked out from a mint's ticks alone: minute marks from the
    drift's start (the first trade 60 s or more after the last mark), the pool price at
    a mark is liquidity^2 / k, and a mark traps when liquidity < 50 SOL and the price is
    5% or more above the mark five marks earlier (chance 1 here). A mint trading less
    than 5 times in 300 s is dead (0.004 trades/s; a live one makes about 36): no marks.
    thin=False: the first such rise with 50 SOL or more instead (None after a trap)."""
    marks: list[float] = []
    next_mark = 0
    for i, (t, v) in enumerate(zip(ts.tolist(), liq.tolist(), strict=True)):
        if t < drift_at or t < next_mark:
            continue
        if i >= 5 and t - ts[i - 5] > 300 * S:
            return None  # dead (a rug came first): a dead mint has no marks
        now = v * v / K
        ref = marks[-5] if len(marks) >= 5 else None
        marks.append(now)
        next_mark = t + 60 * S
        if ref is not None and now >= ref * 1.05:
            if v < 50.0:
                return int(t) if thin else None
            if not thin:
                return int(t)
    return None


def test_rug_traps_spring_on_thin_momentum_and_kill_the_mint() -> None:
    """With trap_chance 1, every mint whose thin pool rose 5% over five marks after the
    drift set in is rugged 30-150 s later: a run of sells seconds apart (the developer
    and the top holders), then it is all but silent (the dead regime's 0.004 trades/s).
    The same rise in a pool of 50 SOL or more is no trap: most such mints live on."""
    m = simulate(DRIFT)
    t = m.ticks
    rel = t["ts_ns"] - DRIFT.start_ns
    horizon = int(DRIFT.hours * 3600 * S)
    trapped = 0
    for mint in np.unique(t["mint"]):
        sel = t["mint"] == mint
        ts, liq, side = rel[sel], t["liquidity"][sel], t["side"][sel]
        at = _first_trap(ts, liq, DRIFT.drift_start_ns)
        if at is None or at + 2400 * S > horizon:
            continue
        trapped += 1
        window = np.flatnonzero((ts >= at + 30 * S) & (ts <= at + 160 * S))
        # The rug: consecutive sells 0.2-2.2 s apart (developer and top holders)...
        run = [k for k in window if side[k] == -1 and k + 1 < len(ts) and side[k + 1] == -1
               and 0.2 * S <= ts[k + 1] - ts[k] <= 2.2 * S]  # fmt: skip
        assert run, f"mint {mint}: no rug's run of sells after the trap at {at}"
        # ...after which the mint is dead.
        later = (ts > at + 200 * S) & (ts <= at + 2000 * S)
        assert np.count_nonzero(later) < 30, f"mint {mint}: still trading after its rug"
    assert trapped >= 10
    thick = dead = 0
    for mint in np.unique(t["mint"]):
        sel = t["mint"] == mint
        ts, liq = rel[sel], t["liquidity"][sel]
        at = _first_trap(ts, liq, DRIFT.drift_start_ns, thin=False)
        if at is None or at + 2400 * S > horizon:
            continue
        thick += 1
        dead += np.count_nonzero((ts > at + 200 * S) & (ts <= at + 2000 * S)) < 30
    assert thick >= 10
    assert dead < 0.3 * thick
