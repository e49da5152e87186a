"""`clanka service`: a systemd unit that runs a paper run unattended.

The seeds ran the bot under a process manager with auto-restart and separate log
streams for trades. The unit this prints does that with systemd: a fixed run id (so a
restart after a crash recovers the run and continues it), `Restart=on-failure` (a
clean stop on SIGTERM exits 0 and stays stopped), SIGTERM to stop (flush, roll,
report), SIGHUP to reload the strategy file, the log and the trade log appended under
`LogsDirectory`, and the feed's API key read from an `EnvironmentFile` that only root
can read, never written into the unit.
"""

from __future__ import annotations

import shlex
import shutil
import sys
from pathlib import Path
from typing import Annotated

import typer

from replay.cli.common import ConfigOpt, SetOpt, StoreOpt, StrategyOpt, app, store_path, user_errors

UNIT = """\
# Clanka paper run {run_id}: written by `clanka service`. Install with
#   sudo cp clanka-{run_id}.service /etc/systemd/system/
#   sudo systemctl daemon-reload && sudo systemctl enable --now clanka-{run_id}
# Logs: journalctl -u clanka-{run_id}, and {log_dir}/ (clanka.log, trades.log; systemd
# creates it under /var/log, else create it yourself, writable by the service's user).
# The feed's key, if any: CLANKA_FEED_API_KEY=... in {env_file} (chmod 600).
[Unit]
Description=Clanka paper run {run_id}
After=network-online.target
Wants=network-online.target

[Service]
Type=exec
{user_line}WorkingDirectory={workdir}
EnvironmentFile=-{env_file}
Environment=PYTHONUNBUFFERED=1
ExecStart={exec_start}
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RestartSec=5s
KillSignal=SIGTERM
TimeoutStopSec=60s
{logs_line}NoNewPrivileges=yes

[Install]
WantedBy=multi-user.target
"""


def exec_line(
    run_id: str,
    store: Path,
    strategy: str,
    config: Path | None,
    sets: list[str] | None,
    settings: Path | None,
    log_dir: Path,
    feed: str | None = None,
) -> list[str]:
    """The command the unit runs (absolute paths: systemd starts it from anywhere)."""
    exe = shutil.which("clanka") or str(Path(sys.executable).with_name("clanka"))
    cmd = [str(Path(exe).resolve()), "--log-file", str(log_dir / "clanka.log"),
           "--trade-log", str(log_dir / "trades.log"), "run", "--mode", "paper", "--run-id",
           run_id, "--store", str(store.resolve()), "--no-status"]  # fmt: skip
    if config is not None:
        cmd += ["--config", str(config.resolve())]
    else:
        cmd += ["--strategy", strategy]
    if settings is not None:
        cmd += ["--settings", str(settings.resolve())]
    if feed is not None:
        cmd += ["--feed", feed]
    for s in sets or []:
        cmd += ["--set", s]
    return cmd


@app.command()
@user_errors
def service(
    run_id: Annotated[str, typer.Option("--run-id", help="The run id the service keeps running.")],
    store: StoreOpt = None,
    strategy: StrategyOpt = "momentum_breakout",
    config: ConfigOpt = None,
    set_: SetOpt = None,
    settings: Annotated[
        Path | None, typer.Option(help="TOML with [feed] and [live] tables (see README).")
    ] = None,
    feed: Annotated[
        str | None, typer.Option(help="Feed websocket URL [default: the settings file's].")
    ] = None,
    user: Annotated[str | None, typer.Option(help="Run as this user [default: root].")] = None,
    log_dir: Annotated[Path, typer.Option(help="Where the log and the trade log go.")] = Path(
        "/var/log/clanka"
    ),
    env_file: Annotated[
        Path, typer.Option(help="Environment file with CLANKA_FEED_API_KEY.")
    ] = Path("/etc/clanka/env"),
) -> None:
    """Print a systemd unit that runs a paper run unattended, restarting it on failure.

    The restart continues the same run id: recovery rebuilds the state from its log and
    records the downtime as a feed gap. Save the output as clanka-RUN_ID.service.
    """
    from data.schemas import check_source_name

    check_source_name(run_id)
    if not log_dir.is_absolute() or log_dir.parent == log_dir:
        raise ValueError(f"--log-dir {log_dir}: give an absolute directory, e.g. /var/log/clanka")
    cmd = exec_line(run_id, store_path(store), strategy, config, set_, settings, log_dir, feed)
    print(UNIT.format(
        run_id=run_id, log_dir=log_dir, env_file=env_file, workdir=Path.cwd(),
        user_line=f"User={user}\n" if user else "",
        exec_start=shlex.join(cmd).replace("%", "%%"),  # systemd expands % specifiers
        logs_line=f"LogsDirectory={log_dir.name}\n" if log_dir.parent == Path("/var/log") else "",
    ), end="")  # fmt: skip
