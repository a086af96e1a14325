"""The seeded demo dataset: reproducible, referentially sound, believable, and loadable on every engine."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from crm_core import db, demo, dialect, schema

SMALL = 1500


@pytest.fixture(scope="module")
def data() -> demo.DemoData:
    return demo.generate(customers=SMALL, seed=7)


def _foreign_keys():
    """(child table, child column, parent table, parent column) for every foreign key of the data model."""
    for table in schema.metadata.sorted_tables:
        for fk in table.foreign_keys:
            yield table.name, fk.parent.name, fk.column.table.name, fk.column.name


FOREIGN_KEYS = sorted(fk for fk in _foreign_keys() if fk[0] in demo.DemoData.__dataclass_fields__)


# --- reproducibility -------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_same_seed_gives_identical_frames():
    first = demo.generate(customers=400, seed=3)
    second = demo.generate(customers=400, seed=3)
    for name, frame in first.tables().items():
        pd.testing.assert_frame_equal(frame, second.tables()[name], obj=name)


def test_different_seed_gives_different_data():
    first = demo.generate(customers=400, seed=3)
    other = demo.generate(customers=400, seed=4)
    assert not first.customers["email"].equals(other.customers["email"])
    assert len(first.orders) != len(other.orders) or not first.orders["amount"].equals(other.orders["amount"])


# --- shape of the frames ---------------------------------------------------------------------------------------


def test_frames_have_the_schema_columns(data):
    for name, frame in data.tables().items():
        table = schema.metadata.tables[name]
        assert set(frame.columns) <= set(table.c.keys()), name
        required = {c.name for c in table.c if not c.nullable and c.server_default is None}
        assert required <= set(frame.columns), name
        for column in required:
            assert frame[column].notna().all(), f"{name}.{column} has NULLs"


@pytest.mark.parametrize(
    ("child", "column", "parent", "parent_column"),
    FOREIGN_KEYS,
    ids=[f"{c}.{col}->{p}" for c, col, p, _ in FOREIGN_KEYS],
)
def test_every_foreign_key_resolves_in_the_frames(data, child, column, parent, parent_column):
    values = data.tables()[child][column].dropna()
    parents = set(data.tables()[parent][parent_column])
    assert len(values) > 0
    assert set(values) <= parents


@pytest.mark.parametrize(
    "name", ["customers", "products", "orders", "order_items", "interactions", "feedback", "campaigns"]
)
def test_ids_are_unique_and_start_at_one(data, name):
    ids = data.tables()[name]["id"]
    assert ids.is_unique
    assert ids.min() == 1 and ids.max() == len(ids)


def test_unique_keys_are_unique(data):
    assert data.customers["external_id"].is_unique
    assert data.customers["email_norm"].is_unique
    assert data.orders["external_id"].is_unique
    assert data.products["external_id"].is_unique
    assert data.campaigns["name"].is_unique
    assert not data.campaign_members.duplicated(["campaign_id", "customer_id"]).any()
    assert not data.consents.duplicated(["customer_id", "channel"]).any()
    assert data.customers["external_id"].iloc[0] == "C0000001"
    assert data.orders.sort_values("id")["external_id"].iloc[0] == "O00000001"


def test_email_norm_is_lower_trimmed_email(data):
    expected = data.customers["email"].str.strip().str.lower()
    assert (data.customers["email_norm"] == expected).all()
    assert (data.customers["email"] != data.customers["email_norm"]).any()


def test_everything_happens_inside_the_three_years(data):
    start = pd.Timestamp(demo.DEMO_END) - pd.Timedelta(days=demo.HISTORY_DAYS - 1)
    end = pd.Timestamp(demo.DEMO_END) + pd.Timedelta(days=1)
    for name, column in [
        ("customers", "created_at"),
        ("orders", "ordered_at"),
        ("interactions", "occurred_at"),
        ("feedback", "created_at"),
        ("consents", "changed_at"),
        ("campaign_members", "sent_at"),
    ]:
        values = data.tables()[name][column].dropna()
        assert values.min() >= start, name
        assert values.max() < end, name


def test_no_customer_acts_before_being_created(data):
    created = data.customers.set_index("id")["created_at"]
    for name, column in [("orders", "ordered_at"), ("interactions", "occurred_at"), ("feedback", "created_at")]:
        frame = data.tables()[name]
        assert (frame[column].to_numpy() >= created.reindex(frame["customer_id"]).to_numpy()).all(), name


def test_order_amount_is_the_sum_of_its_items(data):
    items = data.order_items
    lines = (items["quantity"] * np.round(items["unit_price"] * 100)).groupby(items["order_id"]).sum()
    amounts = np.round(data.orders.set_index("id")["amount"] * 100)
    assert (lines.reindex(amounts.index) == amounts).all()
    assert items["quantity"].between(1, 3).all()
    assert items.groupby("order_id").size().between(1, 4).all()


def test_order_statuses_and_volume(data):
    shares = data.orders["status"].value_counts(normalize=True)
    assert 0.02 <= shares["cancelled"] <= 0.045
    assert 0.035 <= shares["returned"] <= 0.065
    per_customer = data.orders.groupby("customer_id").size().reindex(data.customers["id"], fill_value=0)
    assert 0.08 <= (per_customer == 0).mean() <= 0.18  # never buy
    assert 7 <= per_customer.mean() <= 12
    assert (per_customer == 1).sum() > 0.1 * (per_customer > 0).sum()  # many one-time buyers


@pytest.mark.parametrize(
    ("channel", "low", "high"),
    [
        ("email", 0.20, 0.30),
        ("sms", 0.35, 0.45),
        ("phone", 0.45, 0.55),
        ("mail", 0.30, 0.40),
    ],
    ids=["email", "sms", "phone", "mail"],
)
def test_consent_opt_out_shares(data, channel, low, high):
    consents = data.consents[data.consents["channel"] == channel]
    assert len(consents) == SMALL
    share = (consents["status"] == "opt_out").mean()
    assert low <= share <= high


# --- campaigns -------------------------------------------------------------------------------------------------


def test_campaigns_every_month_with_a_target(data):
    campaigns = data.campaigns
    assert 25 <= len(campaigns) <= 40
    assert campaigns["target_segment"].notna().all()
    assert campaigns["attribution_window_days"].between(7, 30).all()
    assert set(campaigns["channel"]) <= {"email", "sms", "mail", "phone"}
    assert (data.campaign_members["arm"] == "B").any()


def test_control_group_share_is_between_10_and_20_percent(data):
    members = data.campaign_members
    sizes = members.groupby("campaign_id").size()
    assert (sizes >= 10).mean() > 0.75  # the first months have few customers
    share = members.groupby("campaign_id")["is_control"].mean()[sizes >= 5]
    assert share.between(0.10, 0.20).all(), share[~share.between(0.10, 0.20)]


def test_controls_are_never_contacted(data):
    members = data.campaign_members
    controls = members[members["is_control"]]
    treated = members[~members["is_control"]]
    assert controls["sent_at"].isna().all()
    assert (controls["arm"] == "control").all()
    assert controls["delivered"].isna().all()
    assert treated["sent_at"].notna().all()
    assert treated["arm"].isin(["A", "B"]).all()
    campaign_ids = set(data.interactions["campaign_id"].dropna())
    sent = data.interactions[data.interactions["campaign_id"].notna()]
    contacted = set(zip(sent["campaign_id"], sent["customer_id"], strict=True))
    assert contacted == set(zip(treated["campaign_id"], treated["customer_id"], strict=True))
    assert campaign_ids <= set(data.campaigns["id"])


def test_treatment_members_consented_to_the_channel(data):
    members = data.campaign_members.merge(data.campaigns[["id", "channel"]], left_on="campaign_id", right_on="id")
    treated = members[~members["is_control"]]
    consent = data.consents.astype({"channel": str, "status": str})
    joined = treated.merge(consent, on=["customer_id", "channel"], how="left")
    assert len(joined) == len(treated)
    assert (joined["status"] == "opt_in").all()


def test_conversions_and_revenue_match_the_orders_in_the_window(data):
    members = data.campaign_members.merge(
        data.campaigns[["id", "start_date", "attribution_window_days"]], left_on="campaign_id", right_on="id"
    ).drop(columns="id")
    members["window_start"] = members["sent_at"].where(~members["is_control"], members["start_date"])
    members["window_end"] = members["window_start"] + pd.to_timedelta(members["attribution_window_days"], "D")
    completed = data.orders[data.orders["status"] == "completed"][["customer_id", "ordered_at", "amount"]]
    pairs = members.merge(completed, on="customer_id", how="left")
    inside = (pairs["ordered_at"] >= pairs["window_start"]) & (pairs["ordered_at"] < pairs["window_end"])
    pairs["amount"] = pairs["amount"].where(inside, 0.0)
    pairs["hit"] = inside
    found = pairs.groupby(["campaign_id", "customer_id"]).agg(hit=("hit", "any"), attributed=("amount", "sum"))
    members = members.set_index(["campaign_id", "customer_id"]).join(found)
    assert members["converted"].sum() > 50
    assert (members["converted"] == members["hit"]).all()
    assert np.allclose(members["revenue"], members["attributed"], atol=0.005)
    assert (members.loc[~members["converted"], "revenue"] == 0).all()


@pytest.fixture(scope="module")
def bigger() -> demo.DemoData:
    """Enough customers for control groups of a few hundred per targeted segment."""
    return demo.generate(customers=10_000, seed=11)


@pytest.mark.slow
def test_the_true_effect_differs_between_segments(bigger):
    """Win-back campaigns to lapsed customers work; onboarding messages to new customers barely do."""
    members = bigger.campaign_members.merge(
        bigger.campaigns[["id", "target_segment"]], left_on="campaign_id", right_on="id"
    )
    rates = members.groupby(["target_segment", "is_control"])["converted"].mean().unstack()
    uplift = rates[False] - rates[True]
    assert uplift["Lapsed 90-180 days"] > 0.12
    assert uplift["Lapsed 90-180 days"] - uplift["New customers"] > 0.08


@pytest.mark.slow
def test_a_stronger_arm_converts_more(bigger):
    treated = bigger.campaign_members[~bigger.campaign_members["is_control"]]
    two_arm = treated[treated["campaign_id"].isin(treated.loc[treated["arm"] == "B", "campaign_id"])]
    rates = two_arm.groupby("arm", observed=True)["converted"].mean()
    assert rates["B"] > rates["A"]


# --- loading ---------------------------------------------------------------------------------------------------

LOADED = 300


def _count(conn, table: sa.Table) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar())


def test_load_demo_on_every_engine(engine):
    before = db.data_version(engine)
    calls: list[tuple[float, str]] = []
    summary = demo.load_demo(engine, customers=LOADED, seed=5, progress=lambda f, m: calls.append((f, m)))
    expected = demo.generate(customers=LOADED, seed=5)

    assert db.data_version(engine) > before
    assert db.read_meta(engine)[db.DEMO_KEY] == "5"
    assert summary.rows == {name: len(frame) for name, frame in expected.tables().items()}
    assert "customers" in summary.describe()
    fractions = [f for f, _ in calls]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    with engine.connect() as conn:
        for name, frame in expected.tables().items():
            assert _count(conn, schema.metadata.tables[name]) == len(frame), name
        for child, column, parent, parent_column in FOREIGN_KEYS:
            c, p = schema.metadata.tables[child], schema.metadata.tables[parent]
            orphans = conn.execute(
                sa.select(sa.func.count())
                .select_from(c.outerjoin(p, c.c[column] == p.c[parent_column]))
                .where(c.c[column].is_not(None), p.c[parent_column].is_(None))
            ).scalar()
            assert orphans == 0, f"{child}.{column}"
        mismatched = conn.execute(
            sa.select(sa.func.count()).select_from(
                sa.select(schema.orders.c.id)
                .join(schema.order_items, schema.order_items.c.order_id == schema.orders.c.id)
                .group_by(schema.orders.c.id, schema.orders.c.amount)
                # SQLite keeps NUMERIC as a double, so compare to the cent rather than exactly.
                .having(
                    sa.func.abs(
                        sa.func.sum(schema.order_items.c.quantity * schema.order_items.c.unit_price)
                        - schema.orders.c.amount
                    )
                    > 0.005
                )
                .subquery()
            )
        ).scalar()
        assert mismatched == 0
        revenue = conn.execute(sa.select(sa.func.sum(schema.campaign_members.c.revenue))).scalar()
        assert float(revenue) == pytest.approx(expected.campaign_members["revenue"].sum(), abs=0.01)


def test_load_demo_refuses_a_database_with_customers(engine):
    demo.load_demo(engine, customers=50, seed=1)
    version = db.data_version(engine)
    with pytest.raises(ValueError, match=r"already holds 50 customers; use --replace"):
        demo.load_demo(engine, customers=50, seed=2)
    assert db.data_version(engine) == version
    assert db.read_meta(engine)[db.DEMO_KEY] == "1"


def test_load_demo_replace_moves_the_data_version_on(engine):
    demo.load_demo(engine, customers=50, seed=1)
    version = db.data_version(engine)
    summary = demo.load_demo(engine, customers=60, seed=2, replace=True)
    assert summary.customers == 60
    assert db.data_version(engine) > version
    assert db.read_meta(engine)[db.DEMO_KEY] == "2"


@pytest.mark.slow
def test_import_files_round_trip_through_the_importers(tmp_path):
    """The demo's CSV files speak the documented import format: every row is accepted."""
    from crm_core import imports

    data = demo.generate(customers=120, seed=9)
    files = demo.write_import_files(data, tmp_path)
    assert sorted(files) == ["customers", "feedback", "interactions", "orders"]
    engine = db.create_engine(f"duckdb:///{tmp_path / 'import.duckdb'}")
    db.ensure_schema(engine)
    with engine.begin() as conn:  # campaigns have no import file; interactions name them
        dialect.bulk_insert(conn, schema.campaigns, data.campaigns)
    try:
        for kind, frame in [
            ("customers", data.customers),
            ("orders", data.orders),
            ("interactions", data.interactions),
            ("feedback", data.feedback),
        ]:
            result = imports.import_file(engine, kind, files[kind])
            assert result.rejected == 0, kind
            assert result.created == len(frame), kind
        with engine.connect() as conn:
            opted_out = conn.execute(
                sa.select(sa.func.count()).select_from(schema.consents).where(schema.consents.c.status == "opt_out")
            ).scalar()
        assert opted_out == (data.consents["status"] == "opt_out").sum()
    finally:
        engine.dispose()


def test_a_failed_load_leaves_nothing_behind(engine, monkeypatch):
    """The load is one transaction: a failure in the last tables rolls back the first ones too."""
    real_insert = dialect.bulk_insert

    def failing_insert(conn, table, frame):
        if table.name in ("interactions", db.STAGED_PREFIX + "interactions"):
            raise RuntimeError("disk full")
        return real_insert(conn, table, frame)

    version = db.data_version(engine)
    monkeypatch.setattr(dialect, "bulk_insert", failing_insert)
    with pytest.raises(RuntimeError, match="disk full"):
        demo.load_demo(engine, customers=50, seed=1)
    assert db.is_empty(engine)
    assert db.data_version(engine) == version
    assert db.DEMO_KEY not in db.read_meta(engine)


def test_a_duckdb_load_fills_staging_tables_and_puts_them_in_place_at_the_end(tmp_path, monkeypatch):
    """DuckDB loads the rows into staging tables, committed and written to disk every so many rows (their keys then
    leave memory); the tables the app reads stay empty until one last transaction puts the staging tables in their
    place, with their keys and comments. A staging table left by a load whose process died goes first."""
    engine = db.create_engine(f"duckdb:///{tmp_path / 'staged.duckdb'}")
    try:
        db.ensure_schema(engine)
        with engine.begin() as conn:
            conn.exec_driver_sql(f"CREATE TABLE {db.STAGED_PREFIX}orders (id INTEGER)")  # left by a dead process
        seen: list[tuple[int, int]] = []
        real_insert = dialect.bulk_insert

        def watching(conn, table, frame):
            if table.name == db.STAGED_PREFIX + "interactions" and not seen:
                with engine.connect() as other:
                    seen.append(
                        (
                            other.exec_driver_sql("SELECT count(*) FROM orders").scalar(),
                            other.exec_driver_sql(f"SELECT count(*) FROM {db.STAGED_PREFIX}orders").scalar(),
                        )
                    )
            return real_insert(conn, table, frame)

        monkeypatch.setattr(dialect, "bulk_insert", watching)
        monkeypatch.setattr(db, "STAGED_ROWS_PER_CHECKPOINT", 1)  # every part committed, as a large load's
        summary = demo.load_demo(engine, customers=50, seed=1)
        assert seen == [(0, summary.rows["orders"])], "the orders were staged, the table the app reads still empty"
        with engine.connect() as conn:
            left = conn.exec_driver_sql(
                f"SELECT count(*) FROM duckdb_tables() WHERE starts_with(table_name, '{db.STAGED_PREFIX}')"
            ).scalar()
            constraints = {
                row[0]
                for row in conn.exec_driver_sql(
                    "SELECT constraint_type FROM duckdb_constraints() WHERE table_name = 'orders'"
                ).all()
            }
            comment = conn.exec_driver_sql(
                "SELECT comment FROM duckdb_columns() WHERE table_name = 'orders' AND column_name = 'status'"
            ).scalar()
            orders = conn.execute(sa.select(sa.func.count()).select_from(schema.orders)).scalar()
        assert orders == summary.rows["orders"]
        assert left == 0
        assert {"PRIMARY KEY", "UNIQUE"} <= constraints
        assert comment == schema.orders.c.status.comment
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO orders SELECT * FROM orders LIMIT 1")
        assert db.read_meta(engine)[db.DEMO_KEY] == "1"
    finally:
        engine.dispose()


def _indexes_and_foreign_keys(engine) -> tuple[set, set]:
    """The secondary indexes and foreign keys the database holds on the schema's tables, as reflected."""
    inspector = sa.inspect(engine)
    tables = [table.name for table in schema.metadata.sorted_tables]
    indexes = {(t, ix["name"], tuple(ix["column_names"])) for t in tables for ix in inspector.get_indexes(t)}
    keys = {
        (t, tuple(fk["constrained_columns"]), fk["referred_table"])
        for t in tables
        for fk in inspector.get_foreign_keys(t)
    }
    return indexes, keys


def _skip_without_index_reflection(engine) -> None:
    if engine.dialect.name == "duckdb":
        pytest.skip("duckdb-engine does not reflect indexes (DuckDB gets no secondary indexes nor foreign keys)")


def test_a_load_leaves_every_index_and_foreign_key_of_the_schema(engine):
    """The secondary indexes and foreign keys are set aside for the load and are all there again after it, and in
    the tables made anew by a load that replaces them."""
    _skip_without_index_reflection(engine)
    before = _indexes_and_foreign_keys(engine)
    demo.load_demo(engine, customers=50, seed=1)
    assert _indexes_and_foreign_keys(engine) == before
    demo.load_demo(engine, customers=50, seed=2, replace=True)
    assert _indexes_and_foreign_keys(engine) == before
    indexes, keys = before
    assert {ix.name for ix in db.secondary_indexes()} <= {name for _, name, _ in indexes}
    assert {
        (t.name, tuple(fk.column_keys), fk.referred_table.name)
        for t in schema.metadata.sorted_tables
        for fk in t.foreign_key_constraints
    } <= keys


def test_a_failed_load_leaves_every_index_and_foreign_key(engine, monkeypatch):
    _skip_without_index_reflection(engine)
    before = _indexes_and_foreign_keys(engine)
    real_insert = dialect.bulk_insert

    def failing_insert(conn, table, frame):
        if table.name in ("interactions", db.STAGED_PREFIX + "interactions"):
            raise RuntimeError("disk full")
        return real_insert(conn, table, frame)

    monkeypatch.setattr(dialect, "bulk_insert", failing_insert)
    with pytest.raises(RuntimeError, match="disk full"):
        demo.load_demo(engine, customers=50, seed=1)
    assert db.is_empty(engine)
    assert _indexes_and_foreign_keys(engine) == before


def test_a_load_creates_an_index_the_database_lacks(engine):
    """A database made before an index was added to the schema gets it with the next load."""
    _skip_without_index_reflection(engine)
    index = schema.customers.indexes.copy().pop()
    with engine.begin() as conn:
        index.drop(conn)
    demo.load_demo(engine, customers=50, seed=1)
    assert index.name in {ix["name"] for ix in sa.inspect(engine).get_indexes(schema.customers.name)}


def test_a_load_on_postgresql_leaves_the_planner_statistics_of_its_rows(engine):
    """Without them every table looks a few hundred rows small to the planner until autovacuum comes by."""
    if engine.dialect.name != "postgresql":
        pytest.skip("ANALYZE after a load is PostgreSQL's: the other engines keep their statistics themselves")
    demo.load_demo(engine, customers=50, seed=1)
    with engine.connect() as conn:
        counts = conn.execute(sa.select(sa.func.count()).select_from(schema.orders)).scalar()
        analysed = conn.exec_driver_sql(
            "SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'orders'"
        ).scalar()
        estimated = conn.exec_driver_sql("SELECT reltuples FROM pg_class WHERE relname = 'orders'").scalar()
    assert counts and analysed
    assert estimated == counts


def test_no_customers_is_refused(engine):
    with pytest.raises(ValueError, match="at least 1"):
        demo.generate(customers=0)
    with pytest.raises(ValueError, match="at least 1"):  # raised in the generating thread, seen by the caller
        demo.load_demo(engine, customers=0)
    assert db.is_empty(engine)
