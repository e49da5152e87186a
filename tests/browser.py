"""A real headless Chromium for the page tests: Debian's package, driven by playwright.

No browser download: playwright launches `/usr/bin/chromium` (or $CLANKA_CHROMIUM) with
the flags this closed network needs. Without it the tests skip on a developer machine
and fail in CI (`.ci/run` installs the package). Screenshots land in
`build/test-artifacts/` (or $CLANKA_TEST_ARTIFACTS), kept after the run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO

FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def chromium() -> str | None:
    """The Chromium binary, if this machine has one."""
    return os.environ.get("CLANKA_CHROMIUM") or shutil.which("chromium")


needs_browser = pytest.mark.skipif(
    chromium() is None and not os.environ.get("CI"),
    reason="no Chromium on this machine (apt-get install chromium; CI requires it)",
)


def artifacts() -> Path:
    """Where screenshots go (created)."""
    d = Path(os.environ.get("CLANKA_TEST_ARTIFACTS") or REPO / "build" / "test-artifacts")
    d.mkdir(parents=True, exist_ok=True)
    return d


@contextmanager
def page(width: int = 1300, height: int = 1000) -> Iterator[tuple[Any, list[str]]]:
    """A fresh page and the list its console errors and page errors are collected into."""
    from playwright.sync_api import sync_playwright

    exe = chromium()
    assert exe is not None, "Chromium is required here (apt-get install chromium)"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=FLAGS)
        try:
            pg = browser.new_page(viewport={"width": width, "height": height})
            errors: list[str] = []
            pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            pg.on("pageerror", lambda e: errors.append(f"page error: {e}"))
            pg.on("response", lambda r: errors.append(f"HTTP {r.status} {r.url}")
                  if r.status >= 400 else None)  # fmt: skip
            yield pg, errors
        finally:
            browser.close()


@contextmanager
def dashboard(store: Path, *extra: str) -> Iterator[str]:
    """`clanka serve` on a free port; yields its base URL once it says it is listening."""
    from tests.test_paper import CLI

    proc = subprocess.Popen([*CLI, "serve", "--store", str(store), "--port", "0", *extra],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # "dashboard of ... on http://127.0.0.1:P/; ..."
        assert " on http://" in line, (line, proc.stderr.read() if proc.poll() is not None else "")
        m = re.search(r"on (http://[^/\s]+)/", line)
        assert m is not None, line
        yield m.group(1)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
