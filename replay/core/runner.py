"""Replay: stream a store's ticks and signals through the kernel and log what it did.

Input order is `(ts_ns, kind, seq)` with signals before ticks at the same instant, so
a decision at time t sees every signal stamped t. The store is read chunk by chunk
(bounded memory); each chunk is merged with the signals up to its last timestamp and
handed to the same `Kernel` paper and live mode use. Every emitted event is appended
under a new run id in one transaction, with a `runs` row holding the report.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from typing import Any

import numpy as np

from data import interrupts
from data.controls import (
    ControlInput,
    ControlRecord,
    control_input,
    control_records,
    strategist_requests,
)
from data.store import EventStore
from engine.controls import ADAPTATION_CONTROL_SEQ0, strategist_in_seq
from engine.events import InputKind, OutKind
from engine.kernel import Kernel, KernelInput, as_input, frozen
from engine.layout import (
    G_CASH,
    MF_LAST_PRICE,
    MF_SCALE,
    N_OUT_F,
    N_OUT_I,
    O_KIND,
    PI_ACTIVE,
    PI_COST,
    PI_MINT,
    PI_PROCEEDS,
    PI_QTY,
    KernelState,
)
from engine.params import LAMPORTS_PER_SOL, P
from replay.core.merge_nb import merge_streams_nb
from replay.core.run_events import split_families
from replay.core.scheduler import Scheduler, control_batch
from replay.report.controls import applied_controls
from replay.report.metrics import build_report
from strategies.config import StrategyConfig
from strategies.learning.learner import Learner
from strategies.learning.settings import LearningSettings
from strategies.strategist.calls import Call, Strategist, calls_table, summary

LOG = logging.getLogger("clanka.replay")
Progress = Callable[[int], None]
"""Receives the number of input ticks processed so far."""

HASHED_KINDS = (OutKind.DECIDED, OutKind.ORDER_PLACED, OutKind.ORDER_FILLED)


@dataclass
class RunResult:
    """A finished replay: its id, inputs, outputs and report."""

    run_id: str
    ticks: int
    out_i: np.ndarray
    out_f: np.ndarray
    kernel: Kernel
    events_sha256: str
    report: dict[str, Any]
    calls: list[Call]
    """The strategist's calls (empty when it was off)."""
    learner: Learner | None = None
    """The learning loop's state and events (None when it was off)."""


def events_sha256(out_i: np.ndarray, out_f: np.ndarray) -> str:
    """SHA-256 of the decision, order and fill rows, in the order the kernel emitted them."""
    keep = np.isin(out_i[:, O_KIND], [int(k) for k in HASHED_KINDS])
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(out_i[keep]).tobytes())
    h.update(np.ascontiguousarray(out_f[keep]).tobytes())
    return h.hexdigest()


def input_batches(
    store: EventStore,
    start_ts: int | None,
    end_ts: int | None,
    mint_ids: Sequence[int] | None,
    controls: list[ControlRecord] | None = None,
) -> Iterator[KernelInput]:
    """Merged control + signal + tick input in `(ts, kind, seq)` order, chunk by chunk.

    At one instant controls come first (they steer what follows), then signals, then
    ticks, so a decision at time t sees every change and signal stamped t. `in_seq`
    carries the tick's store seq (signals and controls: -1 - their seq), so any
    decision can be traced back to the exact input event that caused it. The controls
    (`data.controls.control_records` of the range, read here unless the caller already
    has them) are few and read before the first batch; the rest is streamed.
    """
    if controls is None:
        controls = control_records(store, start_ts, end_ts)
    return _batches(store, start_ts, end_ts, mint_ids, control_input(controls))


_SIDE_KEYS = ("ts_ns", "seq", "mint_id", "kind", "value", "in_kind", "size")


def _batches(
    store: EventStore,
    start_ts: int | None,
    end_ts: int | None,
    mint_ids: Sequence[int] | None,
    controls: ControlInput,
) -> Iterator[KernelInput]:
    ctl: dict[str, np.ndarray] = {
        "ts_ns": controls.ts_ns, "seq": controls.seq,
        "mint_id": np.full(len(controls), -1, np.int64), "kind": controls.sig_kind,
        "value": controls.sig_value, "in_kind": controls.kind, "size": controls.size,
    }  # fmt: skip
    # Controls (emergency stop, breaker reset) are signals for no mint (-1): a replay
    # of some mints still sees them.
    sig_iter = store.scan(
        "signals", ["mint_id", "kind", "value"], start_ts=start_ts, end_ts=end_ts,
        mint_ids=None if mint_ids is None else [*mint_ids, -1],
    )  # fmt: skip
    buf: dict[str, np.ndarray] = {k: v[:0] for k, v in _signal_side({
        "ts_ns": np.zeros(0, np.int64), "seq": np.zeros(0, np.int64),
        "mint_id": np.zeros(0, np.int32), "kind": np.zeros(0, np.int16), "value": np.zeros(0),
    }).items()}  # fmt: skip
    sig_done = False

    def signals_upto(ts: int) -> dict[str, np.ndarray]:
        """Pop buffered signals and controls with ts_ns <= ts, reading more as needed."""
        nonlocal buf, sig_done, ctl
        while not sig_done and (len(buf["ts_ns"]) == 0 or buf["ts_ns"][-1] <= ts):
            nxt = next(sig_iter, None)
            if nxt is None:
                sig_done = True
            else:
                more = _signal_side(nxt)
                buf = {k: np.concatenate([buf[k], more[k]]) for k in buf}
        cut = int(np.searchsorted(buf["ts_ns"], ts, side="right"))
        head = {k: v[:cut] for k, v in buf.items()}
        buf = {k: v[cut:] for k, v in buf.items()}
        c_cut = int(np.searchsorted(ctl["ts_ns"], ts, side="right"))
        if c_cut == 0:
            return head
        c_head = {k: v[:c_cut] for k, v in ctl.items()}
        ctl = {k: v[c_cut:] for k, v in ctl.items()}
        both = {k: np.concatenate([c_head[k], head[k]]) for k in _SIDE_KEYS}
        # Stable: by time, controls before signals at one instant, each in its order.
        order = np.argsort(both["ts_ns"], kind="stable")
        return {k: v[order] for k, v in both.items()}

    cols = ["mint_id", "price", "size", "liquidity"]
    for chunk in store.scan("ticks", cols, start_ts=start_ts, end_ts=end_ts, mint_ids=mint_ids):
        yield _merge(chunk, signals_upto(int(chunk["ts_ns"][-1])))
    rest = signals_upto(np.iinfo(np.int64).max)
    if len(rest["ts_ns"]):
        yield _merge(None, rest)


def _signal_side(chunk: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A signals chunk with the columns the control rows also have."""
    n = len(chunk["ts_ns"])
    return {
        "ts_ns": chunk["ts_ns"], "seq": chunk["seq"],
        "mint_id": chunk["mint_id"].astype(np.int64), "kind": chunk["kind"].astype(np.int64),
        "value": chunk["value"], "in_kind": np.full(n, int(InputKind.SIGNAL), np.int64),
        "size": np.zeros(n, np.int64),
    }  # fmt: skip


def coalesce(batches: Iterator[KernelInput], min_events: int) -> Iterator[KernelInput]:
    """The same events in batches of at least `min_events` (the last may be shorter).

    A store of small segments (a day of 1-minute bars is 2,880 ticks) yields small
    batches, and every batch costs a fixed toll downstream: a sweep hands each to its
    threads and waits for all of them. The kernels give the same events however the
    input is cut, so joining batches changes only that toll.
    """

    def joined(held: list[KernelInput]) -> KernelInput:
        if len(held) == 1:
            return held[0]
        return KernelInput(*(np.concatenate(cols) for cols in zip(*held, strict=True)))

    held: list[KernelInput] = []
    n = 0
    for b in batches:
        held.append(b)
        n += len(b)
        if n >= min_events:
            yield joined(held)
            held, n = [], 0
    if held:
        yield joined(held)


def prefetch(batches: Iterator[KernelInput], depth: int = 2) -> Generator[KernelInput, None, None]:
    """Produce batches on a background thread, `depth` ahead of the consumer.

    Parquet decoding and the merge release the GIL, and so does the kernel (nogil), so
    reading the next chunk overlaps with processing this one. Order is unchanged.
    """
    q: queue.Queue[tuple[str, object]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for b in batches:
                while not stop.is_set():
                    try:
                        q.put(("batch", b), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(("done", None))
        except BaseException as exc:  # handed to the consumer, which re-raises it
            q.put(("error", exc))

    worker = threading.Thread(target=produce, name="replay-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            kind, item = q.get()
            if kind == "done":
                return
            if kind == "error":
                assert isinstance(item, BaseException)
                raise item
            assert isinstance(item, KernelInput)
            yield item
    finally:
        stop.set()
        worker.join(timeout=5)


def _merge(ticks: dict[str, np.ndarray] | None, sig: dict[str, np.ndarray]) -> KernelInput:
    n_t = 0 if ticks is None else len(ticks["ts_ns"])
    n_s = len(sig["ts_ns"])
    if n_s == 0 and ticks is not None:
        return as_input(
            kind=np.zeros(n_t, np.int8), ts=ticks["ts_ns"], seq=ticks["seq"],
            mint=ticks["mint_id"], price=ticks["price"], size=ticks["size"],
            liq=ticks["liquidity"],
        )  # fmt: skip
    e_i = np.zeros(0, np.int64)
    e_f = np.zeros(0)
    t = ticks or {"ts_ns": e_i, "seq": e_i, "mint_id": e_i, "price": e_f, "size": e_i,
                  "liquidity": e_f}  # fmt: skip
    n = n_t + n_s
    out = KernelInput(
        kind=np.empty(n, np.int8), ts=np.empty(n, np.int64), seq=np.empty(n, np.int64),
        mint=np.empty(n, np.int64), price=np.empty(n), size=np.empty(n, np.int64),
        liq=np.empty(n), sig_kind=np.empty(n, np.int64), sig_value=np.empty(n),
    )  # fmt: skip
    f = frozen  # one compiled merge, whatever memory the columns are in
    merge_streams_nb(
        f(t["ts_ns"]), f(t["seq"]), f(t["mint_id"].astype(np.int64)), f(t["price"]),
        f(t["size"]), f(t["liquidity"]), f(sig["ts_ns"]), f(sig["seq"]), f(sig["mint_id"]),
        f(sig["kind"]), f(sig["value"]), f(sig["in_kind"]), f(sig["size"]), *out,
    )  # fmt: skip
    return out


def run_replay(
    store: EventStore,
    strategy: StrategyConfig,
    params: np.ndarray,
    *,
    start_ts: int | None = None,
    end_ts: int | None = None,
    mint_ids: Sequence[int] | None = None,
    progress: Progress | None = None,
    write: bool = True,
    strategist: Strategist | None = None,
    learning: LearningSettings | None = None,
    finish_learning: bool = True,
    freeze_learning_at: int | None = None,
) -> RunResult:
    """Replay the store (or a time range / mint subset) and log every event it emits.

    With a `strategist` or `learning` (mode observe or on), the scheduler stops the
    kernel at each of their due times and feeds what they change back as control rows
    (replay.core.scheduler). `finish_learning` false leaves the reviews not yet due
    unreviewed (a look at the state as of the range's end, not the run's close);
    `freeze_learning_at` makes the learning loop only observe from that time on.
    """
    registry = store.mints()
    scales = registry.scales()
    kernel = Kernel(params, strategy.conditions, scales)
    cash0 = int(kernel.state.glob[G_CASH])
    outs_i: list[np.ndarray] = [np.zeros((0, N_OUT_I), np.int64)]
    outs_f: list[np.ndarray] = [np.zeros((0, N_OUT_F))]
    ticks = 0
    loop = None
    learner = None
    if strategist is not None or (learning is not None and learning.mode != "off"):
        names = mint_names(store)

        def history() -> tuple[np.ndarray, np.ndarray]:
            return np.concatenate(outs_i), np.concatenate(outs_f)

        if learning is not None and learning.mode != "off":
            learner = new_learner(learning, kernel, names)
            learner.freeze_at = freeze_learning_at
        loop = Scheduler(strategist, kernel, names, history, learner=learner)
    controls = control_records(store, start_ts, end_ts)  # read once: kernel rows, requests
    if loop is not None:
        for t in strategist_requests(controls):
            loop.request(t)

    def run(batch: KernelInput) -> None:
        bi, bf = kernel.run_all(batch)
        outs_i.append(bi)
        outs_f.append(bf)
        if learner is not None:
            b = batch
            learner.see(b.kind, b.ts, b.mint, b.price, b.liq, b.sig_kind, b.sig_value, bi, bf)

    # Closed explicitly: a stop raised in the loop then joins the reader thread at once,
    # not whenever the generator is collected (where a second Ctrl-C would be lost).
    batches_in = input_batches(store, start_ts, end_ts, mint_ids, controls)
    with closing(prefetch(batches_in)) as batches:
        for batch in batches:
            interrupts.check()  # between batches: a stop discards the run whole
            if loop is None:
                run(batch)
            else:
                loop.feed(batch.ts, lambda lo, hi, b=batch: run(b.slice(lo, hi)),  # type: ignore[misc]
                          lambda ts, seq, rows: run(control_batch(ts, seq, rows)))  # fmt: skip
            ticks += int(np.count_nonzero(batch.kind == InputKind.TICK))
            if progress:
                progress(ticks)
    calls: list[Call] = []
    if loop is not None:
        loop.close(finish_learning=finish_learning)
        calls = loop.calls
    out_i = np.concatenate(outs_i)
    out_f = np.concatenate(outs_f)
    digest = events_sha256(out_i, out_f)
    open_pos = open_unrealized_lamports(kernel.state)
    points = kernel.curve()
    equity_curve = [(ts, cash + held) for ts, cash, held in points]
    report = build_report(out_i, out_f, ticks, equity_curve, open_pos, cash0)
    report["controls"] = applied_controls(store, out_i, out_f,
                                          own_controls(calls, learner))  # fmt: skip
    if strategist is not None:
        report["strategist"] = summary(calls, strategist.settings, strategist.host)
        missing = report["strategist"]["missing"]
        if missing:
            LOG.warning(
                "%d strategist prompt(s) had no recorded answer; nothing was invented for "
                "them (replay once with --strategist live)", missing,
            )  # fmt: skip
    if learner is not None:
        report["learning"] = learner.report()
    for c in report["controls"]:
        if c["status"] != "applied":
            LOG.warning("%s UTC: control refused (%s): %s; nothing changed", c["time"],
                        c["refusal"], c["change"])  # fmt: skip
    run_id = _new_run_id(digest)
    report["run_id"] = run_id
    report["events_sha256"] = digest
    if write:
        _write_run(store, run_id, strategy, params, start_ts, end_ts, mint_ids, cash0, ticks,
                   digest, report, out_i, out_f, points, calls, learner)  # fmt: skip
    return RunResult(run_id, ticks, out_i, out_f, kernel, digest, report, calls, learner)


def new_learner(settings: LearningSettings, kernel: Kernel, names: Callable[[int], str]) -> Learner:
    """A learning loop reading this kernel's mints and parameters."""
    return Learner(settings, lambda m: float(kernel.state.mint_f[m, MF_SCALE]),
                   lambda: kernel.params, names)  # fmt: skip


def mint_names(store: EventStore) -> Callable[[int], str]:
    """Mint id -> its symbol, else its address (what a prompt or a report calls it)."""
    recs = {r.mint_id: (r.symbol or r.mint) for r in store.mints().records()}
    return lambda m: recs.get(m, f"mint {m}")


def strategist_calls(calls: Sequence[Call]) -> dict[int, tuple[str, str, str]]:
    """control_seq -> (requested_by, reason, conditions text) of accepted strategist calls."""
    out = {}
    for c in calls:
        if c.changes:
            seq = -1 - strategist_in_seq(c.call_no)
            text = str(c.verdict.conditions) if c.verdict and c.verdict.conditions else ""
            out[seq] = ("strategist", c.note, text)
    return out


def own_controls(calls: Sequence[Call], learner: Learner | None) -> dict[int, tuple[str, str, str]]:
    """control_seq -> (requested_by, reason, text) of the controls a run made itself."""
    out = strategist_calls(calls)
    for a in learner.adaptations if learner is not None else []:
        if a["status"] == "sent":
            out[ADAPTATION_CONTROL_SEQ0 + a["adaptation_no"]] = ("adaptation", a["reason"], "")
    return out


def open_unrealized_lamports(st: KernelState) -> list[float]:
    """Each open position's unrealized PnL in lamports.

    Marked at the last price, plus what its partial exits returned, minus its cost.
    """
    out = []
    for s in np.flatnonzero(st.pos_i[:, PI_ACTIVE] == 1):
        m = int(st.pos_i[s, PI_MINT])
        value = st.pos_i[s, PI_QTY] / st.mint_f[m, MF_SCALE] * st.mint_f[m, MF_LAST_PRICE]
        out.append(value * LAMPORTS_PER_SOL + st.pos_i[s, PI_PROCEEDS] - st.pos_i[s, PI_COST])
    return out


def _new_run_id(digest: str) -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    return f"run-{stamp}-{time.time_ns() % 1_000_000:06d}-{digest[:8]}"


def _write_run(
    store: EventStore,
    run_id: str,
    strategy: StrategyConfig,
    params: np.ndarray,
    start_ts: int | None,
    end_ts: int | None,
    mint_ids: Sequence[int] | None,
    cash0: int,
    ticks: int,
    digest: str,
    report: dict[str, Any],
    out_i: np.ndarray,
    out_f: np.ndarray,
    curve: list[tuple[int, float, float]],
    calls: Sequence[Call] = (),
    learner: Learner | None = None,
) -> None:
    with store.transaction() as tx:
        if calls:
            tx.append("strategist", calls_table(calls), source=run_id)
        if learner is not None:
            for fam, t in learner.tables().items():
                tx.append(fam, t, source=run_id)
        for family, table in split_families(out_i, out_f).items():
            if table.num_rows:
                tx.append(family, table, source=run_id)
        if curve:
            ts, cash, held = (np.array(c) for c in zip(*curve, strict=True))
            tx.append(
                "equity",
                {
                    "ts_ns": ts.astype(np.int64),
                    "run_seq": np.arange(len(ts), dtype=np.int64),
                    "mint_id": np.full(len(ts), -1, np.int32),
                    "cash_sol": cash,
                    "positions_sol": held,
                    "equity_sol": cash + held,
                },
                source=run_id,
            )
        tx.append(
            "runs",
            {
                "ts_ns": [time.time_ns()],
                "run_id": [run_id],
                "strategy": [strategy.name],
                "conditions": [str(strategy.conditions)],
                "params_json": [json.dumps({p.name.lower(): float(params[p]) for p in P})],
                "start_ts": [start_ts],
                "end_ts": [end_ts],
                "mints_json": [json.dumps(list(mint_ids) if mint_ids is not None else None)],
                "initial_cash": [cash0],
                "ticks": [ticks],
                "events_sha256": [digest],
                "report_json": [json.dumps(report, default=str)],
            },
        )


def count_ticks(
    st: EventStore, start: int | None, end: int | None, mint_ids: Sequence[int] | None
) -> int:
    """Ticks a replay of this range and these mints will process (for progress bars)."""
    where = ["true"]
    params: dict[str, object] = {}
    if start is not None:
        where.append("ts_ns >= $start")
        params["start"] = start
    if end is not None:
        where.append("ts_ns < $end")
        params["end"] = end
    if mint_ids is not None:
        where.append("list_contains($mints, mint_id)")
        params["mints"] = list(mint_ids)
    sql = f"SELECT count(*) FROM ticks WHERE {' AND '.join(where)}"  # noqa: S608
    return int(st.con.sql(sql, params=params).fetchall()[0][0])
