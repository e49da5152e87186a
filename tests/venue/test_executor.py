"""Live orders through the real client code against local stand-ins that speak the real
protocols: a LiteSVM chain behind Solana JSON-RPC and a Jupiter Swap API over a
constant-product pool. Every fill is checked against amounts worked out here from the
pool's reserves and the fee schedule, and against the wallet's actual balances."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from replay.venue.chain import ChainClient
from replay.venue.executor import ATA_RENT, BUY, SELL, Executor, ExecutorSettings, LiveOrder
from replay.venue.jupiter import JupiterClient, JupiterSettings
from replay.venue.signer import Signer
from tests.jupiter_standin import CU_LIMIT, FEE_BPS, JupiterStandIn, Pool, make_pool
from tests.solana_rpc import SolanaRpc, fund

POOL_SOL, POOL_TOKENS = 30_000_000_000, 1_000_000_000_000_000  # 30 SOL against 1e9 tokens
WALLET = 2_000_000_000
CU_PRICE = 50_000  # micro-lamports per compute unit


@dataclass
class Venue:
    rpc: SolanaRpc
    jup: JupiterStandIn
    pool: Pool
    key: Keypair
    signer: Signer
    journal: list[tuple[int, str, int]]

    def executor(self, **limits: Any) -> tuple[Executor, Any]:
        sleeps: list[float] = []

        async def sleep(s: float) -> None:
            sleeps.append(s)

        async def journal(order: LiveOrder, sig: str, last_valid: int) -> None:
            self.journal.append((order.decision_id, sig, self.rpc.calls.count("sendTransaction")))

        client = httpx.AsyncClient()
        chain = ChainClient(self.rpc.url, poll_s=0.0)
        jup = JupiterClient(JupiterSettings(base_url=self.jup.base,
                                            priority_micro_lamports=CU_PRICE), client)  # fmt: skip
        ex = Executor(jup, chain, self.signer, ExecutorSettings(**limits), journal=journal,
                      sleep=sleep)  # fmt: skip
        return ex, (client, chain, sleeps)


def _price(pool: Pool) -> float:
    return pool.sol / 1e9 / (pool.tokens / 1e6)


def _out(amount_in: int, x: int, y: int) -> int:
    """Constant product with a 0.25 % fee on the input, in integers (as the pool does)."""
    net = amount_in - amount_in * FEE_BPS // 10_000
    return y * net // (x + net)


def _key_file(tmp: Path, key: Keypair) -> Path:
    p = tmp / "wallet.json"
    p.write_text(json.dumps(list(bytes(key))))
    p.chmod(0o600)
    return p


@pytest.fixture
def venue(tmp_path: Path) -> Iterator[Venue]:
    with SolanaRpc() as rpc:
        pool = make_pool(rpc.chain, POOL_SOL, POOL_TOKENS)
        with JupiterStandIn(rpc.chain) as jup:
            jup.add(pool)
            key = Keypair()
            fund(rpc.chain, key, WALLET)
            yield Venue(rpc, jup, pool, key, Signer.from_file(_key_file(tmp_path, key)), [])


def run(venue: Venue, order: LiveOrder, **kw: Any) -> Any:
    async def go() -> Any:
        ex, (client, chain, sleeps) = venue.executor(**kw.pop("limits", {}))
        try:
            out = await ex.execute(order, **kw)
            sol = await chain.balance(venue.key.pubkey())
            tok = await chain.token_balance(venue.key.pubkey(), venue.pool.mint)
            return out, sol, tok, sleeps
        finally:
            await client.aclose()
            await chain.close()

    return asyncio.run(go())


def _buy(venue: Venue, lamports: int = 100_000_000, **kw: Any) -> LiveOrder:
    return LiveOrder(kw.pop("decision_id", 1), BUY, str(venue.pool.mint), lamports,
                     kw.pop("slippage_bps", 100), kw.pop("price", _price(venue.pool)))  # fmt: skip


def test_a_buy_then_a_sell_fill_with_the_wallets_actual_balance_changes(venue: Venue) -> None:
    fee = 5_000 + CU_LIMIT * CU_PRICE // 1_000_000  # base fee and the priority fee: 15,000
    want_tokens = _out(100_000_000, POOL_SOL, POOL_TOKENS)
    assert want_tokens == 3_313_981_013_131  # 1e15 x 99,750,000 / (3e10 + 99,750,000)
    buy, sol, tok, _ = run(venue, _buy(venue))
    assert buy.status == "filled", buy.message
    assert buy.token_delta == want_tokens == tok
    assert buy.sol_delta == -(100_000_000 + fee + ATA_RENT) == sol - WALLET
    assert buy.rent == ATA_RENT  # the new token account's rent, not a cost of the swap
    assert (buy.fee, buy.priority_fee) == (fee, 10_000)
    assert buy.quoted_out == want_tokens and buy.filled_price == pytest.approx(buy.quoted_price)
    # The signature was journaled before any sendTransaction reached the node.
    assert venue.journal == [(1, buy.signature, 0)]
    half = want_tokens // 2
    x, y = POOL_SOL + 100_000_000, POOL_TOKENS - want_tokens  # the pool after the buy
    want_sol = _out(half, y, x)
    sell, sol2, tok2, _ = run(venue, LiveOrder(2, SELL, str(venue.pool.mint), half, 100,
                                               x / 1e9 / (y / 1e6)))  # fmt: skip
    assert sell.status == "filled", sell.message
    assert sell.token_delta == -half and tok2 == want_tokens - half
    assert sell.sol_delta == want_sol - fee == sol2 - sol  # wrapped SOL unwrapped, rent back


def test_a_dry_run_quotes_checks_and_sends_nothing(venue: Venue) -> None:
    out, sol, tok, _ = run(venue, _buy(venue), dry_run=True)
    assert out.status == "dry_run" and out.reason == "dry_run"
    assert out.quoted_out == _out(100_000_000, POOL_SOL, POOL_TOKENS)
    assert out.threshold == out.quoted_out * 9_900 // 10_000  # 100 bps of slippage
    names = ["tradeable", "no_position", "drift", "impact", "balance"]
    assert [c.name for c in out.checks] == names and all(c.ok for c in out.checks)
    assert "sendTransaction" not in venue.rpc.calls and venue.journal == []
    assert not any(r["path"].startswith("/swap/v1/swap") for r in venue.jup.requests)
    assert (sol, tok) == (WALLET, 0)


@pytest.mark.parametrize(
    ("name", "order_kw", "kw"),
    [
        ("tradeable", {"mint": str(Pubkey.new_unique())}, {}),
        ("no_position", {}, {"holding": True}),
        ("drift", {"price_factor": 1.2}, {}),
        ("impact", {"lamports": 3_000_000_000, "limits": {"max_drift_pct": 50}}, {}),
        (
            "balance",
            {"lamports": 1_990_000_000, "limits": {"max_impact_pct": 50, "max_drift_pct": 50}},
            {},
        ),
    ],
)
def test_each_pre_flight_failure_is_a_named_reject_and_spends_nothing(
    venue: Venue, name: str, order_kw: dict[str, Any], kw: dict[str, Any]
) -> None:
    order_kw = dict(order_kw)
    limits = order_kw.pop("limits", {})
    price = _price(venue.pool) * order_kw.pop("price_factor", 1.0)
    order = _buy(venue, order_kw.pop("lamports", 100_000_000), price=price)
    if "mint" in order_kw:
        order = LiveOrder(1, BUY, order_kw["mint"], order.amount, 100, price)
    out, sol, tok, _ = run(venue, order, limits=limits, **kw)
    assert (out.status, out.reason) == ("rejected", name), out.message
    assert out.category == "warning" and out.message.startswith(f"pre-flight check {name}")
    assert (sol, tok) == (WALLET, 0) and "sendTransaction" not in venue.rpc.calls


def test_a_429_waits_what_it_was_told_and_an_expired_blockhash_gets_a_new_swap(
    venue: Venue,
) -> None:
    venue.jup.script("quote", ("429", 3))
    venue.jup.script("swap", ("expire", None))
    out, _, tok, sleeps = run(venue, _buy(venue))
    assert out.status == "filled" and out.attempts == 3, out.message
    assert sleeps[0] == 3.0  # the Retry-After
    assert tok == out.token_delta > 0  # one fill, not two
    # Two swaps were signed and journaled; the first was refused (its blockhash had
    # expired), so it never reached a block; only the second was sent and landed.
    assert [d for d, _, _ in venue.journal] == [1, 1]
    assert venue.journal[-1][1] == out.signature


def test_a_transaction_sent_but_never_landed_is_resent_only_after_it_provably_cannot(
    venue: Venue,
) -> None:
    venue.rpc.chain.drop_next(1)
    out, _, tok, _ = run(venue, _buy(venue))
    assert out.status == "filled" and out.attempts == 2, out.message
    first, second = venue.journal[0][1], venue.journal[1][1]
    assert first != second and out.signature == second
    assert first not in venue.rpc.chain.landed and first in venue.rpc.chain.sent
    assert tok == out.token_delta  # exactly one swap's tokens


def test_slippage_past_the_limit_is_refused_by_preflight_and_spends_nothing(venue: Venue) -> None:
    venue.jup.script("swap", ("move", 5))  # someone sold into the pool first: 5 % fewer tokens
    out, sol, tok, _ = run(venue, _buy(venue, slippage_bps=100))
    assert (out.status, out.reason) == ("rejected", "preflight_failed"), out.message
    assert "custom program error: 0x1" in out.message
    assert (sol, tok) == (WALLET, 0)


def test_a_swap_that_lands_and_fails_is_a_critical_reject_that_cost_its_fee(venue: Venue) -> None:
    venue.rpc.chain.simulate = False  # the node's simulation ran before the state changed
    venue.jup.script("swap", ("fail", None))
    out, sol, tok, _ = run(venue, _buy(venue))
    fee = 5_000 + CU_LIMIT * CU_PRICE // 1_000_000
    assert (out.status, out.reason, out.category) == ("rejected", "landed_failed", "critical")
    assert out.sol_delta == -fee == sol - WALLET and out.token_delta == 0 == tok
    assert out.attempts == 1  # never retried


def test_the_key_appears_in_no_outcome_or_log(
    venue: Venue, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    venue.jup.script("swap", ("fail", None))
    outs = [run(venue, _buy(venue))[0], run(venue, _buy(venue), dry_run=True)[0]]
    secret = bytes(venue.key)
    forms = [str(venue.key), secret.hex(), json.dumps(list(secret))]
    text = " ".join(repr(o) + o.message for o in outs) + repr(venue.signer) + caplog.text
    for f in forms:
        assert f not in text
    assert repr(venue.signer) == f"Signer({venue.key.pubkey()})"


def test_an_unforeseen_failure_leaves_the_order_pending_and_says_so(
    venue: Venue, tmp_path: Path
) -> None:
    """A bug in the venue path must not lose an order silently: it is journaled as
    unresolved (critical), dead-lettered, and not reported to the kernel."""
    from replay.live.router import VenueRouter

    rows: dict[str, list[dict[str, Any]]] = {"venue_orders": [], "dead_letters": []}
    store = SimpleNamespace(append=lambda fam, cols, source: rows[fam].append(cols))
    run_ = SimpleNamespace(store=store, run_id="bug", progress=SimpleNamespace(
        emit=lambda *a, **k: None), kernel=None)  # fmt: skip
    reports: list[Any] = []

    async def go() -> None:
        ex, (client, chain, _) = venue.executor()

        async def broken(*a: Any, **k: Any) -> Any:
            raise KeyError("surprise")

        ex.execute = broken  # type: ignore[method-assign]
        router = VenueRouter(run_, ex, reports.append)  # type: ignore[arg-type]
        router.submit(7, 0, _buy(venue))
        await router.close()
        await client.aclose()
        await chain.close()

    asyncio.run(go())
    (ended,) = rows["venue_orders"]
    assert ended["status"] == ["unresolved"] and ended["reason"] == ["internal_error"]
    assert ended["category"] == ["critical"] and "KeyError" in ended["message"][0]
    assert len(rows["dead_letters"]) == 1 and reports == []
