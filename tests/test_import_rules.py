"""The rules every import follows with real files, on every engine (tests/files/rules):

``retail_lines.csv`` — a retail transaction log as it is published (one row per invoice line, customer ids exported
as ``17850.0``, a cancellation invoice ``C536368`` with a negative quantity, and two products whose description
changes over time):

    invoice  customer  lines                                           amount   status
    536365   17850     6 x 22197 POPCORN HOLDER @0.85, 6 x 71053 @3.39   25.44  completed
    536366   13047     12 x 22197 SMALL POPCORN HOLDER @0.85,
                       8 x 85123A CREAM CUPID HEARTS COAT HANGER @2.75   32.20  completed
    536367   13047     2 x 71053 @3.39                                   6.78  completed
    C536368  17850     -6 x 22197 SMALL POPCORN HOLDER @0.85             -5.10  returned
    536369   12583     4 x 85123A CREAM CUPID HEART COAT HANGER @2.55   10.20  completed
    536370   12583     1 x 71053 @3.39                                   3.39  completed
                                                            revenue     78.01

    warnings: 3 — the ids read as integers (8 cells), product 22197 renamed (the most recent, SMALL POPCORN HOLDER
    of 2011-01-07, is kept), product 85123A renamed (CREAM CUPID HEART COAT HANGER of 2011-02-01 is kept).

``shop_lines.csv`` — a shop's export: an order's fields on its first line only, timestamps with ``+0400``, products
without SKU whose names run to 101 characters (two of them alike in their first 90), buyers known only by phone:

    order  buyer                          lines                         amount
    #1001  Ann@Example.com (newsletter)   1 x long M @20, 2 x mug @5     30.00
    #1002  +49 170 1234567                1 x long L @20                 20.00
    #1003  +49 (170) 123-4567 (same one)  2 x long M @20, 1 x mug @5     45.00
    #1004  +49 151 2345678 (no newsletter) 3 x mug @5                    15.00
                                                           revenue     110.00

    warnings: 2 — 6 timestamps converted from +0400 to UTC, the column Payment Reference ignored.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa

from crm_core import contact_keys, db, quality, schema
from crm_core.imports import ImportFailed, check_file, import_file

RULES = Path(__file__).parent / "files" / "rules"
SHOP_MAP = {
    "Name": "order_id",
    "Lineitem name": "product_name",
    "Lineitem quantity": "quantity",
    "Lineitem price": "unit_price",
}
LONG_M = "Organic cotton crew-neck t-shirt, relaxed fit, garment-dyed and ethically made in Portugal - Navy / M"
LONG_L = LONG_M[:-1] + "L"
T = dt.datetime
ORD, C, P = schema.orders, schema.customers, schema.products


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


def _rows(engine, query) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(query)]


def _orders(engine) -> list[tuple]:
    query = (
        sa.select(ORD.c.external_id, C.c.external_id, ORD.c.status, ORD.c.amount)
        .join(C, ORD.c.customer_id == C.c.id)
        .order_by(ORD.c.external_id)
    )
    return [(o, c, s, round(float(a), 2)) for o, c, s, a in _rows(engine, query)]


def _revenue(engine) -> float:
    query = sa.select(sa.func.sum(ORD.c.amount)).where(ORD.c.status == "completed")
    return round(float(_rows(engine, query)[0][0]), 2)


def _warnings(result) -> list[tuple]:
    return [(w.line, w.column, w.reason) for w in result.warnings]


def test_a_retail_log_imports_as_it_is_with_its_warnings(engine):
    result = import_file(engine, "orders", RULES / "retail_lines.csv")
    assert (result.status, result.rows_total, result.rejected, result.created) == ("ok", 8, 0, 6)
    assert (result.customers_created, result.products_created, result.items_created) == (3, 3, 8)
    assert result.product_variants == 4
    assert _warnings(result) == [
        (2, "CustomerID", "8 ids written as decimals (like 12923.0) read as whole numbers (12923)"),
        (
            7,
            "StockCode",
            "product 22197 has 2 different names, categories or brands in the file; the most recent (line 7) is "
            "kept for all its lines",
        ),
        (
            8,
            "StockCode",
            "product 85123A has 2 different names, categories or brands in the file; the most recent (line 8) is "
            "kept for all its lines",
        ),
    ]
    assert all(w.severity == "warning" for w in result.warnings)
    assert _orders(engine) == [
        ("536365", "17850", "completed", 25.44),
        ("536366", "13047", "completed", 32.2),
        ("536367", "13047", "completed", 6.78),
        ("536369", "12583", "completed", 10.2),
        ("536370", "12583", "completed", 3.39),
        ("C536368", "17850", "returned", -5.1),
    ]
    assert _revenue(engine) == 78.01
    assert _rows(engine, sa.select(P.c.external_id, P.c.name).order_by(P.c.external_id)) == [
        ("22197", "SMALL POPCORN HOLDER"),
        ("71053", "WHITE METAL LANTERN"),
        ("85123A", "CREAM CUPID HEART COAT HANGER"),
    ]
    assert _rows(engine, sa.select(C.c.external_id, C.c.country).order_by(C.c.external_id)) == [
        ("12583", "France"),
        ("13047", "United Kingdom"),
        ("17850", "United Kingdom"),
    ]
    # The data-quality report lists the renamed products.
    renamed = next(c for c in quality.quality_report(engine) if c.key == "renamed_products")
    assert renamed.count == 2
    assert sorted(renamed.examples["product_id"]) == ["22197", "85123A"]
    assert sorted(renamed.examples["variants"].astype(int)) == [2, 2]
    # Importing it again changes nothing.
    before = counts(engine)
    again = import_file(engine, "orders", RULES / "retail_lines.csv")
    assert (again.created, again.updated, again.unchanged, again.product_variants, again.changed) == (0, 0, 6, 0, False)
    assert counts(engine) == before


def test_a_later_file_renames_a_product_again_and_an_older_one_does_not(engine, tmp_path):
    import_file(engine, "orders", RULES / "retail_lines.csv")
    header = (RULES / "retail_lines.csv").read_text().splitlines()[0]
    later = tmp_path / "later.csv"
    later.write_text(f"{header}\n536400,22197,POPCORN HOLDER SMALL,1,2011-03-01 10:00,0.85,17850,United Kingdom\n")
    result = import_file(engine, "orders", later)
    assert (result.products_updated, result.product_variants, result.warnings) == (1, 1, [])
    older = tmp_path / "older.csv"
    older.write_text(f"{header}\n536300,22197,POPCORN HOLDER,1,2010-11-01 10:00,0.85,17850,United Kingdom\n")
    result = import_file(engine, "orders", older)
    assert (result.products_updated, result.product_variants) == (0, 1)  # the first-seen date moves back
    assert _rows(engine, sa.select(P.c.name).where(P.c.external_id == "22197")) == [("POPCORN HOLDER SMALL",)]
    variants = schema.product_variants
    query = sa.select(variants.c.name, variants.c.first_ordered_at, variants.c.last_ordered_at).order_by(
        variants.c.name
    )
    found = [(n, T.fromisoformat(str(a)), T.fromisoformat(str(b))) for n, a, b in _rows(engine, query)]
    assert [row for row in found if "POPCORN" in row[0]] == [
        ("POPCORN HOLDER", T(2010, 11, 1, 10), T(2010, 12, 1, 8, 26)),
        ("POPCORN HOLDER SMALL", T(2011, 3, 1, 10), T(2011, 3, 1, 10)),
        ("SMALL POPCORN HOLDER", T(2011, 1, 5, 9), T(2011, 1, 7, 11)),
    ]


def test_a_bad_line_leaves_out_its_own_order_and_nothing_else(engine, tmp_path):
    text = (RULES / "retail_lines.csv").read_text()
    path = tmp_path / "with_bad_line.csv"
    path.write_text(
        text
        + "536371,22197,POPCORN HOLDER,x,2011-02-03 10:00,0.85,12583.0,France\n"
        + "536371,71053,WHITE METAL LANTERN,1,2011-02-03 10:00,3.39,12583.0,France\n"
    )
    with pytest.raises(ImportFailed) as failure:
        import_file(engine, "orders", path)
    assert [(p.line, p.column, p.reason) for p in failure.value.problems] == [(10, "Quantity", "not a whole number")]
    assert len(failure.value.warnings) == 3
    result = import_file(engine, "orders", path, on_error="skip")
    assert [(p.line, p.reason) for p in result.problems] == [
        (10, "not a whole number"),
        (11, "order 536371 is not imported: its line 10 is rejected"),
    ]
    # The renamed products and every other invoice are in.
    assert (result.created, result.rejected, len(result.warnings)) == (6, 2, 3)
    assert _revenue(engine) == 78.01
    report = Path(result.report_path).read_text().splitlines()
    assert report[0] == "severity,line,column,reason,value"
    assert [line.split(",")[0] for line in report[1:]] == ["error", "error", "warning", "warning", "warning"]


def test_a_shop_export_with_phone_only_buyers_and_long_names(engine):
    result = import_file(engine, "orders", RULES / "shop_lines.csv", SHOP_MAP)
    assert (result.status, result.rejected, result.created, result.items_created) == ("ok", 0, 4, 6)
    assert (result.customers_created, result.consents_written, result.products_created) == (3, 2, 3)
    assert _warnings(result) == [
        (1, "", "1 column ignored: Payment Reference"),
        (2, "Created at", "6 timestamps with a UTC offset converted to UTC"),
    ]
    phone = "tel:" + str(contact_keys.normalise_phone("+49 170 1234567"))
    other = "tel:" + str(contact_keys.normalise_phone("+49 151 2345678"))
    assert _orders(engine) == sorted(
        [
            ("#1001", "ann@example.com", "completed", 30.0),
            ("#1002", phone, "completed", 20.0),
            ("#1003", phone, "completed", 45.0),
            ("#1004", other, "completed", 15.0),
        ]
    )
    assert _revenue(engine) == 110.0
    first = _rows(engine, sa.select(ORD.c.ordered_at).where(ORD.c.external_id == "#1001"))[0][0]
    assert T.fromisoformat(str(first)) == T(2026, 4, 5, 17, 6, 21)
    # The long names are kept whole, under two ids that never collide.
    products = dict(_rows(engine, sa.select(P.c.name, P.c.external_id)))
    assert set(products) == {LONG_M, LONG_L, "Stoneware mug"}
    assert products[LONG_M] != products[LONG_L] and max(len(i) for i in products.values()) <= 64
    # The buyer's consent, dated by the order that states it.
    K = schema.consents
    query = (
        sa.select(C.c.external_id, C.c.email, K.c.channel, K.c.status, K.c.changed_at, K.c.source)
        .join(C, K.c.customer_id == C.c.id)
        .order_by(C.c.external_id)
    )
    assert [(*row[:4], T.fromisoformat(str(row[4])), row[5]) for row in _rows(engine, query)] == [
        ("ann@example.com", "Ann@Example.com", "email", "opt_in", T(2026, 4, 5, 17, 6, 21), "import:shop_lines.csv"),
        (other, None, "email", "opt_out", T(2026, 4, 8, 8), "import:shop_lines.csv"),
    ]
    before = counts(engine)
    again = import_file(engine, "orders", RULES / "shop_lines.csv", SHOP_MAP)
    assert (again.created, again.updated, again.customers_created, again.changed) == (0, 0, 0, False)
    assert counts(engine) == before


def test_a_buyer_known_by_email_is_the_stored_customer_with_that_email(engine, tmp_path):
    (tmp_path / "customers.csv").write_text("customer_id,email\nC1,ann@example.com\n")
    import_file(engine, "customers", tmp_path / "customers.csv")
    result = import_file(engine, "orders", RULES / "shop_lines.csv", SHOP_MAP)
    assert result.customers_created == 2
    assert ("#1001", "C1", "completed", 30.0) in _orders(engine)


def test_dates_after_today_or_before_the_business_started_are_kept_with_a_warning():
    check = check_file(
        "orders",
        b"order_id,customer_id,ordered_at,amount\no1,c1,1969-12-31,10\no2,c1,2024-01-01,10\no3,c1,2099-01-01,5\n",
    )
    assert check.problems == []
    assert [(w.line, w.column, w.reason, w.value) for w in check.warnings] == [
        (
            2,
            "ordered_at",
            "2 timestamps after today or before the business started (1970-01-01, CRM_BUSINESS_START): kept as "
            "written, not counted for the as-of date; check the column",
            "1969-12-31",
        )
    ]
    assert check.problems_frame()["severity"].tolist() == ["warning"]


def test_float_ids_stay_text_when_a_column_is_not_all_integral():
    check = check_file("orders", b"order_id,customer_id,ordered_at\no1,12923.0,2024-01-01\no2,12923.5,2024-01-02\n")
    assert check.warnings == []
    assert check.preview["customer_id"].tolist() == ["12923.0", "12923.5"]
