"""Hostile and everyday arguments: every one gets a result or one clear line, never a
traceback or a hang; help shows what it says; a terminal gets working progress bars."""

from __future__ import annotations

import json
import shutil
import string
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs
from typer.testing import CliRunner

from data.generator.market import MarketParams, generate_into
from data.sql_guard import VIEWS
from data.store import open_store
from engine.params import param_names
from tests.hostile.harness import clanka, clanka_pty, clean


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("args") / "s"
    generate_into(open_store(d, create=True), MarketParams(mints=6, hours=2, seed=2))
    assert clanka("replay", "--store", str(d)).code == 0
    return d


# ------------------------------------------------------------------ item 5
def test_item5_sweep_and_friends_draw_their_progress_in_a_real_terminal(store: Path) -> None:
    r = clanka_pty("sweep", "--store", str(store), "--grid", "stop_loss=0.05,0.1",
                   "--chunk-size", "1")  # fmt: skip
    clean(r, one_line_error=False)
    assert r.code == 0, r.out
    assert "best 2 of 2" in r.out  # the leaderboard, after the progress bar
    for args in (["replay"], ["sweep", "--grid", "tp1=0.1,0.2", "--walk-forward", "1:1"],
                 ["generate", "--mints", "2", "--hours", "1", "--seed", "99"]):  # fmt: skip
        r = clanka_pty(*args, "--store", str(store))
        clean(r, one_line_error=False)
        assert r.code in (0, 2), r.out  # walk-forward on 2 hours: a clear refusal


# ----------------------------------------------------------- items 10 and 15
@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["replay", "--from", "9999-01-01"], 2, "outside the times Clanka can store"),
        (["replay", "--from", "2025-01-02", "--to", "2025-01-01"], 2, "must be before --to"),
        (["replay", "--from", "2030-01-01"], 1, "no ticks to replay"),
        (["store", "compact", "--family", "nope"], 2, "unknown family 'nope'"),
        (["store", "compact", "--target-rows", "0"], 2, "--target-rows"),
        (["run", "--mode", "paper", "--duration", "-1"], 2, "--duration"),
        (["replay", "--set", "max_positions=2.5"], 2, "must be a whole number"),
        (["replay", "--set", "require_trend_up=0.5"], 2, "must be 0 or 1"),
        (["replay", "--set", "stop_loss=nan"], 2, "not a finite number"),
        (["sql", "COPY (SELECT 1) TO 'x.csv'"], 2, "a COPY statement is refused"),
        (["sql", "ATTACH 'other.db'"], 2, "an ATTACH statement is refused"),
        (["sql", "SELECT 1; SELECT 2"], 2, "one statement at a time"),
        (["sql", "SELECT * FROM read_csv('/etc/passwd')"], 1, "query failed"),
        (["sweep", "--grid", "stop_loss=0.001:0.99:0.0000001", "--grid", "tp1=0.1:50:0.001"], 2,
         "parameter sets"),
        (["sweep", "--grid", "stop_loss=0.05,0.1", "--executor", "dask", "--scheduler",
          "tcp://127.0.0.1:9", "--scheduler-timeout", "1"], 1, "cannot reach the Dask scheduler"),
        (["replay", "--set", "stop_los=0.1"], 2, "did you mean stop_loss"),
        (["sweep", "--grid", "stop_los=0.1,0.2"], 2, "did you mean stop_loss"),
        (["explain", "T999999"], 2, "has no trade 999999"),
        (["verify", "parity", "nope"], 2, "no run 'nope'"),
    ],
)  # fmt: skip
def test_items10_15_arguments_are_refused_in_one_line(
    store: Path, args: list[str], code: int, needle: str
) -> None:
    r = clanka(*args, "--store", str(store), timeout=120)
    clean(r)
    assert r.code == code, r.text
    assert needle in r.err, r.err


def test_item10_a_store_that_is_a_file_or_missing(tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    for args in (["store", "info"], ["replay"], ["import", str(f)], ["generate"]):
        r = clanka(*args, "--store", str(f))
        clean(r)
        assert r.code in (1, 2) and "is a file, not a store directory" in r.err, r.text


# ------------------------------------------------------------------- item 19
def test_item19_help_keeps_bracketed_text_and_lists_every_view() -> None:
    r = clanka("replay", "--help")
    assert "[default: $CLANKA_STORE or ./store]" in r.out
    assert "[feed] and [live]" in clanka("run", "--help").out
    sql_help = clanka("sql", "--help").out.replace("\n", " ")
    assert all(v in sql_help for v in VIEWS) and len(VIEWS) >= 22
    v = clanka("--version")
    assert v.code == 0 and v.out.startswith("clanka ")


def test_item19_importing_a_missing_file_creates_no_store(tmp_path: Path) -> None:
    r = clanka("import", str(tmp_path / "nope.parquet"), "--store", str(tmp_path / "s"))
    clean(r)
    assert r.code == 1 and "no such file" in r.err
    assert not (tmp_path / "s").exists()


# -------------------------------------------------------------------- fuzz
_WORD = hs.text(string.ascii_letters + string.digits + "_-.:=,/ []{}'\"", max_size=14)
_TIME = hs.one_of(
    _WORD,
    hs.sampled_from(
        [
            "2025-01-01",
            "9999-12-31",
            "0001-01-01",
            "2025-13-01",
            "1e9",
            "-1",
            "2025-01-01T00:00:00+99:00",
            "",
        ]
    ),
)
_NUMBER = hs.one_of(
    _WORD,
    hs.integers(-(2**70), 2**70).map(str),
    hs.floats(allow_nan=True, allow_infinity=True).map(repr),
)
_SET = hs.tuples(hs.one_of(hs.sampled_from(param_names()), _WORD), _NUMBER).map("=".join)
_GRID = hs.tuples(
    hs.sampled_from(["stop_loss", "tp1", "max_positions", "nope"]),
    hs.one_of(
        hs.tuples(_NUMBER, _NUMBER, _NUMBER).map(":".join),
        hs.lists(_NUMBER, max_size=3).map(",".join),
    ),
).map("=".join)
_OPTS = {
    "replay": [("--from", _TIME), ("--to", _TIME), ("--mints", _WORD), ("--set", _SET),
               ("--entry", _WORD), ("--strategy", _WORD)],
    "sweep": [("--grid", _GRID), ("--chunk-size", _NUMBER), ("--top", _NUMBER),
              ("--sort", _WORD), ("--max-sets", _NUMBER), ("--set", _SET)],
    "sql": [("--limit", _NUMBER)],
    "explain": [("--run", _WORD)],
    "control": [("--at", _TIME)],
    "store compact": [("--family", _WORD), ("--target-rows", _NUMBER)],
    "store info": [],
    "store check": [],
    "run --mode replay": [("--inputs-of", _WORD), ("--set", _SET)],
    "verify parity": [],
}  # fmt: skip
_POSITIONAL = {"sql": _WORD.map(lambda w: f"SELECT {w}"), "explain": _WORD,
               "control": hs.sampled_from(["reset", "emergency-stop", "nope"]),
               "verify parity": _WORD}  # fmt: skip


@hs.composite
def _argv(draw: hs.DrawFn) -> list[str]:
    cmd = draw(hs.sampled_from(sorted(_OPTS)))
    argv = cmd.split()
    if cmd in _POSITIONAL:
        argv.append(draw(_POSITIONAL[cmd]))
    for name, values in draw(hs.lists(hs.sampled_from(_OPTS[cmd] or [("--json", hs.just(""))]),
                                      max_size=4)):  # fmt: skip
        argv += [name] if name == "--json" else [name, draw(values)]
    return argv


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(argv=_argv())
def test_fuzz_any_arguments_give_a_result_or_one_line(store: Path, argv: list[str]) -> None:
    """In-process (typer's runner): an exception escaping a command is a failure."""
    from replay.cli.main import app  # every command registered

    with tempfile.TemporaryDirectory() as d:
        copy = Path(d) / "s"
        shutil.copytree(store, copy)
        res = CliRunner().invoke(app, [*argv, "--store", str(copy)], catch_exceptions=True)
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise AssertionError(f"clanka {argv}: {type(res.exception).__name__}: {res.exception}")
    assert res.exit_code in (0, 1, 2), (argv, res.output)
    assert "Traceback" not in res.output
    if res.exit_code == 0 and "--json" in argv:
        json.loads(res.stdout)
