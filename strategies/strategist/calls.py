"""One strategist call as a fact: what was asked, what came back, what it changed.

`Strategist.conclude` turns a prompt and a reply into a `Call`; the run logs each call
as a `strategist` row and feeds an accepted call's control rows to the kernel at
`apply_ts_ns` (the due time plus the decision delay), with input seq
`engine.controls.strategist_in_seq(call_no)`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.controls import ControlRow
from engine.layout import KernelState
from strategies.strategist.model import ANSWERED, MISSING, Answers, Reply, redact_host
from strategies.strategist.prompt import Prompt, build_prompt
from strategies.strategist.settings import StrategistSettings
from strategies.strategist.verdict import Verdict, judge


@dataclass(frozen=True)
class Call:
    """A finished call."""

    call_no: int
    mode: str
    model: str
    host: str
    prompt: Prompt
    apply_ts_ns: int
    reply: Reply
    verdict: Verdict | None
    trigger: str = "schedule"
    """'schedule' (every interval_s) or 'request' (an operator asked)."""

    @property
    def status(self) -> str:
        """The outcome: a verdict's status, or why there was no answer to judge."""
        return self.verdict.status if self.verdict is not None else self.reply.status

    @property
    def reason(self) -> str:
        """Why (empty for an accepted answer)."""
        return self.verdict.reason if self.verdict is not None else self.reply.reason

    @property
    def changes(self) -> str:
        """The change in words, '' if none."""
        return self.verdict.changes if self.verdict is not None else ""

    @property
    def note(self) -> str:
        """The model's own note on an answer that parsed."""
        if self.verdict is None or not self.verdict.parsed:
            return ""

        return str(json.loads(self.verdict.parsed).get("note", ""))

    def rows(self) -> tuple[ControlRow, ...]:
        """The kernel control rows this call feeds (empty unless accepted)."""
        return self.verdict.rows() if self.verdict is not None else ()


class Strategist:
    """Builds prompts and turns replies into calls; `answers` says where replies come from."""

    def __init__(self, settings: StrategistSettings, answers: Answers) -> None:
        self.settings = settings
        self.answers = answers
        self.host = redact_host(settings.host)

    def prompt(
        self,
        ts_ns: int,
        out_i: np.ndarray,
        out_f: np.ndarray,
        state: KernelState,
        params: np.ndarray,
        names: Callable[[int], str],
        learned: dict[str, Any] | None = None,
    ) -> Prompt:
        """The prompt due at ts_ns (see strategies.strategist.prompt)."""
        return build_prompt(ts_ns, out_i, out_f, state, params, names, self.settings, learned)

    def conclude(
        self, call_no: int, prompt: Prompt, reply: Reply, trigger: str = "schedule"
    ) -> Call:
        """Judge the reply (if any) and wrap it all as a call."""
        verdict = None
        if reply.status == ANSWERED:
            verdict = judge(reply.raw, reply.done_reason, self.settings, prompt.active,
                            prompt.params)  # fmt: skip
        return Call(call_no, self.settings.mode, self.settings.model, self.host, prompt,
                    prompt.ts_ns + self.settings.delay_ns, reply, verdict, trigger)  # fmt: skip


def calls_table(calls: Sequence[Call]) -> dict[str, Any]:
    """The `strategist` family's columns for these calls (their ts_ns is the due time)."""
    return {
        "ts_ns": np.array([c.prompt.ts_ns for c in calls], np.int64),
        "mint_id": np.full(len(calls), -1, np.int32),
        "call_no": np.array([c.call_no for c in calls], np.int64),
        "apply_ts_ns": np.array([c.apply_ts_ns for c in calls], np.int64),
        "trigger": [c.trigger for c in calls],
        "mode": [c.mode for c in calls],
        "model": [c.model for c in calls],
        "host": [c.host for c in calls],
        "prompt": [c.prompt.text for c in calls],
        "prompt_sha256": [c.prompt.sha256 for c in calls],
        "answer": [c.reply.raw for c in calls],
        "done_reason": [c.reply.done_reason for c in calls],
        "parsed": [c.verdict.parsed if c.verdict else "" for c in calls],
        "status": [c.status for c in calls],
        "reason": [c.reason for c in calls],
        "changes": [c.changes for c in calls],
        "latency_ms": np.array([c.reply.latency_ms for c in calls], np.float64),
        "prompt_tokens": np.array([c.reply.prompt_tokens for c in calls], np.int64),
        "answer_tokens": np.array([c.reply.answer_tokens for c in calls], np.int64),
        "attempts": np.array([c.reply.attempts for c in calls], np.int64),
    }


def summary(calls: Sequence[Call], settings: StrategistSettings, host: str) -> dict[str, Any]:
    """A run report's strategist section: counts by status and the changes made."""
    by: dict[str, int] = {}
    for c in calls:
        by[c.status] = by.get(c.status, 0) + 1
    return {
        "mode": settings.mode, "model": settings.model, "host": host,
        "interval_s": settings.interval_s, "delay_s": settings.delay_s,
        "calls": len(calls), "by_status": dict(sorted(by.items())),
        "missing": by.get(MISSING, 0),
    }  # fmt: skip
