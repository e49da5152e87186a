"""Compaction: merge a partition's small segments into fewer large ones, atomically.

New segments are written first, invisibly; one manifest commit then swaps them in for
the old ones, which move to `_retired/g<generation>/` afterwards (out of the family
globs, still readable by scans that started earlier). A crash at any point leaves
exactly the old set or exactly the new set visible.

Inputs are read as Arrow tables, never through numpy, so nullable columns keep their
nulls; and each input's SHA-256 is checked against the manifest first, so a damaged
segment is refused by name instead of being laundered into a new one with a fresh
hash.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from data import interrupts
from data.errors import StoreFullError
from data.fsio import file_sha256, is_disk_full
from data.locks import WriterLock
from data.manifest import Manifest, SegmentInfo, load_manifest, save_manifest
from data.schemas import FAMILIES
from data.segment_files import RETIRED_DIR, corrupt_error, locate, missing_error, read_whole
from data.segments import write_segment


@dataclass
class CompactionResult:
    """What one `compact` call merged."""

    segments_before: int = 0
    segments_after: int = 0
    merged_groups: int = 0
    rows_rewritten: int = 0
    families: list[str] = field(default_factory=list)


def check_families(names: Sequence[str]) -> list[str]:
    """Validate family names (one clear error naming the known ones)."""
    for n in names:
        if n not in FAMILIES:
            raise ValueError(f"unknown family {n!r}; known: {', '.join(FAMILIES)}")
    return list(names)


def compaction_groups(segs: list[SegmentInfo], target_rows: int) -> list[list[SegmentInfo]]:
    """Greedy groups of small segments, per partition in seq order, worth merging."""
    by_dir: dict[str, list[SegmentInfo]] = {}
    for s in segs:
        if s.rows < target_rows:
            by_dir.setdefault(s.partition_dir, []).append(s)
    groups: list[list[SegmentInfo]] = []
    for part in by_dir.values():
        cur: list[SegmentInfo] = []
        rows = 0
        for s in sorted(part, key=lambda x: x.first_seq):
            if cur and rows + s.rows > target_rows:
                groups.append(cur)
                cur, rows = [], 0
            cur.append(s)
            rows += s.rows
        groups.append(cur)
    return [g for g in groups if len(g) >= 2]


def _merged(root: Path, group: list[SegmentInfo]) -> pa.Table:
    """The group's rows in (ts_ns, seq) order, every input verified first."""
    tables = []
    for seg in group:
        path = locate(root, seg)
        if path is None:
            raise missing_error(seg)
        if seg.sha256 and file_sha256(path) != seg.sha256:
            raise corrupt_error(seg, "its SHA-256 differs from the manifest's")
        tables.append(read_whole(root, seg))
    table = pa.concat_tables(tables)
    return table.sort_by([("ts_ns", "ascending"), ("seq", "ascending")])


def compact(
    root: Path,
    families: Sequence[str] | None,
    target_rows: int,
    timeout_s: float,
) -> tuple[CompactionResult, Manifest | None]:
    """Merge small segments; return what happened and the new manifest (None: no change)."""
    if target_rows < 1:
        raise ValueError(f"target rows must be at least 1, got {target_rows}")
    names = check_families(families) if families is not None else list(FAMILIES)
    result = CompactionResult(families=names)
    lock = WriterLock(root)
    lock.acquire(timeout_s)
    written: list[Path] = []
    try:
        base = load_manifest(root)
        tag = f".c{base.generation + 1}"
        added: dict[str, list[SegmentInfo]] = {}
        removed: dict[str, list[str]] = {}
        for name in names:
            spec = FAMILIES[name]
            segs = base.family(name).segments
            result.segments_before += len(segs)
            for group in compaction_groups(segs, target_rows):
                interrupts.check()
                tbl = _merged(root, group)
                new = write_segment(root, spec, group[0].partition_dir, tbl, tag)
                written.append(root / new.path)
                added.setdefault(name, []).append(new)
                removed.setdefault(name, []).extend(s.path for s in group)
                result.merged_groups += 1
                result.rows_rewritten += tbl.num_rows
        if not added:
            result.segments_after = result.segments_before
            return result, None
        new_manifest = base.with_changes(added, removed, {})
        interrupts.check()
        try:
            with interrupts.deferred():
                save_manifest(root, new_manifest)
        except BaseException:
            # The rename may have happened before the failure: if the new manifest is
            # the committed one, its segments must stay.
            if load_manifest(root).generation == new_manifest.generation:
                written.clear()
            raise
        written.clear()
        result.segments_after = sum(len(new_manifest.family(n).segments) for n in names)
        for paths in removed.values():
            for rel in paths:
                move_out(root, rel, Path(RETIRED_DIR) / f"g{new_manifest.generation}")
        return result, new_manifest
    except OSError as exc:
        if is_disk_full(exc) and load_manifest(root).generation == base.generation:
            raise StoreFullError(
                f"disk full while compacting {root}: nothing was committed"
            ) from exc
        raise
    finally:
        for p in written:
            p.unlink(missing_ok=True)
        lock.release()


def move_out(root: Path, rel: str, into: Path) -> None:
    """Move a segment out of the family tree (so globs stop seeing it), keeping it."""
    src = root / rel
    dst = root / into / rel
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.exists():
        dst = dst.with_name(f"{dst.stem}.{time.time_ns()}{dst.suffix}")
    with contextlib.suppress(FileNotFoundError):
        os.replace(src, dst)
