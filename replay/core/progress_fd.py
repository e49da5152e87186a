"""Machine-readable progress for supervisors: JSON lines on a file descriptor.

A process supervisor (systemd, a test harness, a dashboard) that must act on what a
long-running command has done, rather than on how long it has run, sets
`CLANKA_PROGRESS_FD` to a descriptor it reads (a pipe); the command then writes one
JSON object per line there as it reaches each point:

- every command: `launching` (stop signals are handled from here on);
- `clanka import`: `import` (the phase a file has reached);
- `clanka replay`: `replayed` (ticks through the kernel so far, of the total);
- paper and live runs: `started` (run id, batches recovered from the log),
  `appended` (a batch is in the write-ahead log), `acknowledged` (fsynced through a
  batch), `rolled` (in Parquet through a batch), `gap` (a feed outage was logged);
- sweeps: `chunk_committed` (chunk, chunks done, chunks in all).

Reporting never stops the work: if the reader goes away, reporting turns itself off.

With `CLANKA_PROGRESS_STEP=1` as well, the process stops itself (SIGSTOP) right after
each report until it is continued (SIGCONT): a supervisor or a test can then act (send
a signal, inspect the store) at an exact point of the work, however busy the machine.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from typing import Any

ENV = "CLANKA_PROGRESS_FD"
STEP_ENV = "CLANKA_PROGRESS_STEP"


class ProgressFd:
    """Writes progress events to the descriptor named by $CLANKA_PROGRESS_FD, if any."""

    def __init__(self) -> None:
        raw = os.environ.get(ENV, "")
        self.fd: int | None = int(raw) if raw.isdigit() else None
        self.step = self.fd is not None and os.environ.get(STEP_ENV) == "1"

    @property
    def enabled(self) -> bool:
        """Whether anyone is listening."""
        return self.fd is not None

    def emit(self, event: str, **fields: Any) -> None:
        """Write one event line; a closed or broken descriptor disables reporting."""
        if self.fd is None:
            return
        line = json.dumps({"event": event, **fields}, separators=(",", ":")) + "\n"
        try:
            os.write(self.fd, line.encode())
        except OSError:
            self.fd = None
            return
        if self.step and threading.current_thread() is threading.main_thread():
            os.kill(os.getpid(), signal.SIGSTOP)
