"""`clanka sweep` and `clanka sweep report`: many parameter sets, ranked, and a page."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from data import interrupts
from data.errors import StopRequestedError, StoreFullError
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
    mint_ids_of,
    out,
    print_json,
    progress_bar,
    store_path,
    strategy_from,
    sweep_app,
    time_range,
    user_errors,
)
from replay.sweep.limits import MAX_SETS


@sweep_app.callback(invoke_without_command=True)
@user_errors
def sweep(
    ctx: typer.Context,
    grid: Annotated[
        list[str] | None,
        typer.Option(
            "--grid",
            help="A swept parameter: name=lo:hi:step or name=v1,v2 "
            "(repeatable; every combination runs).",
        ),
    ] = None,
    random_n: Annotated[
        int | None,
        typer.Option("--random", help="Draw this many sets from --space instead.", min=1),
    ] = None,
    space: Annotated[
        Path | None,
        typer.Option(
            help="Search space TOML for --random: [name] with lo/hi (log, integer) or values."
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the --random draws.")] = 0,
    walk_forward_: Annotated[
        str | None,
        typer.Option(
            "--walk-forward",
            help="TRAIN_DAYS:TEST_DAYS: pick the best set on each "
            "train window, score it on the days after (out of sample).",
        ),
    ] = None,
    store: StoreOpt = None,
    from_: FromOpt = None,
    to: ToOpt = None,
    mints: MintsOpt = None,
    strategy: StrategyOpt = "momentum_breakout",
    config: ConfigOpt = None,
    set_: SetOpt = None,
    entry: EntryOpt = None,
    top: Annotated[int, typer.Option(help="Rows to print, best first.", min=1)] = 10,
    sort: Annotated[str, typer.Option(help="Metric to rank by.")] = "realized_pnl_sol",
    chunk_size: Annotated[
        int, typer.Option(help="Sets per pass over the data (and per commit).", min=1)
    ] = 16,
    executor: Annotated[
        str, typer.Option(help="local (threads here) or dask (a cluster of processes).")
    ] = "local",
    scheduler: Annotated[
        str | None,
        typer.Option(
            help="Dask scheduler address, e.g. tcp://host:8786 [default: start a "
            "LocalCluster]; its workers must see the store at the same path."
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            help="local: threads; dask LocalCluster: worker processes [default: every core].", min=1
        ),
    ] = None,
    processes: Annotated[
        int,
        typer.Option(
            help="local: chunks in this many processes, the cores shared out as threads.", min=1
        ),
    ] = 1,
    scheduler_timeout: Annotated[
        float, typer.Option(help="Seconds to wait for --scheduler to answer.", min=0.1)
    ] = 10.0,
    max_sets: Annotated[
        int, typer.Option(help="Refuse sweeps of more parameter sets than this.", min=1)
    ] = MAX_SETS,
    strategist: StrategistOpt = None,
    llm_host: StrategistHostOpt = None,
    llm_model: StrategistModelOpt = None,
    learning: LearningOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run every combination of --grid (or --random draws) through the kernel; rank them.

    One pass over the data evaluates a chunk of sets in parallel (one thread per core),
    each chunk's metrics are appended to the `sweeps` family under a sweep id, and the
    same command run again resumes an interrupted sweep at its first missing chunk.
    With --strategist recorded or live, or --learning observe or on, each set is a
    replay with its own strategist and learning loop (they read its own trades), one
    set after another.
    """
    if ctx.invoked_subcommand is not None:
        return
    from replay.cli.embedded_llm import llm_host as resolved

    # Started for --llm-host embedded, stopped when the command's context closes.
    host = ctx.with_resource(resolved(llm_host if strategist == "live" else None))
    strat = strategy_from(strategy, config, entry, set_, validate=False)  # per set, below
    import numba

    from data.store import open_store
    from replay.cli.render import render_sweep, render_walk_forward
    from replay.sweep.grid import grid_sets, parse_grid, random_sets
    from replay.sweep.results import METRIC_KEYS, finished_chunks, sweep_id_for
    from replay.sweep.run import run_sweep
    from replay.sweep.walkforward import parse_walk_forward, walk_forward

    if sort not in METRIC_KEYS:
        raise ValueError(f"--sort {sort!r}: choose one of {', '.join(METRIC_KEYS)}")
    if bool(grid) == (random_n is not None):
        raise ValueError("give either --grid ... or --random N --space FILE.toml")
    if random_n is not None:
        if space is None:
            raise ValueError("--random needs --space FILE.toml")
        if random_n > max_sets:
            raise ValueError(f"--random {random_n:,} is more than --max-sets {max_sets:,}")
        sets = random_sets(strat, space, random_n, seed)
    else:
        sets = grid_sets(strat, parse_grid(grid or [], max_sets))
    cores = numba.config.NUMBA_NUM_THREADS  # type: ignore[attr-defined]
    if executor == "local" and workers is not None:
        numba.set_num_threads(min(workers, cores))
    start, end = time_range(from_, to)
    st = open_store(store_path(store))
    from replay.cli.strategist_opts import learning_for, strategist_for

    strat, _ = strategist_for(strat, strategist, host, llm_model, st)
    strat, _ = learning_for(strat, learning)
    mint_ids = mint_ids_of(st, mints)
    if executor == "local":
        announce_compile("sweep")
    if walk_forward_ is not None:
        train_days, test_days = parse_walk_forward(walk_forward_)
        with progress_bar(sys.stderr.isatty()) as prog:
            task = prog.add_task("walk-forward windows", total=None)
            rows = walk_forward(
                st, strat, sets, train_days, test_days, sort, start_ts=start, end_ts=end,
                mint_ids=mint_ids,
                run_kwargs={"chunk_size": chunk_size, "executor": executor,
                            "scheduler": scheduler, "workers": workers or cores,
                            "processes": processes, "scheduler_timeout_s": scheduler_timeout},
                on_window=lambda k, n: prog.update(task, completed=k, total=n),
            )  # fmt: skip
        wf = {"train_days": train_days, "test_days": test_days, "sort": sort, "sets": len(sets),
              "windows": rows}  # fmt: skip
        if as_json:
            print_json(wf)
        else:
            render_walk_forward(out, wf)
        return
    with progress_bar(sys.stderr.isatty(), eta=True) as prog:
        task = prog.add_task(f"sweeping {len(sets)} sets of {strat.name}", total=None)
        try:
            result = run_sweep(
                st, strat, sets, start_ts=start, end_ts=end, mint_ids=mint_ids,
                chunk_size=chunk_size, executor=executor, scheduler=scheduler,
                workers=workers or cores, processes=processes,
                scheduler_timeout_s=scheduler_timeout,
                progress=lambda done, total: prog.update(task, completed=done, total=total),
            )  # fmt: skip
        except (StopRequestedError, StoreFullError, KeyboardInterrupt) as exc:
            sid = sweep_id_for(st, strat, sets, start, end, mint_ids)
            n_chunks = -(-len(sets) // chunk_size)
            kept = len(finished_chunks(st, sid))
            where = (
                f"{kept} of {n_chunks} chunks of sweep {sid} are in the store, the chunk(s) "
                "under way were not committed; the same command resumes it"
            )
            if isinstance(exc, StoreFullError):
                raise StoreFullError(f"disk full writing to store {st.root}: {where}") from None
            signum = getattr(exc, "signum", 0) or interrupts.requested() or 2
            raise StopRequestedError(f"interrupted; {where}", signum) from None
    ranked = sorted(result.rows, key=lambda r: (r[sort] is None, -(r[sort] or 0.0)))
    doc = {
        "sweep_id": result.sweep_id, "sets": result.n_sets, "chunks": result.chunks,
        "chunks_run": result.chunks_run, "sort": sort, "top": ranked[:top],
    }  # fmt: skip
    if as_json:
        print_json(doc)
    else:
        render_sweep(out, doc)


@sweep_app.command("report")
@user_errors
def sweep_report(
    sweep_id: Annotated[
        str,
        typer.Argument(help="The sweep (its id is printed by clanka sweep).", metavar="SWEEP_ID"),
    ],
    html: Annotated[Path, typer.Option("--html", help="Where to write the HTML page.")],
    store: StoreOpt = None,
    top: Annotated[int, typer.Option(help="Best sets to re-run and chart.", min=1)] = 5,
    sort: Annotated[str, typer.Option(help="Metric to rank by.")] = "realized_pnl_sol",
    x: Annotated[
        str | None, typer.Option(help="Heatmap x parameter [default: first swept].")
    ] = None,
    y: Annotated[
        str | None, typer.Option(help="Heatmap y parameter [default: second swept].")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Write a self-contained HTML report: leaderboard, heatmap, best sets' equity.

    The best sets are re-run through replay, so their events land in the store as
    ordinary runs (their run ids are printed).
    """
    from data.store import open_store
    from replay.sweep.html import build_report

    st = open_store(store_path(store))
    doc = build_report(st, sweep_id, html, top=top, sort=sort, x=x, y=y)
    if as_json:
        print_json(doc)
    else:
        runs = ", ".join(f"set {r['set_index']}: {r['run_id']}" for r in doc["best_runs"])
        out.print(
            f"wrote {doc['html']} ({doc['sets']} sets); re-ran the best "
            f"{len(doc['best_runs'])} and appended their runs to the store: {runs}"
        )
