"""Logging: levels and categories, JSON lines, a trade stream of its own, no secrets."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from replay.cli import logs
from replay.report.event_log import log_events
from tests.kernel_helpers import T0, S, Tape
from tests.test_cli import clanka

MS = S // 1000


@pytest.fixture(autouse=True)
def _reset_logging() -> None:
    yield
    logs.configure(level="WARNING")


def test_kernel_events_are_logged_in_the_seeds_categories(tmp_path: Path) -> None:
    from fractions import Fraction

    import numpy as np

    from engine.codes import SignalKind
    from engine.conditions import ConditionSet
    from engine.kernel import Kernel
    from engine.params import make_params
    from tests.kernel_helpers import FIXED_SIZE
    from tests.test_kernel_money import LAMPORTS, NETFEE, buy_fill

    tape = (
        Tape()
        .tick(T0, 0.001, liq=100.0)
        .tick(T0 + 500 * MS, 0.001, liq=100.0)  # opened
        .param(T0 + S, "tp1", 0.9)  # refused: tp1 > tp2
        .param(T0 + S, "stop_loss", 0.05)  # applied
        .tick(T0 + 2 * S, 0.0009, liq=100.0)  # below the 8 % stop: sold
        .tick(T0 + 3 * S, 0.0009, liq=100.0)  # closed
        .signal(T0 + 4 * S, SignalKind.EMERGENCY_STOP, 1.0, mint=-1)
        .signal(T0 + 5 * S, SignalKind.BREAKER_RESET, 1.0, mint=-1)
    )
    k = Kernel(make_params({**FIXED_SIZE, "max_position_sol": 1.0}),
               ConditionSet.parse("price > 0"), np.array([1e6]))  # fmt: skip
    oi, of = k.run_all(tape.build())
    main, trades = tmp_path / "clanka.log", tmp_path / "trades.log"
    logs.configure(level="INFO", log_file=main, trade_log=trades, fmt="json")
    log_events(oi, of, lambda m: f"MINT{m}")
    lines = [json.loads(x) for x in main.read_text().splitlines()]
    said = [(x["level"], x["logger"], x["message"].split(" ", 2)[2]) for x in lines]
    fill = float(buy_fill(LAMPORTS, Fraction(1, 1000), Fraction(100))["price"])
    opened = f"opened T1 MINT0: {(LAMPORTS + NETFEE) / 1e9:.6g} SOL at {fill:.6g} SOL/token"
    assert said == [
        ("INFO", "clanka.trades", opened),
        ("WARNING", "clanka.controls", "control refused (conflict): tp1 = 0.9; nothing changed"),
        ("INFO", "clanka.controls", "control applied: stop_loss 0.08 -> 0.05"),
        ("INFO", "clanka.trades", said[3][2]),
        ("CRITICAL", "clanka.risk", "emergency stop: new entries halted (exits go on)"),
        ("INFO", "clanka.risk", "breaker emergency_stop reset (manual reset)"),
    ]
    assert said[3][2].startswith("closed T1 MINT0 (stop_loss): PnL -0.")
    # The trade stream holds the trades, and only them.
    tlines = [json.loads(x)["message"] for x in trades.read_text().splitlines()]
    assert [t.split(" ")[2] for t in tlines] == ["opened", "closed"]


def test_secrets_are_redacted_in_every_format(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "k3y-" + "Zq9" * 8
    monkeypatch.setenv("CLANKA_FEED_API_KEY", key)
    for fmt in ("text", "json"):
        path = tmp_path / f"{fmt}.log"
        logs.configure(level="DEBUG", log_file=path, fmt=fmt)
        log = logging.getLogger("clanka.feed")
        log.warning("connect to wss://node/?api-key=%s failed", key)
        log.info("token=abcdef123 in a url: wss://x/?token=abcdef123&x=1")
        try:
            raise ConnectionError(f"refused wss://node/{key}")
        except ConnectionError:
            log.exception("with a traceback")
        text = path.read_text()
        assert key not in text and "abcdef123" not in text
        assert text.count("***") >= 4


def test_log_options_are_checked_and_paper_defaults_to_info(tmp_path: Path) -> None:
    bad = clanka("--log-level", "LOUD", "store", "info", "--store", str(tmp_path))
    assert bad.returncode == 2 and "--log-level 'LOUD'" in bad.stderr
    bad = clanka("--log-format", "xml", "store", "info", "--store", str(tmp_path))
    assert bad.returncode == 2 and "--log-format 'xml'" in bad.stderr
    logs.configure()
    assert logging.getLogger("clanka").level == logging.WARNING
    logs.raise_default("INFO")
    assert logging.getLogger("clanka").level == logging.INFO
    logs.configure(verbose=2)
    assert logging.getLogger("clanka").level == logging.DEBUG
    logs.configure(level="ERROR")
    logs.raise_default("INFO")  # an explicit choice stays
    assert logging.getLogger("clanka").level == logging.ERROR
