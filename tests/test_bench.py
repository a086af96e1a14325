"""The benchmark runs every operation end to end (its timings are read by people, not asserted)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from crm_core import bench, cli, db
from crm_core.bench import browser

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def small_run():
    return bench.run_bench(customers=400, seed=3)


def test_every_operation_is_timed_with_rows(small_run):
    names = [row.operation for row in small_run]
    assert names[0].startswith("generate + load demo data (400 customers)")
    for operation, _, _ in bench.OPERATIONS:
        assert operation in names
    assert {"import customers CSV", "import orders CSV"} <= set(names)
    for row in small_run:
        assert row.seconds > 0
        assert row.rows is not None and row.rows >= 0, row


def test_import_rows_are_the_files_rows(small_run):
    by_name = {row.operation: row for row in small_run}
    assert by_name["import customers CSV"].rows == 400


def test_bench_refuses_an_empty_database(tmp_path, capsys):
    assert cli.main(["bench", "--db", f"duckdb:///{tmp_path / 'empty.duckdb'}"]) == 2
    assert "holds no customers" in capsys.readouterr().err


def test_bench_on_an_existing_database_prints_json(duckdb_demo_url, capsys):
    assert cli.main(["bench", "--db", duckdb_demo_url, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {row["operation"] for row in rows} >= {name for name, _, _ in bench.OPERATIONS}
    assert not any(row["operation"].startswith("generate") for row in rows)


def test_engines_times_the_same_operations_on_each_database(tmp_path, capsys):
    urls = [f"duckdb:///{tmp_path / 'bench.duckdb'}", f"sqlite:///{tmp_path / 'bench.sqlite'}"]
    assert cli.main(["bench", "--customers", "300", "--engines", *urls]) == 0
    header, _, *lines = capsys.readouterr().out.splitlines()
    assert re.split(r"\s{2,}", header.strip()) == ["operation", "DuckDB (s)", "SQLite (s)", "rows"]
    table = {cells[0]: cells[1:] for cells in (re.split(r"\s{2,}", line.strip()) for line in lines)}
    assert lines[0].startswith("generate + load demo data (300 customers)")
    compared = [name for name, _, _ in bench.OPERATIONS if name not in bench.engines.NOT_COMPARED]
    assert list(table)[1:] == compared + [name for name, _ in bench.engines.WRITES]
    for operation, (duckdb_s, sqlite_s, rows) in table.items():
        assert float(duckdb_s) > 0 and float(sqlite_s) > 0, operation
        assert rows.replace(",", "").isdigit(), f"{operation}: rows differ between the engines ({rows})"


def test_engines_refuses_a_database_that_holds_customers(duckdb_demo_url, tmp_path, capsys):
    fresh = f"sqlite:///{tmp_path / 'fresh.sqlite'}"
    assert cli.main(["bench", "--customers", "300", "--engines", fresh, duckdb_demo_url]) == 2
    err = capsys.readouterr().err
    assert "already holds customers" in err and "never writes over" in err
    engine = db.create_engine(fresh)
    try:
        assert db.is_empty(engine)  # refused before anything was loaded
    finally:
        engine.dispose()


@pytest.mark.browser
def test_pages_times_every_page_first_and_second_load(chromium_path, tmp_path, capsys, monkeypatch):
    url = f"duckdb:///{tmp_path / 'pages.duckdb'}"
    assert cli.main(["demo", "--customers", "300", "--db", url]) == 0
    capsys.readouterr()
    assert cli.main(["bench", "--pages", "--db", url, "--json"]) == 0
    timings = json.loads(capsys.readouterr().out)
    monkeypatch.syspath_prepend(str(browser.PROJECT_ROOT))  # the app's own page list, as `streamlit run` imports it
    from ui.shell import PAGES

    # The default page at the root, every other page at its script's name (Streamlit's URL paths).
    assert [(t["page"], t["url_path"]) for t in timings] == [
        (title, "" if i == 0 else Path(script).stem) for i, (script, title, _) in enumerate(PAGES)
    ]
    for timing in timings:
        assert timing["first_s"] > 0 and timing["second_s"] > 0, timing


@pytest.mark.browser
def test_pages_refuses_an_empty_database(chromium_path, tmp_path, capsys):
    assert cli.main(["bench", "--pages", "--db", f"sqlite:///{tmp_path / 'empty.sqlite'}"]) == 2
    assert "holds no customers" in capsys.readouterr().err
