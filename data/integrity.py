"""`clanka store check` and `clanka store repair`: is every committed segment whole?

`check` verifies each segment the manifest lists: the file exists, its size and
SHA-256 are the manifest's, it parses as Parquet, every data page passes its CRC-32,
and its row count, seq range and time range are the manifest's. It reports one
`Problem` per damaged segment and changes nothing.

`repair(drop_missing=True)` removes the segments `check` finds missing or unreadable
from the manifest in one commit, and logs each removal as a `repairs` event in that
same commit (family, segment, rows lost, reason): the data is gone either way, but
never silently. Damaged files that are still present move to `_damaged/`, out of the
family globs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from data.errors import SegmentError
from data.fsio import file_sha256
from data.manifest import Manifest, SegmentInfo, load_manifest
from data.segment_files import locate, read_whole

DAMAGED_DIR = "_damaged"


@dataclass(frozen=True)
class Problem:
    """One damaged segment: which, and what is wrong with it."""

    family: str
    path: str
    rows: int
    kind: str
    """missing | size | hash | unreadable | rows"""
    detail: str

    def line(self) -> str:
        """One line for the terminal."""
        return f"{self.family}: {self.path}: {self.kind}: {self.detail}"


@dataclass
class CheckReport:
    """What a check looked at and what it found."""

    segments: int
    rows: int
    bytes: int
    hashed: int
    problems: list[Problem]


def _check_segment(root: Path, family: str, seg: SegmentInfo) -> Problem | None:
    def bad(kind: str, detail: str) -> Problem:
        return Problem(family, seg.path, seg.rows, kind, detail)

    path = locate(root, seg)
    if path is None:
        return bad("missing", "the file is not on disk")
    size = path.stat().st_size
    if size != seg.bytes:
        return bad("size", f"{size:,} bytes on disk, the manifest says {seg.bytes:,}")
    if seg.sha256 and file_sha256(path) != seg.sha256:
        return bad("hash", "SHA-256 differs from the manifest's (the bytes changed)")
    try:
        table = read_whole(root, seg, ["seq", "ts_ns"])
    except SegmentError as exc:
        return bad("unreadable", exc.detail or exc.problem)
    if table.num_rows != seg.rows:
        return bad("rows", f"{table.num_rows:,} rows in the file, the manifest says {seg.rows:,}")
    if table.num_rows:
        import pyarrow.compute as pc

        seq = pc.min_max(table.column("seq"))
        ts = pc.min_max(table.column("ts_ns"))
        got = (seq["min"].as_py(), seq["max"].as_py(), ts["min"].as_py(), ts["max"].as_py())
        want = (seg.first_seq, seg.last_seq, seg.min_ts, seg.max_ts)
        if got != want:
            return bad("rows", f"seq/time range {got} differs from the manifest's {want}")
    return None


def verify_bytes(root: Path, family: str, segs: list[SegmentInfo]) -> list[Problem]:
    """The bytes-level half of a check: each segment is on disk with its recorded hash.

    Cheaper than `check_store` (no Parquet decode, about 0.5 s per GB here), for
    readers that do not verify page checksums themselves, such as DuckDB queries.
    """
    out = []
    for seg in segs:
        path = locate(root, seg)
        if path is None:
            out.append(Problem(family, seg.path, seg.rows, "missing", "the file is not on disk"))
        elif path.stat().st_size != seg.bytes:
            out.append(Problem(family, seg.path, seg.rows, "size", "its size differs"))
        elif seg.sha256 and file_sha256(path) != seg.sha256:
            why = "SHA-256 differs from the manifest's (the bytes changed)"
            out.append(Problem(family, seg.path, seg.rows, "hash", why))
    return out


def check_store(root: Path, manifest: Manifest) -> CheckReport:
    """Verify every listed segment; the problems found (none: the store is whole)."""
    rep = CheckReport(0, 0, 0, 0, [])
    for family, state in sorted(manifest.families.items()):
        for seg in state.segments:
            rep.segments += 1
            rep.rows += seg.rows
            rep.bytes += seg.bytes
            rep.hashed += bool(seg.sha256)
            problem = _check_segment(root, family, seg)
            if problem is not None:
                rep.problems.append(problem)
    return rep


def repairs_rows(problems: list[Problem]) -> dict[str, list[object]]:
    """The `repairs` events logging each dropped segment."""
    now = time.time_ns()
    return {
        "ts_ns": [now] * len(problems),
        "family": [p.family for p in problems],
        "path": [p.path for p in problems],
        "rows": [p.rows for p in problems],
        "problem": [p.kind for p in problems],
        "detail": [p.detail for p in problems],
    }


def repairs_table(problems: list[Problem]) -> pa.Table:
    """`repairs_rows` as a Table (what the transaction appends)."""
    return pa.table(repairs_rows(problems))


def still_damaged(root: Path, problems: list[Problem]) -> list[Problem]:
    """Re-check `problems` against the current manifest (under the writer lock)."""
    manifest = load_manifest(root)
    listed = {s.path: (f, s) for f, st in manifest.families.items() for s in st.segments}
    out = []
    for p in problems:
        hit = listed.get(p.path)
        if hit is not None and _check_segment(root, hit[0], hit[1]) is not None:
            out.append(p)
    return out
