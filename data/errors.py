"""Errors the data layer raises for conditions a user can act on.

Each carries a message written for the person at the terminal; the CLI prints it
without a traceback.
"""

from __future__ import annotations


class ClankaDataError(Exception):
    """Base class for user-facing data-layer errors."""


class StoreError(ClankaDataError):
    """The store on disk is missing, unreadable or not a Clanka store."""


class StoreLockedError(StoreError):
    """Another process holds the store's writer lock."""


class StoreReadOnlyError(StoreError):
    """A write was asked of a store this process may only read."""


class StoreFullError(StoreError):
    """The disk (or quota) ran out while writing; the transaction was not committed."""


class SegmentError(StoreError):
    """A committed segment is missing from disk or its bytes fail their checksums.

    `family` and `path` name it, so a reader can say exactly what is damaged and the
    other families keep working.
    """

    def __init__(
        self, message: str, *, family: str, path: str, problem: str, detail: str = ""
    ) -> None:
        super().__init__(message)
        self.family = family
        self.path = path
        self.problem = problem
        self.detail = detail


class ServiceUnreachableError(ClankaDataError):
    """An outside service this command needs (a feed, a Dask scheduler) did not answer."""


class ImportFileError(ClankaDataError):
    """An input file is unreadable, truncated, or of no format Clanka knows."""


class StopRequestedError(ClankaDataError):
    """The user asked the process to stop (SIGINT or SIGTERM) while work was under way.

    Raised at the next safe point (between chunks, before a commit), so whatever was
    under way is discarded whole; `signum` picks the exit status (128 + signum).
    """

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.signum = signum
