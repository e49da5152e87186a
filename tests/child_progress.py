"""A child `clanka` process whose progress events (CLANKA_PROGRESS_FD) the test reads.

Tests that kill or stop a process act on what it reports it has done, never on
wall-clock offsets, so they prove the same thing on an idle and on a busy machine.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable

from tests.conftest import REPO


class Progress:
    """A child `clanka` process with its CLANKA_PROGRESS_FD events readable here.

    Tests act on what the child reports it has done (batches appended, acknowledged,
    rolled, gaps logged), never on wall-clock offsets, so they prove the same thing on
    an idle and on a busy machine.
    """

    def __init__(
        self, cmd: list[str], env_extra: dict[str, str] | None = None, **popen: object
    ) -> None:
        r, w = os.pipe()
        env = {**os.environ, **(env_extra or {}), "CLANKA_PROGRESS_FD": str(w)}
        self.proc = subprocess.Popen(cmd, cwd=REPO, env=env, pass_fds=(w,), **popen)  # type: ignore[call-overload]
        os.close(w)
        self._lines = os.fdopen(r, "r")

    def wait_for(self, pred: Callable[[dict[str, object]], bool], limit: int = 10**7) -> dict:
        """Read events until one satisfies `pred`; fail if the child ends first."""
        for _ in range(limit):
            line = self._lines.readline()
            if not line:
                raise AssertionError(f"child ended (rc {self.proc.poll()}) before the event")
            ev = json.loads(line)
            if pred(ev):
                return ev  # type: ignore[no-any-return]
        raise AssertionError("event never came")

    def close(self) -> None:
        """Stop reading: the child's next report fails with EPIPE and reporting stops."""
        self._lines.close()
