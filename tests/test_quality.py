"""The data-quality report, on every engine.

The store of the report tests (``store``; today is 2026-06-30):

    customers  C1 a@x.com created 2024-01-01 (consent) · C2 A@X.com created 2024-02-01 (no consent, the same email)
               C3 b@x.com created 2024-03-01 (consent) · C4 erased, no creation date, no consent
    orders     O1 C1  2024-01-05 10:00  completed   100  items
               O2 C1  2024-02-05 00:00  completed     0
               O3 C2  2024-03-05 12:30  returned    -20
               O4 #99 2024-04-01 08:00  completed    40          (no such customer)
               O5 C3  2023-06-01 09:00  cancelled    15  items   (before the first customer)
               O6 C3  2027-01-10 10:00  completed    -5          (in the future)
    interactions  #1 C1 2023-12-31 23:00 (before the first customer) · #2 C3 2026-07-01 09:00 (in the future)
    feedback      #1 C1 2024-01-10
"""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from crm_core import cli, db, dialect, quality, schema

T = dt.datetime
TODAY = dt.date(2026, 6, 30)


def _insert_orphan_order(conn, frame: pd.DataFrame) -> None:
    """An order whose customer does not exist, which only DuckDB (no foreign keys) can hold by itself; the row stores
    are told to skip the check for this one insert, as a load with constraints off would."""
    name = conn.dialect.name
    if name == "postgresql":
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
    elif name in ("mysql", "mariadb"):
        conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 0")
    dialect.bulk_insert(conn, schema.orders, frame)
    if name == "postgresql":
        conn.exec_driver_sql("SET LOCAL session_replication_role = origin")
    elif name in ("mysql", "mariadb"):
        conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 1")


@pytest.fixture
def store(engine):
    with db.write_transaction(engine) as conn:
        dialect.bulk_insert(
            conn,
            schema.customers,
            pd.DataFrame(
                {
                    "id": [1, 2, 3, 4],
                    "external_id": ["C1", "C2", "C3", "C4"],
                    "first_name": ["Ann", "Ann", "Bea", None],
                    "email": ["a@x.com", "A@X.com", "b@x.com", None],
                    "email_norm": ["a@x.com", "a@x.com", "b@x.com", None],
                    "created_at": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01", None]),
                    "erased_at": pd.to_datetime([None, None, None, "2025-01-01"]),
                }
            ),
        )
        dialect.bulk_insert(
            conn,
            schema.consents,
            pd.DataFrame({"customer_id": [1, 3], "channel": "email", "status": "opt_in"}),
        )
        orders = pd.DataFrame(
            {
                "id": [1, 2, 3, 4, 5, 6],
                "external_id": ["O1", "O2", "O3", "O4", "O5", "O6"],
                "customer_id": [1, 1, 2, 99, 3, 3],
                "ordered_at": pd.to_datetime(
                    [
                        "2024-01-05 10:00",
                        "2024-02-05 00:00",
                        "2024-03-05 12:30",
                        "2024-04-01 08:00",
                        "2023-06-01 09:00",
                        "2027-01-10 10:00",
                    ]
                ),
                "channel": "web",
                "status": ["completed", "completed", "returned", "completed", "cancelled", "completed"],
                "amount": [100.0, 0.0, -20.0, 40.0, 15.0, -5.0],
            }
        )
        dialect.bulk_insert(conn, schema.orders, orders[orders["customer_id"] != 99])
        dialect.bulk_insert(conn, schema.products, pd.DataFrame({"id": [1], "external_id": ["P1"], "name": ["Tea"]}))
        dialect.bulk_insert(
            conn,
            schema.order_items,
            pd.DataFrame({"id": [1, 2], "order_id": [1, 5], "product_id": 1, "quantity": 1, "unit_price": [100.0, 15]}),
        )
        dialect.bulk_insert(
            conn,
            schema.interactions,
            pd.DataFrame(
                {
                    "id": [1, 2],
                    "customer_id": [1, 3],
                    "occurred_at": pd.to_datetime(["2023-12-31 23:00", "2026-07-01 09:00"]),
                    "channel": "email",
                }
            ),
        )
        dialect.bulk_insert(
            conn,
            schema.feedback,
            pd.DataFrame({"id": [1], "customer_id": [1], "created_at": pd.to_datetime(["2024-01-10"]), "kind": "note"}),
        )
    with engine.begin() as conn:
        _insert_orphan_order(conn, orders[orders["customer_id"] == 99])
    return engine


def _summary(checks: list[quality.QualityCheck]) -> dict[str, tuple[int, int, dict[str, int]]]:
    return {check.key: (check.count, check.total, check.breakdown) for check in checks}


def test_every_check_counts_exactly_what_it_looks_for(store):
    checks = quality.quality_report(store, today=TODAY)
    assert _summary(checks) == {
        "duplicate_customers": (2, 4, {"emails shared": 1}),
        "orders_without_customer": (1, 6, {}),
        "non_positive_amounts": (3, 6, {"zero": 1, "negative": 2, "negative but completed": 1}),
        "cancellations_and_returns": (2, 6, {"cancelled": 1, "returned": 1}),
        "future_dates": (
            2,
            12,
            {
                "orders.ordered_at": 1,
                "interactions.occurred_at": 1,
                "feedback.created_at": 0,
                "customers.created_at": 0,
            },
        ),
        "dates_before_business": (
            2,
            12,
            {
                "orders.ordered_at": 1,
                "interactions.occurred_at": 1,
                "feedback.created_at": 0,
                "customers.created_at": 0,
            },
        ),
        "timestamps_without_time_zone": (1, 6, {}),
        "customers_without_consent": (1, 3, {}),
        "orders_without_items": (4, 6, {}),
        "renamed_products": (0, 1, {}),  # tests/test_import_rules.py imports renamed products
    }
    assert all(check.treatment and check.title for check in checks)
    assert checks[0].share == 0.5


def test_the_examples_show_the_rows_found(store):
    checks = {check.key: check for check in quality.quality_report(store, today=TODAY)}
    duplicates = checks["duplicate_customers"].examples
    assert duplicates[["email", "customer_id"]].values.tolist() == [["a@x.com", "C1"], ["a@x.com", "C2"]]
    orphan = checks["orders_without_customer"].examples
    assert (orphan["order_id"].tolist(), orphan["missing_customer"].tolist()) == (["O4"], [99])
    assert orphan["customer_id"].isna().all()
    amounts = checks["non_positive_amounts"].examples
    assert amounts[["order_id", "amount"]].values.tolist() == [["O3", -20.0], ["O6", -5.0], ["O2", 0.0]]
    assert checks["cancellations_and_returns"].examples["order_id"].tolist() == ["O3", "O5"]
    future = checks["future_dates"].examples
    assert future[["table_name", "record", "column_name"]].values.tolist() == [
        ["orders", "O6", "ordered_at"],
        ["interactions", "2", "occurred_at"],
    ]
    assert checks["dates_before_business"].examples["record"].tolist() == ["O5", "1"]
    assert checks["timestamps_without_time_zone"].examples["order_id"].tolist() == ["O2"]
    assert checks["customers_without_consent"].examples["customer_id"].tolist() == ["C2"]
    assert checks["orders_without_items"].examples["order_id"].tolist() == ["O2", "O3", "O4", "O6"]


def test_a_check_that_found_nothing_has_no_examples_but_their_columns(store):
    """The examples are not looked for when the count is 0, and the empty table still names what they would show."""
    checks = {
        check.key: check for check in quality.quality_report(store, today=TODAY, business_start=dt.date(2020, 1, 1))
    }
    renamed = checks["renamed_products"]
    assert renamed.count == 0 and renamed.examples.empty
    assert list(renamed.examples.columns) == ["product_id", "name", "category", "brand", "variants"]
    early = checks["dates_before_business"]
    assert early.count == 0 and early.examples.empty
    assert list(early.examples.columns) == ["table_name", "record", "column_name", "value"]


def test_a_business_start_date_moves_the_early_dates_check(store):
    checks = quality.quality_report(store, business_start=dt.date(2024, 2, 1), today=TODAY, examples=2)
    early = next(c for c in checks if c.key == "dates_before_business")
    assert "before 2024-02-01, the business's start" in early.title
    assert (early.count, early.breakdown) == (
        5,
        {"orders.ordered_at": 2, "interactions.occurred_at": 1, "feedback.created_at": 1, "customers.created_at": 1},
    )
    assert len(early.examples) == 2
    assert early.examples["record"].tolist() == ["O5", "1"]


def test_an_empty_store_reports_nothing_wrong(engine):
    checks = quality.quality_report(engine, today=TODAY)
    assert [check.count for check in checks] == [0] * 10
    early = next(c for c in checks if c.key == "dates_before_business")
    assert "no customer has a sign-up date" in early.title


def test_the_report_as_json_and_as_a_table(store):
    checks = quality.quality_report(store, today=TODAY, examples=1)
    data = json.loads(json.dumps([c.as_dict() for c in checks]))
    example = data[3]["examples"][0]
    assert example["ordered_at"].startswith("2024-03-05")
    assert {**example, "ordered_at": None} == {
        "order_id": "O3",
        "customer_id": "C2",
        "ordered_at": None,
        "status": "returned",
        "amount": -20.0,
    }
    table = quality.report_frame(checks)
    assert table.loc[3, ["check", "count", "breakdown"]].tolist() == [
        "cancellations_and_returns",
        2,
        "cancelled 1, returned 1",
    ]


def test_cli_quality(store, capsys):
    url = store.url.render_as_string(hide_password=False)
    assert cli.main(["quality", "--db", url, "--json", "--examples", "0"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [c["key"] for c in data][:2] == ["duplicate_customers", "orders_without_customer"]
    assert all(c["examples"] == [] for c in data)
    assert cli.main(["quality", "--db", url]) == 0
    out = capsys.readouterr().out
    assert "Cancelled and returned orders: 2 of 6 orders (33.3%)" in out
    assert "how the metrics treat them: Left out of every metric" in out


def test_timestamps_in_examples_are_read_alike_on_every_engine(store):
    found = next(c for c in quality.quality_report(store, today=TODAY) if c.key == "future_dates").examples
    assert pd.to_datetime(found["value"], format="ISO8601").tolist() == [T(2027, 1, 10, 10), T(2026, 7, 1, 9)]
