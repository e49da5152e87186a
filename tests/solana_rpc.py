"""A Solana JSON-RPC server on 127.0.0.1 backed by LiteSVM (solders.litesvm).

Real transactions, real signatures, real SPL Token accounts; the methods a swap needs,
answered in the JSON-RPC wire format solana-py's client parses:

- `getLatestBlockhash` -> `{context, value: {blockhash, lastValidBlockHeight}}` (the
  height at which the blockhash expires: issue height + 150, as on mainnet);
- `sendTransaction` (base64) -> the signature; with preflight on (the default), a
  transaction that fails simulation is refused with error -32002 "Transaction simulation
  failed: ..." and `data` {err, logs, accounts, unitsConsumed, returnData}; an expired
  blockhash is `BlockhashNotFound`. With preflight off, a failing transaction *lands*
  (its fee is charged) and its status carries the error;
- `getSignatureStatuses`, `getBlockHeight`, `getBalance`, `getTokenAccountBalance`,
  `getTransaction` (base64, with pre/post SOL and token balances and the log messages).

Every request advances the chain one block, so time passes as a client polls. Test
hooks: `drop_next(n)` accepts the next n transactions and never lands them (a "sent"
transaction that never lands), `expire()` moves past every issued blockhash.
"""

from __future__ import annotations

import base64
import json
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction
from solders.transaction_metadata import FailedTransactionMetadata
from solders.transaction_status import InstructionErrorCustom, TransactionErrorInstructionError

_METHODS = {"getLatestBlockhash": "latest_blockhash", "getBlockHeight": "block_height",
            "getBalance": "balance", "getTokenAccountBalance": "token_account_balance",
            "sendTransaction": "send_transaction", "getSignatureStatuses": "signature_statuses",
            "getTransaction": "transaction"}  # fmt: skip
"""The JSON-RPC methods served, and the handler each one has."""
TOKEN_PROGRAM = Pubkey.from_string("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA")
VALID_BLOCKS = 150


def rpc_error(e: Any) -> Any:
    """A LiteSVM transaction error in the RPC's JSON form."""
    if isinstance(e, TransactionErrorInstructionError):
        inner = e.err
        ie: Any = {"Custom": inner.code} if isinstance(inner, InstructionErrorCustom) \
            else str(inner).rsplit(".", 1)[-1]  # fmt: skip
        return {"InstructionError": [e.index, ie]}
    return str(e).rsplit(".", 1)[-1]


class Chain:
    """LiteSVM plus what an RPC node remembers: heights, blockhashes, landed transactions."""

    def __init__(self) -> None:
        self.svm = LiteSVM()
        self.lock = threading.RLock()
        self.height = 1000
        self.valid_until: dict[str, int] = {}
        self.landed: dict[str, dict[str, Any]] = {}
        self.dropping = 0
        self.simulate = True
        """False: a node that does not simulate (or whose simulation ran on a state that
        changed before the block): a failing transaction lands and fails."""
        self.sent: list[str] = []

    def tick(self) -> int:
        with self.lock:
            self.height += 1
            return self.height

    def blockhash(self) -> tuple[str, int]:
        """The latest blockhash and its last valid height (a new one once it expired)."""
        with self.lock:
            bh = str(self.svm.latest_blockhash())
            if self.valid_until.get(bh, self.height + 1) <= self.height:
                self.svm.expire_blockhash()  # a real chain moves on: so does this one
                bh = str(self.svm.latest_blockhash())
            if bh not in self.valid_until:
                self.valid_until[bh] = self.height + VALID_BLOCKS
            return bh, self.valid_until[bh]

    def expire(self) -> None:
        """Move the chain past every blockhash issued so far."""
        with self.lock:
            self.height = max([self.height, *self.valid_until.values()]) + 1
            self.svm.expire_blockhash()

    def drop_next(self, n: int = 1) -> None:
        with self.lock:
            self.dropping += n

    def token_amount(self, account: Pubkey) -> tuple[int, int, str] | None:
        """(amount, decimals, mint) of an SPL token account, or None."""
        acc = self.svm.get_account(account)
        if acc is None or acc.owner != TOKEN_PROGRAM or len(acc.data) < 72:
            return None
        data = bytes(acc.data)
        mint = Pubkey.from_bytes(data[0:32])
        macc = self.svm.get_account(mint)
        decimals = bytes(macc.data)[44] if macc is not None and len(macc.data) > 44 else 0
        return struct.unpack_from("<Q", data, 64)[0], decimals, str(mint)

    def _balances(self, keys: list[Pubkey]) -> tuple[list[int], list[dict[str, Any]]]:
        sol = [int(self.svm.get_balance(k) or 0) for k in keys]
        tokens = []
        for i, k in enumerate(keys):
            t = self.token_amount(k)
            if t is None:
                continue
            owner = Pubkey.from_bytes(bytes(self.svm.get_account(k).data)[32:64])  # type: ignore[union-attr]
            amount, dec, mint = t
            tokens.append({"accountIndex": i, "mint": mint, "owner": str(owner),
                           "programId": str(TOKEN_PROGRAM),
                           "uiTokenAmount": _ui(amount, dec)})  # fmt: skip
        return sol, tokens

    def send(self, raw: bytes, preflight: bool) -> tuple[str | None, dict[str, Any] | None]:
        """(signature, None) or (None, the JSON-RPC error)."""
        with self.lock:
            self.height += 1
            tx = VersionedTransaction.from_bytes(raw)
            sig = str(tx.signatures[0])
            bh = str(tx.message.recent_blockhash)
            if self.valid_until.get(bh, -1) < self.height:
                return None, _preflight_error("Blockhash not found", "BlockhashNotFound", [], 0)
            if preflight and self.simulate:
                sim = self.svm.simulate_transaction(tx)
                if isinstance(sim, FailedTransactionMetadata):
                    err = rpc_error(sim.err())
                    meta = sim.meta()
                    return None, _preflight_error(
                        f"Transaction simulation failed: {_describe(err)}", err,
                        list(meta.logs()), meta.compute_units_consumed(),
                    )  # fmt: skip
            self.sent.append(sig)
            if self.dropping > 0:
                self.dropping -= 1
                return sig, None  # accepted, never lands
            keys = list(tx.message.account_keys)
            pre_sol, pre_tok = self._balances(keys)
            res = self.svm.send_transaction(tx)
            post_sol, post_tok = self._balances(keys)
            failed = isinstance(res, FailedTransactionMetadata)
            meta = res.meta() if failed else res
            err = rpc_error(res.err()) if failed else None
            self.landed[sig] = {
                "slot": self.height, "raw": raw, "err": err, "fee": meta.fee(),
                "logs": list(meta.logs()), "units": meta.compute_units_consumed(),
                "pre": pre_sol, "post": post_sol, "pre_tok": pre_tok, "post_tok": post_tok,
            }  # fmt: skip
            return sig, None


def _ui(amount: int, decimals: int) -> dict[str, Any]:
    ui = amount / 10**decimals
    return {"amount": str(amount), "decimals": decimals, "uiAmount": ui,
            "uiAmountString": f"{ui:.{decimals}f}".rstrip("0").rstrip(".") or "0"}  # fmt: skip


def _describe(err: Any) -> str:
    if isinstance(err, dict) and "InstructionError" in err:
        idx, what = err["InstructionError"]
        if isinstance(what, dict) and "Custom" in what:
            return f"Error processing Instruction {idx}: custom program error: {what['Custom']:#x}"
        return f"Error processing Instruction {idx}: {what}"
    return str(err)


def _preflight_error(message: str, err: Any, logs: list[str], units: int) -> dict[str, Any]:
    return {"code": -32002, "message": message,
            "data": {"err": err, "logs": logs, "accounts": None, "unitsConsumed": units,
                     "returnData": None, "innerInstructions": None}}  # fmt: skip


class _Handler(BaseHTTPRequestHandler):
    server: SolanaRpc  # type: ignore[assignment]

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_POST(self) -> None:
        """One JSON-RPC request (or a batch)."""
        n = int(self.headers.get("Content-Length", "0"))
        try:
            req = json.loads(self.rfile.read(n))
        except ValueError:
            return self._send({"jsonrpc": "2.0", "id": None,
                               "error": {"code": -32700, "message": "Parse error"}})  # fmt: skip
        out = [self.server.call(r) for r in req] if isinstance(req, list) else self.server.call(req)
        self._send(out)

    def _send(self, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class SolanaRpc(ThreadingHTTPServer):
    """The server: `with SolanaRpc() as rpc:` then `rpc.url`, `rpc.chain` for set-up."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.chain = Chain()
        self.calls: list[str] = []
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """`http://127.0.0.1:PORT`."""
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> SolanaRpc:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()

    def call(self, req: dict[str, Any]) -> dict[str, Any]:
        """Answer one JSON-RPC request."""
        method, params, rid = req.get("method"), req.get("params") or [], req.get("id")
        self.calls.append(str(method))
        fn = getattr(self, f"_m_{_METHODS.get(str(method), '-')}", None)
        if fn is None:
            return {"jsonrpc": "2.0", "id": rid,
                    "error": {"code": -32601, "message": "Method not found"}}  # fmt: skip
        try:
            result, error = fn(params)
        except (ValueError, TypeError, IndexError) as exc:
            result, error = None, {"code": -32602, "message": f"Invalid params: {exc}"}
        if error is not None:
            return {"jsonrpc": "2.0", "id": rid, "error": error}
        return {"jsonrpc": "2.0", "id": rid, "result": result}

    def _ctx(self) -> dict[str, Any]:
        return {"slot": self.chain.tick(), "apiVersion": "2.1.0"}

    def _m_latest_blockhash(self, params: list[Any]) -> tuple[Any, None]:
        bh, until = self.chain.blockhash()
        return {"context": self._ctx(), "value": {"blockhash": bh,
                                                  "lastValidBlockHeight": until}}, None  # fmt: skip

    def _m_block_height(self, params: list[Any]) -> tuple[Any, None]:
        return self.chain.tick(), None

    def _m_balance(self, params: list[Any]) -> tuple[Any, None]:
        with self.chain.lock:
            lamports = int(self.chain.svm.get_balance(Pubkey.from_string(params[0])) or 0)
        return {"context": self._ctx(), "value": lamports}, None

    def _m_token_account_balance(self, params: list[Any]) -> tuple[Any, Any]:
        with self.chain.lock:
            t = self.chain.token_amount(Pubkey.from_string(params[0]))
        if t is None:
            return None, {"code": -32602, "message": "Invalid param: could not find account"}
        return {"context": self._ctx(), "value": _ui(t[0], t[1])}, None

    def _m_send_transaction(self, params: list[Any]) -> tuple[Any, Any]:
        opts = params[1] if len(params) > 1 else {}
        if opts.get("encoding", "base58") != "base64":
            return None, {"code": -32602, "message": "only base64 transactions here"}
        raw = base64.b64decode(params[0])
        return self.chain.send(raw, preflight=not opts.get("skipPreflight", False))

    def _m_signature_statuses(self, params: list[Any]) -> tuple[Any, None]:
        ctx = self._ctx()
        out: list[Any] = []
        for s in params[0]:
            got = self.chain.landed.get(s)
            if got is None:
                out.append(None)
                continue
            status = {"Ok": None} if got["err"] is None else {"Err": got["err"]}
            out.append({"slot": got["slot"], "confirmations": None, "err": got["err"],
                        "status": status, "confirmationStatus": "finalized"})  # fmt: skip
        return {"context": ctx, "value": out}, None

    def _m_transaction(self, params: list[Any]) -> tuple[Any, Any]:
        opts = params[1] if len(params) > 1 else {}
        if opts.get("encoding") != "base64":
            return None, {"code": -32602, "message": "only base64 encoding here"}
        got = self.chain.landed.get(params[0])
        if got is None:
            return None, None
        status = {"Ok": None} if got["err"] is None else {"Err": got["err"]}
        return {
            "slot": got["slot"], "blockTime": int(time.time()), "version": 0,
            "transaction": [base64.b64encode(got["raw"]).decode(), "base64"],
            "meta": {"err": got["err"], "status": status, "fee": got["fee"],
                     "preBalances": got["pre"], "postBalances": got["post"],
                     "preTokenBalances": got["pre_tok"], "postTokenBalances": got["post_tok"],
                     "innerInstructions": [], "logMessages": got["logs"], "rewards": [],
                     "loadedAddresses": {"writable": [], "readonly": []},
                     "computeUnitsConsumed": got["units"]},
        }, None  # fmt: skip


def fund(chain: Chain, who: Keypair | Pubkey, lamports: int) -> None:
    """Airdrop SOL (test set-up)."""
    pk = who.pubkey() if isinstance(who, Keypair) else who
    with chain.lock:
        chain.svm.airdrop(pk, lamports)


__all__ = ["Chain", "Signature", "SolanaRpc", "fund"]
