"""The event-time scheduler on a hand-made timeline (seconds; interval 10, delay 2).

Rows at 1, 5, 9, 11, 12, 12, 13, 25 and an operator request for 11.5:
- rows <= 10 go first; the row at 11 passes the due time 10: ask at 10 (applies at 12);
- while that answer is out, rows before 12 go on (11); at 12 it is applied first;
- the request (11.5) waited for it: asking at 12 would precede the rows stamped 12, so
  they go first, then it is asked at 12 (applies at 14); the row at 13 comes before 14;
- the row at 25 passes 14 (apply), then the due time 20: ask at 20, and its answer
  (22) is applied before the row at 25 too.
"""

from __future__ import annotations

import numpy as np

from engine.conditions import ConditionSet
from engine.kernel import Kernel
from engine.layout import N_OUT_F, N_OUT_I
from engine.params import make_params
from replay.core.scheduler import Scheduler
from strategies.strategist.calls import Strategist
from strategies.strategist.model import ANSWERED, Reply
from strategies.strategist.prompt import Prompt
from strategies.strategist.settings import StrategistSettings
from tests.strategist.ollama_standin import proposal

S = 1_000_000_000


def test_due_times_requests_and_apply_times_split_the_input_as_worked_out() -> None:
    asked: list[int] = []

    def answers(p: Prompt) -> Reply:
        asked.append(p.ts_ns // S)
        return Reply(ANSWERED, raw=proposal([("ret_5m", ">=", 0.01 * len(asked))]),
                     done_reason="stop")  # fmt: skip

    settings = StrategistSettings(mode="live", interval_s=10, delay_s=2)
    kernel = Kernel(make_params({}), ConditionSet.parse("ret_5m > 0"), np.ones(1))
    empty = (np.zeros((0, N_OUT_I), np.int64), np.zeros((0, N_OUT_F)))
    loop = Scheduler(Strategist(settings, answers), kernel, str, lambda: empty)
    loop.request(11 * S + S // 2)
    ts = np.array([1, 5, 9, 11, 12, 12, 13, 25], np.int64) * S
    steps: list[tuple[str, list[int]]] = []
    loop.feed(ts, lambda lo, hi: steps.append(("rows", (ts[lo:hi] // S).tolist())),
              lambda t, seq, rows: steps.append(("apply", [t // S, len(rows)])))  # fmt: skip
    # Each applied answer is 2 rows: the set's header and its one condition.
    assert steps == [
        ("rows", [1, 5, 9]),
        ("rows", [11]),
        ("apply", [12, 2]),
        ("rows", [12, 12]),
        ("rows", [13]),
        ("apply", [14, 2]),
        ("apply", [22, 2]),
        ("rows", [25]),
    ]
    assert asked == [10, 12, 20]
    assert [(c.prompt.ts_ns // S, c.trigger, c.apply_ts_ns // S) for c in loop.calls] == [
        (10, "schedule", 12), (12, "request", 14), (20, "schedule", 22)]  # fmt: skip
