"""Property: any interleaving of appends and compactions behaves like a plain list."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from data.store import EventStore, open_store
from tests.factories import sources, tick_batches, ticks

Row = tuple[int, int, int, str]  # ts_ns, mint_id, uid, source


class StoreVsList(RuleBasedStateMachine):
    """The model is a list of rows in seq order; each append is a stably ts-sorted batch."""

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="clanka-prop-"))
        self.model: list[Row] = []
        self.store: EventStore

    @initialize()
    def create(self) -> None:
        self.store = open_store(self.dir / "s", create=True)

    def _model_append(self, batch: list[tuple[int, int]], source: str) -> dict[str, object]:
        uid0 = len(self.model)
        rows = ticks([t for t, _ in batch], mint_id=[m for _, m in batch], uid_base=uid0)
        order = sorted(range(len(batch)), key=lambda i: batch[i][0])  # stable, by ts
        self.model += [(batch[i][0], batch[i][1], uid0 + i, source) for i in order]
        return rows

    @rule(batch=tick_batches, source=sources)
    def append(self, batch: list[tuple[int, int]], source: str) -> None:
        rows = self._model_append(batch, source)
        r = self.store.append("ticks", rows, source=source)
        assert r.count == len(batch)

    @rule(b1=tick_batches, b2=tick_batches, s1=sources, s2=sources)
    def two_appends_in_one_transaction(
        self, b1: list[tuple[int, int]], b2: list[tuple[int, int]], s1: str, s2: str
    ) -> None:
        with self.store.transaction() as tx:
            tx.append("ticks", self._model_append(b1, s1), source=s1)
            tx.append("ticks", self._model_append(b2, s2), source=s2)

    @rule(target_rows=st.integers(min_value=2, max_value=60))
    def compact(self, target_rows: int) -> None:
        self.store.compact(["ticks"], target_rows=target_rows)

    @rule()
    def reopen(self) -> None:
        self.store.close()
        self.store = open_store(self.store.root)

    @invariant()
    def same_rows_in_seq_order(self) -> None:
        tbl = self.store.con.sql(
            "SELECT seq, ts_ns, mint_id, uid, source FROM ticks ORDER BY seq"
        ).fetchall()
        assert [r[0] for r in tbl] == list(range(len(self.model)))
        assert [tuple(r[1:]) for r in tbl] == self.model

    @invariant()
    def scan_is_model_sorted_by_ts_then_seq(self) -> None:
        chunks = list(self.store.scan("ticks", ["uid"]))
        got = np.concatenate([c["seq"] for c in chunks]).tolist() if chunks else []
        want = sorted(range(len(self.model)), key=lambda i: (self.model[i][0], i))
        assert got == want

    def teardown(self) -> None:
        self.store.close()
        shutil.rmtree(self.dir, ignore_errors=True)


StoreVsList.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestStoreVsList = StoreVsList.TestCase
