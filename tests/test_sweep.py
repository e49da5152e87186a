"""Sweeps: a sweep row's metrics equal a plain replay's report with the same parameters."""

from __future__ import annotations

import json
import math
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from data.generator.market import MarketParams, generate_into
from data.store import EventStore, open_store
from replay.core.runner import run_replay
from replay.sweep.chunk import sweep_local
from replay.sweep.grid import grid_sets, parse_grid, random_sets
from replay.sweep.results import METRIC_KEYS, sweep_id_for, sweep_rows
from replay.sweep.walkforward import parse_walk_forward, walk_forward, windows
from strategies.config import load_strategy
from tests.child_progress import Progress
from tests.conftest import REPO
from tests.test_replay import pump_store, synth_store  # noqa: F401  (fixtures)


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b


@pytest.mark.parametrize("store_name", ["pump_store", "synth_store"])
def test_sweep_metrics_equal_plain_replays(store_name: str, request: pytest.FixtureRequest) -> None:
    store: EventStore = request.getfixturevalue(store_name)
    strat = load_strategy("momentum_breakout")
    grid = parse_grid(["stop_loss=0.04:0.12:0.04", "min_buy_confidence=0.55,0.65",
                       "max_daily_trades=5,1000"])  # fmt: skip
    sets = grid_sets(strat, grid)
    assert len(sets) == 12
    rows = sweep_local(store, strat, sets)
    for i in random.Random(4).sample(range(len(sets)), 4):
        want = run_replay(store, strat, strat.vector(sets[i]), write=False).report
        got = rows[i]
        diff = {k: (got[k], want[k]) for k in METRIC_KEYS if not _same(got[k], want[k])}
        assert not diff, (sets[i], diff)
    assert len({r["realized_pnl_sol"] for r in rows}) > 1  # the grid really varies results


def test_grid_parsing() -> None:
    g = parse_grid(["tp1=0.1:0.3:0.1", "max_positions=1,3"])
    assert g == {"tp1": [0.1, 0.2, 0.3], "max_positions": [1.0, 3.0]}
    for bad in ["nope=1:2:1", "tp1=0.3:0.1:0.1", "tp1=a:b:c", "tp1"]:
        with pytest.raises(ValueError, match="--grid"):
            parse_grid([bad])


CLI = [sys.executable, "-c", "from replay.cli.launch import main; main()"]


def _rows(store_dir: Path, sweep_id: str) -> list[int]:
    st = open_store(store_dir)
    q = "SELECT set_index FROM sweeps WHERE sweep_id = ?"
    return [int(r[0]) for r in st.con.execute(q, [sweep_id]).fetchall()]


def test_kill_9_mid_sweep_then_rerun_resumes_without_gaps_or_repeats(tmp_path: Path) -> None:
    """SIGKILL a `clanka sweep` after some chunks committed; the same command then runs
    only the missing chunks, and the table has every set exactly once, with the same
    metrics as an uninterrupted sweep."""
    store_dir = tmp_path / "s"
    s = open_store(store_dir, create=True)
    generate_into(s, MarketParams(mints=120, hours=12, seed=3))
    grid = ["stop_loss=0.04:0.15:0.01", "tp1=0.1,0.2"]
    base = load_strategy("momentum_breakout")
    trailing = 0.06
    strat = base.model_copy(update={"params": {**base.params, "trailing_pct": trailing}})
    sets = grid_sets(strat, parse_grid(grid))
    sid = sweep_id_for(s, strat, sets, None, None, None)
    args = ["sweep", "--store", str(store_dir), "--grid", grid[0], "--grid", grid[1],
            "--chunk-size", "2", "--json", "--set", f"trailing_pct={trailing}"]  # fmt: skip
    # Kill on the child's own report of its second committed chunk (of 12): in step mode
    # it stops itself after each report, so the kill lands exactly there on any machine.
    child = Progress([*CLI, *args], step=True, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL)  # fmt: skip
    child.wait_for(lambda e: e["event"] == "chunk_committed" and e["done"] >= 2)
    child.proc.send_signal(signal.SIGKILL)  # held right after its 2nd commit
    child.proc.wait()
    child.close()
    partial = _rows(store_dir, sid)
    assert len(partial) == 2 * 2, "killed right after its second chunk"
    assert len(sets) == 24
    assert len(partial) % 2 == 0  # whole chunks only
    done = subprocess.run([*CLI, *args], cwd=REPO, capture_output=True, text=True, check=True)
    doc = json.loads(done.stdout)
    assert doc["sweep_id"] == sid
    assert doc["chunks_run"] == doc["chunks"] - len(partial) // 2
    assert sorted(_rows(store_dir, sid)) == list(range(24))  # each set once
    st = open_store(store_dir)
    fresh = sweep_local(st, strat, sets)
    stored = sweep_rows(st, sid)
    for want, got in zip(fresh, stored, strict=True):
        assert all(_same(got[k], want[k]) for k in METRIC_KEYS), (got, want)


def test_dask_local_cluster_gives_the_local_executors_results(tmp_path: Path) -> None:
    """The same small sweep on a 2-worker LocalCluster and on the local executor."""
    from dask.distributed import Client, LocalCluster

    from replay.sweep.dask import run_chunks

    store_dir = tmp_path / "s"
    s = open_store(store_dir, create=True)
    generate_into(s, MarketParams(mints=30, hours=4, seed=11))
    strat = load_strategy("momentum_breakout")
    sets = grid_sets(strat, parse_grid(["stop_loss=0.05,0.1", "tp1=0.1,0.15,0.2"]))
    chunks = [sets[0:2], sets[2:4], sets[4:6]]
    got: dict[int, list[dict[str, object]]] = {}
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:  # fmt: skip
        assert len(client.scheduler_info()["workers"]) == 2
        run_chunks(client, store_dir, strat, chunks, None, None, None,
                   lambda pos, rows: got.setdefault(pos, rows))  # fmt: skip
    dask_rows = [r for pos in sorted(got) for r in got[pos]]
    local_rows = sweep_local(s, strat, sets)
    assert len(dask_rows) == 6
    for d, loc in zip(dask_rows, local_rows, strict=True):
        assert all(_same(d[k], loc[k]) for k in METRIC_KEYS), (d, loc)
    assert len({r["realized_pnl_sol"] for r in local_rows}) > 1


def test_local_processes_give_the_one_process_results(tmp_path: Path) -> None:
    """Chunks spread over 2 fresh processes: the same rows, appended once each."""
    from replay.sweep.run import run_sweep

    s = open_store(tmp_path / "s", create=True)
    generate_into(s, MarketParams(mints=30, hours=4, seed=11))
    strat = load_strategy("momentum_breakout")
    sets = grid_sets(strat, parse_grid(["stop_loss=0.05,0.1", "tp1=0.1,0.15,0.2"]))
    res = run_sweep(s, strat, sets, chunk_size=2, processes=2)
    assert (res.chunks, res.chunks_run, len(res.rows)) == (3, 3, 6)
    assert [r["set_index"] for r in res.rows] == list(range(6))
    for got, want in zip(res.rows, sweep_local(s, strat, sets), strict=True):
        assert all(_same(got[k], want[k]) for k in METRIC_KEYS), (got, want)
    again = run_sweep(s, strat, sets, chunk_size=2, processes=2)
    assert (again.chunks_run, again.rows) == (0, res.rows)


def test_cli_sweep_with_the_dask_executor_resumes_like_local(tmp_path: Path) -> None:
    store_dir = tmp_path / "s"
    generate_into(open_store(store_dir, create=True), MarketParams(mints=20, hours=3, seed=2))
    cmd = [sys.executable, "-c", "from replay.cli.launch import main; main()", "sweep", "--store",
           str(store_dir), "--grid", "stop_loss=0.05,0.1,0.15", "--chunk-size", "1", "--json",
           "--top", "3"]  # fmt: skip
    a = json.loads(subprocess.run([*cmd, "--executor", "dask", "--workers", "2"], cwd=REPO,
                                  capture_output=True, text=True, check=True).stdout)  # fmt: skip
    assert (a["sets"], a["chunks"], a["chunks_run"]) == (3, 3, 3)
    b = json.loads(subprocess.run(cmd, cwd=REPO, capture_output=True, text=True,
                                  check=True).stdout)  # fmt: skip
    assert (b["sweep_id"], b["chunks_run"]) == (a["sweep_id"], 0)  # nothing left to run
    assert b["top"] == a["top"]
    pnl = [r["realized_pnl_sol"] for r in a["top"]]
    assert pnl == sorted(pnl, reverse=True)


def test_random_space_draws_are_reproducible_and_valid(tmp_path: Path) -> None:
    space = tmp_path / "space.toml"
    space.write_text(
        "[stop_loss]\nlo = 0.03\nhi = 0.15\n[tp1]\nvalues = [0.1, 0.2, 0.25]\n"
        "[max_positions]\nlo = 1\nhi = 5\ninteger = true\n"
        "[liq_cap_pct]\nlo = 0.001\nhi = 0.1\nlog = true\n"
    )
    strat = load_strategy("momentum_breakout")
    a = random_sets(strat, space, 20, seed=5)
    assert a == random_sets(strat, space, 20, seed=5)
    assert a != random_sets(strat, space, 20, seed=6)
    for s in a:
        assert 0.03 <= s["stop_loss"] <= 0.15
        assert s["tp1"] in (0.1, 0.2, 0.25)
        assert s["max_positions"] in (1.0, 2.0, 3.0, 4.0, 5.0)
        assert 0.001 <= s["liq_cap_pct"] <= 0.1
        strat.vector(s)  # every draw is a valid parameter set
    bad = tmp_path / "bad.toml"
    bad.write_text("[moon]\nlo = 1\nhi = 2\n")
    with pytest.raises(ValueError, match=r"\[moon\]"):
        random_sets(strat, bad, 3)


def test_walk_forward_windows() -> None:
    day = 86_400 * 10**9
    assert windows(10, 19, 5, 3) == [
        (10 * day, 15 * day, 18 * day),
    ]
    assert [w[1] // day for w in windows(0, 20, 5, 3)] == [5, 8, 11, 14, 17]
    assert windows(0, 6, 5, 3) == []
    assert parse_walk_forward("5:3") == (5, 3)
    with pytest.raises(ValueError, match="walk-forward"):
        parse_walk_forward("5")


def test_walk_forward_picks_on_train_and_scores_on_unseen_days(
    shared_data: Path, tmp_path: Path
) -> None:
    """On 21 days of real BTC-PERP bars: each window's chosen set is the best of its
    train sweep, and its out-of-sample figures are those of a plain replay of the test
    days with that set."""
    from data.importers import import_file

    s = open_store(tmp_path / "s", create=True)
    import_file(s, shared_data / "ftx_btcperp_1m_2021-12-31_to_2022-01-20.parquet")
    base = load_strategy("momentum_breakout")
    strat = base.model_copy(update={
        "entry": "ret_5m >= 0.004",
        "params": {**base.params, "min_liquidity": -1.0, "tp2": 0.05, "tp3": 0.1},
    })  # fmt: skip
    sets = grid_sets(strat, parse_grid(["stop_loss=0.01,0.02,0.04", "tp1=0.01,0.02"]))
    rows = walk_forward(s, strat, sets, 5, 3, "realized_pnl_sol")
    assert len(rows) == 5
    for w in rows:
        train = sweep_rows(s, w["sweep_id"])
        best = max(r["realized_pnl_sol"] for r in train)
        assert w["in_sample"]["realized_pnl_sol"] == best
        chosen = next(r for r in train if r["set_index"] == w["best_set_index"])
        assert chosen["set"] == w["best_set"]
        oos = run_replay(s, strat, strat.vector(w["best_set"]), start_ts=w["test_start_ns"],
                         end_ts=w["test_end_ns"], write=False).report  # fmt: skip
        for k, v in w["out_of_sample"].items():
            assert _same(v, oos[k]), (k, v, oos[k])
        assert w["test_end_ns"] - w["test_start_ns"] == 3 * 86_400 * 10**9
    assert sum(w["out_of_sample"]["trades"] for w in rows) > 0


def test_sweep_report_is_self_contained_and_reruns_the_best(tmp_path: Path) -> None:
    from replay.sweep.html import build_report
    from replay.sweep.run import run_sweep

    s = open_store(tmp_path / "s", create=True)
    generate_into(s, MarketParams(mints=30, hours=4, seed=9))
    strat = load_strategy("momentum_breakout")
    sets = grid_sets(strat, parse_grid(["stop_loss=0.04,0.08,0.12", "tp1=0.1,0.2"]))
    res = run_sweep(s, strat, sets, chunk_size=3)
    page = tmp_path / "r.html"
    doc = build_report(s, res.sweep_id, page, top=2)
    text = page.read_text()
    assert "<script src=" not in text  # plotly.js is embedded: no CDN
    assert text.count("Plotly.newPlot") == 2  # heatmap + equity curves
    assert doc["heatmap"] == ["stop_loss", "tp1"]
    assert "Leaderboard (best 2 by realized_pnl_sol)" in text
    # The equity curves run over real dates (the market starts 2025-01-01), not epoch seconds.
    assert "time (UTC)" in text and "unix s" not in text
    assert '"2025-01-01T0' in text
    ranked = sorted(res.rows, key=lambda r: -(r["realized_pnl_sol"] or 0.0))
    assert [r["set_index"] for r in doc["best_runs"]] == [r["set_index"] for r in ranked[:2]]
    s.refresh()
    for run, row in zip(doc["best_runs"], ranked, strict=False):
        (report_json,) = s.con.execute(
            "SELECT report_json FROM runs WHERE run_id = ?", [run["run_id"]]
        ).fetchone() or ("{}",)
        rep = json.loads(report_json)
        assert _same(rep["realized_pnl_sol"], row["realized_pnl_sol"])
        n_eq = s.con.execute("SELECT count(*) FROM equity WHERE run_id = ?", [run["run_id"]])
        assert n_eq.fetchall()[0][0] > 0
    with pytest.raises(ValueError, match="no sweep"):
        build_report(s, "sweep-nope", page)
