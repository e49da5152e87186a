"""The `clanka` command line.

Results go to stdout (a table, or one JSON document with `--json`); progress and
errors go to stderr, so `--json` output can always be piped. Expected failures (a bad
file, a missing store, invalid arguments) print one clear line and exit non-zero
without a traceback: 1 for a failure, 2 for invalid input, 128 + the signal number
when the user stopped the command (Ctrl-C: 130, SIGTERM: 143).
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib.metadata
import json
import math
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import duckdb
import numba
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from data import interrupts
from data.controls import append_control
from data.errors import (
    ClankaDataError,
    ImportFileError,
    StopRequestedError,
    StoreError,
    StoreFullError,
)
from data.generator.market import MarketParams, generate_into
from data.importers import ImportReport, import_file
from data.schemas import check_source_name
from data.sql_guard import VIEWS, read_only_query, verify_query_families
from data.store import EventStore, close_all_stores, open_store
from engine.conditions import ConditionSet
from replay.console import (
    render_explain,
    render_generate,
    render_import,
    render_report,
    render_sql,
    render_sweep,
    render_walk_forward,
)
from replay.explain import explain as explain_target
from replay.progress_fd import ProgressFd
from replay.runner import count_ticks, run_replay
from replay.settings import ClankaSettings
from replay.sweep import (
    MAX_SETS,
    METRIC_KEYS,
    finished_chunks,
    grid_sets,
    parse_grid,
    random_sets,
    run_sweep,
    sweep_id_for,
)
from replay.sweep_report import build_report
from replay.walkforward import parse_walk_forward, walk_forward
from strategies.config import StrategyConfig, load_strategy, parse_overrides

# Help text is plain (no rich markup), so "[default: ...]" and "[feed]" print as written.
app = typer.Typer(
    name="clanka",
    help="Clanka: event-sourced, backtest-first trading engine for Solana tokens.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
store_app = typer.Typer(
    help="Inspect and maintain a store.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(store_app, name="store")
sweep_app = typer.Typer(
    help="Sweep parameter sets over the store (clanka sweep --grid ...), or report on one "
    "(clanka sweep report SWEEP_ID --html OUT.html).",
    rich_markup_mode=None,
)
app.add_typer(sweep_app, name="sweep")


def _version(value: bool) -> None:
    if value:
        out.print(f"clanka {importlib.metadata.version('clanka')}", highlight=False)
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Clanka: event-sourced, backtest-first trading engine for Solana tokens."""


out = Console()
if not out.is_terminal:
    out.width = 160  # pipes and `make` get 80 columns by default: too narrow for tables
err = Console(stderr=True, soft_wrap=True)

P = ParamSpec("P")
R = TypeVar("R")

StoreOpt = Annotated[
    Path | None,
    typer.Option("--store", help="Store directory [default: $CLANKA_STORE or ./store]."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document instead.")]
FromOpt = Annotated[str | None, typer.Option("--from", help="Start (ISO 8601, UTC).")]
ToOpt = Annotated[str | None, typer.Option("--to", help="End, exclusive (ISO 8601, UTC).")]
MintsOpt = Annotated[
    list[str] | None, typer.Option("--mints", help="Mint address or symbol (repeatable).")
]
StrategyOpt = Annotated[str, typer.Option(help="Built-in strategy name.")]
ConfigOpt = Annotated[Path | None, typer.Option(help="Strategy TOML file (instead of --strategy).")]
SetOpt = Annotated[
    list[str] | None, typer.Option("--set", help="Override a parameter: name=value.")
]
EntryOpt = Annotated[
    str | None,
    typer.Option(help="Replace the entry condition set, e.g. 'ret_5m >= 0.1 AND liquidity >= 40'."),
]


def _store_path(store: Path | None) -> Path:
    return store if store is not None else ClankaSettings().store


def _json_safe(v: Any) -> Any:
    """NaN and infinities are not JSON: they print as null."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _json_safe(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_json_safe(x) for x in v]
    return v


def _print_json(doc: Any) -> None:
    sys.stdout.write(json.dumps(_json_safe(doc), default=str, indent=None, allow_nan=False) + "\n")


def _one_line(text: object) -> str:
    """The first line of a message (DuckDB and pyarrow errors run to several)."""
    lines = str(text).strip().splitlines()
    return lines[0] if lines else str(type(text).__name__)


def user_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn expected failures into one red line on stderr and a non-zero exit.

    The exit is raised outside the `except` block, so nothing (no traceback, no frame
    holding a DuckDB connection) outlives the failure into interpreter shutdown.
    """

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except StopRequestedError as exc:
            line, code = _escape(exc), 128 + exc.signum
        except KeyboardInterrupt:
            line, code = "interrupted; nothing was committed", 128 + (interrupts.requested() or 2)
        except ClankaDataError as exc:
            line, code = f"[red]error:[/red] {_escape(exc)}", 1
        except ValidationError as exc:
            parts = [
                f"invalid {'.'.join(str(x) for x in e['loc']) or 'input'}: {e['msg']}"
                for e in exc.errors()
            ]
            line, code = f"[red]{_escape('; '.join(parts))}[/red]", 2
        except ValueError as exc:
            line, code = f"[red]invalid input:[/red] {_escape(exc)}", 2
        except duckdb.Error as exc:
            line, code = f"[red]query failed:[/red] {_escape(_one_line(exc))}", 1
        err.print(line, highlight=False)
        raise typer.Exit(code)

    return wrapper


def _escape(text: object) -> str:
    """User text in a rich message: brackets print as written, never as markup."""
    from rich.markup import escape

    return escape(str(text))


class CountColumn(ProgressColumn):
    """`done/total` with thousands separators, or just `done` while the total is unknown."""

    def render(self, task: Task) -> Text:
        """The column's text for one task."""
        done = f"{int(task.completed):,}"
        return Text(done if task.total is None else f"{done}/{int(task.total):,}")


@contextmanager
def _progress(enabled: bool, eta: bool = False) -> Iterator[Progress]:
    columns = [
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        CountColumn(),
        TimeElapsedColumn(),
    ]
    if eta:
        columns += [TextColumn("eta"), TimeRemainingColumn()]
    with Progress(*columns, console=err, transient=True, disable=not enabled) as prog:
        yield prog


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
    if source is not None:
        check_source_name(source)
    for p in paths:  # before the store is created: a typo must not leave an empty store
        if not p.is_file():
            raise ImportFileError(f"{p}: no such file" if not p.exists() else f"{p}: not a file")
    st = open_store(_store_path(store), create=True)
    reports: list[ImportReport] = []
    reporter = ProgressFd()

    def phase(msg: str) -> None:
        prog.update(task, description=_escape(msg))
        reporter.emit("import", phase=msg)

    with _progress(sys.stderr.isatty()) as prog:
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
        _print_json(docs[0] if len(docs) == 1 else docs)
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
    as_json: JsonOpt = False,
) -> None:
    """Generate the built-in SYNTHETIC memecoin market into a store.

    Deterministic: the same options always give the same ticks, and running the
    same command twice adds nothing the second time.
    """
    params = MarketParams(
        mints=mints, hours=hours, seed=seed, start=dt.datetime.fromisoformat(start)
    )
    st = open_store(_store_path(store), create=True)
    with err.status("generating synthetic market", spinner="dots") as status:
        rep = generate_into(st, params, progress=lambda m: status.update(m))
    if as_json:
        _print_json(rep.to_dict())
    else:
        render_generate(out, rep)


@app.command(
    help="Run one read-only SQL query (DuckDB) over the store's views: "
    + ", ".join(VIEWS)
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
    st = open_store(_store_path(store))
    tbl = _run_query(st, query, limit, verify)
    truncated = limit > 0 and tbl.num_rows > limit
    if truncated:
        tbl = tbl.slice(0, limit)
    if as_json:
        _print_json({"columns": tbl.column_names, "rows": tbl.to_pylist(), "truncated": truncated})
    else:
        render_sql(out, tbl, truncated)


def _run_query(st: EventStore, query: str, limit: int, verify: bool) -> Any:
    """One sandboxed SELECT; Ctrl-C interrupts DuckDB, a segment retired meanwhile retries.

    A compaction by another process can retire a segment between the moment the views
    were built and the moment DuckDB opens it: the query then runs again once on the
    new manifest (the rows are the same, only the files changed).
    """
    import threading

    from data.sql_guard import sandbox

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


def _iso_text(ts_ns: int) -> str:
    return dt.datetime.fromtimestamp(ts_ns / 1e9, tz=dt.UTC).isoformat()


_TS_LO = dt.datetime(1678, 1, 1, tzinfo=dt.UTC)
_TS_HI = dt.datetime(2262, 4, 11, tzinfo=dt.UTC)
"""Event times are int64 nanoseconds: these bound what they can express."""


def _iso_ns(text: str | None, flag: str) -> int | None:
    """An ISO 8601 option as int ns UTC (naive means UTC), range-checked, exact."""
    if text is None:
        return None
    try:
        t = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{flag}: {text!r} is not an ISO 8601 time") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    if not _TS_LO <= t < _TS_HI:
        raise ValueError(f"{flag}: {text!r} is outside the times Clanka can store (1678-2262)")
    delta = t - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def _time_range(from_: str | None, to: str | None) -> tuple[int | None, int | None]:
    """--from and --to as ns, refusing an empty or inverted range."""
    start, end = _iso_ns(from_, "--from"), _iso_ns(to, "--to")
    if start is not None and end is not None and start >= end:
        raise ValueError(f"--from {from_} must be before --to {to} (the range would be empty)")
    return start, end


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
    as_json: JsonOpt = False,
) -> None:
    """Replay the store through the kernel, log every event under a new run id, report.

    The report covers trades, win rate, average return, realized and unrealized PnL,
    fees, slippage, max drawdown, Sharpe, hold time, exit reasons and the run's
    events_sha256 (same data and config, same hash).
    """
    strat = _strategy(strategy, config, entry, set_)
    params = strat.vector()
    start, end = _time_range(from_, to)
    st = open_store(_store_path(store))
    mint_ids = _mint_ids(st, mints)
    total = count_ticks(st, start, end, mint_ids)
    if total == 0:
        raise StoreError(f"no ticks to replay {_scope_text(st, from_, to, mints)}; nothing was run")
    reporter = ProgressFd()

    def advanced(n: int) -> None:
        prog.update(task, completed=n)
        reporter.emit("replayed", ticks=n, total=total)

    with _progress(sys.stderr.isatty()) as prog:
        task = prog.add_task(f"replaying {strat.name}", total=total)
        result = run_replay(st, strat, params, start_ts=start, end_ts=end, mint_ids=mint_ids,
                            progress=advanced)  # fmt: skip
    if as_json:
        _print_json(result.report)
    else:
        render_report(out, strat.name, result.report)


def _scope_text(st: EventStore, from_: str | None, to: str | None, mints: list[str] | None) -> str:
    """Where a command looked, and where the store's ticks are, for 'nothing found'."""
    parts = []
    if from_ or to:
        parts.append(f"from {from_ or 'the start'} to {to or 'the end'}")
    if mints:
        parts.append(f"for {', '.join(mints)}")
    segs = st.segments("ticks")
    if not segs:
        have = "the store has no ticks (import or generate some first)"
    else:
        lo = min(s.min_ts for s in segs)
        hi = max(s.max_ts for s in segs)
        have = f"the store's ticks span {_iso_text(lo)} to {_iso_text(hi)}"
    return f"{' '.join(parts) or 'in this store'} ({have})"


def _strategy(
    name: str,
    config: Path | None,
    entry: str | None,
    sets: list[str] | None,
    *,
    validate: bool = True,
) -> StrategyConfig:
    """The strategy a command runs: built-in or TOML, then --entry and --set applied.

    With `validate` off, --set values are checked later, together with swept values.
    """
    strat = load_strategy(config if config is not None else name)
    if entry is not None:
        strat = strat.model_copy(update={"entry": str(ConditionSet.parse(entry))})
    if sets:
        strat = strat.model_copy(update={"params": {**strat.params, **parse_overrides(sets)}})
        if validate:
            strat.vector()
    return strat


def _mint_ids(st: EventStore, mints: list[str] | None) -> list[int] | None:
    """Resolve --mints (addresses or symbols) to mint ids; None means every mint."""
    if not mints:
        return None
    reg = st.mints()
    by_symbol = {r.symbol: r for r in reg.records() if r.symbol}
    ids = []
    for name in mints:
        rec = reg.get(name) or by_symbol.get(name)
        if rec is None:
            raise ValueError(f"--mints: {name!r} is not in this store's mints")
        ids.append(rec.mint_id)
    return ids


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
    as_json: JsonOpt = False,
) -> None:
    """Run every combination of --grid (or --random draws) through the kernel; rank them.

    One pass over the data evaluates a chunk of sets in parallel (one thread per core),
    each chunk's metrics are appended to the `sweeps` family under a sweep id, and the
    same command run again resumes an interrupted sweep at its first missing chunk.
    """
    if ctx.invoked_subcommand is not None:
        return
    strat = _strategy(strategy, config, entry, set_, validate=False)  # per set, below
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
    start, end = _time_range(from_, to)
    st = open_store(_store_path(store))
    mint_ids = _mint_ids(st, mints)
    if walk_forward_ is not None:
        train_days, test_days = parse_walk_forward(walk_forward_)
        with _progress(sys.stderr.isatty()) as prog:
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
            _print_json(wf)
        else:
            render_walk_forward(out, wf)
        return
    with _progress(sys.stderr.isatty(), eta=True) as prog:
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
        _print_json(doc)
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
    st = open_store(_store_path(store))
    doc = build_report(st, sweep_id, html, top=top, sort=sort, x=x, y=y)
    if as_json:
        _print_json(doc)
    else:
        runs = ", ".join(f"set {r['set_index']}: {r['run_id']}" for r in doc["best_runs"])
        out.print(f"wrote {doc['html']} ({doc['sets']} sets; re-ran {runs})")


@app.command()
@user_errors
def control(
    action: Annotated[
        str,
        typer.Argument(
            help="emergency-stop (halt new entries) or reset (clear breakers).", metavar="ACTION"
        ),
    ],
    at: Annotated[
        str | None, typer.Option("--at", help="Event time (ISO 8601, UTC) [default: now].")
    ] = None,
    store: StoreOpt = None,
) -> None:
    """Log an operator control: an emergency stop or a manual breaker reset.

    It takes effect at its event time in every later replay (and live, when it
    arrives); exits are never blocked, only new entries.
    """
    ts = _iso_ns(at, "--at")
    if ts is None:
        ts = time.time_ns()
    st = open_store(_store_path(store))
    seq = append_control(st, action, ts)
    out.print(f"logged {action} at {_iso_text(ts)} (signals seq {seq.first})")


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
    st = open_store(_store_path(store))
    doc = explain_target(st, target, run)
    if as_json:
        _print_json(doc)
    else:
        render_explain(out, doc)


def run_app() -> None:
    """Run the command line (the console script calls this after installing handlers).

    Open stores are closed before the interpreter shuts down: a DuckDB connection still
    alive at that point makes its bindings print leak warnings on exit.
    """
    import gc

    import replay.cli_live
    import replay.cli_store  # noqa: F401  (both register their commands on `app`)

    try:
        app()
    finally:
        close_all_stores()
        gc.collect()


def main() -> None:
    """Console-script entry point (kept for `python -c` users): see replay.launch."""
    from replay.launch import main as launch

    launch()
