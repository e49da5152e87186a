"""The event log: store, schemas, importers and the synthetic market generator.

Everything Clanka knows is an append-only event in a Parquet dataset under one store
root; `open_store` is the entry point.
"""

from data.store import EventStore, open_store

__all__ = ["EventStore", "open_store"]
