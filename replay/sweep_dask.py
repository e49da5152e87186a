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

from dask.distributed import Client, LocalCluster, as_completed

from replay.sweep import evaluate_chunk
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
    from replay.sweep import sweep_local
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


def connect(scheduler: str | None, workers: int) -> AbstractContextManager[Client]:
    """A client on `scheduler`, or on a LocalCluster of `workers` processes."""
    if scheduler:
        return Client(scheduler)
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
    """Run every chunk as a task; call `on_done(chunk position, rows)` as each finishes."""
    client.run(warm_worker)
    mints = list(mint_ids) if mint_ids is not None else None
    futures = {
        client.submit(evaluate_chunk, str(store_path), strategy, list(chunk), start_ts, end_ts,
                      mints, 1, pure=False): pos
        for pos, chunk in enumerate(chunks)
    }  # fmt: skip
    for fut in as_completed(futures):
        on_done(futures[fut], fut.result())
