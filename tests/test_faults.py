"""Faults get a plain message, never a traceback: every way the database can be unusable, on the command line (exit
status 2, the URL without its password) and in the app (a page that says so and offers to retry); a disk that fills
up during an import (the import is rolled back and still logged).

Broken database files are in ``tests/files/faults/``, one per case.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import duckdb
import pandas as pd
import psycopg
import pymysql
import pytest
import sqlalchemy as sa
import test_app
from streamlit.testing.v1 import AppTest

from crm_core import cli, db, dialect, schema

FILES = Path(__file__).parent / "files" / "faults"
SECRET = test_app.SECRET
#: A directory nobody may create files in, not even root (sysfs).
UNWRITABLE = Path("/sys/crm-test-unwritable")
app_env = test_app.app_env

BROKEN = {
    "closed port, PostgreSQL": (
        f"postgresql+psycopg://postgres:{SECRET}@127.0.0.1:1/crm",
        "the database server does not answer",
    ),
    "closed port, MariaDB": (f"mysql+pymysql://root:{SECRET}@127.0.0.1:1/crm", "the database server does not answer"),
    "unknown user, PostgreSQL": (
        f"postgresql+psycopg://nobody_here:{SECRET}@127.0.0.1:5432/postgres",
        "the server refused the user name or password",
    ),
    "wrong password, MariaDB": (
        f"mysql+pymysql://root:{SECRET}@127.0.0.1:3306/mysql",  # root has no password here
        "the server refused the user name or password",
    ),
    "missing database, PostgreSQL": (
        f"postgresql+psycopg://postgres:{SECRET}@127.0.0.1:5432/no_such_crm_db",
        "the server has no database of that name",
    ),
    "missing database, MariaDB": (
        "mysql+pymysql://root@127.0.0.1:3306/no_such_crm_db",
        "the server has no database of that name",
    ),
    "corrupt DuckDB file": ("duckdb:///{files}/not_a_database.duckdb", "the file is not a database of this engine"),
    "corrupt SQLite file": ("sqlite:///{files}/not_a_database.sqlite", "the file is not a database of this engine"),
    "unwritable directory, DuckDB": (f"duckdb:///{UNWRITABLE}/crm.duckdb", "cannot be opened for writing"),
    "unwritable directory, SQLite": (f"sqlite:///{UNWRITABLE}/crm.sqlite", "cannot be opened for writing"),
    "not a database URL": ("nosuchengine://crm", "the URL is not one this app can use"),
}


def _broken_url(case: str, tmp_path: Path) -> str:
    url, _ = BROKEN[case]
    if "{files}" in url:  # a copy, so that nothing can change the corpus
        for name in FILES.iterdir():
            shutil.copy(name, tmp_path / name.name)
        url = url.format(files=tmp_path)
    return url


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_connection_fault_is_one_plain_message_and_exit_status_2(case, tmp_path, capsys):
    url = _broken_url(case, tmp_path)
    for command in (["info"], ["segment", "list"], ["import", "customers", str(tmp_path / "x.csv")]):
        (tmp_path / "x.csv").write_text("customer_id\nC1\n")
        assert cli.main([*command, "--db", url]) == 2, command
        out, err = capsys.readouterr()
        assert err.startswith("error: Cannot use the database "), err
        assert BROKEN[case][1] in err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err + out
        assert SECRET not in err + out
        if "://" in url and "@" in url:
            assert db.redact_url(url) in err


def test_a_read_only_duckdb_file_is_a_plain_message(tmp_path, capsys, monkeypatch):
    # The tests may run as root, whom file permissions do not stop: DuckDB's own refusal is simulated.
    path = tmp_path / "read-only.duckdb"

    def refuse(*args, **kwargs):
        raise duckdb.IOException(f'IO Error: Cannot open file "{path}": Permission denied')

    monkeypatch.setattr(duckdb, "connect", refuse)
    assert cli.main(["info", "--db", f"duckdb:///{path}"]) == 2
    err = capsys.readouterr().err
    assert "the file or its directory cannot be opened for writing" in err and "Traceback" not in err


def test_a_program_error_keeps_its_traceback(capsys):
    assert db.connection_fault(ValueError("a bug"), "duckdb:///x.duckdb") is None
    assert db.connection_fault(PermissionError(13, "Permission denied", "/elsewhere/in.csv"), "duckdb:///x") is None


# --- the app ------------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_app_shows_a_fault_as_a_page_with_a_retry(app_env, duckdb_demo_url):
    test_app._use_database(app_env, BROKEN["closed port, PostgreSQL"][0])
    at = AppTest.from_file(str(test_app.APP), default_timeout=test_app.TIMEOUT_S).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "The database cannot be used"
    assert "The database server does not answer" in at.error[0].value
    assert at.code[0].value == db.redact_url(BROKEN["closed port, PostgreSQL"][0])
    assert SECRET not in test_app._all_text(at)
    # The server is back (here: the URL fixed); Retry shows the app.
    test_app._use_database(app_env, duckdb_demo_url)
    at.button(key="database_retry").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Overview"


# --- a full disk during an import ---------------------------------------------------------------------------------


def _disk_full(engine) -> Exception:
    """What each driver raises when the disk fills up while rows are written."""
    name = engine.dialect.name
    if name == "duckdb":
        return duckdb.IOException('IO Error: Could not write file "crm.duckdb.wal": No space left on device')
    if name == "postgresql":
        return psycopg.errors.DiskFull('could not extend file "base/1/2": No space left on device')
    if name == "sqlite":
        return sqlite3.OperationalError("database or disk is full")
    return pymysql.err.OperationalError(1021, "Disk full (/tmp/#sql); waiting for someone to free some space")


def test_a_disk_full_during_an_import_rolls_back_and_is_logged(engine, tmp_path, monkeypatch, capsys):
    real = dialect.bulk_insert
    calls = []

    def fill_up(conn, table, frame):
        if table.name in schema.metadata.tables:  # not the staging tables of the matching step
            calls.append(table.name)
        if len(calls) == 2:  # the customers are written; the disk fills up during the next table
            raise _disk_full(engine)
        return real(conn, table, frame)

    monkeypatch.setattr(dialect, "bulk_insert", fill_up)
    path = tmp_path / "customers.csv"
    path.write_text("customer_id,email,city,consent_email\nC1,a@example.org,Berlin,yes\nC2,b@example.org,Lyon,no\n")
    url = engine.url.render_as_string(hide_password=False)
    assert cli.main(["import", "customers", str(path), "--db", url]) == 1
    err = capsys.readouterr()
    assert "Traceback" not in err.out + err.err
    said = (err.out + err.err).lower()
    assert ("disk" in said or "no space left" in said) and "nothing was written" in said
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.customers)).scalar() == 0
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.consents)).scalar() == 0
        log = pd.DataFrame(conn.execute(sa.select(schema.import_log)).mappings().all())
    assert log["status"].tolist() == ["failed"]
    assert "disk" in log["report"][0].lower() or "no space left" in log["report"][0].lower()
