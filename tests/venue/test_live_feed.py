"""Live mode end to end, in process: a recorded pump.fun feed over a real websocket, the
kernel deciding, the router trading through the executor on the LiteSVM chain and the
Jupiter stand-in (whose pools follow the feed's prices), the fills coming back as input
events. Every fill equals the wallet's balance changes in its transaction, the kernel's
books equal the wallet's, and a replay of the run's inputs makes the same events."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from rich.console import Console
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from data.feed.client import FeedConfig, WallClock
from data.importers import import_file
from data.store import EventStore, open_store
from engine.layout import MF_LAST_PRICE
from replay.cli.render import render_paper_twin
from replay.live.paper import replay_inputs, run_paper
from replay.live.paper_twin import compare_to_twin, run_answer_swap, run_paper_twin
from replay.live.run import LiveRun, LiveSettings, first_difference, logged_tables
from replay.venue.chain import ChainClient
from replay.venue.executor import Executor, ExecutorSettings
from replay.venue.jupiter import JupiterClient, JupiterSettings
from replay.venue.signer import Signer
from strategies.config import StrategyConfig, load_strategy
from tests.conftest import REPO, shared_data_dir
from tests.jupiter_standin import JupiterStandIn
from tests.solana_rpc import SolanaRpc, fund
from tests.test_paper import CLI, EAGER, server_of_pump  # noqa: F401  (fixture)
from tests.test_replay import pump_store  # noqa: F401  (fixture)

WALLET = 20 * 10**9
KEEP = os.environ.get("CLANKA_TEST_KEEP_STORE")  # a copy of the store, to look at by hand


def _run_live(
    port: int, tmp: Path, limits: ExecutorSettings,
    faults: Callable[[SolanaRpc, JupiterStandIn], None] | None = None,
    strategy: str = EAGER.replace("time_stop_s = 1\n", "time_stop_s = 2\n"),
    until_ticks: int | None = None,
) -> tuple[dict[str, Any], dict[str, int], int, EventStore, StrategyConfig, Keypair]:  # fmt: skip
    """A live run on the recorded feed, of 8 s or until it has taken `until_ticks` ticks
    (the whole recording: progress, not time); its report, the wallet's holdings and SOL."""
    cfg = tmp / "eager.toml"
    cfg.write_text(strategy)
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
                stop = asyncio.Event()

                def whole_feed(run: LiveRun, _: object) -> None:
                    if until_ticks is not None and run.stats.ticks >= until_ticks:
                        stop.set()

                rep = await run_paper(live, FeedConfig(url=f"ws://127.0.0.1:{port}"),
                                      WallClock(), duration_s=8 if until_ticks is None else None,
                                      stop=stop, venue=ex, on_batch=whole_feed)  # fmt: skip
                held = {}
                for mint in {str(p.mint) for p in jup.pools.values()}:
                    held[mint] = await chain.token_balance(key.pubkey(), Pubkey.from_string(mint))
                sol = await chain.balance(key.pubkey())
                await chain.close()
                return rep, held, sol

        rep, held, sol = asyncio.run(main())
    st.refresh()
    return rep, held, sol, st, strat, key


def _books_are_the_chains(st: EventStore, rep: dict[str, Any], held: dict[str, int],
                          sol: int) -> None:  # fmt: skip
    """Every fill is its transaction's balance changes; the kernel's cash and positions
    are the wallet's."""
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


def test_a_live_run_on_a_recorded_feed_books_what_the_chain_did(
    server_of_pump: int,  # noqa: F811
    tmp_path: Path,
) -> None:
    limits = ExecutorSettings(max_drift_pct=50, max_impact_pct=50)
    rep, held, sol, st, strat, _ = _run_live(server_of_pump, tmp_path, limits)
    assert rep["venue"] == "external" and rep["fills"] > 4 and rep["trades"] > 1, rep
    _books_are_the_chains(st, rep, held, sol)
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


TRADES = "pumpfun_trades_2025-01-30_to_2025-01-31.parquet"
HISTORY_FROM = "2025-01-31T09:33:00"  # from the first trade of the busiest of its 3 mints


@pytest.fixture(scope="module")
def trades_feed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, int]]:
    """The per-trade pump.fun history (3 mints rising tenfold and falling back), served
    as a websocket feed at 2,000x: its port and the number of ticks it serves."""
    d = shared_data_dir()
    if not (d / TRADES).exists():
        pytest.skip("shared data not available")
    st = open_store(tmp_path_factory.mktemp("trades") / "s", create=True)
    import_file(st, d / TRADES)
    st.close()
    proc = subprocess.Popen([*CLI, "feed", "serve", "--from-store", str(st.root), "--speed",
                             "2000", "--port", "0", "--from", HISTORY_FROM], cwd=REPO,
                            text=True, stderr=subprocess.PIPE)  # fmt: skip
    assert proc.stderr is not None
    line = proc.stderr.readline()  # "serving N ticks of M mints on ws://127.0.0.1:P ..."
    got = re.search(r"serving ([\d,]+) ticks .* ws://127\.0\.0\.1:(\d+)", line)
    assert got is not None, line
    yield int(got.group(2)), int(got.group(1).replace(",", ""))
    proc.kill()
    proc.wait()


def _decided(st: EventStore, run: str) -> list[tuple[int, int, str, str]]:
    return st.con.execute(
        "SELECT ts_ns, mint_id, action_name, reason_name FROM decisions WHERE source = ? "
        "ORDER BY run_seq",
        [run],
    ).fetchall()


def test_live_buys_takes_partial_profits_and_stops_out_and_parts_from_paper_only_by_fills(
    trades_feed: tuple[int, int],
    tmp_path: Path,
) -> None:
    """The whole recorded history (the run stops once it has taken every tick: progress,
    not time), traded live with the default stop and three targets. Then the paper twin
    (the same strategy on the simulated venue, fed the very inputs the live run took, its
    venue's answers left out) and the answer swap (the live program fed the twin's fills
    as venue reports): the swap decides exactly as the twin, so the live run and its twin
    can differ only through the venue's answers, and they part after the first answer
    that differs."""
    port, n_ticks = trades_feed
    strategy = EAGER.replace("time_stop_s = 1\n", "time_stop_s = 14400\n") + (
        "max_slippage_pct = 1.0\n"  # the breaker measures live fills from the decision
        # The 2,000x replay moves the price seconds of market time between an order and
        # its fill, so which early trades lose depends on how fast the loop is: the
        # losing-streak breaker (3 by default) is not what this test is about.
        "max_consecutive_losses = 1000\n"
    )
    limits = ExecutorSettings(max_drift_pct=50, max_impact_pct=50)
    rep, held, sol, st, _, _ = _run_live(port, tmp_path, limits, strategy=strategy,
                                             until_ticks=n_ticks)  # fmt: skip
    assert rep["ticks_processed"] >= n_ticks
    _books_are_the_chains(st, rep, held, sol)
    # Partial profits: a target-1 sell sold part of its position, which stayed open.
    partial = st.con.execute(
        "SELECT f.qty, o.qty FROM fills f JOIN fills o ON o.source = f.source AND "
        "o.pos_id = f.pos_id AND o.side = 1 WHERE f.source = 'live-e2e' AND "
        "f.reason_name = 'target_1'"
    ).fetchall()
    assert partial and all(0 < sold < bought for sold, bought in partial), partial
    ((stops,),) = st.con.execute(
        "SELECT count(*) FROM fills WHERE source = 'live-e2e' AND reason_name = 'stop_loss'"
    ).fetchall()
    assert stops > 0, rep["exit_reasons"]

    twin = run_paper_twin(st, "live-e2e", "twin")
    doc = compare_to_twin(st, "live-e2e", twin)
    assert doc["explained_by_venue"], doc["first_difference"]
    assert doc["same_decisions_before_parting"] >= 1  # the first entry, at least
    if doc["first_difference"] is not None:
        gap = doc["first_answer_difference"]
        parted = min(d["ts_ns"] for d in doc["first_difference"].values()
                     if isinstance(d, dict))  # fmt: skip
        assert (
            gap is not None
            and min(a["ts_ns"] for a in (gap["live"], gap["paper"]) if a is not None) <= parted
        )
    swap = run_answer_swap(st, "live-e2e", twin, "swap")
    twin_risk = st.con.execute(
        "SELECT min(ts_ns) FROM risk WHERE source = ? AND event = 1", [twin]
    ).fetchall()[0][0]
    swap_risk = st.con.execute(
        "SELECT min(ts_ns) FROM risk WHERE source = 'swap' AND event = 1"
    ).fetchall()[0][0]
    # A breaker trip may differ (live measures a fill's impact from the decision price,
    # paper from the price of the tick it filled at); up to the first trip, if any, the
    # swap's decisions are the twin's, one for one, and so are its positions.
    until = min((t for t in (twin_risk, swap_risk) if t is not None), default=2**63 - 1)
    want = [d for d in _decided(st, twin) if d[0] <= until]
    assert len(want) >= 4 and [d for d in _decided(st, swap) if d[0] <= until] == want
    closes = "SELECT ts_ns, mint_id, reason, sol FROM positions WHERE source = ? AND " \
             "event = 2 AND ts_ns <= ? ORDER BY run_seq"  # fmt: skip
    assert st.con.execute(closes, ["swap", until]).fetchall() == \
        st.con.execute(closes, [twin, until]).fetchall()  # fmt: skip
    # What a user reads: the parting decision and the answer behind it, in words.
    con = Console(record=True, width=160)
    render_paper_twin(con, doc)
    text = con.export_text()
    assert "explained by the venue" in text and "│ yes" in text
    assert doc["first_difference"] is None or "first different answer (order" in text
    # The command a user runs says the same, and refuses a run that was not live.
    st.close()
    cmd = [*CLI, "verify", "paper", "live-e2e", "--store", str(st.root), "--json"]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    said = json.loads(done.stdout)
    assert {k: said[k] for k in ("same_decisions_before_parting", "paper_decisions",
                                 "answers_differing", "explained_by_venue")} == \
        {k: doc[k] for k in ("same_decisions_before_parting", "paper_decisions",
                             "answers_differing", "explained_by_venue")}  # fmt: skip
    cmd[cmd.index("live-e2e")] = twin
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "did not trade on an external venue" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    if KEEP:
        shutil.copytree(st.root, KEEP, dirs_exist_ok=True)
