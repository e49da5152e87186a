"""A live run against its paper twin, and where the two part.

The twin is what the simulated venue would have done on the very feed the live run saw.
A live run's inputs are the market's (ticks, heartbeats, controls) plus the venue's
answers (fills and rejects, and the reconciliation of positions at start-up). The twin
replays only the market's inputs (and the wallet's SOL at start), batch for batch,
through the same strategy on the simulated venue: a paper run over the same recorded
feed. (A second paper run on the same websocket would
cut the feed into other batches and beat at other heartbeats, so its decisions could
differ for reasons that have nothing to do with the venue.)

The kernel is one program in both (a live kernel handed the simulated venue's fills as
venue reports decides exactly as paper: `tests/test_kernel_venue.py`), so the two runs
can only part through the venue's answers: each order's fill (when, how many tokens,
how many lamports, what fees) or its rejection. The comparison finds the first decision
that differs and the first venue answer that differs, and calls the difference
explained when the answer came first.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import numpy as np

from data.store import EventStore
from data.wal import WalBatch
from engine.events import InputKind, Reason
from replay.live.run import (
    LiveRun,
    LiveSettings,
    recorded_batches,
    replay_batches,
    run_external_venue,
    run_strategy,
)

_Report = tuple[int, int, int, int, float, float, int]
"""kind, mint id, order id, tokens, lamports, fees, reject reason: one venue answer."""

VENUE_KINDS = (int(InputKind.VENUE_FILL), int(InputKind.VENUE_REJECT), int(InputKind.VENUE_ADJUST))
"""The inputs that are the venue's answers, not the market's."""

_DECISION_KEY = ("ts_ns", "mint_id", "action_name", "reason_name")


def market_batches(store: EventStore, run_id: str) -> Iterator[WalBatch]:
    """A run's recorded input batches without the venue's answers (empty ones dropped).

    The wallet's SOL at start (a cash adjustment, mint -1) stays: it is where the run
    started, not an answer to an order, and a twin with other cash could size otherwise.
    """
    for rec in recorded_batches(store, run_id):
        kind = rec.inputs["kind"]
        cash = (kind == int(InputKind.VENUE_ADJUST)) & (rec.inputs["mint"] == -1)
        keep = ~np.isin(kind, VENUE_KINDS) | cash
        if keep.all():
            yield rec
        elif keep.any():
            yield replace(rec, inputs={k: v[keep] for k, v in rec.inputs.items()})


def run_paper_twin(store: EventStore, live_run: str, twin_id: str | None = None) -> str:
    """Replay `live_run`'s market inputs on the simulated venue; the twin's run id."""
    strat = run_strategy(store, live_run)
    if strat is None:
        raise ValueError(f"no run {live_run!r} in this store")
    if not run_external_venue(store, live_run):
        raise ValueError(
            f"run {live_run!r} did not trade on an external venue: it is its own paper run "
            "(clanka verify parity checks it against a replay)"
        )
    rid = twin_id or f"{live_run[:40]}-paper-{secrets.token_hex(3)}"
    twin = LiveRun(store, rid, strat, LiveSettings(), mode="replay", replaying=True)
    replay_batches(twin, market_batches(store, live_run))
    store.refresh()
    return rid


def _twin_answers_as_reports(store: EventStore, twin_run: str) -> dict[int, list[_Report]]:
    """The twin's fills and rejects as a live venue would report them, by input.

    Keyed by the input they happened at: lamports into (or out of) the swap net of the
    DEX fee, the DEX fee counted with the network fees (`InputKind.VENUE_FILL`).
    """
    at: dict[int, list[_Report]] = {}
    for in_seq, mint_id, oid, side, qty, sol, fee, netfee in store.con.execute(
        "SELECT in_seq, mint_id, order_id, side, qty, sol, fee, network_fee FROM fills "
        "WHERE source = ? ORDER BY run_seq",
        [twin_run],
    ).fetchall():
        lamports = sol - fee if side == 1 else sol
        costs = netfee + fee if side == 1 else netfee
        at.setdefault(int(in_seq), []).append(
            (
                int(InputKind.VENUE_FILL),
                int(mint_id),
                int(oid),
                int(qty),
                float(lamports),
                float(costs),
                0,
            )
        )
    for in_seq, mint_id, oid in store.con.execute(
        "SELECT in_seq, mint_id, order_id FROM rejects WHERE source = ? ORDER BY run_seq",
        [twin_run],
    ).fetchall():
        at.setdefault(int(in_seq), []).append(
            (
                int(InputKind.VENUE_REJECT),
                int(mint_id),
                int(oid),
                0,
                0.0,
                0.0,
                int(Reason.REJECT_VENUE),
            )
        )
    return at


def run_answer_swap(store: EventStore, live_run: str, twin_run: str, swap_id: str) -> str:
    """The live program on the live run's market inputs, answered by the twin's venue.

    Each twin fill or reject is reported just before the input it happened at. Its
    decisions must be the twin's, one for one; then every way the live run differs from
    its twin comes from the venue's answers and nothing else.
    """
    strat = run_strategy(store, live_run)
    if strat is None:
        raise ValueError(f"no run {live_run!r} in this store")
    answers = _twin_answers_as_reports(store, twin_run)
    swap = LiveRun(store, swap_id, strat, LiveSettings(), mode="replay", replaying=True,
                   external_venue=True)  # fmt: skip
    replay_batches(swap, (_answered(rec, answers) for rec in market_batches(store, live_run)))
    store.refresh()
    return swap_id


def _answered(rec: WalBatch, answers: dict[int, list[_Report]]) -> WalBatch:
    """`rec` with each answer inserted just before the input (by seq) it happened at."""
    cols = rec.inputs
    at = [(i, a) for i, seq in enumerate(cols["seq"].tolist()) for a in answers.get(seq, [])]
    if not at:
        return rec
    where = [i for i, _ in at]
    given = {
        "kind": [a[0] for _, a in at], "mint": [a[1] for _, a in at],
        "sig_value": [float(a[2]) for _, a in at], "size": [a[3] for _, a in at],
        "price": [a[4] for _, a in at], "liq": [a[5] for _, a in at],
        "sig_kind": [a[6] for _, a in at], "uid": [-a[2] for _, a in at],
        "chain_ts": [0] * len(at),
    }  # fmt: skip
    # The answer takes the time, seq and receipt of the input it precedes.
    inputs = {
        k: np.insert(v, where, np.asarray(given[k], v.dtype) if k in given else v[where])
        for k, v in cols.items()
    }
    return replace(rec, inputs=inputs)


def _decisions(store: EventStore, run: str) -> list[dict[str, Any]]:
    rel = store.con.execute(
        "SELECT ts_ns, mint_id, mint, action_name, reason_name, order_id FROM ("
        "SELECT d.*, o.order_id FROM decisions d LEFT JOIN orders o "
        "ON o.source = d.source AND o.decision_id = d.decision_id) "
        "WHERE source = ? ORDER BY run_seq",
        [run],
    )
    cols = [c[0] for c in rel.description]
    return [dict(zip(cols, r, strict=True)) for r in rel.fetchall()]


def _answers(store: EventStore, run: str) -> dict[int, dict[str, Any]]:
    """Each order's answer: its fill (time, tokens, lamports, fees) or its rejection."""
    out: dict[int, dict[str, Any]] = {}
    for oid, ts, mint, side, qty, sol, fees in store.con.execute(
        "SELECT order_id, ts_ns, mint, side, qty, sol, fee + network_fee FROM fills "
        "WHERE source = ? ORDER BY run_seq",
        [run],
    ).fetchall():
        out[int(oid)] = {"order_id": int(oid), "outcome": "filled", "ts_ns": int(ts),
                         "mint": mint, "side": "buy" if side == 1 else "sell",
                         "tokens": int(qty), "lamports": int(sol), "fees": int(fees)}  # fmt: skip
    for oid, ts, mint, side, reason in store.con.execute(
        "SELECT order_id, ts_ns, mint, side, reason_name FROM rejects WHERE source = ? "
        "ORDER BY run_seq",
        [run],
    ).fetchall():
        out.setdefault(int(oid), {"order_id": int(oid), "outcome": f"rejected: {reason}",
                                  "ts_ns": int(ts), "mint": mint,
                                  "side": "buy" if side == 1 else "sell",
                                  "tokens": 0, "lamports": 0, "fees": 0})  # fmt: skip
    return out


def _same_answer(a: dict[str, Any], b: dict[str, Any]) -> bool:
    keys = ("outcome", "ts_ns", "tokens", "lamports", "fees")
    return all(a[k] == b[k] for k in keys)


def compare_to_twin(store: EventStore, live_run: str, twin_run: str) -> dict[str, Any]:
    """Decisions side by side, and the venue answers that differ.

    Also whether the first difference in decisions came after (so from) the first
    difference in answers.
    """
    live, twin = _decisions(store, live_run), _decisions(store, twin_run)
    same = 0
    for dl, dp in zip(live, twin, strict=False):
        if any(dl[k] != dp[k] for k in _DECISION_KEY):
            break
        same += 1
    first: dict[str, Any] | None = None
    if same < max(len(live), len(twin)):
        first = {"index": same, "live": live[same] if same < len(live) else None,
                 "paper": twin[same] if same < len(twin) else None}  # fmt: skip
    # Orders are numbered alike while the decisions agree: compare those orders' answers.
    shared_orders = [d["order_id"] for d in live[:same] if d["order_id"] is not None]
    got_live, got_twin = _answers(store, live_run), _answers(store, twin_run)
    answers: list[dict[str, Any]] = []
    for oid in shared_orders:
        a, b = got_live.get(int(oid)), got_twin.get(int(oid))
        if a is None and b is None:
            continue
        alike = a is not None and b is not None and _same_answer(a, b)
        answers.append({"order_id": int(oid), "live": a, "paper": b, "same": alike})
    differing = [x for x in answers if not x["same"]]

    def answered_at(x: dict[str, Any]) -> int:
        return min(int(y["ts_ns"]) for y in (x["live"], x["paper"]) if y is not None)

    first_answer = min(differing, key=answered_at) if differing else None
    if first is None:
        explained = True
    else:
        parted = min(int(d["ts_ns"]) for d in (first["live"], first["paper"]) if d is not None)
        explained = first_answer is not None and answered_at(first_answer) <= parted
    return {
        "live_run": live_run,
        "paper_run": twin_run,
        "live_decisions": len(live),
        "paper_decisions": len(twin),
        "same_decisions_before_parting": same,
        "first_difference": first,
        "orders_compared": len(answers),
        "answers_differing": len(differing),
        "first_answer_difference": first_answer,
        "explained_by_venue": explained,
        "answers": answers,
    }
