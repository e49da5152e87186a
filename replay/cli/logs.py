"""Logging for the command line: level, file, text or JSON, and secrets kept out.

Clanka logs with the standard `logging` package under the `clanka` logger, in the
seed's categories: CRITICAL (the emergency stop), WARNING (feed gaps, refused controls
and config files, breaker trips) and INFO (reloads, applied controls, breaker resets,
recoveries, run start and stop); `clanka.trades` carries one line per position opened
or closed, so a process manager can keep trades in a stream of their own
(`--trade-log`). What is logged is also recorded as events: the log is for people
watching, the store is the record.

Every handler passes records through `Redactor` first: the feed's API key (from the
environment or a settings file) and any `api-key=` / `token=` style query value are
replaced by *** before a line is formatted, in every format and destination.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from pathlib import Path

LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")
FORMATS = ("text", "json")
ENV_LEVEL = "CLANKA_LOG_LEVEL"
ENV_FILE = "CLANKA_LOG_FILE"
ENV_FORMAT = "CLANKA_LOG_FORMAT"
ENV_TRADES = "CLANKA_TRADE_LOG"
SECRET_ENV = ("CLANKA_FEED_API_KEY", "CLANKA_TELEGRAM_BOT_TOKEN", "CLANKA_DISCORD_WEBHOOK_URL")
"""Environment variables whose values are secrets wherever they appear."""
_QUERY_SECRET = re.compile(r"(?i)((?:api[-_]?key|token|secret|password)=)[^&\s'\"]+")
_TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class Redactor(logging.Filter):
    """Replace known secrets (and secret-looking query values) in a record by ***."""

    def __init__(self, secrets: list[str] | None = None) -> None:
        super().__init__()
        self.secrets = [s for s in (secrets or []) if len(s) >= 4]

    def add(self, secret: str | None) -> None:
        """Also redact `secret` (ignored when empty or too short to be one)."""
        if secret and len(secret) >= 4 and secret not in self.secrets:
            self.secrets.append(secret)

    def clean(self, text: str) -> str:
        """`text` with every known secret and secret query value replaced."""
        for s in self.secrets:
            text = text.replace(s, "***")
        return _QUERY_SECRET.sub(r"\1***", text)

    def filter(self, record: logging.LogRecord) -> bool:
        """Render the message once, redacted, so no formatter sees the raw arguments."""
        record.msg = self.clean(record.getMessage())
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = self.clean(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


REDACTOR = Redactor()
"""The one filter every Clanka handler has; `redact` adds secrets met at run time."""


def redact(secret: str | None) -> None:
    """Keep `secret` out of every log line from now on."""
    REDACTOR.add(secret)


def _formatter(fmt: str) -> logging.Formatter:
    if fmt == "json":
        from pythonjsonlogger.json import JsonFormatter

        return JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    return logging.Formatter(_TEXT)


def configure(
    *,
    verbose: int = 0,
    level: str | None = None,
    log_file: Path | None = None,
    fmt: str | None = None,
    trade_log: Path | None = None,
    default: str = "WARNING",
) -> None:
    """Set up the `clanka` loggers from the options (or CLANKA_LOG_* variables).

    Without a level: `default`, lowered one step per -v (INFO, then DEBUG). Messages go
    to stderr, and also to `log_file` when given (appended, so restarts keep history).
    """
    _explicit[0] = bool(level or verbose or os.environ.get(ENV_LEVEL))
    level = (level or os.environ.get(ENV_LEVEL) or "").upper() or None
    if level is not None and level not in LEVELS:
        raise ValueError(f"--log-level {level!r}: use one of {', '.join(LEVELS)}")
    fmt = (fmt or os.environ.get(ENV_FORMAT) or "text").lower()
    if fmt not in FORMATS:
        raise ValueError(f"--log-format {fmt!r}: use text or json")
    if log_file is None and os.environ.get(ENV_FILE):
        log_file = Path(os.environ[ENV_FILE])
    if trade_log is None and os.environ.get(ENV_TRADES):
        trade_log = Path(os.environ[ENV_TRADES])
    for name in SECRET_ENV:
        redact(os.environ.get(name))
    if level is None:
        steps = LEVELS.index(default) + min(verbose, len(LEVELS) - 1 - LEVELS.index(default))
        level = LEVELS[steps]
    root = logging.getLogger("clanka")
    for h in list(root.handlers):
        root.removeHandler(h)
        h.close()
    root.setLevel(level)
    root.propagate = False
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    for path in (log_file, trade_log):
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
    if log_file is not None:
        handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
    for h in handlers:
        h.addFilter(REDACTOR)
        h.setFormatter(_formatter(fmt))
        root.addHandler(h)
    trades = logging.getLogger("clanka.trades")
    for h in list(trades.handlers):
        trades.removeHandler(h)
        h.close()
    if trade_log is not None:
        th = logging.FileHandler(trade_log, encoding="utf-8")
        th.addFilter(REDACTOR)
        th.setFormatter(_formatter(fmt))
        trades.addHandler(th)
        trades.setLevel(logging.INFO)


def raise_default(level: str) -> None:
    """Lower the threshold to `level` unless the user chose one (long-running modes)."""
    root = logging.getLogger("clanka")
    if _explicit[0]:
        return
    if root.level > logging.getLevelName(level):
        root.setLevel(level)


_explicit = [False]
"""Whether --log-level or -v was given (then `raise_default` leaves the level alone)."""
