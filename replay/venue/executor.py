"""One live order, from pre-flight checks to a fill taken from the chain, or a reason.

For each order:

1. **Pre-flight** (each a named check; the first that fails is the reject reason):
   `tradeable` (a quote is obtainable), `no_position` (a buy of a token already held),
   `drift` (the quoted price against the decision's, at most `max_drift_pct`),
   `impact` (the quote's price impact, at most `max_impact_pct`), `balance` (SOL for the
   spend plus fees, rent and the reserve; for a sell, the tokens too).
2. **Dry run** stops here: the would-be order with its estimated tokens, fees and the
   slippage floor, and the checks' results. Nothing is signed or sent.
3. **Swap**: the unsigned transaction, signed by the `Signer`; its signature is handed to
   `journal` *before* it is sent, so a restart can resolve it before anything is resent.
4. **Send** with preflight on, then **confirm** against the blockhash's last valid height.
   A transaction that landed and failed is a reject (`landed_failed`, critical: its fee
   was spent); one that landed is a fill whose amounts are the wallet's actual balance
   changes in that transaction.

Only transient errors are retried (tenacity, full-jitter exponential waits, a 429's
`Retry-After`): timeouts, 429s, a blockhash that expired before sending, and a
transaction that provably never landed (the chain passed its last valid height). A send
whose answer was lost is never resent blind: its signature is confirmed first.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from replay.venue.chain import ChainClient
from replay.venue.errors import CRITICAL, INFO, WARNING, RateLimitedError, VenueError
from replay.venue.jupiter import WSOL_MINT, JupiterClient, Quote
from replay.venue.signer import Signer

BUY, SELL = 1, -1
BASE_FEE = 5_000
ATA_RENT = 2_039_280
"""Rent of a new token account, paid on a first buy (and got back when it is closed)."""


class ExecutorSettings(BaseModel):
    """`[venue]` limits for every live order."""

    model_config = {"extra": "forbid"}

    max_impact_pct: float = Field(default=5.0, gt=0)
    max_drift_pct: float = Field(default=5.0, gt=0)
    reserve_lamports: int = Field(default=10_000_000, ge=0)
    """SOL never spent, so the wallet can always pay fees to sell what it holds."""
    max_attempts: int = Field(default=4, gt=0)
    max_retry_after_s: float = Field(default=60.0, gt=0)
    confirm_timeout_s: float = Field(default=120.0, gt=0)
    max_dead_letters: int = Field(default=3, gt=0)
    """This many orders failed for good within `dead_letter_window_s` trip the emergency
    stop (an error-rate spike: something is wrong with the venue, the wallet or the
    settings)."""
    dead_letter_window_s: float = Field(default=300.0, gt=0)


@dataclass(frozen=True)
class LiveOrder:
    """What the kernel decided: spend `amount` lamports (buy) or sell `amount` raw units."""

    decision_id: int
    side: int
    mint: str
    amount: int
    slippage_bps: int
    decision_price: float
    """SOL per whole token when the decision was made."""
    decimals: int = 6


@dataclass(frozen=True)
class Check:
    """One pre-flight check: its name, whether it passed, and the figures behind it."""

    name: str
    ok: bool
    detail: str


@dataclass
class Outcome:
    """What happened to an order (status filled, rejected, dry_run or unresolved)."""

    order: LiveOrder
    status: str
    reason: str = ""
    category: str = INFO
    message: str = ""
    checks: list[Check] = field(default_factory=list)
    signature: str = ""
    quoted_in: int = 0
    quoted_out: int = 0
    threshold: int = 0
    impact_pct: float = 0.0
    sol_delta: int = 0
    token_delta: int = 0
    fee: int = 0
    rent: int = 0
    priority_fee: int = 0
    slot: int = 0
    attempts: int = 0
    started_ns: int = 0
    landed_ns: int = 0

    @property
    def quoted_price(self) -> float | None:
        """SOL per whole token the quote promised."""
        return _price(self.order, self.quoted_in, self.quoted_out)

    @property
    def filled_price(self) -> float | None:
        """SOL per whole token the balance changes say (fees and rent excluded)."""
        if self.status != "filled":
            return None
        if self.order.side == BUY:
            sol = -self.sol_delta - self.fee - self.rent
        else:
            sol = self.sol_delta + self.fee + self.rent
        tokens = self.token_delta if self.order.side == BUY else -self.token_delta
        if tokens <= 0:
            return None
        return float(sol / 1e9 / (tokens / 10**self.order.decimals))


def _price(order: LiveOrder, sol_or_tokens_in: int, out: int) -> float | None:
    sol, tokens = (sol_or_tokens_in, out) if order.side == BUY else (out, sol_or_tokens_in)
    if tokens <= 0:
        return None
    return float(sol / 1e9 / (tokens / 10**order.decimals))


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, VenueError) and exc.transient


class Executor:
    """Runs live orders through Jupiter and the chain (see the module docstring)."""

    def __init__(
        self,
        jupiter: JupiterClient,
        chain: ChainClient,
        signer: Signer,
        settings: ExecutorSettings,
        *,
        journal: Callable[[LiveOrder, str, int], Awaitable[None]] | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        clock: Callable[[], int] = time.time_ns,
        on_sent: Callable[[LiveOrder, str], None] | None = None,
    ) -> None:
        self.jupiter = jupiter
        self.chain = chain
        self.signer = signer
        self.settings = settings
        self.journal = journal
        self.sleep = sleep
        self.clock = clock
        self.on_sent = on_sent
        """Told each time a transaction has been handed to the node (progress reports)."""

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        if isinstance(exc, RateLimitedError):
            return min(exc.retry_after, self.settings.max_retry_after_s)
        return float(wait_random_exponential(multiplier=0.25, max=8.0)(state))

    async def checks(self, order: LiveOrder, *, holding: bool,
                     rehearsal: bool = False) -> tuple[list[Check], Quote | None]:  # fmt: skip
        """The pre-flight checks (and the quote they were made on).

        In a rehearsal (dry run) a sell's tokens are the simulated position's: the wallet
        never bought them, so only its SOL for the fees is checked.
        """
        mint = Pubkey.from_string(order.mint)
        pair = (WSOL_MINT, order.mint) if order.side == BUY else (order.mint, WSOL_MINT)
        out: list[Check] = []
        try:
            quote: Quote | None = await self.jupiter.quote(*pair, order.amount,
                                                           order.slippage_bps)  # fmt: skip
            out.append(Check("tradeable", True, "a quote was obtained"))
        except VenueError as exc:
            if exc.transient:
                raise
            out.append(Check("tradeable", False, str(exc)))
            quote = None
        if order.side == BUY:
            out.append(Check("no_position", not holding,
                             "already holding this token" if holding else "none held"))  # fmt: skip
        if quote is not None:
            price = _price(order, quote.in_amount, quote.out_amount) or 0.0
            drift = abs(price / order.decision_price - 1.0) * 100 if order.decision_price else 0.0
            out.append(Check("drift", drift <= self.settings.max_drift_pct,
                             f"quoted {price:.6g} against {order.decision_price:.6g} SOL/token "
                             f"at the decision: {drift:.2f}% (limit "
                             f"{self.settings.max_drift_pct:g}%)"))  # fmt: skip
            out.append(Check("impact", quote.impact_pct <= self.settings.max_impact_pct,
                             f"price impact {quote.impact_pct:.3f}% (limit "
                             f"{self.settings.max_impact_pct:g}%)"))  # fmt: skip
        sol = await self.chain.balance(self.signer.pubkey)
        fees = BASE_FEE + self.jupiter.settings.priority_micro_lamports * 1_400_000 // 1_000_000
        need = fees + self.settings.reserve_lamports
        if order.side == BUY:
            need += order.amount + ATA_RENT
            out.append(Check("balance", sol >= need, f"{sol / 1e9:.6f} SOL held, "
                             f"{need / 1e9:.6f} needed (spend, fees, rent, reserve)"))  # fmt: skip
        else:
            held = await self.chain.token_balance(self.signer.pubkey, mint)
            if rehearsal:
                held = max(held, order.amount)
            ok = sol >= need and held >= order.amount
            out.append(Check("balance", ok, f"{held} units held against {order.amount} to "
                             f"sell; {sol / 1e9:.6f} SOL for {need / 1e9:.6f} of fees and "
                             "reserve"))  # fmt: skip
        return out, quote

    async def execute(self, order: LiveOrder, *, holding: bool = False,
                      dry_run: bool = False) -> Outcome:  # fmt: skip
        """Run one order (see the module docstring); never raises for venue failures."""
        result = Outcome(order, "rejected", started_ns=self.clock())
        kwargs: dict[str, Any] = {} if self.sleep is None else {"sleep": self.sleep}
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception(_transient), wait=self._wait, reraise=True,
                stop=stop_after_attempt(self.settings.max_attempts), **kwargs,
            ):  # fmt: skip
                with attempt:
                    result.attempts += 1
                    await self._attempt(order, result, holding=holding, dry_run=dry_run)
        except VenueError as exc:
            result.status = "unresolved" if exc.reason == "unresolved" else "rejected"
            result.reason, result.category, result.message = exc.reason, exc.category, str(exc)
        return result

    async def _attempt(self, order: LiveOrder, res: Outcome, *, holding: bool,
                       dry_run: bool) -> None:  # fmt: skip
        checks, quote = await self.checks(order, holding=holding, rehearsal=dry_run)
        res.checks = checks
        if quote is not None:
            res.quoted_in, res.quoted_out = quote.in_amount, quote.out_amount
            res.threshold, res.impact_pct = quote.threshold, quote.impact_pct
        failed = [c for c in checks if not c.ok]
        if failed:
            res.status, res.reason, res.category = "rejected", failed[0].name, WARNING
            res.message = f"pre-flight check {failed[0].name} failed: {failed[0].detail}"
            return
        assert quote is not None
        if dry_run:
            res.status, res.reason, res.category = "dry_run", "dry_run", INFO
            res.priority_fee = self.jupiter.settings.priority_micro_lamports * 1_400_000 // 10**6
            res.fee = BASE_FEE + res.priority_fee
            res.message = (f"would {'buy' if order.side == BUY else 'sell'}: "
                           f"{quote.in_amount} in, {quote.out_amount} out expected, at least "
                           f"{quote.threshold} ({quote.slippage_bps} bps slippage), fees about "
                           f"{res.fee} lamports; nothing signed or sent")  # fmt: skip
            return
        swap = await self.jupiter.swap(quote, str(self.signer.pubkey))
        res.priority_fee = swap.priority_fee
        signed = self.signer.sign(swap.unsigned)
        sig = VersionedTransaction.from_bytes(signed).signatures[0]
        res.signature = str(sig)
        if self.journal is not None:
            # Recorded before it can reach the network, with the height it dies at.
            await self.journal(order, str(sig), swap.last_valid_block_height)
        try:
            await self.chain.send(signed)
        except VenueError as exc:
            if exc.reason != "rpc_unavailable":
                raise
            # The answer was lost, not necessarily the transaction: find out before anything
            # else is sent (it may have landed).
        if self.on_sent is not None:
            self.on_sent(order, str(sig))
        landed = await self._confirm(sig, swap.last_valid_block_height)
        if landed is None:
            raise VenueError("not_landed", f"transaction {sig} never landed (its blockhash "
                             "expired); a new one may be sent", transient=True)  # fmt: skip
        mint = Pubkey.from_string(order.mint)
        change = await self.chain.changes(sig, self.signer.pubkey, mint)
        res.sol_delta, res.token_delta = change.sol_delta, change.token_delta
        res.fee, res.rent, res.slot = change.fee, change.rent, change.slot
        res.landed_ns = self.clock()
        if change.err is not None:
            res.status, res.reason, res.category = "rejected", "landed_failed", CRITICAL
            res.message = (f"transaction {sig} landed and failed ({change.err}); its fee of "
                           f"{change.fee} lamports was spent")  # fmt: skip
            return
        res.status, res.reason, res.category, res.message = "filled", "", INFO, "filled"

    async def _confirm(self, sig: Signature, last_valid: int) -> Any:
        deadline = time.monotonic() + self.settings.confirm_timeout_s
        while True:
            try:
                return await self.chain.confirm(sig, last_valid)
            except VenueError as exc:
                if not exc.transient or time.monotonic() > deadline:
                    why = f"transaction {sig}: its fate is unknown ({exc}); resolve it first"
                    raise VenueError("unresolved", why, CRITICAL) from None
                await (self.sleep or asyncio.sleep)(self.chain.poll_s)
