"""Spark SQL as an engine: values sent as typed literals, the engine-specific constructs, the dashboard's own writes
(model scores, saved segments, the data version) and the refusal of imports, erasure and consent changes.

The read path of every page is compared with DuckDB in tests/test_engines_agree.py and tests/test_app.py.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import secrets

import pytest
import sqlalchemy as sa

from crm_core import clv, db, dialect, erasure, imports, schema, segments

pytest.importorskip("pyhive", reason="Spark SQL needs requirements-spark.txt")

from crm_core.spark_dialect import SparkDialect, literal  # noqa: E402


@pytest.fixture(scope="module")
def spark(spark_demo_url):
    engine = db.create_engine(spark_demo_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def reference(duckdb_demo_url):
    engine = db.create_engine(duckdb_demo_url)
    yield engine
    engine.dispose()


# --- without a server --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "sql"),
    [
        (None, "NULL"),
        (True, "TRUE"),
        (7, "7"),
        (1.0, "CAST('1.0' AS DOUBLE)"),  # pasted as 1.0 it would be a DECIMAL(2,1) and round averages
        (decimal.Decimal("12.50"), "CAST('12.50' AS DECIMAL(38, 2))"),
        (dt.date(2024, 2, 29), "DATE '2024-02-29'"),
        (dt.datetime(2024, 2, 29, 13, 5, 1, 250), "TIMESTAMP '2024-02-29 13:05:01.000250'"),
        ("O'Brien \\ co", "'O\\'Brien \\\\ co'"),
    ],
    ids=["null", "bool", "int", "float", "decimal", "date", "timestamp", "text"],
)
def test_values_become_typed_literals(value, sql):
    assert literal(value) == sql


def test_ddl_is_what_spark_takes():
    ddl = str(sa.schema.CreateTable(schema.customers).compile(dialect=SparkDialect()))
    assert "USING parquet" in ddl
    assert "PRIMARY KEY" not in ddl and "UNIQUE" not in ddl
    assert "`acquisition_cost` DECIMAL(12, 2)" in ddl and "`birth_date` DATE" in ddl


def test_an_insert_keeps_its_column_list():
    sql = str(schema.meta.insert().values(key="k", value="v").compile(dialect=SparkDialect()))
    assert sql.startswith("INSERT INTO `meta` (`key`, `value`)")


# --- on the server -----------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_constructs_and_values_round_trip(spark):
    ts = sa.literal(dt.datetime(2024, 3, 17, 13, 45), sa.DateTime)
    later = sa.literal(dt.datetime(2024, 3, 20, 1, 45), sa.DateTime)
    query = sa.select(
        dialect.day_of(ts),
        dialect.week_start(ts),
        dialect.month_start(ts),
        dialect.days_between(ts, later),
        dialect.seconds_between(ts, later),
        dialect.add_days(ts, 3),
        sa.literal("it's a \\ test"),
        sa.func.avg(dialect.as_float(sa.literal(1.0)) / 3),
    )
    with spark.connect() as conn:
        row = conn.execute(query).one()
    assert tuple(row[:6]) == (
        dt.date(2024, 3, 17),
        dt.date(2024, 3, 11),
        dt.date(2024, 3, 1),
        3,
        216_000.0,
        dt.datetime(2024, 3, 20, 13, 45),
    )
    assert row[6] == "it's a \\ test"
    assert row[7] == pytest.approx(1 / 3, rel=1e-15)


@pytest.mark.slow
def test_model_scores_are_written_and_segment_rules_over_them_agree(spark, reference):
    for engine in (spark, reference):
        clv.ensure_scores(engine)
    with spark.connect() as conn:
        scored = conn.execute(sa.select(sa.func.count()).select_from(schema.customer_scores)).scalar()
    assert scored and scored > 100
    rule = {"all": [{"field": "churn_risk", "op": "=", "value": "High"}]}
    assert segments.segment_size(spark, rule) == segments.segment_size(reference, rule)
    # Up to date for this data version: no second write.
    assert clv.ensure_scores(spark) is False


@pytest.mark.slow
def test_saved_segments_versions_rename_and_delete(spark):
    before = db.data_version(spark)
    first = segments.save_segment(
        spark, "Spark test segment", {"all": [{"field": "country", "op": "=", "value": "DE"}]}
    )
    second = segments.save_segment(
        spark, "Spark test segment", {"all": [{"field": "country", "op": "=", "value": "FR"}]}
    )
    assert (first.version, second.version, second.id) == (1, 2, first.id)
    renamed = segments.rename_segment(spark, first.id, "Spark test segment, renamed")
    assert (renamed.name, renamed.version) == ("Spark test segment, renamed", 2)
    assert list(segments.segment_versions(spark, first.id)["version"]) == [2, 1]  # newest first
    segments.delete_segment(spark, first.id)
    assert "Spark test segment, renamed" not in set(segments.list_segments(spark)["name"])
    assert db.data_version(spark) == before + 4


def _counts(engine):
    touched = (schema.customers, schema.consents, schema.suppressions, schema.import_log)
    with engine.connect() as conn:
        return [conn.execute(sa.select(sa.func.count()).select_from(t)).scalar() for t in touched]


@pytest.mark.slow
def test_imports_erasure_and_consent_changes_are_refused_before_anything_is_written(spark, tmp_path):
    counts = _counts(spark)
    version = db.data_version(spark)
    upload = tmp_path / "customers.csv"
    upload.write_text("customer_id,email,consent_email\nNEW1,new@example.com,yes\n", encoding="utf-8")
    with pytest.raises(db.ReadOnlyFactsError, match="pipeline"):
        imports.import_file(spark, "customers", upload)
    with spark.connect() as conn:
        someone = conn.execute(sa.select(schema.customers.c.external_id).limit(1)).scalar()
    with pytest.raises(db.ReadOnlyFactsError, match="Nothing was written"):
        erasure.erase_customer(spark, customer_id=someone)
    with pytest.raises(db.ReadOnlyFactsError), db.write_transaction(spark) as conn:
        conn.execute(schema.consents.insert().values(customer_id=1, channel="sms", status="opt_out"))
    assert _counts(spark) == counts
    assert db.data_version(spark) == version


@pytest.mark.slow
@pytest.mark.parametrize(
    "command",
    [
        ["info"],
        ["rfm", "--as-of", "2025-06-01", "--format", "json"],
        ["campaigns", "--json"],
        ["clv", "--calibration-end", "2025-06-30", "--json"],
    ],
    ids=lambda c: c[0],
)
def test_read_commands_give_duckdbs_answers(command, spark_demo_url, duckdb_demo_url, capsys):
    from crm_core import cli

    outputs = []
    for url in (spark_demo_url, duckdb_demo_url):
        assert cli.main([*command, "--db", url]) == 0
        outputs.append(capsys.readouterr().out)
    if command[0] == "info":
        assert "Spark SQL" in outputs[0] and "customers" in outputs[0]
        return
    assert outputs[0] and _json_numbers_agree(json.loads(outputs[0]), json.loads(outputs[1]))


@pytest.mark.slow
def test_import_command_says_where_fact_changes_belong(spark_demo_url, tmp_path, capsys):
    from crm_core import cli

    upload = tmp_path / "orders.csv"
    upload.write_text("order_id,customer_id,ordered_at,amount\nX1,C000001,2025-01-01,10\n", encoding="utf-8")
    assert cli.main(["import", "orders", str(upload), "--db", spark_demo_url]) == 2
    assert "pipeline" in capsys.readouterr().err


def _json_numbers_agree(got, expected) -> bool:
    if isinstance(expected, dict):
        return set(got) == set(expected) and all(_json_numbers_agree(got[k], expected[k]) for k in expected)
    if isinstance(expected, list):
        key = repr
        return len(got) == len(expected) and all(
            _json_numbers_agree(a, b) for a, b in zip(sorted(got, key=key), sorted(expected, key=key), strict=True)
        )
    if isinstance(expected, float) and isinstance(got, int | float):
        return got == pytest.approx(expected, rel=1e-6, abs=1e-9)
    return got == expected


@pytest.mark.slow
def test_a_session_reads_a_table_another_process_rewrote(spark_demo_url):
    """A pooled session keeps its listing of a table's files; after another process rewrote the table (``score``
    from the command line while the app reads) its next read refreshes the table instead of failing on a file that
    is gone."""
    from sqlalchemy.engine import make_url

    url = make_url(spark_demo_url).set(database=f"crm_test_stale_{secrets.token_hex(3)}")
    admin = db.create_engine(make_url(spark_demo_url).set(database="default").render_as_string(hide_password=False))
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {url.database}")
    reader, writer = (db.create_engine(url.render_as_string(hide_password=False)) for _ in range(2))
    try:
        with writer.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t (k STRING, v STRING) USING parquet")
            conn.exec_driver_sql("INSERT INTO t VALUES ('a', '1'), ('b', '2')")
        with reader.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 2
        with writer.begin() as conn:  # another engine: the reader's dialect does not know of the write
            conn.exec_driver_sql("INSERT OVERWRITE TABLE t VALUES ('a', '9'), ('c', '3'), ('d', '4')")
        with reader.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 3
    finally:
        reader.dispose()
        writer.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {url.database} CASCADE")
        admin.dispose()


@pytest.mark.slow
def test_load_from_parquet_files_into_a_new_spark_database(spark_demo_url, tmp_path):
    """``load``: the Spark server reads the exported files itself into tables USING parquet, one job per table."""
    from sqlalchemy.engine import make_url

    from crm_core import demo, loading

    data = demo.generate(customers=40, seed=5)
    for name in ("customers", "orders", "campaigns", "campaign_members"):
        getattr(data, name).to_parquet(tmp_path / f"{name}.parquet", index=False)
    url = make_url(spark_demo_url).set(database=f"crm_test_load_{secrets.token_hex(3)}")
    admin = db.create_engine(make_url(spark_demo_url).set(database="default").render_as_string(hide_password=False))
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {url.database}")
    engine = db.create_engine(url.render_as_string(hide_password=False))
    try:
        summary = loading.load_parquet(engine, str(tmp_path))
        assert summary.rows == {
            "customers": len(data.customers),
            "campaigns": len(data.campaigns),
            "orders": len(data.orders),
            "campaign_members": len(data.campaign_members),
        }
        with engine.connect() as conn:
            revenue = conn.execute(sa.select(sa.func.sum(schema.orders.c.amount))).scalar()
            ddl = conn.exec_driver_sql("SHOW CREATE TABLE orders").scalar()
        assert float(revenue) == pytest.approx(float(data.orders["amount"].sum()), abs=0.01)
        assert "USING parquet" in ddl
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {url.database} CASCADE")
        admin.dispose()
