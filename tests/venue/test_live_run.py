"""A live run in process: the kernel decides, the executor trades on the stand-ins, and
the venue's reports come back as input events. The kernel's positions and cash move by
exactly what the wallet's balances moved, and a replay of the run's logged inputs makes
the very same events (parity 0)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.transaction import VersionedTransaction
from spl.token.instructions import (
    create_idempotent_associated_token_account,
    get_associated_token_address,
    models,
    transfer_checked,
)

from data.feed.wire import FeedTick
from data.store import open_store
from engine.layout import (
    G_CASH,
    PI_ACTIVE,
    PI_COST,
    PI_QTY,
)
from replay.live.paper import replay_inputs
from replay.live.router import orders_placed, reconcile
from replay.live.run import LiveRun, LiveSettings, event_tables, first_difference, logged_tables
from replay.venue.chain import ChainClient
from replay.venue.executor import ATA_RENT, LiveOrder
from replay.venue.reports import VenueReport
from strategies.config import load_strategy
from tests.solana_rpc import TOKEN_PROGRAM
from tests.test_paper import EAGER
from tests.venue.test_executor import WALLET, Venue, run, venue  # noqa: F401  (fixture)

S = 1_000_000_000
T0 = 1_800_000_000 * S
PRICE = 30.0 / 1e9  # the pool's price: 30 SOL against 1e9 whole tokens


def _orders(out: list[tuple[np.ndarray, np.ndarray]], run_: LiveRun) -> list[tuple[int, LiveOrder]]:
    placed = [(oid, o) for i, f in out for oid, _, o in orders_placed(i, f, run_)]
    out.clear()
    return placed


def test_the_kernel_trades_through_the_venue_and_replays_to_the_same_events(
    venue: Venue,  # noqa: F811
    tmp_path: Path,
) -> None:
    cfg = tmp_path / "eager.toml"
    cfg.write_text(EAGER.replace("time_stop_s = 1\n", "time_stop_s = 3600\n")
                   + "initial_cash_sol = 2.0\n")  # fmt: skip
    st = open_store(tmp_path / "s", create=True)
    clock = [T0]
    strat = load_strategy(cfg)
    live = LiveRun(st, "live1", strat, LiveSettings(flush_ms=0), mode="live",
                   now_ns=lambda: clock[0], external_venue=True)  # fmt: skip
    seen: list[tuple[np.ndarray, np.ndarray]] = []
    live.watchers.append(lambda i, f, _: seen.append((i.copy(), f.copy())))
    mint = str(venue.pool.mint)

    def tick(sec: float, price: float) -> None:
        clock[0] = T0 + int(sec * S)
        live.process_items([FeedTick(mint, price, 10**6, 1, 30.0, clock[0], clock[0],
                                     clock[0])], None)  # fmt: skip

    def trade(wallet_before: tuple[int, int]) -> tuple[Any, int, int]:
        ((oid, order),) = _orders(seen, live)
        out, sol, tok, _ = run(venue, order)
        assert out.status == "filled", out.message
        assert (sol - wallet_before[0], tok - wallet_before[1]) == (out.sol_delta, out.token_delta)
        clock[0] += S // 10
        live.process_reports([VenueReport.of(oid, out, clock[0])])
        return out, sol, tok

    tick(0, PRICE)  # the sniper buys 0.5 SOL
    buy, sol, tok = trade((WALLET, 0))
    k = live.kernel.state
    slot = int(np.flatnonzero(k.pos_i[:, PI_ACTIVE] == 1)[0])
    assert int(k.pos_i[slot, PI_QTY]) == tok == buy.token_delta  # the tokens the wallet got
    assert int(k.pos_i[slot, PI_COST]) == WALLET - sol  # all it paid: swap, fees, rent
    cash0 = int(k.glob[G_CASH])
    assert cash0 == 2 * 10**9 - (WALLET - sol)
    tick(1, PRICE * 1.2)  # +20 %: target 1 sells 33 %
    with venue.jup.lock:  # the pool has moved with the market (else: the drift check)
        venue.pool.sol = venue.pool.sol * 12 // 10
    sell, sol2, tok2 = trade((sol, tok))
    assert int(k.pos_i[slot, PI_QTY]) == tok2  # what is left is what the wallet holds
    assert int(k.glob[G_CASH]) - cash0 == sol2 - sol  # cash moved by the wallet's change
    assert sell.token_delta == -int(tok * 0.33)
    # Someone moved funds outside Clanka: 1 SOL in, 100 tokens out. The chain wins.
    venue.rpc.chain.svm.airdrop(venue.key.pubkey(), 10**9)
    gone = 100 * 10**6
    _send_tokens(venue, gone)
    chain = ChainClient(venue.rpc.url)
    rows = asyncio.run(_reconcile(live, chain, venue))
    assert [(r["asset"], r["difference"]) for r in rows] == [("SOL", 10**9 - 5_000 - ATA_RENT),
                                                             (mint, -gone)]  # fmt: skip
    assert int(k.glob[G_CASH]) == rows[0]["chain_amount"]  # the kernel now books the wallet's
    assert int(k.pos_i[slot, PI_QTY]) == tok2 - gone
    live.roll()
    st.refresh()
    assert st.con.execute("SELECT count(*) FROM reconciliations WHERE source = 'live1' AND "
                          "difference <> 0").fetchall() == [(2,)]  # fmt: skip
    report = live.close()
    assert report["venue"] == "external" and report["fills"] == 2
    again = LiveRun(st, "live1-replay", strat, LiveSettings(), mode="replay", replaying=True,
                    external_venue=True)  # fmt: skip
    replay_inputs(again, st, "live1")
    st.refresh()
    assert first_difference(logged_tables(st, "live1"), logged_tables(st, "live1-replay")) is None
    assert first_difference(logged_tables(st, "live1"), event_tables(*again.outputs())) is None
    kinds = st.con.execute(
        "SELECT kind, count(*) FROM feed_inputs WHERE source = 'live1' GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert kinds == [(0, 2), (6, 2), (8, 2)]  # ticks, fills, the reconciliation: all inputs


def _send_tokens(v: Venue, amount: int) -> None:
    """The wallet gives `amount` raw units away, outside Clanka (a manual transfer)."""
    key, mint, chain = v.key, v.pool.mint, v.rpc.chain
    other = Keypair().pubkey()
    ixs = [create_idempotent_associated_token_account(key.pubkey(), other, mint),
           transfer_checked(models.TransferCheckedParams(
               program_id=TOKEN_PROGRAM, source=get_associated_token_address(key.pubkey(), mint),
               mint=mint, dest=get_associated_token_address(other, mint), owner=key.pubkey(),
               amount=amount, decimals=6))]  # fmt: skip
    with chain.lock:
        msg = MessageV0.try_compile(key.pubkey(), ixs, [], chain.svm.latest_blockhash())
        chain.svm.send_transaction(VersionedTransaction(msg, [key]))


async def _reconcile(live: LiveRun, chain: ChainClient, v: Venue) -> list[dict[str, Any]]:
    try:
        return await reconcile(live, chain, v.key.pubkey())
    finally:
        await chain.close()
