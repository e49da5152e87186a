"""`clanka replay`, `clanka explain` and `clanka report`: runs, their trades, their pages.

A replay runs the store through the kernel; explain says why one trade happened; report
says what a run (replay, paper or live) adds up to, with charts.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

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
    ToOpt,
    announce_compile,
    app,
    mint_ids_of,
    out,
    print_json,
    progress_bar,
    scope_text,
    store_path,
    strategy_from,
    time_range,
    user_errors,
)
from replay.core.progress_fd import ProgressFd

if TYPE_CHECKING:
    from strategies.config import StrategyConfig
    from strategies.learning.settings import LearningSettings


@app.command()
@user_errors
def replay(
    store: StoreOpt = None,
    from_: FromOpt = None,
    to: ToOpt = None,
    mints: MintsOpt = None,
    strategy: StrategyOpt = "momentum_breakout",
    config: ConfigOpt = None,
    set_: SetOpt = None,
    entry: EntryOpt = None,
    strategist: StrategistOpt = None,
    strategist_host: StrategistHostOpt = None,
    strategist_model: StrategistModelOpt = None,
    learning: LearningOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Replay the store through the kernel, log every event under a new run id, report.

    The report covers trades, win rate, average return, realized and unrealized PnL,
    fees, slippage, max drawdown, Sharpe, hold time, exit reasons and the run's
    events_sha256 (same data and config, same hash). With --strategist live the LLM
    strategist is asked at each due time and its answers are recorded; --strategist
    recorded replays those answers (no model needed) and gives the same hash. With
    --learning observe|on every closed trade is reviewed at exit + review_horizon_s,
    matched against the pattern library, and reflected on hourly; 'on' also adapts
    parameters (see `clanka learn status`).
    """
    from replay.cli.strategist_opts import learning_for

    strat, learning_ = learning_for(strategy_from(strategy, config, entry, set_), learning)
    start, end = time_range(from_, to)
    from replay.cli.embedded_llm import llm_host

    with llm_host(strategist_host if strategist == "live" else None) as host:
        _replay(store, strat, start, end, mints, (strategist, host, strategist_model), as_json,
                (from_, to), learning_)  # fmt: skip


def _replay(
    store: Path | None,
    strat: StrategyConfig,
    start: int | None,
    end: int | None,
    mints: list[str] | None,
    llm: tuple[str | None, str | None, str | None],
    as_json: bool,
    scope: tuple[str | None, str | None],
    learning: LearningSettings | None = None,
) -> None:
    from data.store import open_store
    from replay.cli.render import render_report
    from replay.cli.strategist_opts import strategist_for
    from replay.core.runner import count_ticks, run_replay

    st = open_store(store_path(store))
    strat, strategist_ = strategist_for(strat, *llm, st)
    params = strat.vector()
    mint_ids = mint_ids_of(st, mints)
    total = count_ticks(st, start, end, mint_ids)
    if total == 0:
        raise StoreError(f"no ticks to replay {scope_text(st, *scope, mints)}; nothing was run")
    reporter = ProgressFd()
    announce_compile("step")

    def advanced(n: int) -> None:
        prog.update(task, completed=n)
        reporter.emit("replayed", ticks=n, total=total)

    with progress_bar(sys.stderr.isatty()) as prog:
        task = prog.add_task(f"replaying {strat.name}", total=total)
        result = run_replay(st, strat, params, start_ts=start, end_ts=end, mint_ids=mint_ids,
                            progress=advanced, strategist=strategist_,
                            learning=learning)  # fmt: skip
    if as_json:
        print_json(result.report)
    else:
        render_report(out, strat.name, result.report)


@app.command()
@user_errors
def explain(
    target: Annotated[
        str,
        typer.Argument(help="A trade (T12, trade:12 or 12) or a decision (D40).", metavar="TARGET"),
    ],
    run: Annotated[
        str | None, typer.Option("--run", help="Run id [default: the latest run].")
    ] = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Why a trade happened: its decision's scores and inputs, orders, fills, outcome."""
    from data.store import open_store
    from replay.cli.render import render_explain
    from replay.report.explain import explain as explain_target

    st = open_store(store_path(store))
    doc = explain_target(st, target, run)
    if as_json:
        print_json(doc)
    else:
        render_explain(out, doc)


@app.command("report")
@user_errors
def run_report(
    run_id: Annotated[
        str | None,
        typer.Argument(help="The run [default: the latest run].", metavar="[RUN_ID]"),
    ] = None,
    html: Annotated[
        Path | None, typer.Option("--html", help="Write the self-contained HTML page here.")
    ] = None,
    charts: Annotated[
        int, typer.Option(help="Price charts to draw: the most traded tokens first.", min=0)
    ] = 12,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One run's report from its events (replay, paper or live); --html: a page of charts.

    The page shows equity and drawdown, a price chart per traded token with entries,
    exits, stops and targets, every trade and why, exits, decisions, breakers, changes.
    """
    from data.store import open_store
    from replay.cli.render import render_run_summary
    from replay.report.run_data import load_run
    from replay.report.run_page import write_run_page

    st = open_store(store_path(store))
    data = load_run(st, run_id, max_charts=charts)
    if html is not None:
        write_run_page(data, html)
    doc = {"run_id": data.run_id, **{k: data.header[k] for k in ("strategy", "mode")},
           **data.summary, "html": None if html is None else str(html)}  # fmt: skip
    if as_json:
        print_json(doc)
        return
    render_run_summary(out, doc)
    if html is not None:
        out.print(f"wrote {html} ({len(data.trades)} trades, {len(data.charted_mints)} price "
                  "charts); open it in a browser", highlight=False)  # fmt: skip
    else:
        out.print(f"for charts: clanka report {data.run_id} --html report.html", highlight=False)
