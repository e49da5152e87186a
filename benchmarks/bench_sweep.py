"""Sweep benchmark: tick evaluations per second (ticks x parameter sets / s).

Usage: `python -m benchmarks.bench_sweep [--repeat 20] [--runs 3]`.

The data is the vectorbt cross-check's setting (replay/vbt_compare.py) at scale: real
FTX BTC-PERP 1-minute closes, the 21-day series chained `--repeat` times (each copy
starts where the last ended), two ticks per bar, a fixed entry every 37th bar, and a
pure stop-loss / take-profit strategy over an 8 x 8 grid (64 sets).

Phases, each `--runs` times in a fresh process (median quoted; compile excluded):
- clanka with 1 and with 2 threads (`sweep_local`: one pass over the store for all
  sets, which share each tick's features, a group of sets per thread), with 2 warmed
  processes of one thread each, each taking half the sets (`evaluate_chunk`, the task of
  `--processes` and of Dask workers), and with 1 thread and every set computing its own
  features (`--apart`: the A/B for shared features, in the same sitting);
- vectorbt `Portfolio.from_signals` on the same closes, entries and grid (64 columns).
Rates are bars x sets / s for both: the same job (Clanka's two ticks per bar are its
fill model, not extra work to credit). Both must agree on every set's total return
(checked: within 1e-6, absolute). Then the default strategy on the synthetic 11.7
M-tick market (1,000 mints; no vectorbt equivalent), 16 sets, in the same four ways:
the rate on tick data (ticks x sets / s). Last, the machine's own ceiling: two
independent 1-thread sweeps at once (what "linear in cores" can mean on this host).
Writes benchmarks/results/sweep.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

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
    from replay.sweep.grid import grid_sets, parse_grid
    from replay.sweep.vbt_compare import strategy
    from strategies.config import load_strategy

    strat = load_strategy("momentum_breakout") if synthetic else strategy()
    return strat, grid_sets(strat, parse_grid(SYNTH_GRID if synthetic else GRID))


def phase_clanka(
    store_dir: Path, threads: int, synthetic: bool, share: bool = True
) -> dict[str, object]:
    """One sweep of every set over the store, on `threads` numba threads.

    `share` as `sweep_local(share_features=...)`: False runs every set on its own
    features (the per-set kernel, as before shared features): the A/B in the same
    sitting.
    """
    import numba

    from data.store import open_store
    from replay.sweep.chunk import sweep_local

    numba.set_num_threads(threads)
    store = open_store(store_dir)
    strat, sets = _setting(synthetic)
    first = min(s.min_ts for s in store.segments("ticks"))
    # compile / load cache
    sweep_local(store, strat, sets[:threads], end_ts=first + 10**9, share_features=share)
    t0 = time.perf_counter()
    rows = sweep_local(store, strat, sets, share_features=share)
    dt = time.perf_counter() - t0
    ticks = int(rows[0]["ticks_processed"])
    # Total return per set: final equity over the starting cash of the strategy.
    cash = float(strat.vector()[P.INITIAL_CASH_SOL])
    returns = [float(r["final_equity_sol"]) / cash - 1.0 for r in rows]
    return {"seconds": dt, "ticks": ticks, "sets": len(sets),
            "tick_evals_per_s": ticks * len(sets) / dt, "returns": returns,
            "returns_digest": _digest(returns), "peak_rss_mb": peak_rss_mb()}  # fmt: skip


def _warm(store_dir: str, synthetic: bool) -> None:
    """Pool initializer: load the cached kernels in this process before timing starts."""
    import numba

    from data.store import open_store
    from replay.sweep.chunk import sweep_local

    numba.set_num_threads(1)
    store = open_store(Path(store_dir))
    strat, sets = _setting(synthetic)
    first = min(s.min_ts for s in store.segments("ticks"))
    sweep_local(store, strat, sets[:1], end_ts=first + 10**9)
    store.close()


def _chunk(
    store_dir: str, synthetic: bool, lo: int, hi: int
) -> tuple[list[dict[str, Any]], int, float]:
    """One chunk in a pool process: its rows, the process id and its peak RSS."""
    from replay.sweep.chunk import evaluate_chunk

    strat, sets = _setting(synthetic)
    rows = evaluate_chunk(store_dir, strat, sets[lo:hi], None, None, None, 1)
    return rows, os.getpid(), peak_rss_mb()


def phase_processes(store_dir: Path, processes: int, synthetic: bool) -> dict[str, object]:
    """The sets in `processes` chunks on a pool of warmed processes, one thread each."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    strat, sets = _setting(synthetic)
    per = -(-len(sets) // processes)
    bounds = [(i, min(i + per, len(sets))) for i in range(0, len(sets), per)]
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(processes, mp_context=ctx, initializer=_warm,
                             initargs=(str(store_dir), synthetic)) as pool:  # fmt: skip
        list(pool.map(time.sleep, [0.5] * processes))  # every worker started and warmed
        t0 = time.perf_counter()
        futs = [pool.submit(_chunk, str(store_dir), synthetic, lo, hi) for lo, hi in bounds]
        done = [f.result() for f in futs]
        dt = time.perf_counter() - t0
    parts = [d[0] for d in done]
    child_peaks = {pid: rss for _, pid, rss in done}
    rows = [r for part in parts for r in part]
    ticks = int(rows[0]["ticks_processed"])
    cash = float(strat.vector()[P.INITIAL_CASH_SOL])
    returns = [float(r["final_equity_sol"]) / cash - 1.0 for r in rows]
    rss = peak_rss_mb() + sum(child_peaks.values())  # this process and every worker
    return {"seconds": dt, "ticks": ticks, "sets": len(sets),
            "tick_evals_per_s": ticks * len(sets) / dt, "returns": returns,
            "returns_digest": _digest(returns), "peak_rss_mb": rss}  # fmt: skip


def phase_vectorbt(repeat: int) -> dict[str, object]:
    from replay.sweep.vbt_compare import entry_bars, vbt_portfolio

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


def _median(runs: list[dict[str, Any]], evals: int, unit: str) -> dict[str, Any]:
    """Median of runs of one job: seconds, and `evals` (units x sets) per second."""
    secs = [float(r["seconds"]) for r in runs]
    return {
        f"median_{unit}_per_s": round(evals / statistics.median(secs)),
        f"runs_{unit}_per_s": [round(evals / x) for x in secs],
        "median_seconds": round(statistics.median(secs), 4),
        "peak_rss_mb": round(statistics.median(float(r["peak_rss_mb"]) for r in runs), 1),
    }


MODES = {"1_thread": ("--threads", "1"), "2_threads": ("--threads", "2"),
         "2_processes": ("--processes", "2"),
         "1_thread_apart": ("--threads", "1", "--apart")}  # fmt: skip
"""Clanka's ways to use the cores: numba threads in one process, or processes (one
thread each) taking a chunk of the sets each, every set sharing each tick's features;
and one thread with every set computing its own (`share_features=False`): the A/B for
shared features."""


def _clanka_runs(store_dir: Path, runs: int, synthetic: bool) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {m: [] for m in MODES}
    extra = ["--synthetic"] if synthetic else []
    for i in range(runs):
        for mode, flag in MODES.items():
            r = run_child("benchmarks.bench_sweep", "--phase", "clanka", *flag, "--store",
                          str(store_dir), *extra)  # fmt: skip
            out[mode].append(r)
            print(f"clanka {'ticks' if synthetic else 'bars'} {mode}, run {i + 1}: "
                  f"{r['seconds']:.2f} s", file=sys.stderr)  # fmt: skip
    digests = {str(r["returns_digest"]) for m in out for r in out[m]}
    if len(digests) != 1:
        sys.exit(f"clanka runs disagree: {digests}")
    return out


def _concurrent_ceiling(store_dir: Path, runs: int) -> dict[str, Any]:
    """What two cores give two fully independent 1-thread sweeps of the whole grid.

    Two fresh processes run the 1-thread phase at the same time; the ceiling is two
    jobs' time alone over their time together: the most any split of the work over
    these two cores (threads or processes) can gain. A shared, virtualised machine
    gives less than 2.
    """
    cmd = [sys.executable, "-m", "benchmarks.bench_sweep", "--phase", "clanka", "--threads",
           "1", "--store", str(store_dir)]  # fmt: skip
    together = []
    for _ in range(runs):
        procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) for _ in range(2)]
        outs = [p.communicate()[0] for p in procs]
        if any(p.returncode for p in procs):
            sys.exit("concurrent phase failed")
        together.append(max(json.loads(o.strip().splitlines()[-1])["seconds"] for o in outs))
    return {"median_seconds_two_at_once": round(statistics.median(together), 4),
            "runs_seconds_two_at_once": [round(x, 4) for x in together]}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--phase", choices=["clanka", "vectorbt"])
    ap.add_argument("--synthetic", action="store_true", help="clanka phase on tick data")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--processes", type=int, default=0, help="clanka phase: a process pool")
    ap.add_argument("--apart", action="store_true", help="clanka phase: no shared features")
    ap.add_argument("--store", type=Path)
    ap.add_argument("--out", type=Path, default=RESULTS / "sweep.json")
    args = ap.parse_args()
    if args.phase == "clanka":
        if args.processes:
            print(json.dumps(phase_processes(args.store, args.processes, args.synthetic)))
        else:
            print(
                json.dumps(
                    phase_clanka(
                        args.store,
                        args.threads,
                        args.synthetic,
                        not args.apart,
                    )
                )
            )
        return
    if args.phase == "vectorbt":
        print(json.dumps(phase_vectorbt(args.repeat)))
        return

    from data.generator.market import MarketParams, generate_into
    from data.store import open_store
    from replay.sweep.vbt_compare import build_store, entry_bars

    work = Path(tempfile.mkdtemp(prefix="clanka-sbench-"))
    try:
        px = closes(args.repeat)
        store_dir = work / "store"
        build_store(store_dir, px, entry_bars(len(px)))
        bars = _clanka_runs(store_dir, args.runs, synthetic=False)
        vbt: list[dict[str, Any]] = []
        for i in range(args.runs):
            try:
                vbt.append(run_child("benchmarks.bench_sweep", "--phase", "vectorbt", "--repeat",
                                     str(args.repeat)))  # fmt: skip
            except Exception as exc:
                print(f"vectorbt phase skipped: {exc}", file=sys.stderr)
                vbt = []
                break
            print(f"vectorbt run {i + 1}: {vbt[-1]['seconds']:.2f} s", file=sys.stderr)
        first = bars["1_thread"][0]
        n_sets = int(first["sets"])
        bar_evals = len(px) * n_sets
        doc: dict[str, Any] = {
            "benchmark": "sweep",
            "bars": len(px), "ticks": first["ticks"], "sets": n_sets,
            "grid": GRID, "data": f"{FTX} closes chained x{args.repeat}",
            "unit": "bar evaluations (bars x sets) per second: the same job for both engines "
                    "(Clanka reads each bar as two ticks, so its tick rate is twice this)",
        }  # fmt: skip
        for mode in MODES:
            doc[f"clanka_{mode}"] = _median(bars[mode], bar_evals, "bar_evals")
        one = doc["clanka_1_thread"]["median_seconds"]
        doc["scaling_vs_1_thread"] = {m: round(one / doc[f"clanka_{m}"]["median_seconds"], 2)
                                      for m in ("2_threads", "2_processes")}  # fmt: skip
        doc["shared_features_speedup_1_thread"] = round(
            doc["clanka_1_thread_apart"]["median_seconds"]
            / doc["clanka_1_thread"]["median_seconds"], 2
        )  # fmt: skip
        ceiling = _concurrent_ceiling(store_dir, args.runs)
        ceiling["ceiling"] = round(2 * one / ceiling["median_seconds_two_at_once"], 2)
        doc["two_core_ceiling"] = ceiling
        print(f"two independent 1-thread sweeps at once: ceiling x{ceiling['ceiling']}",
              file=sys.stderr)  # fmt: skip
        if vbt:
            ours = [float(x) for x in first["returns"]]
            theirs = [float(x) for x in vbt[0]["returns"]]
            # Returns differ only by lamport rounding (sizes and proceeds in whole units).
            worst = max(abs(a - b) for a, b in zip(ours, theirs, strict=True))
            doc["vectorbt"] = {**_median(vbt, bar_evals, "bar_evals"),
                               "same_total_returns": worst < 1e-6,
                               "max_abs_return_difference": worst}  # fmt: skip
            theirs_s = doc["vectorbt"]["median_seconds"]
            doc["ratio_vs_vectorbt"] = {
                m: round(theirs_s / doc[f"clanka_{m}"]["median_seconds"], 2) for m in MODES
            }
        synth_dir = work / "synthetic"
        generate_into(open_store(synth_dir, create=True), MarketParams(mints=1000, hours=24,
                                                                       seed=7))  # fmt: skip
        synth = _clanka_runs(synth_dir, args.runs, synthetic=True)
        s_first = synth["1_thread"][0]
        tick_evals = int(s_first["ticks"]) * int(s_first["sets"])
        doc["synthetic_ticks"] = {
            "data": "synthetic market, 1,000 mints, 24 h (as benchmarks/bench_kernel.py)",
            "strategy": "momentum_breakout", "grid": SYNTH_GRID,
            "ticks": s_first["ticks"], "sets": s_first["sets"],
            **{f"clanka_{m}": _median(synth[m], tick_evals, "tick_evals") for m in MODES},
        }  # fmt: skip
        st = doc["synthetic_ticks"]
        st["shared_features_speedup_1_thread"] = round(
            st["clanka_1_thread_apart"]["median_seconds"] / st["clanka_1_thread"]["median_seconds"],
            2,
        )
        doc["goal"] = ">= 20x vectorbt's evaluations per second, near-linear in cores"
        doc["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version()}
        doc["when"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        args.out.parent.mkdir(exist_ok=True)
        args.out.write_text(json.dumps(doc, indent=2) + "\n")
        print(json.dumps(doc, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
