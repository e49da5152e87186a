"""Mint ids agreed across processes without a store commit: the id journal.

A mint's id used to be fixed by the commit that registered it (under the writer lock,
the next id after the registry's last). A live run met every new token with that
commit on its event loop, 5 ms of segment write, manifest and fsyncs, exactly when a
sniper must be fastest. Now an id is fixed by one line in `_mint_ids`, a journal of
`[id, decimals, address]` lines appended under its own flock: a few microseconds. A
live run takes ids there, records each new (id, address) in its write-ahead log, and
registers them in the `mints` family with its next roll; every other registrar
(importers, the generator, the feed recorder) asks the same journal first, so two
processes that meet the same new token agree on its id and decimals, and no id is
handed out twice.

The journal is the authority on which id belongs to which address; the `mints`
family is the durable record with the rest (symbol, quote, source). A line must be
durable before a log record that uses its id is acknowledged (`sync`); a registrar
that commits its ids in the same transaction needs no fsync, since the registry's
next id is the floor of every new one. A line torn by a crash is cut off by the next
writer. An id assigned and never registered (an aborted import) stays its address's.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterable
from pathlib import Path

from data.errors import StoreError, StoreFullError
from data.fsio import is_disk_full, is_read_only
from data.locks import read_only_error

JOURNAL_NAME = "_mint_ids"


class MintIdJournal:
    """The store's address -> (id, decimals) assignments, shared by every process."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._path = root / JOURNAL_NAME
        self._fd: int | None = None
        self._pos = 0
        """Bytes of the journal read so far (whole lines)."""
        self._by_mint: dict[str, tuple[int, int]] = {}
        self._next = 0
        self._unsynced = False

    def assign(self, specs: Iterable[tuple[str, int]], floor: int) -> dict[str, tuple[int, int]]:
        """(id, decimals) for each (address, decimals): kept if assigned, else new.

        New ids follow the journal's last and are never below `floor` (the caller's
        registry's next id: a store older than the journal starts from its registry).
        An address assigned before keeps its id and its first decimals.
        """
        out: dict[str, tuple[int, int]] = {}
        want: list[tuple[str, int]] = []
        for address, decimals in specs:
            have = self._by_mint.get(address)
            if have is not None:
                out[address] = have
            else:
                want.append((address, decimals))
        if not want:
            return out
        fd = self._open()
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            self._catch_up(fd, cut_torn=True)
            new: dict[str, tuple[int, int]] = {}
            next_id = max(self._next, floor)
            for address, decimals in want:
                have = self._by_mint.get(address) or new.get(address)
                if have is None:
                    have = new[address] = (next_id, int(decimals))
                    next_id += 1
                out[address] = have
            if new:
                data = b"".join(json.dumps([i, d, a]).encode() + b"\n" for a, (i, d) in new.items())
                # On a failure nothing is learned here; whole lines that reached the file
                # count from the next read, and a torn one is cut then.
                self._write(fd, data)
                self._pos += len(data)
                self._unsynced = True
                for address, (i, d) in new.items():
                    self._learn(address, i, d)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
        return out

    def sync(self) -> None:
        """Make the lines this process appended durable, before a log record uses their ids."""
        if self._unsynced and self._fd is not None:
            try:
                os.fsync(self._fd)
            except OSError as exc:
                raise self._error(exc) from None
            self._unsynced = False

    def close(self) -> None:
        """Sync and close the journal file."""
        if self._fd is not None:
            try:
                self.sync()
            finally:
                os.close(self._fd)
                self._fd = None

    # ------------------------------------------------------------ file access
    def _open(self) -> int:
        if self._fd is None:
            try:
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
            except OSError as exc:
                raise self._error(exc) from None
        return self._fd

    def _catch_up(self, fd: int, *, cut_torn: bool) -> None:
        """Read the lines other processes appended since this one last looked."""
        size = os.fstat(fd).st_size
        if size < self._pos:
            raise StoreError(f"the mint id journal {self._path} shrank: it was replaced or cut")
        if size == self._pos:
            return
        data = os.pread(fd, size - self._pos, self._pos)
        end = data.rfind(b"\n") + 1
        for k, line in enumerate(data[:end].splitlines()):
            try:
                mint_id, decimals, address = json.loads(line)
                self._learn(str(address), int(mint_id), int(decimals))
            except (ValueError, TypeError) as exc:
                raise StoreError(
                    f"the mint id journal {self._path} is damaged near byte {self._pos} "
                    f"(line {k + 1} read now: {line[:60]!r})"
                ) from exc
        self._pos += end
        if end < len(data) and cut_torn:  # a writer died mid-line: that id was never used
            try:
                os.ftruncate(fd, self._pos)
            except OSError as exc:
                raise self._error(exc) from None

    def _learn(self, address: str, mint_id: int, decimals: int) -> None:
        self._by_mint.setdefault(address, (mint_id, decimals))
        self._next = max(self._next, mint_id + 1)

    def _write(self, fd: int, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(fd, view) :]
        except OSError as exc:
            raise self._error(exc) from None

    def _error(self, exc: OSError) -> StoreError:
        if is_read_only(exc):
            return read_only_error(self._root)
        if is_disk_full(exc):
            return StoreFullError(f"disk full: the mint id journal {self._path} cannot grow")
        return StoreError(f"cannot use the mint id journal {self._path}: {exc.strerror or exc}")
