"""Learning in a paper run: reviews, reflections and adaptations at wall-clock due times,
logged with the run's batches, and `clanka verify parity` replays them to 0 differences."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from data.store import EventStore, open_store
from tests.child_progress import Progress
from tests.strategist.test_strategist_paper import _stopped
from tests.test_cli import REPO
from tests.test_paper import CLI, EAGER, SETTINGS, _paper_cmd, _serve

# Fast enough for a test: review 1 s after the exit, reflect every 2 s, adapt the stop on
# every entry that came on a volume spike (pump.fun's launches all do), no cool-down.
LEARNING = """
[learning]
review_horizon_s = 1
reflection_interval_s = 2
adaptation_min_sample = 2
cooldown_s = 0
[learning.rules.widen_stop]
pattern = "volume_spike_entry"
param = "stop_loss"
step = 0.01
lo = 0.02
hi = 0.5
more_than = 0
"""


def _learning_run(
    pump_store: EventStore,
    tmp_path: Path,
    run_id: str,
    learning: str = LEARNING,
    *extra: str,
) -> tuple[list[str], subprocess.Popen[str], Path]:
    """The command of a learning paper run on the recorded pump.fun feed (served at 200x
    by the returned process), and the run's store."""
    strat = tmp_path / "eager.toml"
    strat.write_text(EAGER + learning)
    settings = tmp_path / "live.toml"
    settings.write_text(SETTINGS)
    feed, port = _serve(pump_store.root, 200)
    store = tmp_path / "paper"
    cmd = [*_paper_cmd(port, store, (strat, settings), run_id, 600), "--learning", "on", *extra]
    return cmd, feed, store


def test_a_paper_run_learns_adapts_and_verifies_with_zero_differences(
    pump_store: EventStore, tmp_path: Path
) -> None:
    cmd, feed, store = _learning_run(pump_store, tmp_path, "learn")
    try:
        child = Progress(cmd, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        # An adaptation's control rows fed to the kernel at its apply time, then trading on.
        child.wait_for(lambda e: e["event"] == "adapted")
        child.wait_for(lambda e: e["event"] == "appended")
        rep = _stopped(child)
    finally:
        feed.kill()
        feed.wait()
    learn = rep["learning"]
    assert learn["reviews"] > 0 and learn["pattern_hits"]
    assert any(a["action"] == "adapt" for a in learn["adaptations"])
    st = open_store(store)
    # Every logged adaptation that was sent and is due by the end reached the kernel.
    sent = st.con.execute(
        "SELECT adaptation_no, apply_ts_ns, param, new_value FROM adaptations "
        "WHERE run_id = 'learn' AND status = 'sent' ORDER BY adaptation_no").fetchall()  # fmt: skip
    applied = st.con.execute(
        "SELECT ts_ns, name, new_value, requested_by FROM param_history "
        "WHERE run_id = 'learn' ORDER BY run_seq").fetchall()  # fmt: skip
    assert applied and [a[3] for a in applied] == ["adaptation"] * len(applied)
    assert [(a[0], a[1], a[2]) for a in applied] == [
        (s[1], s[2], s[3]) for s in sent[: len(applied)]
    ]
    ver = subprocess.run([*CLI, "verify", "parity", "learn", "--store", str(store), "--json"],
                         cwd=REPO, capture_output=True, text=True, timeout=180)  # fmt: skip
    assert ver.returncode == 0, ver.stdout + ver.stderr
    doc = json.loads(ver.stdout)
    assert doc["differences"] == 0, doc["first_difference"]
    n_learned = sum(
        st.con.execute(f"SELECT count(*) FROM {f} WHERE run_id = 'learn'").fetchall()[0][0]
        for f in ("reviews", "pattern_hits", "insights", "adaptations")
    )
    assert doc["learning_events"] == n_learned > 0
    status = subprocess.run([*CLI, "learn", "status", "--run", "learn", "--store", str(store)],
                            cwd=REPO, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert status.returncode == 0, status.stderr
    assert "volume_spike_entry" in status.stdout and "adapt (sent)" in status.stdout


def test_kill_9_mid_learning_then_resume_logs_each_learning_event_once(
    pump_store: EventStore, tmp_path: Path
) -> None:
    cmd, feed, store = _learning_run(pump_store, tmp_path, "crash")
    try:
        child = Progress(cmd, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        child.wait_for(lambda e: e["event"] == "adapted")
        child.wait_for(lambda e: e["event"] == "learned")  # more learned since, maybe unlogged
        child.close()
        child.proc.kill()
        child.proc.communicate(timeout=60)
        again = Progress(cmd, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        started = again.wait_for(lambda e: e["event"] == "started")
        assert started["recovered_batches"] > 0
        again.wait_for(lambda e: e["event"] == "learned")  # learning went on after resuming
        _stopped(again)
    finally:
        feed.kill()
        feed.wait()
    st = open_store(store)
    for fam, key in (("reviews", "review_no"), ("insights", "insight_no"),
                     ("adaptations", "adaptation_no")):  # fmt: skip
        nos = [
            r[0]
            for r in st.con.execute(
                f"SELECT {key} FROM {fam} WHERE run_id = 'crash' ORDER BY {key}"
            ).fetchall()
        ]
        assert nos == list(range(len(nos))), fam  # each once, none missing
    ((dupes,),) = st.con.execute(
        "SELECT count(*) - count(DISTINCT (review_no, pattern)) FROM pattern_hits "
        "WHERE run_id = 'crash'").fetchall()  # fmt: skip
    assert dupes == 0
    ver = subprocess.run([*CLI, "verify", "parity", "crash", "--store", str(store), "--json"],
                         cwd=REPO, capture_output=True, text=True, timeout=180)  # fmt: skip
    assert ver.returncode == 0, ver.stdout + ver.stderr
    assert json.loads(ver.stdout)["differences"] == 0


def test_on_chain_time_a_feed_played_200x_learns_in_market_hours(
    pump_store: EventStore, tmp_path: Path
) -> None:
    """`--clock chain`: the kernel runs on the trades' own timestamps, so the hourly
    reflection comes every market hour (18 s of wall time at 200x), at UTC hours of the
    recorded day, and the run still replays to 0 differences."""
    cmd, feed, store = _learning_run(
        pump_store, tmp_path, "chain", "[learning]\nreview_horizon_s = 60\n", "--clock", "chain"
    )
    try:
        child = Progress(cmd, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        seen = {"reflections": 0}

        def two_hours(e: dict[str, object]) -> bool:
            if e["event"] == "learned":
                seen["reflections"] += int(e["reflections"])  # type: ignore[call-overload]
            return seen["reflections"] >= 2

        child.wait_for(two_hours)
        rep = _stopped(child)
    finally:
        feed.kill()
        feed.wait()
    st = open_store(store)
    hour = 3600 * 10**9
    times = [r[0] for r in st.con.execute(
        "SELECT ts_ns FROM insights WHERE run_id = 'chain' AND kind = 'summary' ORDER BY ts_ns"
    ).fetchall()]  # fmt: skip
    day = 1_749_168_000 * 10**9  # 2025-06-06T00:00Z: the recorded day, not today
    assert len(times) >= 2 and all(t % hour == 0 and day < t < day + 24 * hour for t in times)
    ((lo, hi),) = st.con.execute(
        "SELECT min(ts_ns), max(ts_ns) FROM decisions WHERE run_id = 'chain'"
    ).fetchall()
    assert day < lo <= hi < day + 24 * hour
    ver = subprocess.run([*CLI, "verify", "parity", "chain", "--store", str(store), "--json"],
                         cwd=REPO, capture_output=True, text=True, timeout=180)  # fmt: skip
    assert ver.returncode == 0, ver.stdout + ver.stderr
    assert json.loads(ver.stdout)["differences"] == 0
    assert rep["learning"]["reviews"] > 0
