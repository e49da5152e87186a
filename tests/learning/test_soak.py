"""The soak harness at two market hours (the 7-day run is `python -m benchmarks.soak_paper`):
a recorded market on chain time, learning on, one outage, one kill -9 and resume, one
config reload, no human action, and the run replays to 0 differences."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.test_cli import REPO


def test_two_market_hours_unattended(tmp_path: Path) -> None:
    out = tmp_path / "soak.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.soak_paper", "--hours", "2", "--mints", "12",
         "--speed", "300", "--kill-after-reflections", "1", "--out", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    doc = json.loads(out.read_text())
    assert doc["parity"]["differences"] == 0, doc["parity"]["first_difference"]
    assert doc["parity"]["learning_events"] > 0
    assert doc["kill"]["recovered_batches"] > 0
    assert doc["feed_gaps_seen"] >= 1  # the server's cut (and the engine's restart)
    assert doc["reload"]["changes"] == 1 and doc["reload"]["refused"] == 0
    assert doc["reflections_seen"] >= 1
    assert doc["rss_mb"]["peak"] > 0 and doc["rss_mb"]["samples"]
