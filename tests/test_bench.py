"""The benchmark runs every operation end to end (its timings are read by people, not asserted)."""

from __future__ import annotations

import json

import pytest

from crm_core import bench, cli

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
