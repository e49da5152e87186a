"""Hostile feeds: frames that panic parsers, servers that echo secrets, dead URLs, runs
fighting over one run id. Paper mode must quarantine, redact, record and refuse, and
never die on what a peer sends."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from data.feed.client import FeedConfig, PumpFunFeed, WallClock
from data.feed.wire import FeedProblem, FeedTick
from data.store import open_store
from tests.child_progress import Progress
from tests.hostile.feeds import KEY, SIG, Server, paper_cmd, trade_frame
from tests.hostile.harness import BAD_MARKERS, clanka, clean, files_containing


def _stop_after(child: Progress, pred: Callable[[dict[str, object]], bool]) -> tuple[str, str]:
    child.wait_for(pred)
    child.close()
    child.proc.send_signal(signal.SIGTERM)
    out, err = child.proc.communicate(timeout=120)
    return out, err


# ------------------------------------------------------------------- item 4
def test_item4_frames_that_panic_solders_are_quarantined_and_the_run_goes_on(
    tmp_path: Path, files: tuple[Path, Path]
) -> None:
    async def script(ws: ServerConnection, sent: list[str]) -> None:
        for n in range(50):
            bad = trade_frame(n, sig=["abc", "1" * 10, "0OIl" * 22, ""][n % 4])
            await ws.send(bad)  # not 64 base58 bytes: solders' getter would panic
            await ws.send(trade_frame(n))

    store = tmp_path / "s"
    with Server(script) as srv:
        child = Progress(paper_cmd(f"ws://127.0.0.1:{srv.port}", store, files, "p4"),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
        out, err = _stop_after(child, lambda e: e["event"] == "rolled" and e["through"] >= 3)
    assert child.proc.returncode == 0, err
    assert not any(m in err for m in BAD_MARKERS), err
    rep = json.loads(out)
    st = open_store(store)
    (reasons,) = st.con.sql("SELECT list(DISTINCT reason) FROM quarantine").fetchall()[0]
    assert reasons == ["bad_signature"]
    assert rep["ticks_processed"] > 0 and rep["feed_problems"] > 0


_SIGS = hs.one_of(hs.text(max_size=100), hs.sampled_from([SIG, SIG[:-1], SIG + "1", "1" * 64]),
                  hs.integers().map(str))  # fmt: skip
_LEAF = hs.none() | hs.booleans() | hs.integers() | hs.floats() | hs.text(max_size=6)
_ANY_JSON = hs.recursive(_LEAF, lambda c: hs.lists(c, max_size=3)
                         | hs.dictionaries(hs.text(max_size=6), c, max_size=3),
                         max_leaves=6)  # fmt: skip


@hs.composite
def _notification(draw: hs.DrawFn) -> str:
    """A logs or account notification with any field replaced by anything."""
    kind = draw(hs.sampled_from(["logs", "account", "raw"]))
    if kind == "raw":
        return draw(hs.text(max_size=60))
    value: dict[str, object]
    if kind == "logs":
        value = {
            "signature": draw(_SIGS),
            "err": draw(hs.one_of(hs.none(), _ANY_JSON)),
            "logs": draw(hs.one_of(hs.lists(hs.text(max_size=20), max_size=4), _ANY_JSON)),
        }
        method = "logsNotification"
    else:
        value = {"data": draw(hs.one_of(hs.just(["AAAA", "base64"]), _ANY_JSON)),
                 "executable": False, "lamports": draw(hs.integers()),
                 "owner": draw(_SIGS), "rentEpoch": 0, "space": 0}  # fmt: skip
        method = "accountNotification"
    for k in draw(hs.lists(hs.sampled_from(list(value)), max_size=2)):
        value[k] = draw(_ANY_JSON)
    sub = draw(hs.one_of(hs.just(7), hs.integers(), _ANY_JSON))
    return json.dumps({"jsonrpc": "2.0", "method": method,
                       "params": {"result": {"context": {"slot": draw(hs.integers(-5, 2**70))},
                                             "value": value},
                                  "subscription": sub}})  # fmt: skip


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(frames=hs.lists(_notification(), min_size=1, max_size=6))  # fmt: skip
def test_fuzz_notifications_never_end_the_connection_or_print_a_panic(
    frames: list[str], capfd: pytest.CaptureFixture[str]
) -> None:
    """Every frame is a tick, a problem, or (a reply-shaped message) nothing; the same
    connection then delivers a good trade, and nothing was printed along the way."""
    frames = [*frames, trade_frame(1)]

    async def main() -> tuple[list[object], PumpFunFeed]:
        async def handler(ws: ServerConnection) -> None:
            await ws.recv()
            await ws.send(json.dumps({"jsonrpc": "2.0", "result": 7, "id": 1}))
            for f in frames:
                await ws.send(f)
            await ws.wait_closed()

        async with serve(handler, "127.0.0.1", 0) as srv:
            port = srv.sockets[0].getsockname()[1]
            items: list[object] = []
            feed = PumpFunFeed(FeedConfig(url=f"ws://127.0.0.1:{port}", watch_curves=False),
                               WallClock(), items.append)  # fmt: skip
            stop = asyncio.Event()
            task = asyncio.create_task(feed.run(stop))
            for _ in range(500):
                if feed.health.frames >= len(frames):
                    break
                await asyncio.sleep(0.01)
            stop.set()
            await task
            return items, feed

    items, feed = asyncio.run(main())
    assert feed.health.reconnects == 0 and feed.health.frames == len(frames)
    assert all(isinstance(i, FeedTick | FeedProblem) for i in items)
    assert isinstance(items[-1], FeedTick)  # the connection outlived everything before it
    printed = capfd.readouterr()
    assert not any(m in printed.err + printed.out for m in BAD_MARKERS), printed.err[-2000:]


# ------------------------------------------------------------------ item 12
def test_item12_a_server_that_echoes_the_key_never_gets_it_into_the_store(
    tmp_path: Path, files: tuple[Path, Path]
) -> None:
    async def script(ws: ServerConnection, sent: list[str]) -> None:
        assert ws.request is not None
        path = ws.request.path  # holds the key, as a provider's URL does
        for n in range(20):
            await ws.send(trade_frame(n))
        await ws.send(f"unknown route {path}")  # unparseable: quarantined with its text
        await ws.send(trade_frame(99, extra_log=f"Program data: {path}"))  # not base64
        await ws.send(json.dumps({"jsonrpc": "2.0", "method": "logsNotification",
                                  "params": {"result": {"context": {"slot": 5}, "value": {
                                      "signature": path, "err": None, "logs": []}},
                                             "subscription": 7}}))  # fmt: skip
        await ws.close(code=4000, reason=f"bye {path}"[:120])  # the reason names the path

    store = tmp_path / "s"
    env_key = {"CLANKA_FEED_API_KEY": KEY}
    logs = tmp_path / "logs"
    log_env = {**env_key, "CLANKA_LOG_LEVEL": "DEBUG", "CLANKA_LOG_FORMAT": "json",
               "CLANKA_LOG_FILE": str(logs / "paper.log"),
               "CLANKA_TRADE_LOG": str(logs / "trades.log")}  # fmt: skip
    with Server(script) as srv:
        url = f"ws://127.0.0.1:{srv.port}/?api-key={{api_key}}"
        child = Progress(paper_cmd(url, store, files, "p12"), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env_extra=log_env)  # fmt: skip
        out, err = _stop_after(child, lambda e: e["event"] == "gap")
        assert any(KEY in p for p in srv.paths)  # the key really went to the server
        rec = clanka("feed", "record", url, "--store", str(tmp_path / "rec"), "--duration", "2",
                     env=env_key)  # fmt: skip
    clean(rec, one_line_error=False)
    for text in (out, err, rec.out, rec.err):
        assert KEY not in text
    for root in (store, tmp_path / "rec", logs):
        assert files_containing(root, KEY.encode()) == []
    # The logs (JSON lines, every level) say what happened, the gap among it.
    lines = [json.loads(x) for x in (logs / "paper.log").read_text().splitlines()]
    said = [(x["level"], x["logger"], x["message"]) for x in lines]
    assert any(lvl == "WARNING" and "feed gap" in msg for lvl, _, msg in said), said
    assert any(lvl == "INFO" and "paper run p12 started" in msg for lvl, _, msg in said)
    assert all("***" in msg for _, _, msg in said if "api-key=" in msg)
    q = "SELECT count(*) FILTER (WHERE contains(frame, '***')) FROM feed_frames"
    assert open_store(tmp_path / "rec").con.sql(q).fetchall()[0][0] >= 1  # echoed, redacted
    st = open_store(store)
    raws = [r for (r,) in st.con.sql("SELECT raw || detail FROM quarantine").fetchall()]
    assert len(raws) >= 3 and all("***" in r for r in raws[-3:])  # quoted, then redacted
    reasons = st.con.sql("SELECT reason FROM feed_gaps WHERE source = 'p12'").fetchall()
    assert reasons and all(KEY not in r for (r,) in reasons)


# ------------------------------------------------------------------ item 13
def test_item13_a_second_run_with_the_same_id_is_refused(
    tmp_path: Path, files: tuple[Path, Path]
) -> None:
    async def script(ws: ServerConnection, sent: list[str]) -> None:
        with contextlib.suppress(ConnectionClosed):
            for n in range(10_000):
                await ws.send(trade_frame(n))
                await asyncio.sleep(0.005)

    store = tmp_path / "s"
    with Server(script) as srv:
        url = f"ws://127.0.0.1:{srv.port}"
        first = Progress(paper_cmd(url, store, files, "same"), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)  # fmt: skip
        first.wait_for(lambda e: e["event"] == "rolled")
        second = subprocess.run(paper_cmd(url, store, files, "same", "--duration", "5"),
                                capture_output=True, text=True, timeout=120)  # fmt: skip
        _, err = _stop_after(first, lambda e: e["event"] == "rolled")
    assert second.returncode == 1
    assert second.stderr.strip() == f"error: run same is running (pid {first.proc.pid})"
    assert first.proc.returncode == 0, err
    st = open_store(store)
    q = "SELECT batch_no FROM live_batches WHERE source = 'same' ORDER BY 1"
    nos = [b for (b,) in st.con.sql(q).fetchall()]
    assert nos == list(range(len(nos))) and nos  # one run, no repeated batch numbers


# ------------------------------------------------------------------ item 16
@pytest.fixture
def dead_port() -> Iterator[int]:
    import socket

    with socket.socket() as s:  # bound, never listening: connections are refused
        s.bind(("127.0.0.1", 0))
        yield int(s.getsockname()[1])


def test_item16_an_unreachable_feed_is_a_gap_and_a_failure(
    tmp_path: Path, files: tuple[Path, Path], dead_port: int
) -> None:
    store = tmp_path / "s"
    child = Progress(paper_cmd(f"ws://127.0.0.1:{dead_port}", store, files, "dead"),
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    out, err = _stop_after(child, lambda e: e["event"] == "rolled")
    assert child.proc.returncode == 1
    (line,) = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert "never connected" in line
    rep = json.loads(out)
    assert rep["feed"]["connected"] is False and rep["ticks_processed"] == 0
    q = "SELECT count(*) FROM feed_gaps WHERE source = 'dead'"
    assert open_store(store).con.sql(q).fetchall() == [(1,)]


def test_item16_a_feed_whose_every_frame_is_quarantined_fails(
    tmp_path: Path, files: tuple[Path, Path]
) -> None:
    async def script(ws: ServerConnection, sent: list[str]) -> None:
        for n in range(200):
            await ws.send(trade_frame(n, sig="bad"))

    store = tmp_path / "s"
    with Server(script) as srv:
        child = Progress(paper_cmd(f"ws://127.0.0.1:{srv.port}", store, files, "junk"),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
        _, err = _stop_after(child, lambda e: e["event"] == "rolled" and e["through"] >= 5)
    assert child.proc.returncode == 1, err
    (line,) = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert "was quarantined" in line


def test_item16_verify_parity_over_no_events_fails(
    tmp_path: Path, files: tuple[Path, Path], dead_port: int
) -> None:
    store = tmp_path / "s"
    child = Progress(paper_cmd(f"ws://127.0.0.1:{dead_port}", store, files, "empty"),
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    _stop_after(child, lambda e: e["event"] == "rolled")
    r = clanka("verify", "parity", "empty", "--store", str(store))
    clean(r)
    assert r.code == 1 and "nothing was verified" in r.err
