"""`clanka service`: the systemd unit's command runs unattended and survives a crash.

systemd itself cannot run in the test sandbox; the test does what it would: start the
unit's ExecStart, kill it with SIGKILL (a failure, so `Restart=on-failure` restarts
it), start the same ExecStart again, and stop it with the unit's KillSignal. The run
recovers, continues, logs to the unit's files and replays with 0 differences.
"""

from __future__ import annotations

import json
import shlex
import shutil
import signal
import subprocess
from pathlib import Path

from tests.child_progress import Progress
from tests.test_cli import clanka
from tests.test_paper import CLI, files, server_of_pump  # noqa: F401  (fixtures)
from tests.test_replay import pump_store  # noqa: F401  (fixture)


def _unit(text: str) -> dict[str, str]:
    keys: dict[str, str] = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            k, _, v = line.partition("=")
            keys[k] = v
    return keys


def test_the_units_command_recovers_after_a_crash_and_logs_to_its_files(
    server_of_pump: int,  # noqa: F811
    files: tuple[Path, Path],  # noqa: F811
    tmp_path: Path,
) -> None:
    strat, settings = files
    store, logs = tmp_path / "store", tmp_path / "logs"
    r = clanka("service", "--run-id", "svc", "--store", str(store), "--config", str(strat),
               "--settings", str(settings), "--feed", f"ws://127.0.0.1:{server_of_pump}",
               "--log-dir", str(logs))  # fmt: skip
    assert r.returncode == 0, r.stderr
    unit = _unit(r.stdout)
    assert (unit["Restart"], unit["KillSignal"]) == ("on-failure", "SIGTERM")
    assert "CLANKA_FEED_API_KEY" not in unit.get("Environment", "")  # secrets: EnvironmentFile
    if shutil.which("systemd-analyze"):
        path = tmp_path / "clanka-svc.service"
        path.write_text(r.stdout)
        check = subprocess.run(["systemd-analyze", "verify", str(path)], capture_output=True,
                               text=True, timeout=60)  # fmt: skip
        assert check.returncode == 0, check.stderr
    cmd = shlex.split(unit["ExecStart"].replace("%%", "%"))
    assert Path(cmd[0]).is_absolute() and "--run-id" in cmd and "svc" in cmd
    first = Progress(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first.wait_for(lambda e: e["event"] == "rolled" and e.get("through", 0) >= 2)
    first.close()
    first.proc.kill()  # a crash: systemd restarts the unit
    first.proc.communicate(timeout=60)
    again = Progress(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    started = again.wait_for(lambda e: e["event"] == "started")
    assert started["recovered_batches"] > 0
    again.wait_for(lambda e: e["event"] == "appended" and e["batch_no"] > started["next_batch"] + 3)
    again.close()
    again.proc.send_signal(signal.SIGTERM)  # systemctl stop
    out, err = again.proc.communicate(timeout=120)
    assert again.proc.returncode == 0, err
    assert "paper report" in out  # the report, for the journal
    text = (logs / "clanka.log").read_text()
    assert "run svc recovered" in text and "engine was down" in text
    assert "paper run svc stopped" in text
    assert (logs / "trades.log").exists()  # its own stream (tests/test_logs.py fills one)
    ver = subprocess.run([*CLI, "verify", "parity", "svc", "--store", str(store), "--json"],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert ver.returncode == 0, ver.stdout + ver.stderr
    assert json.loads(ver.stdout)["differences"] == 0
