"""What the store's integrity checks cost: page CRC-32s and segment SHA-256, A/B.

Usage: `python -m benchmarks.bench_integrity [--mints 1000] [--hours 24] [--runs 5]`.

Every segment is written with a CRC-32 per data page and hashed (SHA-256) into the
manifest, and every scan verifies the CRCs (issue 11). This benchmark measures those
costs against the same work without them, in the same sitting, on the same data (the
synthetic market bench_store uses), alternating the two variants run by run:
- write: the ticks as one Parquet file with the store's settings for them (lz4,
  131,072-row groups, no dictionaries, fsync), without checksums (`pq.write_table`)
  and the store's own way (`data.segments.write_segment`: page checksums, SHA-256
  hashed on a second thread as the bytes are written, fsync, no-clobber publish);
- scan: every kernel column of every row group into numpy, warm page cache, without
  and with checksum verification (the store's scan path).
Both variants' results are checked (the same rows back, the same sums). Medians and
spreads go to benchmarks/results/integrity.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks.common import RESULTS

KERNEL_COLUMNS = ["ts_ns", "seq", "mint_id", "price", "size", "side", "liquidity"]


def _table(mints: int, hours: float, seed: int, work: Path) -> pa.Table:
    from data.generator.market import MarketParams, generate_into
    from data.store import open_store

    store = open_store(work / "gen", create=True)
    generate_into(store, MarketParams(mints=mints, hours=hours, seed=seed))
    return store.read_table("ticks")


def _write(table: pa.Table, path: Path, crc: bool) -> float:
    t0 = time.perf_counter()
    from data.schemas import TICKS

    pq.write_table(table, path, compression=TICKS.compression, row_group_size=TICKS.row_group_rows,
                   use_dictionary=[], write_statistics=True, write_page_checksum=crc)  # fmt: skip
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return time.perf_counter() - t0


def _write_segment(table: pa.Table, root: Path) -> tuple[float, Path]:
    from data.schemas import TICKS
    from data.segments import write_segment

    seq = pa.array(np.arange(table.num_rows, dtype=np.int64))
    with_seq = table.set_column(0, "seq", seq) if "seq" in table.column_names else table
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir()
    t0 = time.perf_counter()
    seg = write_segment(root, TICKS, "ticks", with_seq)
    return time.perf_counter() - t0, root / seg.path


def _scan(path: Path, verify: bool) -> tuple[float, int, float]:
    t0 = time.perf_counter()
    pf = pq.ParquetFile(path, memory_map=False, page_checksum_verification=verify)
    n = 0
    price = 0.0
    for rg in range(pf.metadata.num_row_groups):
        tbl = pf.read_row_group(rg, columns=KERNEL_COLUMNS)
        cols = {c: tbl.column(c).to_numpy() for c in KERNEL_COLUMNS}
        n += len(cols["ts_ns"])
        price += float(np.sum(cols["price"]))
    return time.perf_counter() - t0, n, price


def _stats(xs: list[float]) -> dict[str, Any]:
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs),
            "runs": [round(x, 4) for x in xs]}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mints", type=int, default=1000)
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--out", type=Path, default=RESULTS / "integrity.json")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="clanka-integrity-"))
    try:
        table = _table(args.mints, args.hours, args.seed, work)
        n = table.num_rows
        want = float(np.sum(table.column("price").to_numpy()))
        plain = work / "plain.parquet"
        w: dict[str, list[float]] = {"plain": [], "store": []}
        s: dict[str, list[float]] = {"plain": [], "crc": []}
        for _ in range(args.runs):  # alternate, so drift hits both variants alike
            w["plain"].append(_write(table, plain, crc=False))
            dt, crc = _write_segment(table, work / "seg")
            w["store"].append(dt)
        for _ in range(args.runs):
            for name, path, verify in (("plain", plain, False), ("crc", crc, True)):
                dt, rows, price = _scan(path, verify)
                assert rows == n
                assert abs(price - want) <= 1e-9 * abs(want)
                s[name].append(dt)
        write_plain = statistics.median(w["plain"])
        write_checked = statistics.median(w["store"])
        scan_plain = statistics.median(s["plain"])
        scan_crc = statistics.median(s["crc"])
        doc = {
            "benchmark": "integrity",
            "ticks": n,
            "file_bytes": {"plain": plain.stat().st_size, "crc": crc.stat().st_size},
            "write_seconds": {k: _stats(v) for k, v in w.items()},
            "write_ticks_per_s": {"plain": n / write_plain, "store_checked": n / write_checked},
            "write_cost": write_checked / write_plain - 1,
            "scan_seconds": {k: _stats(v) for k, v in s.items()},
            "scan_ticks_per_s": {"plain": n / scan_plain, "crc_verified": n / scan_crc},
            "scan_cost": scan_crc / scan_plain - 1,
            "method": "same data, same process, variants alternated; writes include fsync",
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        args.out.parent.mkdir(exist_ok=True)
        args.out.write_text(json.dumps(doc, indent=2) + "\n")
        print(json.dumps(doc, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
