"""The strategist and learning loop a command runs with, from the command line."""

from __future__ import annotations

from typing import TYPE_CHECKING

from strategies.config import StrategyConfig

if TYPE_CHECKING:
    from data.store import EventStore
    from strategies.learning.settings import LearningSettings
    from strategies.strategist.calls import Strategist


def strategist_for(
    strat: StrategyConfig,
    mode: str | None,
    host: str | None,
    model: str | None,
    st: EventStore,
    *,
    recorded_run: str | None = None,
) -> tuple[StrategyConfig, Strategist | None]:
    """The strategy with its strategist settings updated, and the strategist (None: off)."""
    from strategies.strategist.settings import MODES

    want = mode or strat.strategist.mode
    if want not in MODES:
        raise ValueError(f"--strategist {want!r}: choose one of {', '.join(MODES)}")
    update: dict[str, object] = {"mode": want}
    if host is not None:
        update["host"] = host
    if model is not None:
        update["model"] = model
    settings = strat.strategist.model_validate({**strat.strategist.model_dump(), **update})
    strat = strat.model_copy(update={"strategist": settings})
    if want == "off":
        return strat, None
    from strategies.strategist.calls import Strategist
    from strategies.strategist.model import LiveModel, RecordedModel

    answers = LiveModel(settings) if want == "live" else RecordedModel(st, recorded_run)
    return strat, Strategist(settings, answers)


def learning_for(
    strat: StrategyConfig, mode: str | None
) -> tuple[StrategyConfig, LearningSettings | None]:
    """The strategy with its learning mode set, and the settings to learn with (None: off)."""
    from strategies.learning.settings import MODES

    want = mode or strat.learning.mode
    if want not in MODES:
        raise ValueError(f"--learning {want!r}: choose one of {', '.join(MODES)}")
    settings = strat.learning.model_copy(update={"mode": want})
    strat = strat.model_copy(update={"learning": settings})
    return strat, (None if want == "off" else settings)
