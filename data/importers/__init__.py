"""Importers: turn files of trades, bars, curve snapshots or swaps into events.

`import_file` detects the format from the file's columns, validates every row
(quarantining bad ones with a reason), drops rows the store already has, and commits
ticks, signals, quarantine, new mints and an import record in one transaction.
"""

from data.importers.pipeline import ImportReport, import_file

__all__ = ["ImportReport", "import_file"]
