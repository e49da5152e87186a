"""The event log: store, schemas, importers and the synthetic market generator.

Everything Clanka knows is an append-only event in a Parquet dataset under one store
root; `open_store` is the entry point. The package itself imports nothing heavy, so the
command line can install its signal handlers before pyarrow, numba and DuckDB load.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from data.store import EventStore, open_store

__all__ = ["EventStore", "open_store"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from data import store

        return getattr(store, name)
    raise AttributeError(f"module 'data' has no attribute {name!r}")
