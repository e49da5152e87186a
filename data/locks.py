"""The store's writer lock: one writing process at a time, released by its death.

The lock is an flock on `_writer.lock`, so a `kill -9` never leaves a store locked.
Taking it is also where a store that cannot be written (a read-only mount, a
directory without write permission) is found out: the attempt fails with one clear
`StoreReadOnlyError` before any work is done.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from data import interrupts
from data.errors import StoreLockedError, StoreReadOnlyError
from data.fsio import is_read_only

LOCK_NAME = "_writer.lock"


def read_only_error(root: Path) -> StoreReadOnlyError:
    """The one-line error a write to a read-only store gets."""
    return StoreReadOnlyError(f"store {root} is read-only")


class WriterLock:
    """Exclusive, process-wide lock on a store's writes (flock on `_writer.lock`)."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._path = root / LOCK_NAME
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        """Take the lock if it is free; return whether we now hold it."""
        try:
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            if is_read_only(exc):
                raise read_only_error(self._root) from None
            raise
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
            interrupts.check()
            if time.monotonic() >= deadline:
                try:
                    holder = self._path.read_text().strip() or "unknown"
                except OSError:
                    holder = "unknown"
                raise StoreLockedError(
                    f"store {self._root} is being written by another process "
                    f"(pid {holder}); waited {timeout_s:.0f}s"
                )
            time.sleep(0.02)

    def release(self) -> None:
        """Release the lock (idempotent)."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def is_writable(root: Path) -> bool:
    """Whether this process can write the store directory (mount and permissions)."""
    return os.access(root, os.W_OK)


class RunLock:
    """Exclusive lock on one live run id for the life of the process running it.

    Two processes continuing the same run would each recover and append to its log,
    deleting each other's files and repeating batch numbers; the second start is
    refused instead, naming the process that holds the run.
    """

    def __init__(self, directory: Path, run_id: str) -> None:
        self._dir = directory
        self._path = directory / "run.lock"
        self._run_id = run_id
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise StoreLockedError("run ID is running (pid N)")."""
        try:
            self._dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            if is_read_only(exc):
                raise read_only_error(self._dir.parent.parent) from None
            raise
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            finally:
                os.close(fd)
            raise StoreLockedError(f"run {self._run_id} is running (pid {holder})") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        """Release the lock (idempotent); a dead process releases it by dying."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
