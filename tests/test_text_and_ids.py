"""Every engine holds what the others hold: long texts and reports, ids that differ only in case, accent or a
trailing space (MySQL/MariaDB compared text case-insensitively and capped TEXT at 64 KB)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from crm_core import imports, profiles, schema

IDS = ["c0000001", "C0000001", "cafe1", "café1"]


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_ids_that_differ_only_in_case_or_accent_are_different_customers(engine, tmp_path):
    rows = "".join(f"{i},{n}@example.org\n" for n, i in enumerate(IDS))
    result = imports.import_file(engine, "customers", _write(tmp_path / "ids.csv", "customer_id,email\n" + rows))
    assert result.created == 4
    C = schema.customers.c
    with engine.connect() as conn:
        for n, external in enumerate(IDS):
            assert conn.execute(sa.select(C.email).where(C.external_id == external)).scalars().all() == [
                f"{n}@example.org"
            ]
        # Lookups are exact: no trailing-space or case-insensitive match.
        assert conn.execute(sa.select(C.id).where(C.external_id == "C0000001 ")).first() is None
        assert conn.execute(sa.select(C.id).where(C.external_id == "CAFE1")).first() is None
    assert profiles.customers_by_external_ids(engine, ["C0000001"])["email"].tolist() == ["1@example.org"]


def test_a_100_kb_feedback_text_is_stored_whole(engine, tmp_path):
    imports.import_file(engine, "customers", _write(tmp_path / "c.csv", "customer_id\nF1\n"))
    text = "lorem ipsum " * 9000 + "end"  # 108 KB
    path = _write(tmp_path / "f.csv", f'customer_id,created_at,kind,text\nF1,2024-01-01,note,"{text}"\n')
    imports.import_file(engine, "feedback", path)
    with engine.connect() as conn:
        assert conn.execute(sa.select(schema.feedback.c.text)).scalar() == text


def test_a_report_of_many_rejected_rows_is_stored_with_its_count(engine, tmp_path):
    """The history keeps the first 1,000 problems (over 64 KB: too long for MariaDB's TEXT) and counts the rest."""
    bad = "".join(f"B{n},not-a-date-{n}\n" for n in range(4000))
    path = _write(tmp_path / "many.csv", "customer_id,birth_date\nOK1,1980-01-01\n" + bad)
    result = imports.import_file(engine, "customers", path, on_error="skip", report_path=tmp_path / "r.csv")
    assert result.created == 1
    with engine.connect() as conn:
        report = conn.execute(sa.select(schema.import_log.c.report)).scalar()
    assert len(report) > 70_000 and report.count("not-a-date") == 1000
    assert "3,000 more problems are not kept in the history" in report
    assert (tmp_path / "r.csv").read_text(encoding="utf-8").count("not-a-date") == 4000


@pytest.mark.parametrize("column", ["text", "report", "definition"])
def test_long_text_columns_are_long_on_mysql(column):
    from sqlalchemy.dialects import mysql

    table = {"text": schema.feedback, "report": schema.import_log, "definition": schema.segments}[column]
    assert table.c[column].type.compile(dialect=mysql.dialect()) == "LONGTEXT"


def test_tables_of_an_earlier_version_are_upgraded_on_mysql(engine):
    if engine.dialect.name != "mysql":
        pytest.skip("only MySQL/MariaDB had short text and case-insensitive ids")
    from crm_core import db

    query = sa.text(
        "SELECT data_type, collation_name FROM information_schema.columns "
        "WHERE table_schema = DATABASE() AND table_name = :t AND column_name = :c"
    )
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE feedback MODIFY COLUMN text TEXT"))
        conn.execute(sa.text("ALTER TABLE orders MODIFY COLUMN external_id VARCHAR(64) NOT NULL"))
        assert conn.execute(query, {"t": "feedback", "c": "text"}).first()[0] == "text"
    db.ensure_schema(engine)
    with engine.connect() as conn:
        assert conn.execute(query, {"t": "feedback", "c": "text"}).first()[0] == "longtext"
        assert conn.execute(query, {"t": "orders", "c": "external_id"}).first()[1].endswith("_bin")
