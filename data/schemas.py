"""Event families: the columns, partitioning and on-disk encoding of each.

One Parquet dataset per family lives under the store root. Partitioned families are
laid out Hive-style as `<family>/date=YYYY-MM-DD/source=<name>/part-*.parquet`, with
`date` taken from each row's `ts_ns` (UTC). `seq` is assigned by the store when a row
is appended; callers never provide it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

import pyarrow as pa

from engine.codes import SignalKind


class Partitioning(Enum):
    """How a family's files are laid out under its directory."""

    DATE_SOURCE = "date_source"
    """`date=YYYY-MM-DD/source=NAME/`: for high-volume, time-ordered families."""
    NONE = "none"
    """Files directly under the family directory: for small reference families."""


@dataclass(frozen=True)
class FamilySpec:
    """Everything the store needs to know to write and read one event family."""

    name: str
    schema: pa.Schema
    partitioning: Partitioning
    compression: str
    row_group_rows: int
    doc: str

    @property
    def payload_schema(self) -> pa.Schema:
        """The columns a caller supplies on append: all but the store-assigned `seq`."""
        return pa.schema([f for f in self.schema if f.name != "seq"])


_ROW_GROUP = 1 << 17  # 131,072 rows: about 45 minutes of a busy 200-mint day per group

TICKS = FamilySpec(
    name="ticks",
    schema=pa.schema(
        [
            pa.field("seq", pa.int64(), nullable=False),
            pa.field("ts_ns", pa.int64(), nullable=False),
            pa.field("mint_id", pa.int32(), nullable=False),
            pa.field("price", pa.float64(), nullable=False),
            pa.field("size", pa.int64(), nullable=False),
            pa.field("side", pa.int8(), nullable=False),
            pa.field("liquidity", pa.float64(), nullable=False),
            pa.field("uid", pa.int64(), nullable=False),
        ]
    ),
    partitioning=Partitioning.DATE_SOURCE,
    # The kernel's hot input: lz4 decodes about 2x faster than zstd (benchmarks/).
    compression="lz4",
    row_group_rows=_ROW_GROUP,
    doc=(
        "Market trades and pool observations. price: quote (SOL) per whole token; "
        "size: raw token units (see mints.decimals); side: +1 buy, -1 sell, 0 unknown; "
        "liquidity: pool quote reserve in quote units, NaN if unknown; uid: stable id of "
        "the source event, used to drop duplicates."
    ),
)

SIGNALS = FamilySpec(
    name="signals",
    schema=pa.schema(
        [
            pa.field("seq", pa.int64(), nullable=False),
            pa.field("ts_ns", pa.int64(), nullable=False),
            pa.field("mint_id", pa.int32(), nullable=False),
            pa.field("kind", pa.int16(), nullable=False),
            pa.field("value", pa.float64(), nullable=False),
            pa.field("uid", pa.int64(), nullable=False),
        ]
    ),
    partitioning=Partitioning.DATE_SOURCE,
    compression="lz4",
    row_group_rows=_ROW_GROUP,
    doc="External per-mint signals (holder, flow, sentiment...); kind is engine.codes.SignalKind.",
)

QUARANTINE = FamilySpec(
    name="quarantine",
    schema=pa.schema(
        [
            pa.field("seq", pa.int64(), nullable=False),
            pa.field("ts_ns", pa.int64(), nullable=False),
            pa.field("recorded_ts_ns", pa.int64(), nullable=False),
            pa.field("target_family", pa.string(), nullable=False),
            pa.field("reason", pa.string(), nullable=False),
            pa.field("detail", pa.string(), nullable=False),
            pa.field("file", pa.string(), nullable=False),
            pa.field("row_no", pa.int64(), nullable=False),
            pa.field("raw", pa.string(), nullable=False),
        ]
    ),
    partitioning=Partitioning.DATE_SOURCE,
    compression="zstd",
    row_group_rows=_ROW_GROUP,
    doc=(
        "Input rows refused by validation, with a reason code and the raw row as JSON. "
        "ts_ns is the row's own time when it parsed, else the time it was recorded."
    ),
)

MINTS = FamilySpec(
    name="mints",
    schema=pa.schema(
        [
            pa.field("seq", pa.int64(), nullable=False),
            pa.field("ts_ns", pa.int64(), nullable=False),
            pa.field("mint_id", pa.int32(), nullable=False),
            pa.field("mint", pa.string(), nullable=False),
            pa.field("symbol", pa.string(), nullable=True),
            pa.field("decimals", pa.int16(), nullable=False),
            pa.field("quote", pa.string(), nullable=True),
            pa.field("source", pa.string(), nullable=False),
        ]
    ),
    partitioning=Partitioning.NONE,
    compression="zstd",
    row_group_rows=_ROW_GROUP,
    doc=(
        "One MintRegistered event per instrument: the int32 mint_id every other family "
        "uses, the base58 mint (or exchange symbol), decimals and quote asset."
    ),
)

IMPORTS = FamilySpec(
    name="imports",
    schema=pa.schema(
        [
            pa.field("seq", pa.int64(), nullable=False),
            pa.field("ts_ns", pa.int64(), nullable=False),
            pa.field("content_sha256", pa.string(), nullable=False),
            pa.field("path", pa.string(), nullable=False),
            pa.field("format", pa.string(), nullable=False),
            pa.field("source", pa.string(), nullable=False),
            pa.field("rows_in_file", pa.int64(), nullable=False),
            pa.field("imported", pa.int64(), nullable=False),
            pa.field("quarantined", pa.int64(), nullable=False),
            pa.field("skipped_duplicates", pa.int64(), nullable=False),
            pa.field("ticks", pa.int64(), nullable=False),
            pa.field("signals", pa.int64(), nullable=False),
            pa.field("mints_added", pa.int64(), nullable=False),
        ]
    ),
    partitioning=Partitioning.NONE,
    compression="zstd",
    row_group_rows=_ROW_GROUP,
    doc="One DataImported event per imported file or generated market (content hash recorded).",
)

FAMILIES: dict[str, FamilySpec] = {f.name: f for f in (TICKS, SIGNALS, QUARANTINE, MINTS, IMPORTS)}

_SOURCE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


def check_source_name(source: str) -> str:
    """Validate a source or run id used as a Hive partition value.

    It becomes a directory name, so it must be short and path-safe.
    """
    if not _SOURCE_RE.fullmatch(source):
        raise ValueError(
            f"invalid source name {source!r}: use 1-64 characters from "
            "letters, digits, '_', '.', '-', starting with a letter or digit"
        )
    return source


def signal_kind_case_sql(column: str = "kind") -> str:
    """SQL CASE expression that maps SignalKind codes to their lower-case names."""
    arms = " ".join(f"WHEN {k.value} THEN '{k.label}'" for k in SignalKind)
    return f"CASE {column} {arms} ELSE 'unknown' END"
