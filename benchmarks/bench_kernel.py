"""Kernel benchmark: kernel-only and end-to-end replay ticks/s, peak RSS.

Usage: `python -m benchmarks.bench_kernel [--mints 1000] [--hours 24] [--runs 3]`.

- kernel: the `momentum_breakout` strategy (sniper, scanner, decision engine, breakers)
  over >= 10 M synthetic ticks of >= 200 interleaved mints, arrays already in memory,
  one thread (numba compile excluded); again with the breakers off, so the decision
  engine keeps entering all day instead of halting after the day's 20 trades;
- replay: `run_replay` from the store (scan, tick/signal merge, kernel, equity
  curve, every event appended under a new run id);
each phase runs 3 times in a fresh process (median quoted, peak RSS = VmHWM), and
every run must give the same events_sha256. Writes benchmarks/results/kernel.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import RESULTS, peak_rss_mb, run_child

BREAKERS_OFF = {"max_daily_trades": 1e9, "max_consecutive_losses": 1e9,
                "max_daily_loss_sol": 1e9, "max_daily_loss_pct": 1e3}  # fmt: skip
"""With the default breakers the bot halts after 20 entries a day, and then most
triggers end at the guard; this variant keeps the decision engine trading all day."""


def phase_kernel(store_dir: Path, breakers: bool = True) -> dict[str, float | str]:
    from data.store import open_store
    from engine.events import OutKind
    from engine.kernel import Kernel, as_input
    from engine.layout import O_KIND
    from replay.core.runner import events_sha256
    from strategies.config import load_strategy

    store = open_store(store_dir)
    cols = ["mint_id", "price", "size", "liquidity"]
    chunks = list(store.scan("ticks", cols))
    arr = {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}
    n = len(arr["ts_ns"])
    # Every column written before timing (np.full, not lazily zeroed pages): the kernel
    # phase measures the kernel, not first-touch page faults of unused signal columns.
    inp = as_input(
        kind=np.full(n, 0, np.int8), ts=arr["ts_ns"], seq=arr["seq"], mint=arr["mint_id"],
        price=arr["price"], size=arr["size"], liq=arr["liquidity"],
        sig_kind=np.full(n, 0, np.int64), sig_value=np.full(n, 0.0),
    )  # fmt: skip
    scales = store.mints().scales()
    strat = load_strategy("momentum_breakout")
    params = strat.vector(None if breakers else BREAKERS_OFF)
    Kernel(params, strat.conditions, scales).run_all(inp.slice(0, 1000))  # compile
    k = Kernel(params, strat.conditions, scales)
    t0 = time.perf_counter()
    oi, of = k.run_all(inp)
    dt = time.perf_counter() - t0
    decided = int(np.count_nonzero(oi[:, O_KIND] == OutKind.DECIDED))
    return {"seconds": dt, "ticks_per_s": n / dt, "ticks": n, "events": len(oi),
            "decisions": decided,
            "events_sha256": events_sha256(oi, of), "peak_rss_mb": peak_rss_mb()}  # fmt: skip


def phase_replay(store_dir: Path) -> dict[str, float | str]:
    from data.store import open_store
    from replay.core.runner import run_replay
    from strategies.config import load_strategy

    store = open_store(store_dir)
    strat = load_strategy("momentum_breakout")
    first = min(s.min_ts for s in store.segments("ticks"))
    run_replay(store, strat, strat.vector(), end_ts=first + 10**9, write=False)  # compile
    t0 = time.perf_counter()
    r = run_replay(store, strat, strat.vector(), write=True)
    dt = time.perf_counter() - t0
    return {"seconds": dt, "ticks_per_s": r.ticks / dt, "ticks": r.ticks,
            "trades": r.report["trades"], "events_sha256": r.events_sha256,
            "peak_rss_mb": peak_rss_mb()}  # fmt: skip


def _summary(runs: list[dict[str, float | str]]) -> dict[str, object]:
    hashes = {r["events_sha256"] for r in runs}
    if len(hashes) != 1:
        sys.exit(f"runs disagree on events_sha256: {hashes}")
    return {
        "median_ticks_per_s": round(statistics.median(float(r["ticks_per_s"]) for r in runs)),
        "runs_ticks_per_s": [round(float(r["ticks_per_s"])) for r in runs],
        "peak_rss_mb": round(statistics.median(float(r["peak_rss_mb"]) for r in runs), 1),
        "events_sha256": hashes.pop(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mints", type=int, default=1000)
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--phase", choices=["kernel", "kernel-no-breakers", "replay"])
    ap.add_argument("--store", type=Path)
    ap.add_argument("--out", type=Path, default=RESULTS / "kernel.json")
    ap.add_argument(
        "--replay-only", action="store_true",
        help="skip the kernel-only phase (it holds all ticks in memory): for 100 M-tick runs",
    )  # fmt: skip
    args = ap.parse_args()
    if args.phase in ("kernel", "kernel-no-breakers"):
        print(json.dumps(phase_kernel(args.store, breakers=args.phase == "kernel")))
        return
    if args.phase == "replay":
        print(json.dumps(phase_replay(args.store)))
        return

    from data.generator.market import MarketParams, generate_into
    from data.store import open_store

    work = Path(tempfile.mkdtemp(prefix="clanka-kbench-"))
    try:
        store_dir = work / "store"
        store = open_store(store_dir, create=True)
        gen = generate_into(store, MarketParams(mints=args.mints, hours=args.hours,
                                                seed=args.seed))  # fmt: skip
        if gen.ticks < 10_000_000 or args.mints < 200:
            print(f"note: {gen.ticks:,} ticks / {args.mints} mints is below the 10 M / 200 "
                  "goal size", file=sys.stderr)  # fmt: skip
        kern: list[dict[str, float | str]] = []
        allday: list[dict[str, float | str]] = []
        rep: list[dict[str, float | str]] = []
        for phase, runs in (("kernel", kern), ("kernel-no-breakers", allday)):
            for i in range(0 if args.replay_only else args.runs):
                runs.append(
                    run_child("benchmarks.bench_kernel", "--phase", phase, "--store",
                              str(store_dir))
                )  # fmt: skip
                print(f"{phase} run {i + 1}: {float(runs[-1]['ticks_per_s']) / 1e6:.1f} M "
                      f"ticks/s, {runs[-1]['decisions']} decisions", file=sys.stderr)  # fmt: skip
        for i in range(args.runs):
            rep.append(
                run_child("benchmarks.bench_kernel", "--phase", "replay", "--store", str(store_dir))
            )
            print(f"replay run {i + 1}: {float(rep[-1]['ticks_per_s']) / 1e6:.1f} M ticks/s",
                  file=sys.stderr)  # fmt: skip
        import numba

        doc = {
            "benchmark": "kernel",
            "ticks": gen.ticks,
            "mints": args.mints,
            "hours": args.hours,
            "strategy": "momentum_breakout",
            "kernel_single_thread": (
                {**_summary(kern), "decisions": kern[0]["decisions"]} if kern else None
            ),
            "kernel_single_thread_breakers_off": (
                {**_summary(allday), "decisions": allday[0]["decisions"]} if allday else None
            ),
            "replay_end_to_end": {**_summary(rep), "trades": rep[0]["trades"]},
            "goals": {"kernel_ticks_per_s": 50_000_000, "replay_ticks_per_s": 15_000_000},
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "numba": numba.__version__,
            },
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        args.out.parent.mkdir(exist_ok=True)
        args.out.write_text(json.dumps(doc, indent=2) + "\n")
        print(json.dumps(doc, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
