"""The order router of a live run: the kernel's orders to the venue, its answers back.

`VenueRouter.watch` sees every batch's outputs (a `LiveRun` watcher): each new
`ORDER_PLACED` becomes a `LiveOrder` handed to the executor on its own asyncio task, so a
slow swap never holds up the feed. The executor's `journal` commits a `venue_orders`
row with the signature *before* the transaction is sent; the outcome is committed as a
second row, then handed back (`deliver`) as a `VenueReport` the loop feeds the kernel as
an input event. An order whose fate is unknown (the node stopped answering) is not
reported: it stays pending in the kernel until `resolve` settles it against the chain.

In dry-run mode the kernel runs on the simulated venue (as paper) and every order also
goes through the executor with `dry_run`: the quote and the checks are logged as
`dry_run` rows, nothing is signed or sent.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import numpy as np
from solders.pubkey import Pubkey
from solders.signature import Signature

from data.controls import append_control
from engine.events import OutKind
from engine.layout import (
    G_CASH,
    O_DEC_ID,
    O_KIND,
    O_MINT,
    O_ORDER_ID,
    O_QTY,
    O_SIDE,
    O_SOL,
    OF_DECISION_PRICE,
    OF_PRICE,
    OI_ACTIVE,
    OI_DEC_ID,
    OI_ID,
    OI_MINT,
    OI_QTY,
    OI_SIDE,
    OI_SOL,
    PI_ACTIVE,
    PI_MINT,
    PI_QTY,
)
from engine.params import P
from replay.live.run import LiveRun
from replay.venue.chain import ChainClient
from replay.venue.executor import BUY, Executor, LiveOrder, Outcome
from replay.venue.reports import VenueReport

LOG = logging.getLogger("clanka.venue")
FINAL = ("filled", "rejected", "dry_run")
PREFLIGHT = ("tradeable", "no_position", "drift", "impact", "balance")
"""Pre-flight refusals: the order never reached the venue, so it is no dead letter."""


def _row(order_id: int, o: LiveOrder, status: str, **kw: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "ts_ns": time.time_ns(), "mint_id": -1, "order_id": order_id,
        "decision_id": o.decision_id, "side": o.side, "status": status, "signature": "",
        "last_valid_block_height": 0, "reason": "", "category": "", "message": "",
        "amount": o.amount, "decision_price": o.decision_price, "quoted_in": 0,
        "quoted_out": 0, "threshold": 0, "impact_pct": 0.0, "sol_delta": 0, "token_delta": 0,
        "fee": 0, "rent": 0, "priority_fee": 0, "slot": 0, "attempts": 0, "decided_ns": 0,
        "landed_ns": 0, "checks": "[]",
    }  # fmt: skip
    row.update(kw)
    return row


def orders_placed(
    out_i: np.ndarray, out_f: np.ndarray, run: LiveRun
) -> list[tuple[int, int, LiveOrder]]:
    """The batch's new orders as (kernel order id, mint id, the order for the venue)."""
    placed = []
    for k in np.flatnonzero(out_i[:, O_KIND] == OutKind.ORDER_PLACED).tolist():
        r, f = out_i[k], out_f[k]
        side = int(r[O_SIDE])
        p = P.ENTRY_MAX_SLIPPAGE_BPS if side == BUY else P.EXIT_MAX_SLIPPAGE_BPS
        order = LiveOrder(
            int(r[O_DEC_ID]), side, run.by_id[int(r[O_MINT])],
            int(r[O_SOL]) if side == BUY else int(r[O_QTY]), int(run.kernel.params[p]),
            float(f[OF_PRICE]),
        )  # fmt: skip
        placed.append((int(r[O_ORDER_ID]), int(r[O_MINT]), order))
    return placed


def outcome_row(order_id: int, mint_id: int, out: Outcome) -> dict[str, Any]:
    """The `venue_orders` row that says how an order ended."""
    return _row(
        order_id, out.order, out.status, mint_id=mint_id, signature=out.signature,
        reason=out.reason, category=out.category, message=out.message[:500],
        quoted_in=out.quoted_in, quoted_out=out.quoted_out, threshold=out.threshold,
        impact_pct=out.impact_pct, sol_delta=out.sol_delta, token_delta=out.token_delta,
        fee=out.fee, rent=out.rent, priority_fee=out.priority_fee, slot=out.slot,
        attempts=out.attempts, decided_ns=out.started_ns, landed_ns=out.landed_ns,
        checks=json.dumps([asdict(c) for c in out.checks]),
    )  # fmt: skip


class VenueRouter:
    """Routes a live run's orders through an executor (see the module docstring)."""

    def __init__(
        self,
        run: LiveRun,
        executor: Executor,
        deliver: Callable[[VenueReport], None],
        *,
        dry_run: bool = False,
    ) -> None:
        self.run = run
        self.executor = executor
        self.deliver = deliver
        self.dry_run = dry_run
        self.tasks: set[asyncio.Task[None]] = set()
        self.sent: set[int] = set()
        """Kernel order ids handed to the executor by this process."""
        self.mint_of: dict[int, int] = {}
        self.dead: list[int] = []
        """Wall times of this process's dead letters (the error-rate breaker's window)."""
        executor.journal = self._journal
        executor.on_sent = self._sent
        self._journal_ids: dict[int, int] = {}

    def _append(self, rows: list[dict[str, Any]]) -> None:
        cols = {k: [r[k] for r in rows] for k in rows[0]}
        self.run.store.append("venue_orders", cols, source=self.run.run_id)

    def _slippage(self, side: int) -> int:
        p = P.ENTRY_MAX_SLIPPAGE_BPS if side == BUY else P.EXIT_MAX_SLIPPAGE_BPS
        return int(self.run.kernel.params[p])

    def watch(self, out_i: np.ndarray, out_f: np.ndarray, extras: dict[str, Any]) -> None:
        """A batch's outputs: start every new order on its own task."""
        if not len(out_i):
            return
        for order_id, mint_id, order in orders_placed(out_i, out_f, self.run):
            self.submit(order_id, mint_id, order)

    def submit(self, order_id: int, mint_id: int, order: LiveOrder) -> None:
        """Send one order on a task of its own (once per order id)."""
        if order_id in self.sent:
            return
        self.sent.add(order_id)
        self.mint_of[order_id] = mint_id
        task = asyncio.get_running_loop().create_task(self._route(order_id, mint_id, order))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _journal(self, order: LiveOrder, signature: str, last_valid: int) -> None:
        oid = self._journal_ids[order.decision_id]
        self._append([_row(oid, order, "submitted", mint_id=self.mint_of[oid],
                           signature=signature, last_valid_block_height=last_valid)])  # fmt: skip
        self.run.progress.emit("order_journaled", order_id=oid)

    def _sent(self, order: LiveOrder, signature: str) -> None:
        self.run.progress.emit("order_sent", order_id=self._journal_ids[order.decision_id])

    def resubmit(self, journaled: set[int]) -> None:
        """Send the kernel's pending orders that no journal row names: never sent."""
        st = self.run.kernel.state
        for o in np.flatnonzero(st.ord_i[:, OI_ACTIVE] == 1).tolist():
            oid = int(st.ord_i[o, OI_ID])
            if oid in journaled:
                continue
            side, m = int(st.ord_i[o, OI_SIDE]), int(st.ord_i[o, OI_MINT])
            amount = int(st.ord_i[o, OI_SOL]) if side == BUY else int(st.ord_i[o, OI_QTY])
            price = float(st.ord_f[o, OF_DECISION_PRICE])
            order = LiveOrder(int(st.ord_i[o, OI_DEC_ID]), side, self.run.by_id[m], amount,
                              self._slippage(side), price)  # fmt: skip
            LOG.info("order %d was pending and never sent: sending it now", oid)
            self.submit(oid, m, order)

    async def _route(self, order_id: int, mint_id: int, order: LiveOrder) -> None:
        self._journal_ids[order.decision_id] = order_id
        try:
            out = await self.executor.execute(order, dry_run=self.dry_run)
        except Exception as exc:  # a bug or an answer no one foresaw: never a silent loss
            # Whether a transaction went out is not known here: the order stays pending
            # and the next start settles it from the journal and the chain.
            out = Outcome(order, "unresolved", reason="internal_error", category="critical",
                          message=f"{type(exc).__name__}: {exc}"[:400])  # fmt: skip
        row = outcome_row(order_id, mint_id, out)
        self._append([row])
        self.run.progress.emit("order_ended", order_id=order_id, status=out.status)
        if out.status in ("rejected", "unresolved") and out.reason not in PREFLIGHT:
            self._dead_letter(row, order)
        what = "bought" if order.side == BUY else "sold"
        if out.status == "filled":
            LOG.info("order %d %s: %s (%d raw units, %+d lamports, fee %d, signature %s)",
                     order_id, out.status, what, abs(out.token_delta), out.sol_delta, out.fee,
                     out.signature)  # fmt: skip
        elif out.status == "dry_run":
            LOG.info("order %d (dry run): %s", order_id, out.message)
        else:
            log = LOG.critical if out.category == "critical" else LOG.warning
            log("order %d %s: %s", order_id, out.status, out.message)
        if out.status in ("filled", "rejected") and not self.dry_run:
            self.deliver(VenueReport.of(order_id, out, time.time_ns()))

    def _dead_letter(self, row: dict[str, Any], order: LiveOrder) -> None:
        """Keep an order that failed for good; trip the emergency stop on a burst."""
        letter = {k: v for k, v in row.items()}
        letter["order_json"] = json.dumps(asdict(order), sort_keys=True)
        self.run.store.append("dead_letters", {k: [v] for k, v in letter.items()},
                              source=self.run.run_id)  # fmt: skip
        limits = self.executor.settings
        now = time.time_ns()
        self.dead = [t for t in self.dead if t > now - limits.dead_letter_window_s * 1e9]
        self.dead.append(now)
        if len(self.dead) >= limits.max_dead_letters:
            why = (f"{len(self.dead)} orders failed for good at the venue in "
                   f"{limits.dead_letter_window_s:g} s")  # fmt: skip
            LOG.critical("error-rate spike: %s; the emergency stop is logged", why)
            append_control(self.run.store, "emergency-stop", now, source="venue", reason=why)
            self.dead.clear()

    async def close(self, timeout_s: float = 60.0) -> None:
        """Wait for the orders in flight (a stop never abandons a sent transaction)."""
        if self.tasks:
            await asyncio.wait(set(self.tasks), timeout=timeout_s)


async def resolve(
    run: LiveRun, chain: ChainClient, wallet: Pubkey
) -> tuple[list[VenueReport], set[int]]:
    """At start-up: settle every order the kernel still has pending, from the journal.

    For each pending order: a final `venue_orders` row the kernel never heard about is
    reported from the row; a `submitted` signature without an ending is looked up on
    the chain (landed: a fill from its balance changes, or a reject with the fee it
    cost; provably gone because the chain passed its last valid height: a reject, so
    the kernel may decide again; still in flight: waited for). An order with no journal
    row was never sent: it is left for the router to send. The endings found here are
    journaled too, so a second restart finds them. Returns the reports and the ids of
    the pending orders the journal names.
    """
    st = run.kernel.state
    pending = {int(st.ord_i[o, OI_ID]): int(st.ord_i[o, OI_MINT])
               for o in np.flatnonzero(st.ord_i[:, OI_ACTIVE] == 1).tolist()}  # fmt: skip
    if not pending:
        return [], set()
    ids = ", ".join(str(i) for i in pending)
    # The ids are ints from the kernel's state, formatted here.
    rows = run.store.con.execute(
        "SELECT order_id, side, amount, decision_price, decision_id, "  # noqa: S608
        "arg_max(status, seq) AS status, arg_max(signature, seq) AS signature, "
        "max(last_valid_block_height) AS last_valid, arg_max(sol_delta, seq), "
        "arg_max(token_delta, seq), arg_max(fee + rent, seq) FROM venue_orders "
        f"WHERE source = ? AND order_id IN ({ids}) GROUP BY ALL ORDER BY order_id",
        [run.run_id],
    ).fetchall()
    reports: list[VenueReport] = []
    now = time.time_ns
    for oid, side, amount, price, did, status, sig, last_valid, sol, tok, costs in rows:
        mint = run.by_id[pending[int(oid)]]
        order = LiveOrder(int(did), int(side), mint, int(amount), 0, float(price))
        if status in ("filled", "rejected"):
            out = Outcome(order, str(status), sol_delta=int(sol), token_delta=int(tok),
                          fee=int(costs))  # fmt: skip
            reports.append(VenueReport.of(int(oid), out, now()))
            continue
        if status != "submitted" or not sig:
            continue
        signature = Signature.from_string(str(sig))
        landed = await chain.confirm(signature, int(last_valid))
        out = Outcome(order, "rejected", reason="not_landed", category="warning",
                      message=f"transaction {sig} never landed (found at restart)",
                      signature=str(sig))  # fmt: skip
        if landed is not None:
            change = await chain.changes(signature, wallet, Pubkey.from_string(mint))
            out.sol_delta, out.token_delta = change.sol_delta, change.token_delta
            out.fee, out.rent, out.slot = change.fee, change.rent, change.slot
            if change.err is None:
                out.status, out.reason, out.category, out.message = "filled", "", "info", \
                    "filled (found at restart)"  # fmt: skip
            else:
                out.reason, out.category = "landed_failed", "critical"
                out.message = f"transaction {sig} landed and failed ({change.err})"
        run.store.append("venue_orders", {k: [v] for k, v in outcome_row(
            int(oid), pending[int(oid)], out).items()}, source=run.run_id)  # fmt: skip
        LOG.warning("order %d resolved at restart: %s", oid, out.message)
        reports.append(VenueReport.of(int(oid), out, now()))
    return reports, {int(r[0]) for r in rows}


async def reconcile(run: LiveRun, chain: ChainClient, wallet: Pubkey) -> list[dict[str, Any]]:
    """At start-up, after `resolve`: the wallet's balances against the log.

    The wallet's SOL and each open position's tokens: every comparison is a
    `reconciliations` event, and every difference is applied to the kernel (the chain
    wins). Returns the rows.
    """
    st = run.kernel.state
    now = time.time_ns()
    rows: list[dict[str, Any]] = []
    sol = await chain.balance(wallet)
    rows.append({"asset": "SOL", "mint_id": -1, "log_amount": int(st.glob[G_CASH]),
                 "chain_amount": sol})  # fmt: skip
    for s in np.flatnonzero(st.pos_i[:, PI_ACTIVE] == 1).tolist():
        m = int(st.pos_i[s, PI_MINT])
        held = await chain.token_balance(wallet, Pubkey.from_string(run.by_id[m]))
        rows.append({"asset": run.by_id[m], "mint_id": m,
                     "log_amount": int(st.pos_i[s, PI_QTY]), "chain_amount": held})  # fmt: skip
    for r in rows:
        r["ts_ns"] = now
        r["difference"] = r["chain_amount"] - r["log_amount"]
        if r["difference"]:
            LOG.warning("reconciliation: %s: the log says %d, the chain %d; the chain wins",
                        r["asset"], r["log_amount"], r["chain_amount"])  # fmt: skip
    if run.write:
        cols = {k: [r[k] for r in rows] for k in rows[0]}
        run.store.append("reconciliations", cols, source=run.run_id)
    changes = [(int(r["mint_id"]), int(r["difference"])) for r in rows if r["difference"]]
    run.process_adjustments(changes, now)
    return rows
