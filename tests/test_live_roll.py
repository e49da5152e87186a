"""A live run's roll on its own thread, and the kernel warmed before the first trade.

The loop's periodic roll commits on the run's roll thread while the loop appends to a
new log (`LiveRun.roll(background=True)`). These tests hold it to the synchronous
roll's guarantees: batches reach Parquet in order and complete, a failed roll stops
every later one (a gap would lose batches at recovery) and surfaces on the loop, and
a restart recovers everything from the logs left on disk.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from data.errors import StoreFullError
from data.feed.wire import FeedGap, FeedProblem, FeedTick
from data.store import open_store
from engine.kernel import Kernel, as_input
from replay.live.run import LiveRun, LiveSettings, wal_files
from strategies.config import load_strategy

A = "7GCihgDB8fe6KNjn2MYtkzZcRjQy3t9GHdC8uHYmW2hr"
B = "So11111111111111111111111111111111111111112"
T0 = 1_800_000_000 * 10**9
S = 10**9


class Clock:
    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> int:
        return self.t


def _run(root: Path, clock: Clock, run_id: str = "bg") -> LiveRun:
    return LiveRun(open_store(root, create=True), run_id, load_strategy("momentum_breakout"),
                   LiveSettings(roll_s=2.0), mode="paper", now_ns=clock)  # fmt: skip


def _feed(run: LiveRun, clock: Clock, k0: int, n: int) -> None:
    """n one-tick batches, one a second (a background roll every other), mints A and B."""
    for k in range(k0, k0 + n):
        clock.t = T0 + k * S
        mint = A if k % 3 else B
        run.process_items([FeedTick(mint, 2.5e-8 * (1 + 0.01 * k), 10**9, 1, 40.0, 0,
                                    clock.t, 1000 + k)], None)  # fmt: skip
        run.tick(clock.t)


def _batches(root: Path, run_id: str) -> list[int]:
    st = open_store(root)
    rows = st.con.execute(
        "SELECT batch_no FROM live_batches WHERE source = ? ORDER BY batch_no", [run_id]
    ).fetchall()
    st.close()
    return [int(b) for (b,) in rows]


def test_background_rolls_commit_every_batch_in_order(tmp_path: Path) -> None:
    clock = Clock()
    run = _run(tmp_path / "s", clock)
    _feed(run, clock, 1, 9)
    assert run._roller is not None  # the loop's rolls went to the roll thread
    run._wait_rolls()
    rolled = _batches(tmp_path / "s", "bg")
    assert rolled == list(range(len(rolled))) and len(rolled) >= 6
    # Each rolled log is gone; the open one holds the rest.
    assert len(wal_files(tmp_path / "s", "bg")) == 1
    rep = run.close()
    assert _batches(tmp_path / "s", "bg") == list(range(9))
    assert rep["ticks_processed"] == 9


def test_a_failed_roll_stops_later_rolls_and_a_restart_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    run = _run(tmp_path / "s", clock)
    real = LiveRun._roll
    calls = {"n": 0}

    def roll_once_then_fail(self: LiveRun, *args: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise StoreFullError("disk full: (test) the roll's segment cannot be written")
        real(self, *args)

    monkeypatch.setattr(LiveRun, "_roll", roll_once_then_fail)
    with pytest.raises(StoreFullError, match="disk full"):
        _feed(run, clock, 1, 12)  # the failure comes up on the loop at a later turn,
        run._wait_rolls()  # or here, if the roll thread was slower than the loop
    first = _batches(tmp_path / "s", "bg")
    assert first and first == list(range(len(first)))  # the first roll only: no gap
    with pytest.raises(StoreFullError):
        run.roll(background=True)
        run._wait_rolls()  # every roll after the failure refuses to run
    assert calls["n"] == 2
    done = run.batch_no
    run.wal.close()  # type: ignore[union-attr]
    assert run._lock is not None
    run._lock.release()  # the process stops here
    monkeypatch.undo()
    again = _run(tmp_path / "s", clock)
    assert again.recovered_batches == done
    assert _batches(tmp_path / "s", "bg") == list(range(done))
    again.close()


def test_a_warmed_kernel_makes_the_same_events_and_state(tmp_path: Path) -> None:
    strat = load_strategy("momentum_breakout")
    n = 400
    rng = np.random.default_rng(3)
    price = 3e-8 * np.exp(np.cumsum(rng.normal(0, 0.02, n)))
    batch = as_input(kind=np.zeros(n, np.int8), ts=T0 + np.arange(n, dtype=np.int64) * S,
                     seq=np.arange(n, dtype=np.int64), mint=rng.integers(0, 3, n),
                     price=price, size=rng.integers(10**8, 10**11, n),
                     liq=np.full(n, 40.0))  # fmt: skip
    plain = Kernel(strat.vector(), strat.conditions, np.full(3, 1e6))
    warmed = Kernel(strat.vector(), strat.conditions, np.full(3, 1e6))
    warmed.warm()
    a = plain.run_all(batch, split_marks=False)
    b = warmed.run_all(batch, split_marks=False)
    assert len(a[0]) > 0
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1], equal_nan=True)
    for x, y in zip(plain.state, warmed.state, strict=True):
        assert np.array_equal(x, y, equal_nan=True)


def _mixed_feed(run: LiveRun, clock: Clock) -> None:
    """Ticks alone and in threes, heartbeats, a bad frame, a gap, new mints midway."""
    for k in range(1, 40):
        clock.t = T0 + k * S
        if k % 5 == 0:
            ticks = [FeedTick(m, 3e-8 + k * 1e-10, 10**8 * k, 1, 30.0 + k, 0, clock.t + j,
                              5000 + 3 * k + j)
                     for j, m in enumerate([A, B, f"Mint{k % 4}"])]  # fmt: skip
        else:
            ticks = [FeedTick(A, 3e-8 + k * 1e-10, 10**9, -1, 35.0, 0, clock.t, 5000 + 3 * k)]
        items: list[FeedTick | FeedProblem | FeedGap] = list(ticks)
        if k == 7:
            items.append(FeedProblem("bad_json", "not JSON", "{oops", clock.t))
        if k == 11:
            items.append(FeedGap(clock.t - 3 * S, clock.t, 2, "connection reset"))
        run.process_items(items, clock.t + 500 if k % 4 == 0 else None)


def _table(root: Path, sql: str) -> list[tuple[object, ...]]:
    st = open_store(root)
    rows = st.con.execute(sql).fetchall()
    st.close()
    # NaN (a heartbeat's liquidity) compared as the value it stands for
    return [tuple("NaN" if isinstance(v, float) and v != v else v for v in r) for r in rows]


def test_a_roll_of_gathered_inputs_writes_what_a_roll_from_the_log_writes(tmp_path: Path) -> None:
    clock = Clock()
    run = _run(tmp_path / "a", clock, "same")
    _mixed_feed(run, clock)
    run.close()  # rolled from what the loop gathered
    clock = Clock()
    crashed = _run(tmp_path / "b", clock, "same")
    _mixed_feed(crashed, clock)
    crashed.sync()
    assert crashed._lock is not None
    crashed._lock.release()  # never rolled: recovery rolls the records read from the log
    _run(tmp_path / "b", clock, "same").close()
    for sql in (
        "SELECT * EXCLUDE (appended_ns) FROM live_batches ORDER BY seq",
        "SELECT * FROM feed_inputs ORDER BY seq",
        "SELECT * EXCLUDE (seq) FROM quarantine ORDER BY seq",
        "SELECT * FROM feed_gaps WHERE reason <> 'engine restart' ORDER BY seq",
        "SELECT mint_id, mint, decimals, source FROM mints ORDER BY mint_id",
    ):
        a, b = _table(tmp_path / "a", sql), _table(tmp_path / "b", sql)
        assert a and a == b, sql
    (n,) = _table(tmp_path / "a", "SELECT count(*) FROM feed_inputs WHERE kind = 0")[0]
    assert n == 39 + 7 * 2  # every tick: one a second, two more every fifth second
