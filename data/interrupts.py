"""Cooperative stops: Ctrl-C and SIGTERM end long work at the next safe point.

A signal arriving in the middle of a commit must not leave the user guessing whether
the commit happened, and one arriving in the middle of a numba kernel or a Parquet
decode is not seen by Python until that call returns anyway. So the CLI installs
`install_handlers` once at start-up: the first SIGINT or SIGTERM only *records* the
request, and long-running loops call `check()` between chunks (and the store calls
it just before a commit), which raises `StopRequestedError` there; the transaction is
discarded whole and the CLI prints one line. A second signal gives up on waiting and raises
`KeyboardInterrupt` at once (still outside any commit: commits block both signals).

Library users who never call `install_handlers` are unaffected: `check()` is then a
no-op unless `request()` was called.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

from data.errors import StopRequestedError

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

_requested = threading.Event()
_signum = 0
_installed = False


def request(signum: int = signal.SIGINT) -> None:
    """Record a stop request (what the signal handler does); `check()` acts on it."""
    global _signum
    if not _requested.is_set():
        _signum = signum
    _requested.set()


def requested() -> int:
    """The signal number of the pending stop request, or 0 if there is none."""
    return _signum if _requested.is_set() else 0


def clear() -> None:
    """Forget a stop request (tests; a command that handled the request itself)."""
    global _signum
    _signum = 0
    _requested.clear()


def check(what: str = "nothing was committed") -> None:
    """Raise `StopRequestedError` if a stop was requested; `what` says what was kept."""
    if _requested.is_set():
        raise StopRequestedError(f"interrupted; {what}", _signum)


def _handler(signum: int, frame: FrameType | None) -> None:
    if _requested.is_set():
        raise KeyboardInterrupt  # the second signal: stop waiting for a safe point
    request(signum)


def install_handlers() -> None:
    """Route SIGINT and SIGTERM to the cooperative stop (call from the main thread).

    This also replaces an inherited SIG_IGN: a stop request sent to Clanka is honoured
    even when a shell started it in the background with SIGINT ignored.
    """
    global _installed
    for sig in STOP_SIGNALS:
        signal.signal(sig, _handler)
    _installed = True


def installed() -> bool:
    """Whether `install_handlers` was called in this process (the CLI did)."""
    return _installed


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back for the duration of a critical section (a commit).

    Signals that arrive meanwhile are delivered when the block ends, so an atomic
    commit is either done or not started when the handler runs. Outside the main
    thread, signals are never delivered to Python anyway: nothing to block.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
