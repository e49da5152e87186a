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


class ImportFileError(ClankaDataError):
    """An input file is unreadable, truncated, or of no format Clanka knows."""
