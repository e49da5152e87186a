"""The composition root of `clanka run`: the one place that reads the mode.

- paper  = the live pump.fun feed + the simulated venue (inside the kernel) + the wall
  clock (heartbeats), logged through a `LiveRun`;
- replay = the store's ticks and signals (`replay.core.runner.run_replay`), or with
  `inputs_of` the exact inputs a live run recorded, batch by batch, through a
  `LiveRun` of its own: what `clanka verify parity` compares against the original.

Every mode calls the same compiled kernel function (`engine.kernel.STEP`).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, Field

from data import interrupts
from data.feed.client import FeedConfig, PumpFunFeed, WallClock
from data.feed.wire import FeedItem, FeedTick
from data.store import EventStore
from engine.layout import PI_ACTIVE, PI_MINT
from engine.params import P
from replay.alerts.service import AlertService
from replay.alerts.settings import AlertSettings
from replay.live.reload import ReloadResult, StrategyReload
from replay.live.router import VenueRouter, reconcile, resolve
from replay.live.run import (
    LiveRun,
    LiveSettings,
    recorded_batches,
    replay_batches,
    run_strategy,
)
from replay.venue.chain import ChainClient
from replay.venue.executor import Executor
from replay.venue.jupiter import JupiterClient
from replay.venue.reports import VenueReport
from replay.venue.settings import VenueSettings
from replay.venue.signer import Signer
from strategies.config import StrategyConfig
from strategies.strategist.calls import Strategist

T = TypeVar("T")
RELOAD_LOG = logging.getLogger("clanka.reload")
RUN_LOG = logging.getLogger("clanka.run")


class RunSettings(BaseModel):
    """`clanka run --settings FILE.toml`: the `[feed]` and `[live]` tables."""

    model_config = {"extra": "forbid"}

    feed: FeedConfig = Field(default_factory=lambda: FeedConfig())
    live: LiveSettings = Field(default_factory=lambda: LiveSettings())
    alerts: AlertSettings = Field(default_factory=lambda: AlertSettings())
    venue: VenueSettings = Field(default_factory=lambda: VenueSettings())


async def run_paper(
    run: LiveRun,
    feed_cfg: FeedConfig,
    clock: WallClock,
    *,
    duration_s: float | None,
    stop: asyncio.Event,
    on_batch: Callable[[LiveRun, PumpFunFeed], None] | None = None,
    reload: StrategyReload | None = None,
    alerts: AlertSettings | None = None,
    venue: Executor | None = None,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Feed -> kernel -> log until `stop` is set or `duration_s` has passed; the report.

    With a `venue` (live mode) a router sends the kernel's orders through it and feeds
    its fills and rejects back as input batches; at start, orders a previous process
    left pending are first settled from the journal and the chain (replay.live.router).
    `dry_run` sends nothing: the kernel fills on the simulated venue, and every order
    is also quoted and checked by the venue and logged as a dry run.

    Items the feed delivers are queued by its sink; each turn of the loop takes what is
    queued (up to `max_batch`) as one kernel batch, adding a heartbeat when one is due,
    so the kernel always sees micro-batches, never single ticks through Python. Every
    `control_poll_ms` (and at once on SIGHUP) it reloads the strategy file if it changed
    and feeds the store's new controls to the kernel.
    """
    items: deque[FeedItem] = deque()
    wake = asyncio.Event()

    def sink(it: FeedItem) -> None:
        items.append(it)
        wake.set()

    reload_now = asyncio.Event()
    if reload is not None:
        install_reload_signal(reload_now, wake.set)
    feed = PumpFunFeed(feed_cfg, clock, sink)
    for m in _held_addresses(run):
        feed.watch(m, held=True)
    feed_stop = asyncio.Event()
    feed_task = asyncio.create_task(feed.run(feed_stop))
    reports: list[VenueReport] = []

    def deliver(r: VenueReport) -> None:
        reports.append(r)
        wake.set()

    router: VenueRouter | None = None
    if venue is not None:
        router = VenueRouter(run, venue, deliver, dry_run=dry_run)
        run.watchers.append(router.watch)
        if not dry_run:
            settled, journaled = await resolve(run, venue.chain, venue.signer.pubkey)
            run.process_reports(settled)
            await reconcile(run, venue.chain, venue.signer.pubkey)  # then the chain wins
            router.resubmit(journaled)  # pending orders a crash left before they were sent
    alerter: AlertService | None = None
    if alerts is not None and alerts.enabled:
        alerter = AlertService(alerts, run, lambda: feed.health)
        run.watchers.append(alerter.watch)
        alert_task = asyncio.create_task(alerter.run())
    hb_ns = run.settings.heartbeat_ms * 1_000_000
    start = clock.now_ns()
    RUN_LOG.info("%s run %s started on %s (strategy %s)", run.mode, run.run_id,
                 feed_cfg.display_url, run.strategy.name)  # fmt: skip
    if run.last_recv_ns > 0:  # a restart: the engine was down since its last input
        run.record_gap(run.last_recv_ns, start, "engine restart")
        RUN_LOG.warning("engine was down for %.1f s since its last input: logged as a feed gap",
                        (start - run.last_recv_ns) / 1e9)  # fmt: skip
    deadline = start + int(duration_s * 1e9) if duration_s is not None else None
    next_hb = start + hb_ns
    # What start-up built (modules, compiled kernels, the registry) lives as long as the
    # run: frozen, the collector's full passes stop walking it. Those passes stalled the
    # loop for up to 97 ms, a few times a minute (benchmarks/bench_paper.py).
    gc.collect()
    gc.freeze()
    poll_ns = run.settings.control_poll_ms * 1_000_000
    next_poll = start
    max_batch = run.settings.max_batch
    held = _held_addresses(run)
    try:
        while not stop.is_set():
            now = clock.now_ns()
            forced = reload_now.is_set()
            if now >= next_poll or forced:
                reload_now.clear()
                if reload is not None:
                    result = reload.check(run.store, now, force=forced)
                    if result is not None:
                        _report_reload(result)
                        run.progress.emit("reload", changes=len(result.changes),
                                          refused=len(result.refused))  # fmt: skip
                run.poll_controls(now)
                next_poll = now + poll_ns
            if reports:
                done, reports[:] = list(reports), []
                run.process_reports(done)
            if not items and not reports:
                wait_until = min(next_hb, run.due(now), next_poll)
                if deadline is not None:
                    wait_until = min(wait_until, deadline)
                wake.clear()
                if not items and not reports and not reload_now.is_set():
                    # asyncio.timeout, not wait_for: wait_for wraps the wait in a task of
                    # its own, one more hop between a frame's arrival and its batch.
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(max(0.0, (wait_until - now) / 1e9)):
                            await wake.wait()
                now = clock.now_ns()
            take = [items.popleft() for _ in range(min(len(items), max_batch))]
            beat = now if now >= next_hb else None
            if take or beat is not None:
                run.process_items(take, beat)
                if beat is not None:
                    next_hb = now + hb_ns
                if feed_cfg.watch_curves:
                    for t in take:
                        if isinstance(t, FeedTick):
                            feed.watch(t.mint)
                now_held = _held_addresses(run)
                for m in now_held - held:
                    feed.watch(m, held=True)
                held = now_held
                if on_batch:
                    on_batch(run, feed)
            run.tick(clock.now_ns())
            if deadline is not None and clock.now_ns() >= deadline:
                break
    finally:
        feed_stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(feed_task, 10)
        # What arrived but was not processed is not acknowledged: it is dropped, and a
        # restart records the outage from the last processed input as a feed gap.
        gc.unfreeze()
    outage = feed.open_outage(clock.now_ns())
    if outage is not None:  # stopped while the feed was down: the log says so
        run.process_items([outage], None)
    if router is not None:  # the orders in flight end (and are reported) before the stop
        await router.close()
        if reports:
            run.process_reports(list(reports))
    alert_counts = await alerter.close(alert_task) if alerter is not None else None
    report = run.close()
    if alert_counts is not None:
        report["alerts"] = alert_counts
    RUN_LOG.info("%s run %s stopped: %d ticks, %d trades closed, %d open", run.mode, run.run_id,
                 report["ticks_processed"], report["trades"], report["open_positions"])  # fmt: skip
    h = feed.health
    report["feed"] = {"url": feed_cfg.display_url, "connected": feed.ever_connected,
                      "frames": h.frames, "ticks": h.ticks, "problems": h.problems,
                      "reconnects": h.reconnects, "last_error": h.last_error}  # fmt: skip
    return report


def _report_reload(result: ReloadResult) -> None:
    """Log what a reload did (the store keeps it as events)."""
    for change in result.changes:
        RELOAD_LOG.info("config reload: %s", change)
    for why in result.refused:
        RELOAD_LOG.warning("config reload refused: %s", why)
    if not result.changes and not result.refused:
        RELOAD_LOG.info("config reload: no parameter or condition changed")


def feed_failure(report: dict[str, Any]) -> str | None:
    """Why a paper run's intent clearly failed, in one line, or None if it did not.

    A run whose feed never connected, or whose every frame was quarantined, processed
    nothing the user asked for: it is reported, and the command exits non-zero.
    """
    feed = report.get("feed") or {}
    if not feed.get("connected", True):
        why = feed.get("last_error") or "no answer"
        return f"the feed at {feed.get('url')} never connected ({why}); nothing was traded"
    frames, ticks, problems = feed.get("frames", 0), feed.get("ticks", 0), feed.get("problems", 0)
    if frames and not ticks and problems:
        return (
            f"every one of {frames:,} frames from {feed.get('url')} was quarantined "
            f"({problems:,} problems, see the quarantine family); nothing was traded"
        )
    return None


def _held_addresses(run: LiveRun) -> set[str]:
    """Mint addresses of the open positions (their curves are watched)."""
    st = run.kernel.state
    ids = st.pos_i[st.pos_i[:, PI_ACTIVE] == 1, PI_MINT].tolist()
    return {run.by_id[m] for m in ids if m in run.by_id}


def replay_inputs(run: LiveRun, source: EventStore, inputs_of: str) -> dict[str, Any]:
    """Run another run's recorded inputs, batch by batch, through `run`; its report."""
    return replay_batches(run, recorded_batches(source, inputs_of))


def install_stop_signals(stop: asyncio.Event) -> None:
    """SIGINT / SIGTERM set `stop`: the loop flushes, rolls and reports, then exits.

    Unlike the batch commands, a live run's stop *is* a commit (what was acknowledged
    is rolled into the store), so these handlers do not raise a stop request; a request
    made before the loop started (Ctrl-C during start-up) stops it at once.
    """
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # not on every platform
            loop.add_signal_handler(sig, stop.set)
    if interrupts.requested():
        stop.set()


def install_reload_signal(reload_now: asyncio.Event, wake: Callable[[], None]) -> None:
    """SIGHUP forces a reload of the strategy file at the loop's next turn."""
    loop = asyncio.get_running_loop()

    def hup() -> None:
        reload_now.set()
        wake()

    with contextlib.suppress(NotImplementedError, AttributeError):  # no SIGHUP on Windows
        loop.add_signal_handler(signal.SIGHUP, hup)


def run_async(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run`, then the CLI's cooperative stop handlers back in place.

    The event loop's signal handlers are removed when it closes, which leaves Python's
    defaults; the work after the loop (the report) must still stop cleanly.
    """
    try:
        return asyncio.run(main)
    finally:
        if interrupts.installed():
            interrupts.install_handlers()


@dataclass(frozen=True)
class LiveVenue:
    """Live mode's wiring: the key file and whether to rehearse (dry run) or trade."""

    keypair: Path
    dry_run: bool = False


def live_days(store: EventStore) -> float:
    """Days since this store's first live order (0 before any): the size schedule's age."""
    ((first,),) = store.con.execute(
        "SELECT min(ts_ns) FROM venue_orders WHERE status <> 'dry_run'"
    ).fetchall()
    return 0.0 if first is None else (time.time_ns() - int(first)) / 86_400e9


def guarded(strategy: StrategyConfig, venue: VenueSettings, days: float,
            wallet_lamports: int) -> StrategyConfig:  # fmt: skip
    """The strategy as live mode may run it (the real-money guard).

    Sizes under the schedule's cap, the daily loss under the limit, and the wallet's
    SOL as the initial cash (the chain is the truth).
    """
    v = strategy.vector()
    cap = venue.cap_after(days)
    params = {
        **strategy.params,
        "max_position_sol": min(float(v[P.MAX_POSITION_SOL]), cap),
        "min_position_sol": min(float(v[P.MIN_POSITION_SOL]), cap),
        "max_daily_loss_sol": min(float(v[P.MAX_DAILY_LOSS_SOL]), venue.daily_loss_limit_sol),
        "initial_cash_sol": wallet_lamports / 1e9,
    }
    return strategy.model_copy(update={"params": params})


def run_paper_blocking(
    store: EventStore,
    run_id: str,
    strategy: StrategyConfig,
    settings: RunSettings,
    *,
    duration_s: float | None,
    status: bool,
    on_started: Callable[[LiveRun], None] | None = None,
    reload: StrategyReload | None = None,
    strategist: Strategist | None = None,
    live: LiveVenue | None = None,
) -> dict[str, Any]:
    """`clanka run --mode paper` (or live, with `live`): build the run, loop, report.

    `on_started` is told once the run is this process's (locked, recovered). Live mode
    loads the signer first (a refused key file stops here), then runs the strategy as
    `guarded` makes it (a resumed run keeps the values it started with).
    """
    clock = WallClock()
    signer = Signer.from_file(live.keypair) if live is not None else None
    mode = "paper" if live is None else ("dry-run" if live.dry_run else "live")
    if live is not None and signer is not None:
        resumed = run_strategy(store, run_id)
        if resumed is not None:
            strategy = strategy.model_copy(update={"params": resumed.params})
        else:
            wallet = run_async(_balance(settings.venue, signer))
            strategy = guarded(strategy, settings.venue, live_days(store), wallet)
    run = LiveRun(store, run_id, strategy, settings.live, mode=mode, now_ns=clock.now_ns,
                  strategist=strategist,
                  external_venue=live is not None and not live.dry_run)  # fmt: skip
    if on_started is not None:
        on_started(run)

    async def main() -> dict[str, Any]:
        stop = asyncio.Event()
        install_stop_signals(stop)
        async with contextlib.AsyncExitStack() as stack:
            venue: Executor | None = None
            if live is not None and signer is not None:
                http = await stack.enter_async_context(httpx.AsyncClient())
                chain = ChainClient(settings.venue.rpc_url.get_secret_value(),
                                    poll_s=settings.venue.confirm_poll_s)  # fmt: skip
                stack.push_async_callback(chain.close)
                venue = Executor(JupiterClient(settings.venue.jupiter, http), chain, signer,
                                 settings.venue.limits)  # fmt: skip
            kw: dict[str, Any] = {"reload": reload, "alerts": settings.alerts, "venue": venue,
                                  "dry_run": live is not None and live.dry_run}  # fmt: skip
            if not status:
                return await run_paper(run, settings.feed, clock, duration_s=duration_s,
                                       stop=stop, **kw)  # fmt: skip
            from replay.live.status import StatusView

            with StatusView(sys.stderr) as view:
                return await run_paper(run, settings.feed, clock, duration_s=duration_s,
                                       stop=stop, on_batch=view.update, **kw)  # fmt: skip

    return run_async(main())


async def _balance(venue: VenueSettings, signer: Signer) -> int:
    chain = ChainClient(venue.rpc_url.get_secret_value())
    try:
        return await chain.balance(signer.pubkey)
    finally:
        await chain.close()
