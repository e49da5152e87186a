"""A child `clanka` process whose progress events (CLANKA_PROGRESS_FD) the test reads.

Tests that kill or stop a process act on what it reports it has done, never on
wall-clock offsets, so they prove the same thing on an idle and on a busy machine.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from tests.conftest import REPO


class Progress:
    """A child `clanka` process with its CLANKA_PROGRESS_FD events readable here.

    Tests act on what the child reports it has done (batches appended, acknowledged,
    rolled, gaps logged), never on wall-clock offsets, so they prove the same thing on
    an idle and on a busy machine.
    """

    def __init__(
        self,
        cmd: list[str],
        env_extra: dict[str, str] | None = None,
        step: bool = False,
        **popen: object,
    ) -> None:
        r, w = os.pipe()
        env = {**os.environ, **(env_extra or {}), "CLANKA_PROGRESS_FD": str(w)}
        if step:  # the child stops itself after each report until continued
            env["CLANKA_PROGRESS_STEP"] = "1"
        self.step = step
        self.proc = subprocess.Popen(cmd, cwd=REPO, env=env, pass_fds=(w,), **popen)  # type: ignore[call-overload]
        os.close(w)
        self._lines = os.fdopen(r, "r")

    def _wait_stopped(self) -> None:
        stat = Path(f"/proc/{self.proc.pid}/stat")
        while stat.read_text().rsplit(")", 1)[1].split()[0] != "T":
            assert self.proc.poll() is None, "the child ended instead of stopping"
            time.sleep(0.001)

    def wait_for(self, pred: Callable[[dict[str, object]], bool], limit: int = 10**7) -> dict:
        """Read events until one satisfies `pred`; fail if the child ends first.

        In step mode the child is left stopped right after the matching report (a
        SIGKILL lands exactly there; `resume()` lets it go on); reports before it are
        continued as they come.
        """
        for _ in range(limit):
            line = self._lines.readline()
            if not line:
                raise AssertionError(f"child ended (rc {self.proc.poll()}) before the event")
            ev = json.loads(line)
            if self.step:
                self._wait_stopped()
            if pred(ev):
                return ev  # type: ignore[no-any-return]
            if self.step:
                os.kill(self.proc.pid, signal.SIGCONT)
        raise AssertionError("event never came")

    def resume(self) -> None:
        """Continue a child held in step mode (it stops again at its next report)."""
        os.kill(self.proc.pid, signal.SIGCONT)

    def close(self) -> None:
        """Stop reading: the child's next report fails with EPIPE and reporting stops."""
        self._lines.close()
