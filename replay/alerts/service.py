"""Alerts for a live run: rules on every batch, messages sent off the hot path, all logged.

`AlertService.watch` is called with each batch's outputs (a `LiveRun` watcher): it runs
the rules and the policy, which are cheap, and queues the messages. `AlertService.run`
is the asyncio task that sends them, one at a time and in order, to every configured
channel with retries; a slow or failing provider never delays a decision. Every alert
(sent or held, and why) and every message on every channel (delivered or failed, after
how many tries) becomes an `alerts` event of the run, written in small batches.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import httpx
import numpy as np

from engine.layout import PI_ACTIVE, PI_COST, PI_MINT, PI_POS_ID
from replay.alerts.policy import AlertPolicy, Message, Verdict
from replay.alerts.rules import RuleBook
from replay.alerts.senders import DiscordSender, Sender, TelegramSender, deliver
from replay.alerts.settings import AlertSettings

LOG = logging.getLogger("clanka.alerts")
FLUSH_S = 1.0
"""How often pending `alerts` rows are written while the run goes on."""


class _Health(Protocol):
    connected: bool
    last_error: str


class _Run(Protocol):
    """What the service needs of a `LiveRun` (kept narrow: it only reads)."""

    run_id: str
    write: bool
    last_ts: int
    store: Any
    kernel: Any

    def label(self, mint_id: int) -> str: ...


def _open_costs(run: _Run) -> dict[int, tuple[int, int]]:
    """Open positions' (mint, cost) by position id: a resumed run knows its own."""
    st = run.kernel.state
    live = st.pos_i[st.pos_i[:, PI_ACTIVE] == 1]
    return {int(r[PI_POS_ID]): (int(r[PI_MINT]), int(r[PI_COST])) for r in live}


class AlertService:
    """Rules, policy and senders around one live run (see the module docstring)."""

    def __init__(
        self,
        settings: AlertSettings,
        run: _Run,
        health: Callable[[], _Health],
        *,
        senders: list[Sender] | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self.settings = settings
        self.run_ = run
        self.health = health
        self.rules = RuleBook(settings.rules, run.label, _open_costs(run))
        self.policy = AlertPolicy(settings.limits)
        self.client: httpx.AsyncClient | None = None
        self.senders = senders
        self.sleep = sleep
        self.queue: asyncio.Queue[Message | None] = asyncio.Queue()
        self.rows: list[dict[str, Any]] = []
        self.counts = {"alerts": 0, "held": 0, "messages": 0, "delivered": 0, "failed": 0}

    def _senders(self) -> list[Sender]:
        if self.senders is None:
            self.client = httpx.AsyncClient(timeout=self.settings.timeout_s)
            out: list[Sender] = []
            if self.settings.telegram is not None:
                out.append(TelegramSender(self.settings.telegram, self.client))
            if self.settings.discord is not None:
                out.append(DiscordSender(self.settings.discord, self.client))
            self.senders = out
        return self.senders

    def watch(self, out_i: np.ndarray, out_f: np.ndarray, extras: dict[str, Any]) -> None:
        """A batch's outputs (a `LiveRun` watcher): raise, decide, queue; never blocks."""
        now = int(self.run_.last_ts)
        alerts = self.rules.observe(out_i, out_f, extras, now)
        h = self.health()
        alerts += self.rules.feed_state(now, bool(h.connected), str(h.last_error or ""))
        for m in self.policy.tick(now):
            self._queue(m)
        for a in alerts:
            verdict, msgs = self.policy.offer(a)
            self._record_alert(verdict)
            for m in msgs:
                self._queue(m)

    def _queue(self, m: Message) -> None:
        self.counts["messages"] += 1
        self.queue.put_nowait(m)

    def _record_alert(self, v: Verdict) -> None:
        a = v.alert
        self.counts["alerts"] += 1
        if v.status == "held":
            self.counts["held"] += 1
        LOG.info("alert %s (%s): %s%s", a.rule, a.severity, a.text,
                 f" [held: {v.reason}]" if v.reason else "")  # fmt: skip
        self.rows.append({
            "ts_ns": a.ts_ns, "mint_id": a.mint_id, "kind": "alert", "rule": a.rule,
            "severity": a.severity, "status": v.status, "reason": v.reason, "channel": "",
            "message_kind": "", "alerts_in": 1, "attempts": 0, "sent_ns": 0, "text": a.text,
        })  # fmt: skip

    async def _send(self, m: Message) -> None:
        for sender in self._senders():
            d = await deliver(sender, m.text, self.settings.max_attempts, self.sleep)
            self.counts["delivered" if d.ok else "failed"] += 1
            if not d.ok:
                LOG.warning("alert message not delivered on %s after %d tries: %s",
                            d.channel, d.attempts, d.error)  # fmt: skip
            self.rows.append({
                "ts_ns": m.ts_ns, "mint_id": -1, "kind": "message", "rule": m.rule,
                "severity": m.severity, "status": "delivered" if d.ok else "failed",
                "reason": d.error, "channel": d.channel, "message_kind": m.kind,
                "alerts_in": len(m.alerts), "attempts": d.attempts, "sent_ns": time.time_ns(),
                "text": m.text,
            })  # fmt: skip

    def flush(self) -> None:
        """Write the pending `alerts` rows (a run that does not write keeps none)."""
        rows, self.rows = self.rows, []
        if not rows or not self.run_.write:
            return
        cols = {k: [r[k] for r in rows] for k in rows[0]}
        try:
            self.run_.store.append("alerts", cols, source=self.run_.run_id)
        except Exception as exc:  # the run trades on; the log line says what was lost
            LOG.warning("%d alerts events not logged: %s", len(rows), exc)

    async def run(self) -> None:
        """Send queued messages in order until `close` puts the end marker."""
        last_flush = time.monotonic()
        while True:
            try:
                m = await asyncio.wait_for(self.queue.get(), FLUSH_S)
            except TimeoutError:
                self.flush()
                last_flush = time.monotonic()
                continue
            if m is None:
                break
            await self._send(m)
            if time.monotonic() - last_flush >= FLUSH_S:
                self.flush()
                last_flush = time.monotonic()
        self.flush()

    async def close(self, task: asyncio.Task[None], timeout_s: float = 30.0) -> dict[str, int]:
        """Release what is held, send it (at most `timeout_s`), write every row."""
        for m in self.policy.close(int(self.run_.last_ts)):
            self._queue(m)
        self.queue.put_nowait(None)
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout_s)
        except TimeoutError:
            LOG.warning("alerts: %d message(s) still unsent after %.0f s at stop",
                        self.queue.qsize(), timeout_s)  # fmt: skip
            task.cancel()
        self.flush()
        if self.client is not None:
            await self.client.aclose()
        return dict(self.counts)
