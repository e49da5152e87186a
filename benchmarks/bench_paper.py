"""Paper-path benchmark: frame receipt -> decision appended, and sustained messages/s.

Usage: `python -m benchmarks.bench_paper [--runs 3] [--seconds 6]`.

A server process (`--phase serve`) plays a synthetic pump.fun tape of 200 mints as real
Solana `logsNotification` frames on loopback (frames rendered before the clock starts,
so the server only sends), at a paced rate of R messages per second. The paper process
(`--phase paper`) runs the real path: the feed's websocket reader (frame stamped on
receipt, parsed by msgspec), the TradeEvent decoder, the micro-batch loop, the kernel,
the write-ahead log (append; fsync every 5 ms), with `momentum_breakout`. Per batch it
records receipt -> appended to the log (the decision event acknowledged in the OS), its
two parts
(receipt -> the loop takes the batch; taken -> appended) and receipt -> fsynced. Per
message it also records server send -> appended (`sent_to_appended`): the receipt stamp
is taken when the loop reads a frame, so a frame that waited in the socket while the
loop was busy (a roll, a collector pass) waits before its receipt, unseen by the receipt
figures; the server stamps each frame's send on the same wall clock.
`CLANKA_BENCH_DUMP=PREFIX` also saves each run's end-to-end latencies, in send order, as
`PREFIX-<messages>.npy`: where in the run the tail happens.

For each offered rate the paper process reports messages processed, their rate and the
latency percentiles; "sustained" is the highest offered rate the paper process kept up
with (processed >= 99% of what was sent and p99 under 50 ms, i.e. no queue building
up; p99 end to end, sent -> appended, where the store gives it, else from receipt).
Each rate runs `--runs` times (fresh processes); medians quoted.
Writes benchmarks/results/paper.json. `--baseline-tree DIR` (another checkout, e.g. a
`git worktree` of an older commit) alternates that checkout's paper path with this
one's, run for run against the same server, and reports both and their p50 ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import RESULTS, peak_rss_mb

RATES = [1_000, 5_000, 10_000, 20_000, 35_000, 50_000]
MINTS = 200


def synthetic_tape(n: int, rate: float, seed: int = 1) -> Any:
    """N trades over 200 mints, evenly spaced at `rate` per second, pump.fun-like prices."""
    from data.feed.server import Tape, address_for

    rng = np.random.default_rng(seed)
    mint = rng.integers(0, MINTS, n)
    walk = np.exp(np.cumsum(rng.normal(0, 0.01, (n,)))) * 3e-8
    liq = 30.0 + 50.0 * rng.random(n)
    ts = 1_750_000_000 * 10**9 + (np.arange(n) * (1e9 / rate)).astype(np.int64)
    size = rng.integers(10**9, 10**12, n)
    side = np.where(rng.random(n) < 0.6, 1, -1)
    addresses = [address_for(f"bench-{m}") for m in range(MINTS)]
    return Tape(ts, mint, walk, size, side, liq, np.arange(n, dtype=np.int64), addresses)


def phase_serve(rate: float, n: int, port_file: Path, send_times: Path | None = None) -> None:
    """Serve the tape at `rate` messages/s to the first subscriber, then exit.

    `send_times`: where to save each trade frame's send wall time at the end (ns, by
    tape index; -1 for a trade that was not sent).
    """
    from data.feed.server import RecordedFeedServer

    async def main() -> None:
        srv = RecordedFeedServer(synthetic_tape(n, rate), speed=1.0, prerender=True)
        port = await srv.start()
        port_file.write_text(str(port))
        await srv.finished.wait()
        await asyncio.sleep(1.0)
        if send_times is not None and srv.send_ns is not None:
            np.save(send_times, srv.send_ns)
        print(json.dumps({"sent": srv.sent}), flush=True)
        await srv.close()

    asyncio.run(main())


def phase_paper(port: int, seconds: float, store_dir: Path, warm: bool = False) -> dict[str, Any]:
    """The paper loop against the server for `seconds`; its report.

    `warm`: the tape's mints are registered before the clock starts, as in a run that
    has seen them before (a first sight takes an id from the store's mint id journal).
    """
    from data.feed.client import FeedConfig, WallClock
    from data.store import open_store
    from replay.live.paper import run_paper
    from replay.live.run import LiveRun, LiveSettings
    from strategies.config import load_strategy

    store = open_store(store_dir, create=True)
    clock = WallClock()
    run = LiveRun(store, "bench", load_strategy("momentum_breakout"), LiveSettings(),
                  mode="paper", now_ns=clock.now_ns)  # fmt: skip
    cfg = FeedConfig(url=f"ws://127.0.0.1:{port}", watch_curves=False)
    if warm:
        from data.feed.server import address_for

        run.register([address_for(f"bench-{m}") for m in range(MINTS)], clock.now_ns())

    async def main() -> dict[str, Any]:
        return await run_paper(run, cfg, clock, duration_s=seconds, stop=asyncio.Event())

    t0 = time.perf_counter()
    rep = asyncio.run(main())
    return {"report": rep, "wall_s": time.perf_counter() - t0, "peak_rss_mb": peak_rss_mb()}


def one(rate: int, seconds: float, tree: Path | None = None, warm: bool = False) -> dict[str, Any]:
    """One offered rate: a server process and a paper process, fresh.

    With `tree` (another checkout of Clanka) the paper process runs that checkout's
    code against the same server: the A/B baseline of the same sitting.
    """
    work = Path(tempfile.mkdtemp(prefix="clanka-pbench-"))
    try:
        port_file = work / "port"
        n = int(rate * seconds)
        sent_at = work / "send_ns.npy"
        srv = subprocess.Popen([sys.executable, "-m", "benchmarks.bench_paper", "--phase", "serve",
                                "--rate", str(rate), "--n", str(n), "--port-file", str(port_file),
                                "--send-times", str(sent_at)],
                               stdout=subprocess.PIPE, text=True)  # fmt: skip
        while not port_file.exists() or not port_file.read_text():
            time.sleep(0.05)
        env = None if tree is None else {**os.environ, "PYTHONPATH": str(tree)}
        paper = subprocess.run([sys.executable, "-m", "benchmarks.bench_paper", "--phase", "paper",
                                "--port", port_file.read_text(), "--seconds", str(seconds + 3),
                                "--store", str(work / "store"), *(["--warm"] if warm else [])],
                               capture_output=True, text=True,
                               check=True, cwd=tree, env=env)  # fmt: skip
        out, _ = srv.communicate(timeout=120)
        sent = json.loads(out.strip().splitlines()[-1])["sent"]
        doc = json.loads(paper.stdout.strip().splitlines()[-1])
        rep = doc["report"]
        got = int(rep["ticks_processed"])
        return {
            "offered_per_s": rate, "sent": sent, "processed": got,
            "processed_per_s": got / seconds,
            "receipt_to_appended_us": rep["latency_us"],
            # Each message's wait (frames queued behind a slow batch counted one by one);
            # trees older than this figure report none.
            "message_receipt_to_appended_us": rep.get("latency_per_message_us")
            or {"p50": None, "p99": None},
            "receipt_to_taken_us": rep["latency_parts_us"]["receipt_to_taken"],
            "taken_to_appended_us": rep["latency_parts_us"]["taken_to_appended"],
            "receipt_to_fsynced_us": rep["durable_latency_us"],
            "sent_to_appended_us": sent_to_appended(work / "store", np.load(sent_at)),
            "batches": rep["batches"], "decisions": rep["decisions"],
            "peak_rss_mb": round(doc["peak_rss_mb"], 1),
        }  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)


def sent_to_appended(store_dir: Path, send_ns: np.ndarray) -> dict[str, Any]:
    """Each message's server send -> its batch appended to the log (us), from the store.

    Receipt is stamped when the loop reads a frame: a frame that waited in the socket
    while the loop was busy (a roll, an fsync) waits before its receipt, unseen by the
    receipt figures. Both processes stamp the same wall clock. One connection delivers
    the frames in order, one trade each, so the run's k-th tick (rolled `feed_inputs`
    in input order) is the k-th frame sent; `live_batches` gives its batch's append time.
    """
    from data.store import open_store

    st = open_store(store_dir, reader=True)
    try:
        rows = st.con.execute(
            "SELECT b.appended_ns FROM feed_inputs f JOIN live_batches b "
            "ON f.batch_no = b.batch_no AND f.source = b.source WHERE f.kind = 0 "
            "ORDER BY f.in_seq"
        ).fetchnumpy()
    finally:
        st.close()
    appended = rows["appended_ns"].astype(np.int64)
    sent = send_ns[send_ns > 0]
    if len(appended) != len(sent) or not len(sent):
        why = f"{len(appended)} ticks logged, {len(sent)} frames sent"
        return {"messages": 0, "p50": None, "p99": None, "max": None, "why_none": why}
    lat = (appended - sent) / 1e3
    if os.environ.get("CLANKA_BENCH_DUMP"):
        np.save(os.environ["CLANKA_BENCH_DUMP"] + f"-{len(lat)}.npy", lat)
    p50, p99 = np.percentile(lat, [50, 99])
    return {"messages": len(lat), "p50": round(float(p50), 1), "p99": round(float(p99), 1),
            "max": round(float(lat.max()), 1)}  # fmt: skip


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else round(a / b, 3)


def _summary(rate: int, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One offered rate's runs: medians of each latency percentile, and whether it kept up."""
    row: dict[str, Any] = {"offered_per_s": rate, "runs": runs}
    keys = ("receipt_to_appended_us", "message_receipt_to_appended_us", "receipt_to_taken_us",
            "taken_to_appended_us", "receipt_to_fsynced_us", "sent_to_appended_us")  # fmt: skip
    for key in keys:
        row[key] = {p: _median([r[key][p] for r in runs]) for p in ("p50", "p99")}
        got = [r[key]["p50"] for r in runs if r[key]["p50"] is not None]
        row[key]["p50_spread"] = [min(got), max(got)] if got else None
    row["processed_per_s"] = _median([r["processed_per_s"] for r in runs])
    row["kept_up"] = all(kept_up(r) for r in runs)
    return row


def kept_up(run: dict[str, Any]) -> bool:
    """Took 99% of what was sent with p99 under 50 ms (end to end where measured)."""
    p99 = (run.get("sent_to_appended_us") or {}).get("p99")
    if p99 is None:
        p99 = run["receipt_to_appended_us"]["p99"]
    return bool(run["processed"] >= 0.99 * run["sent"] and (p99 or 0) < 50_000)


def _median(xs: list[float | None]) -> float | None:
    vals = [x for x in xs if x is not None]
    return round(statistics.median(vals), 1) if vals else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--phase", choices=["serve", "paper"])
    ap.add_argument("--rate", type=float, default=1000)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--port-file", type=Path)
    ap.add_argument("--send-times", type=Path, default=None)
    ap.add_argument("--port", type=int)
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--store", type=Path)
    ap.add_argument(
        "--warm",
        action="store_true",
        help="Register the tape's mints first: the steady state, no first sights.",
    )
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--rates", type=str, default=",".join(map(str, RATES)))
    ap.add_argument("--out", type=Path, default=RESULTS / "paper.json")
    ap.add_argument(
        "--baseline-tree",
        type=Path,
        default=None,
        help="Another checkout: alternate its paper path with this one's, per run.",
    )
    args = ap.parse_args()
    if args.phase == "serve":
        phase_serve(args.rate, args.n, args.port_file, args.send_times)
        return
    if args.phase == "paper":
        print(json.dumps(phase_paper(args.port, args.seconds, args.store, args.warm), default=str))
        return
    rows, base_rows = [], []
    for rate in [int(r) for r in args.rates.split(",")]:
        runs, base = [], []
        for i in range(args.runs):
            r = one(rate, args.seconds, warm=args.warm)
            runs.append(r)
            print(f"{rate:>6}/s run {i + 1}: processed {r['processed_per_s']:,.0f}/s, "
                  f"receipt->appended p50 {r['receipt_to_appended_us']['p50']} us "
                  f"p99 {r['receipt_to_appended_us']['p99']} us; per message p99 "
                  f"{r['message_receipt_to_appended_us']['p99']} us; sent->appended p50 "
                  f"{r['sent_to_appended_us']['p50']} p99 {r['sent_to_appended_us']['p99']} us",
                  file=sys.stderr)  # fmt: skip
            if args.baseline_tree is not None:
                b = one(rate, args.seconds, args.baseline_tree, warm=args.warm)
                base.append(b)
                print(f"{rate:>6}/s baseline {i + 1}: processed {b['processed_per_s']:,.0f}/s, "
                      f"receipt->appended p50 {b['receipt_to_appended_us']['p50']} us "
                      f"p99 {b['receipt_to_appended_us']['p99']} us; sent->appended p50 "
                      f"{b['sent_to_appended_us']['p50']} p99 {b['sent_to_appended_us']['p99']} us",
                      file=sys.stderr)  # fmt: skip
        rows.append(_summary(rate, runs))
        if base:
            base_rows.append(_summary(rate, base))
    kept = [r["offered_per_s"] for r in rows if r["kept_up"]]
    doc = {
        "benchmark": "paper",
        "setting": f"synthetic pump.fun trades, {MINTS} mints"
                   f"{' (registered before the clock: warm)' if args.warm else ''}, "
                   "momentum_breakout, loopback, "
                   f"{args.seconds:g} s per rate, server and paper in separate processes",
        "rates": [{k: v for k, v in r.items() if k != "runs"} for r in rows],
        "sustained_messages_per_s": max(kept) if kept else None,
        "kept_up_rule": "processed >= 99% of sent and p99 < 50 ms, end to end "
                        "(sent -> appended) where measured",
        "goal": "p99 <= 50 us receipt -> decision appended; >= 50,000 messages/s sustained",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "raw": rows,
    }  # fmt: skip
    if base_rows:
        tree = args.baseline_tree
        commit = subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True).stdout.strip()  # fmt: skip
        doc["baseline"] = {
            "tree": str(tree), "commit": commit,
            "note": "the same server, runs alternated with this tree's in one sitting",
            "rates": [{k: v for k, v in r.items() if k != "runs"} for r in base_rows],
            "p50_ratio_new_over_baseline": {
                str(a["offered_per_s"]): _ratio(a["receipt_to_appended_us"]["p50"],
                                                b["receipt_to_appended_us"]["p50"])
                for a, b in zip(rows, base_rows, strict=True)
            },
            "raw": base_rows,
        }  # fmt: skip
    args.out.parent.mkdir(exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    print(json.dumps({k: v for k, v in doc.items() if k != "raw"}, indent=2))


if __name__ == "__main__":
    main()
