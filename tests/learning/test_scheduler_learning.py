"""The scheduler with the learning loop and the strategist on a hand-made timeline (seconds).

Strategist every 10 s (delay 2); reflection every 10 s; one trade closed at 10.5 s,
reviewed at 11.5 s (horizon 1 s). Rows at 1, 5, 9, 11, 12, 25:
- rows <= 10 first; the row at 11 passes 10: the reflection of 10 runs, then the
  strategist is asked at 10, its prompt reading that reflection (answer at 12);
- the row at 11; the row at 12 passes the review's due time 11.5 and the answer's apply
  time 12: the review first (it reads nothing later than 11.5), then the answer;
- the row at 25 passes 20: the reflection of 20, then the question of 20 (answer at 22,
  applied before the row at 25).
"""

from __future__ import annotations

import heapq
import json

import numpy as np

from engine.conditions import ConditionSet
from engine.kernel import Kernel
from engine.layout import N_OUT_F, N_OUT_I
from engine.params import make_params
from replay.core.runner import new_learner
from replay.core.scheduler import Scheduler
from strategies.learning.settings import LearningSettings
from strategies.strategist.calls import Strategist
from strategies.strategist.model import ANSWERED, Reply
from strategies.strategist.prompt import Prompt
from strategies.strategist.settings import StrategistSettings
from tests.learning.builders import trade
from tests.strategist.ollama_standin import proposal

S = 1_000_000_000


def test_learning_runs_before_the_strategist_and_before_later_answers() -> None:
    kernel = Kernel(make_params({}), ConditionSet.parse("ret_5m > 0"), np.ones(1))
    learner = new_learner(LearningSettings(mode="on", review_horizon_s=1,
                                           reflection_interval_s=10), kernel, str)  # fmt: skip
    steps: list[tuple[str, int]] = []
    seen: list[tuple[int, int, bool]] = []

    def answers(p: Prompt) -> Reply:
        data = json.loads(p.request["messages"][1]["content"].removeprefix("DATA:\n"))
        seen.append((p.ts_ns // S, learner.insights[-1]["ts_ns"] // S, "learning" in data))
        return Reply(ANSWERED, raw=proposal([("ret_5m", ">=", 0.01)]), done_reason="stop")

    settings = StrategistSettings(mode="live", interval_s=10, delay_s=2)
    empty = (np.zeros((0, N_OUT_I), np.int64), np.zeros((0, N_OUT_F)))
    loop = Scheduler(Strategist(settings, answers), kernel, str, lambda: empty, learner=learner)
    t = trade(entry_ts=S * 21 // 2 - S, exit_ts=S * 21 // 2, exits=())
    heapq.heappush(learner.pending, (t.exit_ts + S, t.pos_id, t))
    ts = np.array([1, 5, 9, 11, 12, 25], np.int64) * S

    def inject(at: int, seq: int, rows: object) -> None:
        steps.append(("apply", at // S))
        steps.append(("reviews so far", len(learner.reviews)))

    loop.feed(ts, lambda lo, hi: steps.extend(("row", int(x // S)) for x in ts[lo:hi]), inject)
    assert steps == [
        ("row", 1), ("row", 5), ("row", 9), ("row", 11),
        ("apply", 12), ("reviews so far", 1), ("row", 12),
        ("apply", 22), ("reviews so far", 1), ("row", 25),
    ]  # fmt: skip
    # Each question read the reflection of its own instant.
    assert seen == [(10, 10, True), (20, 20, True)]
    (review,) = learner.reviews
    assert review["ts_ns"] == 23 * S // 2  # 11.5 s: the exit + 1 s
    assert [i["ts_ns"] // S for i in learner.insights if i["kind"] == "summary"] == [10, 20]


def test_replaying_recorded_inputs_asks_nothing_and_injects_nothing() -> None:
    """Recovery and verify parity feed a run's recorded inputs again: its answers and
    adaptations are among them, so the strategist stays silent and no control is fed
    twice, while the learning loop relearns what it knew."""
    kernel = Kernel(make_params({}), ConditionSet.parse("ret_5m > 0"), np.ones(1))
    learner = new_learner(LearningSettings(mode="on", reflection_interval_s=10), kernel, str)

    def answers(p: Prompt) -> Reply:
        raise AssertionError("a replay of recorded inputs never asks the model")

    empty = (np.zeros((0, N_OUT_I), np.int64), np.zeros((0, N_OUT_F)))
    settings = StrategistSettings(mode="live", interval_s=10, delay_s=2)
    loop = Scheduler(Strategist(settings, answers), kernel, str, lambda: empty, learner=learner)
    loop.replaying = True
    ts = np.array([1, 5, 9, 11, 25], np.int64) * S
    rows: list[int] = []

    def inject(at: int, seq: int, r: object) -> None:
        raise AssertionError("recorded inputs hold every control")

    loop.feed(ts, lambda lo, hi: rows.extend(int(x // S) for x in ts[lo:hi]), inject)
    assert rows == [1, 5, 9, 11, 25] and loop.calls == []
    assert [i["ts_ns"] // S for i in learner.insights] == [10, 20]
