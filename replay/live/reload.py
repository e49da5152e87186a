"""Config reload without restart: a paper or live run's strategy file, watched.

When the strategy TOML changes (or SIGHUP asks), the run rebuilds the strategy the way
it was started (the same --entry and --set on top of the new file), and logs every
difference from the previous version as a `controls` row from source "config",
stamped now. The run's control poll then feeds them to the kernel like any operator
change, so a replay of the day applies them at the same event time. A file that does
not load or validate changes nothing: the refusal is a `quarantine` row with the reason
(and a log line), and the old values stay.

The file is polled with `os.stat` on the run's control-poll tick (once a second by
default): the loop wakes then anyway, a stat costs microseconds, and no watcher thread
or extra dependency is needed for one file.
"""

from __future__ import annotations

import hashlib
import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from data.controls import (
    ControlRefusedError,
    append_conditions,
    append_param,
    record_refused_control,
)
from data.store import EventStore
from engine.params import P
from strategies.config import StrategyConfig


@dataclass
class ReloadResult:
    """What one reload did: the changes it logged, or why it refused the file."""

    changes: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


class StrategyReload:
    """Watches one strategy file; `check` logs what changed as control events."""

    def __init__(
        self,
        path: Path | None,
        build: Callable[[], StrategyConfig],
        current: StrategyConfig,
    ) -> None:
        self.path = path
        self.build = build
        self.current = current
        self.stamp = self._stamp()

    def _stamp(self) -> tuple[int, int] | None:
        if self.path is None:
            return None
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def check(self, store: EventStore, now_ns: int, *, force: bool = False) -> ReloadResult | None:
        """Reload if the file changed (or `force`); None when there was nothing to do."""
        if self.path is None:
            if force:
                return ReloadResult(refused=["built-in strategy: there is no file to reload"])
            return None
        stamp = self._stamp()
        if not force and stamp == self.stamp:
            return None
        self.stamp = stamp
        try:
            new = self.build()
            new_vec = new.vector()
        except (OSError, ValueError, ValidationError, tomllib.TOMLDecodeError) as exc:
            why = _one_line(exc)
            self._quarantine(store, now_ns, why)
            return ReloadResult(refused=[f"{self.path}: {why}; the old values stay"])
        old_vec = self.current.vector()
        evidence = {"file": str(self.path), "sha256": _sha256(self.path)}
        reason = f"config reload of {self.path.name}"
        result = ReloadResult()
        for p in P:
            old, new_value = float(old_vec[p]), float(new_vec[p])
            if old == new_value:
                continue
            name = p.name.lower()
            try:
                append_param(store, name, new_value, now_ns, source="config", reason=reason,
                             evidence=evidence, old_value=old)  # fmt: skip
                result.changes.append(f"{name} {old:g} -> {new_value:g}")
            except ControlRefusedError as exc:
                self._quarantine(store, now_ns, str(exc))
                result.refused.append(str(exc))
        if str(new.conditions) != str(self.current.conditions):
            append_conditions(store, new.entry, now_ns, source="config", reason=reason,
                              evidence=evidence)  # fmt: skip
            result.changes.append(f"conditions -> {new.conditions}")
        self.current = new
        return result

    def _quarantine(self, store: EventStore, now_ns: int, why: str) -> None:
        record_refused_control(store, "invalid_config", why, source="config",
                               file=str(self.path), ts_ns=now_ns)  # fmt: skip


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(x) for x in e['loc']) or 'input'}: {e['msg']}" for e in exc.errors()
        )
    return " ".join(str(exc).split()) or type(exc).__name__


def _sha256(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""
