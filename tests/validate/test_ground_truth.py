"""Learning against a frozen baseline where the truth is known (issue 15's ground truth).

Two SYNTHETIC markets of 150 launches a day: nine days where, from day 3, thin pools
under 50 SOL rug on their momentum buyers (`--drift rug_traps`), and five without.
`learning_probe` learns on days 1-2 and is tested on the days after against itself
frozen when the test days begin. On the drift market the learner must find the drift
(raise min_liquidity past the trap level) and the pre-registered test must pass; on the
control (five days here, to keep the suite short) it must change nothing, so the arms
are identical and no claim is made. The five-seed version with 12 test days, and a
three-seed one with 29, are benchmarks/validate_learning.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from data.generator.market import MarketParams, generate_into
from data.store import EventStore, open_store
from tests.test_cli import clanka

DAYS, TRAIN = 9, 2
MARKET = MarketParams(mints=150 * DAYS, hours=24 * DAYS, seed=4, launches_until=0.97)


def _market(tmp: Path, params: MarketParams) -> EventStore:
    st = open_store(tmp / "s", create=True)
    generate_into(st, params)
    return st


@pytest.fixture(scope="module")
def drift_days(tmp_path_factory: pytest.TempPathFactory) -> EventStore:
    drift = MARKET.model_copy(update={"drift": "rug_traps", "drift_day": float(TRAIN)})
    return _market(tmp_path_factory.mktemp("drift"), drift)


@pytest.fixture(scope="module")
def control_days(tmp_path_factory: pytest.TempPathFactory) -> EventStore:
    five = MARKET.model_copy(update={"mints": 150 * 5, "hours": 24.0 * 5})
    return _market(tmp_path_factory.mktemp("control"), five)


def _plan(path: Path, *more: str) -> Path:
    clanka("validate", "plan", str(path), "--strategy", "learning_probe", "--train-days",
           str(TRAIN), "--baseline", "frozen_at_test_start", "--configs-tried", "5",
           *more)  # fmt: skip
    return path


def test_learning_finds_the_drift_and_the_test_says_so(
    drift_days: EventStore, tmp_path: Path
) -> None:
    from engine.controls import ADAPTATION_CONTROL_SEQ0
    from engine.events import OutKind
    from engine.layout import O_IN_SEQ, O_KIND, O_TS
    from replay.core.runner import run_replay
    from replay.validate.arms import DAY_NS, utc_days
    from strategies.config import load_strategy

    plan = _plan(tmp_path / "plan.toml")
    doc = json.loads(clanka("validate", "learning", str(plan), "--store", str(drift_days.root),
                            "--json", "--html", str(tmp_path / "r.html")).stdout)  # fmt: skip
    e = doc["effect"]
    assert doc["verdict"] == "learning helps"
    assert e["n"] == DAYS - TRAIN and e["p_value"] < 0.05 and e["deflated_sharpe"] >= 0.95
    assert e["ci_low"] > 0
    # What it found: the rule that counts losses in thin pools raised the minimum
    # liquidity to the trap level or past it, on the test days (the drift's days).
    drift_days.refresh()
    changes = drift_days.con.execute(
        "SELECT ts_ns, new_value FROM adaptations WHERE rule = 'raise_min_liquidity' "
        "AND status = 'sent' ORDER BY ts_ns").fetchall()  # fmt: skip
    days = utc_days(drift_days, None, None)
    assert changes and min(t for t, _ in changes) >= days[TRAIN]
    assert max(v for _, v in changes) >= 50.0
    # The baseline is an independent replay frozen at the first test day: its daily
    # returns are the report's, and it changed no parameter after the freeze.
    strat = load_strategy("learning_probe")
    learning = strat.learning.model_copy(update={"mode": "on"})
    frozen = run_replay(drift_days, strat, strat.vector(), start_ts=days[0],
                        end_ts=days[-1] + DAY_NS, learning=learning, write=False,
                        freeze_learning_at=days[TRAIN])  # fmt: skip
    pts = frozen.kernel.curve()
    ts = np.array([p[0] for p in pts])
    eq = np.array([p[1] + p[2] for p in pts])

    def equity(at: int) -> float:
        k = int(np.searchsorted(ts, at, side="left")) - 1
        return 10.0 if k < 0 else float(eq[k])

    for day, row in zip(days[TRAIN:], doc["days"], strict=True):
        assert row["frozen_return"] == pytest.approx(equity(day + DAY_NS) / equity(day) - 1)
    rows = frozen.out_i[frozen.out_i[:, O_KIND] == OutKind.PARAM_CHANGED]
    learned = rows[rows[:, O_IN_SEQ] <= -1 - ADAPTATION_CONTROL_SEQ0]
    assert len(learned) == 0 or learned[:, O_TS].max() < days[TRAIN]
    assert (tmp_path / "r.html").stat().st_size > 10_000


def test_on_the_market_without_drift_it_changes_nothing_and_claims_nothing(
    control_days: EventStore, tmp_path: Path
) -> None:
    # Three test days keep the suite short; the benchmark's controls run 12 and 29.
    plan = _plan(tmp_path / "plan.toml", "--test-days", "3")
    doc = json.loads(clanka("validate", "learning", str(plan), "--store",
                            str(control_days.root), "--json").stdout)  # fmt: skip
    assert doc["verdict"] == "no evidence that learning helps"
    assert [d["changes"] for d in doc["days"]] == [0] * 3
    assert [d["difference"] for d in doc["days"]] == [0.0] * 3
    assert any("changed no parameter" in limit for limit in doc["limits"])
