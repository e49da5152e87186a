"""A store at a glance: what `clanka store info` shows."""

from __future__ import annotations

import datetime as dt
from typing import Any

from data.schemas import FAMILIES
from data.store import EventStore


def iso_ns(ts_ns: int) -> str:
    """Format int ns since the epoch as an ISO 8601 UTC string (millisecond precision)."""
    t = dt.datetime.fromtimestamp(ts_ns / 1e9, tz=dt.UTC)
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def store_summary(store: EventStore) -> dict[str, Any]:
    """Families with rows, segments, bytes, time range and sources; plus registries."""
    fams = []
    for name in FAMILIES:
        segs = store.segments(name)
        sources = sorted(
            {
                p.split("source=", 1)[1].split("/", 1)[0]
                for p in (s.path for s in segs)
                if "source=" in p
            }
        )
        fams.append(
            {
                "family": name,
                "rows": sum(s.rows for s in segs),
                "segments": len(segs),
                "bytes": sum(s.bytes for s in segs),
                "first_ts": iso_ns(min(s.min_ts for s in segs)) if segs else None,
                "last_ts": iso_ns(max(s.max_ts for s in segs)) if segs else None,
                "sources": sources,
            }
        )
    con = store.con
    by_source = con.sql(
        "SELECT source, count(*) AS ticks, count(DISTINCT mint_id) AS mints, "
        "min(ts_ns) AS first, max(ts_ns) AS last FROM ticks GROUP BY source ORDER BY source"
    ).fetchall()
    reasons = con.sql(
        "SELECT reason, count(*) FROM quarantine GROUP BY reason ORDER BY 2 DESC, 1"
    ).fetchall()
    return {
        "store": str(store.root),
        "generation": store.manifest.generation,
        "families": fams,
        "ticks_by_source": [
            {
                "source": s,
                "ticks": n,
                "mints": m,
                "first_ts": iso_ns(a),
                "last_ts": iso_ns(b),
                "synthetic": s == "synthetic",
            }
            for s, n, m, a, b in by_source
        ],
        "quarantine_reasons": dict(reasons),
        "total_bytes": sum(f["bytes"] for f in fams),
    }
