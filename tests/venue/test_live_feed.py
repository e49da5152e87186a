"""Live mode end to end, in process: a recorded pump.fun feed over a real websocket, the
kernel deciding, the router trading through the executor on the LiteSVM chain and the
Jupiter stand-in (whose pools follow the feed's prices), the fills coming back as input
events. Every fill equals the wallet's balance changes in its transaction, the kernel's
books equal the wallet's, and a replay of the run's inputs makes the same events."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from data.feed.client import FeedConfig, WallClock
from data.store import open_store
from engine.layout import MF_LAST_PRICE
from replay.live.paper import replay_inputs, run_paper
from replay.live.run import LiveRun, LiveSettings, first_difference, logged_tables
from replay.venue.chain import ChainClient
from replay.venue.executor import Executor, ExecutorSettings
from replay.venue.jupiter import JupiterClient, JupiterSettings
from replay.venue.signer import Signer
from strategies.config import load_strategy
from tests.jupiter_standin import JupiterStandIn
from tests.solana_rpc import SolanaRpc, fund
from tests.test_paper import EAGER, server_of_pump  # noqa: F401  (fixture)
from tests.test_replay import pump_store  # noqa: F401  (fixture)

WALLET = 20 * 10**9


def test_a_live_run_on_a_recorded_feed_books_what_the_chain_did(
    server_of_pump: int,  # noqa: F811
    tmp_path: Path,
) -> None:
    cfg = tmp_path / "eager.toml"
    cfg.write_text(EAGER.replace("time_stop_s = 1\n", "time_stop_s = 2\n"))
    key = Keypair()
    kp = tmp_path / "wallet.json"
    kp.write_text(json.dumps(list(bytes(key))))
    kp.chmod(0o600)
    st = open_store(tmp_path / "live", create=True)
    strat = load_strategy(cfg)
    live = LiveRun(st, "live-e2e", strat, LiveSettings(heartbeat_ms=100, roll_s=0.5),
                   mode="live", external_venue=True)  # fmt: skip

    def oracle(mint: str) -> float:
        m = live.addresses.get(mint)
        return 0.0 if m is None else float(live.kernel.state.mint_f[m, MF_LAST_PRICE])

    with SolanaRpc() as rpc, JupiterStandIn(rpc.chain, oracle=oracle) as jup:
        fund(rpc.chain, key, WALLET)

        async def main() -> tuple[dict[str, Any], dict[str, int], int]:
            async with httpx.AsyncClient() as http:
                chain = ChainClient(rpc.url, poll_s=0.0)
                ex = Executor(JupiterClient(JupiterSettings(base_url=jup.base), http), chain,
                              Signer.from_file(kp),
                              ExecutorSettings(max_drift_pct=50, max_impact_pct=50))  # fmt: skip
                rep = await run_paper(live, FeedConfig(url=f"ws://127.0.0.1:{server_of_pump}"),
                                      WallClock(), duration_s=8, stop=asyncio.Event(),
                                      venue=ex)  # fmt: skip
                held = {}
                for mint in {str(p.mint) for p in jup.pools.values()}:
                    held[mint] = await chain.token_balance(key.pubkey(), Pubkey.from_string(mint))
                sol = await chain.balance(key.pubkey())
                await chain.close()
                return rep, held, sol

        rep, held, sol = asyncio.run(main())
    st.refresh()
    assert rep["venue"] == "external" and rep["fills"] > 4 and rep["trades"] > 1, rep
    orders = st.con.execute(
        "SELECT order_id, status, signature, sol_delta, token_delta, fee + rent, side "
        "FROM venue_orders WHERE source = 'live-e2e' ORDER BY seq"
    ).fetchall()
    fills = {r[0]: r for r in st.con.execute(
        "SELECT order_id, qty, sol, network_fee, side FROM fills WHERE source = 'live-e2e'"
    ).fetchall()}  # fmt: skip
    ended = [o for o in orders if o[1] == "filled"]
    assert len(ended) == len(fills) == rep["fills"]
    for oid, _, sig, sol_delta, tok_delta, costs, side in ended:
        # Journaled with its signature before it was sent, then its fill booked exactly.
        assert ("submitted", sig) in {(o[1], o[2]) for o in orders if o[0] == oid}
        _, qty, sol_amt, netfee, f_side = fills[oid]
        assert (f_side, qty, netfee) == (side, abs(tok_delta), costs)
        assert sol_amt == (-sol_delta - costs if side == 1 else sol_delta + costs)
    # The kernel's books are the wallet's: cash moved by what the wallet moved, and each
    # open position holds what the wallet holds of its token.
    assert rep["state"]["glob"][0] - 10 * 10**9 == sol - WALLET
    still = dict(st.con.execute(
        "SELECT mint, qty_remaining FROM open_positions WHERE run_id = 'live-e2e'"
    ).fetchall())  # fmt: skip
    assert {m: q for m, q in held.items() if q} == still
    again = LiveRun(st, "live-e2e-replay", strat, LiveSettings(), mode="replay",
                    replaying=True, external_venue=True)  # fmt: skip
    replay_inputs(again, st, "live-e2e")
    st.refresh()
    assert first_difference(logged_tables(st, "live-e2e"),
                            logged_tables(st, "live-e2e-replay")) is None  # fmt: skip
