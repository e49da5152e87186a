"""`clanka warmup`: compile every numba kernel now, so no command waits for it later."""

from __future__ import annotations

import time

from replay.cli.common import app, err, out, user_errors


@app.command()
@user_errors
def warmup() -> None:
    """Compile (or load from numba's cache) every kernel Clanka runs, ahead of time.

    A synthetic market of two mints for a few minutes is generated, imported, replayed
    and swept in a temporary store, which calls each kernel once with the types every
    command uses. `make demo` runs it after installing; it takes tens of seconds cold
    and about a second when everything is cached. The two big kernels compile at once,
    the sweep's in a second process (each alone: replay 112 s, sweep 138 s, cold on
    this project's 2-core machine); numba writes its cache files atomically.
    """
    import multiprocessing
    import shutil
    import tempfile
    from pathlib import Path

    from data.errors import ClankaDataError
    from data.generator.market import MarketParams, generate_into
    from data.importers import import_file
    from data.store import open_store
    from engine.kernel_nb import step_nb
    from replay.core.runner import run_replay
    from replay.core.warm import compile_notice
    from replay.sweep.sweep_nb import fold_nb, sweep_shared_nb
    from strategies.config import load_strategy

    notice = compile_notice(step_nb, fold_nb, sweep_shared_nb)
    if notice:
        err.print(notice, highlight=False, markup=False)
    t0 = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="clanka-warmup-"))
    try:
        store = open_store(tmp / "s", create=True)
        generate_into(store, MarketParams.model_validate({"mints": 2, "hours": 0.1, "seed": 1}))
        csv = tmp / "trades.csv"
        rows = ["ts,symbol,price,size,side,trade_id", "1733011200,WARMUP,0.001,2,buy,1"]
        csv.write_text("\n".join([*rows, "1733011201,WARMUP,0.0011,3,sell,2", ""]))
        import_file(store, csv)
        store.close()
        sweeper = multiprocessing.get_context("spawn").Process(
            target=_warm_sweep, args=(str(store.root), True), name="warmup-sweep"
        )
        sweeper.start()  # sets sharing features: sweep_shared_nb, beside step_nb here
        try:
            store = open_store(store.root)
            strat = load_strategy("momentum_breakout")
            run_replay(store, strat, strat.vector(), write=False)
            store.close()
        finally:
            sweeper.join()
        if sweeper.exitcode != 0:
            raise ClankaDataError(
                f"the sweep kernels' warmup failed (exit {sweeper.exitcode}; its error is above)"
            )
        _warm_sweep(str(store.root), False)  # sets apart: step_nb (cached now) and fold_nb
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    cache = Path(step_nb._cache.cache_path)
    out.print(f"kernels ready in {time.perf_counter() - t0:.1f} s (numba cache: {cache})",
              highlight=False)  # fmt: skip


def _warm_sweep(store_root: str, share_features: bool) -> None:
    """Sweep the warmup store once: sets sharing features, or sets apart."""
    from pathlib import Path

    from data.store import open_store
    from replay.sweep.chunk import sweep_local
    from strategies.config import load_strategy

    store = open_store(Path(store_root))
    try:
        strat = load_strategy("momentum_breakout")
        sweep_local(store, strat, [{}, {"stop_loss": 0.05}], share_features=share_features)
    finally:
        store.close()
