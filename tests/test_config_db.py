"""Connection resolution, the schema's creation, the data version and write transactions."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from crm_core import config, db, schema


@pytest.fixture
def secrets_file(tmp_path):
    path = tmp_path / "secrets.toml"
    path.write_text('[connections.crm]\nurl = "sqlite:///from-secrets.sqlite"\n')
    return path


@pytest.mark.parametrize(
    ("cli", "env", "use_secrets", "expected_url", "expected_source"),
    [
        ("sqlite:///cli.sqlite", "sqlite:///env.sqlite", True, "sqlite:///cli.sqlite", "--db"),
        (None, "sqlite:///env.sqlite", True, "sqlite:///env.sqlite", "CRM_DATABASE_URL"),
        (None, None, True, "sqlite:///from-secrets.sqlite", "secrets.toml"),
        (None, None, False, config.DEFAULT_DATABASE_URL, "default"),
    ],
    ids=["cli-wins", "env-over-secrets", "secrets-over-default", "default"],
)
def test_database_url_precedence(tmp_path, secrets_file, cli, env, use_secrets, expected_url, expected_source):
    environ = {config.ENV_VAR: env} if env else {}
    path = secrets_file if use_secrets else tmp_path / "missing.toml"
    setting = config.resolve_database_url(cli, environ=environ, secrets_path=path)
    assert (setting.url, setting.source) == (expected_url, expected_source)
    assert setting.is_default == (expected_source == "default")


def test_default_database_is_the_duckdb_file_in_data():
    assert config.DEFAULT_DATABASE_URL.startswith("duckdb:///")
    assert config.DEFAULT_DATABASE_URL.endswith("data/crm.duckdb")


@pytest.mark.parametrize(
    ("value", "forced"),
    [("1", True), ("true", True), ("ON", True), ("0", False), ("", False)],
    ids=["1", "true", "ON", "0", "empty"],
)
def test_pii_masking_forced(value, forced):
    assert config.pii_masking_forced({config.MASK_PII_ENV_VAR: value}) is forced


def test_redact_url_hides_the_password():
    shown = db.redact_url("postgresql+psycopg://crm:s3cret@db.example:5432/crm")
    assert "s3cret" not in shown
    assert shown == "postgresql+psycopg://crm:***@db.example:5432/crm"


def test_ensure_schema_is_idempotent(engine):
    db.ensure_schema(engine)
    db.ensure_schema(engine)
    names = set(sa.inspect(engine).get_table_names())
    assert {t.name for t in schema.metadata.sorted_tables} <= names


def test_data_version_changes_on_every_write_and_not_on_rollback(engine):
    before = db.data_version(engine)
    with db.write_transaction(engine) as conn:
        conn.execute(schema.customers.insert().values(id=1, external_id="0001"))
    after_write = db.data_version(engine)
    assert after_write == before + 1

    with pytest.raises(RuntimeError, match="boom"), db.write_transaction(engine) as conn:
        conn.execute(schema.customers.insert().values(id=2, external_id="0002"))
        raise RuntimeError("boom")
    assert db.data_version(engine) == after_write
    with engine.connect() as conn:
        ids = conn.execute(sa.select(schema.customers.c.external_id)).scalars().all()
    assert ids == ["0001"], "a failed write leaves nothing behind"


def test_a_write_of_no_customer_fact_refreshes_pages_but_keeps_derived_data(engine):
    with db.write_transaction(engine) as conn:
        conn.execute(schema.customers.insert().values(id=1, external_id="0001"))
    data, facts = db.data_version(engine), db.facts_version(engine)
    with db.write_transaction(engine, facts=False) as conn:
        now = dt.datetime(2026, 1, 1)
        conn.execute(schema.segments.insert().values(id=1, name="All", definition="{}", created_at=now, updated_at=now))
    assert (db.data_version(engine), db.facts_version(engine)) == (data + 1, facts)


def test_allocate_ids_continues_after_the_largest(engine):
    with db.write_transaction(engine) as conn:
        assert db.allocate_ids(conn, schema.customers, 2) == 1
        conn.execute(schema.customers.insert(), [{"id": 1, "external_id": "a"}, {"id": 7, "external_id": "b"}])
        assert db.allocate_ids(conn, schema.customers, 5) == 8


def test_is_empty_and_describe(engine):
    assert db.is_empty(engine)
    info = db.describe(engine)
    assert not info.is_demo
    with db.write_transaction(engine) as conn:
        conn.execute(schema.customers.insert().values(id=1, external_id="0001"))
        db.set_meta(conn, db.DEMO_KEY, "42")
    assert not db.is_empty(engine)
    info = db.describe(engine)
    assert info.is_demo
    assert info.engine in {"DuckDB", "PostgreSQL", "SQLite", "MySQL/MariaDB", "MariaDB"}


def test_table_counts(engine):
    with db.write_transaction(engine) as conn:
        conn.execute(schema.customers.insert(), [{"id": i, "external_id": str(i)} for i in range(1, 4)])
    counts = db.table_counts(engine)
    assert counts["customers"] == 3
    assert counts["orders"] == 0
