"""`clanka run --mode live` as a user runs it: the real-money guard, the dry run that
sends nothing, and a live run whose fills are the wallet's balance changes, against the
LiteSVM chain and the Jupiter stand-in, with the key in no output and no file."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from solders.keypair import Keypair

from data.store import EventStore, open_store
from tests.conftest import REPO
from tests.jupiter_standin import JupiterStandIn
from tests.solana_rpc import SolanaRpc, fund
from tests.test_paper import CLI, EAGER, SETTINGS, _serve
from tests.test_replay import pump_store  # noqa: F401  (fixture)

WALLET = 3 * 10**9


@pytest.fixture
def chain_and_jupiter(pump_store: EventStore) -> Iterator[tuple[SolanaRpc, JupiterStandIn]]:  # noqa: F811
    # The pools price each token at its last recorded trade: a market the feed walks to.
    last = dict(pump_store.con.execute(
        "SELECT mi.mint, arg_max(t.price, t.ts_ns) FROM ticks t JOIN mints mi USING (mint_id) "
        "GROUP BY 1"
    ).fetchall())  # fmt: skip
    with SolanaRpc() as rpc, JupiterStandIn(rpc.chain, oracle=lambda m: last.get(m, 0.0)) as jup:
        yield rpc, jup


def _files(tmp: Path, rpc: SolanaRpc, jup: JupiterStandIn, key: Keypair) -> dict[str, Path]:
    strat = tmp / "eager.toml"
    strat.write_text(EAGER)
    settings = tmp / "live.toml"
    settings.write_text(
        SETTINGS
        + f"""
[venue]
rpc_url = "{rpc.url}"
size_caps = [[0, 0.02], [7, 0.1]]
daily_loss_limit_sol = 0.05
[venue.jupiter]
base_url = "{jup.base}"
[venue.limits]
max_drift_pct = 1000
max_impact_pct = 50
reserve_lamports = 1000000
"""
    )
    wallet = tmp / "wallet.json"
    wallet.write_text(json.dumps(list(bytes(key))))
    wallet.chmod(0o600)
    return {"strategy": strat, "settings": settings, "keypair": wallet}


def _live(port: int, store: Path, f: dict[str, Path], run_id: str, *extra: str) -> list[str]:
    return [*CLI, "run", "--mode", "live", "--feed", f"ws://127.0.0.1:{port}", "--store",
            str(store), "--config", str(f["strategy"]), "--settings", str(f["settings"]),
            "--keypair", str(f["keypair"]), "--run-id", run_id, "--duration", "6", "--json",
            *extra]  # fmt: skip


def _without(cmd: list[str], flag: str) -> list[str]:
    k = cmd.index(flag)
    return cmd[:k] + cmd[k + 2 :]


def test_live_mode_refuses_to_start_without_its_guards(
    chain_and_jupiter: tuple[SolanaRpc, JupiterStandIn], tmp_path: Path
) -> None:
    rpc, jup = chain_and_jupiter
    f = _files(tmp_path, rpc, jup, Keypair())
    store = tmp_path / "s"
    cases: list[tuple[list[str], str]] = [
        (_live(1, store, f, "g1"), "add --confirm-real-money, or rehearse with --dry-run"),
        (
            [
                a
                for a in _live(1, store, f, "g2", "--confirm-real-money")
                if a not in ("--keypair", str(f["keypair"]))
            ],
            "needs --keypair",
        ),
    ]
    f["keypair"].chmod(0o644)
    cases.append((_live(1, store, f, "g3", "--confirm-real-money"), "chmod 600"))
    for cmd, says in cases:
        done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)
        lines = done.stderr.strip().splitlines()
        assert done.returncode != 0 and len(lines) == 1 and says in lines[0], done.stderr
    assert "sendTransaction" not in rpc.calls


def _played(market: EventStore, cmd: Callable[[int], list[str]]) -> Any:
    """Run `cmd(port)` against a fresh feed server playing the recorded market."""
    server, port = _serve(market.root, 1000)
    try:
        return subprocess.run(cmd(port), cwd=REPO, capture_output=True, text=True, timeout=180)
    finally:
        server.kill()
        server.wait()


def _books(store: Path, run: str) -> tuple[dict[str, Any], list[Any]]:
    st = open_store(store)
    params = json.loads(st.con.execute(
        "SELECT params_json FROM runs WHERE run_id = ? ORDER BY seq LIMIT 1", [run]
    ).fetchall()[0][0])  # fmt: skip
    rows = st.con.execute(
        "SELECT v.status, v.side, v.sol_delta, v.token_delta, v.fee + v.rent, f.qty, f.sol, "
        "f.network_fee FROM venue_orders v LEFT JOIN fills f ON f.source = v.source AND "
        "f.order_id = v.order_id WHERE v.source = ? AND v.status <> 'submitted' ORDER BY v.seq",
        [run],
    ).fetchall()
    return params, rows


def test_a_live_run_and_its_dry_run_rehearsal(
    chain_and_jupiter: tuple[SolanaRpc, JupiterStandIn],
    pump_store: EventStore,  # noqa: F811
    tmp_path: Path,
) -> None:
    rpc, jup = chain_and_jupiter
    key = Keypair()
    fund(rpc.chain, key, WALLET)
    f = _files(tmp_path, rpc, jup, key)
    store = tmp_path / "live"
    dry = _played(pump_store, lambda port: _live(port, store, f, "rehearsal", "--dry-run"))
    assert dry.returncode == 0, dry.stderr
    rep = json.loads(dry.stdout)
    assert rep["mode"] == "dry-run" and rep["venue"] == "simulated" and rep["fills"] > 0
    assert "sendTransaction" not in rpc.calls  # quoted and checked, never sent
    params, rows = _books(store, "rehearsal")
    assert rows and {r[0] for r in rows} == {"dry_run"}
    assert params["max_position_sol"] == 0.02  # the schedule's cap on day 0
    assert params["initial_cash_sol"] == WALLET / 1e9  # the wallet's SOL, not the config's
    live = _played(pump_store, lambda port: _live(port, store, f, "real", "--confirm-real-money"))
    assert live.returncode == 0, live.stderr
    rep = json.loads(live.stdout)
    assert rep["mode"] == "live" and rep["venue"] == "external" and rep["fills"] > 0, rep
    _, rows = _books(store, "real")
    filled = [r for r in rows if r[0] == "filled"]
    assert len(filled) == rep["fills"] and "sendTransaction" in rpc.calls
    for _, side, sol_delta, tok_delta, costs, qty, sol, netfee in filled:
        assert (qty, netfee) == (abs(tok_delta), costs)  # the kernel booked the chain's
        assert sol == (-sol_delta - costs if side == 1 else sol_delta + costs)
    # Execution quality, the same figures for the live run and its rehearsal.
    cmd = [*CLI, "execution", "real", "--store", str(store), "--json", "--last", "100"]
    ex = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert ex.returncode == 0, ex.stderr
    doc = json.loads(ex.stdout)
    assert doc["venue"] == "live" and doc["filled"] == rep["fills"] == len(doc["orders"])
    by_hand = sorted(
        ((-sol_delta - costs) / 1e9 / (tok_delta / 1e6)) if side == 1
        else ((sol_delta + costs) / 1e9 / (-tok_delta / 1e6))
        for _, side, sol_delta, tok_delta, costs, *_ in filled
    )  # fmt: skip
    assert sorted(o["filled_price"] for o in doc["orders"]) == pytest.approx(by_hand)
    rehearsal = subprocess.run([*CLI, "execution", "rehearsal", "--store", str(store), "--json"],
                               cwd=REPO, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert json.loads(rehearsal.stdout)["venue"] == "simulated"
    # The key is in no output and no file of the store.
    secret = bytes(key)
    for text in (dry.stdout, dry.stderr, live.stdout, live.stderr):
        assert str(key) not in text and json.dumps(list(secret)) not in text
    for p in store.rglob("*"):
        if p.is_file():
            data = p.read_bytes()
            assert secret not in data and str(key).encode() not in data, p
