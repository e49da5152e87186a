"""Durable file primitives: the only place the store touches fsync and rename.

A file becomes visible under its final name only after its bytes are on disk
(write to a hidden temp name, fsync, publish, fsync the directory), so a crash can
leave a stray temp file but never a half-written file under a real name.
"""

from __future__ import annotations

import errno
import hashlib
import os
from collections.abc import Callable
from pathlib import Path

TEMP_PREFIX = "."
TEMP_SUFFIX = ".tmp"
_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
_READ_ONLY_ERRNOS = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})


def is_disk_full(exc: BaseException) -> bool:
    """Tell whether a write failed because the disk, a quota or a file-size limit ran out.

    pyarrow reports the failure as an OSError without errno, so its message counts too.
    """
    if not isinstance(exc, OSError):
        return False
    if exc.errno in _FULL_ERRNOS:
        return True
    text = str(exc)
    return "No space left" in text or "Disk quota exceeded" in text or "File too large" in text


def is_read_only(exc: BaseException) -> bool:
    """Tell whether a write failed because the file system or the permissions forbid it."""
    return isinstance(exc, OSError) and exc.errno in _READ_ONLY_ERRNOS


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB blocks (about 2 GB/s with SHA-NI)."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def temp_path_for(final: Path) -> Path:
    """Return the hidden temp path used while `final` is being written.

    The leading dot and the `.tmp` suffix keep it out of `*.parquet` globs, so plain
    DuckDB users never read a file that is still being written.
    """
    return final.with_name(f"{TEMP_PREFIX}{final.name}.{os.getpid()}{TEMP_SUFFIX}")


def is_temp_name(name: str) -> bool:
    """Tell whether a directory entry is one of our in-flight temp files."""
    return name.startswith(TEMP_PREFIX) and name.endswith(TEMP_SUFFIX)


def fsync_dir(path: Path) -> None:
    """Flush a directory entry table so a rename or create in it survives power loss."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dirs_durable(path: Path, stop_at: Path) -> None:
    """Create `path` and its missing parents, fsyncing each parent that gained an entry.

    `stop_at` is the store root: directories above it are assumed durable already.
    """
    missing: list[Path] = []
    cur = path
    while not cur.exists() and cur != stop_at and cur != cur.parent:
        missing.append(cur)
        cur = cur.parent
    for d in reversed(missing):
        d.mkdir(exist_ok=True)
        fsync_dir(d.parent)


def write_durably(final: Path, write: Callable[[Path], object], *, replace: bool) -> int:
    """Write a file through a temp name and publish it atomically; return its size.

    `write` receives the temp path and fills it (pyarrow writes natively, without a
    Python file object in the way). With `replace=False` the file is published with a
    hard link, which fails if `final` exists: a committed file can never be overwritten
    by accident. With `replace=True` (manifests only) it is published with an atomic
    rename.
    """
    tmp = temp_path_for(final)
    try:
        write(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
            size = os.fstat(fd).st_size
        finally:
            os.close(fd)
        if replace:
            os.replace(tmp, final)
        else:
            os.link(tmp, final)
            os.unlink(tmp)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(final.parent)
    return size
