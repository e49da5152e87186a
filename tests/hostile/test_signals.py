"""Ctrl-C and SIGTERM: a command stops at its next safe point, commits nothing it had
not committed, says so in one line and exits 128 + the signal.

Where a signal lands must not depend on how busy the machine is, so the child runs in
step mode (CLANKA_PROGRESS_STEP=1): it stops itself right after each progress report
until this test continues it. The test sends the signal while the child is stopped at
the report it chose, so the child receives it at exactly that point, then must stop
before its next chunk.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from data.generator.market import MarketParams, generate_into
from data.store import open_store
from tests.hostile.harness import BAD_MARKERS, ENTRY


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("sig") / "s"
    generate_into(open_store(d, create=True), MarketParams(mints=200, hours=24, seed=7))
    return d


def _counts(store: Path) -> dict[str, int]:
    st = open_store(store)
    out = {f: st.rows(f) for f in ("runs", "ticks", "imports", "decisions", "sweeps")}
    out["generation"] = st.manifest.generation
    st.close()
    return out


def _wait_stopped(proc: subprocess.Popen[str]) -> None:
    """Until the child has stopped itself (state T): it does right after each report."""
    while Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "T":
        assert proc.poll() is None, "the child ended instead of stopping after its report"
        time.sleep(0.001)


def _interrupt(args: list[str], at: Callable[[dict[str, object]], bool],
               signals: tuple[int, ...] = (signal.SIGINT,),
               after: tuple[int, ...] = ()) -> tuple[int, str]:  # fmt: skip
    """Run clanka step by step; at the first report `at` accepts, send `signals` while it
    is stopped, continue it, then send `after`; its exit code and stderr."""
    r, w = os.pipe()
    env = {**os.environ, "CLANKA_PROGRESS_FD": str(w), "CLANKA_PROGRESS_STEP": "1"}
    proc = subprocess.Popen([*ENTRY, *args], env=env, pass_fds=(w,),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip
    os.close(w)
    with os.fdopen(r, "r") as reports:
        for line in reports:
            event = json.loads(line)
            _wait_stopped(proc)  # it stops itself right after each report
            if at(event):
                for s in signals:
                    os.kill(proc.pid, s)
                os.kill(proc.pid, signal.SIGCONT)
                for s in after:
                    os.kill(proc.pid, s)
                break
            os.kill(proc.pid, signal.SIGCONT)
        else:
            raise AssertionError(f"clanka {args} never reported the point to stop at")
        for _ in reports:  # run on to the end, continuing it after every report
            _wait_stopped(proc)
            os.kill(proc.pid, signal.SIGCONT)
    _, err = proc.communicate(timeout=300)
    for marker in BAD_MARKERS:
        assert marker not in err, err
    return proc.returncode, err


def test_item11_ctrl_c_mid_replay_commits_nothing_and_exits_130(market: Path) -> None:
    before = _counts(market)
    rc, err = _interrupt(
        ["replay", "--store", str(market)], lambda e: e["event"] == "replayed"
    )  # after the first batch
    assert (rc, err.strip()) == (130, "interrupted; nothing was committed")
    assert _counts(market) == before


def test_item11_sigterm_mid_import_commits_nothing_and_exits_143(
    market: Path, shared_data: Path, tmp_path: Path
) -> None:
    before = _counts(market)
    src = shared_data / "pumpfun_curve_snapshots_2025-06-07.parquet"
    rc, err = _interrupt(["import", str(src), "--store", str(market)],
                         lambda e: str(e.get("phase", "")).startswith("validating"),
                         (signal.SIGTERM,))  # fmt: skip
    assert rc == 143
    assert err.strip() == f"interrupted; nothing of {src} was committed"
    assert _counts(market) == before


def test_item11_ctrl_c_mid_sweep_keeps_finished_chunks_and_says_how_to_resume(
    market: Path,
) -> None:
    before = _counts(market)
    args = ["sweep", "--store", str(market), "--grid", "stop_loss=0.05:0.12:0.01",
            "--chunk-size", "1", "--set", "trailing_pct=0.11"]  # fmt: skip
    rc, err = _interrupt(args, lambda e: e["event"] == "chunk_committed")
    assert rc == 130
    assert _counts(market)["sweeps"] - before["sweeps"] == 1  # exactly the first chunk
    assert "interrupted; 1 of 8 chunks of sweep" in err
    assert "the same command resumes it" in err


def test_item11_ctrl_c_while_starting_is_one_line(market: Path) -> None:
    rc, err = _interrupt(["store", "info", "--store", str(market)],
                         lambda e: e["event"] == "launching")  # fmt: skip
    assert (rc, err.strip()) == (130, "interrupted while starting; nothing was done")


def test_item11_a_second_ctrl_c_stops_at_once(market: Path) -> None:
    before = _counts(market)
    rc, err = _interrupt(
        ["replay", "--store", str(market)],
        lambda e: e["event"] == "replayed",
        after=(signal.SIGINT,),
    )
    assert (rc, err.strip()) == (130, "interrupted; nothing was committed")
    assert _counts(market) == before


def test_item11_the_handler_records_the_first_request_and_raises_on_the_second() -> None:
    from data import interrupts
    from data.errors import StopRequestedError

    interrupts.clear()
    try:
        interrupts.check()  # nothing requested: no-op
        interrupts._handler(signal.SIGTERM, None)
        with pytest.raises(StopRequestedError, match="interrupted; nothing was committed"):
            interrupts.check()
        with pytest.raises(KeyboardInterrupt):
            interrupts._handler(signal.SIGINT, None)
        assert interrupts.requested() == signal.SIGTERM  # the first request's signal
    finally:
        interrupts.clear()


def test_item11_the_console_script_installs_its_handlers_before_anything_heavy() -> None:
    """Importing the entry point loads no heavy library: a Ctrl-C during their (slow)
    import is then already handled. (A package __init__ that imports the commands would
    undo this silently.)"""
    import sys

    code = ("import sys, replay.cli.launch; "
            "print(sorted(m for m in ('numba', 'polars', 'pyarrow', 'duckdb', 'typer') "
            "if m in sys.modules))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout  # fmt: skip
    assert out.strip() == "[]"
