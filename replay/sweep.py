"""Parameter sweeps: many parameter sets through the replay kernel in one pass.

The store is read once, batch by batch (the same merged input replay uses), and every
batch is run through all parameter sets by `replay.sweep_nb.sweep_batch_nb`, which
calls the very `step_nb` replay calls, one independent state per set, in parallel over
the sets. Each set's result is the replay report's metrics, computed the same way.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import multiprocessing
import time
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from data import interrupts
from data.schemas import SWEEP_METRICS
from data.store import EventStore, open_store
from engine.events import InputKind
from engine.layout import (
    MAX_OUT_PER_EVENT,
    N_OUT_F,
    N_OUT_I,
    KernelState,
    new_state,
)
from engine.params import LAMPORTS_PER_SOL, P, check_name, param_names
from replay.progress_fd import ProgressFd
from replay.runner import count_ticks, input_batches, prefetch
from replay.sweep_nb import (
    M_DECISIONS,
    M_FEES,
    M_FILLS,
    M_HOLD_SUM,
    M_LAST_EQ,
    M_MAX_DD,
    M_N_RET,
    M_ORDERS,
    M_PEAK,
    M_PNL,
    M_POINTS,
    M_PREV_DAY_EQ,
    M_REJECTS,
    M_RET_M2,
    M_RET_MEAN,
    M_RET_SUM,
    M_SLIP,
    M_START_EQ,
    M_TRADES,
    M_WINS,
    N_METRICS,
    RING,
    sweep_batch_nb,
    sweep_finish_nb,
)
from strategies.config import StrategyConfig

MAX_SETS = 100_000
"""Most parameter sets one sweep takes (`--max-sets` raises it): a grid's size is a
product and grows past any machine's memory and patience without anyone noticing."""
OUT_CAPACITY = 4096
"""Output rows per set between folds (the kernel stops and resumes when they fill)."""
assert OUT_CAPACITY > MAX_OUT_PER_EVENT
METRIC_KEYS = SWEEP_METRICS
_COUNTS = {"trades", "open_positions", "decisions", "orders", "fills", "rejects"}
"""What a sweep reports per parameter set: the replay report's metrics of the same name."""


def parse_grid(specs: Sequence[str], max_sets: int = MAX_SETS) -> dict[str, list[float]]:
    """`key=lo:hi:step` (hi included when the steps land on it) or `key=v1,v2,...`.

    The number of combinations is counted before any list is built: a grid of more
    than `max_sets` sets is refused with its size.
    """
    grid: dict[str, list[float]] = {}
    sizes: dict[str, int] = {}
    for spec in specs:
        key, sep, rng = spec.partition("=")
        key = key.strip().lower()
        if not sep:
            raise ValueError(f"--grid {spec!r}: expected name=lo:hi:step or name=v1,v2,...")
        try:
            check_name(key)
        except ValueError as exc:
            raise ValueError(f"--grid {spec!r}: {exc}") from None
        try:
            if ":" in rng:
                lo, hi, step = (float(x) for x in rng.split(":"))
                if not (step > 0 and hi >= lo and math.isfinite(hi - lo)):
                    raise ValueError
                n = math.floor((hi - lo) / step + 1e-9) + 1
                sizes[key] = n
                if math.prod(sizes.values()) > max_sets:
                    raise _too_many(sizes, max_sets) from None
                values = [round(lo + i * step, 12) for i in range(n)]
            else:
                values = [float(x) for x in rng.split(",") if x.strip()]
                sizes[key] = len(values)
        except ValueError as exc:
            if "--max-sets" in str(exc):
                raise
            raise ValueError(
                f"--grid {spec!r}: expected lo:hi:step (step > 0) or v1,v2,..."
            ) from None
        if not values:
            raise ValueError(f"--grid {spec!r}: no values")
        grid[key] = values
    if math.prod(sizes.values()) > max_sets:
        raise _too_many(sizes, max_sets)
    return grid


def _too_many(sizes: dict[str, int], max_sets: int) -> ValueError:
    shape = " x ".join(f"{n:,} {k}" for k, n in sizes.items())
    return ValueError(
        f"--grid: {math.prod(sizes.values()):,} parameter sets ({shape}) is more than the "
        f"limit of {max_sets:,}; use coarser steps, --random N, or raise --max-sets"
    )


def grid_sets(strategy: StrategyConfig, grid: dict[str, list[float]]) -> list[dict[str, float]]:
    """Every combination of the grid's values, each validated as a full parameter set."""
    keys = list(grid)
    sets = [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*grid.values())]
    for s in sets:
        strategy.vector(s)  # raises with the parameter's name and range when invalid
    return sets


def random_sets(
    strategy: StrategyConfig, space_file: Path, n: int, seed: int = 0
) -> list[dict[str, float]]:
    """`n` parameter sets drawn from a TOML search space (reproducible for a seed).

    Each table names a parameter: `lo`/`hi` draw uniformly (`log = true`: uniformly in
    log space; `integer = true`: whole numbers), `values = [...]` draws one of them.
    Draws the strategy's rules refuse (e.g. tp1 >= tp2) are redrawn.
    """
    try:
        doc = tomllib.loads(space_file.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"--space {space_file}: cannot read TOML ({exc})") from None
    known = set(param_names())
    if not doc:
        raise ValueError(f"--space {space_file}: no parameters")
    for name, spec in doc.items():
        ok = isinstance(spec, dict) and (
            ("values" in spec and isinstance(spec["values"], list) and spec["values"])
            or ("lo" in spec and "hi" in spec and float(spec["lo"]) <= float(spec["hi"]))
        )
        if name not in known or not ok:
            raise ValueError(f"--space {space_file}: [{name}] needs a known parameter with "
                             "lo <= hi or a non-empty values list")  # fmt: skip
    rng = np.random.default_rng(seed)
    out: list[dict[str, float]] = []
    tries = 0
    while len(out) < n:
        tries += 1
        if tries > 100 * n + 100:
            raise ValueError(f"--space {space_file}: most draws break the parameter rules")
        draw: dict[str, float] = {}
        for name, spec in doc.items():
            if "values" in spec:
                draw[name] = float(spec["values"][int(rng.integers(len(spec["values"])))])
                continue
            lo, hi = float(spec["lo"]), float(spec["hi"])
            if spec.get("log"):
                v = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
            else:
                v = float(rng.uniform(lo, hi))
            draw[name] = float(round(v)) if spec.get("integer") else round(v, 12)
        try:
            strategy.vector(draw)
        except ValueError:
            continue
        out.append(draw)
    return out


@dataclass
class _Stacked:
    """One KernelState per parameter set, stacked along a new first axis."""

    arrays: list[np.ndarray]
    out_i: np.ndarray
    out_f: np.ndarray


def _stack(params: np.ndarray, scales: np.ndarray) -> _Stacked:
    states = [new_state(scales, round(p[P.INITIAL_CASH_SOL] * LAMPORTS_PER_SOL)) for p in params]
    arrays = [np.ascontiguousarray(np.stack(field)) for field in zip(*states, strict=True)]
    n = len(params)
    return _Stacked(
        arrays,
        np.zeros((n, OUT_CAPACITY, N_OUT_I), np.int64),
        np.zeros((n, OUT_CAPACITY, N_OUT_F)),
    )


def sweep_local(
    store: EventStore,
    strategy: StrategyConfig,
    param_sets: Sequence[dict[str, float]],
    *,
    start_ts: int | None = None,
    end_ts: int | None = None,
    mint_ids: Sequence[int] | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[dict[str, Any]]:
    """Metrics of each parameter set over the store (or a range / some mints)."""
    if not param_sets:
        return []
    params = np.stack([strategy.vector(s) for s in param_sets])
    feat, ops, thr = strategy.conditions.compile()
    n = len(params)
    cond = [np.ascontiguousarray(np.broadcast_to(a, (n, len(a)))) for a in (feat, ops, thr)]
    scales = np.array([10.0**r.decimals for r in store.mints().records()], dtype=np.float64)
    st = _stack(params, scales)
    met = np.zeros((n, N_METRICS))
    cash0 = np.array([round(p[P.INITIAL_CASH_SOL] * LAMPORTS_PER_SOL) for p in params]) / 1e9
    met[:, M_START_EQ] = cash0
    met[:, M_PEAK] = cash0
    met[:, M_PREV_DAY_EQ] = cash0
    ring = np.zeros((n, RING, 2), np.int64)
    ticks = 0
    for batch in prefetch(input_batches(store, start_ts, end_ts, mint_ids)):
        interrupts.check("the chunk under way was not committed")
        # numba's stubs type a parallel dispatcher's call with fewer arguments.
        sweep_batch_nb(*batch, params, *cond, *st.arrays, st.out_i,  # type: ignore[call-arg]
                       st.out_f, met, ring)  # fmt: skip
        ticks += int(np.count_nonzero(batch.kind == InputKind.TICK))
        if progress:
            progress(ticks)
    unrealized = np.zeros(n)
    n_open = np.zeros(n, np.int64)
    state = KernelState(*st.arrays)
    sweep_finish_nb(state.glob, state.pos_i, state.mint_f, met, unrealized, n_open)
    return [_metrics(met[s], unrealized[s], int(n_open[s]), ticks) for s in range(n)]


def _metrics(m: np.ndarray, unrealized: float, n_open: int, ticks: int) -> dict[str, Any]:
    """The replay report's metrics from one set's accumulators (same definitions)."""
    trades = int(m[M_TRADES])
    n_ret = int(m[M_N_RET])
    sd = math.sqrt(m[M_RET_M2] / (n_ret - 1)) if n_ret >= 2 else 0.0
    sharpe = m[M_RET_MEAN] / sd * math.sqrt(365.0) if n_ret >= 2 and sd > 0.0 else None
    return {
        "ticks_processed": ticks,
        "trades": trades,
        "win_rate": m[M_WINS] / trades if trades else None,
        "avg_return": m[M_RET_SUM] / trades if trades else None,
        "realized_pnl_sol": m[M_PNL] / 1e9,
        "unrealized_pnl_sol": unrealized / 1e9,
        "open_positions": n_open,
        "fees_sol": m[M_FEES] / 1e9,
        "slippage_sol": m[M_SLIP] / 1e9,
        "max_drawdown": float(m[M_MAX_DD]),
        "sharpe": sharpe,
        "avg_hold_s": m[M_HOLD_SUM] / trades / 1e9 if trades else None,
        "decisions": int(m[M_DECISIONS]),
        "orders": int(m[M_ORDERS]),
        "fills": int(m[M_FILLS]),
        "rejects": int(m[M_REJECTS]),
        "final_equity_sol": float(m[M_LAST_EQ]) if m[M_POINTS] > 0 else float(m[M_START_EQ]),
    }


def sweep_id_for(
    store: EventStore,
    strategy: StrategyConfig,
    param_sets: Sequence[dict[str, float]],
    start_ts: int | None,
    end_ts: int | None,
    mint_ids: Sequence[int] | None,
) -> str:
    """A stable id for a sweep: the same command over the same data gets the same id.

    It hashes the strategy (name, entry, parameters), every set, the range, the mints
    and the store's tick and signal counts, so rerunning an interrupted sweep finds its
    finished chunks, and a sweep over different data never mixes with it.
    """
    doc = {
        "strategy": strategy.name,
        "entry": str(strategy.conditions),
        "params": sorted(strategy.params.items()),
        "sets": [sorted(s.items()) for s in param_sets],
        "range": [start_ts, end_ts],
        "mints": list(mint_ids) if mint_ids is not None else None,
        "data": [store.rows("ticks"), store.rows("signals")],
    }
    digest = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()
    return f"sweep-{digest[:16]}"


def finished_chunks(store: EventStore, sweep_id: str) -> set[int]:
    """Chunks of this sweep already in the store (each was appended in one commit)."""
    store.refresh()
    rows = store.con.execute(
        "SELECT DISTINCT chunk FROM sweeps WHERE sweep_id = ?", [sweep_id]
    ).fetchall()
    return {int(r[0]) for r in rows}


def evaluate_chunk(
    store_path: str,
    strategy: StrategyConfig,
    param_sets: list[dict[str, float]],
    start_ts: int | None,
    end_ts: int | None,
    mint_ids: list[int] | None,
    threads: int,
) -> list[dict[str, Any]]:
    """One chunk's metrics, computed in a worker process from the store at `store_path`.

    The task of both process executors: local `--processes` and Dask workers.
    """
    import numba

    numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))  # type: ignore[attr-defined]
    store = open_store(Path(store_path))
    try:
        return sweep_local(store, strategy, param_sets, start_ts=start_ts, end_ts=end_ts,
                           mint_ids=mint_ids)  # fmt: skip
    finally:
        store.close()


def _ignore_stop_signals() -> None:
    """Pool workers leave Ctrl-C to the parent, which stops them.

    A terminal sends SIGINT to every process of its group; without this each worker
    would print a traceback of its own.
    """
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _run_in_processes(
    store_path: Path,
    strategy: StrategyConfig,
    chunks: Sequence[list[dict[str, float]]],
    start_ts: int | None,
    end_ts: int | None,
    mint_ids: Sequence[int] | None,
    processes: int,
    on_done: Callable[[int, list[dict[str, Any]]], None],
) -> None:
    """Chunks over a pool of fresh processes, the cores shared out as numba threads.

    Each process evaluates whole chunks (one pass over the data per chunk) and returns
    rows; only this process appends, so resume works as in one process. A stop request
    terminates the pool between results; finished chunks are already committed.
    """
    import numba

    cores = numba.config.NUMBA_NUM_THREADS  # type: ignore[attr-defined]
    threads = max(1, cores // processes)
    mints = list(mint_ids) if mint_ids is not None else None
    ctx = multiprocessing.get_context("spawn")  # no forked numba / DuckDB threads
    pool = ctx.Pool(processes, initializer=_ignore_stop_signals)
    try:
        pending = {
            pos: pool.apply_async(evaluate_chunk, (str(store_path), strategy, list(chunk),
                                                   start_ts, end_ts, mints, threads))
            for pos, chunk in enumerate(chunks)
        }  # fmt: skip
        while pending:
            interrupts.check("the chunks under way were not committed")
            ready = [pos for pos, res in pending.items() if res.ready()]
            if not ready:
                time.sleep(0.05)
                continue
            for pos in ready:
                on_done(pos, pending.pop(pos).get())
        pool.close()
    finally:
        pool.terminate()
        pool.join()


@dataclass
class SweepResult:
    """A finished sweep: its id, how much this call ran, and every set's row."""

    sweep_id: str
    n_sets: int
    chunks: int
    chunks_run: int
    rows: list[dict[str, Any]]


def run_sweep(
    store: EventStore,
    strategy: StrategyConfig,
    param_sets: Sequence[dict[str, float]],
    *,
    start_ts: int | None = None,
    end_ts: int | None = None,
    mint_ids: Sequence[int] | None = None,
    chunk_size: int = 16,
    executor: str = "local",
    scheduler: str | None = None,
    workers: int = 2,
    processes: int = 1,
    scheduler_timeout_s: float = 10.0,
    progress: Callable[[int, int], None] | None = None,
) -> SweepResult:
    """Run (or resume) a sweep, appending each chunk of sets' metrics as one commit.

    `executor` "local" runs each chunk here, its sets in parallel threads, or with
    `processes` > 1 chunks in that many fresh processes sharing the cores; "dask" runs
    chunks as tasks on `scheduler` or on a LocalCluster of `workers` processes (the
    driver still does every append). `progress(done, total)` counts tick evaluations
    (ticks x sets) of this call.
    """
    if chunk_size < 1:
        raise ValueError("chunk size must be at least 1")
    if executor not in ("local", "dask"):
        raise ValueError(f"unknown executor {executor!r}; use local or dask")
    if processes < 1:
        raise ValueError("processes must be at least 1")
    sid = sweep_id_for(store, strategy, param_sets, start_ts, end_ts, mint_ids)
    n = len(param_sets)
    chunks = [list(range(i, min(i + chunk_size, n))) for i in range(0, n, chunk_size)]
    todo = [c for c in range(len(chunks)) if c not in finished_chunks(store, sid)]
    total_ticks = count_ticks(store, start_ts, end_ts, mint_ids)
    total = total_ticks * sum(len(chunks[c]) for c in todo)
    done = 0

    reporter = ProgressFd()
    committed = len(chunks) - len(todo)

    def finish(c: int, rows: list[dict[str, Any]]) -> None:
        nonlocal done, committed
        _append_chunk(store, sid, c, strategy, chunks[c], param_sets, start_ts, end_ts, mint_ids,
                      rows)  # fmt: skip
        committed += 1
        reporter.emit("chunk_committed", sweep_id=sid, chunk=c, done=committed,
                      total=len(chunks))  # fmt: skip
        done += total_ticks * len(chunks[c])
        if progress:
            progress(done, total)

    if executor == "dask" and todo:
        from replay.sweep_dask import connect, run_chunks

        with connect(scheduler, workers, scheduler_timeout_s) as client:
            run_chunks(client, store.root, strategy,
                       [[param_sets[i] for i in chunks[c]] for c in todo], start_ts, end_ts,
                       mint_ids, lambda pos, rows: finish(todo[pos], rows))  # fmt: skip
    elif processes > 1 and len(todo) > 1:
        _run_in_processes(store.root, strategy,
                          [[param_sets[i] for i in chunks[c]] for c in todo], start_ts, end_ts,
                          mint_ids, min(processes, len(todo)),
                          lambda pos, rows: finish(todo[pos], rows))  # fmt: skip
    else:
        for c in todo:
            interrupts.check("the chunk under way was not committed")
            idx = chunks[c]

            def step(ticks: int, base: int = done, width: int = len(idx)) -> None:
                if progress:
                    progress(base + ticks * width, total)

            rows = sweep_local(store, strategy, [param_sets[i] for i in idx],
                               start_ts=start_ts, end_ts=end_ts, mint_ids=mint_ids,
                               progress=step)  # fmt: skip
            finish(c, rows)
    return SweepResult(sid, n, len(chunks), len(todo), sweep_rows(store, sid))


def _append_chunk(
    store: EventStore,
    sweep_id: str,
    chunk: int,
    strategy: StrategyConfig,
    idx: list[int],
    param_sets: Sequence[dict[str, float]],
    start_ts: int | None,
    end_ts: int | None,
    mint_ids: Sequence[int] | None,
    rows: list[dict[str, Any]],
) -> None:
    n = len(idx)
    cols: dict[str, Any] = {
        "ts_ns": np.full(n, time.time_ns(), np.int64),
        "sweep_id": [sweep_id] * n,
        "set_index": np.array(idx, np.int64),
        "chunk": np.full(n, chunk, np.int64),
        "strategy": [strategy.name] * n,
        "strategy_json": [strategy.model_dump_json()] * n,
        "set_json": [json.dumps(param_sets[i], sort_keys=True) for i in idx],
        "mints_json": [json.dumps(list(mint_ids) if mint_ids is not None else None)] * n,
        "start_ts": [start_ts] * n,
        "end_ts": [end_ts] * n,
        "ticks": np.array([r["ticks_processed"] for r in rows], np.int64),
    }
    for k in METRIC_KEYS:
        cols[k] = np.array([np.nan if r[k] is None else float(r[k]) for r in rows])
    store.append("sweeps", cols)


def sweep_rows(
    store: EventStore, sweep_id: str, *, keep_strategy: bool = False
) -> list[dict[str, Any]]:
    """Every set of a sweep, by set index, with its overrides and metrics.

    `keep_strategy` keeps each row's `strategy_json` (the strategy the set ran on), for
    re-running a set; it is left out otherwise, being long and the same on every row.
    """
    store.refresh()
    rel = store.con.execute(
        "SELECT * EXCLUDE (seq, ts_ns) FROM sweeps WHERE sweep_id = ? ORDER BY set_index",
        [sweep_id],
    )
    cols = [d[0] for d in rel.description]
    out = []
    for r in rel.fetchall():
        row = dict(zip(cols, r, strict=True))
        row["set"] = json.loads(row.pop("set_json"))
        row["mints"] = json.loads(row.pop("mints_json"))
        if not keep_strategy:
            row.pop("strategy_json")
        for k in METRIC_KEYS:
            if isinstance(row[k], float) and math.isnan(row[k]):
                row[k] = None
            elif k in _COUNTS:
                row[k] = int(row[k])
        out.append(row)
    return out
