"""Streaming reads of committed segments into numpy, in `(ts_ns, seq)` order.

Readers prune twice before decoding anything: whole segments by the time range the
manifest records, then row groups by the Parquet `ts_ns` statistics. Reading one hour
of one mint therefore decodes about an hour of data, never the whole day. Segments
that overlap in time (two sources on one day, or a backfill) are merged with a
streaming watermark so memory stays bounded by a few row groups per segment.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from data import interrupts
from data.manifest import SegmentInfo
from data.readers import reader_pin
from data.segment_files import open_segment, read_row_groups

if TYPE_CHECKING:
    import pyarrow.parquet as pq

Chunk = dict[str, np.ndarray]
"""A batch of rows: column name -> 1-D numpy array, all of one length."""

I64_MIN = np.iinfo(np.int64).min
I64_MAX = np.iinfo(np.int64).max


@dataclass
class ScanStats:
    """What a scan actually touched, so tests and benchmarks can see the pruning."""

    segments_total: int = 0
    segments_read: int = 0
    row_groups_total: int = 0
    row_groups_read: int = 0
    rows_decoded: int = 0
    rows_returned: int = 0


@dataclass(frozen=True)
class ScanFilter:
    """Row selection: `start_ts <= ts_ns < end_ts` and, optionally, a set of mints."""

    start_ts: int = I64_MIN
    end_ts: int = I64_MAX
    mint_ids: np.ndarray | None = None

    def keeps_segment(self, seg: SegmentInfo) -> bool:
        """Tell whether any row of `seg` can fall in the time range."""
        return seg.max_ts >= self.start_ts and seg.min_ts < self.end_ts


def _row_groups_in_range(pf: pq.ParquetFile, flt: ScanFilter, stats: ScanStats) -> list[int]:
    md = pf.metadata
    ts_col = md.schema.names.index("ts_ns")
    keep = []
    for i in range(md.num_row_groups):
        st = md.row_group(i).column(ts_col).statistics
        unknown = st is None or not st.has_min_max
        if unknown or (st.max >= flt.start_ts and st.min < flt.end_ts):
            keep.append(i)
    stats.row_groups_total += md.num_row_groups
    stats.row_groups_read += len(keep)
    return keep


def _segment_chunks(
    root: Path, seg: SegmentInfo, columns: Sequence[str], flt: ScanFilter, stats: ScanStats
) -> Iterator[Chunk]:
    """Yield the filtered rows of one segment, a row group at a time, in file order.

    Page checksums are verified as pages are decoded; a missing or damaged segment
    raises `SegmentError` naming it.
    """
    pf = open_segment(root, seg)
    stats.segments_read += 1
    extra = ["ts_ns", "seq"] + (["mint_id"] if flt.mint_ids is not None else [])
    need = list(dict.fromkeys([*columns, *extra]))
    for rg in _row_groups_in_range(pf, flt, stats):
        interrupts.check()
        tbl = read_row_groups(pf, seg, [rg], need)
        chunk = {name: tbl.column(name).to_numpy() for name in need}
        stats.rows_decoded += tbl.num_rows
        ts = chunk["ts_ns"]
        if flt.start_ts > I64_MIN or flt.end_ts < I64_MAX:
            lo = int(np.searchsorted(ts, flt.start_ts, side="left"))
            hi = int(np.searchsorted(ts, flt.end_ts, side="left"))
            if lo > 0 or hi < len(ts):
                chunk = {k: v[lo:hi] for k, v in chunk.items()}
        if flt.mint_ids is not None:
            mask = np.isin(chunk["mint_id"], flt.mint_ids)
            chunk = {k: v[mask] for k, v in chunk.items()}
        if len(chunk["ts_ns"]):
            yield chunk


def _clusters(segments: list[SegmentInfo]) -> list[list[SegmentInfo]]:
    """Group segments whose time ranges touch or overlap; groups are time-ordered."""
    out: list[list[SegmentInfo]] = []
    cur_max = I64_MIN
    for seg in sorted(segments, key=lambda s: (s.min_ts, s.first_seq)):
        if out and seg.min_ts <= cur_max:
            out[-1].append(seg)
            cur_max = max(cur_max, seg.max_ts)
        else:
            out.append([seg])
            cur_max = seg.max_ts
    return out


def _take_upto(chunk: Chunk, ts: int, seq: int) -> tuple[Chunk, Chunk]:
    """Split a sorted chunk into rows with (ts_ns, seq) <= (ts, seq) and the rest."""
    t = chunk["ts_ns"]
    cut = int(np.searchsorted(t, ts, side="left"))
    end = int(np.searchsorted(t, ts, side="right"))
    if end > cut:
        cut += int(np.searchsorted(chunk["seq"][cut:end], seq, side="right"))
    return {k: v[:cut] for k, v in chunk.items()}, {k: v[cut:] for k, v in chunk.items()}


def _merge_cluster(iters: list[Iterator[Chunk]]) -> Iterator[Chunk]:
    """K-way merge of sorted chunk streams by (ts_ns, seq), one watermark at a time."""
    bufs: list[Chunk | None] = [next(it, None) for it in iters]
    done = [b is None for b in bufs]
    while True:
        live = [(i, b) for i, b in enumerate(bufs) if b is not None and len(b["ts_ns"])]
        if not live:
            return
        pending = [(int(b["ts_ns"][-1]), int(b["seq"][-1])) for i, b in live if not done[i]]
        wm = min(pending) if pending else (I64_MAX, I64_MAX)
        parts = []
        for i, b in live:
            head, rest = _take_upto(b, *wm)
            if len(head["ts_ns"]):
                parts.append(head)
            bufs[i] = rest
            if not len(rest["ts_ns"]) and not done[i]:
                nxt = next(iters[i], None)
                done[i] = nxt is None
                bufs[i] = nxt
        if not parts:
            continue
        if len(parts) == 1:
            yield parts[0]
            continue
        merged = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        order = np.lexsort((merged["seq"], merged["ts_ns"]))
        yield {k: v[order] for k, v in merged.items()}


def scan_segments(
    root: Path,
    segments: list[SegmentInfo],
    columns: Sequence[str],
    flt: ScanFilter,
    stats: ScanStats | None = None,
) -> Iterator[Chunk]:
    """Yield chunks of the selected rows of `segments`, globally in (ts_ns, seq) order.

    Only `columns` are returned (plus `ts_ns` and `seq`, which ordering needs).
    """
    st = stats if stats is not None else ScanStats()
    st.segments_total += len(segments)
    wanted = [s for s in segments if flt.keeps_segment(s)]
    if not wanted:
        return
    with reader_pin(root):  # retired segments stay on disk until this scan ends
        for cluster in _clusters(wanted):
            if len(cluster) == 1:
                chunks: Iterator[Chunk] = _segment_chunks(root, cluster[0], columns, flt, st)
            else:
                chunks = _merge_cluster(
                    [_segment_chunks(root, s, columns, flt, st) for s in cluster]
                )
            for c in chunks:
                st.rows_returned += len(c["ts_ns"])
                yield c
