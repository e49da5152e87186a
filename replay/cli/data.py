"""`clanka import`, `generate`, `sql` and `control`: getting events into a store and out."""

from __future__ import annotations

import datetime as dt
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from data import interrupts
from data.errors import ImportFileError, StopRequestedError
from data.names import VIEW_NAMES
from replay.cli.common import (
    JsonOpt,
    StoreOpt,
    app,
    err,
    escape,
    iso_ns,
    iso_text,
    out,
    print_json,
    progress_bar,
    store_path,
    user_errors,
)
from replay.core.progress_fd import ProgressFd

if TYPE_CHECKING:
    from data.importers import ImportReport
    from data.store import EventStore


@app.command("import")
@user_errors
def import_cmd(
    paths: Annotated[
        list[Path], typer.Argument(help="Parquet or CSV files to import.", metavar="PATH")
    ],
    store: StoreOpt = None,
    source: Annotated[
        str | None, typer.Option(help="Source name (partition) [default: from the file].")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Import market data files (formats are detected from their columns).

    Each file is validated row by row: bad rows go to the `quarantine` family with
    their reason; rows the store already has are skipped; the same file twice adds
    nothing.
    """
    from data.importers import import_file
    from data.schemas import check_source_name
    from data.store import open_store
    from replay.cli.render import render_import

    if source is not None:
        check_source_name(source)
    for p in paths:  # before the store is created: a typo must not leave an empty store
        if not p.is_file():
            raise ImportFileError(f"{p}: no such file" if not p.exists() else f"{p}: not a file")
    st = open_store(store_path(store), create=True)
    reports: list[ImportReport] = []
    reporter = ProgressFd()

    def phase(msg: str) -> None:
        prog.update(task, description=escape(msg))
        reporter.emit("import", phase=msg)

    with progress_bar(sys.stderr.isatty()) as prog:
        task = prog.add_task("importing", total=len(paths))
        for p in paths:
            try:
                rep = import_file(st, p, source=source, progress=phase)
            except (StopRequestedError, KeyboardInterrupt) as exc:
                done = ", ".join(r.file for r in reports)
                kept = f"{len(reports)} file(s) were imported before ({done}); " if done else ""
                signum = getattr(exc, "signum", 0) or interrupts.requested() or 2
                raise StopRequestedError(
                    f"interrupted; {kept}nothing of {p} was committed", signum
                ) from None
            reports.append(rep)
            prog.advance(task)
    if as_json:
        docs = [r.to_dict() for r in reports]
        print_json(docs[0] if len(docs) == 1 else docs)
    else:
        for r in reports:
            render_import(out, r)


@app.command()
@user_errors
def generate(
    store: StoreOpt = None,
    mints: Annotated[int, typer.Option(help="Number of token launches.")] = 200,
    hours: Annotated[float, typer.Option(help="Length of the market in hours.")] = 24.0,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same market).")] = 7,
    start: Annotated[str, typer.Option(help="UTC start, ISO 8601.")] = "2025-01-01T00:00:00Z",
    launches_until: Annotated[
        float, typer.Option(help="Launches come in this first share of the market (0-1].")
    ] = 0.75,
    drift: Annotated[
        Literal["none", "rug_traps"],
        typer.Option(help="rug_traps: from --drift-day on, thin pools rug on momentum buyers."),
    ] = "none",
    drift_day: Annotated[float, typer.Option(help="Days after --start the drift sets in.")] = 2.0,
    trap_below: Annotated[
        float, typer.Option(help="rug_traps: pools under this many SOL can be traps.")
    ] = 50.0,
    trap_chance: Annotated[
        float, typer.Option(help="rug_traps: the chance a thin pool's 5% rise is a trap.")
    ] = 0.5,
    as_json: JsonOpt = False,
) -> None:
    """Generate the built-in SYNTHETIC memecoin market into a store.

    Deterministic: the same options always give the same ticks, and running the
    same command twice adds nothing the second time. --drift rug_traps builds a market
    with a documented drift for `clanka validate learning`: before --drift-day it is the
    market without drift, tick for tick.
    """
    from data.generator.market import MarketParams, generate_into
    from data.store import open_store
    from replay.cli.render import render_generate

    params = MarketParams(
        mints=mints, hours=hours, seed=seed, start=dt.datetime.fromisoformat(start),
        launches_until=launches_until, drift=drift, drift_day=drift_day,
        trap_below=trap_below, trap_chance=trap_chance,
    )  # fmt: skip
    st = open_store(store_path(store), create=True)
    with err.status("generating synthetic market", spinner="dots") as status:
        rep = generate_into(st, params, progress=lambda m: status.update(m))
    if as_json:
        print_json(rep.to_dict())
    else:
        render_generate(out, rep)


@app.command(
    help="Run one read-only SQL query (DuckDB) over the store's views: "
    + ", ".join(VIEW_NAMES)
    + ". Only SELECT statements run, and only files inside the store can be read."
)
@user_errors
def sql(
    query: Annotated[
        str, typer.Argument(help="A DuckDB SELECT over the store's views.", metavar="QUERY")
    ],
    store: StoreOpt = None,
    limit: Annotated[int, typer.Option(help="Rows to print at most (0 = all).", min=0)] = 100,
    verify: Annotated[
        bool,
        typer.Option(
            help="Check the SHA-256 of every segment of the families the query reads first "
            "(DuckDB does not verify Parquet checksums; about 0.5 s per GB)."
        ),
    ] = True,
    as_json: JsonOpt = False,
) -> None:
    """Run one read-only query (the help text is built from the list of views)."""
    from data.store import open_store
    from replay.cli.render import render_sql

    st = open_store(store_path(store))
    tbl = _run_query(st, query, limit, verify)
    truncated = limit > 0 and tbl.num_rows > limit
    if truncated:
        tbl = tbl.slice(0, limit)
    if as_json:
        print_json({"columns": tbl.column_names, "rows": tbl.to_pylist(), "truncated": truncated})
    else:
        render_sql(out, tbl, truncated)


def _run_query(st: EventStore, query: str, limit: int, verify: bool) -> Any:
    """One sandboxed SELECT; Ctrl-C interrupts DuckDB, a segment retired meanwhile retries.

    A compaction by another process can retire a segment between the moment the views
    were built and the moment DuckDB opens it: the query then runs again once on the
    new manifest (the rows are the same, only the files changed).
    """
    import threading

    import duckdb

    from data.sql_guard import read_only_query, sandbox, verify_query_families

    con = st.con
    read_only_query(con, query)
    sandbox(con, st.root)
    if verify:
        verify_query_families(con, query, st.root, st.manifest)
    done = threading.Event()

    def watch() -> None:  # DuckDB runs in C: a stop request reaches it through interrupt()
        while not done.wait(0.05):
            if interrupts.requested():
                con.interrupt()
                return

    watcher = threading.Thread(target=watch, name="sql-interrupt", daemon=True)
    watcher.start()
    try:
        for attempt in (1, 2):
            try:
                rel = st.con.sql(query)
                shown = rel.limit(limit + 1) if limit > 0 else rel
                return shown.to_arrow_table()
            except duckdb.IOException:
                before = st.manifest.generation
                st.refresh()
                if attempt == 2 or st.manifest.generation == before:
                    raise
            except duckdb.InterruptException:
                interrupts.check("the query was cancelled")
                raise
        raise AssertionError("unreachable")
    finally:
        done.set()
        watcher.join()  # a daemon thread alive at exit would keep the connection alive


CONTROL_ACTIONS = ("set", "conditions", "emergency-stop", "emergency-exit", "reset",
                   "strategist")  # fmt: skip


def _record_refusal(store: Path | None, action: str, args: list[str], why: str) -> None:
    """Keep a refused operator control as a `quarantine` event, when the store exists.

    The command still fails with one line. A store that does not exist (or cannot be
    written) is left alone.
    """
    import json

    from data.controls import record_refused_control
    from data.errors import StoreError
    from data.store import open_store

    try:
        record_refused_control(open_store(store_path(store)), "invalid_control", why,
                               source="operator",
                               raw=json.dumps({"control": action, "args": args}))  # fmt: skip
    except (StoreError, OSError):
        return


@app.command()
@user_errors
def control(
    action: Annotated[
        str,
        typer.Argument(
            help="set NAME=VALUE ..., conditions 'TEXT', emergency-stop, emergency-exit, "
            "reset or strategist.",
            metavar="ACTION",
        ),
    ],
    args: Annotated[
        list[str] | None,
        typer.Argument(help="set: NAME=VALUE pairs; conditions: the set's text.", metavar="ARG"),
    ] = None,
    at: Annotated[
        str | None, typer.Option("--at", help="Event time (ISO 8601, UTC) [default: now].")
    ] = None,
    reason: Annotated[
        str, typer.Option("--reason", help="Why, in words (kept with the change).")
    ] = "operator",
    store: StoreOpt = None,
) -> None:
    """Log an operator control: it steers every run from its event time on.

    `set stop_loss=0.05` changes a parameter (checked as --set checks it), `conditions
    'ret_5m >= 0.1 AND liquidity >= 40'` replaces the sniper's entry set ('none' turns
    it off), `emergency-stop` halts new entries (never exits), `emergency-exit` halts
    them and sells every open position, `reset` clears every tripped breaker (and ends
    an emergency exit), `strategist` asks the LLM strategist at that time besides its
    schedule (in runs that have one). Each run applies it at its place in event time (a
    later replay of the day too) and lists it in its report; `param_history` shows what
    each run did.
    """
    from data.controls import (
        append_conditions,
        append_control,
        append_param,
        append_strategist_request,
    )
    from data.store import open_store

    if action not in CONTROL_ACTIONS:
        raise ValueError(f"unknown control {action!r}; known: {', '.join(CONTROL_ACTIONS)}")
    args = list(args or [])
    changes: list[tuple[str, float]] = []
    if action == "set":
        if not args:
            raise ValueError("control set needs NAME=VALUE, e.g. stop_loss=0.05")
        from engine.controls import check_param
        from strategies.config import parse_overrides

        try:
            changes = list(parse_overrides(args, "control set").items())
            for name, value in changes:  # all checked before any is logged
                checked = check_param(name, value)
                if checked.refusal is not None:
                    raise ValueError(checked.detail)
        except ValueError as exc:
            _record_refusal(store, action, args, str(exc))
            raise
    elif action == "conditions":
        if len(args) != 1:
            raise ValueError("control conditions takes one quoted text, e.g. 'ret_5m >= 0.1'")
        from engine.controls import check_conditions

        refused = check_conditions(args[0])
        if refused.refusal is not None:
            _record_refusal(store, action, args, refused.detail)
            raise ValueError(refused.detail)
    elif args:
        raise ValueError(f"control {action} takes no arguments")
    ts = iso_ns(at, "--at")
    if ts is None:
        ts = time.time_ns()
    st = open_store(store_path(store))
    when = iso_text(ts)
    if action == "set":
        for name, value in changes:
            seq = append_param(st, name, value, ts, source="operator", reason=reason)
            out.print(f"logged {name.lower()} = {value:g} at {when} (controls seq {seq.first})")
    elif action == "conditions":
        seq = append_conditions(st, args[0], ts, source="operator", reason=reason)
        out.print(f"logged conditions at {when} (controls seq {seq.first})")
    elif action == "strategist":
        seq = append_strategist_request(st, ts, source="operator", reason=reason)
        out.print(f"logged a strategist request at {when} (controls seq {seq.first})")
    else:
        seq = append_control(st, action, ts)
        out.print(f"logged {action} at {when} (signals seq {seq.first})")
