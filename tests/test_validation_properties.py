"""Property: the importer quarantines exactly what a plain-Python reading of the rules says."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data.importers import import_file
from data.store import open_store
from tests.factories import NS, T0

PRICES = st.one_of(
    st.floats(min_value=1e-9, max_value=1e6),
    st.sampled_from([0.0, -1.0, math.nan, math.inf, -math.inf]),
)
SIZES = st.one_of(
    st.floats(min_value=0, max_value=1e6), st.sampled_from([-1.0, math.nan, math.inf])
)
ROWS = st.lists(
    st.tuples(
        st.one_of(st.integers(min_value=0, max_value=50).map(lambda s: T0 + s * NS), st.none()),
        st.sampled_from(["AAAUSDT", "BBBUSDT", ""]),
        PRICES,
        SIZES,
        st.sampled_from(["buy", "sell", "?"]),
        st.integers(min_value=0, max_value=15),  # small id range: duplicates happen
    ),
    min_size=1,
    max_size=40,
)


def reference_reasons(rows: list[tuple]) -> dict[int, str]:
    """The validation rules, row by row, as the README states them."""
    out: dict[int, str] = {}
    accepted: set[tuple[str, int]] = set()
    last_ts: dict[str, int] = {}
    for i, (ts, mint, price, size, _side, tid) in enumerate(rows):
        if ts is None:
            out[i] = "ts_unparseable"
        elif mint.strip() == "":
            out[i] = "mint_missing"
        elif not math.isfinite(price):
            out[i] = "price_not_finite"
        elif price <= 0:
            out[i] = "price_not_positive"
        elif not math.isfinite(size):
            out[i] = "size_not_finite"
        elif size < 0:
            out[i] = "size_negative"
        elif (mint, tid) in accepted:
            out[i] = "duplicate"
        elif mint in last_ts and ts < last_ts[mint]:
            out[i] = "ts_backwards"
        else:
            accepted.add((mint, tid))
            last_ts[mint] = ts
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=ROWS)
def test_quarantine_matches_reference(rows: list[tuple]) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "trades.parquet"
        pl.DataFrame(
            rows,
            schema={
                "ts": pl.Int64,
                "symbol": pl.String,
                "price": pl.Float64,
                "size": pl.Float64,
                "side": pl.String,
                "trade_id": pl.Int64,
            },
            orient="row",
        ).write_parquet(path)
        store = open_store(Path(d) / "s", create=True)
        rep = import_file(store, path)
        want = reference_reasons(rows)
        got = dict(store.con.sql("SELECT row_no, reason FROM quarantine").fetchall())
        assert got == want
        assert rep.imported + rep.quarantined == len(rows)
        assert store.rows("ticks") == len(rows) - len(want)
        bad = store.con.sql(
            "SELECT count(*) FROM ticks WHERE NOT isfinite(price) OR price <= 0 OR size < 0"
        ).fetchall()
        assert bad == [(0,)]
