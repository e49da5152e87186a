"""Running a sweep: chunks of sets on an executor, each committed as it finishes.

Executors: threads in this process (numba's parallel loop over the sets of a chunk),
a pool of fresh processes (`--processes`), or Dask (`replay.sweep.dask`). Only this
process appends, so resume works the same with every executor.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from data import interrupts
from data.store import EventStore
from replay.core.progress_fd import ProgressFd
from replay.core.runner import count_ticks
from replay.sweep.chunk import evaluate_chunk, sweep_local
from replay.sweep.results import (
    append_chunk,
    finished_chunks,
    sweep_id_for,
    sweep_rows,
)
from strategies.config import StrategyConfig


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
        append_chunk(store, sid, c, strategy, chunks[c], param_sets, start_ts, end_ts, mint_ids,
                      rows)  # fmt: skip
        committed += 1
        reporter.emit("chunk_committed", sweep_id=sid, chunk=c, done=committed,
                      total=len(chunks))  # fmt: skip
        done += total_ticks * len(chunks[c])
        if progress:
            progress(done, total)

    if executor == "dask" and todo:
        from replay.sweep.dask import connect, run_chunks

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
