"""The strategist's commands as a user runs them: replay live then recorded, history,
ask (against the stand-in, and once against the embedded model it starts itself)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from data.store import EventStore
from tests.strategist.ollama_standin import Answer, proposal, standin
from tests.test_cli import clanka

NEW_SET = [("ret_5m", ">=", 0.02), ("liquidity", ">=", 25.0)]


@pytest.fixture
def store(pump: EventStore) -> str:
    return str(pump.root)


def test_replay_live_then_recorded_same_hash_and_history_lists_the_change(store: str) -> None:
    with standin(Answer(proposal(NEW_SET, note="looser"))) as s:
        live = clanka("replay", "--store", store, "--strategist", "live", "--llm-host", s.host,
                      "--json")  # fmt: skip
    assert live.returncode == 0, live.stderr
    rec = clanka("replay", "--store", store, "--strategist", "recorded", "--json")
    assert rec.returncode == 0, rec.stderr
    a, b = json.loads(live.stdout), json.loads(rec.stdout)
    assert a["events_sha256"] == b["events_sha256"]
    assert a["strategist"]["by_status"] == b["strategist"]["by_status"] == {
        "accepted": 1, "unchanged": 6}  # fmt: skip
    hist = clanka("strategist", "history", "--store", store, "--run", a["run_id"], "--json")
    assert hist.returncode == 0, hist.stderr
    calls = json.loads(hist.stdout)["calls"]
    assert [c["status"] for c in calls] == ["accepted"] + ["unchanged"] * 6
    first = calls[0]
    assert (first["asked_at"], first["applies_at"]) == ("2025-06-06T16:45:00Z",
                                                        "2025-06-06T16:45:30Z")  # fmt: skip
    assert first["changes"] == "conditions -> ret_5m >= 0.02 AND liquidity >= 25"
    assert first["entries"] >= first["sniper_entries"] >= 0
    text = clanka("strategist", "history", "--store", store, "--run", a["run_id"])
    assert "ret_5m >= 0.02" in text.stdout and "opened" in text.stdout


def test_ask_prints_the_exchange_and_applies_nothing(store: str) -> None:
    with standin(Answer(proposal(NEW_SET))) as s:
        r = clanka("strategist", "ask", "--store", store, "--at", "2025-06-06T17:00:00Z",
                   "--earlier", "off", "--llm-host", s.host, "--json")  # fmt: skip
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["time"] == "2025-06-06T17:00:00Z" and doc["status"] == "accepted"
    assert doc["would_change"] == "conditions -> ret_5m >= 0.02 AND liquidity >= 25"
    assert doc["messages"][1]["content"].startswith("DATA:\n")
    assert json.loads(s.requests[0]["messages"][1]["content"][6:])["time_utc"] == (
        "2025-06-06T17:00:00Z"
    )
    # Nothing was logged: no run, no strategist call.
    q = clanka("sql", "SELECT count(*) AS n FROM strategist", "--store", store, "--json")
    assert json.loads(q.stdout)["rows"] == [{"n": 0}]


def test_bad_arguments_are_one_line(store: str) -> None:
    r = clanka("replay", "--store", store, "--strategist", "sometimes")
    assert (
        r.returncode == 2
        and "--strategist 'sometimes': choose one of off, recorded, live" in r.stderr
    )
    r = clanka("strategist", "history", "--store", store)
    assert r.returncode == 1 and "no run in this store used the strategist" in r.stderr
    with standin(Answer("{}")) as s:
        r = clanka("strategist", "ask", "--store", store, "--at", "not a time", "--llm-host",
                   s.host)  # fmt: skip
    assert r.returncode == 2 and "--at: 'not a time' is not an ISO 8601 time" in r.stderr


def test_ask_on_the_embedded_model_started_for_the_command(store: str) -> None:
    pytest.importorskip("xllamacpp", reason="the `llm` extra is not installed")
    r = clanka("strategist", "ask", "--store", store, "--at", "2025-06-06T17:00:00Z",
               "--earlier", "off", "--llm-host", "embedded", "--json")  # fmt: skip
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["model"] == "smollm2:135m" and doc["host"].startswith("http://127.0.0.1:")
    assert doc["answer"] and doc["answer_tokens"] > 0 and doc["prompt_tokens"] > 0
    assert doc["status"] in ("accepted", "unchanged", "refused", "truncated"), doc


def test_credentials_in_the_host_never_reach_output_logs_or_the_store(store: str) -> None:
    secret = "s3cr3t-pa55"  # noqa: S105 - the planted secret the test hunts for
    for behaviour in (Answer(proposal(NEW_SET)), Answer("{bad"), Answer("", done_reason="x")):
        with standin(behaviour) as s:
            host = s.host.replace("http://", f"http://trader:{secret}@") + f"/?api-key={secret}"
            r = clanka("-vv", "replay", "--store", store, "--strategist", "live", "--llm-host",
                       host, "--json")  # fmt: skip
        assert r.returncode == 0, r.stderr
        assert secret not in r.stdout and secret not in r.stderr
        assert json.loads(r.stdout)["strategist"]["host"].startswith("http://***@127.0.0.1:")
    for f in Path(store).rglob("*"):  # files as written (Parquet pages are compressed) ...
        if f.is_file():
            assert secret.encode() not in f.read_bytes(), f
    for view in ("strategist", "runs", "params", "quarantine"):  # ... and every value, decoded
        q = clanka("sql", f"SELECT * FROM {view}", "--store", store, "--limit", "0", "--json")
        assert q.returncode == 0, q.stderr
        assert secret not in q.stdout
    q = clanka("sql", "SELECT host FROM strategist", "--store", store, "--limit", "0", "--json")
    assert {r["host"].split(":")[0] for r in json.loads(q.stdout)["rows"]} == {"http"}
    assert all("api-key=***" in r["host"] for r in json.loads(q.stdout)["rows"])
