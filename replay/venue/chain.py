"""Solana JSON-RPC for live orders, through solana-py's async client.

- `send` submits a signed transaction with preflight simulation on: a refusal is a
  `preflight_failed` error with the simulation's error (nothing was spent); an expired
  blockhash (`BlockhashNotFound`) is transient (nothing was sent: build a new one);
- `confirm` polls the signature until it lands or the chain passes the blockhash's last
  valid height: then it can never land, and only then may a new transaction be sent;
- `changes` reads a landed transaction's actual balance changes for the wallet (the fee
  payer): SOL (fee included) and the token's raw amount, and its error if it failed;
- `balance` and `token_balance` read what the wallet holds now.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from solana.exceptions import SolanaRpcException
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Confirmed
from solana.rpc.core import RPCException
from solana.rpc.models import TxOpts
from solders.pubkey import Pubkey
from solders.signature import Signature
from spl.token.instructions import get_associated_token_address

from replay.venue.errors import CRITICAL, VenueError


@dataclass(frozen=True)
class Landed:
    """A transaction in a block: its error (None when it succeeded) and its slot."""

    err: Any
    slot: int


@dataclass(frozen=True)
class BalanceChange:
    """What a landed transaction did to the wallet."""

    sol_delta: int
    token_delta: int
    fee: int
    rent: int
    """SOL the transaction put into token accounts it created for the wallet (not spent:
    closing them gives it back)."""
    err: Any
    slot: int


def _err_text(err: Any) -> str:
    return str(err).replace("TransactionErrorFieldless.", "").replace("TransactionError", "")


class ChainClient:
    """The wallet's view of the chain (see the module docstring)."""

    def __init__(self, url: str, *, poll_s: float = 0.4, timeout_s: float = 10.0) -> None:
        self.rpc = AsyncClient(url, commitment=Confirmed, timeout=timeout_s)
        self.poll_s = poll_s

    async def close(self) -> None:
        """Close the HTTP client."""
        await self.rpc.close()

    async def _guard(self, what: str, coro: Any) -> Any:
        try:
            return await coro
        except SolanaRpcException as exc:
            raise VenueError("rpc_unavailable", f"solana {what}: {type(exc.__cause__).__name__}"
                             , transient=True) from None  # fmt: skip

    async def balance(self, owner: Pubkey) -> int:
        """The wallet's SOL, in lamports."""
        return int((await self._guard("getBalance", self.rpc.get_balance(owner))).value)

    async def token_balance(self, owner: Pubkey, mint: Pubkey) -> int:
        """The wallet's raw units of `mint` (0 without a token account)."""
        ata = get_associated_token_address(owner, mint)
        try:
            resp = await self._guard("getTokenAccountBalance",
                                     self.rpc.get_token_account_balance(ata))  # fmt: skip
        except RPCException:
            return 0
        value = getattr(resp, "value", None)
        return int(value.amount) if value is not None else 0

    async def block_height(self) -> int:
        """The chain's current block height."""
        return int((await self._guard("getBlockHeight", self.rpc.get_block_height())).value)

    async def send(self, signed: bytes) -> Signature:
        """Submit with preflight on; the signature, or why the node refused it."""
        opts = TxOpts(skip_preflight=False, preflight_commitment=Confirmed, max_retries=0)
        try:
            resp = await self._guard("sendTransaction", self.rpc.send_raw_transaction(signed, opts))
        except RPCException as exc:
            msg = exc.args[0] if exc.args else exc
            data = getattr(msg, "data", None)
            err = getattr(data, "err", None)
            text = _err_text(err) if err is not None else str(getattr(msg, "message", msg))
            if "BlockhashNotFound" in text or "Blockhash not found" in text:
                why = "solana sendTransaction: the blockhash expired before it was sent"
                raise VenueError("blockhash_expired", why, transient=True) from None
            logs = list(getattr(data, "logs", None) or [])
            last = f"; {logs[-1]}" if logs else ""
            raise VenueError("preflight_failed", f"solana sendTransaction: simulation failed: "
                             f"{text}{last}"[:400]) from None  # fmt: skip
        return Signature.from_string(str(resp.value))

    async def landed(self, sig: Signature) -> Landed | None:
        """The signature's status, or None while no block holds it."""
        resp = await self._guard("getSignatureStatuses",
                                 self.rpc.get_signature_statuses([sig], True))  # fmt: skip
        st = resp.value[0]
        if st is None:
            return None
        return Landed(st.err, int(st.slot))

    async def confirm(self, sig: Signature, last_valid: int) -> Landed | None:
        """Wait until `sig` lands (its status) or provably never will (None)."""
        while True:
            got = await self.landed(sig)
            if got is not None:
                return got
            if await self.block_height() > last_valid:
                return await self.landed(sig)  # one last look: past this, it cannot land
            await asyncio.sleep(self.poll_s)

    async def changes(self, sig: Signature, owner: Pubkey, mint: Pubkey) -> BalanceChange:
        """The wallet's SOL and token changes in landed transaction `sig`."""
        resp = await self._guard("getTransaction", self.rpc.get_transaction(
            sig, encoding="base64", max_supported_transaction_version=0))  # fmt: skip
        tx = resp.value
        if tx is None or tx.transaction.meta is None:
            raise VenueError("missing_transaction", f"solana getTransaction: {sig} not found "
                             "although its status says it landed", CRITICAL)  # fmt: skip
        meta = tx.transaction.meta
        owner_s, mint_s = str(owner), str(mint)

        def held(balances: Any) -> int:
            return sum(int(b.ui_token_amount.amount) for b in balances or []
                       if str(b.owner) == owner_s and str(b.mint) == mint_s)  # fmt: skip

        pre = meta.pre_balances
        created = {int(b.account_index) for b in meta.post_token_balances or []
                   if str(b.owner) == owner_s and int(pre[b.account_index]) == 0}  # fmt: skip
        return BalanceChange(
            sol_delta=int(meta.post_balances[0]) - int(meta.pre_balances[0]),
            token_delta=held(meta.post_token_balances) - held(meta.pre_token_balances),
            fee=int(meta.fee),
            rent=sum(int(meta.post_balances[i]) for i in created),
            err=meta.err,
            slot=int(tx.slot),
        )
