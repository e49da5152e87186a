"""Importers: real files, hand-worked mappings, validation and idempotency."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from data.errors import ImportFileError
from data.importers import import_file
from data.store import EventStore
from tests.factories import NS, T0

EXPECTED_ROWS = {
    # file: (rows in file, format, ticks, quarantined), from the data README's counts
    "solana_dex_swaps_2025-07-24_slot355327313.parquet": (87, "solana_dex_swaps", 87, 0),
    "binance_btcusdt_trades_2021-01-08.parquet": (2001, "trades", 2001, 0),
    "binance_xrpeth_trades_2019-10-11.parquet": (5929, "trades", 5929, 0),
    "ftx_btcperp_1m_2021-12-31_to_2022-01-20.parquet": (28859, "bars", 4 * 28859, 0),
    "binance_btcpairs_5m_2018-01-10_to_2018-01-30.parquet": (28756, "bars", 4 * 28756, 0),
    "binance_adabtc_1m_2021-11-27.parquet": (10, "bars", 40, 0),
    "pumpfun_curve_snapshots_2025-06-06.parquet": (6012, "pumpfun_snapshots", 6012, 0),
    # README: price_sol is null in 11 rows (9 failed reads, 2 migrated rows).
    "pumpfun_curve_snapshots_2025-06-07.parquet": (9688, "pumpfun_snapshots", 9677, 11),
    # README: 12 signatures carry two legs each, not duplicates: all 680 are kept.
    "pumpfun_trades_2025-01-30_to_2025-01-31.parquet": (680, "trades", 680, 0),
    # README: 31 multi-leg signatures (distinct events), one 0-lamport sell at price 0.
    "pumpfun_trades_2025-10-20.parquet": (1292, "trades", 1291, 1),
    # README: 2,161 hourly SOL/USD points: reference prices, global signals, no ticks.
    "sol_usd_hourly_2024-12-01_to_2025-03-01.parquet": (2161, "reference_prices", 0, 0),
}
REFUSED: dict[str, str] = {}


def _ticks(store: EventStore, mint: str) -> list[tuple]:
    return store.con.sql(
        "SELECT t.ts_ns, t.price, t.size, t.side, t.liquidity FROM ticks t "
        "JOIN mints m USING (mint_id) WHERE m.mint = $m ORDER BY t.ts_ns, t.seq",
        params={"m": mint},
    ).fetchall()


def test_every_shared_file_imports_and_reimport_adds_nothing(
    store: EventStore, shared_data: Path
) -> None:
    files = sorted(shared_data.glob("*.parquet"))
    assert {f.name for f in files} == set(EXPECTED_ROWS) | set(REFUSED)
    total_ticks = 0
    for f in files:
        if f.name in REFUSED:
            with pytest.raises(ImportFileError, match=REFUSED[f.name]):
                import_file(store, f)
            continue
        rows, fmt, n_ticks, bad = EXPECTED_ROWS[f.name]
        r = import_file(store, f)
        assert (r.format, r.rows_in_file, r.quarantined) == (fmt, rows, bad)
        assert r.imported == rows - bad
        assert r.ticks == n_ticks
        total_ticks += n_ticks
    assert store.rows("ticks") == total_ticks
    # One signal per present holder/flow value of each imported snapshot.
    cols = ["unique_buyers", "top3_pct", "whale_flag", "bot_like", "buy_pressure", "sell_pressure"]
    want = 0
    for name in ("pumpfun_curve_snapshots_2025-06-06.parquet",
                 "pumpfun_curve_snapshots_2025-06-07.parquet"):  # fmt: skip
        snap = pl.read_parquet(shared_data / name).filter(pl.col("price_sol").is_not_null())
        want += sum(snap[c].cast(pl.Float64).is_not_null().sum() for c in cols)
    assert store.rows("signals") == want + 2161  # and one SOL/USD signal per hour
    gen = store.manifest.generation
    for f in files:
        if f.name in REFUSED:
            continue
        again = import_file(store, f)
        assert (again.imported, again.skipped_duplicates) == (0, EXPECTED_ROWS[f.name][0])
        assert again.already_imported
    assert store.manifest.generation == gen
    assert store.rows("ticks") == total_ticks


def test_bad_rows_are_quarantined_with_their_reason(
    store: EventStore, shared_data: Path, tmp_path: Path
) -> None:
    src = pl.read_parquet(shared_data / "binance_xrpeth_trades_2019-10-11.parquet")
    good = src.height
    row = src.row(100, named=True)
    later = src.row(200, named=True)
    bad_rows = [
        {**row, "trade_id": -1, "price": float("nan")},  # price_not_finite
        {**row, "trade_id": -2, "size": -5.0},  # size_negative
        {**row, "trade_id": -3, "price": 0.0},  # price_not_positive
        {**row, "trade_id": -4, "price": float("inf")},  # price_not_finite
        {**src.row(240, named=True)},  # duplicate of row 240 (same trade_id)
        {**later, "trade_id": -5, "ts": row["ts"] - 1},  # ts_backwards (inserted after 200)
        {**row, "trade_id": -6, "ts": None},  # ts_unparseable
        {**row, "trade_id": -7, "symbol": ""},  # mint_missing
    ]
    # Insert each bad row right after row 250 so the backwards row follows later ones.
    bad_df = pl.DataFrame(bad_rows, schema=src.schema)
    dirty = pl.concat([src[:251], bad_df, src[251:]])
    path = tmp_path / "dirty.parquet"
    dirty.write_parquet(path)

    r = import_file(store, path)
    assert r.imported == good
    assert r.quarantined == 8
    assert r.quarantine_reasons == {
        "price_not_finite": 2,
        "duplicate": 1,
        "mint_missing": 1,
        "price_not_positive": 1,
        "size_negative": 1,
        "ts_backwards": 1,
        "ts_unparseable": 1,
    }
    q = store.con.sql("SELECT row_no, reason, raw FROM quarantine ORDER BY row_no").fetchall()
    assert [(n, reason) for n, reason, _ in q] == [
        (251, "price_not_finite"),
        (252, "size_negative"),
        (253, "price_not_positive"),
        (254, "price_not_finite"),
        (255, "duplicate"),
        (256, "ts_backwards"),
        (257, "ts_unparseable"),
        (258, "mint_missing"),
    ]
    assert json.loads(q[0][2])["price"] == "nan"
    assert json.loads(q[1][2])["size"] == -5.0
    assert store.rows("ticks") == good


def test_partially_overlapping_file_imports_only_new_rows(
    store: EventStore, shared_data: Path, tmp_path: Path
) -> None:
    src = pl.read_parquet(shared_data / "binance_btcusdt_trades_2021-01-08.parquet")
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    src[:1200].write_parquet(a)
    src[800:].write_parquet(b)
    assert import_file(store, a).imported == 1200
    r = import_file(store, b)
    assert (r.imported, r.skipped_duplicates, r.quarantined) == (801, 400, 0)
    assert store.rows("ticks") == 2001


def test_bars_become_four_ticks_inside_the_bar(store: EventStore, tmp_path: Path) -> None:
    # One 1-minute bar: O=10, H=12, L=9, C=11, volume 1.00000003 base units.
    # Raw volume at 8 decimals = 100,000,003: legs get 25,000,000 each and the close
    # leg the remainder 25,000,003, so they sum to the bar's volume exactly.
    p = tmp_path / "bars.parquet"
    pl.DataFrame(
        {
            "ts": [T0],
            "symbol": ["ABCUSDT"],
            "open": [10.0],
            "high": [12.0],
            "low": [9.0],
            "close": [11.0],
            "volume": [1.00000003],
            "venue": ["binance_spot"],
            "interval": ["1m"],
        }
    ).write_parquet(p)
    import_file(store, p)
    m = 60 * NS
    assert _ticks(store, "ABCUSDT") == [
        (T0, 10.0, 25_000_000, 0, pytest.approx(np.nan, nan_ok=True)),
        (T0 + m // 3, 9.0, 25_000_000, 0, pytest.approx(np.nan, nan_ok=True)),
        (T0 + 2 * m // 3, 12.0, 25_000_000, 0, pytest.approx(np.nan, nan_ok=True)),
        (T0 + m - 1, 11.0, 25_000_003, 0, pytest.approx(np.nan, nan_ok=True)),
    ]
    (dec, quote) = store.con.sql("SELECT decimals, quote FROM mints").fetchall()[0]
    assert (dec, quote) == (8, "USDT")


def test_inconsistent_bar_is_quarantined(store: EventStore, tmp_path: Path) -> None:
    p = tmp_path / "bars.parquet"
    pl.DataFrame(
        {
            "ts": [T0, T0 + 60 * NS],
            "symbol": ["X", "X"],
            "open": [10.0, 10.0],
            "high": [9.0, 12.0],
            "low": [8.0, 9.0],
            "close": [9.5, 11.0],
            "volume": [1.0, 1.0],
            "interval": ["1m", "1m"],
        }
    ).write_parquet(p)
    r = import_file(store, p)
    assert (r.imported, r.quarantine_reasons) == (1, {"ohlc_inconsistent": 1})


def test_pumpfun_snapshot_flow_and_signals(store: EventStore, tmp_path: Path) -> None:
    # Curve: k = 30 * 1.073e9. Reserves go 30 (launch) -> 33 -> 36 -> 36 -> 35 SOL.
    k = Fraction(30 * 1_073_000_000)
    v = [Fraction(30), Fraction(33), Fraction(36), Fraction(36), Fraction(35)]
    tok = [k / x for x in v]
    want_sizes = [round(abs(tok[i] - tok[i + 1]) * 10**6) for i in range(4)]
    assert want_sizes[0] == 97_545_454_545_455  # 1.073e9 - 3.219e10/33 tokens, x 1e6
    p = tmp_path / "pump.parquet"
    sol = [33.0, 36.0, 36.0, 35.0]
    pl.DataFrame(
        {
            "ts": [T0 + i * NS for i in range(4)],
            "mint": ["PumpMint1111pump"] * 4,
            "sol_in_pool": sol,
            "price_sol": [s * s / (30 * 1_073_000_000) for s in sol],
            "unique_buyers": [1, 2, 2, 3],
            "top3_pct": [100.0, 90.0, 90.0, 80.0],
            "whale_flag": [True, False, False, False],
            "bot_like": [False, False, True, False],
            "buy_pressure": [3.0, 3.0, 0.0, 0.0],
            "sell_pressure": [0.0, 0.0, 0.0, 1.0],
        }
    ).write_parquet(p)
    r = import_file(store, p)
    assert (r.ticks, r.signals) == (4, 24)
    got = _ticks(store, "PumpMint1111pump")
    assert [g[2] for g in got] == want_sizes
    assert [g[3] for g in got] == [1, 1, 0, -1]
    assert [g[4] for g in got] == sol
    sig = store.con.sql(
        "SELECT kind_name, value FROM signals WHERE ts_ns = $t ORDER BY kind",
        params={"t": T0},
    ).fetchall()
    assert sig == [
        ("unique_buyers", 1.0),
        ("top3_pct", 100.0),
        ("whale_flag", 1.0),
        ("bot_like", 0.0),
        ("buy_pressure", 3.0),
        ("sell_pressure", 0.0),
    ]
    (dec,) = store.con.sql("SELECT decimals FROM mints").fetchall()[0]
    assert dec == 6


def test_pumpfun_requires_liquidity(store: EventStore, tmp_path: Path) -> None:
    p = tmp_path / "pump.parquet"
    pl.DataFrame(
        {
            "ts": [T0, T0 + NS],
            "mint": ["M", "M"],
            "sol_in_pool": [float("nan"), 31.0],
            "price_sol": [1e-8, 1e-8],
        }
    ).write_parquet(p)
    r = import_file(store, p)
    assert r.quarantine_reasons == {"liquidity_invalid": 1}


def test_trades_side_raw_units_and_ms_timestamps_from_csv(
    store: EventStore, tmp_path: Path
) -> None:
    p = tmp_path / "t.csv"
    # ts in milliseconds; sizes in BTC -> raw units at 8 decimals.
    p.write_text(
        "ts,symbol,price,size,side,trade_id\n"
        "1610064000278,BTCUSDT,39432.48,0.000263,sell,1\n"
        "1610064000310,BTCUSDT,39439.44,0.004376,BUY,2\n"
        "2021-01-08T00:00:01Z,BTCUSDT,39440.00,1.5,other,3\n"
    )
    r = import_file(store, p)
    assert (r.imported, r.quarantined) == (3, 0)
    assert [(t, s, side) for t, _, s, side, _ in _ticks(store, "BTCUSDT")] == [
        (1_610_064_000_278_000_000, 26_300, -1),
        (1_610_064_000_310_000_000, 437_600, 1),
        (1_610_064_001_000_000_000, 150_000_000, 0),
    ]


def test_corrupt_or_truncated_file_leaves_store_unchanged(
    store: EventStore, shared_data: Path, tmp_path: Path
) -> None:
    import_file(store, shared_data / "binance_adabtc_1m_2021-11-27.parquet")
    before = (store.manifest.generation, sorted(p.name for p in store.root.rglob("*")))
    blob = (shared_data / "binance_xrpeth_trades_2019-10-11.parquet").read_bytes()
    bad = tmp_path / "truncated.parquet"
    bad.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ImportFileError, match="corrupt or truncated"):
        import_file(store, bad)
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"PAR1 not really")
    with pytest.raises(ImportFileError, match="store was not changed"):
        import_file(store, junk)
    store.refresh()
    assert (store.manifest.generation, sorted(p.name for p in store.root.rglob("*"))) == before


def test_unrecognised_and_missing_files_are_clear_errors(store: EventStore, tmp_path: Path) -> None:
    p = tmp_path / "weird.parquet"
    pl.DataFrame({"a": [1], "b": [2]}).write_parquet(p)
    with pytest.raises(ImportFileError, match="unrecognised columns"):
        import_file(store, p)
    with pytest.raises(ImportFileError, match="no such file"):
        import_file(store, tmp_path / "nope.parquet")
    empty = tmp_path / "empty.parquet"
    pl.DataFrame({"ts": [], "symbol": [], "price": [], "size": [], "side": []}).write_parquet(empty)
    with pytest.raises(ImportFileError, match="no rows"):
        import_file(store, empty)


def test_first_acceptable_copy_of_an_event_wins(store: EventStore, tmp_path: Path) -> None:
    # Trade 7 first arrives with a timestamp that goes backwards (refused), then again
    # correctly: the good copy must be imported, not refused as a duplicate of the bad.
    p = tmp_path / "t.parquet"
    pl.DataFrame(
        {
            "ts": [T0 + 10 * NS, T0 + 5 * NS, T0 + 11 * NS, T0 + 12 * NS],
            "symbol": ["AUSDT"] * 4,
            "price": [1.0, 2.0, 2.0, 3.0],
            "size": [1.0, 1.0, 1.0, 1.0],
            "side": ["buy"] * 4,
            "trade_id": [6, 7, 7, 7],
        }
    ).write_parquet(p)
    r = import_file(store, p)
    assert r.quarantine_reasons == {"duplicate": 1, "ts_backwards": 1}
    rows = store.con.sql("SELECT row_no, reason FROM quarantine ORDER BY row_no").fetchall()
    assert rows == [(1, "ts_backwards"), (3, "duplicate")]
    assert [t[1] for t in _ticks(store, "AUSDT")] == [1.0, 2.0]


def test_single_bar_without_interval_is_quarantined_with_its_reason(
    store: EventStore, tmp_path: Path
) -> None:
    p = tmp_path / "bars.parquet"
    pl.DataFrame(
        {
            "ts": [T0],
            "symbol": ["X"],
            "open": [1.0],
            "high": [1.0],
            "low": [1.0],
            "close": [1.0],
            "volume": [1.0],
        }
    ).write_parquet(p)
    assert import_file(store, p).quarantine_reasons == {"interval_unknown": 1}


def test_solana_trades_keyed_by_mint_get_spl_decimals(store: EventStore, tmp_path: Path) -> None:
    p = tmp_path / "t.parquet"
    pl.DataFrame(
        {
            "ts": [T0],
            "mint": ["So1anaMint111"],
            "price": [1e-7],
            "size": [1234.123456789],
            "side": ["buy"],
        }
    ).write_parquet(p)
    import_file(store, p)
    assert store.con.sql("SELECT decimals, quote FROM mints").fetchall() == [(9, "SOL")]
    # 1234.123456789 tokens at 9 decimals = 1,234,123,456,789 raw units.
    assert [t[2] for t in _ticks(store, "So1anaMint111")] == [1_234_123_456_789]


def test_sol_usd_reference_prices_reach_the_kernel_at_their_time(
    store: EventStore, shared_data: Path
) -> None:
    """The pump.fun trades of 2025-01-30/31 with the SOL/USD hours around them: a replay
    that ends at the last trade has seen exactly the SOL/USD points stamped before it."""
    from engine.layout import GF_SOL_USD
    from replay.core.runner import run_replay
    from strategies.config import load_strategy

    import_file(store, shared_data / "pumpfun_trades_2025-01-30_to_2025-01-31.parquet")
    r = import_file(store, shared_data / "sol_usd_hourly_2024-12-01_to_2025-03-01.parquet")
    assert (r.format, r.ticks, r.signals, r.mints_added) == ("reference_prices", 0, 2161, 0)
    (row,) = store.con.sql(
        "SELECT count(*), min(mint_id), max(mint_id), any_value(kind_name) FROM signals"
    ).fetchall()
    assert row == (2161, -1, -1, "sol_usd")
    ((last_tick,),) = store.con.sql("SELECT max(ts_ns) FROM ticks").fetchall()
    ref = pl.read_parquet(shared_data / "sol_usd_hourly_2024-12-01_to_2025-03-01.parquet")
    want = ref.filter(pl.col("ts") <= last_tick).sort("ts")["price"][-1]
    strat = load_strategy("momentum_breakout")
    done = run_replay(store, strat, strat.vector(), end_ts=last_tick + 1, write=False)
    assert done.kernel.state.globf[GF_SOL_USD] == want
    assert 200 < want < 260  # late January 2025
