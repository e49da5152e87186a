"""`clanka validate plan | learning` as a user runs them: the plan first, then the test."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from data.store import EventStore
from tests.test_cli import clanka


def test_the_real_evenings_say_plainly_what_one_test_day_can_show(
    pump_days: EventStore, tmp_path: Path
) -> None:
    plan = tmp_path / "plan.toml"
    made = clanka("validate", "plan", str(plan), "--strategy", "pumpfun_scalper",
                  "--train-days", "1", "--note", "train 06-06, test 06-07")  # fmt: skip
    assert made.returncode == 0, made.stderr
    (sha,) = re.findall(r"[0-9a-f]{64}", made.stdout)
    again = clanka("validate", "plan", str(plan), "--train-days", "2")
    assert again.returncode == 2 and "never overwritten" in again.stderr
    page = tmp_path / "report.html"
    done = clanka("validate", "learning", str(plan), "--store", str(pump_days.root), "--html",
                  str(page), "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["plan_sha256"] == sha and doc["plan_toml"] == plan.read_text()
    assert doc["train_days"] == ["2025-06-06"] and [d["day"] for d in doc["days"]] == [
        "2025-06-07"]  # fmt: skip
    assert doc["verdict"] == "no evidence that learning helps"
    assert any("smallest p-value is 0.5" in x for x in doc["limits"])
    day = doc["days"][0]
    assert day["difference"] == pytest.approx(day["learner_return"] - day["frozen_return"])
    text = page.read_text()
    assert "Does learning help?" in text and "plotly" in text
    assert "<script src=" not in text  # plotly.js embedded, nothing fetched
    pump_days.refresh()
    rows = pump_days.con.execute(
        "SELECT plan_sha256, verdict, test_days, learner_run_id FROM validations"
    ).fetchall()
    assert rows == [(sha, doc["verdict"], 1, doc["learner_run_id"])]
    status = clanka("learn", "status", "--store", str(pump_days.root), "--run",
                    doc["learner_run_id"])  # fmt: skip
    assert status.returncode == 0, status.stderr


def test_a_plan_with_nothing_to_test_is_one_line(pump_days: EventStore, tmp_path: Path) -> None:
    plan = tmp_path / "plan.toml"
    assert clanka("validate", "plan", str(plan), "--strategy", "pumpfun_scalper",
                  "--train-days", "2").returncode == 0  # fmt: skip
    done = clanka("validate", "learning", str(plan), "--store", str(pump_days.root))
    assert done.returncode == 2
    assert "2 to train on leave none to test" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--train-days", "1", "--test", "t"), "test"),
        (("--train-days", "1", "--alpha", "0.7"), "alpha"),
        (("--train-days", "1", "--set", "stop_loss=5"), "stop_loss"),
        (("--train-days", "1", "--from", "2025-01-02", "--to", "2025-01-01"), "--from"),
    ],
)
def test_bad_plans_are_one_line(tmp_path: Path, args: tuple[str, ...], says: str) -> None:
    done = clanka("validate", "plan", str(tmp_path / "p.toml"), *args)
    assert done.returncode == 2 and says in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "p.toml").exists()


def test_the_frozen_arm_is_the_learner_until_each_test_day(synth_days: EventStore) -> None:
    from engine.controls import ADAPTATION_CONTROL_SEQ0
    from engine.events import OutKind
    from engine.layout import O_IN_SEQ, O_KIND, O_TS
    from replay.core.runner import run_replay
    from replay.validate.arms import DAY_NS, run_arms, utc_days
    from strategies.config import load_strategy
    from strategies.learning.settings import LearningSettings

    strat = load_strategy("momentum_llm")
    on = LearningSettings(mode="on")
    days = utc_days(synth_days, None, None)
    arms = run_arms(synth_days, strat, on, days, 1, None)
    (day,) = arms.days
    assert day.start_ns == days[1]
    end = day.start_ns + DAY_NS

    def equity(run: object, at: int) -> float:  # the last minute mark before `at`
        marks = [(t, c + h) for t, c, h in run.kernel.curve()]  # type: ignore[attr-defined]
        before = [v for t, v in marks if t < at]
        return before[-1] if before else 10.0

    learner = run_replay(synth_days, strat, strat.vector(), start_ts=days[0], end_ts=end,
                         learning=on, write=False)  # fmt: skip
    frozen = run_replay(synth_days, strat, strat.vector(), start_ts=days[0], end_ts=end,
                        learning=on, write=False, freeze_learning_at=day.start_ns)  # fmt: skip
    e0 = equity(learner, day.start_ns)
    assert equity(frozen, day.start_ns) == day.equity_start == e0  # one state at the start
    assert day.learner_return == pytest.approx(equity(learner, end) / e0 - 1)
    assert day.frozen_return == pytest.approx(equity(frozen, end) / e0 - 1)
    # The day's changes: the learner's kernel applied this many adaptation controls in it.
    rows = learner.out_i[learner.out_i[:, O_KIND] == OutKind.PARAM_CHANGED]
    mine = (rows[:, O_IN_SEQ] <= -1 - ADAPTATION_CONTROL_SEQ0) & (rows[:, O_TS] >= day.start_ns)
    assert day.changes == int(mine.sum()) > 0


def test_never_learns_compares_with_learning_off_throughout(synth_days: EventStore) -> None:
    from replay.core.runner import run_replay
    from replay.validate.arms import DAY_NS, run_arms, utc_days
    from strategies.config import load_strategy
    from strategies.learning.settings import LearningSettings

    strat = load_strategy("momentum_llm")
    days = utc_days(synth_days, None, None)
    arms = run_arms(synth_days, strat, LearningSettings(mode="on"), days, 1, None,
                    baseline="never_learns")  # fmt: skip
    off = run_replay(synth_days, strat, strat.vector(), start_ts=days[0],
                     end_ts=days[-1] + DAY_NS, write=False)  # fmt: skip
    marks = [(t, c + h) for t, c, h in off.kernel.curve()]

    def equity(at: int) -> float:
        before = [v for t, v in marks if t < at]
        return before[-1] if before else 10.0

    (day,) = arms.days
    assert day.frozen_return == pytest.approx(equity(day.start_ns + DAY_NS) / equity(day.start_ns)
                                              - 1)  # fmt: skip
