"""The `clanka` command line, run as a user would (a real subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO


def clanka(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from replay.cli.launch import main; main()", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        timeout=300,
        check=False,
    )


def test_import_json_contract_and_idempotency(tmp_path: Path, shared_data: Path) -> None:
    f = shared_data / "pumpfun_curve_snapshots_2025-06-06.parquet"
    s = str(tmp_path / "s")
    r = clanka("import", str(f), "--store", s, "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert list(doc)[:4] == ["imported", "quarantined", "skipped_duplicates", "store"]
    assert (doc["imported"], doc["quarantined"], doc["skipped_duplicates"]) == (6012, 0, 0)
    assert doc["store"] == str(Path(s).resolve())
    again = json.loads(clanka("import", str(f), "--store", s, "--json").stdout)
    assert (again["imported"], again["skipped_duplicates"]) == (0, 6012)


def test_generate_info_and_sql(tmp_path: Path) -> None:
    s = str(tmp_path / "s")
    g = clanka("generate", "--mints", "4", "--hours", "1", "--seed", "5", "--store", s, "--json")
    assert g.returncode == 0, g.stderr
    gen = json.loads(g.stdout)
    assert "SYNTHETIC" in gen["label"]
    info = json.loads(clanka("store", "info", "--store", s, "--json").stdout)
    fams = {f["family"]: f for f in info["families"]}
    assert fams["ticks"]["rows"] == gen["ticks"]
    assert fams["mints"]["rows"] == 4
    assert info["ticks_by_source"][0]["synthetic"] is True
    q = clanka("sql", "SELECT count(*) AS n FROM ticks", "--store", s, "--json")
    assert json.loads(q.stdout)["rows"] == [{"n": gen["ticks"]}]
    table = clanka("store", "info", "--store", s)
    assert "SYNTHETIC" in table.stdout
    assert "ticks" in table.stdout


def test_store_from_environment(tmp_path: Path) -> None:
    env = {"CLANKA_STORE": str(tmp_path / "envstore")}
    assert clanka("generate", "--mints", "2", "--hours", "1", env=env).returncode == 0
    assert (tmp_path / "envstore" / "_manifest.json").exists()


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["store", "info", "--store", "/nonexistent/x"], 1, "no Clanka store"),
        (["sql", "SELECT nope", "--store", "{s}"], 1, "query failed"),
        (["generate", "--mints", "0", "--store", "{s}"], 2, "invalid mints"),
        (["import", "/etc/hostname", "--store", "{s}"], 1, "corrupt or truncated"),
        (["import", "x.parquet", "--store", "{s}", "--source", "../up"], 2, "invalid source"),
        (["explain", "T1", "--store", "{s}"], 2, "no runs yet"),
        (["explain", "T1", "--run", "nope", "--store", "{s}"], 2, "no run 'nope'"),
        (["explain", "last-one", "--store", "{s}"], 2, "cannot read 'last-one'"),
        (["control", "panic", "--store", "{s}"], 2, "unknown control 'panic'"),
        (["control", "reset", "--at", "yesterday", "--store", "{s}"], 2, "not an ISO 8601"),
    ],
)
def test_errors_are_one_clear_line(tmp_path: Path, args: list[str], code: int, needle: str) -> None:
    s = str(tmp_path / "s")
    clanka("generate", "--mints", "1", "--hours", "1", "--store", s)
    r = clanka(*(a.format(s=s) for a in args))
    assert r.returncode == code, (r.stdout, r.stderr)
    assert needle in r.stderr
    assert "Traceback" not in r.stderr
