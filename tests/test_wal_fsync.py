"""The write-ahead log's background fsync: nothing counts as acknowledged before it ends.

A live run starts its timed fsync on a helper thread and keeps processing frames; the
batches it covers are acknowledged only once it has finished, a failed one acknowledges
nothing, and a plain `sync` waits for one under way.
"""

from __future__ import annotations

import errno
import os
import threading
from pathlib import Path

import numpy as np
import pytest

from data.errors import StoreFullError
from data.wal import WalBatch, WalWriter, read_log
from engine.layout import N_OUT_F, N_OUT_I

FSYNC = os.fsync


def _rec(no: int) -> WalBatch:
    inputs = {name: np.zeros(1, np.float64 if name in ("price", "liq", "sig_value") else np.int64)
              for name in ("kind", "ts", "seq", "mint", "price", "size", "liq", "sig_kind",
                           "sig_value", "chain_ts", "recv_ns", "uid")}  # fmt: skip
    inputs["uid"][0] = no
    return WalBatch(no, 0, 1, inputs, np.zeros((0, N_OUT_I), np.int64), np.zeros((0, N_OUT_F)))


class _Gate:
    """os.fsync on the helper thread held until released; counts those calls.

    The run's own thread (directory fsyncs, plain `sync`) passes straight through.
    """

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.calls = 0
        self.fail: OSError | None = None

    def __call__(self, fd: int) -> None:
        if threading.current_thread() is threading.main_thread():
            FSYNC(fd)
            return
        self.calls += 1
        self.entered.set()
        assert self.release.wait(30)
        if self.fail is not None:
            raise self.fail
        FSYNC(fd)


def test_a_background_fsync_counts_its_records_only_once_finished(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = _Gate()
    monkeypatch.setattr(os, "fsync", gate)
    w = WalWriter(tmp_path / "wal.log")
    for no in range(3):
        w.append(_rec(no))
    done = threading.Event()
    assert w.sync_in_background(done.set)
    assert not w.sync_in_background()  # one at a time
    assert gate.entered.wait(30)
    w.append(_rec(3))  # appends go on during the fsync
    assert (w.unsynced, w.syncing, w.background_done()) == (1, True, 0)
    gate.release.set()
    assert done.wait(30)
    assert w.background_done() == 3  # the three before it began; not the one after
    assert (w.unsynced, w.syncing) == (1, False)
    assert w.sync() == 1
    w.close()
    recs, _, _ = read_log(tmp_path / "wal.log", N_OUT_F)
    assert [int(r.inputs["uid"][0]) for r in recs] == [0, 1, 2, 3]


def test_sync_waits_for_the_background_fsync_and_counts_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = _Gate()
    monkeypatch.setattr(os, "fsync", gate)
    w = WalWriter(tmp_path / "wal.log")
    w.append(_rec(0))
    w.append(_rec(1))
    assert w.sync_in_background()
    assert gate.entered.wait(30)
    w.append(_rec(2))
    threading.Timer(0.05, gate.release.set).start()
    assert w.sync() == 3  # returns only after the background one, then fsyncs the third
    assert gate.calls == 1 and not w.syncing
    w.close()


def test_a_failed_background_fsync_acknowledges_nothing_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = _Gate()
    gate.fail = OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(os, "fsync", gate)
    w = WalWriter(tmp_path / "wal.log")
    w.append(_rec(0))
    done = threading.Event()
    w.sync_in_background(done.set)
    gate.release.set()
    assert done.wait(30)
    with pytest.raises(StoreFullError, match="disk full"):
        w.background_done()
    assert not w.syncing
    monkeypatch.setattr(os, "fsync", FSYNC)
    w.close()


def test_a_live_run_keeps_processing_during_its_fsync_and_acknowledges_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from data.feed.wire import FeedTick
    from data.store import open_store
    from replay.live.run import LiveRun, LiveSettings
    from strategies.config import load_strategy

    st = open_store(tmp_path / "s", create=True)
    clock = [1_800_000_000 * 10**9]
    run = LiveRun(st, "bg", load_strategy("momentum_breakout"), LiveSettings(flush_ms=5),
                  mode="paper", now_ns=lambda: clock[0])  # fmt: skip
    mint = "7GCihgDB8fe6KNjn2MYtkzZcRjQy3t9GHdC8uHYmW2hr"

    def tick(k: int) -> None:
        clock[0] += 1_000_000
        run.process_items([FeedTick(mint, 3e-8, 10**9, 1, 40.0, 0, clock[0] - 1_000, k)], None)

    gate = _Gate()
    monkeypatch.setattr(os, "fsync", gate)
    done = threading.Event()
    run.fsync_done = done.set
    tick(0)
    tick(1)
    clock[0] += 10_000_000
    run.tick(clock[0])  # flush_ms has passed: the fsync starts on the helper thread
    assert gate.entered.wait(30)
    tick(2)
    tick(3)  # processed while the fsync is under way
    run.tick(clock[0])
    assert len(run.stats.durable_ns) == 0  # nothing acknowledged before it ends
    gate.release.set()
    assert done.wait(30)
    run.tick(clock[0])
    assert len(run.stats.durable_ns) == 2  # the two batches it covered
    run.sync()
    assert len(run.stats.durable_ns) == 4
    monkeypatch.setattr(os, "fsync", FSYNC)
    run.close()
