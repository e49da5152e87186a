"""Hand-checked behaviour of the event store: layout, seq, order, pruning, compaction."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pytest

from data.errors import StoreError, StoreLockedError
from data.manifest import MANIFEST_NAME
from data.scan import ScanStats
from data.store import EventStore, WriterLock, open_store
from tests.factories import DAY, NS, T0, ticks


def test_new_store_has_empty_typed_views(store: EventStore) -> None:
    for fam in ("ticks", "signals", "quarantine", "mints", "imports"):
        assert store.con.sql(f"SELECT count(*) FROM {fam}").fetchall() == [(0,)]
    cols = [r[0] for r in store.con.sql("DESCRIBE ticks").fetchall()]
    assert cols[:8] == ["seq", "ts_ns", "mint_id", "price", "size", "side", "liquidity", "uid"]
    assert cols[-2:] == ["date", "source"]


def test_append_assigns_consecutive_seq_and_hive_layout(store: EventStore) -> None:
    # Two rows on 2025-06-06 and one on 2025-06-07: two partitions, three seqs.
    r1 = store.append("ticks", ticks([T0 + 5, T0 + 1, T0 + DAY + 2]), source="pumpfun")
    assert (r1.first, r1.count) == (0, 3)
    r2 = store.append("ticks", ticks([T0 + 9]), source="pumpfun")
    assert (r2.first, r2.count) == (3, 1)
    paths = sorted(s.path for s in store.segments("ticks"))
    assert paths == [
        "ticks/date=2025-06-06/source=pumpfun/part-000000000000-000000000001.parquet",
        "ticks/date=2025-06-06/source=pumpfun/part-000000000003-000000000003.parquet",
        "ticks/date=2025-06-07/source=pumpfun/part-000000000002-000000000002.parquet",
    ]
    # Rows were stably sorted by ts before seq was assigned: T0+1 got seq 0.
    rows = store.con.sql("SELECT seq, ts_ns - $t0 FROM ticks ORDER BY seq", params={"t0": T0})
    assert rows.fetchall() == [(0, 1), (1, 5), (2, DAY + 2), (3, 9)]


def test_scan_merges_overlapping_segments_in_ts_seq_order(store: EventStore) -> None:
    store.append("ticks", ticks([T0 + 10, T0 + 20, T0 + 30]), source="a")  # seq 0,1,2
    store.append("ticks", ticks([T0 + 5, T0 + 20, T0 + 40]), source="b")  # seq 3,4,5
    store.append("ticks", ticks([T0 + 20]), source="a")  # seq 6
    got = list(zip(*_cols(store, "ts_ns", "seq"), strict=True))
    want = [(5, 3), (10, 0), (20, 1), (20, 4), (20, 6), (30, 2), (40, 5)]
    assert [(t - T0, s) for t, s in got] == want


def test_scan_time_and_mint_filter(store: EventStore) -> None:
    ts = [T0 + i * NS for i in range(10)]
    store.append("ticks", ticks(ts, mint_id=[i % 3 for i in range(10)]), source="a")
    chunks = store.scan(
        "ticks", ["mint_id"], start_ts=T0 + 2 * NS, end_ts=T0 + 8 * NS, mint_ids=[1]
    )
    got = np.concatenate([c["ts_ns"] for c in chunks])
    # seconds 2..7 whose index % 3 == 1: 4 and 7
    assert ((got - T0) // NS).tolist() == [4, 7]


def test_one_hour_of_one_mint_does_not_decode_the_day(store: EventStore) -> None:
    # One day, 200 mints, one tick per second per mint would be big; use 1 tick / 0.5 s
    # interleaved over 8 mints, 172,800 ticks, i.e. 2 row groups of 131,072... too few.
    # So write 24 segments (one per hour, as a recorder rolling hourly would) of
    # 3,600 ticks each, and check only the hour asked for is decoded.
    for h in range(24):
        ts = T0 + h * 3600 * NS + np.arange(3600) * NS
        store.append("ticks", ticks(ts, mint_id=[i % 8 for i in range(3600)]), source="rec")
    st = ScanStats()
    hour = T0 + 13 * 3600 * NS
    rows = sum(
        len(c["ts_ns"])
        for c in store.scan(
            "ticks", ["price"], start_ts=hour, end_ts=hour + 3600 * NS, mint_ids=[3], stats=st
        )
    )
    assert rows == 450  # 3600 / 8
    assert st.segments_total == 24 and st.segments_read == 1
    assert st.rows_decoded == 3600


def test_row_group_pruning_inside_one_segment(store: EventStore) -> None:
    n = 600_000  # > 4 row groups of 131,072
    ts = T0 + np.arange(n, dtype=np.int64) * 100_000_000  # 10 ticks/s, ~16.7 hours
    store.append("ticks", ticks(ts), source="big")
    st = ScanStats()
    start = T0 + 3600 * NS
    got = sum(
        len(c["ts_ns"])
        for c in store.scan("ticks", ["price"], start_ts=start, end_ts=start + 600 * NS, stats=st)
    )
    assert got == 6000
    assert st.row_groups_total == 5
    assert st.row_groups_read == 1


def test_compaction_keeps_rows_and_order_and_retires_old_files(store: EventStore) -> None:
    for i in range(5):
        store.append("ticks", ticks([T0 + 100 - i, T0 + 200 + i], uid_base=10 * i), source="a")
    before = list(zip(*_cols(store, "ts_ns", "seq", "uid"), strict=True))
    res = store.compact(["ticks"], target_rows=1000)
    assert (res.segments_before, res.segments_after, res.rows_rewritten) == (5, 1, 10)
    after = list(zip(*_cols(store, "ts_ns", "seq", "uid"), strict=True))
    assert after == before
    live = list((store.root / "ticks").rglob("*.parquet"))
    assert len(live) == 1 and live[0].name.endswith(".c6.parquet")
    assert len(list((store.root / "_retired").rglob("*.parquet"))) == 5
    # Plain DuckDB over the documented glob sees exactly the committed rows.
    glob = str(store.root / "ticks" / "**" / "*.parquet")
    n = duckdb.sql(f"SELECT count(*) FROM read_parquet('{glob}', hive_partitioning=true)")
    assert n.fetchall() == [(10,)]
    # Appending after compaction continues the seq sequence.
    assert store.append("ticks", ticks([T0]), source="a").first == 10


def test_failed_transaction_leaves_store_unchanged(store: EventStore) -> None:
    store.append("ticks", ticks([T0]), source="a")
    gen = store.manifest.generation
    with pytest.raises(RuntimeError, match="boom"), store.transaction() as tx:
        tx.append("ticks", ticks([T0 + 1, T0 + 2]), source="a")
        tx.append(
            "signals",
            {"ts_ns": [T0], "mint_id": [0], "kind": [1], "value": [2.0], "uid": [0]},
            source="a",
        )
        raise RuntimeError("boom")
    store.refresh()
    assert store.manifest.generation == gen
    assert store.rows("ticks") == 1 and store.rows("signals") == 0
    assert len(list(store.root.rglob("*.parquet"))) == 1
    assert store.append("ticks", ticks([T0 + 3]), source="a").first == 1


def test_recovery_moves_uncommitted_segments_and_temp_files_aside(tmp_path: Path) -> None:
    s = open_store(tmp_path / "s", create=True)
    s.append("ticks", ticks([T0]), source="a")
    part = s.root / s.segments("ticks")[0].path
    stray = part.with_name("part-000000000007-000000000009.parquet")
    stray.write_bytes(part.read_bytes())  # a segment whose manifest commit never happened
    tmp = part.with_name(".part-000000000010-000000000011.parquet.123.tmp")
    tmp.write_bytes(b"half a file")
    (s.root / ".x.tmp").write_bytes(b"")
    s2 = open_store(s.root)
    assert not stray.exists() and not tmp.exists() and not (s.root / ".x.tmp").exists()
    assert (s2.root / "_orphans" / stray.relative_to(s.root)).exists()
    assert s2.rows("ticks") == 1
    assert s2.con.sql("SELECT count(*) FROM ticks").fetchall() == [(1,)]


def test_writer_lock_is_exclusive_and_names_holder(store: EventStore) -> None:
    other = WriterLock(store.root)
    assert other.try_acquire()
    try:
        with pytest.raises(StoreLockedError, match="pid"), store.transaction(timeout_s=0.1):
            pass
    finally:
        other.release()
    store.append("ticks", ticks([T0]), source="a")


def test_bad_appends_are_refused_with_clear_errors(store: EventStore) -> None:
    with pytest.raises(ValueError, match="missing"):
        store.append("ticks", {"ts_ns": [T0]}, source="a")
    with pytest.raises(ValueError, match="source"):
        store.append("ticks", ticks([T0]))
    with pytest.raises(ValueError, match="invalid source"):
        store.append("ticks", ticks([T0]), source="../etc")
    with pytest.raises(ValueError, match="unknown event family"):
        store.append("nope", ticks([T0]), source="a")
    rows = ticks([T0])
    rows["mint_id"] = np.array([2**40])
    with pytest.raises(ValueError, match="ticks"):
        store.append("ticks", rows, source="a")
    assert store.rows("ticks") == 0


def test_open_refuses_missing_or_foreign_dirs(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no Clanka store"):
        open_store(tmp_path / "nope")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(StoreError, match="not empty"):
        open_store(tmp_path / "full", create=True)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / MANIFEST_NAME).write_text(json.dumps({"format": 99}))
    with pytest.raises(StoreError, match="format 99"):
        open_store(bad)


def _cols(store: EventStore, *names: str) -> list[list[int]]:
    chunks = list(store.scan("ticks", list(names)))
    return [np.concatenate([c[n] for c in chunks]).tolist() for n in names]


def test_stale_handle_after_foreign_compaction_still_reads_its_manifest(tmp_path: Path) -> None:
    """Issue 11, item 14: a reader of a committed manifest can finish after a compaction."""
    a = open_store(tmp_path / "s", create=True)
    for i in range(3):
        a.append("ticks", ticks([T0 + i], uid_base=10 * i), source="x")
    b = open_store(a.root)  # another reader, holding the pre-compaction manifest
    old = {s.path for s in b.segments("ticks")}
    a.compact(["ticks"], target_rows=100)
    assert not any((a.root / p).exists() for p in old)  # moved out of the family tree
    assert np.concatenate([c["uid"] for c in b.scan("ticks", ["uid"])]).tolist() == [0, 10, 20]
    ((n,),) = b.con.sql("SELECT count(*) FROM ticks").fetchall()  # DuckDB reads them too
    assert n == 3
    b.refresh()
    assert sum(len(c["ts_ns"]) for c in b.scan("ticks")) == 3


def test_compaction_failing_after_its_commit_keeps_the_new_segments(
    store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    import data.compaction as store_mod

    for i in range(3):
        store.append("ticks", ticks([T0 + i], uid_base=i), source="x")
    real = store_mod.save_manifest

    def commit_then_fail(root: Path, manifest: object) -> None:
        real(root, manifest)  # type: ignore[arg-type]
        raise OSError("directory fsync failed after the rename")

    monkeypatch.setattr(store_mod, "save_manifest", commit_then_fail)
    with pytest.raises(OSError, match="after the rename"):
        store.compact(["ticks"], target_rows=100)
    monkeypatch.undo()
    reopened = open_store(store.root)
    assert len(reopened.segments("ticks")) == 1
    uids = np.concatenate([c["uid"] for c in reopened.scan("ticks", ["uid"])])
    assert uids.tolist() == [0, 1, 2]


def test_the_light_list_of_view_names_matches_the_definitions() -> None:
    from data.duck import PROJECTIONS
    from data.names import FAMILY_NAMES, PROJECTION_NAMES
    from data.schemas import FAMILIES

    assert (tuple(FAMILIES), tuple(PROJECTIONS)) == (FAMILY_NAMES, PROJECTION_NAMES)


def test_the_mint_registry_reads_each_mints_segment_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Commits that register no mint (a live run's rolls) read no mints segment, one that
    registers reads only its own, and after another process's registrations or a
    compaction the registry still equals a fresh read of the store."""
    from data.mints import MintSpec

    st = open_store(tmp_path / "s", create=True)
    read: list[int] = []
    real = EventStore._read_segments

    def counting(self: EventStore, family: str, segs: Any, *a: Any) -> Any:
        if family == "mints":
            read.append(len(segs))
        return real(self, family, segs, *a)

    monkeypatch.setattr(EventStore, "_read_segments", counting)
    for k in range(5):
        with st.transaction() as tx:
            tx.register_mints([MintSpec(f"Mint{k}", f"M{k}", 6, "SOL")], source="t", ts_ns=T0 + k)
        st.append("ticks", ticks([T0 + k * NS], mint_id=k), source="t")  # no new mint
    assert len(st.mints()) == 5
    assert sum(read) == 5  # each segment once, however many commits came between
    other = open_store(tmp_path / "s")  # another handle registers behind this one's back
    with other.transaction() as tx:
        tx.register_mints([MintSpec("Mint9", "M9", 9, "SOL")], source="t", ts_ns=T0 + 9)
    st.refresh()
    read.clear()
    assert st.mints().get("Mint9") is not None and sum(read) == 1
    st.compact(["mints"])
    st.refresh()
    fresh = open_store(tmp_path / "s").mints()
    assert st.mints().records() == fresh.records()
    assert [r.mint_id for r in fresh.records()] == list(range(6))
