"""`clanka run`, `clanka feed serve|record` and `clanka verify parity`: the live half.

Registered on the app by importing it (`replay.cli.main`). Like every command, results go to
stdout and progress / status to stderr; expected failures print one line.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import secrets
import sys
import time
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from data.errors import StoreError
from replay.cli.common import (
    ConfigOpt,
    EntryOpt,
    FromOpt,
    JsonOpt,
    LearningOpt,
    MintsOpt,
    SetOpt,
    StoreOpt,
    StrategistHostOpt,
    StrategistModelOpt,
    StrategistOpt,
    StrategyOpt,
    announce_compile,
    app,
    err,
    escape,
    mint_ids_of,
    out,
    print_json,
    store_path,
    strategy_from,
    time_range,
    user_errors,
)

if TYPE_CHECKING:  # the feed, the store and the kernel load inside the commands
    from data.feed.client import FeedConfig
    from data.feed.wire import FeedItem
    from replay.live.paper import RunSettings
    from replay.live.run import LiveRun

feed_app = typer.Typer(
    help="Live feeds: serve a store as a Solana websocket feed, or record one.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(feed_app, name="feed")
verify_app = typer.Typer(
    help="Check a run against a replay of its own log.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(verify_app, name="verify")

API_KEY_ENV = "CLANKA_FEED_API_KEY"
ALERT_SECRET_ENV = (
    ("telegram", "bot_token", "CLANKA_TELEGRAM_BOT_TOKEN"),
    ("discord", "webhook_url", "CLANKA_DISCORD_WEBHOOK_URL"),
)
"""Alert secrets the environment may supply for a channel the settings file names."""


def run_settings(path: Path | None, feed_url: str | None) -> RunSettings:
    """`--settings FILE.toml` ([feed], [live]), then --feed, then the key from the env."""
    from replay.live.paper import RunSettings

    doc: dict[str, Any] = {}
    if path is not None:
        try:
            doc = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ValueError(f"--settings {path}: {exc}") from None
    feed = dict(doc.get("feed", {}))
    if feed_url is not None:
        feed["url"] = feed_url
    if os.environ.get(API_KEY_ENV) and "api_key" not in feed:
        feed["api_key"] = os.environ[API_KEY_ENV]
    venue = dict(doc.get("venue", {}))
    if os.environ.get("CLANKA_RPC_URL"):
        venue["rpc_url"] = os.environ["CLANKA_RPC_URL"]
    if os.environ.get("CLANKA_JUPITER_API_KEY"):
        venue["jupiter"] = {**venue.get("jupiter", {}),
                            "api_key": os.environ["CLANKA_JUPITER_API_KEY"]}  # fmt: skip
    alerts = dict(doc.get("alerts", {}))
    for table, key, env in ALERT_SECRET_ENV:
        if os.environ.get(env) and table in alerts and key not in alerts[table]:
            alerts[table] = {**alerts[table], key: os.environ[env]}
    settings = RunSettings.model_validate({**doc, "feed": feed, "alerts": alerts,
                                           "venue": venue})  # fmt: skip
    from replay.cli import logs

    if settings.feed.api_key is not None:
        logs.redact(settings.feed.api_key.get_secret_value())  # from a settings file too
    for secret in settings.alerts.secrets():
        logs.redact(secret)
    logs.redact(settings.venue.rpc_url.get_secret_value())
    if settings.venue.jupiter.api_key is not None:
        logs.redact(settings.venue.jupiter.api_key.get_secret_value())
    return settings


def _new_run_id(mode: str) -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    return f"{mode}-{stamp}-{secrets.token_hex(3)}"


def _strategy_file(strategy: str, config: Path | None) -> Path | None:
    """The strategy TOML a paper run watches: --config, or --strategy given as a path."""
    if config is not None:
        return config
    path = Path(strategy)
    return path if path.suffix == ".toml" and path.is_file() else None


@app.command("run")
@user_errors
def run_cmd(
    mode: Annotated[
        str,
        typer.Option(
            help="paper (live feed, simulated fills), live (real swaps through "
            "Jupiter; see the README's operations section) or replay."
        ),
    ] = "paper",
    feed: Annotated[
        str | None, typer.Option(help="Feed websocket URL (paper) [default: settings file].")
    ] = None,
    store: StoreOpt = None,
    strategy: StrategyOpt = "momentum_breakout",
    config: ConfigOpt = None,
    set_: SetOpt = None,
    entry: EntryOpt = None,
    settings: Annotated[
        Path | None, typer.Option(help="TOML with [feed] and [live] tables (see README).")
    ] = None,
    duration: Annotated[
        float | None,
        typer.Option(help="Stop after this many seconds [default: at Ctrl-C].", min=0.001),
    ] = None,
    run_id: Annotated[
        str | None,
        typer.Option(help="Run id; an existing one is recovered and continued [default: new]."),
    ] = None,
    inputs_of: Annotated[
        str | None,
        typer.Option(help="replay: process this live run's recorded inputs, in its batches."),
    ] = None,
    status: Annotated[
        bool | None, typer.Option(help="Live status view on stderr [default: if a terminal].")
    ] = None,
    strategist: StrategistOpt = None,
    strategist_host: StrategistHostOpt = None,
    strategist_model: StrategistModelOpt = None,
    learning: LearningOpt = None,
    clock: Annotated[
        str | None,
        typer.Option(
            help="paper: wall (receive time) or chain (the trades' own timestamps, "
            "for a recorded feed played faster) [default: the settings', else wall]."
        ),
    ] = None,
    keypair: Annotated[
        Path | None,
        typer.Option(help="live: the wallet's keypair file (solana-keygen JSON, mode 0600)."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="live: quote and check every order, send nothing.")
    ] = False,
    confirm_real_money: Annotated[
        bool,
        typer.Option(
            "--confirm-real-money", help="live: yes, send real swaps with this wallet's real money."
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Run the kernel in a mode: paper on a live feed, or replay from the store.

    Paper mode logs every batch through a write-ahead file, survives kill -9 (restart
    with the same --run-id), stops cleanly on Ctrl-C / SIGTERM and prints the report
    with the latency from frame receipt to the decision logged. With --strategist live
    the LLM strategist is asked on a worker thread at each due time; its answers are
    logged among the run's inputs, so `clanka verify parity` replays them exactly.
    With --learning observe|on the learning loop reviews, reflects and (on) adapts in
    event time; its changes are logged among the inputs too, and its events are
    checked by `clanka verify parity` like the decisions.
    """
    from data.store import open_store
    from replay.cli.render import render_report
    from replay.cli.strategist_opts import learning_for, strategist_for
    from replay.core.runner import run_replay
    from replay.live.paper import feed_failure, replay_inputs, run_paper_blocking
    from replay.live.reload import StrategyReload
    from replay.live.run import LiveRun, run_external_venue, run_strategy

    st = open_store(store_path(store), create=mode in ("paper", "live"))
    announce_compile("step")
    if mode == "replay" and inputs_of is None:
        strat, learns = learning_for(strategy_from(strategy, config, entry, set_), learning)
        strat, asker = strategist_for(strat, strategist, strategist_host, strategist_model, st)
        result = run_replay(st, strat, strat.vector(), strategist=asker, learning=learns)
        report: dict[str, Any] = {**result.report, "mode": "replay"}
    elif mode == "replay":
        assert inputs_of is not None
        strat = run_strategy(st, inputs_of) or strategy_from(strategy, config, entry, set_)
        rid = run_id or f"{inputs_of[:40]}-replay-{secrets.token_hex(3)}"
        external = run_external_venue(st, inputs_of)
        live = LiveRun(st, rid, strat, run_settings(settings, None).live, mode="replay",
                       replaying=True, external_venue=external)  # fmt: skip
        report = replay_inputs(live, st, inputs_of)
    elif mode in ("paper", "live"):
        from replay.cli import logs
        from replay.live.paper import LiveVenue

        wallet: LiveVenue | None = None
        if mode == "live":
            if keypair is None:
                raise ValueError("--mode live needs --keypair FILE (the wallet that trades)")
            if not dry_run and not confirm_real_money:
                raise ValueError("--mode live sends real swaps with real money: add "
                                 "--confirm-real-money, or rehearse with --dry-run")  # fmt: skip
            wallet = LiveVenue(keypair, dry_run)

        logs.raise_default("INFO")  # a long-running service narrates what it does
        strat, _ = learning_for(strategy_from(strategy, config, entry, set_), learning)
        cfg = run_settings(settings, feed)
        if clock is not None:
            if clock not in ("wall", "chain"):
                raise ValueError(f"--clock {clock!r}: choose wall or chain")
            cfg = cfg.model_copy(update={"live": cfg.live.model_copy(update={"clock": clock})})
        rid = run_id or _new_run_id(mode)
        show = sys.stderr.isatty() if status is None else status

        def started(run: LiveRun) -> None:
            again = (
                f", {run.recovered_batches:,} batches recovered" if run.recovered_batches else ""
            )
            what = run.mode + " run"
            err.print(f"{what} {rid} on {cfg.feed.display_url}{again}", highlight=False,
                      markup=False)  # fmt: skip

        watched = _strategy_file(strategy, config)
        reload = StrategyReload(watched, lambda: strategy_from(strategy, config, entry, set_),
                                strat)  # fmt: skip
        from replay.cli.embedded_llm import llm_host

        with llm_host(strategist_host if strategist == "live" else None) as host:
            strat, asker = strategist_for(strat, strategist, host, strategist_model, st)
            report = run_paper_blocking(st, rid, strat, cfg, duration_s=duration, status=show,
                                        on_started=started, reload=reload,
                                        strategist=asker, live=wallet)  # fmt: skip
    else:
        raise ValueError(f"--mode {mode!r}: use paper, live or replay")
    if as_json:
        print_json(report)
    else:
        render_report(out, strat.name, report)
        lat = report.get("latency_us")
        if lat and lat.get("p50") is not None:
            out.print(f"frame receipt -> decision logged: p50 {lat['p50']} us, p99 {lat['p99']} us "
                      f"over {lat['batches']} batches", highlight=False)  # fmt: skip
            msg = report.get("latency_per_message_us") or {}
            if msg.get("p50") is not None:
                out.print(f"  per message (frames that queued counted one by one): p50 "
                          f"{msg['p50']} us, p99 {msg['p99']} us over {msg['messages']} messages",
                          highlight=False)  # fmt: skip
    failure = feed_failure(report) if mode in ("paper", "live") else None
    if failure is not None:
        err.print(f"[red]error:[/red] {escape(failure)}", highlight=False)
        raise typer.Exit(1)


@verify_app.command("parity")
@user_errors
def verify_parity(
    run: Annotated[str, typer.Argument(help="A live (paper) run id.", metavar="RUN_ID")],
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Replay a run's recorded inputs through --mode replay; compare events one by one.

    Decisions, orders, fills, positions, breaker events and controls must match field
    for field in the same order; the first difference is printed and the exit code is 1.
    """
    from data.store import open_store
    from replay.live.paper import RunSettings, replay_inputs
    from replay.live.run import (
        LiveRun,
        first_difference,
        learning_difference,
        logged_tables,
        run_external_venue,
        run_strategy,
    )

    st = open_store(store_path(store))
    announce_compile("step")
    strat = run_strategy(st, run)
    if strat is None:
        raise ValueError(f"no run {run!r} in this store")
    rid = f"{run[:40]}-parity-{secrets.token_hex(3)}"
    live = LiveRun(st, rid, strat, RunSettings().live, mode="replay", replaying=True,
                   external_venue=run_external_venue(st, run))  # fmt: skip
    replay_inputs(live, st, run)
    a, b = logged_tables(st, run), logged_tables(st, rid)
    n_a = sum(t.num_rows for t in a.values())
    n_b = sum(t.num_rows for t in b.values())
    if n_a == 0 and n_b == 0:
        ((n_in,),) = st.con.execute(
            "SELECT count(*) FROM feed_inputs WHERE source = ?", [run]
        ).fetchall()
        raise StoreError(
            f"run {run} logged no decisions, orders, fills, positions or breaker events "
            f"({n_in:,} inputs): there is nothing to compare, so nothing was verified"
        )
    diff = first_difference(a, b)
    learned, learn_diff = learning_difference(st, run, rid)
    diff = diff or learn_diff
    doc = {"run_id": run, "replay_run_id": rid, "events": n_a, "replay_events": n_b,
           "learning_events": learned, "differences": 0 if diff is None else 1,
           "first_difference": diff, "by_family": {k: a[k].num_rows for k in a}}  # fmt: skip
    if as_json:
        print_json(doc)
    elif diff is None:
        fams = ", ".join(f"{k} {v}" for k, v in doc["by_family"].items())
        also = f" and {learned} learning events" if learned else ""
        out.print(f"parity: 0 differences over {n_a} events ({fams}){also}; replay run {rid}",
                  highlight=False)  # fmt: skip
    else:
        out.print(f"parity: runs differ; first difference: {diff}", highlight=False)
    if diff is not None:
        raise typer.Exit(1)


@verify_app.command("paper")
@user_errors
def verify_paper(
    run: Annotated[str, typer.Argument(help="A live run id.", metavar="RUN_ID")],
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """What the simulated venue would have done on a live run's own feed: where they part.

    Replays the live run's market inputs (its venue's answers left out) on the simulated
    venue as a paper run of its own, then lists both runs' decisions side by side: the
    decisions they share, the first one that differs, each order's fill in both, and
    whether the first difference came after a venue answer that differed (exit code 1
    if not: something other than the venue moved the decisions). The twin stays in the
    store as RUN_ID-paper-XXXXXX, for `clanka report` and `clanka execution`.
    """
    from data.store import open_store
    from replay.cli.render import render_paper_twin
    from replay.live.paper_twin import compare_to_twin, run_paper_twin

    st = open_store(store_path(store))
    announce_compile("step")
    twin = run_paper_twin(st, run)
    doc = compare_to_twin(st, run, twin)
    if as_json:
        print_json(doc)
    else:
        render_paper_twin(out, doc)
    if not doc["explained_by_venue"]:
        raise typer.Exit(1)


@feed_app.command("serve")
@user_errors
def feed_serve(
    from_store: Annotated[Path, typer.Option("--from-store", help="Store whose ticks to play.")],
    speed: Annotated[
        float, typer.Option(help="Times real time; 0 = as fast as possible.", min=0.0)
    ] = 1.0,
    port: Annotated[
        int, typer.Option(help="Port on 127.0.0.1 (0: any free one).", min=0, max=65535)
    ] = 8900,
    from_: FromOpt = None,
    to: Annotated[str | None, typer.Option("--to", help="End, exclusive (ISO 8601, UTC).")] = None,
    mints: MintsOpt = None,
    drop_after: Annotated[
        int | None,
        typer.Option(
            help="Cut every connection once after N notifications (outage drills).", min=1
        ),
    ] = None,
) -> None:
    """Serve a store's ticks as Solana websocket notifications (pump.fun logs, curves).

    Clients subscribe with logsSubscribe (mentions the pump.fun program) and
    accountSubscribe (a mint's bonding curve), exactly as with a public RPC node.
    Runs until the tape has played or Ctrl-C.
    """
    from data.feed.server import serve_store
    from data.store import open_store
    from replay.live.paper import install_stop_signals, run_async

    st = open_store(from_store)
    start, end = time_range(from_, to)
    mint_ids = mint_ids_of(st, mints)

    def ready(bound: int, ticks: int, mints_n: int) -> None:
        err.print(f"serving {ticks:,} ticks of {mints_n} mints on ws://127.0.0.1:{bound} "
                  f"(speed {speed:g}x)", highlight=False)  # fmt: skip

    async def main() -> Any:
        stop = asyncio.Event()
        install_stop_signals(stop)
        return await serve_store(st, speed=speed, port=port, start_ts=start, end_ts=end,
                                 mint_ids=mint_ids, stop=stop, on_ready=ready,
                                 drop_after=drop_after)  # fmt: skip

    srv = run_async(main())
    err.print(f"played {srv.played:,} ticks, sent {srv.sent:,} notifications", highlight=False)


@feed_app.command("record")
@user_errors
def feed_record(
    url: Annotated[
        str, typer.Argument(help="Feed websocket URL ({api_key} is filled in).", metavar="URL")
    ],
    store: StoreOpt = None,
    duration: Annotated[
        float | None,
        typer.Option(help="Stop after this many seconds [default: Ctrl-C].", min=0.001),
    ] = None,
    settings: Annotated[Path | None, typer.Option(help="TOML with a [feed] table.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Record a live feed into the store: raw frames, decoded ticks, problems and gaps.

    Frames land in `feed_frames`, ticks in `ticks` (source `feed-record`, ts = receive
    time), problems in `quarantine`, outages in `feed_gaps`, so a recording can be
    replayed or served again.
    """
    from data.store import open_store
    from replay.live.paper import run_async

    cfg = run_settings(settings, url).feed
    st = open_store(store_path(store), create=True)
    counts = run_async(_record(st, cfg, duration))
    if as_json:
        print_json(counts)
    else:
        out.print(f"recorded {counts['frames']:,} frames, {counts['ticks']:,} ticks, "
                  f"{counts['problems']:,} quarantined, {counts['gaps']} gaps from "
                  f"{cfg.display_url}", highlight=False)  # fmt: skip


async def _record(st: Any, cfg: FeedConfig, duration: float | None) -> dict[str, int]:
    """Collect frames and feed items; append them every second in one transaction."""
    from data.feed.client import PumpFunFeed, WallClock
    from replay.live.paper import install_stop_signals

    clock = WallClock()
    items: list[FeedItem] = []
    frames: list[tuple[int, str]] = []
    feed = PumpFunFeed(cfg.model_copy(update={"watch_curves": False}), clock, items.append,
                       raw_sink=lambda ts, text: frames.append((ts, text)))  # fmt: skip
    stop = asyncio.Event()
    install_stop_signals(stop)
    task = asyncio.create_task(feed.run(stop))
    counts = {"frames": 0, "ticks": 0, "problems": 0, "gaps": 0}
    t_end = time.monotonic() + duration if duration is not None else None
    while not stop.is_set():
        wait = 1.0 if t_end is None else max(0.0, min(1.0, t_end - time.monotonic()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), wait)
        _append_recorded(st, _take(frames), _take(items), counts)
        if t_end is not None and time.monotonic() >= t_end:
            stop.set()
    await task
    _append_recorded(st, _take(frames), _take(items), counts)
    return counts


def _take(xs: list[Any]) -> list[Any]:
    out = list(xs)
    xs.clear()
    return out


def _append_recorded(
    st: Any, frames: list[tuple[int, str]], batch: list[FeedItem], counts: dict[str, int]
) -> None:
    from data.feed.wire import FeedGap, FeedProblem, FeedTick
    from data.mints import MintSpec

    ticks = [b for b in batch if isinstance(b, FeedTick)]
    problems = [b for b in batch if isinstance(b, FeedProblem)]
    gaps = [b for b in batch if isinstance(b, FeedGap)]
    if not batch and not frames:
        return
    with st.transaction() as tx:
        if frames:
            tx.append("feed_frames", {"ts_ns": [f[0] for f in frames],
                                      "frame": [f[1] for f in frames]},
                      source="feed-record")  # fmt: skip
        if ticks:
            recs = tx.register_mints(
                [MintSpec(m, None, 6, "SOL") for m in sorted({t.mint for t in ticks})],
                source="feed-record", ts_ns=ticks[0].recv_ns,
            )  # fmt: skip
            tx.append("ticks", {
                "ts_ns": [t.recv_ns for t in ticks],
                "mint_id": [recs[t.mint].mint_id for t in ticks],
                "price": [t.price for t in ticks], "size": [t.size for t in ticks],
                "side": [t.side for t in ticks], "liquidity": [t.liquidity for t in ticks],
                "uid": [t.uid for t in ticks],
            }, source="feed-record")  # fmt: skip
        if problems:
            tx.append("quarantine", {
                "ts_ns": [p.recv_ns for p in problems],
                "recorded_ts_ns": [p.recv_ns for p in problems],
                "target_family": ["ticks"] * len(problems),
                "reason": [p.reason for p in problems],
                "detail": [p.detail for p in problems], "file": ["feed-record"] * len(problems),
                "row_no": [-1] * len(problems), "raw": [p.raw for p in problems],
            }, source="feed-record")  # fmt: skip
        if gaps:
            tx.append("feed_gaps", {
                "ts_ns": [g.start_ns for g in gaps], "end_ns": [g.end_ns for g in gaps],
                "attempts": [g.attempts for g in gaps], "reason": [g.reason for g in gaps],
            }, source="feed-record")  # fmt: skip
    counts["frames"] += len(frames)
    counts["ticks"] += len(ticks)
    counts["problems"] += len(problems)
    counts["gaps"] += len(gaps)
