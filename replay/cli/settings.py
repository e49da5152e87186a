"""User settings read from the environment (prefix CLANKA_), with sane defaults."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class ClankaSettings(BaseSettings):
    """Defaults every command falls back to when a flag is not given."""

    model_config = SettingsConfigDict(env_prefix="CLANKA_", extra="ignore")

    store: Path = Path("store")
    """Store directory (CLANKA_STORE)."""
