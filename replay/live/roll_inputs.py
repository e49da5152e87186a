"""A live run's inputs and batch rows gathered as it logs them, ready for the next roll.

A roll writes every logged batch's inputs (`feed_inputs`) and one `live_batches` row
each. Built at the roll from the records, that is a join of a few thousand small input
blocks and a dozen passes over the records: at 50,000 msg/s about 25 ms of Python
holding the GIL every 2 s, which the event loop waited out even with the roll on its
own thread. Copied here batch by batch as the loop logs them (one block copy and one
tuple, about a microsecond), a roll takes them as they are.
"""

from __future__ import annotations

import numpy as np

from data.wal import INPUT_COLUMNS, WalBatch

N_ROWS = len(INPUT_COLUMNS)
BATCH_FIELDS = ("ts_ns", "batch_no", "inputs", "outputs", "first_run_seq", "n_mints",
                "first_recv_ns", "decided_ns", "appended_ns")  # fmt: skip
"""One `live_batches` row's fields, in the order `add` takes them."""


class RollInputs:
    """The inputs (as one input block) and batch rows logged since the last roll."""

    def __init__(self, capacity: int = 4096) -> None:
        self.block = np.empty((N_ROWS, capacity), np.int64)
        self.batch_no = np.empty(capacity, np.int64)
        self.n = 0
        self.batches: list[tuple[int, ...]] = []
        self.noted: list[WalBatch] = []
        """The records with side events beyond their timings (problems, gaps, learning,
        new mints): the only ones a roll reads extras from."""

    def add(self, rows: np.ndarray, batch: tuple[int, ...]) -> None:
        """One logged batch: its input block (`WalBatch.input_rows`) and its row fields."""
        k = rows.shape[1]
        end = self.n + k
        if end > self.block.shape[1]:
            self._grow(end)
        if k == 1:
            self.block[:, self.n] = rows[:, 0]
        elif k:
            self.block[:, self.n : end] = rows
        self.batch_no[self.n : end] = batch[1]
        self.n = end
        self.batches.append(batch)

    def _grow(self, need: int) -> None:
        cap = max(need, 2 * self.block.shape[1])
        block = np.empty((N_ROWS, cap), np.int64)
        block[:, : self.n] = self.block[:, : self.n]
        batch_no = np.empty(cap, np.int64)
        batch_no[: self.n] = self.batch_no[: self.n]
        self.block, self.batch_no = block, batch_no

    def inputs(self) -> tuple[np.ndarray, np.ndarray]:
        """(input block, batch number per input) of what was added."""
        return self.block[:, : self.n], self.batch_no[: self.n]

    def batch_columns(self) -> dict[str, np.ndarray]:
        """The `live_batches` columns of what was added."""
        rows = np.array(self.batches, np.int64).reshape(len(self.batches), len(BATCH_FIELDS))
        return {name: rows[:, k] for k, name in enumerate(BATCH_FIELDS)}
