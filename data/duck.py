"""DuckDB as the store's query face: one view per event family.

Views read exactly the files the manifest lists, so a query never sees a segment
that is uncommitted, orphaned or retired. Plain DuckDB works too, with the glob
`read_parquet('STORE/<family>/**/*.parquet', hive_partitioning = true)`, which is
consistent whenever no writer is mid-commit (our temp files never match `*.parquet`).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

from data.manifest import Manifest
from data.schemas import FAMILIES, FamilySpec, Partitioning, signal_kind_case_sql

_DUCK_TYPES = {
    pa.int8(): "TINYINT",
    pa.int16(): "SMALLINT",
    pa.int32(): "INTEGER",
    pa.int64(): "BIGINT",
    pa.float64(): "DOUBLE",
    pa.string(): "VARCHAR",
    pa.bool_(): "BOOLEAN",
}
_HIVE = "hive_partitioning = true, hive_types = {'date': 'DATE', 'source': 'VARCHAR'}"


def connect() -> duckdb.DuckDBPyConnection:
    """Open an in-memory DuckDB connection for querying a store."""
    return duckdb.connect(":memory:")


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _empty_relation(spec: FamilySpec) -> str:
    cols = [f"CAST(NULL AS {_DUCK_TYPES[f.type]}) AS {f.name}" for f in spec.schema]
    if spec.partitioning is Partitioning.DATE_SOURCE:
        cols += ["CAST(NULL AS DATE) AS date", "CAST(NULL AS VARCHAR) AS source"]
    return f"(SELECT {', '.join(cols)} WHERE false)"


def family_relation(root: Path, manifest: Manifest, spec: FamilySpec) -> str:
    """SQL for a relation over exactly the committed segments of one family."""
    segs = manifest.family(spec.name).segments
    if not segs:
        return _empty_relation(spec)
    files = ", ".join(_sql_str(str(root / s.path)) for s in segs)
    hive = _HIVE if spec.partitioning is Partitioning.DATE_SOURCE else "hive_partitioning = false"
    return f"read_parquet([{files}], {hive}, union_by_name = true)"


def build_views(con: duckdb.DuckDBPyConnection, root: Path, manifest: Manifest) -> None:
    """(Re)create every family view on `con` for the given manifest."""
    for spec in FAMILIES.values():
        extra = ""
        if spec.name == "signals":
            extra = f", {signal_kind_case_sql()} AS kind_name"
        rel = family_relation(root, manifest, spec)
        # Names come from FAMILIES and paths are quoted by _sql_str: no user text here.
        sql = f"CREATE OR REPLACE VIEW {spec.name} AS SELECT *{extra} FROM {rel}"  # noqa: S608
        con.execute(sql)
