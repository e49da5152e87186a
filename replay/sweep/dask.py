"""The distributed sweep executor: chunks of parameter sets as Dask tasks.

The task is the local executor's own (`replay.sweep.evaluate_chunk`) on one chunk: a
worker opens the store from its (shared) path, reads the data and runs the chunk's sets
through the same compiled kernel. Workers only read; the driver appends each finished
chunk to the store as one commit, so resume works exactly as with the local executor.
Each worker loads the cached numba kernels once, before its first chunk (`warm_worker`).

`clanka sweep --executor dask` starts a LocalCluster on this machine, or connects to a
remote scheduler with `--scheduler tcp://host:port` (its workers must see the store at
the same path, e.g. on a shared filesystem).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from dask.distributed import Client, LocalCluster, wait

from data import interrupts
from data.errors import ServiceUnreachableError
from replay.sweep.chunk import evaluate_chunk
from strategies.config import StrategyConfig


def warm_worker() -> int:
    """Compile (or load from numba's on-disk cache) the sweep kernels in this worker.

    numba loads a cached function on its first call, not on import, so this runs a
    one-set sweep over a one-mint, three-minute synthetic market in a temporary store:
    the same compiled signatures every chunk will use.
    """
    import shutil
    import tempfile

    from data.generator.market import MarketParams, generate_into
    from data.store import open_store
    from replay.sweep.chunk import sweep_local
    from strategies.config import load_strategy

    tmp = Path(tempfile.mkdtemp(prefix="clanka-warm-"))
    try:
        store = open_store(tmp / "s", create=True)
        generate_into(store, MarketParams.model_validate({"mints": 1, "hours": 0.05, "seed": 1}))
        rows = sweep_local(store, load_strategy("momentum_breakout"), [{}])
        store.close()
        return int(rows[0]["ticks_processed"])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def connect(
    scheduler: str | None, workers: int, timeout_s: float = 10.0
) -> AbstractContextManager[Client]:
    """A client on `scheduler`, or on a LocalCluster of `workers` processes.

    An unreachable scheduler is one clear error after `timeout_s`, not a traceback.
    """
    if scheduler:
        try:
            return Client(scheduler, timeout=f"{timeout_s}s")
        except (OSError, TimeoutError) as exc:
            raise ServiceUnreachableError(
                f"cannot reach the Dask scheduler at {scheduler} within {timeout_s:g}s "
                f"({type(exc).__name__}); is it running, and is the address right?"
            ) from None
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           dashboard_address=None)  # fmt: skip
    return _OwningClient(cluster)


class _OwningClient(AbstractContextManager[Client]):
    """A client that closes its LocalCluster with it."""

    def __init__(self, cluster: LocalCluster) -> None:
        self.cluster = cluster
        self.client = Client(cluster)

    def __enter__(self) -> Client:
        return self.client

    def __exit__(self, *exc: object) -> None:
        self.client.close()
        self.cluster.close()


def run_chunks(
    client: Client,
    store_path: Path,
    strategy: StrategyConfig,
    chunks: Sequence[list[dict[str, float]]],
    start_ts: int | None,
    end_ts: int | None,
    mint_ids: Sequence[int] | None,
    on_done: Callable[[int, list[dict[str, Any]]], None],
) -> None:
    """Run every chunk as a task; call `on_done(chunk position, rows)` as each finishes.

    Between results a stop request cancels the tasks still queued or running (their
    chunks were not committed; finished ones already are).
    """
    client.run(warm_worker)
    mints = list(mint_ids) if mint_ids is not None else None
    futures = {
        client.submit(evaluate_chunk, str(store_path), strategy, list(chunk), start_ts, end_ts,
                      mints, 1, pure=False): pos
        for pos, chunk in enumerate(chunks)
    }  # fmt: skip
    pending = set(futures)
    try:
        while pending:
            interrupts.check("the chunks under way were not committed")
            try:
                done, pending = wait(pending, timeout=0.2, return_when="FIRST_COMPLETED")
            except TimeoutError:  # nothing finished in this slice: look at the stop flag
                continue
            for fut in done:
                on_done(futures[fut], fut.result())
    finally:
        if pending:
            client.cancel(list(pending))
