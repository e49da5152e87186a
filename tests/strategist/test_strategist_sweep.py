"""Sweeps with the strategist: each set is a replay with its own strategist; live calls
are logged with the chunk's commit, and a recorded sweep finds them and agrees."""

from __future__ import annotations

import pytest

from data.store import EventStore
from replay.core.runner import run_replay
from replay.sweep.results import METRIC_KEYS
from replay.sweep.run import run_sweep
from strategies.config import StrategyConfig, load_strategy
from strategies.strategist.calls import Strategist
from strategies.strategist.model import LiveModel
from strategies.strategist.settings import StrategistSettings
from tests.strategist.ollama_standin import Answer, proposal, standin

SETS = [{"stop_loss": 0.06}, {"stop_loss": 0.1}]


def _with(mode: str, host: str) -> StrategyConfig:
    strat = load_strategy("momentum_breakout")
    st = StrategistSettings(mode=mode, host=host, attempts=1)  # type: ignore[arg-type]
    return strat.model_copy(update={"strategist": st})


def test_a_live_sweep_equals_replays_and_a_recorded_sweep_reproduces_it(pump: EventStore) -> None:
    loose = proposal([("price", ">", 0.0)])  # every tick qualifies: the sniper fires more
    with standin(Answer(loose)) as s:
        live = _with("live", s.host)
        swept = run_sweep(pump, live, SETS, chunk_size=1)
        singles = [run_replay(pump, live, live.vector(p), write=False,
                              strategist=Strategist(live.strategist, LiveModel(live.strategist)))
                   for p in SETS]  # fmt: skip
    by_set = {r["set_index"]: r for r in swept.rows}
    for k, single in enumerate(singles):
        for key in METRIC_KEYS:
            assert by_set[k][key] == pytest.approx(single.report[key], nan_ok=True), key
    # Every set's calls were logged under the sweep, set by set.
    sources = {r[0] for r in pump.con.execute("SELECT DISTINCT source FROM strategist").fetchall()}
    assert sources == {f"{swept.sweep_id}-s0", f"{swept.sweep_id}-s1"}
    # Without the strategist the metrics differ: the answers mattered.
    off = run_sweep(pump, load_strategy("momentum_breakout"), SETS)
    keys = ("trades", "decisions", "orders", "realized_pnl_sol")
    assert any(a[k] != b[k] for k in keys for a, b in zip(
        sorted(off.rows, key=lambda r: r["set_index"]),
        sorted(swept.rows, key=lambda r: r["set_index"]), strict=True))  # fmt: skip
    # Recorded, with nothing listening: the same metrics from the logged answers.
    rec = run_sweep(pump, _with("recorded", "http://127.0.0.1:9"), SETS)
    assert rec.sweep_id != swept.sweep_id
    for a, b in zip(sorted(rec.rows, key=lambda r: r["set_index"]),
                    sorted(swept.rows, key=lambda r: r["set_index"]), strict=True):  # fmt: skip
        for key in METRIC_KEYS:
            assert a[key] == pytest.approx(b[key], nan_ok=True), key
