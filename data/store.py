"""The append-only event store: Parquet segments committed through a manifest.

Writes happen in a `Transaction` under an exclusive writer lock: segments are written
durably under their final names but stay invisible until the transaction publishes a
new manifest in one atomic rename. A crash therefore leaves either all of a
transaction's rows visible or none, and never touches a committed segment. Readers
take no writer lock; they read the manifest once and then only immutable files (a
scan pins retired segments so a concurrent compaction cannot pull them away).

Failures a user can act on are one-line errors: a read-only store refuses writes
(`StoreReadOnlyError`) but reads normally; a full disk aborts the transaction and says
nothing was committed (`StoreFullError`); a stop request (Ctrl-C, SIGTERM) is honoured
just before the commit, never in the middle of it.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import time
import weakref
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
import pyarrow as pa

from data import interrupts
from data.compaction import CompactionResult, move_out
from data.compaction import compact as compact_store
from data.defaults import DEFAULT_COMPACT_TARGET_ROWS
from data.errors import StoreError, StoreFullError
from data.fsio import is_disk_full, is_temp_name
from data.integrity import DAMAGED_DIR, CheckReport, Problem, check_store, still_damaged
from data.locks import LOCK_NAME, WriterLock, is_writable, read_only_error
from data.manifest import MANIFEST_NAME, Manifest, SegmentInfo, load_manifest, save_manifest
from data.mint_ids import MintIdJournal
from data.mints import MintRecord, MintRegistry, MintSpec
from data.readers import reader_pin, try_exclusive
from data.scan import Chunk, ScanFilter, ScanStats, scan_segments
from data.schemas import FAMILIES, FamilySpec, Partitioning, check_source_name
from data.segment_files import RETIRED_DIR, open_segment, read_row_groups
from data.segments import NS_PER_DAY, partition_dir, write_segment

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "DEFAULT_COMPACT_TARGET_ROWS",
    "LOCK_NAME",
    "RETIRED_DIR",
    "CompactionResult",
    "EventStore",
    "SeqRange",
    "Transaction",
    "WriterLock",
    "close_all_stores",
    "init_store",
    "open_store",
]

ORPHANS_DIR = "_orphans"
DEFAULT_MAX_SEGMENT_ROWS = 16_000_000

ColumnData: TypeAlias = "pa.Table | Mapping[str, Any]"
"""Rows to append: a pyarrow Table or a mapping of column name -> array-like."""


@dataclass(frozen=True)
class SeqRange:
    """The `seq` values an append received: `first .. first + count - 1`."""

    first: int
    count: int


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
        self._removed: dict[str, list[str]] = {}
        self._new_mints: dict[str, MintRecord] = {}
        self._open = True

    @property
    def _registry(self) -> MintRegistry:
        """The base's registry, read only by a transaction that registers mints."""
        return self._store._registry_for(self._base)

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
        new: dict[str, MintSpec] = {}
        for sp in specs:
            rec = self._registry.get(sp.mint) or self._new_mints.get(sp.mint)
            if rec is not None:
                out[sp.mint] = rec
            else:
                new.setdefault(sp.mint, sp)
        if not new:
            return out
        # Ids (and decimals) from the store's journal, which every registrar asks first:
        # an address another process holds an id for, committed or not, keeps it.
        floor = max([self._registry.next_id] + [r.mint_id + 1 for r in self._new_mints.values()])
        ids = self._store.mint_ids.assign(((a, sp.decimals) for a, sp in new.items()), floor)
        fresh = [MintRecord(ids[a][0], a, sp.symbol, ids[a][1], sp.quote, source)
                 for a, sp in new.items()]  # fmt: skip
        self._append_mints(fresh, np.full(len(fresh), ts_ns, dtype=np.int64))
        return out | {r.mint: r for r in fresh}

    def register_reserved(self, recs: Sequence[MintRecord], ts_ns: Sequence[int]) -> int:
        """Register mints at the ids their source took from the journal and used.

        A live run's new tokens, at its roll (`MintIdJournal.assign` gave the ids): the
        log that first used each id is the authority. An id already registered to the
        same address is skipped (another registrar that met the mint, or a roll re-run
        at recovery); one registered to another address means the id was handed out
        twice, which is refused. An address registered under another id (possible only
        past the journal: an older Clanka, or a journal removed by hand) is registered
        again, an alias; the registry answers that address with the first. Returns how
        many were new.
        """
        fresh: list[MintRecord] = []
        times: list[int] = []
        for rec, ts in zip(recs, ts_ns, strict=True):
            have = self._registry.find_id(rec.mint_id) or next(
                (r for r in self._new_mints.values() if r.mint_id == rec.mint_id), None
            )
            if have is None:
                fresh.append(rec)
                times.append(ts)
            elif have.mint != rec.mint:
                raise StoreError(
                    f"mint id {rec.mint_id} is registered to {have.mint}, but {rec.source} "
                    f"used it for {rec.mint}: the id was handed out twice"
                )
        self._append_mints(fresh, np.array(times, dtype=np.int64))
        return len(fresh)

    def _append_mints(self, fresh: list[MintRecord], ts_ns: np.ndarray) -> None:
        if not fresh:
            return
        for r in fresh:
            self._new_mints.setdefault(r.mint, r)
        self.append(
            "mints",
            {
                "ts_ns": ts_ns,
                "mint_id": [r.mint_id for r in fresh],
                "mint": [r.mint for r in fresh],
                "symbol": [r.symbol for r in fresh],
                "decimals": [r.decimals for r in fresh],
                "quote": [r.quote for r in fresh],
                "source": [r.source for r in fresh],
            },
        )

    @property
    def mints_added(self) -> int:
        """How many new mints this transaction registers."""
        return len(self._new_mints)

    def drop_segments(self, family: str, paths: Sequence[str]) -> None:
        """Remove committed segments from the manifest at commit (store repair only)."""
        self._removed.setdefault(family, []).extend(paths)

    def commit(self) -> Manifest:
        """Publish every segment written by this transaction in one atomic step.

        A stop request pending at this point aborts the transaction instead; once the
        manifest write starts, SIGINT and SIGTERM wait until it is done.
        """
        if not self._open:
            raise StoreError("transaction is already closed")
        if not self._added and not self._removed:
            self._open = False
            return self._base
        interrupts.check()
        self._open = False
        new = self._base.with_changes(self._added, self._removed, self._next_seq)
        with interrupts.deferred():
            try:
                save_manifest(self._store.root, new)
            except BaseException:
                # The rename may have happened before the failure (a directory fsync
                # error after it): then the transaction is committed after all.
                if load_manifest(self._store.root).generation != new.generation:
                    self.abort()
                    raise
            self._store._set_manifest(new)
        return new

    def abort(self) -> None:
        """Discard every segment this transaction wrote; the store is unchanged."""
        self._open = False
        for segs in self._added.values():
            for seg in segs:
                with contextlib.suppress(OSError):  # recovery moves any leftover aside
                    (self._store.root / seg.path).unlink(missing_ok=True)
        self._added.clear()
        self._removed.clear()


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
        _OPEN.add(self)
        self.read_only = not is_writable(root)
        """True when this process cannot write the store: reads work, writes refuse."""
        self._manifest = load_manifest(root)
        self._registry: tuple[tuple[str, ...], MintRegistry] | None = None
        self._con: duckdb.DuckDBPyConnection | None = None
        self._views_generation = -1
        self._view_sql: dict[str, str] = {}
        """Each view's SQL as last created on `_con`: a new generation recreates only
        the views whose SQL changed (`build_views`)."""
        self._mint_ids: MintIdJournal | None = None

    # ----------------------------------------------------------------- state
    @property
    def mint_ids(self) -> MintIdJournal:
        """The store's mint id journal (`data.mint_ids`), opened on first use."""
        if self._mint_ids is None:
            self._mint_ids = MintIdJournal(self.root)
        return self._mint_ids

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
        """The registry as of `manifest`, read once and then extended.

        Keyed by the mints family's segment list, not the manifest's generation: every
        commit (a live run rolls every few seconds) changes the generation, but only a
        registration adds a mints segment, and segments never change, so a list that
        extends the cached one costs a read of the new segments only. Re-reading every
        segment on each commit made a live run's rolls grow with the mints it had seen
        (98 of 157 ms with 200 mints).
        """
        segs = manifest.family("mints").segments
        key = tuple(seg.path for seg in segs)
        known: tuple[str, ...] = ()
        recs: list[MintRecord] = []
        if self._registry is not None:
            cached_key, cached = self._registry
            if cached_key == key:
                return cached
            if key[: len(cached_key)] == cached_key:
                known, recs = cached_key, cached.records()
        tbl = self._read_segments("mints", segs[len(known) :], None, ScanFilter())
        recs += [
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
        self._registry = (key, reg)
        return reg

    # ---------------------------------------------------------------- writes
    @contextlib.contextmanager
    def transaction(self, timeout_s: float = 30.0) -> Iterator[Transaction]:
        """Open a write transaction under the writer lock; commit on normal exit.

        Any failure inside the block, or in the commit, discards the transaction's
        segments; a full disk becomes `StoreFullError` ("nothing was committed").
        """
        if self.read_only:
            raise read_only_error(self.root)
        lock = WriterLock(self.root)
        lock.acquire(timeout_s)
        try:
            tx = Transaction(self, lock)
            try:
                yield tx
                tx.commit()
            except BaseException as exc:
                tx.abort()
                if is_disk_full(exc):
                    raise StoreFullError(
                        f"disk full writing to store {self.root}: nothing was committed"
                    ) from exc
                raise
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
        """Merge small segments of each partition into fewer, larger ones (atomically).

        See `data.compaction`: inputs are verified first, the old segments move to
        `_retired/` after the commit, and a crash leaves the old or the new set.
        """
        if self.read_only:
            raise read_only_error(self.root)
        result, manifest = compact_store(self.root, families, target_rows, timeout_s)
        if manifest is not None:
            self._set_manifest(manifest)
        return result

    def check(self) -> CheckReport:
        """Verify every committed segment (exists, size, hash, pages, rows); see integrity."""
        return check_store(self.root, self._manifest)

    def repair(self, problems: list[Problem], timeout_s: float = 30.0) -> list[Problem]:
        """Drop the damaged segments `problems` names, logged as `repairs` events.

        Problems are re-checked under the writer lock, so only segments still damaged
        are dropped; they leave the manifest and gain their `repairs` rows in one
        commit, and files still on disk then move to `_damaged/`. Returns what it dropped.
        """
        from data.integrity import repairs_table

        with self.transaction(timeout_s) as tx:
            damaged = still_damaged(self.root, problems)
            if not damaged:
                return []
            for fam in sorted({p.family for p in damaged}):
                tx.drop_segments(fam, [p.path for p in damaged if p.family == fam])
            tx.append("repairs", repairs_table(damaged))
        for p in damaged:
            if (self.root / p.path).exists():
                move_out(self.root, p.path, Path(DAMAGED_DIR))
        return damaged

    def recover(self) -> int:
        """Clear what a crashed writer left behind; return how many files were moved.

        Temp files are deleted; Parquet files the manifest does not list (segments of
        an uncommitted transaction, or compaction inputs not yet retired) move to
        `_orphans/`. Runs only when no writer holds the lock, and never on a store
        this process cannot write (it is read as it stands).
        """
        if self.read_only:
            return 0
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
                        move_out(self.root, rel, Path(ORPHANS_DIR))
                        moved += 1
        finally:
            lock.release()
        return moved

    def vacuum(self, timeout_s: float = 30.0) -> int:
        """Delete retired, orphaned and damaged segments for good; return the bytes freed.

        Only files outside every manifest-listed path are touched. It holds the writer
        lock (no compaction retires files meanwhile) and waits until no scan pins the
        retired segments; a scan that started earlier can still need them.
        """
        if self.read_only:
            raise read_only_error(self.root)
        lock = WriterLock(self.root)
        lock.acquire(timeout_s)
        try:
            pin = try_exclusive(self.root)
            waited = 0.0
            while pin is None:
                interrupts.check()
                if waited >= timeout_s:
                    raise StoreError(
                        f"store {self.root}: scans in progress still use retired segments; "
                        f"waited {timeout_s:.0f}s, nothing was deleted (try again later)"
                    )
                time.sleep(0.05)
                waited += 0.05
                pin = try_exclusive(self.root)
            try:
                freed = 0
                for d in (RETIRED_DIR, ORPHANS_DIR, DAMAGED_DIR):
                    p = self.root / d
                    if p.exists():
                        freed += sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
                        shutil.rmtree(p)
                return freed
            finally:
                os.close(pin)
        finally:
            lock.release()

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
        """Selected rows as one Arrow table in (ts_ns, seq) order; nulls stay nulls."""
        spec = FAMILIES[family]
        cols = list(columns) if columns is not None else spec.schema.names
        schema = pa.schema([spec.schema.field(c) for c in cols])
        need = list(dict.fromkeys([*cols, "ts_ns", "seq", "mint_id"]))
        need = [c for c in need if c in spec.schema.names]
        tables = []
        with reader_pin(self.root):
            for seg in segs:
                if not flt.keeps_segment(seg):
                    continue
                interrupts.check()
                pf = open_segment(self.root, seg)
                groups = list(range(pf.metadata.num_row_groups))
                tbl = read_row_groups(pf, seg, groups, need)
                tables.append(_filter_rows(tbl, flt))
        if not tables:
            return schema.empty_table()
        table = pa.concat_tables(tables)
        if len(tables) > 1:
            table = table.sort_by([("ts_ns", "ascending"), ("seq", "ascending")])
        return table.select(cols).cast(schema)

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection with one view per family, current as of this manifest."""
        from data.duck import build_views, connect

        if self._con is None:
            self._con = connect()
        if self._views_generation != self._manifest.generation:
            build_views(self._con, self.root, self._manifest, self._view_sql)
            self._views_generation = self._manifest.generation
        return self._con

    def close(self) -> None:
        """Close the DuckDB connection and the mint id journal, if they were opened."""
        if self._mint_ids is not None:
            self._mint_ids.close()
            self._mint_ids = None
        if self._con is not None:
            self._con.close()
            self._con = None
            self._views_generation = -1
            self._view_sql = {}

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


def _filter_rows(table: pa.Table, flt: ScanFilter) -> pa.Table:
    """Rows of `table` inside the filter's time range and mint set."""
    import pyarrow.compute as pc  # loaded on first use: `clanka sql` never needs it

    mask = None
    if flt.start_ts > ScanFilter.start_ts or flt.end_ts < ScanFilter.end_ts:
        ts = table.column("ts_ns")
        mask = pc.and_(pc.greater_equal(ts, flt.start_ts), pc.less(ts, flt.end_ts))
    if flt.mint_ids is not None and "mint_id" in table.column_names:
        keep = pc.is_in(table.column("mint_id"), value_set=pa.array(flt.mint_ids, pa.int32()))
        mask = keep if mask is None else pc.and_(mask, keep)
    return table if mask is None else table.filter(mask)


def _make_filter(
    start_ts: int | None, end_ts: int | None, mint_ids: Sequence[int] | np.ndarray | None
) -> ScanFilter:
    return ScanFilter(
        start_ts=ScanFilter.start_ts if start_ts is None else int(start_ts),
        end_ts=ScanFilter.end_ts if end_ts is None else int(end_ts),
        mint_ids=None if mint_ids is None else np.asarray(mint_ids, dtype=np.int32),
    )


_OPEN: weakref.WeakSet[EventStore] = weakref.WeakSet()
"""Every store handle alive in this process (see `close_all_stores`)."""


def close_all_stores() -> None:
    """Close the DuckDB connection of every open store (a CLI does this before exiting)."""
    for store in list(_OPEN):
        store.close()


def init_store(root: Path) -> None:
    """Create an empty store at `root` (a directory with a generation-0 manifest)."""
    if root.exists() and not root.is_dir():
        raise StoreError(f"{root} is a file, not a store directory")
    try:
        root.mkdir(parents=True, exist_ok=True)
        if not (root / MANIFEST_NAME).exists():
            if any(root.iterdir()):
                raise StoreError(f"{root} exists, is not empty and is not a Clanka store")
            save_manifest(root, Manifest())
    except OSError as exc:
        if is_disk_full(exc):
            raise StoreFullError(f"disk full creating store {root}") from exc
        raise StoreError(f"cannot create store {root}: {exc.strerror or exc}") from exc


def open_store(
    path: str | os.PathLike[str], *, create: bool = False, reader: bool = False
) -> EventStore:
    """Open the store at `path` (creating an empty one if `create`), recovering it.

    Recovery after a crash (removing temp files, moving uncommitted segments aside)
    happens here when no other process is writing and the store is writable; a
    read-only store opens for reading. `reader=True` opens for reading only, whatever
    the permissions: no recovery, and every write refuses (the dashboard).
    """
    root = Path(path).resolve()
    if root.exists() and not root.is_dir():
        raise StoreError(f"{root} is a file, not a store directory")
    if create and not (root / MANIFEST_NAME).exists():
        init_store(root)
    elif not (root / MANIFEST_NAME).exists():
        raise StoreError(
            f"no Clanka store at {root} (create one with `clanka import` or `clanka generate`)"
        )
    store = EventStore(root)
    if reader:
        store.read_only = True
        return store
    store.recover()
    return store
