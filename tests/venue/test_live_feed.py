"""Live mode end to end, in process: a recorded pump.fun feed over a real websocket, the
kernel deciding, the router trading through the executor on the LiteSVM chain and the
Jupiter stand-in (whose pools follow the feed's prices), the fills coming back as input
events. Every fill equals the wallet's balance changes in its transaction, the kernel's
books equal the wallet's, and a replay of the run's inputs makes the same events."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from data.feed.client import FeedConfig, WallClock
from data.store import EventStore, open_store
from engine.layout import MF_LAST_PRICE
from replay.live.paper import replay_inputs, run_paper
from replay.live.run import LiveRun, LiveSettings, first_difference, logged_tables
from replay.venue.chain import ChainClient
from replay.venue.executor import Executor, ExecutorSettings
from replay.venue.jupiter import JupiterClient, JupiterSettings
from replay.venue.signer import Signer
from strategies.config import StrategyConfig, load_strategy
from tests.jupiter_standin import JupiterStandIn
from tests.solana_rpc import SolanaRpc, fund
from tests.test_paper import EAGER, server_of_pump  # noqa: F401  (fixture)
from tests.test_replay import pump_store  # noqa: F401  (fixture)

WALLET = 20 * 10**9


def _run_live(
    port: int, tmp: Path, limits: ExecutorSettings,
    faults: Callable[[SolanaRpc, JupiterStandIn], None] | None = None,
) -> tuple[dict[str, Any], dict[str, int], int, EventStore, StrategyConfig, Keypair]:  # fmt: skip
    """A live run of 8 s on the recorded feed; its report, the wallet's holdings and SOL."""
    cfg = tmp / "eager.toml"
    cfg.write_text(EAGER.replace("time_stop_s = 1\n", "time_stop_s = 2\n"))
    key = Keypair()
    kp = tmp / "wallet.json"
    kp.write_text(json.dumps(list(bytes(key))))
    kp.chmod(0o600)
    st = open_store(tmp / "live", create=True)
    strat = load_strategy(cfg)
    live = LiveRun(st, "live-e2e", strat, LiveSettings(heartbeat_ms=100, roll_s=0.5,
                                                       control_poll_ms=100),
                   mode="live", external_venue=True)  # fmt: skip

    def oracle(mint: str) -> float:
        m = live.addresses.get(mint)
        return 0.0 if m is None else float(live.kernel.state.mint_f[m, MF_LAST_PRICE])

    with SolanaRpc() as rpc, JupiterStandIn(rpc.chain, oracle=oracle) as jup:
        fund(rpc.chain, key, WALLET)
        if faults is not None:
            faults(rpc, jup)

        async def main() -> tuple[dict[str, Any], dict[str, int], int]:
            async with httpx.AsyncClient() as http:
                chain = ChainClient(rpc.url, poll_s=0.0)
                ex = Executor(JupiterClient(JupiterSettings(base_url=jup.base), http), chain,
                              Signer.from_file(kp), limits)  # fmt: skip
                rep = await run_paper(live, FeedConfig(url=f"ws://127.0.0.1:{port}"),
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
    return rep, held, sol, st, strat, key


def test_a_live_run_on_a_recorded_feed_books_what_the_chain_did(
    server_of_pump: int,  # noqa: F811
    tmp_path: Path,
) -> None:
    limits = ExecutorSettings(max_drift_pct=50, max_impact_pct=50)
    rep, held, sol, st, strat, _ = _run_live(server_of_pump, tmp_path, limits)
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
    # The run started with the strategy's 10 SOL; at start the wallet's 20 won.
    assert st.con.execute(
        "SELECT asset, log_amount, chain_amount FROM reconciliations WHERE source = 'live-e2e'"
    ).fetchall() == [("SOL", 10 * 10**9, WALLET)]
    assert rep["state"]["glob"][0] == sol
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


def test_a_burst_of_orders_failing_for_good_trips_the_emergency_stop(
    server_of_pump: int,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Swaps that land and fail are dead letters; the third within the window logs an
    emergency stop that the run applies: no entry after it."""

    def failing(rpc: SolanaRpc, jup: JupiterStandIn) -> None:
        rpc.chain.simulate = False  # the node's simulation passed on a state that changed
        jup.script("swap", *[("fail", None)] * 50)

    limits = ExecutorSettings(max_drift_pct=50, max_impact_pct=50, max_dead_letters=3)
    rep, held, _, st, _, _ = _run_live(server_of_pump, tmp_path, limits, failing)
    letters = st.con.execute(
        "SELECT reason, category, order_json, signature FROM dead_letters WHERE source = ? "
        "ORDER BY seq",
        ["live-e2e"],
    ).fetchall()
    assert len(letters) >= 3 and {r[0] for r in letters} == {"landed_failed"}
    assert all(r[1] == "critical" and json.loads(r[2])["mint"] and r[3] for r in letters)
    ((stop_ts,),) = st.con.execute(
        "SELECT min(ts_ns) FROM controls WHERE source = 'venue' AND name = 'emergency-stop'"
    ).fetchall()
    tripped = st.con.execute(
        "SELECT min(ts_ns) FROM risk WHERE source = 'live-e2e' AND breaker_name = "
        "'emergency_stop' AND event = 1"
    ).fetchall()[0]
    later_buys = st.con.execute(
        "SELECT count(*) FROM orders WHERE source = 'live-e2e' AND side = 1 AND ts_ns > ?",
        [tripped[0]],
    ).fetchall()[0][0]
    assert tripped[0] >= stop_ts and later_buys == 0
    assert rep["fills"] == 0 and not any(held.values())  # every swap failed: nothing held
