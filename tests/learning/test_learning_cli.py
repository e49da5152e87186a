"""The learning commands as a user meets them: replay with --learning, learn status, lessons,
and one clear line (exit 2) for every bad setting or argument."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from data.store import EventStore
from tests.test_cli import clanka


def test_replay_status_and_lessons_on_the_real_evenings(pump_days: EventStore) -> None:
    store = str(pump_days.root)
    rep = clanka("replay", "--store", store, "--strategy", "pumpfun_scalper", "--learning", "on",
                 "--json")  # fmt: skip
    assert rep.returncode == 0, rep.stderr
    doc = json.loads(rep.stdout)
    learn = doc["learning"]
    assert learn["reviews"] == doc["trades"] > 0
    (change,) = [c for c in doc["controls"] if c["requested_by"] == "adaptation"]
    assert change["change"] == "min_liquidity 0 -> 10" and "low_liquidity_loss" in change["reason"]
    status = clanka("learn", "status", "--store", store)
    assert status.returncode == 0, status.stderr
    assert f"{learn['reviews']} trades reviewed" in status.stdout
    assert "adapt (sent): low_liquidity_loss seen" in status.stdout
    assert "watching widen_stop: stop_loss = 0.08" in status.stdout
    lessons = clanka("lessons", "--store", store, "--pattern", "low_liquidity_loss", "--json")
    assert lessons.returncode == 0, lessons.stderr
    (lesson,) = json.loads(lessons.stdout)["lessons"]
    assert lesson["verdict"] == "failed" and lesson["subject"] == "pattern:low_liquidity_loss"
    assert lesson["conditions"]["median_liquidity"] > 0
    late = clanka("lessons", "--store", store, "--since", "2030-01-01T00:00:00Z", "--json")
    assert json.loads(late.stdout)["lessons"] == []
    sql = clanka("sql", "--store", store, "SELECT occurrences FROM pattern_stats WHERE "
                 "pattern = 'low_liquidity_loss' AND time_window = 'all'", "--json")  # fmt: skip
    assert sql.returncode == 0, sql.stderr


BAD_TABLES = {
    "review_horizon_s = -5": "learning.review_horizon_s",
    "[learning.rules.r]\npattern = 'nope'\nparam = 'stop_loss'\nstep = 0.01\nlo = 0.02\nhi = 0.3\n"
    "more_than = 2": "unknown pattern 'nope'",
    "[learning.rules.r]\npattern = 'panic_sell'\nparam = 'initial_cash_sol'\nstep = 1\nlo = 1\n"
    "hi = 2\nmore_than = 2": "'initial_cash_sol' is not a tunable parameter",
    "[learning.rules.r]\npattern = 'panic_sell'\nparam = 'stop_loss'\nstep = 0.01\nlo = 0.5\n"
    "hi = 1.5\nmore_than = 2": "must lie within stop_loss's",
}


@pytest.mark.parametrize("table", BAD_TABLES)
def test_a_bad_learning_table_is_one_line(tmp_path: Path, table: str) -> None:
    cfg = tmp_path / "s.toml"
    cfg.write_text(f'name = "x"\nentry = "price > 0"\n[learning]\n{table}\n')
    done = clanka("replay", "--store", str(tmp_path / "none"), "--config", str(cfg))
    assert done.returncode == 2
    assert BAD_TABLES[table] in done.stderr and len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("replay", "--learning", "maybe"), "--learning 'maybe': choose one of off, observe, on"),
        (("learn", "status", "--run", "nope"), "no run 'nope' in this store"),
        (("lessons", "--since", "yesterday"), "--since: 'yesterday' is not an ISO 8601 time"),
        (("lessons", "--pattern", "nope"), "--pattern 'nope': choose one of"),
        (("lessons", "--mint", "NOPE"), "--mint: 'NOPE' is not in this store's mints"),
    ],
)
def test_bad_arguments_are_one_line(
    pump_days: EventStore, args: tuple[str, ...], says: str
) -> None:
    store = str(pump_days.root)
    if args[0] == "lessons":  # lessons of some run, so the argument is what fails
        clanka("replay", "--store", store, "--strategy", "pumpfun_scalper", "--learning", "on")
    done = clanka(*args, "--store", store)
    assert done.returncode == 2, done.stdout + done.stderr
    assert says in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_no_learning_run_yet_is_one_line(tmp_path: Path) -> None:
    store = tmp_path / "s"
    assert clanka("generate", "--store", str(store), "--mints", "2", "--hours", "1").returncode == 0
    done = clanka("learn", "status", "--store", str(store))
    assert done.returncode == 1
    assert "no run in this store has learning events" in done.stderr


def test_ask_shows_what_a_learning_strategy_knew_at_t(pump_days: EventStore) -> None:
    from replay.core.ask import ask_at
    from strategies.config import load_strategy
    from strategies.learning.settings import LearningSettings
    from strategies.strategist.calls import Strategist
    from strategies.strategist.model import ANSWERED, Reply
    from strategies.strategist.prompt import Prompt
    from strategies.strategist.settings import StrategistSettings

    seen: list[dict[str, object]] = []

    def answers(p: Prompt) -> Reply:
        seen.append(json.loads(p.request["messages"][1]["content"].removeprefix("DATA:\n")))
        return Reply(ANSWERED, raw="{}", done_reason="stop")

    base = load_strategy("pumpfun_scalper")
    strat = base.model_copy(update={"learning": LearningSettings(mode="on")})
    t = 1_749_340_800 * 1_000_000_000  # 2025-06-08T00:00:00Z, after both evenings
    asked = ask_at(pump_days, strat, t, None, Strategist(StrategistSettings(mode="live"), answers))
    (data,) = seen
    learned = data["learning"]
    assert isinstance(learned, dict) and learned["reviewed_trades"] == 25
    assert asked.call.prompt.ts_ns == t
    # Without learning the prompt has no such section (recorded answers keep matching).
    ask_at(pump_days, base, t, None, Strategist(StrategistSettings(mode="live"), answers))
    assert "learning" not in seen[1]
