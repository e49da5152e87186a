"""Crash safety: SIGKILL a writer anywhere; the store must open whole and exact."""

from __future__ import annotations

import multiprocessing
import os
import random
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from data.store import open_store
from tests import crash_writer

TRIALS = int(os.environ.get("CLANKA_CRASH_TRIALS", "24"))
SILENCE_S = 60.0
"""A child that says nothing for this long has hung: the test fails, naming it."""

_FORKS = multiprocessing.get_context("forkserver")
_PRELOAD = ["tests.crash_writer", "pandas", "pyarrow.compute", "pyarrow.fs",
            "pyarrow.pandas_compat", "pyarrow.parquet"]  # fmt: skip
"""The writer, and what its first append and compaction import lazily (pyarrow's
conversions import pandas): 0.9 s a child, paid once by the server instead."""
_FORKS.set_forkserver_preload(_PRELOAD)


class Writer:
    """A `tests.crash_writer` child forked from a server that imported it once.

    Its protocol lines come over a pipe; SIGKILL and the exit code are a real process's.
    """

    def __init__(self, store: Path, *extra: str) -> None:
        recv, send = _FORKS.Pipe(duplex=False)
        self.proc = _FORKS.Process(target=crash_writer.child, args=([str(store), *extra], send),
                                   name="crash-writer")  # fmt: skip
        self.proc.start()
        send.close()  # the child holds the only sending end: its death is our EOF
        self._recv = recv

    def lines(self) -> Iterator[str]:
        """Every line the child sends, until it exits (and its last lines are read)."""
        while True:
            if not self._recv.poll(SILENCE_S):
                self.proc.kill()
                raise AssertionError(f"the writer said nothing for {SILENCE_S:.0f} s")
            try:
                yield self._recv.recv_bytes().decode()
            except EOFError:
                return

    def finish(self) -> tuple[list[str], int]:
        """The lines not read yet, and the exit code (-9 for SIGKILL, 137 for a die-at)."""
        rest = list(self.lines())
        self.proc.join()
        self._recv.close()
        assert self.proc.exitcode is not None
        return rest, self.proc.exitcode


def _check_store(root: Path, acked: set[int], maybe: int | None) -> set[int]:
    """Assert every invariant after a crash; return the batch ids now committed."""
    # Before recovery: every *.parquet a plain glob can see is a complete file.
    for p in root.rglob("*.parquet"):
        assert pq.ParquetFile(p).metadata.num_rows > 0  # raises on a torn file
    store = open_store(root)  # runs recovery
    assert not [p for p in root.rglob("*") if p.name.endswith(".tmp")], "temp file left"
    listed = {root / s.path for f in ("ticks", "signals") for s in store.segments(f)}
    in_tree = {p for d in ("ticks", "signals") for p in (root / d).rglob("*.parquet")}
    assert listed == in_tree, "family trees must hold exactly the committed segments"
    fams = {}
    for fam in ("ticks", "signals"):
        chunks = list(store.scan(fam, ["uid"]))
        uid = np.concatenate([c["uid"] for c in chunks]) if chunks else np.array([], np.int64)
        seq = np.concatenate([c["seq"] for c in chunks]) if chunks else np.array([], np.int64)
        assert len(np.unique(seq)) == len(seq) == store.rows(fam)
        assert np.array_equal(np.sort(seq), np.arange(len(seq))), "seq must have no holes"
        (n,) = store.con.sql(f"SELECT count(*) FROM {fam}").fetchall()[0]
        assert n == len(uid)
        fams[fam] = np.sort(uid)
    assert np.array_equal(fams["ticks"], fams["signals"]), "a transaction was split"
    batches = set((fams["ticks"] // 1000).tolist())
    assert acked <= batches, f"acknowledged batches lost: {sorted(acked - batches)}"
    extra = batches - acked
    assert extra <= ({maybe} if maybe is not None else set()), f"unexpected batches {extra}"
    store.close()
    return batches


def _run_trial(root: Path, committed: set[int], rng: random.Random, *args: str) -> set[int]:
    """Kill the child at a point of its own progress: after its k-th commit (k >= 1) and
    then after j more of its lines (0: right after that ACK; 1: inside the next
    transaction, which has begun; 2+: later still), whatever the machine's speed."""
    child = Writer(root, "--seed", str(rng.randrange(10**6)), *args)
    lines = child.lines()
    line = next(lines, "")
    assert line.startswith("READY"), f"child failed to start: {line!r}"
    acks_wanted, then = rng.randint(1, 3), rng.randint(0, 3)
    seen: list[str] = []
    acks = 0
    for ln in lines:
        seen.append(ln)
        assert not ln.startswith("ERROR"), ln
        if ln.startswith("ACK"):
            acks += 1
        if acks >= acks_wanted:
            if then == 0:
                break
            then -= 1
    child.proc.kill()  # SIGKILL
    rest, _ = child.finish()
    acked = set(committed)
    inflight: int | None = None
    for ln in [*seen, *rest]:
        parts = ln.split()
        if parts and parts[0] == "BEGIN":
            inflight = int(parts[1])
        elif parts and parts[0] == "ACK":
            acked.add(int(parts[1]))
            inflight = None
    return _check_store(root, acked, inflight)


@pytest.mark.slow
def test_sigkill_during_appends(tmp_path: Path) -> None:
    rng = random.Random(1234)
    committed: set[int] = set()
    for _ in range(TRIALS):
        committed = _run_trial(tmp_path / "s", committed, rng)
    assert len(committed) > TRIALS  # the trials really did commit work between kills


@pytest.mark.slow
def test_sigkill_during_appends_and_compactions(tmp_path: Path) -> None:
    rng = random.Random(99)
    committed: set[int] = set()
    for _ in range(TRIALS):
        committed = _run_trial(tmp_path / "s", committed, rng, "--compact-every", "3")
    assert len(list((tmp_path / "s" / "_retired").rglob("*.parquet"))) > 0


@pytest.mark.slow
@pytest.mark.parametrize("compact", [False, True])
def test_crash_at_every_durable_step(tmp_path: Path, compact: bool) -> None:
    """Exit abruptly at the 1st, 2nd, ... durable step of two transactions (+ a compaction)."""
    extra = ["--batches", "2"] + (["--compact-every", "2"] if compact else [])
    step, saw_clean_exit = 0, False
    while not saw_clean_exit:
        step += 1
        root = tmp_path / f"s{step}"
        out, code = Writer(root, "--die-at-step", str(step), *extra).finish()
        saw_clean_exit = code == 0
        assert code in (0, 137), out[-1:]
        acked = {int(ln.split()[1]) for ln in out if ln.startswith("ACK")}
        begun = [int(ln.split()[1]) for ln in out if ln.startswith("BEGIN")]
        maybe = begun[-1] if begun and begun[-1] not in acked else None
        if (root / "_manifest.json").exists():
            _check_store(root, acked, maybe)
    assert step > 10  # the protocol really has that many steps to crash in
