"""A Jupiter Swap API stand-in on 127.0.0.1: real unsigned transactions over LiteSVM.

`GET /swap/v1/quote` and `POST /swap/v1/swap` in Jupiter's wire format, over one
constant-product pool per token (x * y = k, a 0.25 % fee on the input). The swap it
returns is a real unsigned `VersionedTransaction` on the chain's latest blockhash that
the user alone signs and that moves real SPL tokens:

- buy (SOL in): a compute-budget price, the user's token account (idempotent), a
  system transfer of the SOL to the pool, and a `TransferChecked` of the tokens from the
  pool's account to the user's, signed by the user as the pool's *delegate*: just
  before answering, the pool approves the user for exactly the amount the swap yields at
  the pool's price then (as Jupiter's program would pay it);
- sell (tokens in, `wrapAndUnwrapSol`): the tokens to the pool, wrapped SOL from the
  pool's WSOL account (the same delegation) to the user's WSOL account, which is then
  closed to unwrap it.

The transaction asks for `otherAmountThreshold` (the quote's worst case) when the
price moved past the slippage limit, more than the pool approved: it lands and fails on
chain, as a real swap whose slippage was exceeded. Faults for the next requests of an
endpoint: `script("quote" | "swap", ("429", s), ("slow", s), ...)`, and for swaps also
("expire", None) (the blockhash expires before the client can send), ("fail", None)
(the pool approves one unit less: the swap lands and fails) and ("move", pct) (another
trade moved the price by pct % first).
"""

from __future__ import annotations

import base64
import itertools
import json
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from solders.account import Account
from solders.compute_budget import set_compute_unit_limit, set_compute_unit_price
from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.system_program import CreateAccountParams, TransferParams, create_account, transfer
from solders.transaction import VersionedTransaction
from spl.token.instructions import (
    approve,
    close_account,
    create_idempotent_associated_token_account,
    get_associated_token_address,
    initialize_mint,
    mint_to,
    models,
    sync_native,
    transfer_checked,
)

from tests.solana_rpc import TOKEN_PROGRAM, Chain

WSOL = Pubkey.from_string("So11111111111111111111111111111111111111112")
FEE_BPS = 25
CU_LIMIT = 200_000


def _native_mint_account(rent: int) -> Account:
    # Mint layout: authority COption(4 + 32), supply u64, decimals u8, initialized, freeze.
    data = struct.pack("<I32sQBBI32s", 0, bytes(32), 0, 9, 1, 0, bytes(32))
    return Account(lamports=rent, data=data, owner=TOKEN_PROGRAM, executable=False)


@dataclass
class Pool:
    """One token's pool: its mint, reserves (raw units) and the accounts that hold them."""

    mint: Pubkey
    decimals: int
    sol: int
    tokens: int
    owner: Keypair
    token_account: Pubkey
    wsol_account: Pubkey

    def out_for(self, amount_in: int, buying: bool) -> tuple[int, int]:
        """(out, fee) for `amount_in` at the current reserves (fee taken on the input)."""
        fee = amount_in * FEE_BPS // 10_000
        net = amount_in - fee
        x, y = (self.sol, self.tokens) if buying else (self.tokens, self.sol)
        return y * net // (x + net), fee


_UNIQUE = itertools.count(1)
"""Makes each of the stand-in's own transactions unique: two equal pool approvals within
one blockhash would otherwise have one signature, and the second fail as already
processed (a failing swap leaves the reserves as they were, so the next asks the same)."""


def _send_as(chain: Chain, payer: Keypair, ixs: list[Any], *signers: Keypair) -> None:
    ixs = [set_compute_unit_limit(200_000 + next(_UNIQUE) % 100_000), *ixs]  # no fee change
    with chain.lock:
        msg = MessageV0.try_compile(payer.pubkey(), ixs, [], chain.svm.latest_blockhash())
        res = chain.svm.send_transaction(VersionedTransaction(msg, [payer, *signers]))
        assert "Failed" not in type(res).__name__, res


def make_pool(chain: Chain, sol: int, tokens: int, decimals: int = 6,
              mint: Pubkey | None = None) -> Pool:  # fmt: skip
    """A token with a pool holding `sol` lamports against `tokens` raw units.

    A new mint, or the token at `mint` (a real address, as a recorded feed names it).
    """
    owner, fresh = Keypair(), Keypair()
    with chain.lock:
        chain.svm.airdrop(owner.pubkey(), sol + 10_000_000_000)
        rent = chain.svm.minimum_balance_for_rent_exemption(82)
        if chain.svm.get_account(WSOL) is None:
            chain.svm.set_account(WSOL, _native_mint_account(rent))
        if mint is not None:  # the mint at its own address, this pool's owner minting it
            data = struct.pack("<I32sQBBI32s", 1, bytes(owner.pubkey()), 0, decimals, 1, 0,
                               bytes(32))  # fmt: skip
            chain.svm.set_account(mint, Account(lamports=rent, data=data, owner=TOKEN_PROGRAM,
                                                executable=False))  # fmt: skip
    address = fresh.pubkey() if mint is None else mint
    tok = get_associated_token_address(owner.pubkey(), address)
    wsol = get_associated_token_address(owner.pubkey(), WSOL)
    create = [] if mint is not None else [
        create_account(CreateAccountParams(from_pubkey=owner.pubkey(), to_pubkey=address,
                                           lamports=rent, space=82, owner=TOKEN_PROGRAM)),
        initialize_mint(models.InitializeMintParams(decimals=decimals, program_id=TOKEN_PROGRAM,
                                                    mint=address,
                                                    mint_authority=owner.pubkey())),
    ]  # fmt: skip
    _send_as(chain, owner, [
        *create,
        create_idempotent_associated_token_account(owner.pubkey(), owner.pubkey(), address),
        mint_to(models.MintToParams(program_id=TOKEN_PROGRAM, mint=address, dest=tok,
                                    mint_authority=owner.pubkey(), amount=tokens)),
        create_idempotent_associated_token_account(owner.pubkey(), owner.pubkey(), WSOL),
        transfer(TransferParams(from_pubkey=owner.pubkey(), to_pubkey=wsol, lamports=sol)),
        sync_native(models.SyncNativeParams(program_id=TOKEN_PROGRAM, account=wsol)),
    ], *([fresh] if mint is None else []))  # fmt: skip
    return Pool(address, decimals, sol, tokens, owner, tok, wsol)


class _Handler(BaseHTTPRequestHandler):
    server: JupiterStandIn  # type: ignore[assignment]

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def _reply(
        self, code: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _fault(self, endpoint: str) -> tuple[str, float | None] | None:
        srv = self.server
        with srv.lock:
            srv.requests.append({"path": self.path, "headers": dict(self.headers)})
            queue = srv.faults[endpoint]
            return queue.popleft() if queue else None

    def _faulted(self, endpoint: str) -> tuple[bool, tuple[str, float | None] | None]:
        """The endpoint's next fault: (answered already with a 429, the fault)."""
        fault = self._fault(endpoint)
        if fault and fault[0] == "slow":
            time.sleep(float(fault[1] or 1))
        if fault and fault[0] == "429":
            self._reply(429, {"error": "Too many requests"},
                        {"Retry-After": str(int(fault[1] or 1))})  # fmt: skip
            return True, fault
        return False, fault

    def do_GET(self) -> None:
        """`/swap/v1/quote`."""
        answered, _ = self._faulted("quote")
        if answered:
            return
        url = urlparse(self.path)
        if url.path != "/swap/v1/quote":
            self._reply(404, {"error": "Not found"})
            return
        code, body = self.server.quote({k: v[0] for k, v in parse_qs(url.query).items()})
        self._reply(code, body)

    def do_POST(self) -> None:
        """`/swap/v1/swap`."""
        answered, fault = self._faulted("swap")
        if answered:
            return
        if urlparse(self.path).path != "/swap/v1/swap":
            self._reply(404, {"error": "Not found"})
            return
        n = int(self.headers.get("Content-Length", "0"))
        try:
            req = json.loads(self.rfile.read(n))
        except ValueError:
            self._reply(400, {"error": "Invalid JSON body", "errorCode": "INVALID_REQUEST"})
            return
        code, body = self.server.swap(req, fault)
        self._reply(code, body)


class JupiterStandIn(ThreadingHTTPServer):
    """The stand-in: `with JupiterStandIn(chain) as jup:`, `jup.add(pool)`, `jup.base`."""

    daemon_threads = True

    def __init__(self, chain: Chain, api_key: str | None = None,
                 oracle: Callable[[str], float] | None = None) -> None:  # fmt: skip
        super().__init__(("127.0.0.1", 0), _Handler)
        self.chain = chain
        self.api_key = api_key
        self.oracle = oracle
        """With an oracle (SOL per whole token of a mint, 0 if unknown), any mint it prices
        gets a pool on first request, and every request first moves the pool's price to
        the oracle's: a market that follows a recorded feed."""
        self.pools: dict[str, Pool] = {}
        self.lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []
        self.faults: dict[str, deque[tuple[str, float | None]]] = {
            "quote": deque(), "swap": deque()}  # fmt: skip
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        """`http://127.0.0.1:PORT` (the API lives under /swap/v1)."""
        return f"http://127.0.0.1:{self.server_address[1]}"

    def add(self, pool: Pool) -> Pool:
        """Make a pool's token tradeable."""
        self.pools[str(pool.mint)] = pool
        return pool

    def script(self, endpoint: str, *faults: tuple[str, float | None]) -> None:
        """Faults for the next requests to `endpoint` ("quote" or "swap"), in order."""
        with self.lock:
            self.faults[endpoint].extend(faults)

    def __enter__(self) -> JupiterStandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()

    def _follow(self, mint: str) -> None:
        if self.oracle is None or mint == str(WSOL):
            return
        price = self.oracle(mint)
        if not price > 0:
            return
        pool = self.pools.get(mint)
        if pool is None:  # 30 SOL deep, a supply far beyond what it will sell
            self.pools[mint] = pool = make_pool(self.chain, 30 * 10**9, 10**18,
                                                mint=Pubkey.from_string(mint))  # fmt: skip
        pool.tokens = int(pool.sol / 1e9 / price * 10**pool.decimals)

    def _side(self, q: dict[str, Any]) -> tuple[Pool, bool] | None:
        a, b = str(q.get("inputMint")), str(q.get("outputMint"))
        with self.lock:
            self._follow(a)
            self._follow(b)
        if a == str(WSOL) and b in self.pools:
            return self.pools[b], True
        if b == str(WSOL) and a in self.pools:
            return self.pools[a], False
        return None

    def quote(self, q: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """Jupiter's quote for ExactIn over the pool."""
        side = self._side(q)
        if side is None:
            return 400, {"error": "The token is not tradable", "errorCode": "TOKEN_NOT_TRADABLE"}
        try:
            amount = int(q["amount"])
            slip = int(q.get("slippageBps", "50"))
        except (KeyError, ValueError):
            return 400, {"error": "amount and slippageBps must be integers",
                         "errorCode": "INVALID_REQUEST"}  # fmt: skip
        if amount <= 0:
            return 400, {"error": "amount must be positive", "errorCode": "INVALID_REQUEST"}
        pool, buying = side
        with self.lock:
            out, fee = pool.out_for(amount, buying)
            x, y = (pool.sol, pool.tokens) if buying else (pool.tokens, pool.sol)
        spot_out = amount * y / x
        impact = max(0.0, 1.0 - out / spot_out) if spot_out > 0 else 0.0
        return 200, {
            "inputMint": q["inputMint"], "inAmount": str(amount), "outputMint": q["outputMint"],
            "outAmount": str(out), "otherAmountThreshold": str(out * (10_000 - slip) // 10_000),
            "swapMode": "ExactIn", "slippageBps": slip, "platformFee": None,
            "priceImpactPct": f"{impact:.6f}",
            "routePlan": [{"swapInfo": {"ammKey": str(pool.owner.pubkey()),
                                        "label": "Clanka stand-in CPMM",
                                        "inputMint": q["inputMint"], "outputMint": q["outputMint"],
                                        "inAmount": str(amount), "outAmount": str(out),
                                        "feeAmount": str(fee), "feeMint": q["inputMint"]},
                           "percent": 100}],
            "contextSlot": self.chain.height, "timeTaken": 0.001,
        }  # fmt: skip

    def swap(self, req: dict[str, Any], fault: tuple[str, float | None] | None
             ) -> tuple[int, dict[str, Any]]:  # fmt: skip
        """An unsigned swap transaction for the quote (see the module docstring)."""
        q = req.get("quoteResponse") or {}
        side = self._side(q)
        try:
            user = Pubkey.from_string(str(req.get("userPublicKey")))
            amount, threshold = int(q["inAmount"]), int(q["otherAmountThreshold"])
        except (KeyError, ValueError):
            return 400, {"error": "quoteResponse and userPublicKey are required",
                         "errorCode": "INVALID_REQUEST"}  # fmt: skip
        if side is None:
            return 400, {"error": "The token is not tradable", "errorCode": "TOKEN_NOT_TRADABLE"}
        pool, buying = side
        cu_price = int(req.get("computeUnitPriceMicroLamports") or 0)
        with self.lock:
            if fault and fault[0] == "move":  # someone traded first: the price moved
                pct = float(fault[1] or 10) / 100
                if buying:
                    pool.tokens = int(pool.tokens * (1 - pct))
                else:
                    pool.sol = int(pool.sol * (1 - pct))
            out, _ = pool.out_for(amount, buying)
            ask = out if out >= threshold else threshold  # past the limit: fails on chain
            give = out - 1 if fault and fault[0] == "fail" else out
            if give >= threshold and ask <= give:
                if buying:
                    pool.sol, pool.tokens = pool.sol + amount, pool.tokens - out
                else:
                    pool.tokens, pool.sol = pool.tokens + amount, pool.sol - out
        source = pool.token_account if buying else pool.wsol_account
        _send_as(self.chain, pool.owner, [approve(models.ApproveParams(
            program_id=TOKEN_PROGRAM, source=source, delegate=user, owner=pool.owner.pubkey(),
            amount=max(give, 0)))])  # fmt: skip
        budget = [set_compute_unit_limit(CU_LIMIT), set_compute_unit_price(cu_price)]
        if buying:
            user_tok = get_associated_token_address(user, pool.mint)
            ixs = [*budget, create_idempotent_associated_token_account(user, user, pool.mint),
                   transfer(TransferParams(from_pubkey=user, to_pubkey=pool.owner.pubkey(),
                                           lamports=amount)),
                   transfer_checked(models.TransferCheckedParams(
                       program_id=TOKEN_PROGRAM, source=pool.token_account, mint=pool.mint,
                       dest=user_tok, owner=user, amount=ask, decimals=pool.decimals))]  # fmt: skip
        else:
            user_tok = get_associated_token_address(user, pool.mint)
            user_wsol = get_associated_token_address(user, WSOL)
            ixs = [*budget, create_idempotent_associated_token_account(user, user, WSOL),
                   transfer_checked(models.TransferCheckedParams(
                       program_id=TOKEN_PROGRAM, source=user_tok, mint=pool.mint,
                       dest=pool.token_account, owner=user, amount=amount,
                       decimals=pool.decimals)),
                   transfer_checked(models.TransferCheckedParams(
                       program_id=TOKEN_PROGRAM, source=pool.wsol_account, mint=WSOL,
                       dest=user_wsol, owner=user, amount=ask, decimals=9)),
                   close_account(models.CloseAccountParams(
                       program_id=TOKEN_PROGRAM, account=user_wsol, dest=user,
                       owner=user))]  # fmt: skip
        blockhash, last_valid = self.chain.blockhash()
        msg = MessageV0.try_compile(user, ixs, [], Hash.from_string(blockhash))
        unsigned = VersionedTransaction.populate(msg, [Signature.default()])
        if fault and fault[0] == "expire":
            self.chain.expire()  # the blockhash is gone before the client can send
        fee = CU_LIMIT * cu_price // 1_000_000
        return 200, {
            "swapTransaction": base64.b64encode(bytes(unsigned)).decode(),
            "lastValidBlockHeight": last_valid, "prioritizationFeeLamports": fee,
            "computeUnitLimit": CU_LIMIT, "prioritizationType": {"computeBudget": {
                "microLamports": cu_price, "estimatedMicroLamports": cu_price}},
            "dynamicSlippageReport": None, "simulationError": None,
        }  # fmt: skip
