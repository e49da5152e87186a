"""Controls through the store: replays, sweeps, the `params` family, param_history, the CLI.

The acceptance case of the Foundation 3 issue: the pump.fun day replayed with
`clanka control set stop_loss=0.05 --at <mid-day>` applies the change at that time.
Expected stop levels are computed here from the sizing rule (stop fraction =
min(stop_loss x (1 + vol_scale x volatility), stop_cap)), not read from the kernel.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from data.controls import ControlRefusedError, append_conditions, append_param
from data.store import EventStore, open_store
from engine.events import OutKind
from engine.layout import O_KIND, O_TRIGGER, O_TS, OF_OUT_STOP, OF_PRICE, OF_VOLATILITY
from replay.core.runner import run_replay
from replay.sweep.chunk import sweep_local
from replay.sweep.results import METRIC_KEYS
from strategies.config import load_strategy
from tests.test_cli import clanka
from tests.test_replay import pump_store  # noqa: F401  (fixture)

MID = 1_749_230_700_000_000_000  # 2025-06-06T17:25:00Z, mid-way through the pump.fun data


@pytest.fixture
def steered(pump_store: EventStore, tmp_path: Path) -> EventStore:  # noqa: F811
    """A copy of the pump.fun store, so controls logged here stay out of other tests."""
    dst = tmp_path / "s"
    shutil.copytree(pump_store.root, dst)
    return open_store(dst)


def _stop_fraction(stop_loss: float, volatility: float) -> float:
    return min(stop_loss * (1.0 + 1.0 * volatility), 0.15)  # vol_scale 1, stop_cap 0.15


def test_pumpfun_replay_applies_an_operator_stop_loss_change_at_its_time(
    steered: EventStore,
) -> None:
    strat = load_strategy("momentum_breakout")
    before = run_replay(steered, strat, strat.vector(), write=False)
    r = clanka("control", "set", "stop_loss=0.05", "--at", "2025-06-06T17:25:00Z",
               "--reason", "tighter stops", "--store", str(steered.root))  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "logged stop_loss = 0.05 at 2025-06-06T17:25:00" in r.stdout
    steered.refresh()
    after = run_replay(steered, strat, strat.vector())
    # Decisions, orders and fills before the change: byte for byte the same rows.
    for res in (before, after):
        assert (res.out_i[:, O_TS] < MID).sum() > 10 and (res.out_i[:, O_TS] >= MID).sum() > 10
    keep_b = before.out_i[:, O_TS] < MID
    keep_a = (after.out_i[:, O_TS] < MID) & (after.out_i[:, O_KIND] != OutKind.PARAM_CHANGED)
    assert before.out_i[keep_b].tobytes() == after.out_i[keep_a].tobytes()
    assert before.out_f[keep_b].tobytes() == after.out_f[keep_a].tobytes()
    # Every scored decision's recommended stop follows the rule with the value in force.
    dec = (after.out_i[:, O_KIND] == OutKind.DECIDED) & (after.out_i[:, O_TRIGGER] != 0)
    for i in np.flatnonzero(dec):
        sl = 0.05 if after.out_i[i, O_TS] >= MID else 0.08
        frac = _stop_fraction(sl, after.out_f[i, OF_VOLATILITY])
        assert math.isclose(after.out_f[i, OF_OUT_STOP], after.out_f[i, OF_PRICE] * (1 - frac),
                            rel_tol=1e-12)  # fmt: skip
    assert np.count_nonzero(dec & (after.out_i[:, O_TS] >= MID)) > 0
    # The report lists it; param_history shows it with who asked and why.
    (c,) = after.report["controls"]
    assert c["change"] == "stop_loss 0.08 -> 0.05" and c["status"] == "applied"
    assert (c["time"], c["requested_by"], c["reason"]) == (
        "2025-06-06 17:25:00", "operator", "tighter stops",
    )  # fmt: skip
    steered.refresh()
    rows = steered.con.execute(
        "SELECT ts_ns, name, old_value, new_value, status, requested_by, reason "
        "FROM param_history WHERE run_id = ?", [after.run_id],
    ).fetchall()  # fmt: skip
    assert rows == [(MID, "stop_loss", 0.08, 0.05, "applied", "operator", "tighter stops")]


def test_a_truncated_replay_is_a_prefix_with_controls(steered: EventStore) -> None:
    """No look-ahead: a replay that ends at t sees no control logged after t."""
    append_param(steered, "tp1", 0.2, MID, source="operator", reason="r")
    append_conditions(steered, "ret_1m >= 0 AND liquidity >= 10", MID + 600 * 10**9,
                      source="strategist", reason="r", evidence={"model": "x"})  # fmt: skip
    strat = load_strategy("momentum_breakout")
    full = run_replay(steered, strat, strat.vector(), write=False)
    cut = MID + 300 * 10**9
    part = run_replay(steered, strat, strat.vector(), end_ts=cut, write=False)
    keep = full.out_i[:, O_TS] < cut
    n = int(keep.sum())
    # The truncated run may add equity-free rows only at its end: its rows are a prefix.
    assert part.out_i[:n].tobytes() == full.out_i[:n].tobytes()
    kinds = full.out_i[:, O_KIND]
    assert (kinds == OutKind.PARAM_CHANGED).sum() == 1
    assert (kinds == OutKind.CONDITIONS_CHANGED).sum() == 1
    assert (part.out_i[:, O_KIND] == OutKind.CONDITIONS_CHANGED).sum() == 0


def test_sweeps_apply_the_stores_controls_to_every_set(steered: EventStore) -> None:
    append_param(steered, "stop_loss", 0.05, MID, source="operator", reason="r")
    # Refused in a set whose tp2 is not above 0.25, applied in the others.
    append_param(steered, "tp1", 0.25, MID, source="adaptation", reason="r")
    strat = load_strategy("momentum_breakout")
    sets = [{"stop_loss": 0.1}, {"tp2": 0.2, "tp1": 0.1}, {"min_buy_confidence": 0.55}]
    rows = sweep_local(steered, strat, sets)
    for s, got in zip(sets, rows, strict=True):
        want = run_replay(steered, strat, strat.vector(s), write=False).report
        for k in METRIC_KEYS:
            a, b = got[k], want[k]
            assert a == b or (isinstance(a, float) and math.isclose(a, b, rel_tol=1e-9)), (s, k)
    refused = run_replay(steered, strat, strat.vector(sets[1]), write=False).report["controls"]
    assert [(c["change"], c["status"], c["refusal"]) for c in refused] == [
        ("stop_loss 0.08 -> 0.05", "applied", ""),
        ("tp1 0.1 -> 0.25", "refused", "conflict"),
    ]


def test_refused_controls_log_nothing_and_say_why_in_one_line(steered: EventStore) -> None:
    root = str(steered.root)
    cases = {
        ("set", "stop_loss=7"): "outside [0.001, 0.99]",
        ("set", "stop_los=0.1"): "did you mean stop_loss",
        ("set", "initial_cash_sol=3"): "cannot change mid-run",
        ("set", "tp1"): "expects name=value",
        ("conditions", "ret_5m >= banana"): "cannot parse condition",
        ("conditions",): "one quoted text",
        ("frobnicate",): "unknown control 'frobnicate'",
    }
    for args, why in cases.items():
        r = clanka("control", *args, "--store", root)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and why in lines[0], (args, r.stderr)
    steered.refresh()
    assert steered.con.execute("SELECT count(*) FROM controls").fetchone() == (0,)
    # Refused content (not usage errors) is kept as quarantine events with the reason.
    kept = steered.con.execute(
        "SELECT detail FROM quarantine WHERE reason = 'invalid_control' ORDER BY seq"
    ).fetchall()  # fmt: skip
    assert len(kept) == 5 and "outside [0.001, 0.99]" in kept[0][0]
    with pytest.raises(ControlRefusedError, match="outside"):
        append_param(steered, "stop_loss", 2.0, MID, source="operator", reason="r")
    with pytest.raises(ValueError, match="unknown control source"):
        append_param(steered, "stop_loss", 0.1, MID, source="somebody", reason="r")


def test_control_help_names_every_action() -> None:
    r = clanka("control", "--help")
    assert r.returncode == 0
    for word in ("set NAME=VALUE", "conditions", "emergency-stop", "reset", "--reason"):
        assert word in r.stdout


def test_a_control_at_the_instant_of_a_decision_applies_to_it(steered: EventStore) -> None:
    """Merged input order at one instant: controls, then signals, then ticks."""
    strat = load_strategy("momentum_breakout")
    plain = run_replay(steered, strat, strat.vector(), write=False)
    dec = np.flatnonzero(
        (plain.out_i[:, O_KIND] == OutKind.DECIDED) & (plain.out_i[:, O_TRIGGER] != 0)
    )
    i = int(dec[len(dec) // 2])
    t = int(plain.out_i[i, O_TS])
    append_param(steered, "stop_loss", 0.05, t, source="operator", reason="same instant")
    after = run_replay(steered, strat, strat.vector(), write=False)
    same = np.flatnonzero((after.out_i[:, O_KIND] == OutKind.DECIDED) & (after.out_i[:, O_TS] == t)
                          & (after.out_i[:, O_TRIGGER] != 0))  # fmt: skip
    assert len(same) >= 1
    for j in same:
        frac = _stop_fraction(0.05, after.out_f[j, OF_VOLATILITY])
        assert math.isclose(after.out_f[j, OF_OUT_STOP], after.out_f[j, OF_PRICE] * (1 - frac),
                            rel_tol=1e-12)  # fmt: skip


def test_a_condition_set_keeps_every_digit_of_its_thresholds(steered: EventStore) -> None:
    from data.controls import read_controls
    from engine.events import InputKind

    append_conditions(steered, "ret_5m >= 0.123456789  AND liquidity >= 40", MID,
                      source="operator", reason="r")  # fmt: skip
    ci = read_controls(steered, None, None)
    thr = ci.sig_value[ci.kind == InputKind.CONDITION].tolist()
    assert thr == [0.123456789, 40.0]
    ((text,),) = steered.con.execute("SELECT conditions FROM controls").fetchall()
    assert text == "ret_5m >= 0.123456789 AND liquidity >= 40"
