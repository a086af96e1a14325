"""Imports: the corpus of good and bad files in tests/files, on every engine.

The shop that most tests import into (``shop`` fixture), inserted directly rather than through the importer:

    customer  external_id  first_name  email                 city
    1         0001         Ann         Ann.Lee@Example.com   Berlin
    2         0002         Bob         bob@example.org
    3         0003         Cem         cem@example.net
    campaign 1 "Spring Sale 2024"

Every bad file holds exactly one problem; the tests assert its line, column, reason and value, and that no table
but ``import_log`` changed (row counts and data version).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import sqlalchemy as sa

from crm_core import cli, contact_keys, db, dialect, purchases, schema
from crm_core.imports import (
    FIELDS,
    REQUIRED_ONE_OF,
    ImportFailed,
    Problem,
    guess_mapping,
    import_file,
    parse_mapping,
    parse_timestamp,
    read_table,
)

FILES = Path(__file__).parent / "files"
GOOD, BAD = FILES / "good", FILES / "bad"
T = dt.datetime
D = dt.date
DATE_HELP = "use YYYY-MM-DD (optionally with HH:MM[:SS] and a UTC offset), DD.MM.YYYY or YYYY/MM/DD"
EMAIL_SHA = "b7e0d8372a47f54bbefeb251ab9ac1e9e6b2d1983263de10196101be3961ed23"
CONSENT_HELP = "yes/no, y/n, true/false, 1/0, opt_in/opt_out, opt-in/opt-out, in/out, or empty"


@pytest.fixture
def shop(engine):
    with db.write_transaction(engine) as conn:
        dialect.bulk_insert(
            conn,
            schema.customers,
            pd.DataFrame(
                {
                    "id": [1, 2, 3],
                    "external_id": ["0001", "0002", "0003"],
                    "first_name": ["Ann", "Bob", "Cem"],
                    "email": ["Ann.Lee@Example.com", "bob@example.org", "cem@example.net"],
                    "email_norm": ["ann.lee@example.com", "bob@example.org", "cem@example.net"],
                    "city": ["Berlin", None, None],
                }
            ),
        )
        dialect.bulk_insert(
            conn,
            schema.campaigns,
            pd.DataFrame({"id": [1], "name": ["Spring Sale 2024"], "attribution_window_days": [14], "margin": [0.3]}),
        )
    return engine


def rows(engine, *columns, order_by=None, where=None):
    query = sa.select(*columns).order_by(*(order_by if order_by is not None else columns))
    if where is not None:
        query = query.where(where)
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(query).all()]


def counts(engine) -> dict[str, int]:
    """Rows per data table (import_log aside) and the data version."""
    with engine.connect() as conn:
        out = {
            t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar()
            for t in schema.DATA_TABLES
            if t is not schema.import_log
        }
    out["data_version"] = db.data_version(engine)
    return out


def content(engine) -> dict[str, list[tuple]]:
    """Every row of every data table (import_log aside), for 'nothing changed' comparisons."""
    with engine.connect() as conn:
        return {
            t.name: [tuple(r) for r in conn.execute(sa.select(t).order_by(*t.primary_key.columns)).all()]
            for t in schema.DATA_TABLES
            if t is not schema.import_log
        }


def log(engine):
    log = schema.import_log
    return rows(
        engine,
        log.c.status,
        log.c.file_name,
        log.c.rows_total,
        log.c.rows_created,
        log.c.rows_updated,
        log.c.rows_unchanged,
        log.c.rows_rejected,
        order_by=[log.c.id],
    )


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8", newline="")
    return path


# --- the bad-file corpus ---------------------------------------------------------------------------------------

BAD_FILES = [
    pytest.param(
        "customers",
        "too_many_fields.csv",
        Problem(3, "", "too many fields: 4 where the header has 3"),
        id="wrong-column-count",
    ),
    pytest.param(
        "customers",
        "short_row.csv",
        Problem(3, "city", "too few fields: 2 where the header has 3 (rows are never padded)"),
        id="short-row-never-padded",
    ),
    pytest.param(
        "orders", "bad_date.csv", Problem(3, "ordered_at", "no such date or time", "2024-02-30"), id="impossible-date"
    ),
    pytest.param(
        "orders",
        "ambiguous_date.csv",
        Problem(
            2, "ordered_at", f"ambiguous date (is the first number the day or the month?); {DATE_HELP}", "03/04/2024"
        ),
        id="ambiguous-date",
    ),
    pytest.param(
        "orders",
        "bad_number.csv",
        Problem(
            3,
            "amount",
            "not a number (use '.' as the decimal point, no thousands separators or currency signs)",
            "1,234.50",
        ),
        id="thousands-separator",
    ),
    pytest.param(
        "customers", "bad_email.csv", Problem(3, "email", "not an email address", "ann(at)example.com"), id="bad-email"
    ),
    pytest.param(
        "customers",
        "unknown_consent.csv",
        Problem(3, "consent_email", f"unknown consent value; accepted: {CONSENT_HELP}", "maybe"),
        id="unknown-consent",
    ),
    pytest.param(
        "customers",
        "unclosed_quote.csv",
        Problem(3, "", "unclosed quote: the quoted field of the row starting on line 3 never ends"),
        id="unclosed-quote",
    ),
    pytest.param("customers", "empty.csv", Problem(None, "", "the file is empty"), id="empty-file"),
    pytest.param(
        "customers",
        "latin1.csv",
        Problem(
            2,
            "",
            'the file is not UTF-8: byte 0xE9 at byte offset 29 is not valid UTF-8; save the file as UTF-8 ("CSV '
            'UTF-8" in Excel)',
        ),
        id="not-utf8",
    ),
    pytest.param(
        "customers", "header_only.csv", Problem(None, "", "the file has a header but no data rows"), id="header-only"
    ),
    pytest.param(
        "customers",
        "utf16.csv",
        Problem(1, "", "the file is not UTF-8 but UTF-16 (byte order mark at byte offset 0); save it as UTF-8"),
        id="utf16",
    ),
    pytest.param(
        "customers",
        "duplicate_header.csv",
        Problem(1, "email", "the header names this column twice (columns 2 and 3)"),
        id="duplicate-column-name",
    ),
    pytest.param(
        "orders",
        "missing_column.csv",
        Problem(1, "ordered_at", "required column missing (name it ordered_at or use --map SOURCE=ordered_at)"),
        id="missing-required-column",
    ),
    pytest.param(
        "orders",
        "conflicting_orders.csv",
        Problem(3, "order_id", "order o1 is also on line 2 with different values", "o1"),
        id="same-order-conflicting-rows",
    ),
    pytest.param(
        "orders",
        "conflicting_lines.csv",
        Problem(3, "customer_id", "order o1 has a different customer_id on line 2", "0002"),
        id="order-lines-disagree",
    ),
    pytest.param(
        "feedback",
        "bad_score_after_newline.csv",
        Problem(4, "score", "a score is a whole number 0-10", "11"),
        id="line-after-quoted-newline",
    ),
    pytest.param(
        "orders",
        "unknown_status.csv",
        Problem(2, "status", "unknown status; accepted: cancelled, completed, pending, returned", "lost"),
        id="unknown-status",
    ),
    pytest.param(
        "interactions",
        "unknown_customer.csv",
        Problem(3, "customer_id", "unknown customer", "9999"),
        id="unknown-customer",
    ),
    pytest.param(
        "interactions",
        "unknown_campaign.csv",
        Problem(2, "campaign", "unknown campaign", "No Such Campaign"),
        id="unknown-campaign",
    ),
]


@pytest.mark.parametrize(("kind", "name", "problem"), BAD_FILES)
def test_bad_file_fails_with_line_column_reason_and_changes_nothing(shop, kind, name, problem):
    before = counts(shop)
    with pytest.raises(ImportFailed) as failure:
        import_file(shop, kind, BAD / name)
    assert failure.value.problems == [problem]
    assert counts(shop) == before
    report = failure.value.report()
    assert report.splitlines()[0].startswith(f"Import of {name} ({kind}) failed: 1 error")
    assert str(problem) in report
    status, file_name, *_ = log(shop)[-1]
    assert (status, file_name) == ("failed", name)


def test_failure_is_logged_with_its_report(shop):
    with pytest.raises(ImportFailed):
        import_file(shop, "customers", BAD / "bad_email.csv")
    log_ = schema.import_log
    assert rows(
        shop, log_.c.status, log_.c.kind, log_.c.file_hash, log_.c.rows_total, log_.c.rows_rejected, log_.c.report
    ) == [
        (
            "failed",
            "customers",
            hashlib.sha256((BAD / "bad_email.csv").read_bytes()).hexdigest(),
            2,
            1,
            "severity,line,column,reason,value\r\nerror,3,email,not an email address,ann(at)example.com\r\n",
        )
    ]


def test_failure_lists_the_first_50_problems_and_the_total(engine, tmp_path):
    path = write(tmp_path, "many.csv", "customer_id,email\n" + "".join(f"c{i},bad{i}\n" for i in range(60)))
    with pytest.raises(ImportFailed) as failure:
        import_file(engine, "customers", path)
    assert len(failure.value.problems) == 60
    lines = failure.value.report().splitlines()
    assert lines[0] == "Import of many.csv (customers) failed: 60 errors on 60 line(s); nothing was imported."
    assert lines[1] == "  line 2, column email: not an email address (value 'bad0')"
    assert len(lines) == 1 + 50 + 1
    assert lines[-1] == "  … the first 50 of 60 errors are shown."


def test_every_bad_row_is_reported_not_only_the_first(engine, tmp_path):
    path = write(tmp_path, "c.csv", "customer_id,email,birth_date\nk1,x,1980-01-01\nk2,k2@example.com,1980-13-01\nk3\n")
    with pytest.raises(ImportFailed) as failure:
        import_file(engine, "customers", path)
    assert [(p.line, p.column, p.reason) for p in failure.value.problems] == [
        (2, "email", "not an email address"),
        (3, "birth_date", "no such date or time"),
        (4, "email", "too few fields: 1 where the header has 3 (rows are never padded)"),
    ]


def test_lines_are_physical_with_crlf_and_a_quoted_line_break(engine, tmp_path):
    path = write(tmp_path, "c.csv", 'customer_id,city,email\r\nc1,"Bad\r\nHonnef",a@example.com\r\n\r\nc2,Bonn,bad\r\n')
    with pytest.raises(ImportFailed) as failure:
        import_file(engine, "customers", path)
    assert failure.value.problems == [Problem(5, "email", "not an email address", "bad")]


# --- good files ------------------------------------------------------------------------------------------------


C, K, A = schema.customers, schema.consents, schema.customer_attributes
ORD, ITEM, P = schema.orders, schema.order_items, schema.products


def fetch(engine, query) -> list[tuple]:
    """Rows as tuples; money as float (DuckDB hands NUMERIC back as Decimal despite ``asdecimal=False``)."""
    with engine.connect() as conn:
        return [tuple(float(v) if isinstance(v, Decimal) else v for v in r) for r in conn.execute(query).all()]


def customers_of(engine, *columns) -> list[tuple]:
    return fetch(engine, sa.select(C.c.external_id, *columns).order_by(C.c.external_id))


def consents_of(engine) -> list[tuple]:
    query = sa.select(C.c.external_id, K.c.channel, K.c.status).join(C, K.c.customer_id == C.c.id)
    return fetch(engine, query.order_by(C.c.external_id, K.c.channel))


def attributes_of(engine) -> list[tuple]:
    query = sa.select(C.c.external_id, A.c.name, A.c.value).join(C, A.c.customer_id == C.c.id)
    return fetch(engine, query.order_by(C.c.external_id, A.c.name))


def orders_of(engine) -> list[tuple]:
    query = sa.select(ORD.c.external_id, C.c.external_id, ORD.c.ordered_at, ORD.c.channel, ORD.c.status, ORD.c.amount)
    return fetch(engine, query.join(C, ORD.c.customer_id == C.c.id).order_by(ORD.c.external_id))


def items_of(engine) -> list[tuple]:
    query = (
        sa.select(ORD.c.external_id, P.c.external_id, ITEM.c.quantity, ITEM.c.unit_price)
        .join(ORD, ITEM.c.order_id == ORD.c.id)
        .join(P, ITEM.c.product_id == P.c.id)
    )
    return fetch(engine, query.order_by(ORD.c.external_id, P.c.external_id, ITEM.c.quantity))


def test_customers_with_bom_semicolons_and_decimal_commas(engine):
    result = import_file(engine, "customers", GOOD / "customers_bom_semicolon.csv")
    assert (result.status, result.rows_total, result.created, result.updated, result.rejected) == ("ok", 3, 3, 0, 0)
    assert (result.consents_written, result.attributes_written) == (4, 2)
    assert customers_of(
        engine,
        C.c.first_name,
        C.c.last_name,
        C.c.email,
        C.c.email_norm,
        C.c.phone,
        C.c.birth_date,
        C.c.acquisition_cost,
    ) == [
        ("0001", "Ann", "Lee", "Ann.Lee@Example.com", "ann.lee@example.com", "+49 170 1234", D(1980, 3, 17), 12.5),
        ("0002", "Bob", "Marsh", "bob@example.org", "bob@example.org", None, D(1991, 12, 1), None),
        ("0003", "Cem", "Öztürk", "cem@example.net", "cem@example.net", None, None, 3.75),
    ]
    assert consents_of(engine) == [
        ("0001", "email", "opt_in"),
        ("0001", "sms", "opt_out"),
        ("0002", "email", "opt_out"),
        ("0003", "sms", "opt_in"),
    ]
    assert {r[0] for r in fetch(engine, sa.select(K.c.source))} == {"import:customers_bom_semicolon.csv"}
    assert attributes_of(engine) == [("0001", "loyalty_tier", "gold"), ("0003", "loyalty_tier", "silver")]


def test_order_lines_assemble_into_orders_items_and_products(shop):
    result = import_file(shop, "orders", GOOD / "orders_lines.tsv")
    assert (result.rows_total, result.created, result.items_created, result.products_created) == (5, 4, 5, 3)
    assert (result.customers_created, result.returns) == (1, 1)
    assert orders_of(shop) == [
        # 10:15 at +01:00 is 09:15 UTC; 2 x 19.90 + 35.00
        ("A-100", "0001", T(2024, 3, 1, 9, 15), "web", "completed", 74.8),
        ("A-101", "0002", T(2024, 3, 5, 16, 0), "store", "completed", 19.9),
        ("A-102", "0002", T(2024, 3, 9, 11, 0), "store", "returned", -19.9),  # a negative line total: a return
        ("A-103", "0099", T(2024, 3, 10, 9, 30), "web", "returned", 13.5),  # "refunded"; 0099 is a guest
    ]
    assert items_of(shop) == [
        ("A-100", "P1", 2, 19.9),
        ("A-100", "P2", 1, 35.0),
        ("A-101", "P1", 1, 19.9),
        ("A-102", "P1", -1, 19.9),
        ("A-103", "P3", 3, 4.5),
    ]
    assert fetch(shop, sa.select(P.c.external_id, P.c.name, P.c.category, P.c.brand).order_by(P.c.external_id)) == [
        ("P1", "Linen shirt", "Apparel", "Northwind"),
        ("P2", "Canvas bag", "Accessories", "Northwind"),
        ("P3", "Wool socks", "Apparel", "Southwind"),
    ]
    assert customers_of(shop, C.c.created_at)[-1] == ("0099", T(2024, 3, 10, 9, 30))


def test_orders_one_row_per_order_with_returns_and_status_synonyms(shop):
    result = import_file(shop, "orders", GOOD / "orders_per_order.csv")
    assert (result.rows_total, result.created, result.duplicates, result.returns) == (4, 3, 1, 1)
    assert orders_of(shop) == [
        ("1001", "0001", T(2024, 1, 15), None, "completed", 120.0),  # "paid"
        ("1002", "0002", T(2024, 1, 20, 14, 30), None, "returned", -30.0),  # negative: a return
        ("1003", "0003", T(2024, 2, 1), None, "cancelled", 55.5),  # "Canceled"
    ]
    revenue = sa.select(sa.func.sum(ORD.c.amount)).where(purchases.is_purchase)
    assert fetch(shop, revenue) == [(120.0,)]
    assert items_of(shop) == []


def test_interactions_with_pipes_synonyms_and_campaigns(shop):
    result = import_file(shop, "interactions", GOOD / "interactions_pipe.txt")
    assert (result.created, result.unchanged) == (3, 0)
    N = schema.interactions
    query = sa.select(
        C.c.external_id,
        N.c.occurred_at,
        N.c.channel,
        N.c.direction,
        N.c.type,
        N.c.subject,
        N.c.outcome,
        N.c.campaign_id,
    ).join(C, N.c.customer_id == C.c.id)
    assert fetch(shop, query.order_by(N.c.occurred_at)) == [
        ("0001", T(2024, 3, 2, 8, 0), "email", "out", "newsletter", "Spring sale", "opened", 1),
        ("0002", T(2024, 3, 3, 12, 30), "phone", "in", "complaint", "Late delivery | parcel", "resolved", None),
        ("0001", T(2024, 3, 4, 18, 0), "web", None, "visit", None, None, None),
    ]


def test_feedback_with_a_quoted_newline_and_default_kinds(shop):
    result = import_file(shop, "feedback", GOOD / "feedback_quoted_newline.csv")
    assert (result.rows_total, result.created) == (3, 3)
    F = schema.feedback
    query = sa.select(
        C.c.external_id, F.c.created_at, F.c.kind, F.c.score, F.c.competitor_brand, F.c.reason, F.c.text
    ).join(C, F.c.customer_id == C.c.id)
    assert fetch(shop, query.order_by(F.c.created_at)) == [
        ("0001", T(2024, 3, 4), "survey", 9, None, None, "Great service,\nfast delivery"),
        ("0002", T(2024, 3, 6, 10, 0), "note", None, "Southwind", "price", None),  # no kind, no score: a note
        ("0003", T(2024, 3, 7), "review", 4, None, None, "ok"),
    ]


def _xlsx(tmp_path: Path) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Customer ID", "E-Mail", "birth_date", "acquisition_cost", "created_at"])
    sheet.append(["0007", "x@example.com", dt.datetime(1985, 6, 1), 19.99, dt.datetime(2023, 5, 4, 10, 30)])
    sheet.append([8, "y@example.com", None, 5, "2023-05-05"])
    sheet.append([None, None, None, None, None])  # an empty row formatted by the spreadsheet: ignored
    path = tmp_path / "customers.xlsx"
    book.save(path)
    return path


def test_excel_cells_are_read_as_text(engine, tmp_path):
    result = import_file(engine, "customers", _xlsx(tmp_path))
    assert (result.rows_total, result.created, result.blank_rows) == (2, 2, 1)
    assert customers_of(engine, C.c.email, C.c.birth_date, C.c.acquisition_cost, C.c.created_at) == [
        ("0007", "x@example.com", D(1985, 6, 1), 19.99, T(2023, 5, 4, 10, 30)),
        ("8", "y@example.com", None, 5.0, T(2023, 5, 5)),
    ]


def test_excel_problem_lines_are_sheet_rows(engine, tmp_path):
    book = openpyxl.Workbook()
    book.active.append(["customer_id", "email"])
    book.active.append(["c1", "a@example.com"])
    book.active.append(["c2", "nope"])
    book.save(tmp_path / "bad.xlsx")
    with pytest.raises(ImportFailed) as failure:
        import_file(engine, "customers", tmp_path / "bad.xlsx")
    assert failure.value.problems == [Problem(3, "email", "not an email address", "nope")]


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"], ids=["comma", "semicolon", "tab", "pipe"])
def test_delimiter_is_detected(engine, tmp_path, delimiter):
    text = "".join(
        delimiter.join(cells) + "\r\n"
        for cells in [["customer_id", "email", "city"], ["c1", "a@example.com", "Berlin"], ["c2", "", '"A, B; C|D"']]
    )
    import_file(engine, "customers", write(tmp_path, "c.csv", text))
    assert customers_of(engine, C.c.email, C.c.city) == [("c1", "a@example.com", "Berlin"), ("c2", None, "A, B; C|D")]


# --- a second import changes nothing ---------------------------------------------------------------------------

SECOND_IMPORT = [
    pytest.param("customers", "customers_bom_semicolon.csv", 3, id="customers"),
    pytest.param("orders", "orders_lines.tsv", 4, id="order-lines"),
    pytest.param("orders", "orders_per_order.csv", 3, id="orders"),
    pytest.param("interactions", "interactions_pipe.txt", 3, id="interactions"),
    pytest.param("feedback", "feedback_quoted_newline.csv", 3, id="feedback"),
]


@pytest.mark.parametrize(("kind", "name", "records"), SECOND_IMPORT)
def test_second_import_of_the_same_file_changes_nothing(shop, kind, name, records):
    first = import_file(shop, kind, GOOD / name)
    assert first.created + first.updated == records  # the shop's customers are updated, the rest created
    before, version = content(shop), db.data_version(shop)
    second = import_file(shop, kind, GOOD / name)
    assert (second.created, second.updated, second.unchanged, second.rejected) == (0, 0, records, 0)
    assert not second.changed
    assert content(shop) == before
    assert db.data_version(shop) == version  # an import that changes nothing keeps every cache warm
    assert [r[0] for r in log(shop)] == ["ok", "ok"]


def test_excel_second_import_changes_nothing(engine, tmp_path):
    path = _xlsx(tmp_path)
    import_file(engine, "customers", path)
    before = content(engine)
    second = import_file(engine, "customers", path)
    assert (second.created, second.updated, second.unchanged) == (0, 0, 2)
    assert content(engine) == before


# --- matching and updating -------------------------------------------------------------------------------------


def test_customers_match_on_email_case_and_space_insensitively(shop, tmp_path):
    path = write(tmp_path, "by_email.csv", "email,city\n  ANN.LEE@example.COM ,Hamburg\nnew@Example.com,Bonn\n")
    result = import_file(shop, "customers", path)
    assert (result.created, result.updated, result.unchanged) == (1, 1, 0)
    assert customers_of(shop, C.c.email, C.c.city) == [
        ("0001", "ANN.LEE@example.COM", "Hamburg"),
        ("0002", "bob@example.org", None),
        ("0003", "cem@example.net", None),
        ("new@example.com", "new@Example.com", "Bonn"),  # without an id, the normalised email is the id
    ]


def test_ids_are_text_and_keep_leading_zeros(shop, tmp_path):
    result = import_file(shop, "customers", write(tmp_path, "ids.csv", "customer_id,city\n1,Kiel\n0001,Ulm\n"))
    assert (result.created, result.updated) == (1, 1)
    assert customers_of(shop, C.c.city) == [("0001", "Ulm"), ("0002", None), ("0003", None), ("1", "Kiel")]


def test_empty_cells_keep_stored_values_and_changes_are_updates(shop, tmp_path):
    path = write(tmp_path, "c.csv", "customer_id,first_name,city\n0001,Anna,\n0002,Bob,\n")
    version = db.data_version(shop)
    result = import_file(shop, "customers", path)
    assert (result.created, result.updated, result.unchanged) == (0, 1, 1)
    assert customers_of(shop, C.c.first_name, C.c.city)[:2] == [("0001", "Anna", "Berlin"), ("0002", "Bob", None)]
    assert db.data_version(shop) == version + 1


def test_consents_are_written_only_when_they_change(shop, tmp_path):
    import_file(shop, "customers", write(tmp_path, "a.csv", "customer_id,consent_email\n0001,yes\n0002,no\n"))
    result = import_file(shop, "customers", write(tmp_path, "b.csv", "customer_id,consent_email\n0001,yes\n0002,yes\n"))
    assert (result.updated, result.unchanged, result.consents_written) == (1, 1, 1)
    assert consents_of(shop) == [("0001", "email", "opt_in"), ("0002", "email", "opt_in")]
    sources = fetch(shop, sa.select(K.c.customer_id, K.c.source).order_by(K.c.customer_id))
    assert sources == [(1, "import:a.csv"), (2, "import:b.csv")]


def test_suppressed_people_never_get_opt_in(shop, tmp_path):
    with db.write_transaction(shop) as conn:
        conn.execute(
            schema.suppressions.insert(),
            [
                {
                    "id": 1,
                    "email_hash": contact_keys.email_hash("ann.lee@example.com"),
                    "phone_hash": None,
                    "channel": "all",
                    "since": T(2024, 1, 1),
                },
                {
                    "id": 2,
                    "email_hash": None,
                    "phone_hash": contact_keys.phone_hash("+49 (171) 555-01"),
                    "channel": "sms",
                    "since": T(2024, 1, 1),
                },
            ],
        )
    path = write(
        tmp_path,
        "c.csv",
        "customer_id,email,phone,consent_email,consent_sms\n"
        "0001, Ann.Lee@EXAMPLE.com,,yes,yes\n"
        "n1,n1@example.com,4917155501,yes,yes\n"
        "n2,n2@example.com,,yes,\n",
    )
    result = import_file(shop, "customers", path)
    assert result.suppressed == 2
    assert consents_of(shop) == [
        ("0001", "email", "opt_out"),
        ("0001", "mail", "opt_out"),
        ("0001", "phone", "opt_out"),
        ("0001", "sms", "opt_out"),
        ("n1", "email", "opt_in"),
        ("n1", "sms", "opt_out"),
        ("n2", "email", "opt_in"),
    ]


def test_changed_order_lines_replace_the_stored_items(shop, tmp_path):
    header = "order_id,customer_id,ordered_at,product_id,quantity,unit_price\n"
    import_file(shop, "orders", write(tmp_path, "a.csv", header + "o1,0001,2024-01-31,P1,1,10.00\n"))
    result = import_file(
        shop, "orders", write(tmp_path, "b.csv", header + "o1,0001,2024-01-31,P1,2,10.00\no1,0001,2024-01-31,P2,1,5\n")
    )
    assert (result.created, result.updated, result.items_created, result.products_created) == (0, 1, 2, 1)
    assert orders_of(shop) == [("o1", "0001", T(2024, 1, 31), None, "completed", 25.0)]
    assert items_of(shop) == [("o1", "P1", 2, 10.0), ("o1", "P2", 1, 5.0)]


def test_products_known_only_by_name_are_matched_by_name(shop, tmp_path):
    header = "order_id,customer_id,ordered_at,product_name,quantity,unit_price\n"
    import_file(shop, "orders", write(tmp_path, "a.csv", header + "o1,0001,2024-01-31,Tea,1,3.5\n"))
    result = import_file(shop, "orders", write(tmp_path, "b.csv", header + "o2,0002,2024-02-01,Tea,2,3.5\n"))
    assert (result.created, result.products_created) == (1, 0)
    assert fetch(shop, sa.select(P.c.external_id, P.c.name)) == [("Tea", "Tea")]


def test_unstated_order_fields_keep_their_stored_values(shop, tmp_path):
    import_file(
        shop,
        "orders",
        write(
            tmp_path,
            "a.csv",
            "order_id,customer_id,ordered_at,amount,status,channel\no1,0001,2024-01-31,50.00,cancelled,store\n",
        ),
    )
    result = import_file(
        shop, "orders", write(tmp_path, "b.csv", "order_id,customer_id,ordered_at,amount\no1,0001,2024-02-01,\n")
    )
    assert (result.created, result.updated, result.orders_without_amount) == (0, 1, 0)
    assert orders_of(shop) == [("o1", "0001", T(2024, 2, 1), "store", "cancelled", 50.0)]


def test_erased_customers_stay_anonymised_and_uncontactable(shop, tmp_path):
    with db.write_transaction(shop) as conn:
        conn.execute(
            C.update().where(C.c.id == 2).values(first_name=None, email=None, email_norm=None, erased_at=T(2024, 1, 1))
        )
    path = write(tmp_path, "c.csv", "customer_id,first_name,consent_email,hobby\n0002,Bob,yes,chess\n0003,Cem,yes,go\n")
    result = import_file(shop, "customers", path)
    assert (result.updated, result.unchanged, result.erased_untouched) == (1, 1, 1)
    assert customers_of(shop, C.c.first_name)[1] == ("0002", None)
    assert consents_of(shop) == [("0003", "email", "opt_in")]
    assert attributes_of(shop) == [("0003", "hobby", "go")]


def test_a_column_named_like_a_mapped_field_is_not_an_attribute(engine, tmp_path):
    path = write(tmp_path, "c.csv", "id,email,Mail\nc1,old@example.com,new@example.com\n")
    result = import_file(engine, "customers", path, mapping={"id": "customer_id", "Mail": "email"})
    assert result.ignored_columns == ["email (email is read from Mail)"]
    assert customers_of(engine, C.c.email) == [("c1", "new@example.com")]
    assert attributes_of(engine) == []


def test_a_missing_file_is_a_logged_failure(engine, tmp_path):
    with pytest.raises(ImportFailed) as failure:
        import_file(engine, "customers", tmp_path / "nowhere.csv")
    assert failure.value.problems == [Problem(None, "", "cannot read the file: No such file or directory")]
    assert [r[0] for r in log(engine)] == ["failed"]


# --- on_error="skip" -------------------------------------------------------------------------------------------

SKIP_FILE = (
    "customer_id,email,birth_date\n"
    "k1,k1@example.com,1980-01-01\n"
    "k2,not-an-email,1980-01-02\n"
    "k3,k3@example.com,1980-02-30\n"
    "k4,k4@example.com\n"
    "k5,=HYPERLINK(1),1980-01-05\n"
    "k6,k6@example.com,1980-01-06\n"
)
SKIP_REPORT = (
    "severity,line,column,reason,value\n"
    "error,3,email,not an email address,not-an-email\n"
    "error,4,birth_date,no such date or time,1980-02-30\n"
    "error,5,birth_date,too few fields: 2 where the header has 3 (rows are never padded),\n"
    "error,6,email,not an email address,'=HYPERLINK(1)\n"  # a formula is neutralised for spreadsheets
)


def test_skip_imports_the_valid_rows_and_reports_the_others(engine, tmp_path):
    path = write(tmp_path, "people.csv", SKIP_FILE)
    result = import_file(engine, "customers", path, on_error="skip")
    assert (result.status, result.rows_total, result.created, result.rejected) == ("partial", 6, 2, 4)
    assert [r[0] for r in customers_of(engine)] == ["k1", "k6"]
    assert result.report_path == str(tmp_path / "people.rejected.csv")
    assert (tmp_path / "people.rejected.csv").read_text(encoding="utf-8") == SKIP_REPORT
    assert "4 rows skipped" in result.describe()
    assert log(engine) == [("partial", "people.csv", 6, 2, 0, 0, 4)]
    assert fetch(engine, sa.select(schema.import_log.c.report)) == [(SKIP_REPORT.replace("\n", "\r\n"),)]
    again = import_file(engine, "customers", path, on_error="skip", report_path=tmp_path / "again.csv")
    assert (again.created, again.unchanged, again.rejected) == (0, 2, 4)
    assert (tmp_path / "again.csv").read_text(encoding="utf-8") == SKIP_REPORT


def test_skip_rejects_every_line_of_an_order_with_a_bad_line(shop, tmp_path):
    path = write(
        tmp_path,
        "lines.csv",
        "order_id,customer_id,ordered_at,product_id,quantity,unit_price\n"
        "o1,0001,2024-01-31,P1,1,10.00\n"
        "o1,0001,2024-01-31,P2,x,5.00\n"
        "o2,0001,2024-02-01,P1,2,10.00\n",
    )
    result = import_file(shop, "orders", path, on_error="skip")
    assert (result.created, result.rejected, result.items_created) == (1, 2, 1)
    assert [(p.line, p.column, p.reason) for p in result.problems] == [
        (2, "order_id", "order o1 is not imported: its line 3 is rejected"),
        (3, "quantity", "not a whole number"),
    ]
    assert orders_of(shop) == [("o2", "0001", T(2024, 2, 1), None, "completed", 20.0)]


def test_skip_leaves_out_rows_of_unknown_customers(shop, tmp_path):
    result = import_file(
        shop, "interactions", BAD / "unknown_customer.csv", on_error="skip", report_path=tmp_path / "r.csv"
    )
    assert (result.status, result.created, result.rejected) == ("partial", 1, 1)
    assert (tmp_path / "r.csv").read_text(
        encoding="utf-8"
    ) == "severity,line,column,reason,value\nerror,3,customer_id,unknown customer,9999\n"


def test_skip_cannot_skip_a_broken_file(engine):
    with pytest.raises(ImportFailed) as failure:
        import_file(engine, "customers", BAD / "unclosed_quote.csv", on_error="skip")
    assert failure.value.problems[0].line == 3


# --- sources, mapping, preview ---------------------------------------------------------------------------------


def test_bytes_and_file_objects_are_sources(engine):
    data = (GOOD / "customers_bom_semicolon.csv").read_bytes()
    result = import_file(engine, "customers", data, file_name="upload.csv")
    assert (result.file_name, result.created) == ("upload.csv", 3)
    with (GOOD / "customers_bom_semicolon.csv").open("rb") as fh:
        again = import_file(engine, "customers", fh)
    assert (again.file_name, again.unchanged) == ("customers_bom_semicolon.csv", 3)
    assert again.sha256 == result.sha256 == hashlib.sha256(data).hexdigest()


def test_mapping_names_the_columns(engine, tmp_path):
    path = write(tmp_path, "c.csv", "Kundennummer,Mail\n0042,z@example.com\n")
    result = import_file(engine, "customers", path, mapping=parse_mapping(["Kundennummer=customer_id", "Mail=email"]))
    assert result.created == 1
    assert customers_of(engine, C.c.email) == [("0042", "z@example.com")]
    with pytest.raises(ImportFailed) as failure:
        import_file(engine, "customers", path, mapping={"Kunde": "customer_id"})
    assert failure.value.problems[0] == Problem(
        1, "Kunde", "mapped column not found; the file's columns are: Kundennummer, Mail"
    )


def test_parse_mapping():
    assert parse_mapping(["E-Mail Adresse=email", " Nr = customer_id "]) == {
        "E-Mail Adresse": "email",
        "Nr": "customer_id",
    }
    with pytest.raises(ValueError, match="expected SOURCE=FIELD"):
        parse_mapping(["email"])
    with pytest.raises(ValueError, match="'mail' is not an import field"):
        parse_mapping(["E-Mail=mail"])


def test_guess_mapping_recognises_spellings_and_synonyms():
    headers = ["Customer ID", "E-Mail", "FIRST_NAME", "Date of Birth", "Shoe size"]
    assert guess_mapping(headers, "customers") == {
        "Customer ID": "customer_id",
        "E-Mail": "email",
        "FIRST_NAME": "first_name",
        "Date of Birth": "birth_date",
    }
    assert guess_mapping(["Order No", "Cust ID", "Order Date", "Qty", "SKU", "Price"], "orders") == {
        "Order No": "order_id",
        "Cust ID": "customer_id",
        "Order Date": "ordered_at",
        "Qty": "quantity",
        "SKU": "product_id",
        "Price": "unit_price",
    }


def test_fields_allow_list_follows_the_design():
    # An order's buyer is its customer_id, else its email, else its phone (REQUIRED_ONE_OF).
    assert [f.name for f in FIELDS["orders"] if f.required] == ["order_id", "ordered_at"]
    assert REQUIRED_ONE_OF["orders"] == REQUIRED_ONE_OF["customers"] == ("customer_id", "email", "phone")
    assert [f.name for f in FIELDS["interactions"] if f.required] == ["customer_id", "occurred_at", "channel"]
    assert {f.name: f.type for f in FIELDS["feedback"]}["score"] == "score"


def test_read_table_previews_without_a_database():
    frame, problems = read_table("orders", GOOD / "orders_lines.tsv")
    assert problems == []
    assert frame["line"].tolist() == [2, 3, 4, 5, 6]
    assert frame["amount"].tolist() == [74.8, 74.8, 19.9, -19.9, 13.5]
    # Empty: not stated (a new order is then completed); a negative total is a return whatever the status says.
    assert frame["status"].fillna("").tolist() == ["", "", "completed", "returned", "returned"]
    frame, problems = read_table("customers", BAD / "bad_email.csv")
    assert frame["email"].tolist() == ["a@example.com", "ann(at)example.com"]
    assert problems == [Problem(3, "email", "not an email address", "ann(at)example.com")]
    frame, problems = read_table("customers", BAD / "empty.csv")
    assert frame.empty and problems == [Problem(None, "", "the file is empty")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-17", T(2024, 3, 17)),
        ("2024-03-17 14:05", T(2024, 3, 17, 14, 5)),
        ("2024-03-17T14:05:09.987", T(2024, 3, 17, 14, 5, 9)),
        ("2024-03-17T14:05:09+01:00", T(2024, 3, 17, 13, 5, 9)),
        ("2024-03-17T23:30:00-0230", T(2024, 3, 18, 2, 0)),
        ("2024-03-17T14:05Z", T(2024, 3, 17, 14, 5)),
        ("17.03.2024", T(2024, 3, 17)),
        ("17.03.2024 08:30", T(2024, 3, 17, 8, 30)),
        ("2024/03/17", T(2024, 3, 17)),
    ],
    ids=[
        "date",
        "minutes",
        "fraction-dropped",
        "offset",
        "offset-crosses-midnight",
        "zulu",
        "dotted",
        "dotted-time",
        "slashed",
    ],
)
def test_parse_timestamp(text, expected):
    assert parse_timestamp(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("2023-02-29", "no such date or time"),
        ("2024-03-17 24:00", "no such date or time"),
        ("03/04/2024", f"ambiguous date (is the first number the day or the month?); {DATE_HELP}"),
        ("yesterday", f"not a date; {DATE_HELP}"),
        ("0024-03-17", "the year is outside 1900-2100"),
    ],
    ids=["not-a-leap-year", "hour-24", "ambiguous", "words", "year"],
)
def test_parse_timestamp_refuses(text, reason):
    with pytest.raises(ValueError) as error:
        parse_timestamp(text)
    assert str(error.value) == reason


def test_privacy_hashes():
    assert contact_keys.normalise_email("  Ann.Lee@Example.COM ") == "ann.lee@example.com"
    assert contact_keys.phone_digits("+49 (170) 123-45") == "4917012345"
    # sha256("ann.lee@example.com"), computed independently with `printf %s ann.lee@example.com | sha256sum`
    assert contact_keys.email_hash(" Ann.Lee@Example.com") == EMAIL_SHA
    assert contact_keys.email_hash("") is None and contact_keys.phone_hash("n/a") is None


# --- the command line ------------------------------------------------------------------------------------------


def test_cli_exit_codes(engine, capsys):
    url = engine.url.render_as_string(hide_password=False)
    assert cli.main(["import", "customers", str(GOOD / "customers_bom_semicolon.csv"), "--db", url]) == 0
    out = capsys.readouterr().out
    assert "customers: 3 created, 0 updated, 0 unchanged; 0 rows skipped" in out
    assert cli.main(["import", "customers", str(BAD / "bad_email.csv"), "--db", url]) == 1
    err = capsys.readouterr().err
    assert "Import of bad_email.csv (customers) failed" in err
    assert "line 3, column email: not an email address (value 'ann(at)example.com')" in err
    assert cli.main(["import", "customers", str(BAD / "bad_email.csv"), "--map", "nonsense", "--db", url]) == 2
