"""The event-time scheduler: run the kernel up to each slow component's due time.

DESIGN.md section 4b. Two slow components run at points of event time: the LLM
strategist and the learning loop. At a component's due time t the scheduler has fed
the kernel every input row with ts <= t and none later; the component then reads
that state and the outputs so far, and any control rows it answers with enter the
input stream at their apply time, before any row of that instant (controls first),
with the component's own input seq. At one instant, injected controls go first, then
the learning loop (reviews, then the deep reflection), then the strategist, so a
prompt at t reads the reviews and insights of t.

The strategist is due every `interval_s`, at multiples of it since the epoch, so
replay, paper and live runs meet the same due times. A quiet spell that spans several
of its due times wakes it once, at the latest of them. An operator's request (`clanka
control strategist`) is one more due time, at its own event time; one call is out at a
time, so a request that comes while an answer is awaited is asked right after that
answer is applied.

The learning loop (strategies.learning.learner) is due at each review (exit + horizon)
and each reflection (every reflection_interval_s); a review can also be found due only
once the slice that closed its trade has run, and then runs at its own time, before
anything later: it reads prices up to that time only.

Replay asks the strategist and waits at t. A paper run asks on a worker thread and only
waits if the answer is still out when its apply time comes, so frames keep flowing
meanwhile; the answer and the time it takes effect are the same either way.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from engine.controls import ControlRow, strategist_in_seq
from engine.kernel import Kernel, KernelInput, as_input
from strategies.learning.learner import Learner, Steer
from strategies.strategist.calls import Call, Strategist
from strategies.strategist.model import Reply
from strategies.strategist.prompt import Prompt

History = Callable[[], tuple[np.ndarray, np.ndarray]]
"""The run's output rows so far (all of them have ts <= the current due time)."""
Process = Callable[[int, int], None]
"""Feed rows [lo, hi) of the current batch to the kernel."""
Inject = Callable[[int, int, tuple[ControlRow, ...]], None]
"""Feed control rows at (ts, in_seq) to the kernel."""


@dataclass
class _Asked:
    call_no: int
    prompt: Prompt
    apply_ts: int
    reply: Reply | Future[Reply]
    trigger: str


class Scheduler:
    """Splits a run's input at the strategist's and the learning loop's due and apply times."""

    def __init__(
        self,
        strategist: Strategist | None,
        kernel: Kernel,
        names: Callable[[int], str],
        history: History,
        *,
        learner: Learner | None = None,
        background: bool = False,
        on_call: Callable[[Call], None] | None = None,
    ) -> None:
        self.strategist = strategist
        self.learner = learner
        self.kernel = kernel
        self.names = names
        self.history = history
        self.on_call = on_call
        self.interval = strategist.settings.interval_ns if strategist is not None else 0
        self.next_due: int | None = None
        self.requests: list[tuple[int, str]] = []
        """On-demand times still to come, with their trigger, in time order."""
        self.last_ts = -(2**63)
        """Time of the last input row fed to the kernel."""
        self.asked: _Asked | None = None
        self.calls: list[Call] = []
        self.steers: list[Steer] = []
        """The learning loop's control rows still to feed, by apply time."""
        self.replaying = False
        """Feeding a run's recorded inputs again (recovery, verify parity): the strategist's
        answers and the learning loop's controls are among them, so the strategist is
        not asked and the learning loop's controls are not fed twice."""
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="strategist") if background else None

    def request(self, ts_ns: int) -> None:
        """Ask besides the schedule, at `ts_ns` (an operator's on-demand request)."""
        self.requests.append((ts_ns, "request"))
        self.requests.sort()

    def feed(self, ts: np.ndarray, process: Process, inject: Inject) -> None:
        """Process a batch whose rows have times `ts` (sorted), stopping where due."""
        lo, n = 0, len(ts)
        learner = self.learner
        while lo < n:
            t_lo = int(ts[lo])
            if learner is not None:
                learner.begin(t_lo)
            # What is due before the row at t_lo, earliest first; at one instant the
            # strategist's answer, then the learning loop's controls, then its reviews
            # and reflection, then the strategist's next question.
            due: list[tuple[int, int]] = []
            if self.asked is not None and self.asked.apply_ts <= t_lo:
                due.append((self.asked.apply_ts, 0))
            if self.steers and self.steers[0].apply_ts <= t_lo:
                due.append((self.steers[0].apply_ts, 1))
            learn_due = learner.next_due() if learner is not None else None
            if learn_due is not None and learn_due < t_lo:
                due.append((learn_due, 2))
            ask = self._strategist_due(t_lo, min(due, default=None))
            if ask is not None:
                due.append((ask[0], 3))
            if due:
                what = min(due)[1]
                if what == 0:
                    call = self._finish()
                    inject(call.apply_ts_ns, strategist_in_seq(call.call_no), call.rows())
                    self.last_ts = max(self.last_ts, call.apply_ts_ns)
                elif what == 1:
                    steer = self.steers.pop(0)
                    if not self.replaying:  # else they come with the recorded inputs
                        inject(steer.apply_ts, steer.in_seq, steer.rows)
                    self.last_ts = max(self.last_ts, steer.apply_ts)
                elif what == 2:
                    assert learner is not None
                    assert learn_due is not None
                    self.steers += learner.run(learn_due)
                    self.steers.sort(key=lambda s: s.apply_ts)  # stable: in number order
                else:
                    assert ask is not None
                    at, trigger = ask
                    if at < t_lo:
                        self._ask(at, trigger)
                    else:  # the rows of that instant go first: ask once they are in
                        self.requests.insert(0, (at, trigger))
                continue
            hi = n
            if self.asked is not None:  # dues and requests wait for the answer out
                hi = min(hi, int(np.searchsorted(ts, self.asked.apply_ts, side="left")))
            elif self.strategist is not None and not self.replaying:
                assert self.next_due is not None
                stop = min(self.next_due, self.requests[0][0] if self.requests else self.next_due)
                hi = min(hi, int(np.searchsorted(ts, stop, side="right")))
            if learn_due is not None:
                hi = min(hi, int(np.searchsorted(ts, learn_due, side="right")))
            if self.steers:
                hi = min(hi, int(np.searchsorted(ts, self.steers[0].apply_ts, side="left")))
            process(lo, hi)
            self.last_ts = int(ts[hi - 1])
            lo = hi

    def _strategist_due(self, t_lo: int, before: tuple[int, int] | None) -> tuple[int, str] | None:
        """When the strategist is to be asked before `t_lo`, and why; else None.

        Consumed (the schedule moves on) unless `before`, something else due, comes
        first: then it is only reported, and found again once that has run.
        """
        if self.strategist is None or self.asked is not None or self.replaying:
            return None
        if self.next_due is None:
            self.next_due = (t_lo // self.interval + 1) * self.interval
        found: list[tuple[int, str]] = []
        if t_lo > self.next_due:
            found.append(((t_lo - 1) // self.interval * self.interval, "schedule"))
        found += [r for r in self.requests if r[0] < t_lo]
        if not found:
            return None
        due = max(found)
        # Never earlier than what the kernel has seen: a request that waited for an
        # answer still out is asked once that answer is in.
        at = max(due[0], self.last_ts)
        if before is not None and before < (at, 3):
            return (at, due[1])
        if t_lo > self.next_due:
            self.next_due = found[0][0] + self.interval
        self.requests = [r for r in self.requests if r[0] >= t_lo]
        return (at, due[1])

    def _ask(self, due: int, trigger: str) -> None:
        strategist = self.strategist
        assert strategist is not None
        out_i, out_f = self.history()
        k = self.kernel
        learned = self.learner.prompt_context(due) if self.learner is not None else None
        prompt = strategist.prompt(due, out_i, out_f, k.state, k.params, self.names, learned)
        no = len(self.calls)  # asked only when no call is out: the next number
        answers = strategist.answers
        reply: Reply | Future[Reply] = (
            self._pool.submit(answers, prompt) if self._pool is not None else answers(prompt)
        )
        self.asked = _Asked(no, prompt, due + strategist.settings.delay_ns, reply, trigger)

    def _finish(self) -> Call:
        asked = self.asked
        strategist = self.strategist
        assert asked is not None
        assert strategist is not None
        self.asked = None
        reply = asked.reply.result() if isinstance(asked.reply, Future) else asked.reply
        call = strategist.conclude(asked.call_no, asked.prompt, reply, asked.trigger)
        self.calls.append(call)
        if self.on_call is not None:
            self.on_call(call)
        return call

    def close(self, *, finish_learning: bool = True) -> None:
        """Finish a call still out (it is logged; no input is left for it to steer).

        With `finish_learning` the learning loop reviews what is still waiting, up to the
        last input (a replay's data has ended; a paper run that may resume does not).
        """
        if self.asked is not None:
            self._finish()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        if self.learner is not None and finish_learning:
            self.learner.finish()


def control_batch(ts: int, in_seq: int, rows: tuple[ControlRow, ...]) -> KernelInput:
    """Control rows as one kernel input batch at `ts` (mint -1, no price)."""
    n = len(rows)
    return as_input(
        kind=np.array([r.kind for r in rows], np.int8), ts=np.full(n, ts, np.int64),
        seq=np.full(n, in_seq, np.int64), mint=np.full(n, -1, np.int64), price=np.zeros(n),
        size=np.array([r.size for r in rows], np.int64), liq=np.full(n, np.nan),
        sig_kind=np.array([r.sig_kind for r in rows], np.int64),
        sig_value=np.array([r.sig_value for r in rows], np.float64),
    )  # fmt: skip
