"""Which of a run's events deserve a message: the alert rules, in event time.

`RuleBook.observe` reads one batch's kernel outputs and the batch's extras (feed
problems and gaps, learning rows) and returns the alerts they raise:

- big_win / big_loss: a closed trade's PnL against its cost (the seed's > 50 % and
  < -20 %), with its symbol and exit reason;
- breaker: every breaker trip, the emergency stop as critical;
- error_rate: more than `error_rate` errors (quarantined frames plus rejected orders)
  in one `error_window_s` window of event time, once per window;
- feed_down: the feed disconnected for longer than `feed_down_s` (checked by
  `feed_state`), and every gap the feed reports once it is back;
- learning: each change the learning loop applies (rule, parameter, old -> new, why);
- unusual_pattern: the first time the pattern library sees a pattern in this run.

It keeps only what these need (open positions' costs, the error window, patterns seen),
so it never reads the store and never slows the batch it is handed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.events import Breaker, OutKind, Reason
from engine.layout import O_KIND, O_MINT, O_POS_ID, O_REASON, O_SOL, O_TS, OF_OUT_STOP, OF_PRICE
from replay.alerts.settings import AlertRules

CRITICAL, WARNING, INFO = "critical", "warning", "info"


@dataclass(frozen=True)
class Alert:
    """One thing worth saying: when (event time), which rule, how serious, the words."""

    ts_ns: int
    rule: str
    severity: str
    text: str
    mint_id: int = -1


def _reason(code: int) -> str:
    try:
        return Reason(code).label
    except ValueError:
        return f"reason {code}"


class RuleBook:
    """The alert rules over a live run's batches (see the module docstring)."""

    def __init__(
        self,
        rules: AlertRules,
        label: Callable[[int], str],
        open_costs: dict[int, tuple[int, int]] | None = None,
    ) -> None:
        self.rules = rules
        self.label = label
        self.costs: dict[int, tuple[int, int]] = dict(open_costs or {})
        """pos_id -> (mint id, cost in lamports) of every open position."""
        self.errors: list[int] = []
        self.error_window_end = -1
        self.patterns: set[str] = set()
        self.down_since: int | None = None
        self.down_said = False

    def observe(self, out_i: np.ndarray, out_f: np.ndarray, extras: dict[str, Any],
                now: int) -> list[Alert]:  # fmt: skip
        """The alerts one batch raises, in event order (`now`: the run's event time)."""
        alerts: list[Alert] = []
        kinds = out_i[:, O_KIND] if len(out_i) else np.zeros(0, np.int64)
        watched = (kinds == OutKind.POSITION_OPENED) | (kinds == OutKind.POSITION_CLOSED)
        watched |= (kinds == OutKind.BREAKER_TRIPPED) | (kinds == OutKind.ORDER_REJECTED)
        for k in np.flatnonzero(watched).tolist():
            r, f = out_i[k], out_f[k]
            kind, ts, mint = int(r[O_KIND]), int(r[O_TS]), int(r[O_MINT])
            if kind == OutKind.POSITION_OPENED:
                self.costs[int(r[O_POS_ID])] = (mint, int(r[O_SOL]))
            elif kind == OutKind.POSITION_CLOSED:
                alerts += self._closed(ts, r)
            elif kind == OutKind.BREAKER_TRIPPED and self.rules.breaker:
                b = Breaker(int(r[O_REASON]))
                if b is Breaker.EMERGENCY_STOP:
                    text = "EMERGENCY STOP: new entries halted (exits go on)"
                    alerts.append(Alert(ts, "breaker", CRITICAL, text))
                else:
                    text = (f"breaker {b.label} tripped: {f[OF_PRICE]:g} against a limit of "
                            f"{f[OF_OUT_STOP]:g}; entries paused")  # fmt: skip
                    alerts.append(Alert(ts, "breaker", WARNING, text, mint))
            elif kind == OutKind.ORDER_REJECTED:
                alerts += self._error(ts, 1)
        problems = extras.get("problems") or []
        if problems:  # a batch of bad frames alone has no outputs: the run's time counts
            alerts += self._error(now, len(problems))
        for g in extras.get("gaps") or []:
            alerts += self._gap(g)
        learned = extras.get("learning") or {}
        if self.rules.learning:
            for a in learned.get("adaptations", []):
                alerts.append(self._adaptation(a))
        if self.rules.unusual_pattern:
            for h in learned.get("pattern_hits", []):
                name = str(h.get("pattern", ""))
                if name and name not in self.patterns:
                    self.patterns.add(name)
                    alerts.append(Alert(int(h["ts_ns"]), "unusual_pattern", INFO,
                                        f"new pattern in this run: {name} "
                                        f"(on {self.label(int(h.get('mint_id', -1)))})",
                                        int(h.get("mint_id", -1))))  # fmt: skip
        return alerts

    def _closed(self, ts: int, r: np.ndarray) -> list[Alert]:
        pos = int(r[O_POS_ID])
        mint, cost = self.costs.pop(pos, (int(r[O_MINT]), 0))
        if cost <= 0:
            return []
        pnl = int(r[O_SOL])
        pct = pnl / cost * 100.0
        what = f"T{pos} {self.label(mint)} closed {pct:+.1f}% ({pnl / 1e9:+.4f} SOL), " \
               f"last exit {_reason(int(r[O_REASON]))}"  # fmt: skip
        win, loss = self.rules.big_win_pct, self.rules.big_loss_pct
        if win is not None and pct > win:
            return [Alert(ts, "big_win", INFO, f"big win: {what}", mint)]
        if loss is not None and pct < -loss:
            return [Alert(ts, "big_loss", WARNING, f"big loss: {what}", mint)]
        return []

    def _error(self, ts: int, n: int) -> list[Alert]:
        limit = self.rules.error_rate
        if limit is None:
            return []
        window = int(self.rules.error_window_s * 1e9)
        self.errors += [ts] * n
        self.errors = [t for t in self.errors if t > ts - window]
        if len(self.errors) > limit and ts >= self.error_window_end:
            self.error_window_end = ts + window  # once per window
            return [Alert(ts, "error_rate", WARNING,
                          f"error rate spike: {len(self.errors)} errors (quarantined frames, "
                          f"rejected orders) in {self.rules.error_window_s:g} s")]  # fmt: skip
        return []

    def _gap(self, g: dict[str, Any]) -> list[Alert]:
        if self.rules.feed_down_s is None:
            return []
        self.down_since, self.down_said = None, False
        secs = (int(g["end_ns"]) - int(g["start_ns"])) / 1e9
        if secs < self.rules.feed_down_s:
            return []
        return [Alert(int(g["end_ns"]), "feed_down", WARNING,
                      f"feed back after {secs:.1f} s down ({g.get('reason', '?')}); "
                      "the gap is logged")]  # fmt: skip

    def feed_state(self, ts: int, connected: bool, last_error: str) -> list[Alert]:
        """Called at each heartbeat: an alert once the feed has been down too long."""
        if connected or self.rules.feed_down_s is None:
            self.down_since, self.down_said = None, False
            return []
        if self.down_since is None:
            self.down_since = ts
        if not self.down_said and ts - self.down_since >= self.rules.feed_down_s * 1e9:
            self.down_said = True
            why = f": {last_error}" if last_error else ""
            return [Alert(ts, "feed_down", CRITICAL,
                          f"feed DOWN for {(ts - self.down_since) / 1e9:.0f} s{why}; "
                          "reconnecting with backoff")]  # fmt: skip
        return []

    def _adaptation(self, a: dict[str, Any]) -> Alert:
        action, status = str(a.get("action", "")), str(a.get("status", ""))
        if action == "follow_up":
            what = f"learning follow-up of change {a.get('ref_no')}: {status}"
        else:
            what = (f"learning {action} ({a.get('rule')}, {status}): {a.get('param')} "
                    f"{float(a.get('old_value', float('nan'))):g} -> "
                    f"{float(a.get('new_value', float('nan'))):g}")  # fmt: skip
        why = str(a.get("reason", ""))
        return Alert(int(a["ts_ns"]), "learning", INFO, f"{what}; {why}" if why else what)
