"""The unattended soak: a multi-day market as a live feed, paper-traded on chain time.

Usage: `python -m benchmarks.soak_paper [--hours 168] [--mints 100] [--speed 1000]
[--strategist off|live]`.

A SYNTHETIC market (`clanka generate`, launches spread over the whole span) is served
by `clanka feed serve` at `--speed` times real time, and `clanka run --mode paper
--clock chain --learning on` trades it from start to end with no human action. The
harness acts only on what the run reports (its progress events), never on wall-clock
offsets:

- one feed outage: the server cuts every connection once, a third of the way through
  the tape (`--drop-after`); the run logs the gap and reconnects;
- one kill -9: after the run's first market day of learning (its 24th reflection), then
  a resume with the same run id (recovered from its write-ahead log);
- one config reload: after the resume, the strategy file's stop is changed; the run
  applies it as a `config` control;
- the end: the server has played the whole tape; the run is stopped with SIGTERM.

Then `clanka verify parity` (0 differences expected, learning events included) and
`clanka learn status`. The run's resident memory is sampled as it goes, against the
market time it has reached. Writes benchmarks/results/soak_paper.json: wall time,
ticks, trades, win rate and PnL by market day, adaptations, strategist calls, the
outage, the kill and resume, the reload, parity, and RSS over time.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.common import RESULTS
from tests.child_progress import Progress

CLI = [sys.executable, "-c", "from replay.cli.launch import main; main()"]
REPO = Path(__file__).resolve().parents[1]
STRATEGY = """
name = "soak"
description = "momentum_llm for the soak (the harness widens its stop once, a config reload)"
entry = "breakout > 0 AND ret_5m >= 0.05 AND vol_5m_ratio >= 1.2 AND liquidity >= 30"
[params]
min_position_sol = 0.5
max_position_sol = 2.0
max_positions = 3
stop_loss = {stop}
time_stop_s = 14400
max_daily_trades = 400
max_consecutive_losses = 8
[strategist]
interval_s = 14400
delay_s = 60
max_conditions = 3
tunable = {{ stop_loss = [0.05, 0.12] }}
"""
SETTINGS = "[live]\nheartbeat_ms = 1000\nroll_s = 2\n"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class _Sampler:
    """The paper run's RSS every second of wall time (a measurement, never a trigger)."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, float, int]] = []
        self.market_ns = 0
        self.pid: int | None = None
        self._stop = threading.Event()
        self._t0 = time.monotonic()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            pid = self.pid
            rss = _rss_mb(pid) if pid else None
            if rss is not None:
                self.samples.append((round(time.monotonic() - self._t0, 1), round(rss, 1),
                                     self.market_ns))  # fmt: skip

    def stop(self) -> None:
        self._stop.set()


def _paper(cmd: list[str], sampler: _Sampler, log: Path) -> Progress:
    # stderr to a file, not a pipe: a paper run narrates every trade at INFO, and a pipe
    # nobody drains until the end would fill and stop it.
    with log.open("a") as err:
        child = Progress(cmd, text=True, stdout=subprocess.PIPE, stderr=err)
    sampler.pid = child.proc.pid
    return child


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=168.0)
    ap.add_argument("--mints", type=int, default=100)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--speed", type=float, default=1000.0)
    ap.add_argument("--strategist", choices=("off", "live"), default="off")
    ap.add_argument("--kill-after-reflections", type=int, default=24)
    ap.add_argument("--out", type=Path, default=RESULTS / "soak_paper.json")
    args = ap.parse_args()
    wall0 = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="clanka-soak-"))
    market, store = work / "market", work / "paper"
    gen = subprocess.run([*CLI, "generate", "--store", str(market), "--mints", str(args.mints),
                          "--hours", str(args.hours), "--seed", str(args.seed),
                          "--launches-until", "0.95", "--json"],
                         cwd=REPO, capture_output=True, text=True, check=True)  # fmt: skip
    ticks = int(json.loads(gen.stdout)["ticks"])
    strat = work / "soak.toml"
    strat.write_text(STRATEGY.format(stop=0.08))
    settings = work / "live.toml"
    settings.write_text(SETTINGS)
    port = _free_port()
    # Notifications per tick: one logsNotification (curves are not watched by default).
    serve = [*CLI, "feed", "serve", "--from-store", str(market), "--speed", str(args.speed),
             "--port", str(port), "--drop-after", str(ticks // 3)]  # fmt: skip
    server = subprocess.Popen(serve, cwd=REPO, text=True, stderr=subprocess.PIPE)
    assert server.stderr is not None
    assert f":{port}" in server.stderr.readline()
    cmd = [*CLI, "run", "--mode", "paper", "--feed", f"ws://127.0.0.1:{port}", "--store",
           str(store), "--config", str(strat), "--settings", str(settings), "--run-id", "soak",
           "--learning", "on", "--clock", "chain", "--json"]  # fmt: skip
    if args.strategist == "live":
        cmd += ["--strategist", "live", "--llm-host", "embedded"]
    sampler = _Sampler()
    events: dict[str, Any] = {"gaps": 0, "reflections": 0, "adaptations_applied": 0}
    log = work / "paper.log"
    child = _paper(cmd, sampler, log)

    def note(e: dict[str, Any]) -> None:
        if e["event"] == "gap":
            events["gaps"] += 1
        elif e["event"] == "learned":
            events["reflections"] += int(e.get("reflections", 0))
        elif e["event"] == "adapted":
            events["adaptations_applied"] += 1
        elif e["event"] == "appended":
            sampler.market_ns = max(sampler.market_ns, int(e.get("market_ns", 0)))

    def until(pred: Any) -> dict[str, Any]:
        def check(e: dict[str, Any]) -> bool:
            note(e)
            return bool(pred(e))

        return child.wait_for(check)

    # 1. A market day of learning, then kill -9 and resume.
    until(lambda e: events["reflections"] >= args.kill_after_reflections)
    killed_at = dict(events)
    child.close()
    child.proc.send_signal(signal.SIGKILL)
    child.proc.communicate(timeout=60)
    child = _paper(cmd, sampler, log)
    resumed = until(lambda e: e["event"] == "started")
    # 2. A config reload once it trades again: the stop widens from 0.08 to 0.10.
    until(lambda e: e["event"] == "appended")
    strat.write_text(STRATEGY.format(stop=0.10))
    os.kill(child.proc.pid, signal.SIGHUP)
    reload_ev = until(lambda e: e["event"] == "reload")
    # 3. The tape plays to its end (the server exits), then a clean stop.
    while server.poll() is None:
        until(lambda e: e["event"] == "appended" and server.poll() is not None)
    until(lambda e: e["event"] == "rolled")
    child.close()
    child.proc.send_signal(signal.SIGTERM)
    out, _ = child.proc.communicate(timeout=600)
    sampler.stop()
    if child.proc.returncode != 0:
        raise SystemExit(f"the paper run failed: {log.read_text()[-2000:]}")
    report = json.loads(out)
    parity = subprocess.run([*CLI, "verify", "parity", "soak", "--store", str(store), "--json"],
                            cwd=REPO, capture_output=True, text=True, timeout=3600)  # fmt: skip
    status = subprocess.run([*CLI, "learn", "status", "--store", str(store), "--run", "soak",
                             "--json"],
                            cwd=REPO, capture_output=True, text=True, timeout=600)  # fmt: skip
    by_day = subprocess.run(
        [*CLI, "sql", "--store", str(store), "--json",
         "SELECT strftime(make_timestamp(exit_ts_ns // 1000), '%Y-%m-%d') AS day, count(*) AS "
         "trades, avg((pnl_sol > 0)::INT) AS win_rate, sum(pnl_sol) AS pnl_sol FROM "
         "closed_trades WHERE run_id = 'soak' GROUP BY 1 ORDER BY 1"],
        cwd=REPO, capture_output=True, text=True, timeout=600)  # fmt: skip
    learned = json.loads(status.stdout) if status.returncode == 0 else {"error": status.stderr}
    days: Any = by_day.stderr
    if by_day.returncode == 0:
        days = json.loads(by_day.stdout)["rows"]
    doc = {
        "benchmark": "soak_paper", "market": {"hours": args.hours, "mints": args.mints,
                                              "seed": args.seed, "ticks": ticks,
                                              "label": "SYNTHETIC"},
        "speed": args.speed, "strategist": args.strategist, "clock": "chain",
        "wall_s": round(time.monotonic() - wall0, 1),
        "inputs_processed": report["ticks_processed"],
        "inputs_note": "feed inputs over the whole run (trades and curve updates, the part "
                       "before the kill included, as recovered from its log)",
        "trades": report["trades"], "win_rate": report["win_rate"],
        "realized_pnl_sol": report["realized_pnl_sol"], "by_day": days,
        "feed_gaps_seen": events["gaps"], "reflections_seen": events["reflections"],
        "kill": {"after_reflections": killed_at["reflections"],
                 "recovered_batches": resumed.get("recovered_batches")},
        "reload": reload_ev,
        "adaptations": len(learned.get("adaptations", [])),
        "adaptations_applied_seen": events["adaptations_applied"],
        "strategist_calls": report.get("strategist"),
        "parity": json.loads(parity.stdout) if parity.returncode in (0, 1) else parity.stderr,
        "rss_mb": {"peak": max((s[1] for s in sampler.samples), default=None),
                   "columns": ["wall_s", "rss_mb", "market_ts_ns"],
                   "samples": sampler.samples[:: max(1, len(sampler.samples) // 200)]},
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
    }  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=1, default=str) + "\n")
    keys = ("wall_s", "trades", "feed_gaps_seen", "kill", "adaptations", "parity")
    print(json.dumps({k: doc[k] for k in keys}, default=str))


if __name__ == "__main__":
    main()
