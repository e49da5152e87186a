"""Child process for the crash tests: appends (and compacts) until it is killed.

Protocol on stdout, one line each, flushed: `READY <next_batch>`, then per batch
`BEGIN <id> <rows>` before its transaction and `ACK <id>` after the commit returned.
Batch b's ticks have uid b * 1000 + j, and it writes the same number of signals, so the
parent can check every batch is all there or not there at all, in both families.

With `--die-at-step N` the child instead exits abruptly (os._exit, like SIGKILL) at the
N-th durable filesystem step (fsync, link, rename, directory fsync) of the work.

The tests start it with `child` in a process forked from a server that imported this
module once (multiprocessing's forkserver), its lines sent over a pipe: a fresh
interpreter per trial spent 1.2-1.7 s importing numpy, pyarrow and DuckDB, for a trial
whose own work takes a tenth of that. `python -m tests.crash_writer` runs it alone.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection

import numpy as np

import data.fsio as fsio
from data.store import open_store
from tests.factories import DAY, NS, T0, ticks


def _die_at(step: int) -> None:
    count = [0]

    def wrap(fn):  # type: ignore[no-untyped-def]
        def inner(*a, **k):  # type: ignore[no-untyped-def]
            count[0] += 1
            if count[0] == step:
                os._exit(137)
            return fn(*a, **k)

        return inner

    fsio.os = type(os)("os_proxy")  # type: ignore[assignment]
    for name in dir(os):
        setattr(fsio.os, name, getattr(os, name))
    for name in ("fsync", "link", "replace", "unlink"):
        setattr(fsio.os, name, wrap(getattr(os, name)))


def run(argv: list[str], say: Callable[[str], None]) -> int:
    """The writer's work on `argv`; each protocol line goes to `say`. Its exit code."""
    ap = argparse.ArgumentParser()
    ap.add_argument("store")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--compact-every", type=int, default=0)
    ap.add_argument("--die-at-step", type=int, default=0)
    ap.add_argument("--batches", type=int, default=10**9)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    store = open_store(args.store, create=True)
    uids = [int(c["uid"].max()) for c in store.scan("ticks", ["uid"])]
    nxt = max(uids) // 1000 + 1 if uids else 0
    if args.die_at_step:
        _die_at(args.die_at_step)
    say(f"READY {nxt}")
    for b in range(nxt, nxt + args.batches):
        n = int(rng.integers(1, 400))
        ts = T0 + rng.integers(0, 3 * DAY // NS, n) * NS  # spans up to three date partitions
        rows = ticks(ts, mint_id=rng.integers(0, 5, n).tolist(), uid_base=b * 1000)
        say(f"BEGIN {b} {n}")
        with store.transaction() as tx:
            src = "alpha" if b % 2 else "beta"
            tx.append("ticks", rows, source=src)
            sig = {
                "ts_ns": ts,
                "mint_id": rows["mint_id"],
                "kind": np.ones(n, np.int16),
                "value": np.ones(n),
                "uid": rows["uid"],
            }
            tx.append("signals", sig, source=src)
        say(f"ACK {b}")
        if args.compact_every and b % args.compact_every == args.compact_every - 1:
            store.compact(["ticks", "signals"], target_rows=2000)
            say("COMPACTED")
    store.close()
    return 0


def child(argv: list[str], out: Connection) -> None:
    """A forkserver child: `run`, each line sent on `out`; an error is an `ERROR` line."""
    try:
        code = run(argv, lambda line: out.send_bytes(line.encode()))
    except BaseException:  # reported to the parent, then exit 1
        out.send_bytes(("ERROR " + traceback.format_exc()).encode())
        code = 1
    out.close()
    os._exit(code)


def main() -> None:
    sys.exit(run(sys.argv[1:], lambda line: print(line, flush=True)))


if __name__ == "__main__":
    main()
