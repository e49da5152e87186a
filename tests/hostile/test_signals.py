"""Ctrl-C and SIGTERM: a command stops at its next safe point, commits nothing it had
not committed, says so in one line and exits 128 + the signal.

Every signal here is sent on a point of progress the child reports (CLANKA_PROGRESS_FD),
and the child is frozen (SIGSTOP) the moment that report is read, so where the signal
lands does not depend on how busy the machine is: the frozen child receives it, is
resumed, and must stop before its next chunk.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from data.generator.market import MarketParams, generate_into
from data.store import open_store
from tests.child_progress import Progress
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


def _interrupt(args: list[str], when: Callable[[dict[str, object]], bool],
               signals: tuple[int, ...] = (signal.SIGINT,),
               after: tuple[int, ...] = ()) -> tuple[int, str]:  # fmt: skip
    """Run clanka, freeze it at the reported point, send `signals`, resume, send `after`."""
    child = Progress([*ENTRY, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                     text=True)  # fmt: skip
    child.wait_for(when)
    os.kill(child.proc.pid, signal.SIGSTOP)
    child.close()
    for s in signals:
        os.kill(child.proc.pid, s)
    os.kill(child.proc.pid, signal.SIGCONT)
    for s in after:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child.proc.pid, s)
    _, err = child.proc.communicate(timeout=300)
    for marker in BAD_MARKERS:
        assert marker not in err, err
    return child.proc.returncode, err


def test_item11_ctrl_c_mid_replay_commits_nothing_and_exits_130(market: Path) -> None:
    before = _counts(market)
    rc, err = _interrupt(["replay", "--store", str(market)],
                         lambda e: e["event"] == "replayed")  # fmt: skip
    assert (rc, err.strip()) == (130, "interrupted; nothing was committed")
    assert _counts(market) == before


def test_item11_sigterm_mid_import_commits_nothing_and_exits_143(
    market: Path, shared_data: Path, tmp_path: Path
) -> None:
    before = _counts(market)
    src = shared_data / "pumpfun_curve_snapshots_2025-06-07.parquet"
    rc, err = _interrupt(["import", str(src), "--store", str(market)],
                         lambda e: e.get("phase", "").startswith("validating"),
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
    assert "of 8 chunks of sweep" in err and "the same command resumes it" in err
    kept = _counts(market)["sweeps"] - before["sweeps"]
    assert kept >= 1 and f"interrupted; {kept} of 8 chunks" in err


def test_item11_ctrl_c_while_starting_is_one_line(market: Path) -> None:
    rc, err = _interrupt(["store", "info", "--store", str(market)],
                         lambda e: e["event"] == "launching")  # fmt: skip
    assert (rc, err.strip()) == (130, "interrupted while starting; nothing was done")


def test_item11_a_second_ctrl_c_stops_at_once(market: Path) -> None:
    before = _counts(market)
    rc, err = _interrupt(["replay", "--store", str(market)],
                         lambda e: e["event"] == "replayed", after=(signal.SIGINT,))  # fmt: skip
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
