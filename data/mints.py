"""The mint registry: stable int32 ids for instruments, kept as `mints` events.

Every other family refers to an instrument by `mint_id`. Ids are handed out in
registration order and never reused; a mint's first registration fixes its decimals,
which in turn fix how raw token amounts in `ticks.size` are scaled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MintSpec:
    """What an importer knows about an instrument before it has an id."""

    mint: str
    """Base58 mint address for Solana tokens, the exchange symbol otherwise."""
    symbol: str | None
    decimals: int
    quote: str | None


def mint_label(symbol: str | None, mint: str | None, mint_id: int) -> str:
    """What a trader reads for a mint: its symbol, else its address shortened (ABCD…WXYZ).

    Reports, the status view and the dashboard all name tokens this way, never by the
    store's internal mint id (that is only the last resort, when nothing else is known).
    """
    if symbol:
        return str(symbol)
    if mint:
        m = str(mint)
        return m if len(m) <= 12 else f"{m[:4]}…{m[-4:]}"
    return f"mint {mint_id}"


@dataclass(frozen=True)
class MintRecord:
    """A registered instrument."""

    mint_id: int
    mint: str
    symbol: str | None
    decimals: int
    quote: str | None
    source: str


class MintRegistry:
    """In-memory view of the committed `mints` family."""

    def __init__(self, records: list[MintRecord]) -> None:
        self._by_mint: dict[str, MintRecord] = {}
        for r in records:  # an alias (two ids, one address) answers with the first
            self._by_mint.setdefault(r.mint, r)
        self._by_id = {r.mint_id: r for r in records}

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, mint: str) -> MintRecord | None:
        """Look up a mint by its address or symbol."""
        return self._by_mint.get(mint)

    def find_id(self, mint_id: int) -> MintRecord | None:
        """Look up a mint by id; None if it was never registered."""
        return self._by_id.get(mint_id)

    def by_id(self, mint_id: int) -> MintRecord:
        """Look up a mint by id; KeyError if it was never registered."""
        return self._by_id[mint_id]

    @property
    def next_id(self) -> int:
        """One past the highest registered id: the least id a new mint can receive.

        Not the count of mints: ids reserved and never registered leave holes
        (`data.mint_ids`).
        """
        return max(self._by_id) + 1 if self._by_id else 0

    def scales(self, n: int | None = None) -> np.ndarray:
        """10**decimals of every id below `n` (default `next_id`), indexed by id.

        A hole (an id never registered) gets 1.0: no event refers to it.
        """
        out = np.ones(self.next_id if n is None else n, dtype=np.float64)
        for i, r in self._by_id.items():
            if i < len(out):
                out[i] = 10.0**r.decimals
        return out

    def records(self) -> list[MintRecord]:
        """All records in id order."""
        return [self._by_id[i] for i in sorted(self._by_id)]
