"""Operator controls as events: the emergency stop and the manual breaker reset.

A control is a `signals` row for no mint (mint_id -1) under the source "control", so
it takes effect at its event time in replay exactly as it did live, and the log shows
who stopped trading when. The kernel trips the emergency-stop breaker on
SignalKind.EMERGENCY_STOP and clears every breaker on SignalKind.BREAKER_RESET.
"""

from __future__ import annotations

import numpy as np

from data.store import EventStore, SeqRange
from engine.codes import SignalKind

CONTROL_SOURCE = "control"
CONTROLS = {
    "emergency-stop": SignalKind.EMERGENCY_STOP,
    "reset": SignalKind.BREAKER_RESET,
}


def append_control(store: EventStore, name: str, ts_ns: int) -> SeqRange:
    """Log control `name` (a key of CONTROLS) at `ts_ns`; returns its seq range."""
    try:
        kind = CONTROLS[name]
    except KeyError:
        raise ValueError(f"unknown control {name!r}; known: {', '.join(CONTROLS)}") from None
    return store.append(
        "signals",
        {
            "ts_ns": np.array([ts_ns], dtype=np.int64),
            "mint_id": np.array([-1], dtype=np.int32),
            "kind": np.array([int(kind)], dtype=np.int16),
            "value": np.array([1.0]),
            "uid": np.array([ts_ns], dtype=np.int64),
        },
        source=CONTROL_SOURCE,
    )
