"""Child process for the crash tests: appends (and compacts) until it is killed.

Protocol on stdout, one line each, flushed: `READY <next_batch>`, then per batch
`BEGIN <id> <rows>` before its transaction and `ACK <id>` after the commit returned.
Batch b's ticks have uid b * 1000 + j, and it writes the same number of signals, so the
parent can check every batch is all there or not there at all, in both families.

With `--die-at-step N` the child instead exits abruptly (os._exit, like SIGKILL) at the
N-th durable filesystem step (fsync, link, rename, directory fsync) of the work.
"""

from __future__ import annotations

import argparse
import os
import sys

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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("store")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--compact-every", type=int, default=0)
    ap.add_argument("--die-at-step", type=int, default=0)
    ap.add_argument("--batches", type=int, default=10**9)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    store = open_store(args.store, create=True)
    uids = [int(c["uid"].max()) for c in store.scan("ticks", ["uid"])]
    nxt = max(uids) // 1000 + 1 if uids else 0
    if args.die_at_step:
        _die_at(args.die_at_step)
    print(f"READY {nxt}", flush=True)
    for b in range(nxt, nxt + args.batches):
        n = int(rng.integers(1, 400))
        ts = T0 + rng.integers(0, 3 * DAY // NS, n) * NS  # spans up to three date partitions
        rows = ticks(ts, mint_id=rng.integers(0, 5, n).tolist(), uid_base=b * 1000)
        print(f"BEGIN {b} {n}", flush=True)
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
        print(f"ACK {b}", flush=True)
        if args.compact_every and b % args.compact_every == args.compact_every - 1:
            store.compact(["ticks", "signals"], target_rows=2000)
            print("COMPACTED", flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
