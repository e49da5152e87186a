"""Jupiter's Swap API: a quote, then the unsigned swap transaction for it.

`GET {base}/swap/{version}/quote?inputMint&outputMint&amount&slippageBps` (amounts in
base units: lamports, raw token units) and `POST {base}/swap/{version}/swap` with
`{quoteResponse, userPublicKey, wrapAndUnwrapSol, computeUnitPriceMicroLamports,
dynamicComputeUnitLimit}`, answered with `{swapTransaction (base64), lastValidBlockHeight,
prioritizationFeeLamports}`. The base URL, the API key's header and the version are
settings of this one adapter, because the API keeps moving (quote-api.jup.ag/v6, then
api.jup.ag/swap/v1 with a key, lite-api.jup.ag without one). The key is a secret: sent
only in its header, never in a message.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import BaseModel, Field, SecretStr

from replay.venue.errors import RateLimitedError, VenueError

WSOL_MINT = "So11111111111111111111111111111111111111112"


class JupiterSettings(BaseModel):
    """`[venue.jupiter]`: where the Swap API is and how to call it."""

    model_config = {"extra": "forbid"}

    base_url: str = "https://api.jup.ag"
    version: str = "v1"
    api_key: SecretStr | None = None
    """Sent as `api_key_header`; from the settings file or $CLANKA_JUPITER_API_KEY."""
    api_key_header: str = "x-api-key"
    timeout_s: float = Field(default=10.0, gt=0)
    priority_micro_lamports: int = Field(default=0, ge=0)
    """Compute-unit price for the swap (priority fee = units x price / 10^6 lamports)."""
    wrap_and_unwrap_sol: bool = True


@dataclass(frozen=True)
class Quote:
    """A quote: what goes in, what is expected out, the worst case, the price impact."""

    raw: dict[str, Any]
    in_amount: int
    out_amount: int
    threshold: int
    impact_pct: float
    slippage_bps: int


@dataclass(frozen=True)
class SwapTx:
    """An unsigned swap transaction and the block height its blockhash dies at."""

    unsigned: bytes
    last_valid_block_height: int
    priority_fee: int


class JupiterClient:
    """Quote and swap calls over one HTTP client (see the module docstring)."""

    def __init__(self, settings: JupiterSettings, client: httpx.AsyncClient) -> None:
        self.settings = settings
        self.client = client
        self.root = f"{settings.base_url.rstrip('/')}/swap/{settings.version}"

    def _headers(self) -> dict[str, str]:
        key = self.settings.api_key
        return {self.settings.api_key_header: key.get_secret_value()} if key else {}

    async def _call(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        try:
            r = await self.client.request(method, self.root + path, headers=self._headers(),
                                          timeout=self.settings.timeout_s, **kw)  # fmt: skip
        except httpx.TimeoutException:
            raise VenueError("timeout", f"jupiter {path}: timed out", transient=True) from None
        except httpx.TransportError as exc:
            raise VenueError("network", f"jupiter {path}: connection failed "
                             f"({type(exc).__name__})", transient=True) from None  # fmt: skip
        if r.status_code == 429:
            raise RateLimitedError(f"jupiter {path}", float(r.headers.get("retry-after", 1)))
        try:
            body = r.json()
        except ValueError:
            body = {}
        if r.status_code >= 500:
            raise VenueError("venue_unavailable", f"jupiter {path}: HTTP {r.status_code}",
                             transient=True)  # fmt: skip
        if r.status_code != 200 or not isinstance(body, dict):
            code = str(body.get("errorCode") or "") if isinstance(body, dict) else ""
            why = str(body.get("error") or "no reason given") if isinstance(body, dict) else ""
            no_route = code in ("TOKEN_NOT_TRADABLE", "COULD_NOT_FIND_ANY_ROUTE")
            reason = "not_tradeable" if no_route else "venue_refused"
            raise VenueError(reason, f"jupiter {path}: HTTP {r.status_code} {code}: {why[:200]}")
        return body

    async def quote(self, input_mint: str, output_mint: str, amount: int,
                    slippage_bps: int) -> Quote:  # fmt: skip
        """An ExactIn quote for `amount` base units of `input_mint`."""
        body = await self._call("GET", "/quote", params={
            "inputMint": input_mint, "outputMint": output_mint, "amount": str(int(amount)),
            "slippageBps": str(int(slippage_bps)), "swapMode": "ExactIn",
        })  # fmt: skip
        try:
            return Quote(body, int(body["inAmount"]), int(body["outAmount"]),
                         int(body["otherAmountThreshold"]),
                         float(body.get("priceImpactPct") or 0.0) * 100.0,
                         int(body.get("slippageBps", slippage_bps)))  # fmt: skip
        except (KeyError, ValueError, TypeError):
            raise VenueError("bad_quote", "jupiter /quote: an answer without inAmount, "
                             "outAmount or otherAmountThreshold") from None  # fmt: skip

    async def swap(self, quote: Quote, user: str) -> SwapTx:
        """The unsigned transaction that performs `quote` for `user`."""
        body = await self._call("POST", "/swap", json={
            "quoteResponse": quote.raw, "userPublicKey": user,
            "wrapAndUnwrapSol": self.settings.wrap_and_unwrap_sol,
            "computeUnitPriceMicroLamports": self.settings.priority_micro_lamports,
            "dynamicComputeUnitLimit": True,
        })  # fmt: skip
        try:
            return SwapTx(base64.b64decode(body["swapTransaction"]),
                          int(body["lastValidBlockHeight"]),
                          int(body.get("prioritizationFeeLamports") or 0))  # fmt: skip
        except (KeyError, ValueError, TypeError):
            raise VenueError("bad_swap", "jupiter /swap: an answer without swapTransaction "
                             "or lastValidBlockHeight") from None  # fmt: skip
