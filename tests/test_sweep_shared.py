"""Shared features in sweeps: sets that share them make exactly the events they make alone.

`replay.sweep.shared` computes each tick's features once for every set that agrees on
the four parameters features read, asks the entry conditions once per tick for sets
that read them alike, and skips a set's tick inside its position's quiet band. These
tests hold that to the per-set kernel and to plain replays: every metric of every set
is equal (exactly, against the per-set sweep, which folds the same events in the same
order), with one thread or two, when sharing ends part-way through the input, when the
sets read their conditions differently, when a risk rating reaches positions inside
their quiet bands, and when the sets cannot share at all.
"""

from __future__ import annotations

import itertools
import math
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import replay.sweep.chunk as chunk
from data.controls import append_param
from data.store import EventStore, open_store
from engine.codes import SignalKind
from engine.kernel import KernelInput
from engine.params import P
from replay.core.runner import coalesce, input_batches, run_replay
from replay.sweep.grid import grid_sets, parse_grid
from replay.sweep.results import METRIC_KEYS
from replay.sweep.shared import (
    SharedFeatures,
    changes_features,
    shares_conditions,
    shares_features,
)
from replay.sweep.vbt_compare import BAR, T0, build_store, entry_bars
from replay.sweep.vbt_compare import strategy as vbt_strategy
from strategies.config import StrategyConfig, load_strategy
from tests.test_replay import pump_store, synth_store  # noqa: F401  (fixtures)

MID = 1_749_230_700_000_000_000  # 2025-06-06T17:25:00Z, mid-way through the pump.fun data


def _split_batches(monkeypatch: pytest.MonkeyPatch, pieces: int) -> list[int]:
    """The sweep's input arrives in `pieces` batches per stored batch (same events).

    Returns the sizes of the batches handed out, as they are.
    """
    real = chunk.input_batches
    sizes: list[int] = []

    def split(*args: Any, **kwargs: Any) -> Iterator[KernelInput]:
        for batch in real(*args, **kwargs):
            cuts = np.linspace(0, len(batch), pieces + 1).astype(int)
            for lo, hi in itertools.pairwise(cuts):
                if hi > lo:
                    sizes.append(int(hi - lo))
                    yield batch.slice(int(lo), int(hi))

    monkeypatch.setattr(chunk, "input_batches", split)
    monkeypatch.setattr(chunk, "BATCH_EVENTS", 1)  # no joining them back (`coalesce`)
    return sizes


def _sweep(store: EventStore, strat: StrategyConfig, sets: list[dict[str, float]],
           threads: int = 1, share: bool = True) -> list[dict[str, Any]]:  # fmt: skip
    before = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        return chunk.sweep_local(store, strat, sets, share_features=share)
    finally:
        numba.set_num_threads(before)


def _equal_to_replays(store: EventStore, strat: StrategyConfig, sets: list[dict[str, float]],
                      rows: list[dict[str, Any]]) -> None:  # fmt: skip
    for s, got in zip(sets, rows, strict=True):
        want = run_replay(store, strat, strat.vector(s), write=False).report
        for k in METRIC_KEYS:
            a, b = got[k], want[k]
            assert a == b or (isinstance(a, float) and math.isclose(a, b, rel_tol=1e-9)), (s, k)


GRID = ["stop_loss=0.04,0.1", "tp1=0.1,0.2", "min_buy_confidence=0.55,0.65",
        "max_positions=1,4"]  # fmt: skip


def test_shared_features_give_every_set_exactly_its_own_results(
    synth_store: EventStore,  # noqa: F811
) -> None:
    strat = load_strategy("momentum_breakout")
    sets = grid_sets(strat, parse_grid(GRID))
    assert shares_features(np.stack([strat.vector(s) for s in sets]))
    shared_1 = _sweep(synth_store, strat, sets, threads=1)
    shared_2 = _sweep(synth_store, strat, sets, threads=2)
    alone = _sweep(synth_store, strat, sets, share=False)
    assert shared_1 == alone
    assert shared_2 == alone
    assert len({r["realized_pnl_sol"] for r in alone}) > 4  # the sets really differ
    assert sum(r["trades"] for r in alone) > 100


def test_a_risk_rating_reaches_positions_inside_their_quiet_bands(tmp_path: Path) -> None:
    """Signals of other kinds leave the sets' quiet bands standing
    (`kernel_nb.signal_keeps_bands_nb`); a risk rating past the strong-sell threshold must still
    exit a held position on the next tick, though its price sits inside the band. The
    sets' results are exactly the per-set kernel's, and the ratings took positions out
    (the results differ from the same market without them)."""
    rng = np.random.default_rng(5)
    n = 3000
    px = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.002, n)))
    calm = build_store(tmp_path / "calm", px, entry_bars(n))
    rated = build_store(tmp_path / "rated", px, entry_bars(n))
    bars = np.arange(20, n - 2, 111)  # the entries come every 37th bar from bar 5
    ts = np.stack([T0 + bars * BAR + 500, T0 + (bars + 2) * BAR + 500], axis=1).ravel()
    mint = rated.mints().next_id - 1  # the store's one mint
    with rated.transaction() as tx:
        tx.append("signals", {
            "ts_ns": ts, "mint_id": np.full(len(ts), mint, np.int32),
            "kind": np.full(len(ts), int(SignalKind.RISK_SCORE), np.int16),
            "value": np.tile([9.0, 0.0], len(bars)), "uid": np.arange(len(ts), dtype=np.int64),
        }, source="risk")  # fmt: skip
    base = vbt_strategy()
    strat = base.model_copy(update={"params": {**base.params, "strong_sell_risk": 8.0}})
    sets = grid_sets(strat, parse_grid(["stop_loss=0.01073,0.02119", "tp1=0.01139,0.02917"]))
    shared = chunk.sweep_local(rated, strat, sets)
    assert shared == chunk.sweep_local(rated, strat, sets, share_features=False)
    assert shared != chunk.sweep_local(calm, strat, sets)
    assert all(r["trades"] > 10 for r in shared)


def test_sharing_ends_before_a_feature_parameter_changes(
    pump_store: EventStore,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dst = tmp_path / "s"
    shutil.copytree(pump_store.root, dst)
    store = open_store(dst)
    append_param(store, "vol_halflife_min", 10, MID, source="operator", reason="faster vol")
    append_param(store, "stop_loss", 0.05, MID - 600 * 10**9, source="operator", reason="r")
    strat = load_strategy("momentum_breakout")
    sets = [{"stop_loss": 0.1}, {"tp1": 0.12}, {"min_buy_confidence": 0.55}, {}]
    _split_batches(monkeypatch, 6)
    ran: list[str] = []
    real_run, real_end = SharedFeatures.run, SharedFeatures.end

    def run(self: SharedFeatures, batch: KernelInput, *a: Any) -> None:
        assert not changes_features(batch)
        ran.append("shared")
        real_run(self, batch, *a)

    def end(self: SharedFeatures, *a: Any) -> None:
        ran.append("end")
        real_end(self, *a)

    monkeypatch.setattr(SharedFeatures, "run", run)
    monkeypatch.setattr(SharedFeatures, "end", end)
    rows = _sweep(store, strat, sets)
    # Shared batches first (the stop-loss change among them), then one hand-over.
    assert ran.count("end") == 1 and ran.index("end") == len(ran) - 1 >= 2
    _equal_to_replays(store, strat, sets, rows)
    report = run_replay(store, strat, strat.vector(sets[0]), write=False).report
    assert [c["status"] for c in report["controls"]] == ["applied", "applied"]


def test_a_hand_over_mid_input_changes_no_result(
    synth_store: EventStore,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Sharing that ends after any batch leaves every set where the per-set kernel is."""
    strat = load_strategy("momentum_breakout")
    sets = grid_sets(strat, parse_grid(GRID[:2]))
    sizes = _split_batches(monkeypatch, 5)
    seen = {"n": 0}

    def third_batch_changes(batch: KernelInput) -> bool:
        seen["n"] += 1
        return seen["n"] == 3

    monkeypatch.setattr(chunk, "changes_features", third_batch_changes)
    handed_over = _sweep(synth_store, strat, sets, threads=2)
    assert seen["n"] == 3 and len(sizes) >= 5  # shared for two batches, then apart
    assert handed_over == _sweep(synth_store, strat, sets, share=False)


def test_sets_that_differ_in_a_feature_parameter_run_apart(
    synth_store: EventStore,  # noqa: F811
) -> None:
    strat = load_strategy("momentum_breakout")
    sets = grid_sets(strat, parse_grid(["vol_halflife_min=5,120", "stop_loss=0.05,0.1"]))
    params = np.stack([strat.vector(s) for s in sets])
    assert not shares_features(params)
    assert shares_features(params[params[:, P.VOL_HALFLIFE_MIN] == 5.0])
    rows = _sweep(synth_store, strat, sets)
    by = {(s["vol_halflife_min"], s["stop_loss"]): r for s, r in zip(sets, rows, strict=True)}
    assert by[(5.0, 0.05)] != by[(120.0, 0.05)]  # the volatility half-life changes results
    _equal_to_replays(synth_store, strat, sets, rows)


def _ticks(ts_s: list[int], mints: list[int]) -> KernelInput:
    n = len(ts_s)
    return KernelInput(
        kind=np.zeros(n, np.int8), ts=np.array(ts_s, np.int64) * 10**9,
        seq=np.arange(n, dtype=np.int64), mint=np.array(mints, np.int32),
        price=np.ones(n), size=np.ones(n, np.int64), liq=np.full(n, np.nan),
        sig_kind=np.zeros(n, np.int16), sig_value=np.zeros(n),
    )  # fmt: skip


def test_the_sweep_shares_by_default_on_tick_data_too(
    synth_store: EventStore,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Tick data (few ticks open a bar) shares as bars do, with the per-set results."""
    ran: list[int] = []
    real_run = SharedFeatures.run

    def run(self: SharedFeatures, batch: KernelInput, *a: Any) -> None:
        ran.append(len(batch))
        real_run(self, batch, *a)

    monkeypatch.setattr(SharedFeatures, "run", run)
    strat = load_strategy("momentum_breakout")
    sets = grid_sets(strat, parse_grid(GRID[:2]))
    rows = chunk.sweep_local(synth_store, strat, sets)
    assert sum(ran) == sum(len(b) for b in input_batches(synth_store, None, None, None))
    assert rows == _sweep(synth_store, strat, sets, share=False)


def test_sets_that_read_conditions_differently_ask_them_each(
    synth_store: EventStore,  # noqa: F811
) -> None:
    """Market cap is price x the assumed supply: sets apart in it answer apart.

    They still share their features; each asks its own conditions, with the results
    the per-set kernel gives.
    """
    strat = load_strategy("momentum_breakout").model_copy(
        update={"entry": "mcap >= 40000000 AND ret_5m >= 0.03"}
    )
    sets = [{"assumed_supply_tokens": 1e9}, {"assumed_supply_tokens": 4e9},
            {"assumed_supply_tokens": 1e9, "stop_loss": 0.05}]  # fmt: skip
    params = np.stack([strat.vector(s) for s in sets])
    assert shares_features(params)
    assert not shares_conditions(params, np.zeros((3, 2, 4, 3)))
    assert shares_conditions(params[[0, 2]], np.zeros((2, 2, 4, 3)))
    rows = _sweep(synth_store, strat, sets)
    assert rows == _sweep(synth_store, strat, sets, share=False)
    assert rows[0]["decisions"] != rows[1]["decisions"]  # the supply changes entries
    _equal_to_replays(synth_store, strat, sets[:2], rows[:2])


@settings(max_examples=60, deadline=None)
@given(sizes=st.lists(st.integers(0, 40), max_size=12), least=st.integers(1, 60))
def test_coalesced_batches_hold_the_same_events(sizes: list[int], least: int) -> None:
    rows = _ticks(list(range(sum(sizes))), [1] * sum(sizes))
    cuts = np.cumsum([0, *sizes])
    parts = [rows.slice(int(a), int(b)) for a, b in itertools.pairwise(cuts)]
    out = list(coalesce(iter(parts), least))
    assert all(len(b) >= least for b in out[:-1])
    assert sum(len(b) for b in out) == sum(sizes)
    if not out:
        assert sizes == []
        return
    joined = KernelInput(*(np.concatenate(col) for col in zip(*out, strict=True)))
    for got, want in zip(joined, rows, strict=True):
        assert np.array_equal(got, want, equal_nan=got.dtype.kind == "f")
