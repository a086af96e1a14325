"""The data-quality report, a file checked before import and the import history, on every engine.

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
import io
import json

import openpyxl
import pandas as pd
import pytest

from crm_core import cli, db, dialect, importers, quality, schema
from crm_core.importers import Problem

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
    assert [check.count for check in checks] == [0] * 9
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


# --- a file before it is imported -----------------------------------------------------------------------------------


def _xlsx(rows: list[list[object]]) -> bytes:
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "name", "header"),
    [
        (b"customer_id,email\nc1,a@x.com\n", "a.csv", ["customer_id", "email"]),
        (b'\xef\xbb\xbf\r\n"Kunden, Nr";E-Mail \r\n1;a@x.com\r\n', "b.csv", ["Kunden, Nr", "E-Mail"]),
        (b"Kunde\tBetrag\n1\t2\n", "c.txt", ["Kunde", "Betrag"]),
        (_xlsx([[None], ["Kunde", "Betrag", None], [1, 2.5]]), "d.xlsx", ["Kunde", "Betrag"]),
        (b"\xff\xfeK\x00", "utf16.csv", []),
        (b"a,b\xff\n", "latin1.csv", []),
        (b"", "empty.csv", []),
    ],
    ids=["csv", "bom-semicolon-quoted", "tab", "xlsx", "utf16", "not-utf8", "empty"],
)
def test_file_header(data, name, header):
    assert quality.file_header(data, name) == header


def test_check_file_previews_the_rows_as_stored_and_lists_every_problem():
    data = (
        b"Kundennummer,E-Mail,Geburtstag,Notiz\n"
        b"0001,a@x.com,01.02.1980,hi\n"
        b'0002,not-an-email,1980-13-01,=HYPERLINK("x")\n'
        b"0003,c@x.com,,\n"
    )
    check = quality.check_file(
        "customers", data, {"Kundennummer": "customer_id", "Geburtstag": "birth_date"}, file_name="k.csv"
    )
    assert (check.kind, check.file_name, check.rows, check.importable, check.bad_lines) == (
        "customers",
        "k.csv",
        3,
        True,
        1,
    )
    assert check.preview["customer_id"].tolist() == ["0001", "0002", "0003"]  # ids stay text
    assert check.preview["birth_date"].tolist()[0] == dt.date(1980, 2, 1)
    assert check.preview["Notiz"].tolist()[0] == "hi"  # an unknown column is kept as an attribute
    assert check.problems == [
        Problem(3, "Geburtstag", "no such date or time", "1980-13-01"),
        Problem(3, "E-Mail", "not an email address", "not-an-email"),
    ]
    frame = check.problems_frame()
    assert frame.columns.tolist() == ["line", "column", "reason", "value"]
    assert check.problems_csv().splitlines() == [
        "line,column,reason,value",
        "3,Geburtstag,no such date or time,1980-13-01",
        "3,E-Mail,not an email address,not-an-email",
    ]


def test_check_file_neutralises_formulas_in_the_problem_report():
    check = quality.check_file("orders", b"order_id,customer_id,ordered_at\n=1+1,c1,2024-13-01\n")
    assert check.problems_csv().splitlines()[1] == "2,ordered_at,no such date or time,2024-13-01"
    check = quality.check_file("orders", b"order_id,customer_id,ordered_at,amount\no1,c1,2024-01-01,=SUM(A1)\n")
    assert check.problems_csv().splitlines()[1].endswith(",'=SUM(A1)")


def test_a_file_without_a_required_column_cannot_be_imported():
    check = quality.check_file("orders", b"order_id,ordered_at\no1,2024-01-01\n", file_name="o.csv")
    assert (check.rows, check.importable, check.bad_lines) == (0, False, 1)
    assert check.problems == [
        Problem(1, "customer_id", "required column missing (name it customer_id or use --map SOURCE=customer_id)")
    ]


def test_a_bad_byte_beyond_the_first_megabyte_is_found_at_its_offset():
    # The importer checks UTF-8 a megabyte at a time (no decoded copy of the file); a character split by the
    # boundary is fine, a bad byte after it is reported at its exact offset and line.
    step = importers._DECODE_STEP
    rows = [b"customer_id,first_name\n"]
    size = len(rows[0])
    n = 0
    while size < step - 40:
        rows.append(b"c%d,Ann\n" % n)
        size += len(rows[-1])
        n += 1
    body = b"".join(rows)
    body += b"cX," + b"x" * (step - 1 - len(body) - 3)
    assert len(body) == step - 1
    good = quality.check_file("customers", body + "é".encode() + b"\n")
    assert (good.rows, good.problems, good.preview.shape[0]) == (n + 1, [], 10)
    bad = quality.check_file("customers", body + b"\n" + b"cY,\xff\n")
    reason = (
        f"the file is not UTF-8: byte 0xFF at byte offset {step + 3} is not valid UTF-8; "
        'save the file as UTF-8 ("CSV UTF-8" in Excel)'
    )
    assert bad.problems == [Problem(n + 3, "", reason)]


def test_check_campaign_results_file():
    from crm_core import campaign_import

    layout = campaign_import.ResultsLayout(arm="segment", control="No E-Mail", outcomes={"converted": "conversion"})
    data = b"segment,conversion\nMens E-Mail,1\nNo E-Mail,0\nMens E-Mail,maybe\n"
    check = quality.check_campaign_results_file(data, layout, "Test", file_name="h.csv")
    assert (check.kind, check.rows, check.bad_lines) == ("campaign_results", 3, 1)
    assert check.preview["is_control"].tolist() == [False, True, False]
    assert [(p.line, p.column) for p in check.problems] == [(4, "conversion")]


# --- the remembered mapping and the import history ---------------------------------------------------------------


def test_the_mapping_is_remembered_per_kind_without_a_new_data_version(engine):
    version = db.data_version(engine)
    assert importers.remembered_mapping(engine, "orders") == {}
    importers.remember_mapping(engine, "orders", {"Bestellnr": "order_id", "Kunde": "customer_id", "x": "email"})
    importers.remember_mapping(engine, "customers", {"Mail": "email"})
    assert importers.remembered_mapping(engine, "orders") == {"Bestellnr": "order_id", "Kunde": "customer_id"}
    assert importers.remembered_mapping(engine, "customers") == {"Mail": "email"}
    assert db.data_version(engine) == version


def test_the_import_history_lists_every_attempt_newest_first(engine):
    header = b"order_id,customer_id,ordered_at,amount\n"
    importers.import_file(engine, "orders", header + b"o1,c1,2024-01-01,10\n", file_name="ok.csv")
    with pytest.raises(importers.ImportFailed):
        importers.import_file(engine, "orders", header + b"o2,c1,2024-13-01,10\n", file_name="bad.csv")
    importers.import_file(
        engine, "orders", header + b"o3,c1,2024-01-02,5\no4,c1,yesterday,5\n", file_name="some.csv", on_error="skip"
    )
    history = quality.import_history(engine)
    assert history.columns.tolist() == [
        "import_id",
        "started_at",
        "finished_at",
        "kind",
        "file_name",
        "file_hash",
        "rows_total",
        "rows_created",
        "rows_updated",
        "rows_unchanged",
        "rows_rejected",
        "status",
        "message",
        "has_report",
    ]
    shown = history[["import_id", "file_name", "status", "rows_total", "rows_created", "rows_rejected", "has_report"]]
    assert shown.values.tolist() == [
        [3, "some.csv", "partial", 2, 1, 1, True],
        [2, "bad.csv", "failed", 1, 0, 1, True],
        [1, "ok.csv", "ok", 1, 1, 0, False],
    ]
    assert history["file_hash"].str.len().tolist() == [64, 64, 64]
    assert history["message"][1].startswith("Import of bad.csv (orders) failed: 1 problem on 1 line(s)")
    assert quality.import_report(engine, 2).splitlines() == [
        "line,column,reason,value",
        "2,ordered_at,no such date or time,2024-13-01",
    ]
    assert quality.import_report(engine, 1) is None
    assert len(quality.import_history(engine, limit=2)) == 2


def test_the_history_is_empty_before_any_import(engine):
    history = quality.import_history(engine)
    assert history.empty and "status" in history.columns
    assert quality.import_report(engine, 1) is None


def test_timestamps_in_examples_are_read_alike_on_every_engine(store):
    found = next(c for c in quality.quality_report(store, today=TODAY) if c.key == "future_dates").examples
    assert pd.to_datetime(found["value"], format="ISO8601").tolist() == [T(2027, 1, 10, 10), T(2026, 7, 1, 9)]
