"""kill -9 during live trading never sends a second transaction for an order.

Ten trials kill a live run as soon as it reports an order boundary: an order's
signature journaled (about to be sent), sent (about to be confirmed), its ending
journaled (about to be booked by the kernel), or some batch appended. Each restart
settles what the journal names against the chain before it sends anything. Afterwards:
at most one transaction landed per order, every landed one was journaled first, the
kernel's books equal the wallet's, and a replay of the run's inputs makes the same
events. The feed plays in this process, and the Jupiter stand-in's pools follow the
price the feed last sent for each token, as a real market would.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import subprocess
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from solders.keypair import Keypair
from spl.token.instructions import get_associated_token_address

from data.feed.server import RecordedFeedServer, load_tape
from data.store import open_store
from tests.child_progress import Progress
from tests.conftest import REPO
from tests.jupiter_standin import JupiterStandIn
from tests.solana_rpc import SolanaRpc, fund
from tests.test_paper import CLI, EAGER, SETTINGS, busy_market  # noqa: F401  (fixture)

WALLET = 5 * 10**9
VENUE_EVENTS = ("order_journaled", "order_sent", "order_ended")
STRATEGY = (
    EAGER
    + """max_consecutive_losses = 1e9
max_daily_loss_sol = 1e9
max_daily_loss_pct = 1e3
max_slippage_pct = 1.0
"""
)


def _cmd(port: int, tmp: Path, run_id: str) -> list[str]:
    return [*CLI, "run", "--mode", "live", "--feed", f"ws://127.0.0.1:{port}", "--store",
            str(tmp / "live"), "--config", str(tmp / "s.toml"), "--settings",
            str(tmp / "live.toml"), "--keypair", str(tmp / "w.json"), "--run-id", run_id,
            "--confirm-real-money", "--duration", "600", "--json"]  # fmt: skip


class FeedHere:
    """The recorded market played by a feed server on a thread of this process."""

    def __init__(self, store: Path, speed: float) -> None:
        self.tape = load_tape(open_store(store))
        self.of_mint = {a: np.flatnonzero(self.tape.mint_id == m)
                        for m, a in enumerate(self.tape.address)}  # fmt: skip
        self.srv = RecordedFeedServer(self.tape, speed=speed)
        ready = threading.Event()
        self.loop = asyncio.new_event_loop()

        def main() -> None:
            asyncio.set_event_loop(self.loop)
            self.port = self.loop.run_until_complete(self.srv.start())
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=main, daemon=True)
        self.thread.start()
        ready.wait()

    def price(self, mint: str) -> float:
        """The price the feed last sent for `mint` (0 before any)."""
        idx = self.of_mint.get(mint)
        if idx is None:
            return 0.0
        k = int(np.searchsorted(idx, self.srv.played)) - 1
        return float(self.tape.price[idx[k]]) if k >= 0 else 0.0

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.srv.close(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)


@pytest.mark.slow
def test_kill_9_at_order_boundaries_never_doubles_an_order(
    busy_market: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    key = Keypair()
    (tmp_path / "w.json").write_text(json.dumps(list(bytes(key))))
    (tmp_path / "w.json").chmod(0o600)
    (tmp_path / "s.toml").write_text(STRATEGY)
    rng = random.Random(16)
    killed_at: list[str] = []
    feed = FeedHere(busy_market, 150)
    with SolanaRpc() as rpc, JupiterStandIn(rpc.chain, oracle=feed.price) as jup:
        fund(rpc.chain, key, WALLET)
        (tmp_path / "live.toml").write_text(
            SETTINGS
            + f"""
[venue]
rpc_url = "{rpc.url}"
size_caps = [[0, 0.02]]
daily_loss_limit_sol = 100
confirm_poll_s = 0.01
[venue.jupiter]
base_url = "{jup.base}"
[venue.limits]
max_drift_pct = 50
max_impact_pct = 50
reserve_lamports = 1000000
"""
        )
        port = feed.port
        try:
            for trial in range(10):
                child = Progress(_cmd(port, tmp_path, "crashy"),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
                if trial % 4 == 3:  # after some batch of this session
                    started = child.wait_for(lambda e: e["event"] == "started")
                    k = int(started["next_batch"]) + rng.randint(1, 30)
                    child.wait_for(lambda e, b=k: e["event"] == "appended" and e["batch_no"] >= b)
                    killed_at.append("appended")
                else:  # at an order boundary: the n-th of this session
                    what = VENUE_EVENTS[trial % 4 % 3]
                    n = [0, rng.randint(1, 3)]

                    def hit(e: dict[str, Any], what: str = what, n: list[int] = n) -> bool:
                        n[0] += e["event"] == what
                        return n[0] >= n[1]

                    child.wait_for(hit)
                    killed_at.append(what)
                child.proc.send_signal(signal.SIGKILL)
                child.proc.wait()
                child.close()
            final = Progress(_cmd(port, tmp_path, "crashy"), text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
            ends = [0]

            def third_end(e: dict[str, Any]) -> bool:
                ends[0] += e["event"] == "order_ended"
                return ends[0] >= 3

            final.wait_for(third_end)
            final.close()
            final.proc.send_signal(signal.SIGTERM)
            out, err = final.proc.communicate(timeout=180)
        finally:
            feed.close()
        assert final.proc.returncode == 0, err
        landed = set(rpc.chain.landed)
    assert set(killed_at) == {*VENUE_EVENTS, "appended"}
    st = open_store(tmp_path / "live")
    sigs = st.con.execute(
        "SELECT order_id, list(signature) FROM venue_orders WHERE source = 'crashy' AND "
        "status = 'submitted' GROUP BY 1"
    ).fetchall()
    journaled = {s for _, ss in sigs for s in ss}
    assert landed <= journaled  # nothing reached a block without its signature journaled
    for oid, ss in sigs:
        assert sum(s in landed for s in ss) <= 1, f"order {oid} landed twice"
    rep = json.loads(out)
    assert rep["fills"] >= 3 and rep["recovered_batches"] > 0
    # Every start compared the books with the wallet and found them equal: no crash point
    # left the log and the chain apart.
    ((starts, apart),) = st.con.execute(
        "SELECT count(DISTINCT ts_ns), count(*) FILTER (WHERE difference <> 0) "
        "FROM reconciliations WHERE source = 'crashy'"
    ).fetchall()
    assert starts == 11 and apart == 0
    # The kernel's books are the wallet's (the chain is the truth after every restart).
    positions = {int(r[1]): int(r[2]) for r in rep["state"]["positions"]}  # mint -> qty
    names = dict(st.con.execute("SELECT mint_id, mint FROM mints").fetchall())
    held = {names[m]: q for m, q in positions.items()}
    for mint, pool in jup.pools.items():
        tokens = rpc.chain.token_amount(get_associated_token_address(key.pubkey(), pool.mint))
        assert (tokens[0] if tokens else 0) == held.get(mint, 0), mint
    wallet = int(rpc.chain.svm.get_balance(key.pubkey()))
    assert rep["state"]["glob"][0] - WALLET == wallet - WALLET
    cmd = [*CLI, "verify", "parity", "crashy", "--store", str(tmp_path / "live"), "--json"]
    ver = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert ver.returncode == 0 and json.loads(ver.stdout)["differences"] == 0, ver.stdout
