"""A live run's inputs and batch rows gathered as it logs them, ready for the next roll.

A roll writes every logged batch's inputs (`feed_inputs`) and one `live_batches` row
each. Built at the roll from the records, that is a join of a few thousand small input
blocks and a dozen passes over the records: at 50,000 msg/s about 25 ms of Python
holding the GIL every 2 s, which the event loop waited out even with the roll on its
own thread. Copied here batch by batch as the loop logs them (one block copy and one
tuple, about a microsecond), a roll takes them as they are. Recovery gathers the
records it read back from the log the same way.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from data.wal import INPUT_COLUMNS, ROW, WalBatch

N_ROWS = len(INPUT_COLUMNS)
BATCH_FIELDS = ("ts_ns", "batch_no", "inputs", "outputs", "first_run_seq", "n_mints",
                "first_recv_ns", "decided_ns", "appended_ns")  # fmt: skip
"""One `live_batches` row's fields, in the order `add` keeps them."""


class RollInputs:
    """The inputs (as one input block) and batch rows logged since the last roll."""

    def __init__(self, capacity: int = 4096) -> None:
        self.block = np.empty((N_ROWS, capacity), np.int64)
        self.n = 0
        self.batches: list[tuple[int, ...]] = []
        self.noted: list[WalBatch] = []
        """The records with side events beyond their timings (problems, gaps, learning,
        new mints): the only ones a roll reads extras from."""

    @classmethod
    def of(cls, recs: list[WalBatch]) -> RollInputs:
        """Records read back from the log (recovery): their append times are not kept."""
        acc = cls(max(1, sum(r.n_in for r in recs)))
        for r in recs:
            acc.add(r, None)
        return acc

    def add(self, rec: WalBatch, appended_ns: int | None) -> None:
        """One logged batch (`appended_ns`: when its record was written, if known)."""
        rows = rec.input_rows()
        k = rows.shape[1]
        end = self.n + k
        if end > self.block.shape[1]:
            block = np.empty((N_ROWS, max(end, 2 * self.block.shape[1])), np.int64)
            block[:, : self.n] = self.block[:, : self.n]
            self.block = block
        if k:
            self.block[:, self.n : end] = rows
        self.n = end
        ex = rec.extras
        decided = int(ex.get("decided_ns", -1))
        ts0 = int(rec.inputs["ts"][0]) if k else int(ex.get("decided_ns", 0))
        self.batches.append((ts0, rec.batch_no, k, len(rec.out_i), rec.first_run_seq,
                             rec.n_mints, int(ex.get("first_recv_ns", -1)), decided,
                             -1 if appended_ns is None else appended_ns))  # fmt: skip
        if len(ex) > 2:  # more than its two timings
            self.noted.append(rec)

    def feed_inputs(self) -> dict[str, Any]:
        """The `feed_inputs` columns of what was added."""
        whole = self.block[:, : self.n]
        floats = whole.view(np.float64)

        def col(name: str) -> np.ndarray:
            k = ROW[name]
            row: np.ndarray = floats[k] if INPUT_COLUMNS[k][1] is np.float64 else whole[k]
            return row

        rows = self._batch_rows()
        return {
            "ts_ns": col("ts"), "batch_no": np.repeat(rows[:, 1], rows[:, 2]),
            "in_seq": col("seq"), "kind": col("kind").astype(np.int8),
            "mint_id": col("mint").astype(np.int32), "price": col("price"), "size": col("size"),
            "liquidity": col("liq"), "sig_kind": col("sig_kind").astype(np.int16),
            "sig_value": col("sig_value"), "chain_ts_ns": col("chain_ts"),
            "recv_ts_ns": col("recv_ns"), "uid": col("uid"),
        }  # fmt: skip

    def batch_columns(self) -> dict[str, Any]:
        """The `live_batches` columns of what was added (an unknown append time: null)."""
        rows = self._batch_rows()
        out: dict[str, Any] = {name: rows[:, k] for k, name in enumerate(BATCH_FIELDS)}
        appended = rows[:, -1]
        out["appended_ns"] = pa.array(appended, pa.int64(), mask=appended < 0)
        return out

    def _batch_rows(self) -> np.ndarray:
        return np.array(self.batches, np.int64).reshape(len(self.batches), len(BATCH_FIELDS))
