"""The kernel against its yardstick: Clanka's kernel and the sniper-only anchor, alternated.

Usage: `python -m benchmarks.bench_anchor [--markets 1000x24 200x120] [--rounds 7]`.

`../shared/anchors/sniper_nb.py` is a deliberately small numba loop (one token's sniper
check per tick: entry, stop, three targets, trailing and time stop). It is loaded from
there at run time, never copied. Clanka's kernel does far more per tick (features, the
scanner, the decision engine, breakers, the venue and the portfolio), so the ratio of
the two on the same ticks says how close the full kernel runs to the sniper-only limit
of this machine, and a kernel change is judged by that ratio, not by raw ticks/s on a
shared, noisy machine.

Both run in this one process on the same SYNTHETIC ticks held in memory (the
`momentum_breakout` strategy with its breakers off, so it trades all day; the anchor
with its DEFAULT_PARAMS), compiled before timing. Each round times both, alternating
which goes first, and records kernel ticks/s over anchor ticks/s. The ratio depends on
the market, so two are measured: 1,000 mints over a day (the kernel benchmark's 11.7 M
ticks, most mints quiet) and 200 mints over five days (fewer, busier mints: more ticks
per mint, so more bars, triggers and decisions per tick). Writes
benchmarks/results/anchor.json: per market every round, the median ratio and its
spread, each side's ticks/s; the goal (>= 0.7x) is judged on the lower median.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from benchmarks.bench_kernel import BREAKERS_OFF
from benchmarks.common import RESULTS

ANCHOR = Path(__file__).resolve().parents[1].parent / "shared" / "anchors" / "sniper_nb.py"
GOAL = 0.7


def load_anchor(path: Path) -> ModuleType:
    """The anchor module, imported from its file (it is not part of this repository)."""
    if not path.is_file():
        sys.exit(f"{path}: the anchor is missing (../shared/anchors beside the repo)")
    spec = importlib.util.spec_from_file_location("clanka_anchor_sniper_nb", path)
    if spec is None or spec.loader is None:
        sys.exit(f"{path}: not a Python module")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def measure(mints: int, hours: float, seed: int, rounds: int, anchor: ModuleType) -> dict[str, Any]:
    """Alternate the kernel and the anchor on one market; every round and the summary."""
    from data.generator.market import MarketParams, simulate
    from engine.events import InputKind
    from engine.kernel import Kernel, as_input
    from strategies.config import load_strategy

    market = simulate(MarketParams(mints=mints, hours=hours, seed=seed))
    t = market.ticks
    n = len(t["ts_ns"])
    mint = t["mint"].astype(np.int32)
    inp = as_input(
        kind=np.full(n, InputKind.TICK, np.int8), ts=t["ts_ns"], seq=np.arange(n, dtype=np.int64),
        mint=mint, price=t["price"], size=t["size"], liq=t["liquidity"],
        sig_kind=np.full(n, 0, np.int64), sig_value=np.full(n, 0.0),
    )  # fmt: skip
    scales = np.full(mints, 1e6)  # the generator's mints have 6 decimals
    strat = load_strategy("momentum_breakout")
    params = strat.vector(BREAKERS_OFF)
    prm = anchor.DEFAULT_PARAMS

    def run_kernel() -> tuple[float, int]:
        k = Kernel(params, strat.conditions, scales)
        t0 = time.perf_counter()
        oi, _ = k.run_all(inp)
        return time.perf_counter() - t0, len(oi)

    def run_anchor() -> tuple[float, int]:
        t0 = time.perf_counter()
        counts, _pnl = anchor.sniper_stream(t["ts_ns"], mint, t["price"], prm, mints)
        return time.perf_counter() - t0, int(np.asarray(counts).sum())

    Kernel(params, strat.conditions, scales).run_all(inp.slice(0, 1000))  # compile
    anchor.sniper_stream(t["ts_ns"][:1000], mint[:1000], t["price"][:1000], prm, mints)
    out: list[dict[str, Any]] = []
    for r in range(rounds):
        order = ("kernel", "anchor") if r % 2 == 0 else ("anchor", "kernel")
        took: dict[str, float] = {}
        work: dict[str, int] = {}
        for side in order:
            took[side], work[side] = run_kernel() if side == "kernel" else run_anchor()
        row = {
            "round": r + 1, "first": order[0],
            "kernel_ticks_per_s": n / took["kernel"], "anchor_ticks_per_s": n / took["anchor"],
            "ratio": took["anchor"] / took["kernel"],
            "kernel_events": work["kernel"], "anchor_counts": work["anchor"],
        }  # fmt: skip
        out.append(row)
        print(f"{mints} mints x {hours:g} h, round {r + 1}: kernel "
              f"{row['kernel_ticks_per_s'] / 1e6:.1f} M ticks/s, anchor "
              f"{row['anchor_ticks_per_s'] / 1e6:.1f} M ticks/s, ratio {row['ratio']:.3f}",
              flush=True)  # fmt: skip
    if len({r["kernel_events"] for r in out}) != 1:
        sys.exit("the kernel's rounds disagree on their output: not a benchmark of one thing")
    ratios = [r["ratio"] for r in out]
    return {
        "mints": mints, "hours": hours, "ticks": n, "rounds": out,
        "median_ratio": statistics.median(ratios), "min_ratio": min(ratios),
        "max_ratio": max(ratios),
        "median_kernel_ticks_per_s": statistics.median(r["kernel_ticks_per_s"] for r in out),
        "median_anchor_ticks_per_s": statistics.median(r["anchor_ticks_per_s"] for r in out),
    }  # fmt: skip


def _market(text: str) -> tuple[int, float]:
    mints, _, hours = text.partition("x")
    try:
        return int(mints), float(hours)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: write MINTSxHOURS, e.g. 1000x24") from None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--markets", type=_market, nargs="+", default=[(1000, 24.0), (200, 120.0)],
                    help="synthetic markets as MINTSxHOURS")  # fmt: skip
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--anchor", type=Path, default=ANCHOR)
    ap.add_argument("--out", type=Path, default=RESULTS / "anchor.json")
    args = ap.parse_args()
    anchor = load_anchor(args.anchor)
    markets = [measure(m, h, args.seed, args.rounds, anchor) for m, h in args.markets]
    lowest = min(m["median_ratio"] for m in markets)
    doc = {
        "benchmark": "anchor",
        "what": "Clanka's kernel (momentum_breakout, breakers off) against the sniper-only "
                "anchor (../shared/anchors/sniper_nb.py), alternated in one process on the "
                "same in-memory SYNTHETIC ticks; ratio = kernel ticks/s / anchor ticks/s",
        "markets": markets, "lowest_median_ratio": lowest,
        "goal_ratio": GOAL, "goal_met": lowest >= GOAL,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "numba_threads": os.environ.get("NUMBA_NUM_THREADS", "default")},
    }  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=1) + "\n")
    for m in markets:
        print(
            f"{m['mints']} mints x {m['hours']:g} h ({m['ticks']:,} ticks): median ratio "
            f"{m['median_ratio']:.3f} (rounds {m['min_ratio']:.3f}-{m['max_ratio']:.3f})"
        )
    verdict = "met" if lowest >= GOAL else "missed"
    print(f"goal >= {GOAL} on every market: {verdict} -> {args.out}")


if __name__ == "__main__":
    main()
