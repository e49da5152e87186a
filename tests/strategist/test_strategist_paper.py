"""The strategist in a paper run: asked on a worker thread at wall-clock due times,
its answer applied at due + delay, logged among the run's inputs, and the run
replays from its log with zero parity differences."""

from __future__ import annotations

import datetime as dt
import json
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from data.store import EventStore, open_store
from engine.events import Action, Trigger
from tests.child_progress import Progress
from tests.strategist.ollama_standin import Answer, proposal, standin
from tests.test_cli import REPO
from tests.test_paper import CLI, EAGER, SETTINGS, _paper_cmd, _serve

S = 1_000_000_000


def _files(tmp_path: Path, strategist: str) -> tuple[Path, Path]:
    """The eager test strategy with this `[strategist]` table, and fast live settings."""
    strat = tmp_path / "eager.toml"
    strat.write_text(EAGER + "[strategist]\n" + strategist)
    settings = tmp_path / "live.toml"
    settings.write_text(SETTINGS)
    return strat, settings


@contextmanager
def _paper_run(
    pump_store: EventStore, tmp_path: Path, strategist: str, run_id: str, *script: Answer
) -> Iterator[tuple[Progress, Path]]:
    """A paper run (reporting its progress) on the recorded pump.fun feed, its strategist
    answered by a stand-in following `script`; and the run's store."""
    strat, settings = _files(tmp_path, strategist)
    feed, port = _serve(pump_store.root, 200)
    store = tmp_path / "paper"
    try:
        with standin(*script) as model:
            cmd = [*_paper_cmd(port, store, (strat, settings), run_id, 600), "--strategist",
                   "live", "--llm-host", model.host]  # fmt: skip
            yield Progress(cmd, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE), store
    finally:
        feed.kill()
        feed.wait()


def _stopped(child: Progress) -> dict[str, Any]:
    """Stop the run cleanly (flush, roll, report) and return its report."""
    child.close()  # stop listening first: the child's reporting then turns itself off
    child.proc.send_signal(signal.SIGTERM)
    out, errs = child.proc.communicate(timeout=180)
    assert child.proc.returncode == 0, errs
    report: dict[str, Any] = json.loads(out)
    return report


def _verified(store: Path, run_id: str) -> None:
    """`clanka verify parity` replays the run's log to zero differences."""
    ver = subprocess.run([*CLI, "verify", "parity", run_id, "--store", str(store), "--json"],
                         cwd=REPO, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert ver.returncode == 0, ver.stdout + ver.stderr
    assert json.loads(ver.stdout)["differences"] == 0


def test_a_paper_run_applies_the_strategists_answer_and_verifies_with_zero_differences(
    pump_store: EventStore,
    tmp_path: Path,
) -> None:
    # The first answer repeats the set in force (the sniper buys on); the next one says
    # to stand down: nothing on this market rises 5000% in an hour.
    same = proposal([("price", ">", 0.0)], note="carry on")
    off = proposal([("ret_1h", ">=", 50.0)], note="stand down")
    with _paper_run(pump_store, tmp_path, "interval_s = 10\ndelay_s = 2\nattempts = 1\n",
                    "llm", Answer(same), Answer(off)) as (child, store):  # fmt: skip
        # Reported when the answer is due: its control rows go in right after.
        child.wait_for(lambda e: e["event"] == "strategist" and e["status"] == "accepted")
        child.wait_for(lambda e: e["event"] == "appended")  # trading went on after it
        rep = _stopped(child)
    assert rep["strategist"]["by_status"]["unchanged"] >= 1
    assert rep["strategist"]["by_status"]["accepted"] == 1
    (ctl,) = [c for c in rep["controls"] if c["requested_by"] == "strategist"]
    assert ctl["change"] == "conditions -> ret_1h >= 50" and ctl["reason"] == "stand down"
    st = open_store(store)
    calls = st.con.execute(
        "SELECT call_no, ts_ns, apply_ts_ns, status, mode FROM strategist WHERE run_id = 'llm' "
        "ORDER BY call_no"
    ).fetchall()
    assert calls[0][3] == "unchanged"
    first = calls[1]
    assert first[3] == "accepted" and first[4] == "live"
    assert first[1] % (10 * S) == 0 and first[2] == first[1] + 2 * S  # due, due + delay
    assert first[1] == calls[0][1] + 10 * S  # the next due time
    # The model saw the run up to its due time: the prompt's clock is that time.
    ((prompt,),) = st.con.execute(
        "SELECT prompt FROM strategist WHERE run_id = 'llm' AND call_no = 1"
    ).fetchall()
    data = json.loads(json.loads(prompt)["messages"][1]["content"].removeprefix("DATA:\n"))
    due = dt.datetime.fromtimestamp(first[1] // S, dt.UTC)
    assert data["time_utc"] == due.isoformat().replace("+00:00", "Z")
    # Entries before the change, none at or after it (every entry here is the sniper's).
    rows = np.array(
        st.con.execute(
            "SELECT ts_ns, action, trigger FROM decisions WHERE run_id = 'llm'"
        ).fetchall()
    )
    buys = rows[(rows[:, 1] == Action.BUY) & (rows[:, 2] == Trigger.SNIPER)]
    assert (buys[:, 0] < first[2]).sum() > 0
    assert (buys[:, 0] >= first[2]).sum() == 0
    _verified(store, "llm")


def test_an_operator_request_reaches_a_running_paper_run(
    pump_store: EventStore,
    tmp_path: Path,
) -> None:
    from tests.test_cli import clanka

    asked = Answer(proposal([("ret_1h", ">=", 50.0)], note="asked"))
    with _paper_run(pump_store, tmp_path, "interval_s = 86400\ndelay_s = 2\nattempts = 1\n",
                    "ask", asked) as (child, store):  # fmt: skip
        child.wait_for(lambda e: e["event"] == "appended" and int(e["batch_no"]) > 20)
        r = clanka("control", "strategist", "--store", str(store), "--reason", "now please")
        assert r.returncode == 0 and "logged a strategist request" in r.stdout, r.stderr
        done = child.wait_for(lambda e: e["event"] == "strategist")
        assert (done["trigger"], done["status"]) == ("request", "accepted")
        rep = _stopped(child)
    st = open_store(store)
    rows = st.con.execute("SELECT trigger, status FROM strategist WHERE run_id = 'ask'").fetchall()
    assert ("request", "accepted") in rows, rows
    assert rep["strategist"]["by_status"]["accepted"] == 1
    _verified(store, "ask")
