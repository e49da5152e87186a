"""A sweep's rows in the store: its id, the chunks already committed, appending one.

Each chunk of sets is appended to the `sweeps` family in one commit, so an
interrupted sweep resumes at its first missing chunk.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from data.schemas import SWEEP_METRICS
from data.store import EventStore
from strategies.config import StrategyConfig

METRIC_KEYS = SWEEP_METRICS
_COUNTS = {"trades", "open_positions", "decisions", "orders", "fills", "rejects"}
"""What a sweep reports per parameter set: the replay report's metrics of the same name."""


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
    doc: dict[str, Any] = {
        "strategy": strategy.name,
        "entry": str(strategy.conditions),
        "params": sorted(strategy.params.items()),
        "sets": [sorted(s.items()) for s in param_sets],
        "range": [start_ts, end_ts],
        "mints": list(mint_ids) if mint_ids is not None else None,
        "data": [store.rows("ticks"), store.rows("signals")],
    }
    if strategy.strategist.mode != "off":  # (host aside: where the model runs changes nothing)
        doc["strategist"] = strategy.strategist.model_dump(mode="json", exclude={"host"})
    if strategy.learning.mode != "off":
        doc["learning"] = strategy.learning.model_dump(mode="json")
    digest = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()
    return f"sweep-{digest[:16]}"


def finished_chunks(store: EventStore, sweep_id: str) -> set[int]:
    """Chunks of this sweep already in the store (each was appended in one commit)."""
    store.refresh()
    rows = store.con.execute(
        "SELECT DISTINCT chunk FROM sweeps WHERE sweep_id = ?", [sweep_id]
    ).fetchall()
    return {int(r[0]) for r in rows}


def append_chunk(
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
    """One chunk's sets and metrics as `sweeps` rows, in one commit (its resume point)."""
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
    with store.transaction() as tx:
        tx.append("sweeps", cols)
        for i, r in zip(idx, rows, strict=True):
            calls = r.get("_strategist_calls")
            if calls is not None:  # a live strategist's answers, for later recorded runs
                tx.append("strategist", calls, source=f"{sweep_id}-s{i}")


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
