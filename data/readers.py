"""Reader pins: retired segments outlive every scan that may still need them.

A scan reads the manifest once and then the files it lists. If a compaction retires
those files mid-scan, the scan follows them to `_retired/` (data.segment_files); a
`vacuum` that deleted `_retired/` at that moment would still break it. So every scan
holds a shared lock (flock) on `_readers.lock` while it runs, and vacuum takes the
lock exclusively: it deletes retired files only when no scan is in flight.

Like the writer lock, a pin dies with its process, so a killed reader never blocks a
vacuum. On a store this process cannot write, pins are taken only if the lock file
already exists (no one can vacuum a read-only store anyway).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

READERS_LOCK = "_readers.lock"


def _open(root: Path, create: bool) -> int | None:
    path = root / READERS_LOCK
    try:
        if create:
            return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        return os.open(path, os.O_RDONLY)
    except OSError:
        if create:
            return _open(root, create=False)
        return None


@contextlib.contextmanager
def reader_pin(root: Path) -> Iterator[None]:
    """Hold a shared pin on the store's retired segments for the duration of a read."""
    fd = _open(root, create=True)
    if fd is None:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # closing releases the flock


def try_exclusive(root: Path) -> int | None:
    """Take the pin lock exclusively if no reader holds it; the fd to close, or None."""
    fd = _open(root, create=True)
    if fd is None:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd
