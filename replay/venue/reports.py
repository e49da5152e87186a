"""What the venue tells the kernel: a fill or a reject of one order, as an input event.

A `VenueReport` becomes one `InputKind.VENUE_FILL` or `VENUE_REJECT` row of the run's
inputs (engine.events documents the columns), logged in `feed_inputs` like every other
input, so a replay of the run's inputs rebuilds the same positions, cash and PnL.
"""

from __future__ import annotations

from dataclasses import dataclass

from replay.venue.executor import BUY, Outcome


@dataclass(frozen=True)
class VenueReport:
    """One order's outcome in the kernel's terms (raw units and lamports)."""

    order_id: int
    mint: str
    filled: bool
    tokens: int
    """Raw token units bought (buy) or sold (sell)."""
    lamports: int
    """Paid into the swap (buy) or received from it (sell), fees excluded."""
    fees: int
    """Network and priority fees plus rent: what the order cost besides the swap."""
    recv_ns: int

    @classmethod
    def of(cls, order_id: int, outcome: Outcome, recv_ns: int) -> VenueReport:
        """The report of an executor's outcome (a fill from the wallet's balance changes)."""
        o = outcome.order
        costs = outcome.fee + outcome.rent
        if outcome.status != "filled":
            return cls(order_id, o.mint, False, 0, 0, costs, recv_ns)
        if o.side == BUY:
            swap = -outcome.sol_delta - costs
            return cls(order_id, o.mint, True, outcome.token_delta, swap, costs, recv_ns)
        swap = outcome.sol_delta + costs
        return cls(order_id, o.mint, True, -outcome.token_delta, swap, costs, recv_ns)
