"""Learning in replay: every closed trade reviewed, hourly insights, adaptations that reach
the kernel; determinism, no look-ahead (a log truncated at t), projections from the log."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from data.store import EventStore
from engine.events import OutKind
from engine.layout import O_KIND, O_POS_ID
from replay.core.runner import RunResult, run_replay
from strategies.config import load_strategy
from strategies.learning.patterns import PATTERNS
from strategies.learning.projection import brain_counts, incremental_counts
from strategies.learning.settings import LearningSettings

STRAT = load_strategy("momentum_llm")
ON = LearningSettings(mode="on")
H = 3600 * 1_000_000_000


def _replay(store: EventStore, learning: LearningSettings | None = ON, *, write: bool = False,
            end_ts: int | None = None) -> RunResult:  # fmt: skip
    return run_replay(store, STRAT, STRAT.vector(), learning=learning, write=write,
                      end_ts=end_ts)  # fmt: skip


def _closed_pos_ids(r: RunResult) -> list[int]:
    rows = r.out_i[r.out_i[:, O_KIND] == OutKind.POSITION_CLOSED]
    return sorted(int(p) for p in rows[:, O_POS_ID])


def test_a_multi_day_market_learns_and_adapts(synth: EventStore) -> None:
    r = _replay(synth, write=True)
    learner = r.learner
    assert learner is not None
    # One review per closed trade, for every closed trade.
    assert sorted(x["pos_id"] for x in learner.reviews) == _closed_pos_ids(r)
    assert len(learner.reviews) == r.report["trades"] > 100
    # Stamped at exit + horizon unless the data ended first.
    for x in learner.reviews:
        if x["complete"]:
            assert x["ts_ns"] == x["exit_ts_ns"] + ON.horizon_ns == x["horizon_end_ns"]
        else:
            assert x["ts_ns"] < x["exit_ts_ns"] + ON.horizon_ns
    hit = {h["pattern"] for h in learner.hits}
    assert len(hit) >= 3 and hit <= set(PATTERNS)
    # A summary every hour from the first full hour to the last input.
    hours = [i["ts_ns"] for i in learner.insights if i["kind"] == "summary"]
    assert hours == list(range(hours[0], hours[-1] + H, H)) and len(hours) >= 46
    adapts = [a for a in learner.adaptations if a["action"] == "adapt"]
    assert adapts and all(a["reason"] and a["counts"] != "{}" for a in adapts)
    # Each one reached the kernel at its apply time, and the log says who asked.
    hist = synth.con.execute(
        "SELECT ts_ns, name, new_value, status, requested_by, reason FROM param_history "
        "WHERE run_id = ? ORDER BY run_seq", [r.run_id]).fetchall()  # fmt: skip
    sent = [a for a in learner.adaptations if a["status"] == "sent"]
    assert [(h[0], h[1], h[3], h[4]) for h in hist] == [
        (a["apply_ts_ns"], a["param"], "applied", "adaptation") for a in sent]  # fmt: skip
    assert all(math.isclose(h[2], a["new_value"]) and h[5] == a["reason"]
               for h, a in zip(hist, sent, strict=True))  # fmt: skip
    # The families hold what the learner kept.
    for fam, table in learner.tables().items():
        sql = f"SELECT count(*) FROM {fam} WHERE run_id = ?"
        assert synth.con.execute(sql, [r.run_id]).fetchall() == [(table.num_rows,)]


def test_the_brain_rebuilt_from_the_log_equals_the_incremental_one(synth: EventStore) -> None:
    r = _replay(synth, write=True)
    assert r.learner is not None
    mine = incremental_counts(r.learner.brain)
    rebuilt = brain_counts(synth, r.run_id)
    assert mine.keys() == rebuilt.keys()
    for k, (n, wins, total) in mine.items():
        assert rebuilt[k][:2] == (n, wins), k
        assert math.isclose(rebuilt[k][2], total, rel_tol=1e-9, abs_tol=1e-12), k
    # And as of any hour: the log truncated there gives the brain of then.
    t = r.learner.insights[20]["ts_ns"]
    early = [x for x in r.learner.reviews if x["ts_ns"] <= t]
    assert brain_counts(synth, r.run_id, t)[("all", "all")][:2] == (
        len(early), sum(x["actual_return"] > 0 for x in early))  # fmt: skip


def test_learning_twice_gives_the_same_events(synth_days: EventStore) -> None:
    a, b = _replay(synth_days), _replay(synth_days)
    assert a.events_sha256 == b.events_sha256
    assert a.learner is not None and b.learner is not None
    ta, tb = a.learner.tables(), b.learner.tables()
    assert ta.keys() == tb.keys() == {"reviews", "pattern_hits", "insights", "adaptations"}
    for fam in ta:
        assert _bytes(ta[fam]) == _bytes(tb[fam]), fam


def _bytes(table: pa.Table) -> bytes:
    """The table as Arrow IPC bytes: byte-identical content, NaN included."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def test_observe_mode_trades_exactly_as_learning_off(synth_days: EventStore) -> None:
    off = _replay(synth_days, None)
    observe = _replay(synth_days, LearningSettings(mode="observe"))
    assert observe.events_sha256 == off.events_sha256
    assert observe.learner is not None
    assert observe.learner.adaptations
    assert {a["status"] for a in observe.learner.adaptations} == {"observed"}
    assert not np.isin(observe.out_i[:, O_KIND], [OutKind.PARAM_CHANGED]).any()


def _rows(table: pa.Table, before: int) -> list[str]:
    """Rows stamped before `before`, each as its repr (NaN equals NaN there)."""
    return [repr(r) for r in table.to_pylist() if r["ts_ns"] < before]


@settings(max_examples=4, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(cut_h=st.floats(min_value=3.0, max_value=46.0))
@example(cut_h=4.5)  # a trade whose review fell due in the last slice before the cut
def test_nothing_learned_by_t_reads_past_t(synth_days: EventStore, cut_h: float) -> None:
    full = _replay(synth_days)
    first = int(synth_days.con.execute("SELECT min(ts_ns) FROM ticks").fetchall()[0][0])
    cut = first + int(cut_h * H)
    part = _replay(synth_days, end_ts=cut)
    assert full.learner is not None and part.learner is not None
    # The truncated run saw inputs up to its last one; everything stamped before it
    # is what the full run stamped then (the truncated run's only extra events are the
    # reviews it had to cut short at its end).
    last = part.learner.last_ts
    a, b = full.learner.tables(), part.learner.tables()
    for fam in a:
        mine = _rows(b[fam], last) if fam in b else []
        if fam == "reviews":
            mine = [x for x in mine if "'complete': True" in x]
        assert _rows(a[fam], last) == mine, fam
    # And the kernel, steered by the adaptations, decided the same up to then.
    keep_a = full.out_i[:, 1] < last
    keep_b = part.out_i[:, 1] < last
    assert np.array_equal(full.out_i[keep_a], part.out_i[keep_b])


def test_the_real_pump_fun_evenings_review_every_trade_and_adapt(pump_days: EventStore) -> None:
    strat = load_strategy("pumpfun_scalper")
    r = run_replay(pump_days, strat, strat.vector(), learning=ON, write=True)
    assert r.learner is not None
    assert sorted(x["pos_id"] for x in r.learner.reviews) == _closed_pos_ids(r) != []
    assert len({h["pattern"] for h in r.learner.hits}) >= 3
    hours = [i["ts_ns"] for i in r.learner.insights if i["kind"] == "summary"]
    assert hours == list(range(hours[0], hours[-1] + H, H)) and len(hours) >= 24
    adapts = [a for a in r.learner.adaptations if a["action"] == "adapt"]
    assert adapts and all(a["reason"] for a in adapts)  # the minimum sample is reached


def test_frozen_from_t_the_run_is_the_learning_run_until_t_and_changes_nothing_after(
    synth_days: EventStore,
) -> None:
    full = _replay(synth_days)
    assert full.learner is not None
    first = int(synth_days.con.execute("SELECT min(ts_ns) FROM ticks").fetchall()[0][0])
    t = (first // H + 24) * H
    frozen = run_replay(synth_days, STRAT, STRAT.vector(), learning=ON, write=False,
                        freeze_learning_at=t)  # fmt: skip
    assert frozen.learner is not None
    # Identical until t: every output row stamped before it (adaptations then applied).
    keep_a, keep_b = full.out_i[:, 1] < t, frozen.out_i[:, 1] < t
    assert np.array_equal(full.out_i[keep_a], frozen.out_i[keep_b])
    # From t on it observes: nothing is sent, no parameter changes after t + delay.
    late = [a for a in frozen.learner.adaptations if a["ts_ns"] >= t]
    assert late and {a["status"] for a in late} == {"observed"}
    changed = frozen.out_i[frozen.out_i[:, 0] == OutKind.PARAM_CHANGED]
    assert (changed[:, 1] <= t).all()
    assert any(a["status"] == "sent" and a["ts_ns"] >= t for a in full.learner.adaptations)
