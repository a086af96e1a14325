"""The dashboard and the command line share the default DuckDB file.

DuckDB lets one process open a file for writing, so the app keeps the file open only while its queries follow each
other, and lets go when idle or when another process waits for it; a connection that finds the file busy waits and
retries (``db.create_engine``). These tests run a reader process
that queries the way the app does, in a loop, while another process writes: both must succeed, and the reader
must end up seeing the new data. A writer that waits longer than its timeout must fail with a plain message.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from crm_core import db

pytestmark = pytest.mark.slow

PROJECT_ROOT = Path(__file__).resolve().parent.parent

#: The app side: what a rerun of the Overview asks, over and over, until it sees the expected data.
READER = textwrap.dedent(
    """
    import datetime as dt, json, sys, time
    from crm_core import db, overview

    url, want_version, want_customers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    deadline = time.monotonic() + float(sys.argv[4])
    engine = db.create_engine(url)
    queries = version = customers = 0
    while time.monotonic() < deadline:
        version = db.data_version(engine)
        customers = overview.overview_kpis(engine, dt.date(2000, 1, 1), dt.date(2100, 1, 1)).current.customers
        queries += 1
        if version >= want_version and customers >= want_customers and queries >= 3:
            break
        time.sleep(0.02)
    print(json.dumps({"queries": queries, "version": version, "customers": customers}))
    """
)

#: A writer that commits several small write transactions, each bumping the data version.
WRITER = textwrap.dedent(
    """
    import datetime as dt, sys, time
    from crm_core import db, schema

    url, count = sys.argv[1], int(sys.argv[2])
    engine = db.create_engine(url)
    for n in range(1, count + 1):
        with db.write_transaction(engine) as conn:
            row = {"id": n, "external_id": f"W{n}", "created_at": dt.datetime(2024, 1, n)}
            conn.execute(schema.customers.insert().values(**row))
        time.sleep(0.05)
    """
)

#: Holds the file open (and so locked) until killed.
HOLDER = textwrap.dedent(
    """
    import sys, time, duckdb
    connection = duckdb.connect(sys.argv[1])
    print("holding", flush=True)
    time.sleep(120)
    """
)


def _python(code: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(process: subprocess.Popen, timeout: float = 180) -> tuple[str, str]:
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        pytest.fail(f"process did not finish in {timeout} s: {err[-2000:]}")
    assert process.returncode == 0, err[-3000:]
    return out, err


@pytest.fixture
def duckdb_url(tmp_path) -> str:
    url = f"duckdb:///{tmp_path / 'shared.duckdb'}"
    engine = db.create_engine(url)
    db.ensure_schema(engine)
    engine.dispose()
    return url


def test_the_cli_loads_data_while_the_app_reads(duckdb_url):
    reader = _python(READER, duckdb_url, "1", "300", "150")
    time.sleep(0.5)  # let the reader start querying first, as an open dashboard would
    writer = subprocess.run(
        [sys.executable, "-m", "crm_core", "demo", "--customers", "300", "--seed", "3", "--db", duckdb_url],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert writer.returncode == 0, writer.stderr[-3000:]
    seen = json.loads(_finish(reader)[0])
    assert seen["version"] >= 1
    assert seen["customers"] == 300
    assert seen["queries"] >= 3


def test_many_small_writes_interleave_with_reads(duckdb_url):
    reader = _python(READER, duckdb_url, "8", "8", "120")
    writer = _python(WRITER, duckdb_url, "8")
    _finish(writer)
    seen = json.loads(_finish(reader)[0])
    assert (seen["version"], seen["customers"]) == (8, 8)


def test_the_file_stays_open_between_queries_and_is_let_go_when_idle(duckdb_url, monkeypatch):
    monkeypatch.setattr(db, "IDLE_RELEASE_S", 0.3)
    engine = db.create_engine(duckdb_url)
    db.data_version(engine)
    db.data_version(engine)
    assert engine.pool.checkedin() == 1, "one connection kept for the next query"
    deadline = time.monotonic() + 10
    while engine.pool.checkedin() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert engine.pool.checkedin() == 0, "closed once idle"
    holder = _python(HOLDER, duckdb_url.removeprefix("duckdb:///"))
    try:
        assert holder.stdout.readline().strip() == "holding", "another process can open the file now"
    finally:
        holder.kill()
        holder.communicate()
    engine.dispose()


def test_a_writer_that_waits_too_long_fails_with_a_clear_message(duckdb_url):
    path = duckdb_url.removeprefix("duckdb:///")
    holder = _python(HOLDER, path)
    try:
        assert holder.stdout.readline().strip() == "holding", holder.stderr.read()
        engine = db.create_engine(duckdb_url, busy_timeout_s=1)
        started = time.monotonic()
        busy = pytest.raises(db.DatabaseBusyError, match="is in use by another process \\(waited 1 s\\)")
        with busy, db.write_transaction(engine):
            pass
        assert 1 <= time.monotonic() - started < 15
    finally:
        holder.kill()
        holder.communicate()
    # Once the other process has let go, the same engine writes.
    with db.write_transaction(engine):
        pass
    assert db.data_version(engine) == 1
