"""The append-only event store: Parquet segments committed through a manifest.

Writes happen in a `Transaction` under an exclusive writer lock: segments are written
durably under their final names but stay invisible until the transaction publishes a
new manifest in one atomic rename. A crash therefore leaves either all of a
transaction's rows visible or none, and never touches a committed segment. Readers
take no lock; they read the manifest once and then only immutable files.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import os
import shutil
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
import pyarrow as pa

from data.errors import StoreError, StoreLockedError
from data.fsio import is_temp_name
from data.manifest import MANIFEST_NAME, Manifest, SegmentInfo, load_manifest, save_manifest
from data.mints import MintRecord, MintRegistry, MintSpec
from data.scan import Chunk, ScanFilter, ScanStats, scan_segments
from data.schemas import FAMILIES, FamilySpec, Partitioning, check_source_name
from data.segments import NS_PER_DAY, partition_dir, write_segment

if TYPE_CHECKING:
    import duckdb

LOCK_NAME = "_writer.lock"
RETIRED_DIR = "_retired"
ORPHANS_DIR = "_orphans"
DEFAULT_MAX_SEGMENT_ROWS = 16_000_000
DEFAULT_COMPACT_TARGET_ROWS = 4_000_000

ColumnData: TypeAlias = "pa.Table | Mapping[str, Any]"
"""Rows to append: a pyarrow Table or a mapping of column name -> array-like."""


@dataclass(frozen=True)
class SeqRange:
    """The `seq` values an append received: `first .. first + count - 1`."""

    first: int
    count: int


@dataclass
class CompactionResult:
    """What one `compact` call merged."""

    segments_before: int = 0
    segments_after: int = 0
    merged_groups: int = 0
    rows_rewritten: int = 0
    families: list[str] = field(default_factory=list)


class WriterLock:
    """Exclusive, process-wide lock on a store's writes (flock on `_writer.lock`).

    The lock dies with its process, so a `kill -9` never leaves a store locked.
    """

    def __init__(self, root: Path) -> None:
        self._path = root / LOCK_NAME
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        """Take the lock if it is free; return whether we now hold it."""
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return True

    def acquire(self, timeout_s: float) -> None:
        """Wait up to `timeout_s` for the lock, then fail with the holder's pid."""
        deadline = time.monotonic() + timeout_s
        while not self.try_acquire():
            if time.monotonic() >= deadline:
                holder = self._path.read_text().strip() or "unknown"
                raise StoreLockedError(
                    f"store {self._path.parent} is being written by another process "
                    f"(pid {holder}); waited {timeout_s:.0f}s"
                )
            time.sleep(0.02)

    def release(self) -> None:
        """Release the lock (idempotent)."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def _coerce(spec: FamilySpec, data: ColumnData) -> pa.Table:
    """Check and cast rows to a family's payload schema, with clear errors."""
    table = data if isinstance(data, pa.Table) else pa.table(dict(data))
    want = spec.payload_schema
    missing = [n for n in want.names if n not in table.column_names]
    extra = [n for n in table.column_names if n not in want.names]
    if missing or extra:
        raise ValueError(
            f"{spec.name}: columns do not match the family schema "
            f"(missing {missing}, unexpected {extra})"
        )
    table = table.select(want.names)
    try:
        table = table.cast(want, safe=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise ValueError(f"{spec.name}: {exc}") from exc
    for f in want:
        if not f.nullable and table.column(f.name).null_count:
            raise ValueError(f"{spec.name}: column {f.name!r} has nulls")
    return table


class Transaction:
    """A group of appends (possibly to several families) committed atomically.

    Use through `EventStore.transaction()`. Nothing becomes visible until `commit`;
    an exception inside the `with` block discards every segment written so far.
    """

    def __init__(self, store: EventStore, lock: WriterLock) -> None:
        self._store = store
        self._lock = lock
        self._base = load_manifest(store.root)
        self._next_seq = {n: self._base.family(n).next_seq for n in FAMILIES}
        self._added: dict[str, list[SegmentInfo]] = {}
        self._registry = store._registry_for(self._base)
        self._new_mints: dict[str, MintRecord] = {}
        self._open = True

    @property
    def base(self) -> Manifest:
        """The committed manifest this transaction started from."""
        return self._base

    def append(self, family: str, data: ColumnData, *, source: str | None = None) -> SeqRange:
        """Write rows to `family`; return the seq range they received.

        Rows are stably sorted by `ts_ns`, given consecutive `seq` values, and split
        into one segment per partition (date from `ts_ns`, plus `source`).
        """
        if not self._open:
            raise StoreError("transaction is already closed")
        spec = FAMILIES.get(family)
        if spec is None:
            raise ValueError(f"unknown event family {family!r}; known: {sorted(FAMILIES)}")
        if spec.partitioning is Partitioning.DATE_SOURCE:
            if source is None:
                raise ValueError(f"family {family!r} needs a source (or run id) to append")
            check_source_name(source)
        table = _coerce(spec, data)
        n = table.num_rows
        first = self._next_seq[family]
        if n == 0:
            return SeqRange(first, 0)
        ts = table.column("ts_ns").to_numpy()
        if n > 1 and not bool(np.all(ts[1:] >= ts[:-1])):
            order = np.argsort(ts, kind="stable")
            table = table.take(order)
            ts = ts[order]
        table = table.add_column(0, "seq", pa.array(np.arange(first, first + n, dtype=np.int64)))
        self._next_seq[family] = first + n
        for start, stop, day in _partition_runs(spec, ts):
            rel = partition_dir(spec, source, day)
            for lo in range(start, stop, DEFAULT_MAX_SEGMENT_ROWS):
                hi = min(stop, lo + DEFAULT_MAX_SEGMENT_ROWS)
                seg = write_segment(self._store.root, spec, rel, table.slice(lo, hi - lo))
                self._added.setdefault(family, []).append(seg)
        return SeqRange(first, n)

    def scan(
        self,
        family: str,
        columns: Sequence[str] | None = None,
        *,
        start_ts: int | None = None,
        end_ts: int | None = None,
        mint_ids: Sequence[int] | np.ndarray | None = None,
        source: str | None = None,
    ) -> Iterator[Chunk]:
        """Scan the committed state this transaction builds on (not its own appends)."""
        return _scan_manifest(
            self._store.root,
            self._base,
            family,
            columns,
            start_ts,
            end_ts,
            mint_ids,
            source,
            None,
        )

    def register_mints(
        self, specs: Sequence[MintSpec], *, source: str, ts_ns: int
    ) -> dict[str, MintRecord]:
        """Return records for `specs`, registering the ones the store has not seen.

        A mint that already exists keeps its original id and decimals.
        """
        out: dict[str, MintRecord] = {}
        fresh: list[MintRecord] = []
        next_id = self._registry.next_id + len(self._new_mints)
        for sp in specs:
            rec = self._registry.get(sp.mint) or self._new_mints.get(sp.mint)
            if rec is None:
                rec = MintRecord(next_id, sp.mint, sp.symbol, sp.decimals, sp.quote, source)
                next_id += 1
                self._new_mints[sp.mint] = rec
                fresh.append(rec)
            out[sp.mint] = rec
        if fresh:
            self.append(
                "mints",
                {
                    "ts_ns": np.full(len(fresh), ts_ns, dtype=np.int64),
                    "mint_id": [r.mint_id for r in fresh],
                    "mint": [r.mint for r in fresh],
                    "symbol": [r.symbol for r in fresh],
                    "decimals": [r.decimals for r in fresh],
                    "quote": [r.quote for r in fresh],
                    "source": [r.source for r in fresh],
                },
            )
        return out

    @property
    def mints_added(self) -> int:
        """How many new mints this transaction registers."""
        return len(self._new_mints)

    def commit(self) -> Manifest:
        """Publish every segment written by this transaction in one atomic step."""
        if not self._open:
            raise StoreError("transaction is already closed")
        self._open = False
        if not self._added:
            return self._base
        new = self._base.with_changes(self._added, {}, self._next_seq)
        save_manifest(self._store.root, new)
        self._store._set_manifest(new)
        return new

    def abort(self) -> None:
        """Discard every segment this transaction wrote; the store is unchanged."""
        self._open = False
        for segs in self._added.values():
            for seg in segs:
                (self._store.root / seg.path).unlink(missing_ok=True)
        self._added.clear()


def _partition_runs(spec: FamilySpec, ts: np.ndarray) -> Iterator[tuple[int, int, int | None]]:
    """Yield (start, stop, day) runs of a ts-sorted array, one per date partition."""
    if spec.partitioning is Partitioning.NONE:
        yield 0, len(ts), None
        return
    days = ts // NS_PER_DAY
    cuts = np.flatnonzero(days[1:] != days[:-1]) + 1
    bounds = [0, *cuts.tolist(), len(ts)]
    for a, b in itertools.pairwise(bounds):
        yield a, b, int(days[a])


class EventStore:
    """A Clanka store rooted at a directory; open it with `open_store`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._manifest = load_manifest(root)
        self._registry: tuple[int, MintRegistry] | None = None
        self._con: duckdb.DuckDBPyConnection | None = None
        self._views_generation = -1

    # ----------------------------------------------------------------- state
    @property
    def manifest(self) -> Manifest:
        """The committed state this handle reads (see `refresh`)."""
        return self._manifest

    def refresh(self) -> None:
        """Pick up commits made by other processes since this handle last looked."""
        self._set_manifest(load_manifest(self.root))

    def _set_manifest(self, manifest: Manifest) -> None:
        self._manifest = manifest

    def rows(self, family: str) -> int:
        """Committed row count of a family."""
        return self._manifest.family(family).rows

    def segments(self, family: str) -> list[SegmentInfo]:
        """Committed segments of a family."""
        return list(self._manifest.family(family).segments)

    def mints(self) -> MintRegistry:
        """The mint registry as of this handle's manifest."""
        return self._registry_for(self._manifest)

    def _registry_for(self, manifest: Manifest) -> MintRegistry:
        if self._registry is not None and self._registry[0] == manifest.generation:
            return self._registry[1]
        segs = manifest.family("mints").segments
        tbl = self._read_segments("mints", segs, None, ScanFilter())
        recs = [
            MintRecord(
                int(r["mint_id"]),
                r["mint"],
                r["symbol"],
                int(r["decimals"]),
                r["quote"],
                r["source"],
            )
            for r in tbl.to_pylist()
        ]
        reg = MintRegistry(recs)
        self._registry = (manifest.generation, reg)
        return reg

    # ---------------------------------------------------------------- writes
    @contextlib.contextmanager
    def transaction(self, timeout_s: float = 30.0) -> Iterator[Transaction]:
        """Open a write transaction under the writer lock; commit on normal exit."""
        lock = WriterLock(self.root)
        lock.acquire(timeout_s)
        try:
            tx = Transaction(self, lock)
            try:
                yield tx
            except BaseException:
                tx.abort()
                raise
            tx.commit()
        finally:
            lock.release()

    def append(self, family: str, data: ColumnData, *, source: str | None = None) -> SeqRange:
        """Append rows to one family in their own transaction."""
        with self.transaction() as tx:
            return tx.append(family, data, source=source)

    def compact(
        self,
        families: Sequence[str] | None = None,
        *,
        target_rows: int = DEFAULT_COMPACT_TARGET_ROWS,
        timeout_s: float = 30.0,
    ) -> CompactionResult:
        """Merge small segments of each partition into fewer, larger ones.

        New segments are written first; one manifest commit then swaps them in for
        the old ones, which move to `_retired/` (out of the glob) afterwards. A crash
        at any point leaves exactly the old set or exactly the new set visible.
        """
        names = list(families) if families is not None else list(FAMILIES)
        result = CompactionResult(families=names)
        lock = WriterLock(self.root)
        lock.acquire(timeout_s)
        written: list[Path] = []
        try:
            base = load_manifest(self.root)
            tag = f".c{base.generation + 1}"
            added: dict[str, list[SegmentInfo]] = {}
            removed: dict[str, list[str]] = {}
            for name in names:
                spec = FAMILIES[name]
                segs = base.family(name).segments
                result.segments_before += len(segs)
                for group in _compaction_groups(segs, target_rows):
                    tbl = self._read_segments(name, group, None, ScanFilter())
                    new = write_segment(self.root, spec, group[0].partition_dir, tbl, tag)
                    written.append(self.root / new.path)
                    added.setdefault(name, []).append(new)
                    removed.setdefault(name, []).extend(s.path for s in group)
                    result.merged_groups += 1
                    result.rows_rewritten += tbl.num_rows
            if not added:
                result.segments_after = result.segments_before
                return result
            new_manifest = base.with_changes(added, removed, {})
            try:
                save_manifest(self.root, new_manifest)
            except BaseException:
                # The rename may have happened before the failure: if the new manifest
                # is the committed one, its segments must stay.
                if load_manifest(self.root).generation == new_manifest.generation:
                    written.clear()
                raise
            written.clear()
            self._set_manifest(new_manifest)
            result.segments_after = sum(len(new_manifest.family(n).segments) for n in names)
            for paths in removed.values():
                for rel in paths:
                    _move_out(self.root, rel, Path(RETIRED_DIR) / f"g{new_manifest.generation}")
            return result
        finally:
            for p in written:
                p.unlink(missing_ok=True)
            lock.release()

    def recover(self) -> int:
        """Clear what a crashed writer left behind; return how many files were moved.

        Temp files are deleted; Parquet files the manifest does not list (segments of
        an uncommitted transaction, or compaction inputs not yet retired) move to
        `_orphans/`. Runs only when no writer holds the lock.
        """
        lock = WriterLock(self.root)
        if not lock.try_acquire():
            return 0
        moved = 0
        try:
            self._set_manifest(load_manifest(self.root))
            live = {s.path for f in self._manifest.families.values() for s in f.segments}
            for entry in self.root.iterdir():
                if is_temp_name(entry.name):
                    entry.unlink(missing_ok=True)
                    continue
                if not entry.is_dir() or entry.name.startswith(("_", ".")):
                    continue
                for path in sorted(entry.rglob("*")):
                    if not path.is_file():
                        continue
                    rel = path.relative_to(self.root).as_posix()
                    if is_temp_name(path.name):
                        path.unlink(missing_ok=True)
                    elif path.suffix == ".parquet" and rel not in live:
                        _move_out(self.root, rel, Path(ORPHANS_DIR))
                        moved += 1
        finally:
            lock.release()
        return moved

    def vacuum(self) -> int:
        """Delete retired and orphaned segments for good; return the bytes freed.

        Only files outside every manifest-listed path are touched.
        """
        freed = 0
        for d in (RETIRED_DIR, ORPHANS_DIR):
            p = self.root / d
            if p.exists():
                freed += sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
                shutil.rmtree(p)
        return freed

    # ----------------------------------------------------------------- reads
    def scan(
        self,
        family: str,
        columns: Sequence[str] | None = None,
        *,
        start_ts: int | None = None,
        end_ts: int | None = None,
        mint_ids: Sequence[int] | np.ndarray | None = None,
        source: str | None = None,
        stats: ScanStats | None = None,
    ) -> Iterator[Chunk]:
        """Stream rows of a family as numpy chunks in `(ts_ns, seq)` order.

        `start_ts <= ts_ns < end_ts`; segments and row groups outside the range are
        never decoded. `source` keeps one source/run partition.
        """
        return _scan_manifest(
            self.root, self._manifest, family, columns, start_ts, end_ts, mint_ids, source, stats
        )

    def read_table(
        self,
        family: str,
        columns: Sequence[str] | None = None,
        *,
        start_ts: int | None = None,
        end_ts: int | None = None,
        mint_ids: Sequence[int] | np.ndarray | None = None,
    ) -> pa.Table:
        """Read selected rows into one Table (for small results; use `scan` for days)."""
        flt = _make_filter(start_ts, end_ts, mint_ids)
        return self._read_segments(family, self.segments(family), columns, flt)

    def _read_segments(
        self,
        family: str,
        segs: list[SegmentInfo],
        columns: Sequence[str] | None,
        flt: ScanFilter,
    ) -> pa.Table:
        spec = FAMILIES[family]
        cols = list(columns) if columns is not None else spec.schema.names
        schema = pa.schema([spec.schema.field(c) for c in cols])
        chunks = list(scan_segments(self.root, segs, cols, flt))
        if not chunks:
            return schema.empty_table()
        return pa.Table.from_arrays(
            [
                pa.array(np.concatenate([c[n] for c in chunks]), type=schema.field(n).type)
                for n in cols
            ],
            schema=schema,
        )

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection with one view per family, current as of this manifest."""
        from data.duck import build_views, connect

        if self._con is None:
            self._con = connect()
        if self._views_generation != self._manifest.generation:
            build_views(self._con, self.root, self._manifest)
            self._views_generation = self._manifest.generation
        return self._con

    def close(self) -> None:
        """Close the DuckDB connection, if one was opened."""
        if self._con is not None:
            self._con.close()
            self._con = None
            self._views_generation = -1

    def __enter__(self) -> EventStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _scan_manifest(
    root: Path,
    manifest: Manifest,
    family: str,
    columns: Sequence[str] | None,
    start_ts: int | None,
    end_ts: int | None,
    mint_ids: Sequence[int] | np.ndarray | None,
    source: str | None,
    stats: ScanStats | None,
) -> Iterator[Chunk]:
    spec = FAMILIES[family]
    cols = list(columns) if columns is not None else spec.schema.names
    segs = manifest.family(family).segments
    if source is not None:
        marker = f"/source={source}/"
        segs = [s for s in segs if marker in s.path]
    return scan_segments(root, segs, cols, _make_filter(start_ts, end_ts, mint_ids), stats)


def _make_filter(
    start_ts: int | None, end_ts: int | None, mint_ids: Sequence[int] | np.ndarray | None
) -> ScanFilter:
    return ScanFilter(
        start_ts=ScanFilter.start_ts if start_ts is None else int(start_ts),
        end_ts=ScanFilter.end_ts if end_ts is None else int(end_ts),
        mint_ids=None if mint_ids is None else np.asarray(mint_ids, dtype=np.int32),
    )


def _compaction_groups(segs: list[SegmentInfo], target_rows: int) -> list[list[SegmentInfo]]:
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


def _move_out(root: Path, rel: str, into: Path) -> None:
    """Move a segment out of the family tree (so globs stop seeing it), keeping it."""
    src = root / rel
    dst = root / into / rel
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.exists():
        dst = dst.with_name(f"{dst.stem}.{time.time_ns()}{dst.suffix}")
    with contextlib.suppress(FileNotFoundError):
        os.replace(src, dst)


def init_store(root: Path) -> None:
    """Create an empty store at `root` (a directory with a generation-0 manifest)."""
    root.mkdir(parents=True, exist_ok=True)
    if not (root / MANIFEST_NAME).exists():
        if any(root.iterdir()):
            raise StoreError(f"{root} exists, is not empty and is not a Clanka store")
        save_manifest(root, Manifest())


def open_store(path: str | os.PathLike[str], *, create: bool = False) -> EventStore:
    """Open the store at `path` (creating an empty one if `create`), recovering it.

    Recovery after a crash (removing temp files, moving uncommitted segments aside)
    happens here when no other process is writing.
    """
    root = Path(path).resolve()
    if create:
        init_store(root)
    elif not (root / MANIFEST_NAME).exists():
        raise StoreError(
            f"no Clanka store at {root} (create one with `clanka import` or `clanka generate`)"
        )
    store = EventStore(root)
    store.recover()
    return store
