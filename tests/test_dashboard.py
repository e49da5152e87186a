"""The web dashboard in a real headless Chromium: the live page follows a paper run as it
writes and ends on the run's own figures; the analytics charts have the points the store
says they should; the run report renders without console errors; the dashboard works
on a read-only copy of a store and off loopback only with its token."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from data.controls import append_param
from data.generator.market import MarketParams, generate_into
from data.store import EventStore, open_store
from replay.core.runner import run_replay
from strategies.config import load_strategy
from tests.browser import artifacts, dashboard, needs_browser, page
from tests.child_progress import Progress
from tests.conftest import REPO
from tests.hostile.harness import in_namespace, namespaces_work
from tests.test_paper import _paper_cmd, files, server_of_pump  # noqa: F401  (fixtures)
from tests.test_replay import pump_store  # noqa: F401  (fixture)

CLI = [sys.executable, "-c", "from replay.cli.launch import main; main()"]
S = 1_000_000_000


def _text(pg: object, sel: str) -> str:
    return str(pg.locator(sel).inner_text())  # type: ignore[attr-defined]


def _utc(ns: int) -> str:
    """The page's `utc()`: ISO to the second, UTC."""
    return datetime.fromtimestamp(ns / 1e9, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def _newest_decision_after(child: Progress, store: Path, seen: str) -> str:
    """The newest decision time (as the page writes it) once the store holds one later
    than `seen`, checked after each batch the child reports rolled into Parquet."""
    while True:
        child.wait_for(lambda e: e["event"] == "rolled")
        st = open_store(store, reader=True)
        try:
            ((ns,),) = st.con.execute(
                "SELECT max(ts_ns) FROM decisions WHERE run_id = 'dash'"
            ).fetchall()
        finally:
            st.close()
        if ns is not None and _utc(int(ns)) > seen:
            return _utc(int(ns))


@needs_browser
def test_the_live_page_follows_a_paper_run_and_ends_on_its_figures(
    server_of_pump: int,  # noqa: F811
    files: tuple[Path, Path],  # noqa: F811
    tmp_path: Path,
) -> None:
    store = tmp_path / "paper"
    child = Progress(_paper_cmd(server_of_pump, store, files, "dash", 600), text=True,
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    try:
        child.wait_for(lambda e: e["event"] == "rolled")  # something is in Parquet
        with dashboard(store) as url, page() as (pg, errors):
            pg.goto(f"{url}/?run=dash")
            pg.wait_for_function(
                "document.querySelectorAll('#decisions tbody tr:not(.empty)').length > 0"
            )
            seen = _text(pg, "#decisions tbody tr:first-child td:first-child")
            # More of the run reaches Parquet: wait (on the child's rolls) until the store
            # itself holds a later decision time than the page showed; the page, pushed
            # every second, must then follow to it or beyond.
            newest = _newest_decision_after(child, store, seen)
            pg.wait_for_function(
                "t => document.querySelector('#decisions tbody tr td').textContent >= t",
                arg=newest,
            )
            child.close()
            child.proc.send_signal(signal.SIGTERM)
            out, err = child.proc.communicate(timeout=120)
            assert child.proc.returncode == 0, err
            rep = json.loads(out)
            # The final push shows the run's own report: trades, win rate, equity, positions.
            pg.wait_for_function(
                "n => document.getElementById('closed').textContent === n", arg=str(rep["trades"])
            )
            pg.wait_for_function(
                "v => document.getElementById('portfolio').textContent === v",
                arg=f"{rep['final_equity_sol']:.4f}",
            )
            win = "-" if rep["win_rate"] is None else f"{rep['win_rate'] * 100:.1f}%"
            assert _text(pg, "#win_rate") == win
            rows = pg.locator("#positions tbody tr:not(.empty)").count()
            assert rows == rep["open_positions"]
            pg.wait_for_function("document.getElementById('feed').textContent === 'stopped'")
            pg.screenshot(path=str(artifacts() / "dashboard_live.png"), full_page=True)
            assert errors == []
    finally:
        if child.proc.poll() is None:
            child.proc.kill()
            child.proc.wait()


@pytest.fixture(scope="module")
def learned(tmp_path_factory: pytest.TempPathFactory) -> tuple[EventStore, str]:
    """A synthetic market replayed with the learning loop on and one operator change."""
    st = open_store(tmp_path_factory.mktemp("dash") / "s", create=True)
    generate_into(st, MarketParams(mints=60, hours=8, seed=7))
    t0 = st.con.execute("SELECT min(ts_ns) FROM ticks").fetchall()[0][0]
    append_param(st, "stop_loss", 0.06, int(t0) + 3 * 3600 * S, source="operator",
                 reason="tighter stops after the third hour")  # fmt: skip
    strat = load_strategy("momentum_llm")
    learning = strat.learning.model_copy(update={"mode": "on"})
    res = run_replay(st, strat, strat.vector(), learning=learning)
    st.refresh()
    return st, res.run_id


@needs_browser
def test_the_analytics_charts_have_the_points_the_store_has(
    learned: tuple[EventStore, str],
) -> None:
    st, run = learned
    hours = st.con.execute(
        "SELECT count(DISTINCT ts_ns // 3600000000000), sum(sol) / 1e9 FROM positions "
        "WHERE source = ? AND event = 2",
        [run],
    ).fetchall()[0]
    patterns = st.con.execute(
        "SELECT count(DISTINCT pattern) FROM pattern_hits WHERE source = ?", [run]
    ).fetchall()[0][0]
    params = st.con.execute(
        "SELECT count(DISTINCT name) FROM params WHERE source = ? AND control = 'param' AND "
        "status = 'applied'",
        [run],
    ).fetchall()[0][0]
    winners = st.con.execute(
        "SELECT count(*) FROM positions WHERE source = ? AND event = 2 AND sol > 0", [run]
    ).fetchall()[0][0]
    assert hours[0] >= 2 and patterns >= 1 and params >= 1  # a run worth charting
    with dashboard(st.root) as url, page(height=1400) as (pg, errors):
        pg.goto(f"{url}/analytics?run={run}")
        pg.wait_for_function("document.getElementById('updated').textContent.includes('1 loads')")
        n_hours = pg.evaluate("document.getElementById('hourly').data[0].x.length")
        pnl = pg.evaluate("document.getElementById('hourly').data[0].y.reduce((a, b) => a + b)")
        n_patterns = pg.evaluate("document.getElementById('patterns_chart').data[0].x.length")
        n_lines = pg.evaluate("document.getElementById('evolution').data.length")
        assert (n_hours, n_patterns, n_lines) == (hours[0], patterns, params)
        assert pnl == pytest.approx(hours[1], abs=1e-9)
        assert pg.locator("#wins tbody tr:not(.empty)").count() == min(5, winners)
        assert "tighter stops after the third hour" in _text(pg, "#changes")
        pg.screenshot(path=str(artifacts() / "dashboard_analytics.png"), full_page=True)
        pg.goto(f"{url}/report/{run}")
        pg.wait_for_function("document.querySelectorAll('.plotly-graph-div .main-svg').length > 3")
        assert pg.title() == f"Clanka run {run}"
        pg.screenshot(path=str(artifacts() / "run_report.png"))
        assert errors == []


@needs_browser
def test_the_standalone_report_renders_offline_without_errors(
    learned: tuple[EventStore, str], tmp_path: Path
) -> None:
    st, run = learned
    out = tmp_path / "report.html"
    done = subprocess.run([*CLI, "report", run, "--store", str(st.root), "--html", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    with page() as (pg, errors):
        pg.goto(out.as_uri())
        pg.wait_for_function("document.querySelectorAll('.plotly-graph-div .main-svg').length > 3")
        n = pg.locator("details[id^=T]").count()
        assert (
            n
            == st.con.execute(
                "SELECT count(*) FROM positions WHERE source = ? AND event = 1", [run]
            ).fetchall()[0][0]
        )
        assert errors == []


@pytest.mark.skipif(
    not namespaces_work() and not os.environ.get("CI"),
    reason="no private mount namespaces on this machine (CI requires them)",
)
def test_the_dashboard_serves_a_read_only_copy(learned: tuple[EventStore, str]) -> None:
    st, run = learned
    root = st.root
    script = f"""
mount --bind {root} {root} && mount -o remount,bind,ro {root} || exit 99
$CLANKA serve --store {root} --port 0 > serve.out 2> serve.err &
for i in $(seq 600); do grep -q "on http" serve.out 2>/dev/null && break; sleep 0.1; done
url=$(grep -o "http://[0-9.:]*" serve.out)
for path in / /analytics "/api/runs" "/api/live?run={run}" "/api/analytics?run={run}" \\
            "/report/{run}"; do
  {sys.executable} -c "import sys, urllib.request as u; r = u.urlopen(sys.argv[1] + sys.argv[2]); \\
print(sys.argv[2], r.status, len(r.read()))" "$url" "$path"
done
pkill -TERM -f "serve --store {root} --port 0"; wait; cat serve.err
"""
    r = in_namespace(f"cd $(mktemp -d)\n{script}")
    lines = [ln.split() for ln in r.out.splitlines() if ln.startswith("/")]
    assert [ln[:2] for ln in lines] == [
        ["/", "200"], ["/analytics", "200"], ["/api/runs", "200"], [f"/api/live?run={run}", "200"],
        [f"/api/analytics?run={run}", "200"], [f"/report/{run}", "200"],
    ], r.text  # fmt: skip
    assert "Traceback" not in r.text and "read-only" not in r.err, r.text


def test_off_loopback_the_dashboard_needs_its_token(learned: tuple[EventStore, str]) -> None:
    st, run = learned
    anywhere = "0.0.0.0"  # noqa: S104 - the point of the test
    bare = subprocess.run([*CLI, "serve", "--store", str(st.root), "--host", anywhere],
                          cwd=REPO, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert bare.returncode != 0 and len(bare.stderr.strip().splitlines()) == 1
    assert "give --token" in bare.stderr
    token = "dashboard-token-for-tests"  # noqa: S105 - planted
    with dashboard(st.root, "--host", anywhere, "--token", token) as url:
        local = url.replace(anywhere, "127.0.0.1")
        assert httpx.get(f"{local}/api/runs").status_code == 401
        ok = httpx.get(f"{local}/api/runs", params={"token": token})
        assert ok.status_code == 200 and run in {r["run_id"] for r in ok.json()}
        auth = httpx.get(f"{local}/api/live", params={"run": run},
                         headers={"Authorization": f"Bearer {token}"})  # fmt: skip
        assert auth.status_code == 200 and auth.json()["run_id"] == run
        assert httpx.get(f"{local}/static/plotly.min.js").status_code == 200  # public code
        assert httpx.post(f"{local}/api/live", params={"token": token}).status_code == 405
