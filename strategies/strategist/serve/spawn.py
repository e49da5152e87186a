"""Start `clanka llm serve` as a child process and learn where it listens.

The child prints one line when its model is loaded and its socket bound ("... on
http://HOST:PORT"); the caller waits for that line, never for a fixed time. Used by
`--llm-host embedded`, the strategist benchmark and the tests.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from pathlib import Path

READY = re.compile(r"on (http://\S+)\s*$")
START_TIMEOUT_S = 180.0
"""Only a guard against a child that hangs while loading; it normally takes ~1 s."""
_LAUNCH = "from replay.cli.launch import main; main()"


class ServerStartError(RuntimeError):
    """The model server ended or hung before saying where it listens."""


def spawn_server(*extra: str, cwd: Path | None = None) -> tuple[subprocess.Popen[str], str]:
    """A running `clanka llm serve --port 0 EXTRA...` child and its base URL."""
    cmd = [sys.executable, "-c", _LAUNCH, "llm", "serve", "--port", "0", *extra]
    env = {**os.environ, "COLUMNS": "400"}  # the ready line must not wrap
    child = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=env)  # fmt: skip
    found: list[str] = []
    done = threading.Event()

    def read() -> None:
        assert child.stdout is not None
        for line in child.stdout:
            m = READY.search(line)
            if m:
                found.append(m.group(1))
                break
        done.set()

    threading.Thread(target=read, daemon=True).start()
    done.wait(START_TIMEOUT_S)
    if not found:
        child.kill()
        _, errs = child.communicate()
        last = (errs or "").strip().splitlines()[-1:] or ["it stopped without a word"]
        raise ServerStartError(f"the model server did not start: {last[0]}")
    return child, found[0]


def stop_server(child: subprocess.Popen[str]) -> None:
    """SIGTERM, then SIGKILL if it has not ended within 30 s."""
    child.terminate()
    try:
        child.wait(timeout=30)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
