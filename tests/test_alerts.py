"""Alerts: the policy against fatigue (bursts, rate limits, quiet hours), the providers'
protocols on local stand-ins (429 with retry_after, 5xx, timeouts, refusals), and the
service around a run, with no secret anywhere it writes."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr, ValidationError

from engine.events import Breaker, OutKind, Reason
from engine.layout import (
    N_OUT_F,
    N_OUT_I,
    N_PI,
    O_KIND,
    O_MINT,
    O_POS_ID,
    O_REASON,
    O_SOL,
    O_TS,
    OF_OUT_STOP,
    OF_PRICE,
)
from replay.alerts.policy import AlertPolicy, Message
from replay.alerts.rules import CRITICAL, INFO, WARNING, Alert
from replay.alerts.senders import DiscordSender, TelegramSender, deliver
from replay.alerts.service import AlertService
from replay.alerts.settings import (
    AlertLimits,
    AlertRules,
    AlertSettings,
    DiscordSettings,
    TelegramSettings,
)
from tests.alert_standins import DiscordStandIn, TelegramStandIn
from tests.conftest import REPO

CLI = [sys.executable, "-c", "from replay.cli.launch import main; main()"]

S = 1_000_000_000
T0 = 1_749_168_000 * S  # 2025-06-06T00:00:00Z
TOKEN = "7311111111:AAFakeBotTokenForTestsOnly_xyz123"  # noqa: S105 - planted, hunted for
HOOK_ID, HOOK_TOKEN = "1234567890", "hookSecretTokenForTestsOnly-abcdef"


def _alert(t: int, rule: str = "big_loss", severity: str = WARNING, n: int = 0) -> Alert:
    return Alert(t, rule, severity, f"{rule} #{n}")


# --- the policy, in event time ---------------------------------------------------------


def test_a_burst_goes_out_as_one_alert_then_one_group() -> None:
    pol = AlertPolicy(AlertLimits(group_s=10, per_rule_per_hour=6))
    verdicts, msgs = [], []
    for k in range(50):  # 50 big losses within 4.9 s
        v, m = pol.offer(_alert(T0 + k * S // 10, n=k))
        verdicts.append(v)
        msgs += m
    assert [v.status for v in verdicts] == ["sent"] + ["held"] * 49
    assert {v.reason for v in verdicts[1:]} == {"grouping"}
    assert len(msgs) == 1 and msgs[0].alerts[0].text == "big_loss #0"
    assert pol.tick(T0 + 9 * S) == []  # the window is still open
    (group,) = pol.tick(T0 + 10 * S)
    assert group.kind == "group" and len(group.alerts) == 49
    lines = group.text.splitlines()
    assert lines[0] == "49 more big_loss alert(s) within 10 s:"
    assert len(lines) == 1 + 10 + 1 and lines[-1].startswith("... and 39 more")


def test_the_rate_limit_holds_alerts_for_a_digest_when_the_hour_frees() -> None:
    pol = AlertPolicy(AlertLimits(group_s=0, per_rule_per_hour=3))
    out = []
    for k in range(10):  # one a minute
        v, m = pol.offer(_alert(T0 + k * 60 * S, n=k))
        out.append((v.status, v.reason))
        assert not m or m[0].alerts[0].text == f"big_loss #{k}"
    assert out == [("sent", "")] * 3 + [("held", "rate_limit")] * 7
    assert pol.tick(T0 + 3599 * S) == []  # three messages in the last hour: none may go
    (digest,) = pol.tick(T0 + 3600 * S)  # the first one left the window
    assert digest.kind == "digest" and [a.text for a in digest.alerts] == [
        f"big_loss #{k}" for k in range(3, 10)
    ]
    assert digest.text.startswith("digest: 7 big_loss alert(s) held back by the rate limit")


def test_quiet_hours_hold_all_but_critical_then_digest_when_they_end() -> None:
    pol = AlertPolicy(AlertLimits(quiet_hours="22:00-07:00"))
    v1, m1 = pol.offer(_alert(T0 + 23 * 3600 * S, "big_win", INFO))
    v2, m2 = pol.offer(_alert(T0 + (23 * 3600 + 1800) * S, "breaker", CRITICAL))
    assert (v1.status, v1.reason, m1) == ("held", "quiet_hours", [])
    assert v2.status == "sent" and m2[0].severity == CRITICAL
    assert pol.tick(T0 + (30 * 3600 + 3540) * S) == []  # 06:59 the next day
    (digest,) = pol.tick(T0 + 31 * 3600 * S)  # 07:00
    assert digest.kind == "digest" and [a.rule for a in digest.alerts] == ["big_win"]
    assert "quiet hours (22:00-07:00 UTC)" in digest.text


def test_bad_quiet_hours_are_refused_in_one_line() -> None:
    with pytest.raises(ValidationError, match="quiet_hours must look like 22:00-07:00"):
        AlertLimits(quiet_hours="10pm-7am")


_streams = st.lists(
    st.tuples(
        st.integers(0, 900),  # seconds since the previous alert
        st.sampled_from(["big_win", "big_loss", "breaker"]),
        st.sampled_from([INFO, WARNING, WARNING, CRITICAL]),
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(
    stream=_streams,
    group_s=st.sampled_from([0, 5, 30]),
    per_hour=st.integers(1, 5),
    quiet=st.sampled_from([None, "01:00-05:00", "22:00-02:00"]),
)
def test_every_alert_is_carried_by_one_message_and_limits_hold(
    stream: list[tuple[int, str, str]], group_s: int, per_hour: int, quiet: str | None
) -> None:
    pol = AlertPolicy(AlertLimits(group_s=group_s, per_rule_per_hour=per_hour,
                                  quiet_hours=quiet))  # fmt: skip
    t = T0
    offered: list[Alert] = []
    msgs: list[Message] = []
    for n, (gap, rule, sev) in enumerate(stream):
        t += gap * S
        a = Alert(t, rule, sev, f"{rule} #{n}")
        v, m = pol.offer(a)
        offered.append(a)
        msgs += m
        if v.status == "sent":  # its own message, right now
            assert m[-1].alerts == (a,) and m[-1].kind == "alert"
    before_close = list(msgs)
    msgs += pol.close(t + 3600 * S)
    carried = [a for m in msgs for a in m.alerts]
    assert sorted(carried, key=id) == sorted(offered, key=id)  # each exactly once
    assert len({id(a) for a in carried}) == len(carried)
    counted = [m for m in before_close if m.severity != CRITICAL and m.rule != "quiet_hours"]
    for m in counted:  # never more than the limit in any rolling hour, per rule
        window = [x for x in counted if x.rule == m.rule and m.ts_ns - 3600 * S < x.ts_ns
                  <= m.ts_ns]  # fmt: skip
        assert len(window) <= per_hour
    if quiet is not None:
        for m in before_close:
            if m.kind == "alert" and m.severity != CRITICAL:
                assert not pol.in_quiet_hours(m.ts_ns)


# --- the providers' protocols on stand-ins ----------------------------------------------


class _Sleeps:
    """Records the waits tenacity asks for and returns at once (no wall-clock waits)."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, s: float) -> None:
        self.waits.append(s)


def _tg(base: str, token: str = TOKEN) -> TelegramSettings:
    return TelegramSettings(bot_token=SecretStr(token), chat_id="-1001", api_base=base)


def test_telegram_429_waits_what_it_was_told_then_delivers() -> None:
    async def go(srv: TelegramStandIn) -> Any:
        async with httpx.AsyncClient(timeout=5) as c:
            sleeps = _Sleeps()
            d = await deliver(TelegramSender(_tg(srv.base), c), "hello", 5, sleeps)
            return d, sleeps.waits

    with TelegramStandIn(TOKEN) as srv:
        srv.script(("429", 3), ("429", 1))
        d, waits = asyncio.run(go(srv))
    assert d.ok and d.attempts == 3 and waits == [3.0, 1.0]
    assert [r["path"] for r in srv.requests] == [f"/bot{TOKEN}/sendMessage"] * 3
    assert srv.sent == [{"chat_id": "-1001", "text": "hello", "disable_web_page_preview": True}]


def test_telegram_refusals_fail_at_once_and_timeouts_retry() -> None:
    async def go(srv: TelegramStandIn) -> Any:
        async with httpx.AsyncClient(timeout=0.3) as c:
            sleeps = _Sleeps()
            bad = await deliver(TelegramSender(_tg(srv.base, "1:wrong-token-xyz"), c), "x", 5,
                                sleeps)  # fmt: skip
            srv.script(("slow", 1.0), ("500", None))
            slow = await deliver(TelegramSender(_tg(srv.base), c), "after a timeout", 5, sleeps)
            return bad, slow, sleeps.waits

    with TelegramStandIn(TOKEN) as srv:
        bad, slow, waits = asyncio.run(go(srv))
    assert not bad.ok and bad.attempts == 1
    assert bad.error == "telegram: HTTP 401: Unauthorized"
    assert slow.ok and slow.attempts == 3  # timed out, then a 500, then taken
    assert len(waits) == 2 and all(0 <= w <= 30 for w in waits)  # full-jitter backoff


def test_discord_429_and_5xx_retry_and_an_unknown_webhook_fails_without_its_url() -> None:
    async def go(srv: DiscordStandIn) -> Any:
        async with httpx.AsyncClient(timeout=5) as c:
            sleeps = _Sleeps()
            hook = DiscordSettings(webhook_url=SecretStr(srv.url))
            srv.script(("429", 0.75), ("500", None))
            ok = await deliver(DiscordSender(hook, c), "**big win**", 5, sleeps)
            gone = DiscordSettings(webhook_url=SecretStr(srv.base + "/api/webhooks/1/deleted"))
            bad = await deliver(DiscordSender(gone, c), "x", 5, sleeps)
            return ok, bad, sleeps.waits

    with DiscordStandIn(HOOK_ID, HOOK_TOKEN) as srv:
        ok, bad, waits = asyncio.run(go(srv))
    assert ok.ok and ok.attempts == 3 and waits[0] == 0.75  # the body's retry_after
    assert srv.sent == [{"content": "**big win**", "username": "Clanka"}]
    assert not bad.ok and bad.attempts == 1
    assert bad.error == "discord: HTTP 404: Unknown Webhook" and "deleted" not in bad.error


def test_gives_up_after_max_attempts_with_the_reason() -> None:
    async def go(srv: DiscordStandIn) -> Any:
        async with httpx.AsyncClient(timeout=5) as c:
            hook = DiscordSettings(webhook_url=SecretStr(srv.url))
            srv.script(*[("500", None)] * 3)
            return await deliver(DiscordSender(hook, c), "x", 3, _Sleeps())

    with DiscordStandIn(HOOK_ID, HOOK_TOKEN) as srv:
        d = asyncio.run(go(srv))
    assert not d.ok and d.attempts == 3 and d.error == "discord: HTTP 502"


# --- the service around a run --------------------------------------------------------------


def _rows(*rows: dict[int, Any]) -> tuple[np.ndarray, np.ndarray]:
    out_i = np.zeros((len(rows), N_OUT_I), np.int64)
    out_f = np.zeros((len(rows), N_OUT_F), np.float64)
    for k, r in enumerate(rows):
        for col, v in r.items():
            if col >= 1000:
                out_f[k, col - 1000] = v
            else:
                out_i[k, col] = v
    return out_i, out_f


def test_the_service_alerts_a_run_and_keeps_secrets_out(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    logged: list[tuple[str, dict[str, list[Any]], str]] = []
    store = SimpleNamespace(append=lambda fam, cols, source: logged.append((fam, cols, source)))
    run = SimpleNamespace(
        run_id="svc", write=True, last_ts=T0, store=store,
        kernel=SimpleNamespace(state=SimpleNamespace(pos_i=np.zeros((4, N_PI), np.int64))),
        label=lambda m: {0: "AAA", 1: "BBB"}.get(m, f"mint {m}"),
    )  # fmt: skip
    health = SimpleNamespace(connected=True, last_error="")

    async def go(tg: TelegramStandIn, dc: DiscordStandIn) -> tuple[AlertService, dict[str, int]]:
        cfg = AlertSettings(
            telegram=_tg(tg.base), discord=DiscordSettings(webhook_url=SecretStr(dc.url)),
            rules=AlertRules(big_win_pct=50, big_loss_pct=20, feed_down_s=30),
            limits=AlertLimits(group_s=10, per_rule_per_hour=6),
        )  # fmt: skip
        svc = AlertService(cfg, run, lambda: health, sleep=_Sleeps())
        task = asyncio.create_task(svc.run())
        # T1 AAA: cost 1 SOL, closed +0.6 SOL (+60 %); T2 BBB: cost 2 SOL, -0.3 SOL
        # (-15 %, under the 20 % rule); T3 AAA: cost 1 SOL, -0.25 SOL (-25 %).
        opened = [{O_KIND: OutKind.POSITION_OPENED, O_TS: T0 + k * S, O_POS_ID: p, O_MINT: m,
                   O_SOL: c} for k, (p, m, c) in enumerate([(1, 0, S), (2, 1, 2 * S),
                                                            (3, 0, S)])]  # fmt: skip
        closed = [
            {O_KIND: OutKind.POSITION_CLOSED, O_TS: T0 + 60 * S, O_POS_ID: 1, O_MINT: 0,
             O_SOL: 600_000_000, O_REASON: Reason.TARGET_3},
            {O_KIND: OutKind.POSITION_CLOSED, O_TS: T0 + 61 * S, O_POS_ID: 2, O_MINT: 1,
             O_SOL: -300_000_000, O_REASON: Reason.STOP_LOSS},
            {O_KIND: OutKind.POSITION_CLOSED, O_TS: T0 + 62 * S, O_POS_ID: 3, O_MINT: 0,
             O_SOL: -250_000_000, O_REASON: Reason.STOP_LOSS},
            {O_KIND: OutKind.BREAKER_TRIPPED, O_TS: T0 + 62 * S, O_MINT: 0,
             O_REASON: Breaker.CONSECUTIVE_LOSSES, 1000 + OF_PRICE: 3.0,
             1000 + OF_OUT_STOP: 3.0},
        ]  # fmt: skip
        run.last_ts = T0 + 2 * S
        svc.watch(*_rows(*opened), {})
        run.last_ts = T0 + 62 * S
        svc.watch(*_rows(*closed), {})
        health.connected, health.last_error = False, "connection refused"
        for t in (70, 90, 101):  # down from 70 s: said once, at 100 s or after
            run.last_ts = T0 + t * S
            svc.watch(*_rows(), {})
        counts = await svc.close(task)
        return svc, counts

    with TelegramStandIn(TOKEN) as tg, DiscordStandIn(HOOK_ID, HOOK_TOKEN) as dc:
        tg.script(("429", 1))
        _, counts = asyncio.run(go(tg, dc))
    texts = [m["text"] for m in tg.sent]
    assert texts == [m["content"] for m in dc.sent]  # the same messages on both channels
    assert texts[0] == "big win: T1 AAA closed +60.0% (+0.6000 SOL), last exit target_3"
    assert texts[1] == "big loss: T3 AAA closed -25.0% (-0.2500 SOL), last exit stop_loss"
    assert texts[2] == "breaker consecutive_losses tripped: 3 against a limit of 3; entries paused"
    assert texts[3].startswith("feed DOWN for 31 s: connection refused")
    assert len(texts) == 4 and counts["failed"] == 0 and counts["delivered"] == 8
    assert counts["alerts"] == 4 and counts["held"] == 0
    rows = [dict(zip(cols, vals, strict=True)) for fam, cols, src in logged
            for vals in zip(*cols.values(), strict=True)]  # fmt: skip
    assert {fam for fam, _, _ in logged} == {"alerts"} and {s for _, _, s in logged} == {"svc"}
    alerts = [r for r in rows if r["kind"] == "alert"]
    sent = [r for r in rows if r["kind"] == "message"]
    assert [(r["rule"], r["status"]) for r in alerts] == [
        ("big_win", "sent"), ("big_loss", "sent"), ("breaker", "sent"), ("feed_down", "sent")
    ]  # fmt: skip
    assert len(sent) == 8 and {r["status"] for r in sent} == {"delivered"}
    assert [r["attempts"] for r in sent if r["channel"] == "telegram"] == [2, 1, 1, 1]
    # Nothing it logged or wrote names the token or the webhook.
    assert not any(TOKEN in str(v) or HOOK_TOKEN in str(v) for r in rows for v in r.values())
    for rec in caplog.records:
        msg = rec.getMessage()
        assert TOKEN not in msg and HOOK_TOKEN not in msg, msg


def test_cli_alerts_test_says_how_each_channel_went(tmp_path: Path) -> None:
    with TelegramStandIn(TOKEN) as tg, DiscordStandIn(HOOK_ID, HOOK_TOKEN) as dc:
        cfg = tmp_path / "alerts.toml"
        cfg.write_text(
            f'[alerts.telegram]\nbot_token = "{TOKEN}"\nchat_id = "5"\napi_base = "{tg.base}"\n'
            f'[alerts.discord]\nwebhook_url = "{dc.base}/api/webhooks/{HOOK_ID}/x{HOOK_TOKEN}"\n'
        )
        done = subprocess.run([*CLI, "alerts", "test", "--settings", str(cfg)], cwd=REPO,
                              capture_output=True, text=True, timeout=120)  # fmt: skip
        assert done.returncode == 1, done.stderr
        assert done.stdout.splitlines() == [
            "telegram: delivered (1 tries)",
            "discord: FAILED: discord: HTTP 404: Unknown Webhook (1 tries)",
        ]
        assert tg.sent[0]["text"].startswith("Clanka alert test at ")
        bad = tmp_path / "bad.toml"
        bad.write_text(cfg.read_text() + '[alerts.limits]\nquiet_hours = "late"\n')
        refused = subprocess.run([*CLI, "alerts", "test", "--settings", str(bad)], cwd=REPO,
                                 capture_output=True, text=True, timeout=120)  # fmt: skip
    assert refused.returncode != 0 and len(refused.stderr.strip().splitlines()) == 1
    assert "quiet_hours must look like 22:00-07:00" in refused.stderr
    for text in (done.stdout, done.stderr, refused.stdout, refused.stderr):
        assert TOKEN not in text and HOOK_TOKEN not in text


def test_an_error_rate_spike_is_said_once_per_window_even_from_bad_frames_alone() -> None:
    """Quarantined frames come in batches with no outputs; with rejected orders they
    count towards the limit (more than 5 in 60 s here), and the spike is said once."""
    from replay.alerts.rules import RuleBook

    book = RuleBook(AlertRules(error_rate=5, error_window_s=60), lambda m: str(m))
    none = np.zeros((0, N_OUT_I), np.int64), np.zeros((0, N_OUT_F))
    bad = {"problems": [{"reason": "unparseable_frame"}] * 3}
    assert book.observe(*none, bad, T0) == []  # 3 errors
    rejected = _rows({O_KIND: OutKind.ORDER_REJECTED, O_TS: T0 + S},
                     {O_KIND: OutKind.ORDER_REJECTED, O_TS: T0 + 2 * S})  # fmt: skip
    assert book.observe(*rejected, {}, T0 + 2 * S) == []  # 5: not more than 5
    (spike,) = book.observe(*none, bad, T0 + 3 * S)  # 8 in 3 s
    assert (spike.rule, spike.ts_ns) == ("error_rate", T0 + 3 * S)
    assert spike.text.startswith("error rate spike: 8 errors")
    assert book.observe(*none, bad, T0 + 4 * S) == []  # once per window
    assert book.observe(*none, bad, T0 + 200 * S) == []  # the old errors left the window
    (again,) = book.observe(*none, bad, T0 + 201 * S)  # 6 within 60 s: said again
    assert again.ts_ns == T0 + 201 * S
