"""Codes of the kernel's input and output events (integers, because kernels hold no objects).

Output events come out of the kernel in one buffer whose row order is the order they
happened in; `replay` splits them into the `decisions`, `orders`, `fills`, `rejects`
and `positions` families. Values are stable on disk: never renumber, only append.
"""

from __future__ import annotations

from enum import IntEnum


class InputKind(IntEnum):
    """What an input event is."""

    TICK = 0
    SIGNAL = 1
    HEARTBEAT = 2


class OutKind(IntEnum):
    """What an output event is (past tense: these are facts)."""

    DECIDED = 1
    ORDER_PLACED = 2
    ORDER_FILLED = 3
    ORDER_REJECTED = 4
    POSITION_OPENED = 5
    POSITION_CLOSED = 6


class Reason(IntEnum):
    """Why a decision, order or reject happened."""

    ENTRY_CONDITIONS = 1
    STOP_LOSS = 2
    TARGET_1 = 3
    TARGET_2 = 4
    TARGET_3 = 5
    TIME_STOP = 6
    TRAILING_STOP = 7
    VOLUME_DEATH = 8
    REJECT_SLIPPAGE = 20
    REJECT_INSUFFICIENT_CASH = 21
    REJECT_SIZE = 22
    """The order's token amount is under one raw unit or too large for int64."""

    @property
    def label(self) -> str:
        """Lower-case name for reports and SQL views."""
        return self.name.lower().removeprefix("reject_")


EXIT_REASONS = (
    Reason.STOP_LOSS,
    Reason.TARGET_1,
    Reason.TARGET_2,
    Reason.TARGET_3,
    Reason.TIME_STOP,
    Reason.TRAILING_STOP,
    Reason.VOLUME_DEATH,
)
