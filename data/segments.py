"""Writing one immutable Parquet segment, and naming where it goes.

A segment holds rows of one family and one partition, sorted by `(ts_ns, seq)`, and is
named after the `seq` range it covers, e.g.
`ticks/date=2025-06-06/source=pumpfun/part-000000000000-000000006011.parquet`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa

from data.fsio import HashingWriter, make_dirs_durable, write_durably
from data.manifest import SegmentInfo
from data.schemas import FamilySpec, Partitioning
from data.segment_files import footer_sha256

NS_PER_DAY = 86_400 * 1_000_000_000
_EPOCH = dt.date(1970, 1, 1)


def day_to_date(day: int) -> str:
    """Format a day number (days since the Unix epoch, UTC) as YYYY-MM-DD."""
    return (_EPOCH + dt.timedelta(days=int(day))).isoformat()


def partition_dir(spec: FamilySpec, source: str | None, day: int | None) -> str:
    """Relative directory of a partition, with '/' separators."""
    if spec.partitioning is Partitioning.NONE:
        return spec.name
    if source is None or day is None:
        raise ValueError(f"family {spec.name!r} is partitioned by date and source")
    return f"{spec.name}/date={day_to_date(day)}/source={source}"


def write_segment(
    root: Path, spec: FamilySpec, rel_dir: str, table: pa.Table, tag: str = ""
) -> SegmentInfo:
    """Durably write `table` (already sorted, `seq` assigned) as a new segment.

    `tag` distinguishes outputs of a compaction from the segments they replace, so a
    new segment never shares a name with a committed one. Every data page carries a
    CRC-32 (readers verify it), and the file's SHA-256 goes into the manifest, so a
    flipped bit anywhere in a committed segment is found (`clanka store check`).
    """
    seq = table.column("seq").to_numpy()
    ts = table.column("ts_ns").to_numpy()
    first, last = int(seq.min()), int(seq.max())
    name = f"part-{first:012d}-{last:012d}{tag}.parquet"
    final = root / rel_dir / name
    make_dirs_durable(final.parent, root)
    import pyarrow.parquet as pq  # loaded on first write

    dict_cols = [f.name for f in spec.schema if pa.types.is_string(f.type)]
    digest = [""]

    def _write(path: Path) -> None:
        with (
            HashingWriter(path) as sink,
            pq.ParquetWriter(
                pa.PythonFile(sink, mode="w"),
                table.schema,
                compression=spec.compression,
                use_dictionary=dict_cols,
                write_statistics=True,
                write_page_checksum=True,
            ) as writer,
        ):
            writer.write_table(table, row_group_size=spec.row_group_rows)
        digest[0] = sink.hexdigest()

    size = write_durably(final, _write, replace=False)
    footer = footer_sha256(final)
    return SegmentInfo(
        path=f"{rel_dir}/{name}",
        rows=table.num_rows,
        first_seq=first,
        last_seq=last,
        min_ts=int(np.min(ts)),
        max_ts=int(np.max(ts)),
        bytes=size,
        sha256=digest[0],
        footer_sha256=footer,
    )
