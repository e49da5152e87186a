"""A live run: micro-batches through the kernel, a write-ahead log, Parquet, recovery.

`LiveRun` owns one run's kernel and log. Each call to `process` hands the kernel one
batch of inputs (feed ticks and wall-clock heartbeats), appends the batch with all its
outputs to the write-ahead log, fsyncs the log every `flush_ms` or `flush_events`
outputs (that is when a batch is acknowledged), and every `roll_s` rolls acknowledged
batches into Parquet in one store transaction (`feed_inputs`, the run families,
`equity`, `quarantine`, `feed_gaps`, `live_batches`), then starts a fresh log file.

Opening a run id that already has a log or Parquet rows recovers it: batches the log
holds but Parquet lacks are rolled, a torn last record is cut off, and the kernel state
(positions, cash, pending orders, breaker counters, features) is rebuilt by running the
run's own inputs through a fresh kernel, whose outputs must equal the logged ones event
for event, or the run refuses to continue. Paper mode is this plus the live feed
(replay/live/paper.py); `--mode replay --inputs-of RUN` is this plus the recorded inputs.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, Field

from data.controls import STRATEGIST_REQUEST, ControlRecord, control_input, control_records
from data.errors import StoreError
from data.feed.pumpfun import TOKEN_DECIMALS
from data.feed.wire import FeedGap, FeedProblem, FeedTick
from data.locks import RunLock, read_only_error
from data.mints import MintRecord, mint_label
from data.schemas import FAMILIES
from data.store import EventStore
from data.wal import INPUT_COLUMNS, ROW, WalBatch, WalWriter, input_block, read_log, truncate_torn
from engine.controls import ADAPTATION_CONTROL_SEQ0, ControlRow
from engine.events import InputKind, OutKind, Reason
from engine.kernel import Kernel, KernelInput, as_input
from engine.layout import (
    N_OUT_F,
    N_OUT_I,
    O_ACTION,
    O_KIND,
    O_MINT,
    O_REASON,
    O_SOL,
    O_TS,
    OF_OUT_CONF,
    OF_PRICE,
    PI_ACTIVE,
)
from engine.params import LAMPORTS_PER_SOL, P
from replay.core.progress_fd import ProgressFd
from replay.core.run_events import split_families
from replay.core.runner import (
    events_sha256,
    new_learner,
    open_unrealized_lamports,
    own_controls,
)
from replay.core.scheduler import Scheduler
from replay.live.latency import Latencies
from replay.live.roll_inputs import RollInputs
from replay.report.controls import applied_controls
from replay.report.event_log import log_events
from replay.report.metrics import build_report
from replay.venue.reports import VenueReport
from strategies.config import StrategyConfig
from strategies.learning.records import LEARNING_FAMILIES
from strategies.learning.records import table as learning_table
from strategies.learning.settings import LearningSettings
from strategies.strategist.calls import Call, Strategist, calls_table, summary

RUN_LOG = logging.getLogger("clanka.run")
FEED_LOG = logging.getLogger("clanka.feed")
_TICK = int(InputKind.TICK)
_FIRST_CONTROL_KIND = int(InputKind.PARAM)
"""Input kinds from here on (PARAM, CONDITIONS, CONDITION) are controls."""
_HEARTBEAT = int(InputKind.HEARTBEAT)
_VENUE_FILL = int(InputKind.VENUE_FILL)
_VENUE_REJECT = int(InputKind.VENUE_REJECT)
_VENUE_ADJUST = int(InputKind.VENUE_ADJUST)
COMPARED_FAMILIES = ("decisions", "orders", "fills", "positions", "risk", "params")
"""The run families parity and recovery compare event by event."""


class LiveSettings(BaseModel):
    """How a live run batches, logs and rolls (the `[live]` table of a config file)."""

    model_config = {"extra": "forbid"}

    heartbeat_ms: int = Field(default=1000, gt=0)
    """A heartbeat input carries wall time this often, so time stops fire without ticks."""
    flush_ms: float = Field(default=5.0, ge=0)
    """Longest time an appended batch waits for its fsync (its acknowledgement)."""
    flush_events: int = Field(default=256, gt=0)
    """Outputs after which the log is fsynced at once."""
    roll_s: float = Field(default=2.0, gt=0)
    """How often acknowledged batches move from the log into Parquet."""
    max_batch: int = Field(default=4096, gt=0)
    """Most feed items one kernel call takes."""
    control_poll_ms: int = Field(default=1000, gt=0)
    """How often the run looks for new controls in the store (and at its strategy file)."""
    clock: Literal["wall", "chain"] = "wall"
    """The kernel's time: 'wall' (when a frame was received; real feeds) or 'chain' (the
    trades' own on-chain timestamps, 1 s resolution; for a recorded feed served faster
    than real time, so a 5-minute feature means 5 market minutes at any speed). With
    'chain', heartbeats and curve updates carry the latest chain time seen, and nothing
    is processed before the first trade brings one."""


class ParityError(RuntimeError):
    """A run's log and a re-run of its inputs disagree (see `first_difference`)."""


@dataclass
class LiveStats:
    """Counters and timings the status view and the shutdown report show."""

    batches: int = 0
    inputs: int = 0
    ticks: int = 0
    heartbeats: int = 0
    problems: int = 0
    gaps: int = 0
    latencies_ns: Latencies = field(default_factory=Latencies)
    """Frame receipt (earliest in the batch) to the batch appended to the log."""
    message_ns: Latencies = field(default_factory=Latencies)
    """Each frame's receipt to its batch appended: what every message waited, frames
    that queued behind a slow batch included (a batch counts once above)."""
    durable_ns: Latencies = field(default_factory=Latencies)
    """Frame receipt to the batch's fsync."""
    queued_ns: Latencies = field(default_factory=Latencies)
    """Frame receipt to the loop taking the batch (parse, decode, event-loop hops)."""
    engine_ns: Latencies = field(default_factory=Latencies)
    """Batch taken to batch appended (arrays, kernel, log write)."""
    recent: list[tuple[int, int, int, int, float]] = field(default_factory=list)
    """The latest decisions (at most 10): time, mint id, action, reason, confidence."""


def _control_cols(
    ts: np.ndarray,
    seq: np.ndarray,
    kind: np.ndarray,
    size: np.ndarray,
    sig_kind: np.ndarray,
    sig_value: np.ndarray,
) -> dict[str, np.ndarray]:
    """A batch of control rows (for no mint, no price) in the log's input columns."""
    n = len(ts)
    zeros = np.zeros(n, np.int64)
    return {
        "kind": kind, "ts": ts, "seq": seq, "mint": np.full(n, -1, np.int64),
        "price": np.zeros(n), "size": size, "liq": np.full(n, np.nan), "sig_kind": sig_kind,
        "sig_value": sig_value, "chain_ts": zeros, "recv_ns": np.full(n, -1, np.int64),
        "uid": zeros,
    }  # fmt: skip


_TICK_INT_ROWS = [ROW["recv_ns"], ROW["mint"], ROW["size"], ROW["chain_ts"], ROW["uid"]]
"""Rows a feed tick fills from its integer fields (in this order)."""
_TICK_FLOAT_ROWS = [ROW["price"], ROW["liq"]]


def _empty_inputs() -> dict[str, np.ndarray]:
    return {name: np.zeros(0, dt) for name, dt in INPUT_COLUMNS}


class LiveRun:
    """One live run's kernel, write-ahead log and rolls into the store."""

    def __init__(
        self,
        store: EventStore,
        run_id: str,
        strategy: StrategyConfig,
        settings: LiveSettings,
        *,
        mode: str,
        now_ns: Any = time.time_ns,
        write: bool = True,
        strategist: Strategist | None = None,
        replaying: bool = False,
        external_venue: bool = False,
    ) -> None:
        self.store = store
        self.external_venue = external_venue
        """Live mode: orders are filled by the venue adapter's reports, not simulated."""
        self.run_id = run_id
        self.strategy = strategy
        self.params = strategy.vector()
        self.settings = settings
        self.mode = mode
        self.now_ns = now_ns
        self.write = write
        self.stats = LiveStats()
        self.addresses: dict[str, int] = {}
        self.by_id: dict[int, str] = {}
        self.symbols: dict[int, str | None] = {}
        self.scales: dict[int, float] = {}
        self.n_known = 0
        self._load_registry()
        self._fresh: list[list[Any]] = []
        """[id, address, decimals, ts] of mints given ids since the last batch was logged."""
        self.watchers: list[Callable[[np.ndarray, np.ndarray, dict[str, Any]], None]] = []
        """Called with each new batch's outputs and extras (alerts); never on recovery."""
        self.kernel = Kernel(self.params, strategy.conditions, store.mints().scales(),
                             external_venue=external_venue)  # fmt: skip
        self.cash0 = round(self.params[P.INITIAL_CASH_SOL] * LAMPORTS_PER_SOL)
        self.batch_no = 0
        self.in_seq = 0
        self.run_seq = 0
        self.last_ts = 0
        self.outs_i: list[np.ndarray] = []
        self.outs_f: list[np.ndarray] = []
        self.pending: list[WalBatch] = []
        """Batches logged since the last roll."""
        self._roll_inputs = RollInputs()
        """The pending batches' inputs and `live_batches` rows, gathered as they are logged."""
        self.unsynced_outputs = 0
        self.last_sync_ns = 0
        self.last_roll_ns: int = int(now_ns())
        self.wal_dir = store.root / "_wal" / run_id
        self.wal: WalWriter | None = None
        self.recovered_batches = 0
        self.last_recv_ns = -1
        self._early: list[FeedTick] = []
        """On chain time, curve updates received before the first trade's time."""
        self._taken_ns = 0
        self.started_ns = int(now_ns())
        self._controls_stamp = -1
        self.applied_controls: set[int] = set()
        """`controls` seqs this run has fed its kernel (recovered from its inputs)."""
        self._lock: RunLock | None = None
        self._roller: ThreadPoolExecutor | None = None
        self._rolls: list[Future[None]] = []
        """Background rolls submitted and not yet seen done, oldest first."""
        self._roll_failed: BaseException | None = None
        self.progress = ProgressFd()
        self.strategist = strategist
        learning = strategy.learning
        self.learner = new_learner(learning, self.kernel, self._name) \
            if learning.mode != "off" else None  # fmt: skip
        self._learning_sent = dict.fromkeys(LEARNING_FAMILIES, 0)
        """Rows of each learning family already handed to the log."""
        self.loop: Scheduler | None = None
        if strategist is not None or self.learner is not None:
            # The model is asked on a worker thread: frames keep flowing until the
            # answer's apply time (replay.core.scheduler).
            self.loop = Scheduler(strategist, self.kernel, self._name, self.outputs,
                                  learner=self.learner, background=True,
                                  on_call=self._record_call)  # fmt: skip
        if write:
            if store.read_only:
                raise read_only_error(store.root)
            self._lock = RunLock(self.wal_dir, run_id)
            self._lock.acquire()  # before recovery: a second process must not touch the log
            try:
                self._recover()
                self.started_ns = run_started_ns(self.store, run_id) or self.started_ns
                self.wal = WalWriter(self.wal_dir / f"wal-{self.batch_no:012d}.log")
            except BaseException:
                self._lock.release()
                raise
            if self.recovered_batches:
                RUN_LOG.info("run %s recovered: %d batches re-run and checked against its log",
                             run_id, self.recovered_batches)  # fmt: skip
            self.progress.emit("started", run_id=run_id, recovered_batches=self.recovered_batches,
                               next_batch=self.batch_no)  # fmt: skip
        if self.loop is not None:
            self.loop.replaying = replaying
            if strategist is not None and self.last_ts:
                # Recovered: the next due time after what the log holds.
                step = strategist.settings.interval_ns
                self.loop.next_due = (self.last_ts // step + 1) * step
        self._requests_from = self.last_ts + 1 if self.last_ts else self.started_ns
        """On-demand strategist requests before this were served before a restart."""
        self.kernel.warm()  # the compiled kernel loaded now, not on the first trade

    # ---------------------------------------------------------------- recovery
    def _recover(self) -> None:
        """Roll what the log has and Parquet lacks, then rebuild the kernel's state."""
        rolled = self._rolled_through()
        logs = sorted(self.wal_dir.glob("wal-*.log")) if self.wal_dir.exists() else []
        unrolled: list[WalBatch] = []
        for path in logs:
            recs, good, size = read_log(path, N_OUT_F)
            if good < size:
                truncate_torn(path, good)
            unrolled.extend(r for r in recs if r.batch_no > rolled)
        unrolled.sort(key=lambda r: r.batch_no)
        started = run_strategy(self.store, self.run_id)
        if started is None:
            if rolled >= 0 or unrolled:
                raise ParityError(f"run {self.run_id} has a log but no start record")
            venue = "external" if self.external_venue else "simulated"
            start: dict[str, Any] = {"status": "started", "mode": self.mode, "venue": venue}
            if self.learner is not None:  # how it learns, for a resume or a verify
                start["learning"] = {"settings": self.strategy.learning.model_dump(mode="json")}
            self._write_runs_row(start)
        elif not np.array_equal(started.vector(), self.params):
            raise ValueError(
                f"run {self.run_id} was started with other parameters; resume it with the "
                "same strategy and --set values, or start a new run id"
            )
        if unrolled:
            self._roll(unrolled, RollInputs.of(unrolled))
            self._load_registry()  # with the mints the log held and this roll registered
        for path in logs:
            path.unlink()
        self._rebuild()

    def _load_registry(self) -> None:
        """Know every mint the store has registered (at start, and after recovery)."""
        reg = self.store.mints()
        for r in reg.records():
            self.addresses.setdefault(r.mint, r.mint_id)
            self.by_id[r.mint_id] = r.mint
            self.symbols[r.mint_id] = r.symbol
            self.scales[r.mint_id] = 10.0**r.decimals
        self.n_known = max(self.n_known, reg.next_id)

    def _rolled_through(self) -> int:
        self.store.refresh()
        ((last,),) = self.store.con.execute(
            "SELECT max(batch_no) FROM live_batches WHERE source = ?", [self.run_id]
        ).fetchall()
        return -1 if last is None else int(last)

    def replay_log(self) -> None:
        """Rebuild this (fresh) run's kernel from the run's log in the store, checked.

        What recovery does; also how tests get a from-scratch replay's state.
        """
        self._rebuild()

    def _rebuild(self) -> None:
        """Run this run's logged inputs through the fresh kernel; check every output.

        With a learning loop the inputs go through the scheduler, replaying: the loop
        relearns what it knew (its controls are among the inputs); what it learned that
        the log lacks (a crash between its due time and the next batch) is logged next.
        """
        n = 0
        loop = self.loop
        if loop is not None:
            loop.replaying, was = True, loop.replaying
        for rec in recorded_batches(self.store, self.run_id):
            if loop is None or not len(rec.inputs["ts"]):
                self._apply(rec.inputs, rec.n_mints)
            else:
                loop.feed(rec.inputs["ts"], self._replay_part(rec.inputs, rec.n_mints),
                          _no_injection)  # fmt: skip
            self.batch_no = rec.batch_no + 1
            n += 1
        if loop is not None:
            loop.replaying = was
        if self.learner is not None:
            for fam in LEARNING_FAMILIES:
                sql = f"SELECT count(*) FROM {fam} WHERE source = ?"  # noqa: S608
                ((k,),) = self.store.con.execute(sql, [self.run_id]).fetchall()
                self._learning_sent[fam] = min(int(k), len(self.learner.rows(fam)))
        self.recovered_batches = n
        if n == 0:
            return
        out_i, out_f = self.outputs()
        diff = first_difference(logged_tables(self.store, self.run_id),
                                event_tables(out_i, out_f))  # fmt: skip
        if diff is not None:
            raise ParityError(
                f"run {self.run_id}: its log and a re-run of its inputs disagree at {diff}; "
                "refusing to continue on a state that is not the log's"
            )

    # ------------------------------------------------------------- processing
    def register(self, addresses: Sequence[str], ts_ns: int) -> None:
        """Give the feed mints not known yet their ids at once (6 decimals, SOL quote).

        No store commit on the event loop: the id comes from the store's mint id journal
        (`data.mint_ids`, microseconds; another process that met the mint first keeps
        its id), the batch's log record carries it, `sync` makes the journal durable
        before the record, and the next roll registers the mint in `mints`.
        """
        new = sorted({a for a in addresses if a not in self.addresses})
        if not new:
            return
        if not self.write:
            raise KeyError(new[0])
        ids = self.store.mint_ids.assign(((a, TOKEN_DECIMALS) for a in new), self.n_known)
        for a in new:
            mint_id, decimals = ids[a]
            scale = 10.0**decimals
            self.addresses[a] = mint_id
            self.by_id[mint_id] = a
            self.scales[mint_id] = scale
            self.n_known = max(self.n_known, mint_id + 1)
            if mint_id < self.kernel.n_mints:  # room made before this run knew the id
                self.kernel.set_scale(mint_id, scale)
            self._fresh.append([mint_id, a, decimals, ts_ns])

    def _grow(self, n_mints: int) -> None:
        have = self.kernel.n_mints
        if n_mints <= have:
            return
        if any(m not in self.scales for m in range(have, n_mints)) and not self.write:
            # Mints another process registered meanwhile: read the registry once.
            self.store.refresh()
            for r in self.store.mints().records():
                self.scales.setdefault(r.mint_id, 10.0**r.decimals)
        # An id this run has not met (another process's) gets a placeholder scale until
        # `register` meets it: no input refers to it before then.
        more = [self.scales.get(m, 1.0) for m in range(have, n_mints)]
        self.kernel.add_mints(np.array(more, dtype=np.float64))

    def _apply(
        self, cols: dict[str, np.ndarray], n_mints: int, n_ticks: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """One batch through the kernel (no logging): its output rows, marks included.

        `n_ticks` says the batch is that many feed ticks, then heartbeats only (from
        `process_items`): its counts are known without scanning the columns.
        """
        self._grow(n_mints)
        if n_ticks is None:
            batch = as_input(kind=cols["kind"], ts=cols["ts"], seq=cols["seq"], mint=cols["mint"],
                             price=cols["price"], size=cols["size"], liq=cols["liq"],
                             sig_kind=cols["sig_kind"], sig_value=cols["sig_value"])  # fmt: skip
        else:  # rows of one input block: contiguous, of the kernel's dtypes but `kind`
            batch = KernelInput(cols["kind"].astype(np.int8), cols["ts"], cols["seq"],
                                cols["mint"], cols["price"], cols["size"], cols["liq"],
                                cols["sig_kind"], cols["sig_value"])  # fmt: skip
        out_i, out_f = self.kernel.run_all(batch, split_marks=False)
        if self.learner is not None:
            b = batch
            self.learner.see(b.kind, b.ts, b.mint, b.price, b.liq, b.sig_kind, b.sig_value,
                             out_i, out_f)  # fmt: skip
        n = len(cols["ts"])
        if n_ticks is None:
            # Controls: their kinds, and control signals (a signal row with a negative in_seq).
            ctl = (cols["kind"] >= _FIRST_CONTROL_KIND) | (cols["seq"] < 0)
            if ctl.any():
                self.applied_controls.update((-1 - cols["seq"][ctl]).tolist())
        self.outs_i.append(out_i)
        self.outs_f.append(out_f)
        self.in_seq += n
        self.run_seq += len(out_i)
        if n:
            self.last_ts = max(self.last_ts, int(cols["ts"][-1]))
            recv_ns = cols["recv_ns"]
            if n_ticks and recv_ns[n_ticks - 1] > 0:  # heartbeats (-1) come after ticks
                self.last_recv_ns = int(recv_ns[n_ticks - 1])
            else:
                recv = recv_ns[recv_ns > 0]
                if len(recv):
                    self.last_recv_ns = int(recv[-1])
        self.stats.inputs += n
        if n_ticks is None:
            self.stats.ticks += int(np.count_nonzero(cols["kind"] == _TICK))
            self.stats.heartbeats += int(np.count_nonzero(cols["kind"] == _HEARTBEAT))
        else:
            self.stats.ticks += n_ticks
            self.stats.heartbeats += n - n_ticks
        return out_i, out_f

    def process_items(
        self, items: Sequence[FeedTick | FeedProblem | FeedGap], heartbeat_ts: int | None
    ) -> int:
        """Feed items (and a heartbeat) as one batch; returns the number of outputs.

        The inputs are built in one `input_block`, whose bytes the log record takes as
        they are; this is the per-frame path of paper and live mode, so it makes as few
        numpy calls as it can (`benchmarks/bench_paper.py`).
        """
        self._taken_ns = self.now_ns()
        ticks: list[FeedTick] = []
        problems: list[FeedProblem] = []
        gaps: list[FeedGap] = []
        for it in items:
            if isinstance(it, FeedTick):
                ticks.append(it)
            elif isinstance(it, FeedProblem):
                problems.append(it)
            elif isinstance(it, FeedGap):
                gaps.append(it)
        chain_clock = self.settings.clock == "chain"
        if chain_clock and not self.last_ts:
            # No chain time yet: wait for the first trade (the rows before it are stamped
            # with its time); a heartbeat has no time to carry.
            ticks = self._early + ticks
            if not any(t.chain_ts_ns > 0 for t in ticks):
                self._early = ticks
                heartbeat_ts = None
                ticks = []
            else:
                self._early = []
        extras: dict[str, Any] = {}
        if problems:
            extras["problems"] = [p.__dict__ for p in problems]
            self.stats.problems += len(problems)
        if gaps:
            extras["gaps"] = [g.__dict__ for g in gaps]
            self.stats.gaps += len(gaps)
            for g in gaps:
                FEED_LOG.warning("feed gap: nothing received for %.1f s after %d attempt(s) (%s)",
                                 (g.end_ns - g.start_ns) / 1e9, g.attempts, g.reason)  # fmt: skip
        k = len(ticks)
        n = k + (heartbeat_ts is not None)
        if not n:
            return self.process(_empty_inputs(), extras, -1)
        ids = self.addresses
        for t in ticks:
            if t.mint not in ids:
                self.register([t.mint for t in ticks], ticks[0].recv_ns)
                break
        block, cols = input_block(n)
        ts, recv_ns = cols["ts"], cols["recv_ns"]
        if k == 1:  # the usual batch at a calm rate: element stores, no vector calls
            t = ticks[0]
            recv_ns[0] = t.recv_ns
            cols["mint"][0] = ids[t.mint]
            cols["size"][0] = t.size
            cols["chain_ts"][0] = t.chain_ts_ns
            cols["uid"][0] = t.uid
            cols["price"][0] = t.price
            cols["liq"][0] = t.liquidity
        elif k:
            block[_TICK_INT_ROWS, :k] = np.array(
                [(t.recv_ns, ids[t.mint], t.size, t.chain_ts_ns, t.uid) for t in ticks], np.int64
            ).T
            block.view(np.float64)[_TICK_FLOAT_ROWS, :k] = np.array(
                [(t.price, t.liquidity) for t in ticks]
            ).T
        if heartbeat_ts is not None:
            cols["kind"][k] = _HEARTBEAT
            ts[k] = heartbeat_ts  # its own time, for now
            cols["mint"][k] = -1
            recv_ns[k] = -1
            cols["liq"][k] = np.nan
        last = self.last_ts
        if chain_clock:
            chain = cols["chain_ts"]
            if not last:
                last = int(chain[chain > 0].min())
            np.maximum.accumulate(np.maximum(chain, last), out=ts)
        elif n == 1:
            ts[0] = max(t.recv_ns if k else heartbeat_ts, last)  # type: ignore[type-var]
        else:  # the wall clock is monotone: this only guards the time order
            if k:
                ts[:k] = recv_ns[:k]
            np.maximum.accumulate(np.maximum(ts, last), out=ts)
        if n == 1:
            cols["seq"][0] = self.in_seq
        else:
            cols["seq"][:] = np.arange(self.in_seq, self.in_seq + n)
        first_recv = min(t.recv_ns for t in ticks) if k else -1
        return self.process(cols, extras, first_recv, block=block, n_ticks=k)

    def process_reports(self, reports: Sequence[VenueReport]) -> int:
        """The venue's fills and rejects as one batch of input events (live mode)."""
        if not reports:
            return 0
        self.register([r.mint for r in reports], reports[0].recv_ns)
        n = len(reports)
        recv = np.array([r.recv_ns for r in reports], np.int64)
        kind = np.array([_VENUE_FILL if r.filled else _VENUE_REJECT for r in reports], np.int64)
        cols = {
            "kind": kind, "ts": np.maximum.accumulate(np.maximum(recv, self.last_ts)),
            "seq": np.arange(self.in_seq, self.in_seq + n),
            "mint": np.array([self.addresses[r.mint] for r in reports], np.int64),
            "price": np.array([float(r.lamports) for r in reports]),
            "size": np.array([r.tokens for r in reports], np.int64),
            "liq": np.array([float(r.fees) for r in reports]),
            "sig_kind": np.where(kind == _VENUE_REJECT, int(Reason.REJECT_VENUE), 0),
            "sig_value": np.array([float(r.order_id) for r in reports]),
            "chain_ts": np.zeros(n, np.int64), "recv_ns": recv,
            "uid": np.array([-r.order_id for r in reports], np.int64),
        }  # fmt: skip
        self._taken_ns = self.now_ns()
        return self.process(cols, {}, int(recv.min()))

    def process_adjustments(self, changes: Sequence[tuple[int, int]], at_ns: int) -> int:
        """Start-up reconciliation as one input batch: (mint id or -1 for cash, change)."""
        if not changes:
            return 0
        n = len(changes)
        cols = _control_cols(np.full(n, max(at_ns, self.last_ts), np.int64),
                             np.arange(self.in_seq, self.in_seq + n),
                             np.full(n, _VENUE_ADJUST, np.int64),
                             np.array([d for _, d in changes], np.int64),
                             np.zeros(n, np.int64), np.zeros(n))  # fmt: skip
        cols["mint"] = np.array([m for m, _ in changes], np.int64)
        return self.process(cols, {}, -1)

    def poll_controls(self, now: int) -> int:
        """Feed the kernel the store's new controls that are due; how many it took.

        A live run applies every control stamped at or after its start, once, when its
        time has come; one that arrives late (logged for a time already past) applies
        now. Each is recorded among the run's inputs, so a replay of them agrees.
        """
        rows: list[ControlRecord] = []
        if self.settings.clock == "chain" and not self.last_ts:
            return 0  # no chain time yet to apply them at
        try:
            self.store.refresh()
            # Nothing logged since the last look and nothing waiting for its time: skip
            # the scan (a refresh costs ~0.1 ms, a scan ~0.5 ms per segment, each second).
            stamp = self.store.manifest.family("controls").next_seq
            if stamp == self._controls_stamp:
                return 0
            waiting = False
            for r in control_records(self.store, self.started_ns):
                if r[2] == STRATEGIST_REQUEST:
                    self._strategist_request(r)
                elif r[0] > now:
                    waiting = True
                elif r[1] not in self.applied_controls:
                    rows.append(r)
        except StoreError as exc:  # trade on with the values in force; look again later
            RUN_LOG.warning("controls could not be read (trying again): %s", exc)
            return 0
        self._controls_stamp = -1 if waiting else stamp
        if not rows:
            return 0
        ci = control_input(rows)
        # On chain time a control (stamped on the wall clock) applies at the current chain
        # time; on wall time at its own, or now if it came late.
        at = (np.full(len(ci.ts_ns), self.last_ts, np.int64) if self.settings.clock == "chain"
              else np.maximum(ci.ts_ns, self.last_ts))  # fmt: skip
        batch = _control_cols(at, -1 - ci.seq, ci.kind, ci.size, ci.sig_kind,
                              ci.sig_value)  # fmt: skip
        self.process(batch, {"controls": sorted({r[1] for r in rows})}, -1)
        self.progress.emit("controls", batch_no=self.batch_no - 1, applied=len(rows))
        return len(rows)

    def process(
        self,
        cols: dict[str, np.ndarray],
        extras: dict[str, Any],
        first_recv: int,
        n_mints: int | None = None,
        *,
        block: np.ndarray | None = None,
        n_ticks: int | None = None,
    ) -> int:
        """One batch: kernel, log append, and the fsync / roll when they are due.

        `n_mints` (the registry size to grow the kernel to first) defaults to every mint
        known so far; a replay of recorded inputs passes the size the run had. With a
        strategist the batch is split at its due and apply times; the answer's control
        rows become a batch of their own, logged among the run's inputs. `block` and
        `n_ticks` come from `process_items`: the `input_block` the columns view, and
        that the batch is `n_ticks` feed ticks then heartbeats (no controls).
        """
        loop = self.loop
        if loop is None or not len(cols["ts"]):
            return self._process_one(cols, extras, first_recv, n_mints, block, n_ticks)
        done = 0

        def part(lo: int, hi: int) -> None:
            nonlocal done
            whole = lo == 0 and hi == len(cols["ts"])
            sub = cols if whole else {k: v[lo:hi] for k, v in cols.items()}
            done += self._process_one(sub, extras if lo == 0 else {},
                                      first_recv if lo == 0 else -1, n_mints,
                                      block if whole else None)  # fmt: skip

        def inject(ts: int, in_seq: int, rows: tuple[ControlRow, ...]) -> None:
            nonlocal done
            n = len(rows)
            if not n:
                return
            batch = _control_cols(
                np.full(n, max(ts, self.last_ts), np.int64), np.full(n, in_seq, np.int64),
                np.array([r.kind for r in rows], np.int64),
                np.array([r.size for r in rows], np.int64),
                np.array([r.sig_kind for r in rows], np.int64),
                np.array([r.sig_value for r in rows], np.float64),
            )  # fmt: skip
            no = -1 - in_seq
            label = ("adaptation", no - ADAPTATION_CONTROL_SEQ0) if no >= ADAPTATION_CONTROL_SEQ0 \
                else ("strategist", no)  # fmt: skip
            done += self._process_one(batch, {label[0]: label[1]}, -1, n_mints)
            if label[0] == "adaptation":
                self.progress.emit("adapted", adaptation_no=label[1])

        loop.feed(cols["ts"], part, inject)
        return done

    def _process_one(
        self,
        cols: dict[str, np.ndarray],
        extras: dict[str, Any],
        first_recv: int,
        n_mints: int | None = None,
        block: np.ndarray | None = None,
        n_ticks: int | None = None,
    ) -> int:
        if n_mints is None:
            n_mints = max(self.n_known, self.kernel.n_mints)
        first_run_seq = self.run_seq
        out_i, out_f = self._apply(cols, n_mints, n_ticks)
        decided = self.now_ns()
        extras = {**extras, "first_recv_ns": first_recv, "decided_ns": decided}
        if self._fresh:  # the new mints' ids, registered when this record rolls
            extras["mints"], self._fresh = self._fresh, []
        learned = self._new_learning_rows()
        if learned:  # logged with this batch: in the store with it, or lost with it
            extras["learning"] = learned
            summaries = sum(r["kind"] == "summary" for r in learned.get("insights", []))
            self.progress.emit("learned", batch_no=self.batch_no, reflections=summaries,
                               **{f: len(r) for f, r in learned.items()})  # fmt: skip
        rec = WalBatch(self.batch_no, first_run_seq, n_mints, cols, out_i, out_f, extras, block)
        self.batch_no += 1
        self.stats.batches += 1
        appended: int | None = None
        if self.wal is not None:
            self.wal.append(rec)
            appended = self.now_ns()
            self.progress.emit(
                "appended", batch_no=rec.batch_no, inputs=rec.n_in, market_ns=self.last_ts
            )
            if extras.get("gaps"):
                self.progress.emit("gap", batch_no=rec.batch_no)
            if first_recv > 0:
                self.stats.latencies_ns.add(appended - first_recv)
                self.stats.queued_ns.add(self._taken_ns - first_recv)
                self.stats.engine_ns.add(appended - self._taken_ns)
                if rec.n_in == 1:
                    self.stats.message_ns.add(appended - first_recv)
                else:
                    recv = cols["recv_ns"]
                    self.stats.message_ns.add_many(appended - recv[recv > 0])
        self.pending.append(rec)
        if appended is not None:
            self._roll_inputs.add(rec, appended)
        self.unsynced_outputs += len(out_i)
        self._note(out_i, out_f)
        log_events(out_i, out_f, lambda m: self.by_id.get(m, f"mint {m}"))
        for watch in self.watchers:
            watch(out_i, out_f, extras)
        if self.unsynced_outputs >= self.settings.flush_events or self.settings.flush_ms == 0:
            self.sync()
        return len(out_i)

    def _replay_part(self, cols: dict[str, np.ndarray], n_mints: int) -> Callable[[int, int], None]:
        """Rows [lo, hi) of a recorded batch through the kernel (and the learning loop)."""

        def part(lo: int, hi: int) -> None:
            self._apply({k: v[lo:hi] for k, v in cols.items()}, n_mints)

        return part

    def _learning_pending(self) -> dict[str, int]:
        """Rows of each learning family not yet handed to the log."""
        if self.learner is None:
            return {}
        return {f: len(self.learner.rows(f)) - self._learning_sent[f] for f in LEARNING_FAMILIES}

    def _new_learning_rows(self) -> dict[str, list[dict[str, Any]]]:
        """The learning loop's rows not yet handed to the log, by family."""
        out: dict[str, list[dict[str, Any]]] = {}
        if self.learner is None:
            return out
        for fam in LEARNING_FAMILIES:
            rows = self.learner.rows(fam)
            k = self._learning_sent[fam]
            if len(rows) > k:
                out[fam] = rows[k:]
                self._learning_sent[fam] = len(rows)
        return out

    def _strategist_request(self, r: ControlRecord) -> None:
        """Hand an operator's on-demand request to the scheduler, once."""
        if r[1] in self.applied_controls or r[0] < self._requests_from:
            return
        self.applied_controls.add(r[1])
        if self.loop is None:
            RUN_LOG.warning("strategist requested at %d, but this run has no strategist "
                            "(--strategist live)", r[0])  # fmt: skip
            return
        RUN_LOG.info("strategist requested by the operator for %d", r[0])
        self.loop.request(r[0])

    def _name(self, mint_id: int) -> str:
        return self.by_id.get(mint_id, f"mint {mint_id}")

    def label(self, mint_id: int) -> str:
        """The mint as a trader reads it: symbol, else its shortened address."""
        return mint_label(self.symbols.get(mint_id), self.by_id.get(mint_id), mint_id)

    def _record_call(self, call: Call) -> None:
        """Log a strategist call as soon as it is concluded (its rows follow as input)."""
        if call.changes:
            RUN_LOG.info("strategist (call %d, asked at %d): %s", call.call_no,
                         call.prompt.ts_ns, call.changes)  # fmt: skip
        elif call.status not in ("accepted", "unchanged"):
            RUN_LOG.warning("strategist call %d: %s (%s); the conditions stay as they were",
                            call.call_no, call.status, call.reason)  # fmt: skip
        self.progress.emit("strategist", call_no=call.call_no, status=call.status,
                           trigger=call.trigger)  # fmt: skip
        if self.write:
            try:
                self.store.append("strategist", calls_table([call]), source=self.run_id)
            except StoreError as exc:  # the control rows are logged with the inputs anyway
                RUN_LOG.warning("strategist call %d not logged: %s", call.call_no, exc)

    def _note(self, out_i: np.ndarray, out_f: np.ndarray) -> None:
        if not len(out_i):
            return
        decided = out_i[:, O_KIND] == OutKind.DECIDED
        if not decided.any():
            return
        for r, f in zip(out_i[decided][-10:], out_f[decided][-10:], strict=True):
            self.stats.recent.append((int(r[O_TS]), int(r[O_MINT]), int(r[O_ACTION]),
                                      int(r[O_REASON]), float(f[OF_OUT_CONF])))  # fmt: skip
        del self.stats.recent[:-10]

    def due(self, now: int) -> int:
        """The next time (ns) something must happen without new input: fsync or roll."""
        t = self.last_roll_ns + int(self.settings.roll_s * 1e9)
        if self.wal is not None and self.wal.unsynced:
            t = min(t, self.last_sync_ns + int(self.settings.flush_ms * 1e6))
        return t

    def tick(self, now: int) -> None:
        """Timed work: fsync after `flush_ms`, roll after `roll_s`."""
        wal = self.wal
        if (
            wal is not None
            and wal.unsynced
            and now - self.last_sync_ns >= self.settings.flush_ms * 1e6
        ):
            self.sync()
        self._check_rolls()
        if now - self.last_roll_ns >= self.settings.roll_s * 1e9:
            self.roll(background=True)

    def sync(self) -> None:
        """Fsync the log: every batch appended so far is acknowledged."""
        if self.wal is None:
            return
        unsynced = self.wal.unsynced
        self.store.mint_ids.sync()  # ids the records use, durable before them
        self.wal.sync()
        if unsynced:
            self.progress.emit("acknowledged", through=self.batch_no - 1)
        now = self.now_ns()
        self.last_sync_ns = now
        self.unsynced_outputs = 0
        if unsynced:
            for r in self.pending[-unsynced:]:
                first = r.extras.get("first_recv_ns", -1)
                if first > 0:
                    self.stats.durable_ns.add(now - first)

    def roll(self, *, background: bool = False) -> None:
        """Move acknowledged batches into Parquet (one transaction), start a new log.

        `background` (the loop's periodic roll): the transaction runs on the run's roll
        thread while the loop appends to the new log. On the loop it stalled every frame
        behind it, 15 ms every 2 s at 1,000 msg/s and 80 ms at 50,000, unseen by the
        receipt figures since those frames waited in the socket. Rolls run one at a
        time in order, and after a failed one none runs: the failure stops the run at
        the loop's next turn, and a restart rolls from the logs still on disk. Without
        `background` it returns once every roll so far is committed.
        """
        self.last_roll_ns = self.now_ns()
        if not self.write or not self.pending:
            if not background:
                self._wait_rolls()
            return
        self._check_rolls()
        self.sync()
        pend, self.pending = self.pending, []
        acc = self._roll_inputs
        self._roll_inputs = RollInputs(max(4096, acc.n + acc.n // 4))
        assert self.wal is not None
        old = self.wal.path
        self.wal.close()
        self.wal = WalWriter(self.wal_dir / f"wal-{self.batch_no:012d}.log")
        if not background:
            self._wait_rolls()
            self._roll_log(pend, acc, old)
            return
        if self._roller is None:
            self._roller = ThreadPoolExecutor(1, thread_name_prefix=f"roll-{self.run_id}")
        self._rolls.append(self._roller.submit(self._roll_log, pend, acc, old))

    def _roll_log(self, recs: list[WalBatch], acc: RollInputs, old: Path) -> None:
        """Commit one closed log's batches, then remove the log (the roll thread's job).

        What it touches is its own: the closed log's records and gathered tables, and a
        store transaction (which reads the manifest from disk). The loop meanwhile reads
        the store handle (`poll_controls`), which may see the manifest one roll behind
        until its next refresh.
        """
        if self._roll_failed is not None:
            raise self._roll_failed  # a gap in what Parquet holds would lose batches
        try:
            self._roll(recs, acc)
        except BaseException as exc:
            self._roll_failed = exc
            raise
        self.progress.emit("rolled", through=recs[-1].batch_no)
        old.unlink()

    def _check_rolls(self) -> None:
        """Raise a background roll's failure here, on the loop."""
        while self._rolls and self._rolls[0].done():
            self._rolls.pop(0).result()

    def _wait_rolls(self) -> None:
        """Wait until every background roll is committed (raising a failure)."""
        while self._rolls:
            self._rolls.pop(0).result()

    def _roll(self, recs: list[WalBatch], acc: RollInputs) -> None:
        """Commit batches to Parquet in one transaction (`acc`: their gathered tables)."""
        out_i = np.concatenate([r.out_i for r in recs]) if recs else np.zeros((0, N_OUT_I))
        out_f = np.concatenate([r.out_f for r in recs]) if recs else np.zeros((0, N_OUT_F))
        out_i = out_i.astype(np.int64)
        noted = acc.noted  # the only records with side events
        with self.store.transaction() as tx:
            fresh = [m for r in noted for m in r.extras.get("mints", [])]
            if fresh:
                tx.register_reserved(
                    [MintRecord(i, a, None, d, "SOL", self.run_id) for i, a, d, _ in fresh],
                    [ts for *_, ts in fresh],
                )
            tx.append("feed_inputs", acc.feed_inputs(), source=self.run_id)
            for fam, table in split_families(out_i, out_f, recs[0].first_run_seq).items():
                if table.num_rows:
                    tx.append(fam, table, source=self.run_id)
            marks = np.flatnonzero(out_i[:, O_KIND] == OutKind.EQUITY_MARKED)
            if len(marks):
                cash = out_i[marks, O_SOL] / LAMPORTS_PER_SOL
                held = out_f[marks, OF_PRICE]
                tx.append("equity", {
                    "ts_ns": out_i[marks, O_TS], "run_seq": recs[0].first_run_seq + marks,
                    "mint_id": np.full(len(marks), -1, np.int32), "cash_sol": cash,
                    "positions_sol": held, "equity_sol": cash + held,
                }, source=self.run_id)  # fmt: skip
            problems = [p for r in noted for p in r.extras.get("problems", [])]
            if problems:
                tx.append("quarantine", {
                    "ts_ns": [p["recv_ns"] for p in problems],
                    "recorded_ts_ns": [p["recv_ns"] for p in problems],
                    "target_family": ["feed"] * len(problems),
                    "reason": [p["reason"] for p in problems],
                    "detail": [p["detail"] for p in problems],
                    "file": [self.run_id] * len(problems),
                    "row_no": np.full(len(problems), -1, np.int64),
                    "raw": [p["raw"] for p in problems],
                }, source=self.run_id)  # fmt: skip
            for fam in LEARNING_FAMILIES:
                learned = [x for r in noted for x in r.extras.get("learning", {}).get(fam, [])]
                if learned:
                    tx.append(fam, learning_table(fam, learned), source=self.run_id)
            gaps = [g for r in noted for g in r.extras.get("gaps", [])]
            if gaps:
                tx.append("feed_gaps", {
                    "ts_ns": [g["start_ns"] for g in gaps], "end_ns": [g["end_ns"] for g in gaps],
                    "attempts": [g["attempts"] for g in gaps],
                    "reason": [g["reason"] for g in gaps],
                }, source=self.run_id)  # fmt: skip
            tx.append("live_batches", acc.batch_columns(), source=self.run_id)

    def record_gap(self, start_ns: int, end_ns: int, reason: str) -> None:
        """A feed gap with no other input (the engine was down), logged as its own batch."""
        gap = {"start_ns": start_ns, "end_ns": end_ns, "attempts": 0, "reason": reason}
        self.process(_empty_inputs(), {"gaps": [gap]}, -1)
        self.stats.gaps += 1

    # ---------------------------------------------------------------- results
    def outputs(self) -> tuple[np.ndarray, np.ndarray]:
        """Every output row of the run so far (marks included), in order."""
        if not self.outs_i:
            return np.zeros((0, N_OUT_I), np.int64), np.zeros((0, N_OUT_F))
        return np.concatenate(self.outs_i), np.concatenate(self.outs_f)

    def close(self) -> dict[str, Any]:
        """Flush, roll, close the log, release the run; return the run's report."""
        try:
            try:
                self._wait_rolls()
            finally:
                if self._roller is not None:
                    self._roller.shutdown(wait=True)
                    self._roller = None
            if self.loop is not None:
                # A call still out is logged; it steered nothing. Trades whose review is
                # not due yet stay waiting: a resumed run reviews them when it is.
                self.loop.close(finish_learning=False)
                if self.write and any(self._learning_pending().values()):
                    self.process(_empty_inputs(), {}, -1)  # carries the last learned rows
            if self.write:
                self.roll()
                if self.wal is not None:
                    path = self.wal.path
                    self.wal.close()
                    self.wal = None
                    if path.exists() and path.stat().st_size == 0:
                        path.unlink()
            report = self.report()
            if self.write:
                self._write_runs_row(report)
            return report
        finally:
            if self._lock is not None:
                self._lock.release()

    def _write_runs_row(self, report: dict[str, Any]) -> None:
        """A `runs` row: at start and at each clean stop (with the report).

        The start row records the strategy, so a run that never stops cleanly can
        still be resumed and verified.
        """
        self.store.append("runs", {
            "ts_ns": [time.time_ns()], "run_id": [self.run_id],
            "strategy": [self.strategy.name], "conditions": [str(self.strategy.conditions)],
            "params_json": [json.dumps({p.name.lower(): float(self.params[p]) for p in P})],
            "start_ts": [None], "end_ts": [None], "mints_json": [json.dumps(None)],
            "initial_cash": [self.cash0], "ticks": [self.stats.ticks],
            "events_sha256": [str(report.get("events_sha256", ""))],
            "report_json": [json.dumps(report, default=str)],
        })  # fmt: skip

    def report(self) -> dict[str, Any]:
        """The replay report of this run, plus mode, latencies and feed counters."""
        out_i, out_f = self.outputs()
        marks = out_i[:, O_KIND] == OutKind.EQUITY_MARKED
        curve = [(int(r[O_TS]), r[O_SOL] / LAMPORTS_PER_SOL + f[OF_PRICE])
                 for r, f in zip(out_i[marks], out_f[marks], strict=True)]  # fmt: skip
        curve += [(ts, c + h) for ts, c, h in self.kernel.curve()[-1:]]
        ev_i, ev_f = out_i[~marks], out_f[~marks]
        open_pos = open_unrealized_lamports(self.kernel.state)
        rep = build_report(ev_i, ev_f, self.stats.ticks, curve, open_pos, self.cash0)
        rep["run_id"] = self.run_id
        rep["mode"] = self.mode
        rep["venue"] = "external" if self.external_venue else "simulated"
        rep["events_sha256"] = events_sha256(ev_i, ev_f)
        rep["batches"] = self.batch_no
        rep["heartbeats"] = self.stats.heartbeats
        rep["feed_problems"] = self.stats.problems
        rep["feed_gaps"] = self.stats.gaps
        rep["recovered_batches"] = self.recovered_batches
        calls = self.loop.calls if self.loop is not None else []
        rep["controls"] = applied_controls(self.store, ev_i, ev_f,
                                           own_controls(calls, self.learner))  # fmt: skip
        if self.strategist is not None:
            rep["strategist"] = summary(calls, self.strategist.settings, self.strategist.host)
        if self.learner is not None:
            rep["learning"] = self.learner.report()
        rep["state"] = state_summary(self.kernel)
        rep["latency_us"] = self.stats.latencies_ns.summary()
        rep["latency_per_message_us"] = self.stats.message_ns.summary("messages")
        rep["durable_latency_us"] = self.stats.durable_ns.summary()
        rep["latency_parts_us"] = {
            "receipt_to_taken": self.stats.queued_ns.summary(),
            "taken_to_appended": self.stats.engine_ns.summary(),
        }
        return rep


def _no_injection(ts: int, in_seq: int, rows: tuple[ControlRow, ...]) -> None:
    raise AssertionError("a replay of recorded inputs injects nothing: they hold every control")


def recorded_batches(store: EventStore, run_id: str) -> Iterator[WalBatch]:
    """A run's processed inputs, batch by batch, as it processed them (no outputs).

    Rows come in the order they were appended (`seq`): a control's `in_seq` is negative
    (-1 - its `controls` seq), so `in_seq` alone does not give the processing order.
    """
    store.refresh()
    sizes = store.con.execute(
        "SELECT batch_no, n_mints FROM live_batches WHERE source = ? ORDER BY batch_no", [run_id]
    ).fetchall()
    rows = store.con.execute(
        "SELECT batch_no, in_seq, kind, ts_ns, mint_id, price, size, liquidity, sig_kind, "
        "sig_value, chain_ts_ns, recv_ts_ns, uid FROM feed_inputs WHERE source = ? "
        "ORDER BY batch_no, seq",
        [run_id],
    ).fetchnumpy()
    bn = np.asarray(rows["batch_no"], dtype=np.int64)
    names = {"kind": "kind", "ts": "ts_ns", "seq": "in_seq", "mint": "mint_id", "price": "price",
             "size": "size", "liq": "liquidity", "sig_kind": "sig_kind",
             "sig_value": "sig_value", "chain_ts": "chain_ts_ns", "recv_ns": "recv_ts_ns",
             "uid": "uid"}  # fmt: skip
    cols = {k: np.asarray(rows[names[k]], dtype=dt) for k, dt in INPUT_COLUMNS}
    for batch_no, n_mints in sizes:
        lo, hi = np.searchsorted(bn, batch_no, "left"), np.searchsorted(bn, batch_no, "right")
        inputs = {k: v[lo:hi] for k, v in cols.items()}
        yield WalBatch(int(batch_no), 0, int(n_mints), inputs, np.zeros((0, N_OUT_I), np.int64),
                       np.zeros((0, N_OUT_F)))  # fmt: skip


def replay_batches(run: LiveRun, batches: Iterable[WalBatch]) -> dict[str, Any]:
    """Recorded input batches through `run`, one by one as recorded; its report."""
    for rec in batches:
        run.process(rec.inputs, {}, -1, n_mints=rec.n_mints)
        run.tick(run.now_ns())
    return run.close()


def event_tables(out_i: np.ndarray, out_f: np.ndarray) -> dict[str, pa.Table]:
    """The compared families of a run's output rows, as they would be stored."""
    tables = split_families(out_i.astype(np.int64), out_f)
    return {k: tables[k] for k in COMPARED_FAMILIES}


def logged_tables(store: EventStore, run_id: str) -> dict[str, pa.Table]:
    """The compared families of a stored run, in run_seq order, store columns dropped."""
    store.refresh()
    out = {}
    for fam in COMPARED_FAMILIES:
        cols = [f.name for f in FAMILIES[fam].schema if f.name != "seq"]
        sql = (f"SELECT {', '.join(cols)} FROM {fam} WHERE source = ? "  # noqa: S608
               "ORDER BY run_seq")  # fmt: skip
        out[fam] = store.con.sql(sql, params=[run_id]).to_arrow_table()
    return out


def learning_difference(store: EventStore, run_a: str, run_b: str) -> tuple[int, str | None]:
    """Rows of run_a's learning families, and the first row run_b logged otherwise (or None).

    Rows are compared in each family's own order (review, insight, adaptation number;
    hits in log order), every column but the store's.
    """
    store.refresh()
    total = 0
    for fam in LEARNING_FAMILIES:
        cols = [f.name for f in FAMILIES[fam].schema if f.name != "seq"]
        sql = f"SELECT {', '.join(cols)} FROM {fam} WHERE source = ? ORDER BY seq"  # noqa: S608
        a = store.con.execute(sql, [run_a]).fetchall()
        b = store.con.execute(sql, [run_b]).fetchall()
        total += len(a)
        for k in range(max(len(a), len(b))):
            if k >= len(a) or k >= len(b):
                which = "second" if k >= len(a) else "first"
                return total, f"{fam} row {k}: only the {which} run has it"
            x, y = dict(zip(cols, a[k], strict=True)), dict(zip(cols, b[k], strict=True))
            if not _same_event(x, y):
                diff = [f"{c}={x[c]!r} vs {y[c]!r}" for c in cols if not _same_value(x[c], y[c])]
                return total, f"{fam} row {k}: {', '.join(diff)}"
    return total, None


def first_difference(a: dict[str, pa.Table], b: dict[str, pa.Table]) -> str | None:
    """The first event (by run_seq, across families) where two runs differ, or None.

    Events are compared field by field, run_seq included; NaN equals NaN.
    """
    rows_a = _events(a)
    rows_b = _events(b)
    for k in range(max(len(rows_a), len(rows_b))):
        if k >= len(rows_a):
            return f"event {k}: only the second run has {rows_b[k]}"
        if k >= len(rows_b):
            return f"event {k}: only the first run has {rows_a[k]}"
        if not _same_event(rows_a[k], rows_b[k]):
            x, y = rows_a[k], rows_b[k]
            fields = [f"{f}={x[f]!r} vs {y.get(f)!r}" for f in x if not _same_value(x[f], y.get(f))]
            return f"event {k} ({x['family']}, run_seq {x['run_seq']}): {', '.join(fields)}"
    return None


def _events(tables: dict[str, pa.Table]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for fam in COMPARED_FAMILIES:
        t = tables.get(fam)
        if t is None:
            continue
        keep = [c for c in t.column_names if c not in ("seq", "source")]
        for r in t.select(keep).to_pylist():
            r["family"] = fam
            rows.append(r)
    rows.sort(key=lambda r: (r["run_seq"], r["family"]))
    return rows


def _same_value(x: Any, y: Any) -> bool:
    if isinstance(x, float) and isinstance(y, float):
        return (x != x and y != y) or x == y
    return bool(x == y)


def _same_event(x: dict[str, Any], y: dict[str, Any]) -> bool:
    return x.keys() == y.keys() and all(_same_value(x[k], y[k]) for k in x)


def wal_files(store_root: Path, run_id: str) -> list[Path]:
    """A run's write-ahead log files (empty once it closed cleanly and rolled)."""
    d = store_root / "_wal" / run_id
    return sorted(d.glob("wal-*.log")) if d.exists() else []


def run_started_ns(store: EventStore, run_id: str) -> int | None:
    """When a live run was first started (its first `runs` row), or None."""
    ((ts,),) = store.con.execute(
        "SELECT min(ts_ns) FROM runs WHERE run_id = ?", [run_id]
    ).fetchall()
    return None if ts is None else int(ts)


def run_external_venue(store: EventStore, run_id: str) -> bool:
    """Whether a run traded on an external venue (live): its replays must too."""
    rows = store.con.execute(
        "SELECT json_extract_string(report_json, '$.venue') FROM runs WHERE run_id = ? "
        "ORDER BY seq LIMIT 1",
        [run_id],
    ).fetchall()
    return bool(rows) and rows[0][0] == "external"


def run_strategy(store: EventStore, run_id: str) -> StrategyConfig | None:
    """The strategy a run started with (its first `runs` row), or None if unknown."""
    store.refresh()
    rows = store.con.execute(
        "SELECT strategy, conditions, params_json, report_json FROM runs WHERE run_id = ? "
        "ORDER BY seq LIMIT 1",
        [run_id],
    ).fetchall()
    if not rows:
        return None
    row = rows[0]
    strat = StrategyConfig(name=row[0], entry=row[1], params=json.loads(row[2]))
    learning = (json.loads(row[3]).get("learning") or {}).get("settings")
    if learning is not None:  # it learned: a resume or a verify learns the same way
        strat = strat.model_copy(update={"learning": LearningSettings.model_validate(learning)})
    return strat


def state_summary(kernel: Kernel) -> dict[str, Any]:
    """The kernel state a restart must restore, in plain numbers (for reports and tests).

    Cash, reservations, the portfolio counters (ids, slots, breakers, the day's PnL,
    trades and losing streak), every open position and every pending order.
    """
    st = kernel.state
    pos = st.pos_i[st.pos_i[:, PI_ACTIVE] == 1]
    orders = st.ord_i[st.ord_i[:, 0] == 1]
    return {
        "glob": [int(x) for x in st.glob],
        "positions": sorted(tuple(int(x) for x in r) for r in pos),
        "orders": sorted(tuple(int(x) for x in r) for r in orders),
        "mints": kernel.n_mints,
    }
