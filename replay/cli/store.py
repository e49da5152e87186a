"""`clanka store ...`: look at a store, keep it compact, verify it, repair it.

Registered on the app by importing it (`replay.cli.main`). `check` changes nothing and exits
1 when it finds a damaged segment (one line per segment); `repair --drop-missing` is
the only command that removes committed data, and it logs what it removed.
"""

from __future__ import annotations

from typing import Annotated

import typer

from data.defaults import DEFAULT_COMPACT_TARGET_ROWS
from replay.cli.common import (
    JsonOpt,
    StoreOpt,
    err,
    escape,
    out,
    print_json,
    store_app,
    store_path,
    user_errors,
)


@store_app.command("info")
@user_errors
def store_info(store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """Summarise a store: families, row counts, time range, size, sources."""
    from data.store import open_store
    from data.summary import store_summary
    from replay.cli.render import render_summary

    st = open_store(store_path(store))
    summary = store_summary(st)
    if as_json:
        print_json(summary)
    else:
        render_summary(out, summary)


@store_app.command("compact")
@user_errors
def store_compact(
    store: StoreOpt = None,
    family: Annotated[
        list[str] | None, typer.Option(help="Family to compact (repeatable) [default: all].")
    ] = None,
    target_rows: Annotated[
        int, typer.Option(help="Rows per merged segment at most.", min=1)
    ] = DEFAULT_COMPACT_TARGET_ROWS,
    as_json: JsonOpt = False,
) -> None:
    """Merge small segments into larger ones (atomically; old ones move to _retired/).

    Each input segment is verified (hash, page checksums) before it is merged: a
    damaged one stops the compaction by name instead of being copied into a new file.
    """
    from data.store import open_store

    st = open_store(store_path(store))
    res = st.compact(family, target_rows=target_rows)
    doc = {
        "segments_before": res.segments_before,
        "segments_after": res.segments_after,
        "merged_groups": res.merged_groups,
        "rows_rewritten": res.rows_rewritten,
    }
    if as_json:
        print_json(doc)
    else:
        out.print(
            f"compacted {res.merged_groups} group(s): {res.segments_before} -> "
            f"{res.segments_after} segments, {res.rows_rewritten:,} rows rewritten"
        )


@store_app.command("vacuum")
@user_errors
def store_vacuum(store: StoreOpt = None) -> None:
    """Delete segments retired by compaction, set aside by crash recovery or repair.

    Waits (up to 30 s) while a scan in another process may still read retired segments.
    """
    from data.store import open_store

    st = open_store(store_path(store))
    freed = st.vacuum()
    out.print(f"freed {freed / 1e6:.1f} MB")


@store_app.command("check")
@user_errors
def store_check(store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """Verify every committed segment: on disk, size, SHA-256, page checksums, rows.

    Prints one line per damaged segment and exits 1 if there is any; changes nothing.
    Segments written before hashes were kept are checked by size, pages and rows.
    """
    from data.store import open_store

    st = open_store(store_path(store))
    rep = st.check()
    doc = {
        "store": str(st.root),
        "segments": rep.segments,
        "rows": rep.rows,
        "bytes": rep.bytes,
        "hashed_segments": rep.hashed,
        "problems": [p.__dict__ for p in rep.problems],
    }
    if as_json:
        print_json(doc)
    else:
        for p in rep.problems:
            err.print(f"[red]damaged:[/red] {escape(p.line())}", highlight=False)
        verdict = f"{len(rep.problems)} damaged" if rep.problems else "all whole"
        out.print(
            f"checked {rep.segments:,} segments ({rep.rows:,} rows, {rep.bytes / 1e6:,.1f} MB; "
            f"{rep.hashed:,} with a recorded SHA-256): {verdict}",
            highlight=False,
        )
    if rep.problems:
        raise typer.Exit(1)


@store_app.command("repair")
@user_errors
def store_repair(
    drop_missing: Annotated[
        bool,
        typer.Option(
            "--drop-missing",
            help="Remove every segment `store check` finds missing or unreadable from the "
            "manifest (its rows are lost; each removal is logged in the `repairs` family).",
        ),
    ] = False,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Make a damaged store readable again by dropping what cannot be read, logged.

    Without --drop-missing it only says what it would drop. Damaged files still on
    disk move to _damaged/ (deleted by `store vacuum`).
    """
    from data.store import open_store

    st = open_store(store_path(store))
    problems = st.check().problems
    if not drop_missing:
        for p in problems:
            out.print(f"would drop {escape(p.line())} ({p.rows:,} rows)", highlight=False)
        out.print(
            f"{len(problems)} damaged segment(s); run again with --drop-missing to drop them"
            if problems
            else "nothing to repair: every segment is whole"
        )
        return
    dropped = st.repair(problems) if problems else []
    lost = sum(p.rows for p in dropped)
    if as_json:
        print_json({"dropped": [p.__dict__ for p in dropped], "rows_lost": lost})
        return
    for p in dropped:
        out.print(f"dropped {escape(p.line())} ({p.rows:,} rows lost)", highlight=False)
    out.print(
        f"dropped {len(dropped)} segment(s), {lost:,} rows; logged in the `repairs` family"
        if dropped
        else "nothing to repair: every segment is whole"
    )
