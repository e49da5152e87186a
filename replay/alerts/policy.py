"""Against alert fatigue: grouping, a rate limit per rule, digests and quiet hours.

Every decision is made in event time (the run's clock, not the machine's), so the same
events always give the same messages. An alert is either **sent** at once as its own
message or **held**, with the reason:

- grouping: another alert of its rule went out less than `group_s` ago; held alerts of
  the rule go out together as one message when that window closes;
- rate_limit: its rule already sent `per_rule_per_hour` messages in the last hour; the
  held ones go out as one digest as soon as the rule may send again;
- quiet_hours: it came in the quiet hours; everything held then goes out as one digest
  when they end.

Critical alerts (the emergency stop, a feed down) skip all three. `close` releases
whatever is still held, so no alert is ever silently lost.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from dataclasses import dataclass

from replay.alerts.rules import CRITICAL, Alert
from replay.alerts.settings import AlertLimits

HOUR_NS = 3600 * 10**9
MAX_LINES = 10
"""Alerts listed in one group or digest message (the rest are counted)."""


@dataclass(frozen=True)
class Verdict:
    """What happened to an alert when it was raised: sent now, or held and why."""

    alert: Alert
    status: str  # "sent" or "held"
    reason: str  # "" when sent; else grouping, rate_limit or quiet_hours


@dataclass(frozen=True)
class Message:
    """One message to the channels: an alert, a group of one rule, or a digest."""

    ts_ns: int
    kind: str  # "alert", "group" or "digest"
    rule: str
    severity: str
    text: str
    alerts: tuple[Alert, ...]


def _hhmm(ts_ns: int) -> str:
    return dt.datetime.fromtimestamp(ts_ns / 1e9, dt.UTC).strftime("%H:%M")


def _listing(head: str, alerts: list[Alert]) -> str:
    lines = [head] + [f"- {_hhmm(a.ts_ns)} {a.text}" for a in alerts[:MAX_LINES]]
    if len(alerts) > MAX_LINES:
        lines.append(f"... and {len(alerts) - MAX_LINES} more (all are in the alerts events)")
    return "\n".join(lines)


class AlertPolicy:
    """Decides, in event time, which alerts go out now and which are held (see above)."""

    def __init__(self, limits: AlertLimits) -> None:
        self.limits = limits
        self.quiet = limits.quiet_span()
        self.sent: dict[str, deque[int]] = {}
        self.group_until: dict[str, int] = {}
        self.grouped: dict[str, list[Alert]] = {}
        self.limited: dict[str, list[Alert]] = {}
        self.quiet_held: list[Alert] = []

    def in_quiet_hours(self, ts_ns: int) -> bool:
        """Whether `ts_ns` falls in the quiet hours (which may wrap midnight)."""
        if self.quiet is None:
            return False
        minute = (ts_ns // 60_000_000_000) % 1440
        a, b = self.quiet
        return a <= minute < b if a <= b else (minute >= a or minute < b)

    def _room(self, rule: str, ts: int) -> bool:
        q = self.sent.setdefault(rule, deque())
        while q and q[0] <= ts - HOUR_NS:
            q.popleft()
        return len(q) < self.limits.per_rule_per_hour

    def _send(self, ts: int, kind: str, rule: str, severity: str, text: str,
              alerts: list[Alert], *, counted: bool = True) -> Message:  # fmt: skip
        if counted:
            self.sent.setdefault(rule, deque()).append(ts)
        return Message(ts, kind, rule, severity, text, tuple(alerts))

    def offer(self, a: Alert) -> tuple[Verdict, list[Message]]:
        """Raise one alert: its verdict, and the messages that go out now."""
        out = self.tick(a.ts_ns)
        if a.severity == CRITICAL:
            out.append(self._send(a.ts_ns, "alert", a.rule, a.severity, a.text, [a],
                                  counted=False))  # fmt: skip
            return Verdict(a, "sent", ""), out
        if self.in_quiet_hours(a.ts_ns):
            self.quiet_held.append(a)
            return Verdict(a, "held", "quiet_hours"), out
        if a.ts_ns < self.group_until.get(a.rule, -1):
            self.grouped.setdefault(a.rule, []).append(a)
            return Verdict(a, "held", "grouping"), out
        if not self._room(a.rule, a.ts_ns):
            self.limited.setdefault(a.rule, []).append(a)
            return Verdict(a, "held", "rate_limit"), out
        out.append(self._send(a.ts_ns, "alert", a.rule, a.severity, a.text, [a]))
        if self.limits.group_s > 0:
            self.group_until[a.rule] = a.ts_ns + int(self.limits.group_s * 1e9)
        return Verdict(a, "sent", ""), out

    def tick(self, now: int) -> list[Message]:
        """Messages due by event time `now`: closed groups, digests, the end of quiet."""
        out: list[Message] = []
        for rule in sorted(self.grouped):
            if now >= self.group_until.get(rule, -1) and self.grouped[rule]:
                held = self.grouped.pop(rule)
                if self._room(rule, now):
                    head = f"{len(held)} more {rule} alert(s) within {self.limits.group_s:g} s:"
                    out.append(self._send(now, "group", rule, held[0].severity,
                                          _listing(head, held), held))  # fmt: skip
                else:
                    self.limited.setdefault(rule, []).extend(held)
        if not self.in_quiet_hours(now):
            for rule in sorted(self.limited):
                held = self.limited[rule]
                if held and self._room(rule, now):
                    del self.limited[rule]
                    head = (f"digest: {len(held)} {rule} alert(s) held back by the rate limit "
                            f"({self.limits.per_rule_per_hour} messages per hour):")  # fmt: skip
                    out.append(self._send(now, "digest", rule, held[0].severity,
                                          _listing(head, held), held))  # fmt: skip
            if self.quiet_held:
                held, self.quiet_held = self.quiet_held, []
                head = (f"digest: {len(held)} alert(s) during the quiet hours "
                        f"({self.limits.quiet_hours} UTC):")  # fmt: skip
                out.append(self._send(now, "digest", "quiet_hours", "info",
                                      _listing(head, held), held, counted=False))  # fmt: skip
        return out

    def close(self, now: int) -> list[Message]:
        """Everything still held, as one last message per rule (at the run's stop)."""
        out = self.tick(now)
        pending: dict[str, list[Alert]] = {}
        for rule, held in [*self.grouped.items(), *self.limited.items()]:
            pending.setdefault(rule, []).extend(held)
        if self.quiet_held:
            pending.setdefault("quiet_hours", []).extend(self.quiet_held)
        self.grouped, self.limited, self.quiet_held = {}, {}, []
        for rule in sorted(pending):
            held = pending[rule]
            if held:
                head = f"at stop: {len(held)} held {rule} alert(s):"
                out.append(self._send(now, "digest", rule, held[0].severity,
                                      _listing(head, held), held, counted=False))  # fmt: skip
        return out
