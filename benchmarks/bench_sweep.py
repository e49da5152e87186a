"""Sweep benchmark: tick evaluations per second (ticks x parameter sets / s).

Usage: `python -m benchmarks.bench_sweep [--repeat 20] [--runs 3]`.

The data is the vectorbt cross-check's setting (replay/vbt_compare.py) at scale: real
FTX BTC-PERP 1-minute closes, the 21-day series chained `--repeat` times (each copy
starts where the last ended), two ticks per bar, a fixed entry every 37th bar, and a
pure stop-loss / take-profit strategy over an 8 x 8 grid (64 sets).

Phases, each `--runs` times in a fresh process (median quoted; compile excluded):
- clanka with 1 and with 2 numba threads (`sweep_local`: one pass over the store per
  chunk of sets, sets in parallel);
- vectorbt `Portfolio.from_signals` on the same closes, entries and grid (64 columns),
  counted as bars x sets / s.
Both must agree on every set's total return (checked: within 1e-6, absolute). Then the
default strategy on the synthetic 11.7 M-tick market (1,000 mints; no vectorbt
equivalent), 16 sets, 1 and 2 threads: the rate on tick data, where a minute holds
many ticks. Writes
benchmarks/results/sweep.json.
"""

from __future__ import annotations

import argparse
import hashlib
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
from engine.params import P
from strategies.config import StrategyConfig

DATA = Path(os.environ.get("CLANKA_SHARED_DATA", Path(__file__).resolve().parents[2] /
                           "shared" / "data"))  # fmt: skip
FTX = "ftx_btcperp_1m_2021-12-31_to_2022-01-20.parquet"
GRID = ["stop_loss=0.00413:0.01813:0.002", "tp1=0.00437:0.01837:0.002"]
"""8 x 8 sets; five-decimal levels for the reason given in replay/vbt_compare.GRID."""


def closes(repeat: int) -> np.ndarray:
    """The real closes, chained `repeat` times."""
    import polars as pl

    base = pl.read_parquet(DATA / FTX).sort("ts")["close"].to_numpy().astype(np.float64)
    parts = [base]
    for _ in range(repeat - 1):
        parts.append(base * (parts[-1][-1] / base[0]))
    return np.concatenate(parts)


def _digest(values: list[float]) -> str:
    return hashlib.sha256(np.round(np.array(values), 9).tobytes()).hexdigest()[:16]


SYNTH_GRID = ["stop_loss=0.04,0.06,0.08,0.1", "tp1=0.1,0.15,0.2,0.25"]


def _setting(synthetic: bool) -> tuple[StrategyConfig, list[dict[str, float]]]:
    """The strategy and sets of a phase: the cross-check's (bars) or the default (ticks)."""
    from replay.sweep import grid_sets, parse_grid
    from replay.vbt_compare import strategy
    from strategies.config import load_strategy

    strat = load_strategy("momentum_breakout") if synthetic else strategy()
    return strat, grid_sets(strat, parse_grid(SYNTH_GRID if synthetic else GRID))


def phase_clanka(store_dir: Path, threads: int, synthetic: bool) -> dict[str, object]:
    """One sweep of every set over the store, on `threads` numba threads."""
    import numba

    from data.store import open_store
    from replay.sweep import sweep_local

    numba.set_num_threads(threads)
    store = open_store(store_dir)
    strat, sets = _setting(synthetic)
    first = min(s.min_ts for s in store.segments("ticks"))
    sweep_local(store, strat, sets[:threads], end_ts=first + 10**9)  # compile / load cache
    t0 = time.perf_counter()
    rows = sweep_local(store, strat, sets)
    dt = time.perf_counter() - t0
    ticks = int(rows[0]["ticks_processed"])
    # Total return per set: final equity over the starting cash of the strategy.
    cash = float(strat.vector()[P.INITIAL_CASH_SOL])
    returns = [float(r["final_equity_sol"]) / cash - 1.0 for r in rows]
    return {"seconds": dt, "ticks": ticks, "sets": len(sets),
            "tick_evals_per_s": ticks * len(sets) / dt, "returns": returns,
            "returns_digest": _digest(returns), "peak_rss_mb": peak_rss_mb()}  # fmt: skip


def phase_vectorbt(repeat: int) -> dict[str, object]:
    from replay.vbt_compare import entry_bars, vbt_portfolio

    px = closes(repeat)
    entries = entry_bars(len(px))
    _, sets = _setting(synthetic=False)
    vbt_portfolio(px[:500], entries[:500], sets).total_return()  # compile
    t0 = time.perf_counter()
    returns = [float(x) for x in vbt_portfolio(px, entries, sets).total_return()]
    dt = time.perf_counter() - t0
    return {"seconds": dt, "bars": len(px), "sets": len(sets),
            "tick_evals_per_s": len(px) * len(sets) / dt, "returns": returns,
            "returns_digest": _digest(returns), "peak_rss_mb": peak_rss_mb()}  # fmt: skip


def _median(runs: list[dict[str, object]]) -> dict[str, object]:
    rates = [float(str(r["tick_evals_per_s"])) for r in runs]
    return {
        "median_tick_evals_per_s": round(statistics.median(rates)),
        "runs_tick_evals_per_s": [round(x) for x in rates],
        "median_seconds": round(statistics.median(float(str(r["seconds"])) for r in runs), 4),
        "peak_rss_mb": round(statistics.median(float(str(r["peak_rss_mb"])) for r in runs), 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--phase", choices=["clanka", "vectorbt"])
    ap.add_argument("--synthetic", action="store_true", help="clanka phase on tick data")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--store", type=Path)
    ap.add_argument("--out", type=Path, default=RESULTS / "sweep.json")
    args = ap.parse_args()
    if args.phase == "clanka":
        print(json.dumps(phase_clanka(args.store, args.threads, args.synthetic)))
        return
    if args.phase == "vectorbt":
        print(json.dumps(phase_vectorbt(args.repeat)))
        return

    from replay.vbt_compare import build_store, entry_bars

    work = Path(tempfile.mkdtemp(prefix="clanka-sbench-"))
    try:
        px = closes(args.repeat)
        store_dir = work / "store"
        build_store(store_dir, px, entry_bars(len(px)))
        results: dict[str, list[dict[str, object]]] = {"1": [], "2": [], "vectorbt": []}
        for i in range(args.runs):
            for threads in ("1", "2"):
                results[threads].append(run_child("benchmarks.bench_sweep", "--phase", "clanka",
                                                  "--threads", threads, "--store",
                                                  str(store_dir)))  # fmt: skip
                print(f"clanka {threads} thread(s), run {i + 1}: "
                      f"{float(str(results[threads][-1]['tick_evals_per_s'])) / 1e6:.1f} M "
                      "tick-evals/s", file=sys.stderr)  # fmt: skip
            try:
                results["vectorbt"].append(
                    run_child("benchmarks.bench_sweep", "--phase", "vectorbt", "--repeat",
                              str(args.repeat))
                )  # fmt: skip
            except Exception as exc:
                print(f"vectorbt phase skipped: {exc}", file=sys.stderr)
                results["vectorbt"] = []
                break
            print(f"vectorbt run {i + 1}: "
                  f"{float(str(results['vectorbt'][-1]['tick_evals_per_s'])) / 1e6:.1f} M "
                  "bar-evals/s", file=sys.stderr)  # fmt: skip
        from data.generator.market import MarketParams, generate_into
        from data.store import open_store

        synth_dir = work / "synthetic"
        generate_into(open_store(synth_dir, create=True), MarketParams(mints=1000, hours=24,
                                                                       seed=7))  # fmt: skip
        synth: dict[str, list[dict[str, object]]] = {"1": [], "2": []}
        for i in range(args.runs):
            for threads in ("1", "2"):
                synth[threads].append(
                    run_child("benchmarks.bench_sweep", "--phase", "clanka", "--synthetic",
                              "--threads", threads, "--store", str(synth_dir))
                )  # fmt: skip
                print(f"synthetic ticks, {threads} thread(s), run {i + 1}: "
                      f"{float(str(synth[threads][-1]['tick_evals_per_s'])) / 1e6:.1f} M "
                      "tick-evals/s", file=sys.stderr)  # fmt: skip
        if len({str(r["returns_digest"]) for k in synth for r in synth[k]}) != 1:
            sys.exit("synthetic runs disagree")
        digests = {str(r["returns_digest"]) for k in ("1", "2") for r in results[k]}
        if len(digests) != 1:
            sys.exit(f"clanka runs disagree: {digests}")
        ours = [float(x) for x in results["1"][0]["returns"]]  # type: ignore[attr-defined]
        doc: dict[str, object] = {
            "benchmark": "sweep",
            "bars": len(px), "ticks": results["1"][0]["ticks"], "sets": results["1"][0]["sets"],
            "grid": GRID, "data": f"{FTX} closes chained x{args.repeat}",
            "clanka_1_thread": _median(results["1"]),
            "clanka_2_threads": _median(results["2"]),
        }  # fmt: skip
        one = float(str(doc["clanka_1_thread"]["median_tick_evals_per_s"]))  # type: ignore[index]
        two = float(str(doc["clanka_2_threads"]["median_tick_evals_per_s"]))  # type: ignore[index]
        doc["scaling_2_vs_1"] = round(two / one, 2)
        if results["vectorbt"]:
            theirs = [float(x) for x in results["vectorbt"][0]["returns"]]  # type: ignore[attr-defined]
            # Returns differ only by lamport rounding (sizes and proceeds in whole units).
            worst = max(abs(a - b) for a, b in zip(ours, theirs, strict=True))
            doc["vectorbt"] = {**_median(results["vectorbt"]),
                               "same_total_returns": worst < 1e-6,
                               "max_abs_return_difference": worst}  # fmt: skip
            v = float(str(doc["vectorbt"]["median_tick_evals_per_s"]))  # type: ignore[index]
            doc["ratio_vs_vectorbt"] = {
                "1_thread": round(one / v, 3),
                "2_threads": round(two / v, 3),
            }
        doc["synthetic_ticks"] = {
            "data": "synthetic market, 1,000 mints, 24 h (as benchmarks/bench_kernel.py)",
            "strategy": "momentum_breakout", "grid": SYNTH_GRID,
            "ticks": synth["1"][0]["ticks"], "sets": synth["1"][0]["sets"],
            "clanka_1_thread": _median(synth["1"]), "clanka_2_threads": _median(synth["2"]),
        }  # fmt: skip
        doc["goal"] = ">= 20x vectorbt's tick evaluations per second, near-linear in cores"
        doc["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version()}
        doc["when"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        args.out.parent.mkdir(exist_ok=True)
        args.out.write_text(json.dumps(doc, indent=2) + "\n")
        print(json.dumps(doc, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
