"""The strategist in a replay of the pump.fun day, against a stand-in model.

Hand-worked: the data starts at 16:35:11 UTC, so with interval_s 900 the first due
time is 16:45:00 (the next multiple of 15 minutes) and, with delay_s 30, the first
answer takes effect at 16:45:30. Every output row before that instant is the same as
in a run without the strategist. Live then recorded gives the same events hash; the
prompt at t is byte-identical when the log is cut at t.
"""

from __future__ import annotations

import datetime as dt
import json

import numpy as np

from data.store import EventStore
from engine.events import OutKind
from engine.layout import O_IN_SEQ, O_KIND, O_QTY, O_SOL, O_TS
from replay.core.runner import mint_names, run_replay
from strategies.config import StrategyConfig, load_strategy
from strategies.strategist.calls import Strategist
from strategies.strategist.model import LiveModel, RecordedModel
from strategies.strategist.settings import StrategistSettings
from tests.strategist.ollama_standin import Answer, Status, proposal, standin

S = 1_000_000_000
FIRST_APPLY = 1_749_228_330 * S  # 2025-06-06T16:45:30Z
NEW_SET = [("ret_5m", ">=", 0.02), ("liquidity", ">=", 25.0)]


def _strategy(host: str, mode: str = "live") -> StrategyConfig:
    strat = load_strategy("momentum_breakout")
    st = StrategistSettings(mode=mode, host=host, model="m", interval_s=900, delay_s=30,  # type: ignore[arg-type]
                            backoff_s=0.01, attempts=1)  # fmt: skip
    return strat.model_copy(update={"strategist": st})


def _live(strat: StrategyConfig) -> Strategist:
    return Strategist(strat.strategist, LiveModel(strat.strategist))


def test_first_due_time_is_the_next_quarter_hour_after_the_first_tick(pump: EventStore) -> None:
    ((first,),) = pump.con.execute("SELECT min(ts_ns) FROM ticks").fetchall()
    assert first // S == 1_749_227_711  # 16:35:11
    assert (first // (900 * S) + 1) * 900 * S + 30 * S == FIRST_APPLY


def test_an_accepted_answer_applies_at_due_plus_delay_and_nothing_earlier_moves(
    pump: EventStore,
) -> None:
    plain = load_strategy("momentum_breakout")
    base = run_replay(pump, plain, plain.vector(), write=False)
    with standin(Answer(proposal(NEW_SET, note="looser"))) as s:
        strat = _strategy(s.host)
        r = run_replay(pump, strat, strat.vector(), strategist=_live(strat))
    changed = r.out_i[r.out_i[:, O_KIND] == OutKind.CONDITIONS_CHANGED]
    assert len(changed) == 1  # later answers repeat the set in force: unchanged
    assert int(changed[0, O_TS]) == FIRST_APPLY
    assert (int(changed[0, O_SOL]), int(changed[0, O_QTY])) == (4, 2)  # 4 conditions -> 2
    assert int(changed[0, O_IN_SEQ]) == -(2**48)  # call 0's input seq
    before_b = base.out_i[base.out_i[:, O_TS] < FIRST_APPLY]
    before_r = r.out_i[r.out_i[:, O_TS] < FIRST_APPLY]
    assert len(before_b) > 5 and before_b.tobytes() == before_r.tobytes()
    statuses = [c.status for c in r.calls]
    assert statuses[0] == "accepted" and set(statuses[1:]) == {"unchanged"}
    assert len(r.calls) == 7  # due 16:45 ... 18:15, the last data at 18:15:52
    assert r.report["strategist"]["by_status"] == {"accepted": 1, "unchanged": 6}
    assert r.events_sha256 != base.events_sha256
    c = r.report["controls"][0]
    assert (c["time"], c["requested_by"], c["reason"]) == ("2025-06-06 16:45:30", "strategist",
                                                           "looser")  # fmt: skip
    assert c["change"] == "conditions -> ret_5m >= 0.02 AND liquidity >= 25"
    # The store has each call, and param_history names the strategist and its note.
    rows = pump.con.execute(
        "SELECT call_no, status, mode, host, model, apply_ts_ns - ts_ns FROM strategist "
        "WHERE run_id = ? ORDER BY call_no",
        [r.run_id],
    ).fetchall()
    assert rows[0] == (0, "accepted", "live", s.host, "m", 30 * S)
    hist = pump.con.execute("SELECT conditions, requested_by, reason FROM param_history "
                            "WHERE run_id = ?", [r.run_id]).fetchall()  # fmt: skip
    assert hist == [("ret_5m >= 0.02 AND liquidity >= 25", "strategist", "looser")]


def test_failed_calls_leave_the_conditions_alone(pump: EventStore) -> None:
    plain = load_strategy("momentum_breakout")
    base = run_replay(pump, plain, plain.vector(), write=False)
    for behaviour, status in ((Status(404, "model 'm' not found"), "model_missing"),
                              (Answer(proposal(NEW_SET), done_reason="length"), "truncated"),
                              (Answer("{not json"), "invalid_json"),
                              (Answer(proposal([("ret_5m", ">", 5), ("ret_5m", "<", 1)])),
                               "refused")):  # fmt: skip
        with standin(behaviour) as s:
            strat = _strategy(s.host)
            r = run_replay(pump, strat, strat.vector(), write=False, strategist=_live(strat))
        assert {c.status for c in r.calls} == {status}
        assert r.events_sha256 == base.events_sha256
        assert not (r.out_i[:, O_KIND] == OutKind.CONDITIONS_CHANGED).any()


def test_live_then_recorded_gives_the_same_hash_and_missing_answers_invent_nothing(
    pump: EventStore,
) -> None:
    with standin(Answer(proposal(NEW_SET))) as s:
        strat = _strategy(s.host)
        live = run_replay(pump, strat, strat.vector(), strategist=_live(strat))
    pump.refresh()
    rec_strat = _strategy("http://127.0.0.1:9", mode="recorded")  # nothing listens there
    rec = run_replay(pump, rec_strat, rec_strat.vector(),
                     strategist=Strategist(rec_strat.strategist, RecordedModel(pump)))  # fmt: skip
    assert rec.events_sha256 == live.events_sha256
    assert [c.prompt.sha256 for c in rec.calls] == [c.prompt.sha256 for c in live.calls]
    assert [c.reply.raw for c in rec.calls] == [c.reply.raw for c in live.calls]
    # A store with no recorded answers: every call is `missing`, nothing changes.
    plain = load_strategy("momentum_breakout")
    base = run_replay(pump, plain, plain.vector(), write=False)
    empty = RecordedModel(pump, run_id="no-such-run")
    miss = run_replay(pump, rec_strat, rec_strat.vector(), write=False,
                      strategist=Strategist(rec_strat.strategist, empty))  # fmt: skip
    assert {c.status for c in miss.calls} == {"missing"}
    assert miss.report["strategist"]["missing"] == 7
    assert miss.events_sha256 == base.events_sha256


def test_the_prompt_at_t_is_byte_identical_with_the_log_cut_at_t(pump: EventStore) -> None:
    with standin(Answer(proposal(NEW_SET))) as s:
        strat = _strategy(s.host)
        full = run_replay(pump, strat, strat.vector(), strategist=_live(strat))
    pump.refresh()
    rec = Strategist(strat.strategist, RecordedModel(pump, run_id=full.run_id))
    names = mint_names(pump)
    for call in (full.calls[1], full.calls[4]):  # after the change, and later on
        t = call.prompt.ts_ns
        cut = run_replay(pump, strat, strat.vector(), end_ts=t + 1, write=False, strategist=rec)
        assert int(cut.out_i[:, O_TS].max()) <= t
        k = cut.kernel
        again = rec.prompt(t, cut.out_i, cut.out_f, k.state, k.params, names)
        assert again.text == call.prompt.text
        assert again.sha256 == call.prompt.sha256
    assert np.unique([c.prompt.sha256 for c in full.calls]).size == len(full.calls)


def test_an_operator_request_is_one_more_due_time_at_its_own_event_time(pump: EventStore) -> None:
    """Hand-worked: scheduled calls at 16:45, 17:00, ...; a request logged for 16:52:00
    is asked at 16:52:00 and its answer applies at 16:52:30."""
    from data.controls import append_strategist_request

    req = 1_749_228_720 * S  # 2025-06-06T16:52:00Z
    append_strategist_request(pump, req, source="operator", reason="look again")
    pump.refresh()
    other = [("ret_5m", ">=", 0.03), ("liquidity", ">=", 20.0)]
    with standin(Answer(proposal(NEW_SET)), Answer(proposal(other))) as s:
        strat = _strategy(s.host)
        r = run_replay(pump, strat, strat.vector(), strategist=_live(strat))
    first = [(c.prompt.ts_ns, c.trigger, c.status) for c in r.calls[:3]]
    assert first == [(FIRST_APPLY - 30 * S, "schedule", "accepted"), (req, "request", "accepted"),
                     (FIRST_APPLY - 30 * S + 900 * S, "schedule", "unchanged")]  # fmt: skip
    changed = r.out_i[r.out_i[:, O_KIND] == OutKind.CONDITIONS_CHANGED]
    assert changed[:, O_TS].tolist() == [FIRST_APPLY, req + 30 * S]
    rows = pump.con.execute("SELECT trigger, count(*) FROM strategist WHERE run_id = ? "
                            "GROUP BY 1 ORDER BY 1", [r.run_id]).fetchall()  # fmt: skip
    assert rows == [("request", 1), ("schedule", 7)]


def test_a_request_while_an_answer_is_out_is_asked_once_that_answer_applies(
    pump: EventStore,
) -> None:
    """A request for 16:45:10 comes while the 16:45:00 answer waits for 16:45:30: it is
    asked once that answer is applied, at 16:45:30 (no input falls exactly there, so the
    kernel has seen everything up to that instant), and its own answer applies at
    16:46:00."""
    from data.controls import append_strategist_request

    append_strategist_request(pump, FIRST_APPLY - 20 * S, source="operator", reason="now")
    pump.refresh()
    ((at_apply,),) = pump.con.execute(
        "SELECT count(*) FROM (SELECT ts_ns FROM ticks UNION ALL SELECT ts_ns FROM signals) "
        "WHERE ts_ns = ?", [FIRST_APPLY]).fetchall()  # fmt: skip
    assert at_apply == 0
    with standin(Answer(proposal(NEW_SET))) as s:
        strat = _strategy(s.host)
        r = run_replay(pump, strat, strat.vector(), write=False, strategist=_live(strat))
    c0, c1 = r.calls[:2]
    assert (c0.prompt.ts_ns, c0.trigger) == (FIRST_APPLY - 30 * S, "schedule")
    assert (c1.prompt.ts_ns, c1.trigger) == (FIRST_APPLY, "request")
    assert c1.apply_ts_ns == FIRST_APPLY + 30 * S
    # Its prompt already shows the first answer's set in force.
    data = json.loads(c1.prompt.request["messages"][1]["content"].removeprefix("DATA:\n"))
    assert data["active_conditions"] == "ret_5m >= 0.02 AND liquidity >= 25"


def test_the_prompt_lists_the_latest_decisions_and_trades_up_to_its_limits(
    pump: EventStore,
) -> None:
    """At 16:45:00 the run has logged a handful of decisions and one closed trade: the
    prompt lists the latest `max_decisions` (all of them when there are fewer), newest
    last, and every closed trade up to `max_trades`."""
    plain = load_strategy("momentum_breakout")
    t = FIRST_APPLY - 30 * S
    run = run_replay(pump, plain, plain.vector(), end_ts=t + 1, write=False)
    dec = run.out_i[run.out_i[:, O_KIND] == OutKind.DECIDED]
    n_closed = int((run.out_i[:, O_KIND] == OutKind.POSITION_CLOSED).sum())
    assert len(dec) >= 3 and n_closed >= 1
    names = mint_names(pump)
    k = run.kernel
    for limit in (0, 2, len(dec), len(dec) + 5):
        st = StrategistSettings(max_decisions=limit, max_trades=limit)
        p = Strategist(st, RecordedModel(pump)).prompt(t, run.out_i, run.out_f, k.state,
                                                       k.params, names)  # fmt: skip
        data = json.loads(p.request["messages"][1]["content"].removeprefix("DATA:\n"))
        shown = data["recent_decisions"]
        assert len(shown) == min(limit, len(dec))
        assert len(data["closed_trades"]) == min(limit, n_closed)
        if shown:
            last = dec[-1]
            assert shown[-1]["time_utc"] == dt.datetime.fromtimestamp(
                int(last[O_TS]) // S, dt.UTC).isoformat().replace("+00:00", "Z")  # fmt: skip
