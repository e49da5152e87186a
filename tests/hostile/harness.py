"""What the hostile-input tests share: running `clanka` as a user would, and judging it.

- `clanka(...)`: the real console entry point in a subprocess, with a timeout (a hang
  fails the test instead of stalling the suite);
- `clanka_pty(...)`: the same under a pseudo-terminal, so progress bars and status views
  render as in a real terminal;
- `in_namespace(script)`: a shell script in a private mount namespace (`unshare`), where
  a test may mount a tiny tmpfs (a real full disk: ENOSPC) or remount a store read-only
  (a real EROFS) without touching the machine;
- `clean(result)`: the verdicts every test applies: no traceback, no Rust panic, no
  multi-line error where one line is promised.
"""

from __future__ import annotations

import os
import pty
import select
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import REPO

ENTRY = [sys.executable, "-c", "from replay.cli.launch import main; main()"]
TIMEOUT_S = 300


@dataclass
class Result:
    """A finished command: exit status and both streams (a pty merges them into out)."""

    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        """Both streams together."""
        return self.out + self.err


def clanka(*args: str, env: dict[str, str] | None = None, timeout: float = TIMEOUT_S) -> Result:
    """Run the clanka command line in a subprocess (a timeout fails: hangs are bugs)."""
    r = subprocess.run([*ENTRY, *args], cwd=REPO, capture_output=True, text=True,
                       env={**os.environ, **(env or {})}, timeout=timeout, check=False)  # fmt: skip
    return Result(r.returncode, r.stdout, r.stderr)


def clanka_pty(*args: str, timeout: float = TIMEOUT_S) -> Result:
    """Run the clanka command line with a pseudo-terminal as stdin, stdout and stderr."""
    master, slave = pty.openpty()
    env = {**os.environ, "COLUMNS": "120", "LINES": "40", "TERM": "xterm-256color"}
    proc = subprocess.Popen([*ENTRY, *args], cwd=REPO, stdin=slave, stdout=slave, stderr=slave,
                            env=env, close_fds=True)  # fmt: skip
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            if time.monotonic() > deadline:
                proc.kill()
                raise AssertionError(f"clanka {' '.join(args)} hung under a pty")
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
    code = proc.wait(timeout=30)
    return Result(code, b"".join(chunks).decode("utf-8", "replace"), "")


def namespaces_work() -> bool:
    """Whether this machine lets a test make a private mount namespace."""
    if shutil.which("unshare") is None:
        return False
    r = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "true"],
                       capture_output=True, check=False)  # fmt: skip
    return r.returncode == 0


def in_namespace(script: str, timeout: float = TIMEOUT_S) -> Result:
    """Run a bash script in a private mount (and user) namespace; `$CLANKA` runs clanka."""
    entry = " ".join(shlex.quote(a) for a in ENTRY)
    body = (f"set -u\nclanka() {{ {entry} \"$@\"; }}\nCLANKA=clanka\n"
            f"cd {shlex.quote(str(REPO))}\n{script}")  # fmt: skip
    r = subprocess.run(["unshare", "--user", "--map-root-user", "--mount",
                        "--propagation", "private", "bash", "-c", body],
                       capture_output=True, text=True, timeout=timeout, check=False)  # fmt: skip
    return Result(r.returncode, r.stdout, r.stderr)


BAD_MARKERS = ("Traceback (most recent call last)", "panicked at", "PanicException",
               "Exception ignored in", "stack backtrace:")  # fmt: skip


def clean(r: Result, *, one_line_error: bool = True) -> None:
    """No traceback or panic anywhere; a failure is explained on one stderr line."""
    for marker in BAD_MARKERS:
        assert marker not in r.text, f"{marker!r} in output:\n{r.text[-3000:]}"
    if one_line_error and r.code not in (0,) and r.err.strip():
        lines = [ln for ln in r.err.strip().splitlines() if ln.strip()]
        usage = any(ln.startswith(("Usage:", "Try '")) for ln in lines)  # click's usage error
        assert usage or len(lines) == 1, f"not one line:\n{r.err}"


def files_containing(root: Path, needle: bytes) -> list[Path]:
    """Every file under `root` whose bytes contain `needle`."""
    hits = []
    for p in root.rglob("*"):
        if p.is_file() and needle in p.read_bytes():
            hits.append(p)
    return hits
