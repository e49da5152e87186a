"""Store benchmark: append and scan throughput on >= 10 M synthetic ticks, peak RSS.

Usage: `python -m benchmarks.bench_store [--mints 1000] [--hours 24] [--runs 3]`.

The market is generated once and kept as an uncompressed Arrow file; each measured
phase then runs in a fresh child process so its peak RSS is its own:
- append: `EventStore.append("ticks", ...)` into an empty store (sort check, seq
  assignment, Parquet encode, fsync, rename, manifest commit);
- scan: `EventStore.scan("ticks", <kernel columns>)` into numpy, warm page cache,
  checked against the source (row count, sums of price and size);
- hour: one hour of one mint out of the day, with the rows actually decoded.
Prints one JSON document and writes it to benchmarks/results/store.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.feather as feather

from benchmarks.common import RESULTS, peak_rss_mb, run_child

KERNEL_COLUMNS = ["ts_ns", "seq", "mint_id", "price", "size", "side", "liquidity"]


def phase_append(data: Path, store_dir: Path) -> dict[str, float]:
    from data.store import open_store

    table = feather.read_table(data, memory_map=True)
    store = open_store(store_dir, create=True)
    t0 = time.perf_counter()
    r = store.append("ticks", table, source="bench")
    dt = time.perf_counter() - t0
    assert r.count == table.num_rows
    return {"seconds": dt, "events_per_s": table.num_rows / dt, "peak_rss_mb": peak_rss_mb()}


def checksums(data: Path) -> tuple[int, float, int]:
    """Row count, sum of prices, and sum of raw sizes mod 2**64 (exact in any order)."""
    src = feather.read_table(data, memory_map=True, columns=["price", "size"])
    return (
        src.num_rows,
        float(np.sum(src.column("price").to_numpy())),
        int(np.sum(src.column("size").to_numpy().astype(np.uint64))),
    )


def phase_scan(store_dir: Path, want: tuple[int, float, int]) -> dict[str, float]:
    from data.store import open_store

    want_n, want_price, want_size = want
    rss_before = peak_rss_mb()
    store = open_store(store_dir)
    t0 = time.perf_counter()
    n = 0
    price_sum = 0.0
    size_sum = 0
    for chunk in store.scan("ticks", KERNEL_COLUMNS):
        n += len(chunk["ts_ns"])
        price_sum += float(np.sum(chunk["price"]))
        size_sum = (size_sum + int(np.sum(chunk["size"].astype(np.uint64)))) % 2**64
    dt = time.perf_counter() - t0
    assert n == want_n, (n, want_n)
    assert size_sum == want_size
    assert abs(price_sum - want_price) <= 1e-9 * abs(want_price)
    return {
        "seconds": dt,
        "ticks_per_s": n / dt,
        "peak_rss_mb": peak_rss_mb(),
        "rss_before_scan_mb": rss_before,
    }


def phase_hour(store_dir: Path) -> dict[str, float]:
    from data.scan import ScanStats
    from data.store import open_store

    store = open_store(store_dir)
    segs = store.segments("ticks")
    lo, hi = min(s.min_ts for s in segs), max(s.max_ts for s in segs)
    start = max(lo, (lo + hi) // 2 - 1800 * 10**9)  # the middle hour of the data
    # Untimed setup: the busiest mint of that hour, so the read returns real rows.
    (mint,) = store.con.sql(
        "SELECT mint_id FROM ticks WHERE ts_ns >= $a AND ts_ns < $b "
        "GROUP BY mint_id ORDER BY count(*) DESC, mint_id LIMIT 1",
        params={"a": start, "b": start + 3600 * 10**9},
    ).fetchall()[0]
    st = ScanStats()
    t0 = time.perf_counter()
    rows = sum(
        len(c["ts_ns"])
        for c in store.scan(
            "ticks",
            KERNEL_COLUMNS,
            start_ts=start,
            end_ts=start + 3600 * 10**9,
            mint_ids=[mint],
            stats=st,
        )
    )
    dt = time.perf_counter() - t0
    return {
        "seconds": dt,
        "mint_id": mint,
        "rows_returned": rows,
        "rows_decoded": st.rows_decoded,
        "rows_in_store": store.rows("ticks"),
        "row_groups_read": st.row_groups_read,
        "row_groups_total": st.row_groups_total,
    }


def _median(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mints", type=int, default=1000)
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--min-ticks", type=int, default=10_000_000)
    ap.add_argument("--phase", choices=["append", "scan", "hour"])
    ap.add_argument("--data", type=Path)
    ap.add_argument("--store", type=Path)
    ap.add_argument("--want", help="scan phase: n,price_sum,size_sum to check against")
    args = ap.parse_args()
    if args.phase == "append":
        print(json.dumps(phase_append(args.data, args.store)))
        return
    if args.phase == "scan":
        n, price, size = args.want.split(",")
        print(json.dumps(phase_scan(args.store, (int(n), float(price), int(size)))))
        return
    if args.phase == "hour":
        print(json.dumps(phase_hour(args.store)))
        return

    from data.generator.market import MarketParams, simulate

    work = Path(tempfile.mkdtemp(prefix="clanka-bench-"))
    try:
        t0 = time.perf_counter()
        market = simulate(MarketParams(mints=args.mints, hours=args.hours, seed=args.seed))
        gen_s = time.perf_counter() - t0
        ticks = market.ticks
        n = len(ticks["ts_ns"])
        if n < args.min_ticks:
            sys.exit(f"only {n:,} ticks generated; raise --mints or --hours")
        table = pa.table(
            {
                "ts_ns": ticks["ts_ns"],
                "mint_id": ticks["mint"],
                "price": ticks["price"],
                "size": ticks["size"],
                "side": ticks["side"],
                "liquidity": ticks["liquidity"],
                "uid": ticks["uid"],
            }
        )
        data = work / "ticks.arrow"
        feather.write_feather(table, data, compression="uncompressed")
        del market, ticks, table
        appends, scans = [], []
        store_dir = work / "store"
        for i in range(args.runs):
            shutil.rmtree(store_dir, ignore_errors=True)
            appends.append(
                run_child(
                    "benchmarks.bench_store",
                    "--phase",
                    "append",
                    "--data",
                    str(data),
                    "--store",
                    str(store_dir),
                )
            )
            print(
                f"append run {i + 1}: {appends[-1]['events_per_s'] / 1e6:.2f} M/s", file=sys.stderr
            )
        want = ",".join(repr(x) for x in checksums(data))
        for i in range(args.runs):
            scans.append(
                run_child(
                    "benchmarks.bench_store",
                    "--phase",
                    "scan",
                    "--store",
                    str(store_dir),
                    "--want",
                    want,
                )
            )
            print(f"scan run {i + 1}: {scans[-1]['ticks_per_s'] / 1e6:.2f} M/s", file=sys.stderr)
        hour = run_child("benchmarks.bench_store", "--phase", "hour", "--store", str(store_dir))
        store_bytes = sum(p.stat().st_size for p in (store_dir / "ticks").rglob("*.parquet"))
        import duckdb
        import numba
        import polars

        doc = {
            "benchmark": "store",
            "ticks": n,
            "mints": args.mints,
            "hours": args.hours,
            "generate_seconds": round(gen_s, 3),
            "store_bytes": store_bytes,
            "bytes_per_tick": round(store_bytes / n, 2),
            "append_events_per_s": {
                "median": round(_median(appends, "events_per_s")),
                "runs": [round(r["events_per_s"]) for r in appends],
            },
            "scan_ticks_per_s": {
                "median": round(_median(scans, "ticks_per_s")),
                "runs": [round(r["ticks_per_s"]) for r in scans],
                "columns": KERNEL_COLUMNS,
                "cache": "warm page cache",
            },
            "peak_rss_mb": {
                "append": round(_median(appends, "peak_rss_mb"), 1),
                "scan": round(_median(scans, "peak_rss_mb"), 1),
                "scan_process_before_scanning": round(_median(scans, "rss_before_scan_mb"), 1),
                "note": "VmHWM of each phase's own process; append holds the input table",
            },
            "one_hour_one_mint": hour,
            "goals": {"scan_ticks_per_s": 20_000_000, "append_events_per_s": 5_000_000},
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "numba": numba.__version__,
                "pyarrow": pa.__version__,
                "polars": polars.__version__,
                "duckdb": duckdb.__version__,
            },
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "store.json").write_text(json.dumps(doc, indent=2) + "\n")
        print(json.dumps(doc, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
