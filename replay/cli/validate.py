"""`clanka validate plan | learning`: pre-register a test of learning, then run it.

The plan (strategy, days, metric, test, alpha, configurations tried) goes to a TOML
file first; `learning` runs exactly that file, logs the result as a `validations`
event with the plan's text and hash, and prints the verdict, which is "learning helps"
only when the pre-registered test passes (replay/validate/result.py).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from replay.cli.common import (
    FromOpt,
    JsonOpt,
    SetOpt,
    StoreOpt,
    StrategyOpt,
    ToOpt,
    announce_compile,
    app,
    err,
    out,
    print_json,
    progress_bar,
    store_path,
    time_range,
    user_errors,
)

validate_app = typer.Typer(
    help="Does learning help? Pre-register a plan (clanka validate plan), then test it "
    "(clanka validate learning).",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(validate_app, name="validate")


@validate_app.command("plan")
@user_errors
def plan_cmd(
    path: Annotated[
        Path,
        typer.Argument(help="The plan file to write (never overwritten).", metavar="PLAN.toml"),
    ],
    train_days: Annotated[
        int, typer.Option(help="Days to learn on before the first test day.", min=1)
    ],
    strategy: StrategyOpt = "momentum_llm",
    set_: SetOpt = None,
    from_: FromOpt = None,
    to: ToOpt = None,
    test_days: Annotated[
        int | None, typer.Option(help="Test days [default: every remaining day with ticks].", min=1)
    ] = None,
    test: Annotated[str, typer.Option(help="sign_flip (exact) or bootstrap.")] = "sign_flip",
    baseline: Annotated[
        str,
        typer.Option(
            help="frozen_each_day (learning frozen at each test day's start), "
            "frozen_at_test_start (frozen when the test days begin) "
            "or never_learns (learning off throughout)."
        ),
    ] = "frozen_each_day",
    alpha: Annotated[float, typer.Option(help="Significance level.")] = 0.05,
    configs_tried: Annotated[
        int, typer.Option(help="Plans tried on this question so far, this one included.", min=1)
    ] = 1,
    strategist: Annotated[str, typer.Option(help="off or recorded, in both arms.")] = "off",
    seed: Annotated[int, typer.Option(help="Seed of every resampling.")] = 7,
    note: Annotated[str, typer.Option(help="Why this plan (kept in the file).")] = "",
) -> None:
    """Write a pre-registered validation plan; run it with `clanka validate learning`."""
    from replay.validate.plan import ValidationPlan, write_plan
    from strategies.config import parse_overrides

    time_range(from_, to)  # refused now, in one line, not after the run
    plan = ValidationPlan.model_validate({
        "strategy": strategy, "set": parse_overrides(set_ or []), "start": from_, "end": to,
        "train_days": train_days, "test_days": test_days, "test": test, "alpha": alpha,
        "baseline": baseline,
        "configurations_tried": configs_tried, "strategist": strategist, "seed": seed,
        "note": note,
    })  # fmt: skip
    sha = write_plan(plan, path)
    out.print(f"pre-registered {path} (sha256 {sha}); run it: clanka validate learning {path}",
              highlight=False, markup=False)  # fmt: skip


@validate_app.command("learning")
@user_errors
def learning_cmd(
    path: Annotated[
        Path, typer.Argument(help="A plan written by clanka validate plan.", metavar="PLAN.toml")
    ],
    store: StoreOpt = None,
    html_out: Annotated[
        Path | None, typer.Option("--html", help="Also write the report page here.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Learning on against learning frozen, as the plan says.

    Walk-forward over UTC days: the learner carries what it learned on every earlier day
    into each test day; the baseline is the same replay with that knowledge frozen (from
    each test day's start, or from the first test day's, as the plan's baseline says).
    The paired daily differences go through the plan's test.
    """
    from data.store import open_store
    from replay.cli.common import strategy_from
    from replay.validate.arms import run_arms, utc_days
    from replay.validate.plan import read_plan
    from replay.validate.report import write_report
    from replay.validate.result import build_result, log_result
    from strategies.strategist.calls import Strategist

    plan, text, sha = read_plan(path)
    st = open_store(store_path(store))
    strat = strategy_from(plan.strategy, None, None, None)
    strat = strat.model_copy(update={"params": {**strat.params, **plan.set}})
    learning = strat.learning.model_validate(
        {**strat.learning.model_dump(), **plan.learning, "mode": "on"})  # fmt: skip
    strat = strat.model_copy(update={"learning": learning})
    asker: Strategist | None = None
    if plan.strategist == "recorded":
        from strategies.strategist.model import RecordedModel

        settings = strat.strategist.model_copy(update={"mode": "recorded"})
        asker = Strategist(settings, RecordedModel(st))
    start, end = time_range(plan.start, plan.end)
    days = utc_days(st, start, end)
    if plan.test_days is not None:
        days = days[: plan.train_days + plan.test_days]
    announce_compile("step")
    with progress_bar(sys.stderr.isatty()) as prog:
        task = prog.add_task("validating: test days", total=max(len(days) - plan.train_days, 0))
        arms = run_arms(st, strat, learning, days, plan.train_days, asker,
                        baseline=plan.baseline,
                        progress=lambda k, n: prog.update(task, completed=k, total=n))  # fmt: skip
    doc = build_result(plan, text, sha, arms)
    log_result(st, doc)
    if html_out is not None:
        write_report(doc, arms, html_out)
    if as_json:
        print_json(doc)
        return
    _render(doc, html_out)


def _render(doc: dict[str, Any], html_out: Path | None) -> None:
    e = doc["effect"]

    def say(text: str) -> None:
        out.print(text, highlight=False, markup=False)

    say(f"plan {doc['plan_sha256'][:16]}: trained on {', '.join(doc['train_days'])}")
    for d in doc["days"]:
        say(f"  {d['day']}: learner {100 * d['learner_return']:+.2f}%, frozen "
            f"{100 * d['frozen_return']:+.2f}%, difference {100 * d['difference']:+.2f} points "
            f"({d['changes']} change(s) during the day)")  # fmt: skip
    ci = f"[{100 * e['ci_low']:+.3f}, {100 * e['ci_high']:+.3f}]"
    say(f"mean difference {100 * e['mean_difference']:+.3f} points a day, "
        f"{e['confidence']:.0%} interval {ci}; p = {e['p_value']:.4g} ({e['test']}, "
        f"one-sided, alpha {e['alpha']:g}); deflated Sharpe {e['deflated_sharpe']:.3g} over "
        f"{e['configurations_tried']} configuration(s)")  # fmt: skip
    for limit in doc["limits"]:
        say(f"limit: {limit}")
    say(f"verdict: {doc['verdict']}")
    if html_out is not None:
        err.print(f"report: {html_out}", highlight=False, markup=False)
