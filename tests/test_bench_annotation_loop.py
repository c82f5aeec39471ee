"""Smoke run of the annotation-loop benchmark: real gunicorn, real PostgreSQL, real HTTP.

It checks what the benchmark promises a reader: annotators get work and submit it, no item
goes to two annotators with overlap 1, every accepted submit is stored, and the run leaves
no database behind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
SERVER = os.environ.get("DATABASE_URL") or "postgres://root@127.0.0.1:5432/postgres"


def _admin_url() -> str:
    return urlunsplit(urlsplit(SERVER)._replace(path="/postgres"))


def _bench_databases() -> set[str]:
    import psycopg

    with psycopg.connect(_admin_url(), connect_timeout=3) as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE 'jdreview_bench_%'"
        ).fetchall()
    return {r[0] for r in rows}


@pytest.fixture(scope="module")
def postgres_up() -> None:
    if not SERVER.startswith(("postgres://", "postgresql://")):
        pytest.skip("DATABASE_URL points at a database that is not PostgreSQL")
    try:
        _bench_databases()
    except Exception as exc:  # psycopg.OperationalError and friends: no server to talk to
        pytest.skip(f"PostgreSQL is not reachable at {urlsplit(SERVER).netloc}: {exc}")


def _bench_module():  # type: ignore[no-untyped-def]
    from bench import annotation_loop

    return annotation_loop


def test_the_checks_count_a_double_hand_out_and_a_lost_submit():
    # The smoke run below can only show zeros; this shows the counters are not blind.
    bench = _bench_module()
    handed = {10: {1}, 11: {1, 2}, 12: {3}}
    assert bench.count_over_overlap(handed, overlap=1) == 1
    assert bench.count_over_overlap(handed, overlap=2) == 0
    submitted = [(100, 1, 10), (101, 2, 11), (102, 3, 12)]
    stored = {(100, 1, 10), (102, 3, 12), (999, 2, 11)}  # 101 never reached the database
    assert bench.count_lost(submitted, stored) == 1


@pytest.mark.slow
def test_quick_run_hands_out_each_item_once_and_loses_no_submit(postgres_up):
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "annotation_loop.py"),
            "--quick",
            "--seconds",
            "2",
            "--workers",
            "2",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    lines = proc.stdout.strip().splitlines()
    result = json.loads(lines[-1])
    assert result["annotators"] == 8
    assert result["iterations_per_s"] > 0
    assert result["double_assigned"] == 0
    assert result["lost"] == 0
    progress = [line for line in lines if " it/s, p50 " in line]
    assert len(progress) == 2  # N = 1 and N = 8
    assert all("errors 0," in line and "claims off 0," in line for line in progress), progress
    assert any(line.startswith("label-studio") for line in lines)
    # The run dropped its own database again.
    (created,) = [line.split()[2] for line in lines if line.startswith("creating database")]
    assert created.startswith("jdreview_bench_")
    assert created not in _bench_databases()
