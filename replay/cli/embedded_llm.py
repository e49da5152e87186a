"""`--llm-host embedded`: the embedded model server for the length of one command.

It starts `clanka llm serve --port 0` as a child process, waits for the line that says
where it listens (the child reports when it is ready; no sleeping), hands that address
to the strategist, and stops the child when the command ends. The strategist still
talks HTTP to it through the `ollama` client, exactly as it would to a real Ollama.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

EMBEDDED = "embedded"
_READY = re.compile(r"on (http://\S+)\s*$")
START_TIMEOUT_S = 120.0
"""Only a guard against a child that hangs while loading; it normally takes ~2 s."""


@contextmanager
def llm_host(host: str | None) -> Iterator[str | None]:
    """`host` as given, or the address of a freshly started embedded server."""
    if host != EMBEDDED:
        yield host
        return
    cmd = [sys.executable, "-c", "from replay.cli.launch import main; main()", "llm", "serve",
           "--port", "0"]  # fmt: skip
    env = {**os.environ, "COLUMNS": "400"}  # the ready line must not wrap
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=env)  # fmt: skip
    try:
        url = _wait_ready(child)
        yield url
    finally:
        child.terminate()
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def _wait_ready(child: subprocess.Popen[str]) -> str:
    found: list[str] = []
    done = threading.Event()

    def read() -> None:
        assert child.stdout is not None
        for line in child.stdout:
            m = _READY.search(line)
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
        raise ValueError(f"--llm-host embedded: the model server did not start: {last[0]}")
    return found[0]
