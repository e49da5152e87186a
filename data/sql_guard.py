"""`clanka sql` is a read-only query tool: one SELECT over the store, nothing else.

Two fences, because either alone has a gap:

- the statement itself must be a single SELECT (DESCRIBE, SHOW, SUMMARIZE and VALUES
  count as SELECT in DuckDB); COPY, ATTACH, SET, INSTALL, PRAGMA, EXPLAIN (whose
  ANALYZE form executes its statement) and any second statement are refused with one
  line;
- the connection is sandboxed: DuckDB may touch files only under the store root, and
  the configuration is locked, so a table function cannot read or write elsewhere and
  a query cannot switch the sandbox off.

DuckDB does not verify Parquet page checksums, so before a query runs, the segments of
every family it reads are checked against their SHA-256 in the manifest
(`verify_query_families`): a damaged segment stops the query by name instead of
quietly changing its result.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from data.duck import PROJECTION_FAMILIES, PROJECTIONS
from data.errors import SegmentError
from data.integrity import verify_bytes
from data.manifest import Manifest
from data.schemas import FAMILIES

VIEWS: tuple[str, ...] = (*FAMILIES, *PROJECTIONS)
"""Every view a store's connection has: one per family, then the projections (the same
as `data.names.VIEW_NAMES`, which the help text reads without loading this module)."""


def read_only_query(con: duckdb.DuckDBPyConnection, query: str) -> str:
    """Return `query` if it is one SELECT; raise ValueError naming what it is otherwise."""
    statements = con.extract_statements(query)
    if not statements:
        raise ValueError("the query is empty")
    if len(statements) > 1:
        raise ValueError(f"one statement at a time, got {len(statements)}")
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        name = str(kind).rsplit(".", 1)[-1]
        article = "an" if name[:1] in "AEIOU" else "a"
        raise ValueError(
            f"clanka sql runs read-only queries (SELECT ...); {article} {name} statement is refused"
        )
    return query


def sandbox(con: duckdb.DuckDBPyConnection, root: Path) -> None:
    """Let `con` touch files under `root` only, for good (the configuration is locked)."""
    con.execute("SET allowed_directories = [?]", [str(root) + "/"])
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def _table_names(node: object, out: set[str]) -> None:
    if isinstance(node, dict):
        if node.get("type") == "BASE_TABLE" and isinstance(node.get("table_name"), str):
            out.add(node["table_name"].lower())  # identifiers are case-insensitive
        for v in node.values():
            _table_names(v, out)
    elif isinstance(node, list):
        for v in node:
            _table_names(v, out)


def families_of_query(con: duckdb.DuckDBPyConnection, query: str) -> list[str]:
    """The store families a query reads (projections expanded to their families).

    From DuckDB's parse tree (`json_serialize_sql`), which names every table a query
    refers to without binding it.
    """
    ((tree,),) = con.execute("SELECT json_serialize_sql(?)", [query]).fetchall()
    names: set[str] = set()
    _table_names(json.loads(tree), names)
    fams: set[str] = set()
    for n in names:
        if n in FAMILIES:
            fams.add(n)
        fams.update(PROJECTION_FAMILIES.get(n, ()))
    return sorted(fams)


def verify_query_families(
    con: duckdb.DuckDBPyConnection, query: str, root: Path, manifest: Manifest
) -> None:
    """Raise SegmentError for the first damaged segment among the families `query` reads."""
    for fam in families_of_query(con, query):
        problems = verify_bytes(root, fam, manifest.family(fam).segments)
        if problems:
            p = problems[0]
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise SegmentError(
                f"family {fam}: segment {p.path} is damaged ({p.detail}){more}; the query "
                "was not run; run `clanka store check`",
                family=fam,
                path=p.path,
                problem=p.kind,
            )
