"""The event-time scheduler: run the kernel up to each slow component's due time.

DESIGN.md section 4b. The strategist is due every `interval_s` of event time, at
multiples of it since the epoch, so replay, paper and live runs meet the same due
times. At due time t the scheduler has fed the kernel every input row with ts <= t
and none later; the prompt is built then, from that state and the outputs so far.
The answer's control rows enter the input stream at t + delay_s, before any row of
that instant (controls first), with the call's own input seq. A quiet spell that
spans several due times wakes the strategist once, at the latest of them. An operator's
request (`clanka control strategist`) is one more due time, at its own event time;
one call is out at a time, so a request that comes while an answer is awaited is
asked right after that answer is applied.

Replay asks and waits at t. A paper run asks on a worker thread and only waits if the
answer is still out when its apply time comes, so frames keep flowing meanwhile; the
answer and the time it takes effect are the same either way.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from engine.controls import ControlRow, strategist_in_seq
from engine.kernel import Kernel, KernelInput, as_input
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


class StrategistLoop:
    """Splits a run's input at the strategist's due and apply times."""

    def __init__(
        self,
        strategist: Strategist,
        kernel: Kernel,
        names: Callable[[int], str],
        history: History,
        *,
        background: bool = False,
        on_call: Callable[[Call], None] | None = None,
    ) -> None:
        self.strategist = strategist
        self.kernel = kernel
        self.names = names
        self.history = history
        self.on_call = on_call
        self.interval = strategist.settings.interval_ns
        self.next_due: int | None = None
        self.requests: list[tuple[int, str]] = []
        """On-demand times still to come, with their trigger, in time order."""
        self.last_ts = -(2**63)
        """Time of the last input row fed to the kernel."""
        self.asked: _Asked | None = None
        self.calls: list[Call] = []
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="strategist") if background else None

    def request(self, ts_ns: int) -> None:
        """Ask besides the schedule, at `ts_ns` (an operator's on-demand request)."""
        self.requests.append((ts_ns, "request"))
        self.requests.sort()

    def feed(self, ts: np.ndarray, process: Process, inject: Inject) -> None:
        """Process a batch whose rows have times `ts` (sorted), stopping where due."""
        lo, n = 0, len(ts)
        while lo < n:
            t_lo = int(ts[lo])
            if self.asked is not None and self.asked.apply_ts <= t_lo:
                call = self._finish()
                inject(call.apply_ts_ns, strategist_in_seq(call.call_no), call.rows())
                self.last_ts = max(self.last_ts, call.apply_ts_ns)
                continue
            if self.next_due is None:
                self.next_due = (t_lo // self.interval + 1) * self.interval
            if self.asked is None:
                due = self._due_before(t_lo)
                if due is not None:
                    # Never earlier than what the kernel has seen: a request that waited
                    # for an answer still out is asked once that answer is in.
                    at = max(due[0], self.last_ts)
                    if at < t_lo:
                        self._ask(at, due[1])
                    else:  # the rows of that instant go first: ask once they are in
                        self.requests.insert(0, (at, due[1]))
                    continue
                stop = min(self.next_due, self.requests[0][0] if self.requests else self.next_due)
                hi = int(np.searchsorted(ts, stop, side="right"))
            else:  # dues and requests wait for the answer out (one call at a time)
                hi = int(np.searchsorted(ts, self.asked.apply_ts, side="left"))
            process(lo, hi)
            self.last_ts = int(ts[hi - 1])
            lo = hi

    def _due_before(self, t_lo: int) -> tuple[int, str] | None:
        """The latest due time or request before `t_lo` (consumed), and which it was."""
        found: list[tuple[int, str]] = []
        assert self.next_due is not None
        if t_lo > self.next_due:
            due = (t_lo - 1) // self.interval * self.interval  # the latest due time < t_lo
            found.append((due, "schedule"))
            self.next_due = due + self.interval
        while self.requests and self.requests[0][0] < t_lo:
            found.append(self.requests.pop(0))
        return max(found) if found else None

    def _ask(self, due: int, trigger: str) -> None:
        out_i, out_f = self.history()
        k = self.kernel
        prompt = self.strategist.prompt(due, out_i, out_f, k.state, k.params, self.names)
        no = len(self.calls)  # asked only when no call is out: the next number
        answers = self.strategist.answers
        reply: Reply | Future[Reply] = (
            self._pool.submit(answers, prompt) if self._pool is not None else answers(prompt)
        )
        self.asked = _Asked(no, prompt, due + self.strategist.settings.delay_ns, reply, trigger)

    def _finish(self) -> Call:
        asked = self.asked
        assert asked is not None
        self.asked = None
        reply = asked.reply.result() if isinstance(asked.reply, Future) else asked.reply
        call = self.strategist.conclude(asked.call_no, asked.prompt, reply, asked.trigger)
        self.calls.append(call)
        if self.on_call is not None:
            self.on_call(call)
        return call

    def close(self) -> None:
        """Finish a call still out (it is logged; no input is left for it to steer)."""
        if self.asked is not None:
            self._finish()
        if self._pool is not None:
            self._pool.shutdown(wait=True)


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
