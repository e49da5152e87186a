"""What every `clanka` command shares: the app, the option types, errors, output.

Results go to stdout (a table, or one JSON document with `--json`); progress and
errors go to stderr, so `--json` output can always be piped. Expected failures (a bad
file, a missing store, invalid arguments) print one clear line and exit non-zero
without a traceback: 1 for a failure, 2 for invalid input, 128 + the signal number
when the user stopped the command (Ctrl-C: 130, SIGTERM: 143).

The commands live beside this module, one module per group (data, runs, sweeps,
live, store); `replay.cli` imports them all, which registers them on `app`.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib.metadata
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import typer
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
from typer.core import TyperGroup

from data import interrupts
from data.errors import ClankaDataError, StopRequestedError
from replay.report.jsonable import json_safe

if TYPE_CHECKING:  # the heavy libraries load inside the commands that use them
    from data.store import EventStore
    from strategies.config import StrategyConfig

COMMAND_ORDER = ("import", "generate", "replay", "sweep", "explain", "control", "run", "verify",
                 "feed", "service", "sql", "store", "warmup")  # fmt: skip
"""How `clanka --help` lists the commands: in the order a user meets them."""


class _InOrder(TyperGroup):
    """A command group that lists its commands in COMMAND_ORDER, not import order."""

    def list_commands(self, ctx: Any) -> list[str]:
        """The command names, in COMMAND_ORDER (others after)."""
        names = super().list_commands(ctx)
        rank = {n: i for i, n in enumerate(COMMAND_ORDER)}
        return sorted(names, key=lambda n: rank.get(n, len(rank)))


# Help text is plain (no rich markup), so "[default: ...]" and "[feed]" print as written.
app = typer.Typer(
    cls=_InOrder,
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
    verbose: Annotated[
        int,
        typer.Option(
            "--verbose",
            "-v",
            count=True,
            help="More log detail: -v INFO, -vv DEBUG (paper runs log INFO already).",
        ),
    ] = 0,
    log_level: Annotated[
        str | None,
        typer.Option(
            "--log-level",
            help="CRITICAL, ERROR, WARNING, INFO or DEBUG "
            "[default: $CLANKA_LOG_LEVEL, else WARNING; INFO for paper runs].",
        ),
    ] = None,
    log_file: Annotated[
        Path | None,
        typer.Option(
            "--log-file", help="Also append log lines to this file [default: $CLANKA_LOG_FILE]."
        ),
    ] = None,
    log_format: Annotated[
        str | None,
        typer.Option(
            "--log-format",
            help="text or json (one JSON object per line) "
            "[default: $CLANKA_LOG_FORMAT, else text].",
        ),
    ] = None,
    trade_log: Annotated[
        Path | None,
        typer.Option(
            "--trade-log",
            help="Also append trade lines (positions opened and "
            "closed) to this file, a stream of their own [default: $CLANKA_TRADE_LOG].",
        ),
    ] = None,
) -> None:
    """Clanka: event-sourced, backtest-first trading engine for Solana tokens."""
    from replay.cli import logs

    try:
        logs.configure(verbose=verbose, level=log_level, log_file=log_file, fmt=log_format,
                       trade_log=trade_log)  # fmt: skip
    except (ValueError, OSError) as exc:
        err.print(f"[red]invalid input:[/red] {escape(exc)}", highlight=False)
        raise typer.Exit(2) from None


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


LearningOpt = Annotated[
    str | None,
    typer.Option(
        "--learning",
        help="Learning loop: off, observe (review, learn and log what it would change, "
        "change nothing) or on (adapt parameters too) [default: the strategy's, else off].",
    ),
]
StrategistOpt = Annotated[
    str | None,
    typer.Option(
        "--strategist",
        help="LLM strategist: off, recorded (answers from the store, by prompt hash) or "
        "live (ask the model at event time and record it) [default: off].",
    ),
]
StrategistHostOpt = Annotated[
    str | None,
    typer.Option(
        "--llm-host",
        help="Ollama API address, or 'embedded' to start the embedded model for this "
        "command [default: the strategy's, else http://127.0.0.1:11434].",
    ),
]
StrategistModelOpt = Annotated[
    str | None,
    typer.Option(
        "--llm-model",
        help="Model name [default: the strategy's, else "
        "smollm2:135m, which `clanka llm serve` serves].",
    ),
]


def store_path(store: Path | None) -> Path:
    """--store, else $CLANKA_STORE, else ./store."""
    if store is not None:
        return store
    from replay.cli.settings import ClankaSettings

    return ClankaSettings().store


def print_json(doc: Any) -> None:
    """One JSON document on stdout (NaN and infinities as null)."""
    sys.stdout.write(json.dumps(json_safe(doc), default=str, indent=None, allow_nan=False) + "\n")


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
            line, code = escape(exc), 128 + exc.signum
        except KeyboardInterrupt:
            line, code = "interrupted; nothing was committed", 128 + (interrupts.requested() or 2)
        except ClankaDataError as exc:
            line, code = f"[red]error:[/red] {escape(exc)}", 1
        except Exception as exc:  # classified below; anything else is re-raised
            known = _known_failure(exc)
            if known is None:
                raise
            line, code = known
        err.print(line, highlight=False)
        raise typer.Exit(code)

    return wrapper


def _known_failure(exc: Exception) -> tuple[str, int] | None:
    """The line and exit code of an invalid value or a failed query, else None.

    pydantic and DuckDB are imported here, not at start-up: if either raised, it is
    loaded already. pydantic's ValidationError is a ValueError, so it comes first.
    """
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        parts = [
            f"invalid {'.'.join(str(x) for x in e['loc']) or 'input'}: {e['msg']}"
            for e in exc.errors()
        ]
        return f"[red]{escape('; '.join(parts))}[/red]", 2
    if isinstance(exc, ValueError):
        return f"[red]invalid input:[/red] {escape(exc)}", 2
    venue = sys.modules.get("replay.venue.errors")  # loaded only if a live order ran
    if venue is not None and isinstance(exc, venue.VenueError):
        return f"[red]error ({exc.category}):[/red] {escape(_one_line(exc))}", 1
    import duckdb

    if isinstance(exc, duckdb.Error):
        return f"[red]query failed:[/red] {escape(_one_line(exc))}", 1
    return None


def escape(text: object) -> str:
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
def progress_bar(enabled: bool, eta: bool = False) -> Iterator[Progress]:
    """A transient progress bar on stderr (off when stderr is not a terminal)."""
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


def announce_compile(*kernels: str) -> None:
    """Say in one line, before it happens, that a first run will compile the kernels.

    `kernels` names what the command runs ("step" or "sweep"); a cold numba cache costs
    tens of seconds that would otherwise look like a hang.
    """
    from replay.core.warm import compile_notice

    dispatchers: list[Any] = []
    for name in kernels:
        if name == "step":
            from engine.kernel_nb import step_nb
            from replay.core.merge_nb import merge_streams_nb

            dispatchers += [step_nb, merge_streams_nb]
        else:
            from replay.sweep.sweep_nb import fold_nb, sweep_shared_nb

            dispatchers += [fold_nb, sweep_shared_nb]
    notice = compile_notice(*dispatchers)
    if notice:
        err.print(notice, highlight=False, markup=False, soft_wrap=True)


def iso_text(ts_ns: int) -> str:
    """Int ns since the epoch as ISO 8601, UTC."""
    return dt.datetime.fromtimestamp(ts_ns / 1e9, tz=dt.UTC).isoformat()


_TS_LO = dt.datetime(1678, 1, 1, tzinfo=dt.UTC)
_TS_HI = dt.datetime(2262, 4, 11, tzinfo=dt.UTC)
"""Event times are int64 nanoseconds: these bound what they can express."""


def iso_ns(text: str | None, flag: str) -> int | None:
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


def time_range(from_: str | None, to: str | None) -> tuple[int | None, int | None]:
    """--from and --to as ns, refusing an empty or inverted range."""
    start, end = iso_ns(from_, "--from"), iso_ns(to, "--to")
    if start is not None and end is not None and start >= end:
        raise ValueError(f"--from {from_} must be before --to {to} (the range would be empty)")
    return start, end


def scope_text(st: EventStore, from_: str | None, to: str | None, mints: list[str] | None) -> str:
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
        have = f"the store's ticks span {iso_text(lo)} to {iso_text(hi)}"
    return f"{' '.join(parts) or 'in this store'} ({have})"


def strategy_from(
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
    from engine.conditions import ConditionSet
    from strategies.config import load_strategy, parse_overrides

    strat = load_strategy(config if config is not None else name)
    if entry is not None:
        strat = strat.model_copy(update={"entry": str(ConditionSet.parse(entry))})
    if sets:
        strat = strat.model_copy(update={"params": {**strat.params, **parse_overrides(sets)}})
        if validate:
            strat.vector()
    return strat


def mint_ids_of(st: EventStore, mints: list[str] | None) -> list[int] | None:
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
