"""`clanka strategist ask`: the prompt the strategist would get at t, and what it says.

The store is replayed up to and including t (earlier due times replay their recorded
answers, or none), the prompt is built from that state exactly as the scheduler builds
it, the model is asked, and its answer is judged, but nothing is applied or logged.
"""

from __future__ import annotations

from dataclasses import dataclass

from data.store import EventStore
from replay.core.runner import mint_names, run_replay
from strategies.config import StrategyConfig
from strategies.strategist.calls import Call, Strategist


@dataclass(frozen=True)
class Asked:
    """What `ask` found: the call (prompt, reply, verdict) and the replay it came after."""

    call: Call
    ticks: int
    earlier_calls: int


def ask_at(
    store: EventStore,
    strat: StrategyConfig,
    t_ns: int,
    history: Strategist | None,
    now: Strategist,
) -> Asked:
    """Replay to t with `history` steering earlier due times, then ask `now` at t.

    A strategy that learns (its `[learning]` mode) learns on the way, and the prompt
    shows what it knew at t, as a run's would.
    """
    learning = strat.learning if strat.learning.mode != "off" else None
    run = run_replay(store, strat, strat.vector(), end_ts=t_ns + 1, write=False,
                     strategist=history, learning=learning, finish_learning=False)  # fmt: skip
    k = run.kernel
    learned = run.learner.prompt_context(t_ns) if run.learner is not None else None
    prompt = now.prompt(t_ns, run.out_i, run.out_f, k.state, k.params, mint_names(store),
                        learned)  # fmt: skip
    reply = now.answers(prompt)
    return Asked(now.conclude(len(run.calls), prompt, reply), run.ticks, len(run.calls))
