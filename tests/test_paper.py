"""Paper mode end to end: a real feed server, the real CLI, kill -9, recovery, parity.

Every process here is a real `clanka` process; the feed is `clanka feed serve` on
loopback speaking Solana's websocket JSON-RPC, read by the feed's websocket client.
"""

from __future__ import annotations

import json
import logging
import random
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from data.generator.market import MarketParams, generate_into
from data.store import EventStore, open_store
from data.wal import read_log
from engine.layout import N_OUT_F
from replay.live.run import LiveRun, LiveSettings, run_strategy, state_summary, wal_files
from replay.report.run_data import load_run
from tests.alert_standins import DiscordStandIn, TelegramStandIn
from tests.child_progress import Progress
from tests.conftest import REPO
from tests.test_replay import pump_store  # noqa: F401  (fixture)

CLI = [sys.executable, "-c", "from replay.cli.launch import main; main()"]
EAGER = """
name = "eager_sniper"
description = "Buys whatever trades (tests only): guards open, short time stop"
entry = "price > 0"
[params]
min_buy_confidence = 0.0
hold_confidence = 0.0
require_trend_up = 0.0
min_liquidity = -1.0
max_candidates = 0
strong_sell_social = -1.0
strong_sell_technical = -1.0
strong_sell_risk = 11.0
max_portfolio_risk = 1.0
max_correlation = 1.0
max_positions = 3
max_position_sol = 0.5
min_position_sol = 1e6
size_ref_confidence = 0.01
liq_cap_pct = 1.0
time_stop_s = 1
time_stop_other_s = 1
reentry_cooldown_s = 0
max_daily_trades = 1e9
"""
SETTINGS = "[live]\nheartbeat_ms = 100\nflush_ms = 2\nroll_s = 0.5\n"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    strat = tmp_path / "eager.toml"
    strat.write_text(EAGER)
    settings = tmp_path / "live.toml"
    settings.write_text(SETTINGS)
    return strat, settings


def _serve(store_dir: Path, speed: float, *extra: str) -> tuple[subprocess.Popen[str], int]:
    port = _free_port()
    proc = subprocess.Popen([*CLI, "feed", "serve", "--from-store", str(store_dir), "--speed",
                             str(speed), "--port", str(port), *extra], cwd=REPO, text=True,
                            stderr=subprocess.PIPE)  # fmt: skip
    assert proc.stderr is not None
    line = proc.stderr.readline()  # "serving N ticks ... on ws://127.0.0.1:P"
    assert f":{port}" in line, line
    return proc, port


def _paper_cmd(port: int, store: Path, files: tuple[Path, Path], run_id: str,
               duration: float) -> list[str]:  # fmt: skip
    return [*CLI, "run", "--mode", "paper", "--feed", f"ws://127.0.0.1:{port}", "--store",
            str(store), "--config", str(files[0]), "--settings", str(files[1]), "--run-id",
            run_id, "--duration", str(duration), "--json"]  # fmt: skip


TG_TOKEN = "7000000001:AAE2eTestBotTokenNeverToBeSeen"  # noqa: S105 - planted, hunted for
HOOK_SECRET = "e2eWebhookSecretNeverToBeSeen"  # noqa: S105 - planted, hunted for


def _alerts_toml(tg_base: str, hook_url: str) -> str:
    return f"""
[alerts.telegram]
bot_token = "{TG_TOKEN}"
chat_id = "-100200"
api_base = "{tg_base}"
[alerts.discord]
webhook_url = "{hook_url}"
[alerts.rules]
big_win_pct = 0.0
big_loss_pct = 0.0
[alerts.limits]
group_s = 10
per_rule_per_hour = 3
"""


def _check_alerts(store: Path, done: subprocess.CompletedProcess[str], tg: TelegramStandIn,
                  dc: DiscordStandIn) -> None:  # fmt: skip
    st = open_store(store)
    closed = st.con.execute(
        "SELECT c.sol / o.sol FROM positions c JOIN positions o ON o.run_id = c.run_id AND "
        "o.pos_id = c.pos_id AND o.event = 1 WHERE c.run_id = 'e2e' AND c.event = 2"
    ).fetchall()
    wins = sum(1 for (pct,) in closed if pct > 0)
    losses = sum(1 for (pct,) in closed if pct < 0)
    rows = st.con.execute(
        "SELECT kind, rule, status, reason, channel, alerts_in, text FROM alerts "
        "WHERE run_id = 'e2e' ORDER BY seq"
    ).fetchall()
    raised = [r for r in rows if r[0] == "alert"]
    assert sum(r[1] == "big_win" for r in raised) == wins
    assert sum(r[1] == "big_loss" for r in raised) == losses
    assert wins + losses == len(closed) > 0
    assert {r[2] for r in raised} <= {"sent", "held"}
    for channel, got in (("telegram", [m["text"] for m in tg.sent]),
                         ("discord", [m["content"] for m in dc.sent])):  # fmt: skip
        msgs = [r for r in rows if r[0] == "message" and r[4] == channel]
        assert {r[2] for r in msgs} == {"delivered"}
        assert sum(r[5] for r in msgs) == len(raised)  # every alert in exactly one message
        assert got == [r[6] for r in msgs]
    # The secrets are in no output, no log line and no file of the store.
    for secret in (TG_TOKEN, HOOK_SECRET):
        assert secret not in done.stdout and secret not in done.stderr
        for f in store.rglob("*"):
            if f.is_file():
                assert secret.encode() not in f.read_bytes(), f


@pytest.fixture
def server_of_pump(pump_store: EventStore) -> Iterator[int]:  # noqa: F811
    proc, port = _serve(pump_store.root, speed=1000)
    yield port
    proc.kill()
    proc.wait()


def test_paper_on_recorded_pump_fun_feed_trades_and_verifies_with_zero_differences(
    server_of_pump: int, files: tuple[Path, Path], tmp_path: Path
) -> None:
    """With alerts on, to local Telegram and Discord stand-ins: every closed trade with a
    gain or a loss raises one (thresholds at 0 %), each alert reaches both channels in
    exactly one message, no secret is written anywhere, and parity is still 0."""
    store = tmp_path / "paper"
    with TelegramStandIn(TG_TOKEN) as tg, DiscordStandIn("42", HOOK_SECRET) as dc:
        files[1].write_text(SETTINGS + _alerts_toml(tg.base, dc.url))
        tg.script(("429", 1))  # the first message is told to wait a second
        done = subprocess.run(_paper_cmd(server_of_pump, store, files, "e2e", 8), cwd=REPO,
                              capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    _check_alerts(store, done, tg, dc)
    rep = json.loads(done.stdout)
    assert rep["mode"] == "paper" and rep["ticks_processed"] > 1000
    assert rep["fills"] > 0 and rep["trades"] > 0, rep  # it traded, and closed round trips
    assert rep["exit_reasons"].get("time_stop", 0) > 0  # time stops fired (heartbeats)
    assert rep["heartbeats"] > 20
    assert rep["latency_us"]["p50"] is not None
    ver = subprocess.run([*CLI, "verify", "parity", "e2e", "--store", str(store), "--json"],
                         cwd=REPO, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert ver.returncode == 0, ver.stdout + ver.stderr
    doc = json.loads(ver.stdout)
    assert doc["differences"] == 0 and doc["first_difference"] is None
    assert doc["events"] == doc["replay_events"] > 4 * rep["trades"]
    st = open_store(store)
    ((n_in,),) = st.con.sql("SELECT count(*) FROM feed_inputs WHERE source = 'e2e'").fetchall()
    assert n_in == rep["ticks_processed"] + rep["heartbeats"]
    assert wal_files(store, "e2e") == []  # a clean stop rolled everything into Parquet
    # `clanka report` reads the paper run back from its events: the run's own figures.
    page = load_run(st, "e2e")
    assert page.header["mode"] == "paper" and page.header["completed"]
    assert page.summary["trades_closed"] == rep["trades"]
    assert page.summary["realized_pnl_sol"] == pytest.approx(rep["realized_pnl_sol"], abs=1e-9)
    assert page.summary["trades_open"] == rep["open_positions"]
    assert page.summary["fees_sol"] == pytest.approx(rep["fees_sol"], abs=1e-9)
    for m in page.charted_mints:  # prices from the run's own feed inputs (no ticks here)
        assert page.prices[m], m


def test_verify_parity_prints_the_first_difference(
    server_of_pump: int, files: tuple[Path, Path], tmp_path: Path
) -> None:
    """Tamper with one logged fill: parity must fail and name it."""
    import pyarrow.parquet as pq

    store = tmp_path / "paper"
    subprocess.run(_paper_cmd(server_of_pump, store, files, "tamper", 4), cwd=REPO,
                   capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
    seg = sorted(store.glob("fills/**/source=tamper/*.parquet"))[0]
    t = pq.read_table(seg)
    qty = t.column("qty").to_pylist()
    qty[0] += 1
    pq.write_table(t.set_column(t.column_names.index("qty"), "qty",
                                __import__("pyarrow").array(qty, t.schema.field("qty").type)),
                   seg)  # fmt: skip
    ver = subprocess.run([*CLI, "verify", "parity", "tamper", "--store", str(store)], cwd=REPO,
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert ver.returncode == 1
    assert "first difference" in ver.stdout and "fills" in ver.stdout and "qty=" in ver.stdout


def test_a_cut_connection_is_a_feed_gap_and_sigterm_stops_cleanly(
    pump_store: EventStore,  # noqa: F811
    files: tuple[Path, Path],
    tmp_path: Path,
) -> None:
    proc, port = _serve(pump_store.root, 300, "--drop-after", "800")
    store = tmp_path / "paper"
    try:
        child = Progress(_paper_cmd(port, store, files, "cut", 600), text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
        p = child.proc
        gap = child.wait_for(lambda e: e["event"] == "gap")  # the reconnect's gap is logged
        # Stop once trades flowed again after it: a batch past the gap was appended.
        child.wait_for(lambda e: e["event"] == "appended" and e["batch_no"] > gap["batch_no"] + 5)
        child.close()  # stop listening first: the child's reporting then turns itself off
        p.send_signal(signal.SIGTERM)
        out, errs = p.communicate(timeout=120)
    finally:
        proc.kill()
        proc.wait()
    assert p.returncode == 0, errs  # SIGTERM: flush, roll, report
    rep = json.loads(out)
    assert rep["feed_gaps"] >= 1 and rep["feed"]["reconnects"] >= 1
    st = open_store(store)
    ((reason, dur),) = st.con.sql(
        "SELECT reason, end_ns - ts_ns FROM feed_gaps WHERE source = 'cut' LIMIT 1"
    ).fetchall()
    assert "ConnectionClosed" in reason and dur > 0
    ((after,),) = st.con.sql(
        "SELECT count(*) FROM feed_inputs i, feed_gaps g WHERE i.source = 'cut' AND i.kind = 0 "
        "AND i.recv_ts_ns > g.end_ns"
    ).fetchall()
    assert after > 0  # trades kept coming after the reconnect
    assert wal_files(store, "cut") == []  # the SIGTERM stop rolled everything


@pytest.fixture(scope="module")
def busy_market(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("busy") / "s"
    generate_into(open_store(d, create=True), MarketParams(mints=30, hours=8, seed=5))
    return d


def _on_disk(store_dir: Path, run_id: str) -> dict[int, tuple[int, int]]:
    """Batches a restart must keep (in Parquet, or whole in the log): inputs, uid xor."""
    st = open_store(store_dir)
    rows = st.con.sql(
        "SELECT b.batch_no, b.inputs, coalesce(bit_xor(i.uid), 0) FROM live_batches b "
        "LEFT JOIN feed_inputs i ON i.source = b.source AND i.batch_no = b.batch_no "
        "WHERE b.source = $r GROUP BY ALL", params={"r": run_id},
    ).fetchall()  # fmt: skip
    out = {int(b): (int(n), int(u)) for b, n, u in rows}
    st.close()
    for path in wal_files(store_dir, run_id):
        for rec in read_log(path, N_OUT_F)[0]:
            uids = rec.inputs["uid"]
            out.setdefault(
                rec.batch_no, (rec.n_in, int(np.bitwise_xor.reduce(uids)) if len(uids) else 0)
            )
    return out


def test_kill_9_at_random_moments_loses_and_duplicates_nothing(
    busy_market: Path, files: tuple[Path, Path], tmp_path: Path
) -> None:
    proc, port = _serve(busy_market, speed=300)
    store = tmp_path / "paper"
    rng = random.Random(2026)
    kept: dict[int, tuple[int, int]] = {}
    try:
        for trial in range(10):
            child = Progress(_paper_cmd(port, store, files, "crashy", 600),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
            p = child.proc
            # Kill at a point of the child's own progress: right after it started
            # (recovery done), or after its k-th appended batch of this session, which
            # may sit before or after an fsync or a roll.
            started = child.wait_for(lambda e: e["event"] == "started")
            k = rng.choice([0, rng.randint(1, 40), rng.randint(40, 400)])
            if k:
                first = int(started["next_batch"])  # type: ignore[call-overload]
                child.wait_for(lambda e, b=first + k: e["event"] == "appended"
                               and e["batch_no"] >= b)  # fmt: skip
            p.send_signal(signal.SIGKILL)
            p.wait()
            child.close()
            if store.exists():
                now = _on_disk(store, "crashy")
                lost = {b for b in kept if b not in now or now[b] != kept[b]}
                assert not lost, f"trial {trial}: batches acknowledged earlier are gone: {lost}"
                kept = now
        final = subprocess.run(_paper_cmd(port, store, files, "crashy", 3), cwd=REPO,
                               capture_output=True, text=True, timeout=120)  # fmt: skip
        assert final.returncode == 0, final.stderr
    finally:
        proc.kill()
        proc.wait()
    rep = json.loads(final.stdout)
    assert rep["recovered_batches"] >= len(kept) > 0
    st = open_store(store)
    now = _on_disk(store, "crashy")
    assert all(now.get(b) == v for b, v in kept.items())  # nothing acknowledged was lost
    nos = [
        r[0]
        for r in st.con.sql(
            "SELECT batch_no FROM live_batches WHERE source = 'crashy' ORDER BY 1"
        ).fetchall()
    ]
    assert nos == list(range(len(nos)))  # every batch once, none missing
    seqs = np.array(
        [
            r[0]
            for r in st.con.sql(
                "SELECT in_seq FROM feed_inputs WHERE source = 'crashy' ORDER BY 1"
            ).fetchall()
        ]
    )
    assert np.array_equal(seqs, np.arange(len(seqs)))  # every input once
    for fam in ("decisions", "orders", "fills", "positions", "risk", "equity"):
        ((n, distinct),) = st.con.sql(
            f"SELECT count(*), count(DISTINCT run_seq) FROM {fam} WHERE source = 'crashy'"
        ).fetchall()  # fmt: skip
        assert n == distinct, f"{fam}: duplicated events"
    ((gaps,),) = st.con.sql("SELECT count(*) FROM feed_gaps WHERE source = 'crashy' AND "
                            "reason = 'engine restart'").fetchall()  # fmt: skip
    assert gaps >= 1
    # Positions, cash, orders and breaker counters equal a from-scratch replay of the log.
    fresh = LiveRun(st, "crashy", run_strategy(st, "crashy"), LiveSettings(), mode="replay",
                    write=False)  # type: ignore[arg-type]  # fmt: skip
    fresh.replay_log()
    want, got = state_summary(fresh.kernel), _tuples(rep["state"])
    diff = {k: (want[k], got[k]) for k in want if want[k] != got[k]}  # whole rows on failure
    assert not diff, f"state after recovery differs from a from-scratch replay: {diff}"
    assert rep["fills"] > 0


def _tuples(state: dict[str, object]) -> dict[str, object]:
    """The JSON report's lists back into the tuples state_summary gives."""
    out = dict(state)
    for k in ("positions", "orders"):
        out[k] = sorted(tuple(x) for x in state[k])  # type: ignore[attr-defined]
    return out


def test_a_reload_mid_run_is_applied_logged_and_replays_with_zero_differences(
    server_of_pump: int, files: tuple[Path, Path], tmp_path: Path
) -> None:
    """Edit the strategy file of a running paper run (then break it, then SIGHUP), log
    an operator change too: every valid change is applied at its time, the broken file
    is refused with its reason and changes nothing, and a replay of the run's inputs
    has 0 differences."""
    store = tmp_path / "paper"
    strat, _ = files
    child = Progress(_paper_cmd(server_of_pump, store, files, "steer", 600), text=True,
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    p = child.proc
    try:
        child.wait_for(lambda e: e["event"] == "appended" and e["batch_no"] >= 3)
        edited = EAGER.replace("time_stop_s = 1\n", "time_stop_s = 2\n")
        strat.write_text(edited.replace('"price > 0"', '"price > 0 AND ticks >= 2"'))
        p.send_signal(signal.SIGHUP)
        child.wait_for(lambda e: e["event"] == "reload" and e["changes"] == 2)
        child.wait_for(lambda e: e["event"] == "controls" and e["applied"] == 2)
        strat.write_text(EAGER.replace("time_stop_s = 1\n", "time_stop_s = -5\n"))
        p.send_signal(signal.SIGHUP)
        child.wait_for(lambda e: e["event"] == "reload" and e["refused"] == 1)
        op = subprocess.run([*CLI, "control", "set", "max_positions=2", "--reason", "calm",
                             "--store", str(store)], cwd=REPO, capture_output=True, text=True,
                            timeout=120)  # fmt: skip
        assert op.returncode == 0, op.stderr
        last = child.wait_for(lambda e: e["event"] == "controls" and e["applied"] == 1)
        child.wait_for(lambda e: e["event"] == "appended" and e["batch_no"] > last["batch_no"] + 3)
        child.close()
        p.send_signal(signal.SIGTERM)
        out, errs = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, errs
    assert "config reload: time_stop_s 1 -> 2" in errs and "config reload refused" in errs
    rep = json.loads(out)
    assert [(c["change"], c["status"], c["requested_by"]) for c in rep["controls"]] == [
        ("time_stop_s 1 -> 2", "applied", "config"),
        ("conditions -> price > 0 AND ticks >= 2", "applied", "config"),
        ("max_positions 3 -> 2", "applied", "operator"),
    ]
    st = open_store(store)
    hist = st.con.sql("SELECT name, status, requested_by FROM param_history "
                      "WHERE run_id = 'steer' ORDER BY run_seq").fetchall()  # fmt: skip
    assert hist == [("time_stop_s", "applied", "config"), ("conditions", "applied", "config"),
                    ("max_positions", "applied", "operator")]  # fmt: skip
    ((why,),) = st.con.sql("SELECT detail FROM quarantine WHERE reason = 'invalid_config'"
                           ).fetchall()  # fmt: skip
    assert "time_stop_s" in why
    ver = subprocess.run([*CLI, "verify", "parity", "steer", "--store", str(store), "--json"],
                         cwd=REPO, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert ver.returncode == 0, ver.stdout + ver.stderr
    doc = json.loads(ver.stdout)
    assert doc["differences"] == 0 and doc["events"] > 0


def test_a_live_run_applies_each_control_once_when_its_time_comes(tmp_path: Path) -> None:
    """In-process: a control stamped in the future waits; one stamped before the run
    started is not the run's; each applies once, however often the run looks."""
    from data.controls import append_param
    from engine.params import P
    from strategies.config import load_strategy

    st = open_store(tmp_path / "s", create=True)
    clock = [1_800_000_000 * 10**9]
    run = LiveRun(st, "poll", load_strategy("momentum_breakout"),
                  LiveSettings(flush_ms=0), mode="paper", now_ns=lambda: clock[0])  # fmt: skip
    t0 = run.started_ns
    append_param(st, "stop_loss", 0.05, t0 - 1, source="operator", reason="before the run")
    append_param(st, "tp1", 0.2, t0 + 10 * 10**9, source="operator", reason="in 10 s")
    assert run.poll_controls(t0 + 5 * 10**9) == 0  # not yet due
    assert run.poll_controls(t0 + 6 * 10**9) == 0
    assert run.poll_controls(t0 + 10 * 10**9) == 1
    assert run.poll_controls(t0 + 11 * 10**9) == 0  # applied once
    assert run.kernel.params[P.TP1] == 0.2 and run.kernel.params[P.STOP_LOSS] == 0.08
    append_param(st, "tp1", 0.25, t0 + 5 * 10**9, source="operator", reason="late")
    assert run.poll_controls(t0 + 12 * 10**9) == 1  # logged for a moment past: now
    assert run.kernel.params[P.TP1] == 0.25
    report = run.close()
    assert [c["change"] for c in report["controls"]] == ["tp1 0.15 -> 0.2", "tp1 0.2 -> 0.25"]


def test_a_damaged_controls_segment_is_a_warning_and_the_run_trades_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The run keeps the values in force, says why in the log, and applies the control
    once the segment is readable again."""
    from data.controls import append_param
    from engine.params import P
    from strategies.config import load_strategy

    st = open_store(tmp_path / "s", create=True)
    run = LiveRun(st, "dmg", load_strategy("momentum_breakout"), LiveSettings(flush_ms=0),
                  mode="paper")  # fmt: skip
    t0 = run.started_ns
    append_param(st, "tp1", 0.2, t0 + 1, source="operator", reason="r")
    seg = sorted((tmp_path / "s" / "controls").rglob("*.parquet"))[0]
    good = seg.read_bytes()
    seg.write_bytes(good[: len(good) // 2])  # torn: the footer is gone
    log = logging.getLogger("clanka")  # the CLI's setup may stop propagation to root
    log.addHandler(caplog.handler)
    try:
        assert run.poll_controls(t0 + 10**9) == 0
    finally:
        log.removeHandler(caplog.handler)
    assert "controls could not be read" in caplog.text and "controls" in caplog.text
    assert run.kernel.params[P.TP1] == 0.15
    seg.write_bytes(good)
    assert run.poll_controls(t0 + 2 * 10**9) == 1
    assert run.kernel.params[P.TP1] == 0.2
    run.close()


def test_a_running_run_applies_an_operators_emergency_exit_once(tmp_path: Path) -> None:
    """`clanka control emergency-exit` reaches a running paper (or live) run through its
    control poll: the held position is sold and entries stop, once, across a restart."""
    from data.controls import append_control
    from data.feed.wire import FeedTick
    from engine.events import OutKind, Reason
    from engine.layout import O_KIND, O_REASON, O_SIDE
    from strategies.config import load_strategy

    cfg = tmp_path / "eager.toml"
    cfg.write_text(EAGER.replace("time_stop_s = 1\n", "time_stop_s = 3600\n"))
    st = open_store(tmp_path / "s", create=True)
    clock = [1_800_000_000 * 10**9]
    run = LiveRun(st, "exit", load_strategy(cfg), LiveSettings(flush_ms=0), mode="paper",
                  now_ns=lambda: clock[0])  # fmt: skip
    mint = "7GCihgDB8fe6KNjn2MYtkzZcRjQy3t9GHdC8uHYmW2hr"

    def tick(k: int) -> None:
        clock[0] += 10**9
        run.process_items([FeedTick(mint, 1e-6, 10**6, 1, 40.0, clock[0], clock[0], k)], None)

    tick(1)  # buy
    tick(2)  # filled
    append_control(st, "emergency-exit", clock[0] + 1, source="operator", reason="test")
    clock[0] += 2
    assert run.poll_controls(clock[0]) == 1
    assert run.poll_controls(clock[0] + 1) == 0  # once
    tick(3)  # the exit fills; no new entry (the emergency stop holds)
    tick(4)
    out_i, _ = run.outputs()
    sells = out_i[(out_i[:, O_KIND] == OutKind.ORDER_PLACED) & (out_i[:, O_SIDE] == -1)]
    assert sells[:, O_REASON].tolist() == [Reason.EMERGENCY_EXIT]
    buys = out_i[(out_i[:, O_KIND] == OutKind.ORDER_PLACED) & (out_i[:, O_SIDE] == 1)]
    assert len(buys) == 1
    closed = out_i[out_i[:, O_KIND] == OutKind.POSITION_CLOSED]
    assert closed[:, O_REASON].tolist() == [Reason.EMERGENCY_EXIT]
    run.close()
    again = LiveRun(st, "exit", load_strategy(cfg), LiveSettings(flush_ms=0), mode="paper",
                    now_ns=lambda: clock[0])  # fmt: skip
    assert again.poll_controls(clock[0] + 5) == 0  # applied already: recovered as applied
    again.close()
