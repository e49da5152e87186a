"""Whether a numba kernel is already compiled for this install (the compile notice).

numba compiles a kernel on its first call and caches the machine code on disk (next to
the source, or in a user cache directory when the install is read-only). A cold first
call takes tens of seconds; a command that is about to pay that says so in one line
first, and `clanka warmup` pays it ahead of time (`make demo` runs it at install).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def cached(dispatcher: Any) -> bool:
    """Whether the on-disk cache holds an index for this kernel (compiled before).

    numba names a kernel's cache index `<module>.<qualname>-<line>.py<ver>.nbi` in the
    directory its cache locator chose; a stale one (source changed) recompiles anyway,
    so this can only miss a notice, never show a false one on a cold cache.
    """
    cache = getattr(dispatcher, "_cache", None)
    path = getattr(cache, "cache_path", None)
    if path is None:
        return True  # caching off: nothing to announce
    func = dispatcher.py_func
    stem = Path(func.__code__.co_filename).stem
    return any(Path(path).glob(f"{stem}.{func.__qualname__}-*.nbi"))


def compile_notice(*dispatchers: Any) -> str | None:
    """The line to print before a first call that will compile, or None if all are cached."""
    if all(cached(d) for d in dispatchers):
        return None
    return (
        "compiling Clanka's kernels (once per install or upgrade; `clanka warmup` does it "
        "ahead of time)"
    )
