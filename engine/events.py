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
    PARAM = 3
    """A parameter change: sig_kind the index (engine.params.P), sig_value the new value,
    size 0 or the Refusal code a validator already gave it (then nothing changes)."""
    CONDITIONS = 4
    """A condition-set change: sig_kind the number of conditions (0 turns the sniper
    off), size 0 or a Refusal code; that many CONDITION rows follow at the same time."""
    CONDITION = 5
    """One condition of the set being changed: sig_kind feature id x 4 + op code,
    sig_value the threshold. The set takes effect at its last condition."""
    VENUE_FILL = 6
    """An external venue filled the mint's pending order (live mode): sig_value the
    order id, size the raw tokens bought or sold, price the lamports paid into the swap
    (buy) or received from it (sell), liq the network fees (and rent) in lamports. The
    amounts are the wallet's actual balance changes in the landed transaction."""
    VENUE_REJECT = 7
    """An external venue did not fill the mint's pending order: sig_value the order id,
    sig_kind the Reason (REJECT_VENUE), liq the lamports it cost anyway (a transaction
    that landed and failed still pays its fee)."""
    VENUE_ADJUST = 8
    """The chain wins (live, at start-up): size is what the wallet holds minus what the
    log says, in lamports for mint -1 (cash) or raw units of the mint's open position; a
    position left with nothing closes (reason RECONCILED)."""


class OutKind(IntEnum):
    """What an output event is (past tense: these are facts)."""

    DECIDED = 1
    ORDER_PLACED = 2
    ORDER_FILLED = 3
    ORDER_REJECTED = 4
    POSITION_OPENED = 5
    POSITION_CLOSED = 6
    BREAKER_TRIPPED = 7
    BREAKER_RESET = 8
    EQUITY_MARKED = 9
    """Cash (O_SOL, lamports) and open positions at their last price (OF_PRICE, SOL)
    at the end (O_TS) of a minute that had a tick; the equity curve, not a log event."""
    PARAM_CHANGED = 10
    """O_REASON the parameter index, OF_PRICE the new value, OF_OUT_CONF the old one."""
    CONDITIONS_CHANGED = 11
    """O_QTY conditions in the new set, O_SOL in the old one."""
    CONTROL_REFUSED = 12
    """O_TRIGGER 1 parameter / 2 condition set, O_ACTION the Refusal code; for a
    parameter O_REASON its index, OF_PRICE the refused value, OF_OUT_CONF the kept one."""


class Refusal(IntEnum):
    """Why a parameter or condition-set change was refused (it changed nothing)."""

    INVALID_VALUE = 1
    """Unknown name, not finite, out of range or not of the parameter's kind."""
    FIXED_AT_START = 2
    """initial_cash_sol is the run's starting point; it cannot change mid-run."""
    CONFLICT = 3
    """With the run's other values it breaks a rule (tp1 < tp2 < tp3, ...)."""
    INVALID_CONDITIONS = 4
    """The condition text did not parse or validate."""

    @property
    def label(self) -> str:
        """Lower-case name."""
        return self.name.lower()


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
    SENTIMENT_FLIP = 9
    """Strong sell signals while holding: the decision engine's override."""
    EMERGENCY_EXIT = 10
    """The operator's emergency exit: everything is sold."""
    RECONCILED = 11
    """At start-up the wallet held none of a position the log had: closed as it is."""
    LOW_CONFIDENCE = 30
    HOLD_ZONE = 31
    """Confidence between the hold and buy thresholds."""
    TREND_NOT_UP = 32
    LOW_LIQUIDITY = 33
    STRONG_SELL = 34
    """Strong sell signals on a mint we do not hold: stay out."""
    BREAKER_ACTIVE = 35
    CORRELATED = 36
    PORTFOLIO_RISK = 37
    MAX_POSITIONS = 38
    NO_CASH = 39
    SIZE_TOO_SMALL = 40
    REJECT_SLIPPAGE = 20
    REJECT_INSUFFICIENT_CASH = 21
    REJECT_SIZE = 22
    """The order's token amount is under one raw unit or too large for int64."""
    REJECT_VENUE = 23
    """The live venue did not fill it (its reason is in the run's venue_orders events)."""

    @property
    def label(self) -> str:
        """Lower-case name for reports and SQL views."""
        return self.name.lower().removeprefix("reject_")


class Action(IntEnum):
    """What the decision engine chose (seed "determineAction")."""

    BUY = 1
    SELL = 2
    HOLD = 3
    SKIP = 4

    @property
    def label(self) -> str:
        """Lower-case name."""
        return self.name.lower()


class Trigger(IntEnum):
    """What asked the decision engine."""

    POSITION = 0
    """The position manager (exits)."""
    SNIPER = 1
    """The strategy's condition set held on a tick."""
    SCANNER = 2
    """The scanner surfaced the mint among its top candidates."""


class ScanSource(IntEnum):
    """Scanner candidate sources; a decision's `sources` holds bit (value - 1) of each."""

    FRESH = 1
    VOLUME_SPIKE = 2
    BREAKOUT = 3
    TRENDING = 4


class Breaker(IntEnum):
    """Circuit breakers; while any is tripped no entry is placed (exits always are)."""

    CONSECUTIVE_LOSSES = 1
    DAILY_LOSS_SOL = 2
    DAILY_LOSS_PCT = 3
    DAILY_TRADES = 4
    SLIPPAGE = 5
    EMERGENCY_STOP = 6

    @property
    def label(self) -> str:
        """Lower-case name."""
        return self.name.lower()


class BreakerCause(IntEnum):
    """Why a breaker event happened."""

    TRIPPED = 1
    NEW_DAY = 2
    MANUAL_RESET = 3


EXIT_REASONS = (
    Reason.STOP_LOSS,
    Reason.TARGET_1,
    Reason.TARGET_2,
    Reason.TARGET_3,
    Reason.TIME_STOP,
    Reason.TRAILING_STOP,
    Reason.VOLUME_DEATH,
    Reason.SENTIMENT_FLIP,
)
