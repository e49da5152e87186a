"""Mint ids without a store commit: the id journal, across processes and crashes.

A live run gives a new token its id from the store's journal (`data.mint_ids`) and
registers it at its next roll. These tests hold that to what the old commit-per-mint
gave: every process agrees on each address's id, no id is handed out twice, a crash
before the roll loses nothing, and the journal is durable before the log record that
uses its id.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

from data.errors import StoreError
from data.feed.wire import FeedTick
from data.mint_ids import JOURNAL_NAME, MintIdJournal
from data.mints import MintSpec
from data.store import open_store
from data.wal import read_log
from engine.layout import MF_SCALE, N_OUT_F
from replay.live.run import LiveRun, LiveSettings, wal_files
from strategies.config import load_strategy

A = "7GCihgDB8fe6KNjn2MYtkzZcRjQy3t9GHdC8uHYmW2hr"
B = "So11111111111111111111111111111111111111112"
C = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
T0 = 1_800_000_000 * 10**9


def _tick(mint: str, k: int) -> FeedTick:
    return FeedTick(mint, 2.5e-8, 7_000_000, 1, 31.5, 0, T0 + k * 1_000, 100 + k)


def _run(st_root: Path, run_id: str = "r") -> LiveRun:
    st = open_store(st_root, create=True)
    return LiveRun(st, run_id, load_strategy("momentum_breakout"), LiveSettings(),
                   mode="paper", now_ns=lambda: T0)  # fmt: skip


def test_two_journals_agree_on_ids_and_keep_the_first_decimals(tmp_path: Path) -> None:
    one, two = MintIdJournal(tmp_path), MintIdJournal(tmp_path)
    assert one.assign([(A, 6), (B, 9)], floor=5) == {A: (5, 6), B: (6, 9)}
    # The second process asks for B (with other decimals) and C: B keeps 6 and 9.
    assert two.assign([(B, 6), (C, 6)], floor=0) == {B: (6, 9), C: (7, 6)}
    # The first learns C from the file when it next assigns; a floor above moves on.
    assert one.assign([(C, 9), ("D", 6)], floor=10) == {C: (7, 6), "D": (10, 6)}
    lines = [json.loads(x) for x in (tmp_path / JOURNAL_NAME).read_text().splitlines()]
    assert lines == [[5, 6, A], [6, 9, B], [7, 6, C], [10, 6, "D"]]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(hs.lists(hs.tuples(hs.integers(0, 2), hs.lists(hs.integers(0, 9), max_size=4)),
                max_size=12))  # fmt: skip
def test_any_interleaving_of_three_registrars_is_one_dense_bijection(
    tmp_path_factory: pytest.TempPathFactory, calls: list[tuple[int, list[int]]]
) -> None:
    root = tmp_path_factory.mktemp("j")
    js = [MintIdJournal(root) for _ in range(3)]
    seen: dict[str, int] = {}
    for who, names in calls:
        got = js[who].assign([(f"m{k}", 6) for k in names], floor=0)
        for name, (mint_id, _) in got.items():
            assert seen.setdefault(name, mint_id) == mint_id  # never two ids for a mint
    # Every address met has one id, the ids are 0..n-1 in order of first meeting.
    assert sorted(seen.values()) == list(range(len(seen)))
    assert len(set(seen.values())) == len(seen)


def _assign_in_child(root: str, names: list[str], out: str) -> None:
    j = MintIdJournal(Path(root))
    got = {}
    for name in names:  # one at a time: the other process interleaves its lines
        got.update(j.assign([(name, 6)], floor=0))
    Path(out).write_text(json.dumps(got))


def test_two_processes_meeting_the_same_new_mints_agree(tmp_path: Path) -> None:
    names = [f"mint{k:03d}" for k in range(150)]
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(
            target=_assign_in_child, args=(str(tmp_path), order, str(tmp_path / f"{i}.json"))
        )
        for i, order in enumerate([names, names[::-1]])
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    a, b = (json.loads((tmp_path / f"{i}.json").read_text()) for i in range(2))
    assert a == b
    assert sorted(v[0] for v in a.values()) == list(range(150))


def test_a_torn_last_line_is_cut_and_a_damaged_one_is_a_clear_error(tmp_path: Path) -> None:
    MintIdJournal(tmp_path).assign([(A, 6)], floor=0)
    path = tmp_path / JOURNAL_NAME
    with path.open("ab") as f:
        f.write(b'[1, 6, "')  # a writer killed mid-line: that id was never used
    assert MintIdJournal(tmp_path).assign([(B, 6)], floor=0) == {B: (1, 6)}
    assert path.read_bytes().count(b"\n") == 2 and b'[1, 6, "' + B.encode() in path.read_bytes()
    path.write_bytes(b"[0, 6, 7]\nnot json\n")
    with pytest.raises(StoreError, match=r"mint id journal .* is damaged"):
        MintIdJournal(tmp_path).assign([(C, 6)], floor=0)


def test_a_first_sight_commits_nothing_until_the_roll_which_registers_it(tmp_path: Path) -> None:
    run = _run(tmp_path / "s")
    st = run.store
    gen = st.manifest.generation
    run.process_items([_tick(A, 1)], None)
    run.process_items([_tick(A, 2), _tick(B, 3)], None)
    # Two new mints met, no commit: the store's manifest is the one after the start row.
    assert st.manifest.generation == gen and st.mints().get(A) is None
    run.sync()
    recs = [r for p in wal_files(st.root, "r") for r in read_log(p, N_OUT_F)[0]]
    assert [r.extras.get("mints") for r in recs] == [
        [[0, A, 6, T0 + 1_000]],
        [[1, B, 6, T0 + 2_000]],
    ]
    assert [r.inputs["mint"].tolist() for r in recs] == [[0], [0, 1]]
    # Meanwhile an importer meets B and C: B keeps this run's id, C gets the next.
    with st.transaction() as tx:
        got = tx.register_mints([MintSpec(B, "BEE", 9, "SOL"), MintSpec(C, None, 6, "SOL")],
                                source="imp", ts_ns=T0)  # fmt: skip
    assert (got[B].mint_id, got[B].decimals, got[C].mint_id) == (1, 6, 2)
    run.roll()
    reg = run.store.mints()
    assert [(r.mint_id, r.mint, r.source) for r in reg.records()] == [
        (0, A, "r"),
        (1, B, "imp"),
        (2, C, "imp"),
    ]
    run.process_items([_tick(C, 4)], None)  # met now: the importer's id, no new one
    assert run.addresses[C] == 2
    run.close()
    lines = (st.root / JOURNAL_NAME).read_text().splitlines()
    assert [json.loads(x)[:2] for x in lines] == [[0, 6], [1, 6], [2, 6]]


def test_a_crash_before_the_roll_registers_the_logged_mints_at_recovery(tmp_path: Path) -> None:
    run = _run(tmp_path / "s", "crashy")
    run.process_items([_tick(B, 1), _tick(A, 2)], None)
    run.sync()
    assert run.store.mints().get(A) is None
    assert run._lock is not None
    run._lock.release()  # the process dies here: the log holds the batch, Parquet nothing
    run.store.close()
    again = _run(tmp_path / "s", "crashy")
    reg = again.store.mints()
    assert [(r.mint_id, r.mint, r.decimals) for r in reg.records()] == [(0, A, 6), (1, B, 6)]
    assert again.recovered_batches == 1
    again.process_items([_tick(A, 3)], None)  # known again: the same id, no new line
    assert again.addresses == {A: 0, B: 1}
    again.close()
    assert len((tmp_path / "s" / JOURNAL_NAME).read_text().splitlines()) == 2


def test_the_journal_is_durable_before_the_record_that_uses_its_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = _run(tmp_path / "s")
    run.sync()
    order: list[str] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        order.append(Path(os.readlink(f"/proc/self/fd/{fd}")).name)
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    run.process_items([_tick(A, 1)], None)
    run.sync()
    assert order[0] == JOURNAL_NAME and order[1].startswith("wal-")
    order.clear()
    run.process_items([_tick(A, 2)], None)  # nothing new: the log alone
    run.sync()
    assert [n for n in order if n == JOURNAL_NAME] == []
    monkeypatch.undo()
    run.close()


def test_a_mint_another_process_met_first_gets_its_decimals_in_the_row_made_for_it(
    tmp_path: Path,
) -> None:
    run = _run(tmp_path / "s")
    run.process_items([_tick(A, 1)], None)  # A: id 0
    with run.store.transaction() as tx:  # an importer meets C, with 9 decimals: id 1
        tx.register_mints([MintSpec(C, None, 9, "SOL")], source="imp", ts_ns=T0)
    run.process_items([_tick(B, 2)], None)  # B: id 2; the kernel makes room for 0..2
    assert run.kernel.n_mints == 3 and run.kernel.state.mint_f[1, MF_SCALE] == 1.0
    run.process_items([_tick(C, 3)], None)  # met now: the importer's id and decimals
    assert run.addresses == {A: 0, C: 1, B: 2}
    assert run.kernel.state.mint_f[1, MF_SCALE] == 10.0**9
    run.close()
