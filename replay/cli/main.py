"""The assembled `clanka` app: every command module imported, so each has registered.

`replay.cli.launch` (the console script) imports this only after it has installed the
stop handlers: importing it loads numba, polars, pyarrow and DuckDB.
"""

from __future__ import annotations

from replay.cli import (
    alerts,
    dashboard,
    data,
    execution,
    learn,
    live,
    llm,
    runs,
    service,
    store,
    strategist,
    sweeps,
    validate,
    warmup,
)
from replay.cli.common import app

__all__ = [
    "alerts",
    "app",
    "dashboard",
    "data",
    "execution",
    "learn",
    "live",
    "llm",
    "run_app",
    "runs",
    "service",
    "store",
    "strategist",
    "sweeps",
    "validate",
    "warmup",
]


def run_app() -> None:
    """Run the command line (the console script calls this after installing handlers).

    Open stores are closed before the interpreter shuts down: a DuckDB connection still
    alive at that point makes its bindings print leak warnings on exit.
    """
    import gc

    from data.store import close_all_stores

    try:
        app()
    finally:
        close_all_stores()
        gc.collect()
