"""A live batch's inputs as the log records them, worked out by hand.

`LiveRun.process_items` builds each batch in one input block whose bytes the log
record takes as they are (`data.wal.input_block`); these tests pin every column of
tick and heartbeat batches on both clocks, and hold the fast encodings to the general
ones byte for byte.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Literal

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as hs

from data.feed.wire import FeedTick
from data.store import open_store
from data.wal import INPUT_COLUMNS, WalBatch, encode, extras_json, input_block, read_log
from engine.layout import N_OUT_F, N_OUT_I
from replay.live.run import LiveRun, LiveSettings, wal_files
from strategies.config import load_strategy

A = "7GCihgDB8fe6KNjn2MYtkzZcRjQy3t9GHdC8uHYmW2hr"
B = "So11111111111111111111111111111111111111112"
T0 = 1_800_000_000 * 10**9
S = 10**9


def _logged(
    tmp_path: Path,
    clock: Literal["wall", "chain"],
    batches: list[tuple[list[FeedTick], int | None]],
) -> list[WalBatch]:
    st = open_store(tmp_path / "s", create=True)
    run = LiveRun(st, "b", load_strategy("momentum_breakout"), LiveSettings(clock=clock),
                  mode="paper", now_ns=lambda: T0 + 100 * S)  # fmt: skip
    for ticks, hb in batches:
        run.process_items(ticks, hb)
    run.sync()
    recs = [r for p in wal_files(st.root, "b") for r in read_log(p, N_OUT_F)[0]]
    run.close()
    return recs


def test_wall_clock_batches_column_by_column(tmp_path: Path) -> None:
    t1 = FeedTick(A, 2.5e-8, 7_000_000, 1, 31.5, T0 - 3 * S, T0 + 5, 11)
    t2 = FeedTick(B, 4.0e-8, 9_000_000, -1, 42.0, T0 - 2 * S, T0 + 3, 12)  # received earlier
    t3 = FeedTick(A, 2.6e-8, 1_000, 1, 31.6, 0, T0 + 20, 13)
    recs = _logged(tmp_path, "wall", [([t1, t2], T0 + 9), ([t3], None), ([], T0 + 15)])
    a, b = 0, 1  # mint ids: registered in sorted order of address
    assert sorted([A, B]) == [A, B]
    r0, r1, r2 = (r.inputs for r in recs)
    # Batch 0: two ticks then a heartbeat. ts: receipt times, kept in order (max so far).
    assert r0["kind"].tolist() == [0, 0, 2]
    assert r0["ts"].tolist() == [T0 + 5, T0 + 5, T0 + 9]
    assert r0["seq"].tolist() == [0, 1, 2]
    assert r0["mint"].tolist() == [a, b, -1]
    assert r0["price"].tolist() == [2.5e-8, 4.0e-8, 0.0]
    assert r0["size"].tolist() == [7_000_000, 9_000_000, 0]
    assert r0["liq"][:2].tolist() == [31.5, 42.0] and math.isnan(r0["liq"][2])
    assert r0["sig_kind"].tolist() == [0, 0, 0] and r0["sig_value"].tolist() == [0.0] * 3
    assert r0["chain_ts"].tolist() == [T0 - 3 * S, T0 - 2 * S, 0]
    assert r0["recv_ns"].tolist() == [T0 + 5, T0 + 3, -1]
    assert r0["uid"].tolist() == [11, 12, 0]
    # Batch 1: one tick, after the heartbeat's time.
    assert r1["ts"].tolist() == [T0 + 20] and r1["seq"].tolist() == [3]
    assert r1["mint"].tolist() == [a] and r1["size"].tolist() == [1_000]
    # Batch 2: a heartbeat alone, earlier than the last tick: held at the last time.
    assert r2["kind"].tolist() == [2] and r2["ts"].tolist() == [T0 + 20]
    assert r2["mint"].tolist() == [-1] and r2["recv_ns"].tolist() == [-1]
    assert [r.extras["first_recv_ns"] for r in recs] == [T0 + 3, T0 + 20, -1]


def test_chain_clock_batches_take_the_trades_times(tmp_path: Path) -> None:
    curve = FeedTick(A, 2.4e-8, 0, 0, 30.0, 0, T0 + 1, 21)  # before any trade: held back
    t1 = FeedTick(B, 4.0e-8, 5, 1, 40.0, T0 - 7 * S, T0 + 2, 22)
    t2 = FeedTick(A, 2.5e-8, 6, 1, 31.0, T0 - 9 * S, T0 + 3, 23)  # an older chain time
    recs = _logged(tmp_path, "chain", [([curve], T0 + 1), ([t1, t2], T0 + 4)])
    assert len(recs) == 2
    assert recs[0].n_in == 0  # nothing before the first trade's time, no heartbeat either
    r = recs[1].inputs
    assert r["kind"].tolist() == [0, 0, 0, 2]
    # The held-back curve update takes the earliest trade time in the batch (the clock
    # starts there), then times never go back: t2's older time is held at t1's.
    assert r["ts"].tolist() == [T0 - 9 * S, T0 - 7 * S, T0 - 7 * S, T0 - 7 * S]
    assert r["uid"].tolist() == [21, 22, 23, 0]
    assert r["recv_ns"].tolist() == [T0 + 1, T0 + 2, T0 + 3, -1]


def _batch(n: int, seed: int, extras: dict[str, object]) -> tuple[WalBatch, WalBatch]:
    rng = np.random.default_rng(seed)
    block, cols = input_block(n)
    for name, dt in INPUT_COLUMNS:
        cols[name][:] = rng.normal(size=n) if dt is np.float64 else rng.integers(-9, 2**62, n)
    out_i = rng.integers(0, 99, (2, N_OUT_I))
    out_f = rng.normal(size=(2, N_OUT_F))
    plain = {k: v.copy() for k, v in cols.items()}
    return (WalBatch(4, 7, 3, cols, out_i, out_f, extras, block),
            WalBatch(4, 7, 3, plain, out_i, out_f, extras))  # fmt: skip


I64 = hs.integers(-(2**63), 2**63 - 1)


@settings(max_examples=60, deadline=None)
@given(n=hs.integers(0, 40), seed=hs.integers(0, 10**6), first=I64, decided=I64)
def test_a_block_record_is_the_column_by_column_record(
    n: int, seed: int, first: int, decided: int
) -> None:
    fast, plain = _batch(n, seed, {"first_recv_ns": first, "decided_ns": decided})
    assert encode(fast) == encode(plain)


VALUES = hs.one_of(hs.integers(-(2**70), 2**70), hs.booleans(), hs.floats(allow_nan=True),
                   hs.none(), hs.text())  # fmt: skip


@given(extras=hs.dictionaries(hs.sampled_from(["first_recv_ns", "decided_ns", "gaps", "x"]),
                              VALUES))  # fmt: skip
def test_extras_are_the_general_encoders_json_byte_for_byte(extras: dict[str, object]) -> None:
    assert extras_json(extras) == json.dumps(extras, separators=(",", ":")).encode()
    timings = {"first_recv_ns": 17, "decided_ns": -1}
    assert extras_json(timings) == b'{"first_recv_ns":17,"decided_ns":-1}'


def test_a_roll_joins_block_and_column_records_into_the_column_by_column_rows() -> None:
    from replay.live.roll_inputs import RollInputs

    a, _ = _batch(3, 1, {})
    b_with, _ = _batch(0, 2, {})  # an empty batch
    c, _ = _batch(2, 3, {})
    _, d = _batch(4, 4, {})  # no block: a control batch, say
    recs = [a, b_with, c, d]
    for no, r in enumerate(recs):
        r.batch_no = 10 + no
    got = RollInputs.of(recs).feed_inputs()
    names = {"ts": "ts_ns", "seq": "in_seq", "kind": "kind", "mint": "mint_id",
             "price": "price", "size": "size", "liq": "liquidity", "sig_kind": "sig_kind",
             "sig_value": "sig_value", "chain_ts": "chain_ts_ns", "recv_ns": "recv_ts_ns",
             "uid": "uid"}  # fmt: skip
    for name, _dt in INPUT_COLUMNS:
        want = np.concatenate([r.inputs[name] for r in recs])
        col = got[names[name]]
        assert np.array_equal(col, want.astype(col.dtype), equal_nan=True), name
    assert got["batch_no"].tolist() == [10] * 3 + [12] * 2 + [13] * 4
    assert got["price"].dtype == np.float64 and got["kind"].dtype == np.int8


def test_a_decoded_record_carries_its_block(tmp_path: Path) -> None:
    from data.wal import WalWriter

    _, plain = _batch(5, 7, {"first_recv_ns": 1, "decided_ns": 2})
    w = WalWriter(tmp_path / "w.log")
    w.append(plain)
    w.close()
    (rec,), _, _ = read_log(tmp_path / "w.log", N_OUT_F)
    assert rec.block is not None and encode(rec) == encode(plain)
    for name, _dt in INPUT_COLUMNS:
        assert np.array_equal(rec.inputs[name], plain.inputs[name], equal_nan=True)
