"""Opening a committed segment for reading: where it is, and what is wrong with it.

A manifest a reader loaded stays valid for that reader even after a compaction
replaced its segments: compaction moves the old files to `_retired/g<generation>/`
(byte for byte, out of the family globs) and `vacuum` deletes them only when no reader
holds a pin (`data.readers`). So a segment missing from its family directory is looked
up there before it is declared missing.

Every read verifies the data pages' CRC-32s; a file that fails them, or that does not
parse, raises `SegmentError` naming the family and the segment, so a damaged segment
stops the one read that needs it, with a message that says what to do.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from data.errors import SegmentError
from data.manifest import SegmentInfo

if TYPE_CHECKING:
    import pyarrow.parquet as pq

RETIRED_DIR = "_retired"
CHECK_HINT = "run `clanka store check`; `clanka store repair --drop-missing` drops it"


def family_of(seg: SegmentInfo) -> str:
    """The family a segment belongs to (the first directory of its path)."""
    return seg.path.split("/", 1)[0]


def locate(root: Path, seg: SegmentInfo) -> Path | None:
    """Where the segment's bytes are: its own path, else its retired copy, else None."""
    live = root / seg.path
    if live.exists():
        return live
    retired = root / RETIRED_DIR
    if retired.is_dir():
        for gen in sorted(retired.iterdir(), reverse=True):
            cand = gen / seg.path
            if cand.exists():
                return cand
    return None


def missing_error(seg: SegmentInfo) -> SegmentError:
    """The error for a listed segment whose file is gone."""
    fam = family_of(seg)
    return SegmentError(
        f"family {fam}: segment {seg.path} is missing from disk ({seg.rows:,} rows); {CHECK_HINT}",
        family=fam,
        path=seg.path,
        problem="missing",
    )


def corrupt_error(seg: SegmentInfo, detail: str) -> SegmentError:
    """The error for a listed segment whose bytes fail their checks."""
    fam = family_of(seg)
    first = detail.strip().splitlines()[0] if detail.strip() else "unreadable"
    return SegmentError(
        f"family {fam}: segment {seg.path} is corrupt ({first}); {CHECK_HINT}",
        family=fam,
        path=seg.path,
        problem="corrupt",
        detail=first,
    )


def open_segment(root: Path, seg: SegmentInfo) -> pq.ParquetFile:
    """Open a segment for reading with page checksums verified on every page read."""
    import pyarrow.parquet as pq  # loaded on first read: views alone never need it

    path = locate(root, seg)
    if path is None:
        raise missing_error(seg)
    try:
        # Buffered reads, not mmap: mapped pages count as resident and would grow with
        # the file (538 MB peak vs 120 MB on 11.7 M ticks), for ~25% more scan speed.
        return pq.ParquetFile(path, memory_map=False, page_checksum_verification=True)
    except FileNotFoundError:
        raise missing_error(seg) from None
    except (OSError, pa.ArrowException) as exc:
        raise corrupt_error(seg, str(exc)) from exc


def read_row_groups(
    pf: pq.ParquetFile, seg: SegmentInfo, groups: list[int], columns: list[str] | None
) -> pa.Table:
    """Decode row groups of an open segment; checksum or decode failures name it."""
    try:
        return pf.read_row_groups(groups, columns=columns)
    except (OSError, pa.ArrowException) as exc:
        raise corrupt_error(seg, str(exc)) from exc


def read_whole(root: Path, seg: SegmentInfo, columns: list[str] | None = None) -> pa.Table:
    """Every row of a segment as one Table (compaction, small families), verified."""
    pf = open_segment(root, seg)
    return read_row_groups(pf, seg, list(range(pf.metadata.num_row_groups)), columns)
