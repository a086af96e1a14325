"""The Data page under AppTest: upload, column mapping, validation errors, import, history, erasure, and the other
pages showing the new data on their next run.

Every test works on its own small DuckDB file (``store_url``): three customers and three orders, written
directly. What the functions behind the page compute is tested in tests/test_quality.py, tests/test_erasure.py and
tests/test_imports.py; here the page must wire them up and show their results.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
import streamlit as st
import test_app
from streamlit.testing.v1 import AppTest

from crm_core import config, contact_keys, db, dialect, formats, imports, schema

pytestmark = pytest.mark.slow

PROJECT_ROOT = Path(__file__).resolve().parent.parent
APP = PROJECT_ROOT / "app.py"
TIMEOUT_S = 60


@pytest.fixture
def store_url(tmp_path, monkeypatch) -> str:
    """A DuckDB file with three customers and three orders, chosen as the app's database; clean Streamlit caches."""
    url = f"duckdb:///{tmp_path / 'store.duckdb'}"
    engine = db.create_engine(url)
    db.ensure_schema(engine)
    with db.write_transaction(engine) as conn:
        dialect.bulk_insert(
            conn,
            schema.customers,
            pd.DataFrame(
                {
                    "id": [1, 2, 3],
                    "external_id": ["C1", "C2", "C3"],
                    "first_name": ["Zelda", "Bob", "Cem"],
                    "last_name": ["Quixote", "Brown", "Cole"],
                    "email": ["zelda@example.com", "bob@example.org", "cem@example.net"],
                    "email_norm": ["zelda@example.com", "bob@example.org", "cem@example.net"],
                    "phone": ["+49 170 5550199", None, None],
                    "created_at": pd.to_datetime(["2024-01-02", "2024-02-03", "2024-03-04"]),
                }
            ),
        )
        dialect.bulk_insert(
            conn,
            schema.orders,
            pd.DataFrame(
                {
                    "id": [1, 2, 3],
                    "external_id": ["O1", "O2", "O3"],
                    "customer_id": [1, 2, 1],
                    "ordered_at": pd.to_datetime(["2024-01-05 10:00", "2024-02-10 11:00", "2024-03-20 12:00"]),
                    "channel": "web",
                    "status": "completed",
                    "amount": [100.0, 50.0, 30.0],
                }
            ),
        )
    engine.dispose()
    monkeypatch.syspath_prepend(str(PROJECT_ROOT))
    monkeypatch.setattr(config, "SECRETS_PATH", PROJECT_ROOT / "no-such-dir" / "secrets.toml")
    monkeypatch.setenv(config.ENV_VAR, url)
    st.cache_data.clear()
    st.cache_resource.clear()
    yield url
    st.cache_data.clear()
    st.cache_resource.clear()


def _rows(url: str, query) -> list[tuple]:
    engine = db.create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(query).all()]
    finally:
        engine.dispose()


def _data_page() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S).run()
    at.switch_page("pages/data.py").run()
    _no_exception(at)
    return at


def _no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _upload(at: AppTest, name: str, content: bytes, kind: str | None = None) -> None:
    if kind is not None:
        at.selectbox(key="data_kind").set_value(kind).run()
    at.get("file_uploader")[0].set_value((name, content, "text/csv")).run()
    _no_exception(at)


def _column_box(at: AppTest, column: str):
    """The mapping select box of one column of the file (labelled with the column's name)."""
    return next(
        box for box in at.selectbox if test_app.literal(box.label) == column and (box.key or "").startswith("data_map_")
    )


def _frame(at: AppTest, first_column: str) -> pd.DataFrame:
    """The dataframe whose first column is ``first_column`` (AppTest does not expose dataframe keys)."""
    return next(f.value for f in at.dataframe if list(f.value.columns)[:1] == [first_column])


def _metrics(at: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in at.metric}


KUNDEN = (
    "Kundennummer;E-Mail;Vorname;Stadt;Lieblingsfarbe\nC4;dora@example.com;Dora;Köln;blau\nC5;eve@x.com;Eve;Bonn;\n"
)


def test_upload_map_preview_and_import_then_every_page_shows_the_new_data(store_url):
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S).run()
    assert _metrics(at)["Customers"] == "3"
    at.switch_page("pages/data.py").run()
    _upload(at, "kunden.csv", KUNDEN.encode(), kind="customers")
    # Guessed from the header: E-Mail is the email; the German names need mapping.
    assert [(_column_box(at, c).value) for c in ("Kundennummer", "E-Mail", "Vorname", "Stadt")] == [
        "—",
        "email",
        "—",
        "—",
    ]
    for column, field in (("Kundennummer", "customer_id"), ("Vorname", "first_name"), ("Stadt", "city")):
        _column_box(at, column).set_value(field)
    at.run()
    _no_exception(at)
    preview = _frame(at, "line")
    shown = preview[["customer_id", "email", "first_name", "city", "Lieblingsfarbe"]]
    assert shown.values.tolist() == [
        ["C4", "dora@example.com", "Dora", "Köln", "blau"],
        ["C5", "eve@x.com", "Eve", "Bonn", formats.MISSING],
    ]
    assert "email_norm" not in preview.columns  # the import's own matching key is not the file's
    assert at.success[0].value == "All 2 rows are valid."
    assert not at.button(key="data_import").disabled
    at.button(key="data_import").click().run()
    _no_exception(at)
    assert test_app.literal(at.success[0].value) == "Imported kunden.csv (customers): ok."
    assert {k: _metrics(at)[k] for k in ("Created", "Updated", "Unchanged", "Skipped (errors)")} == {
        "Created": "2",
        "Updated": "0",
        "Unchanged": "0",
        "Skipped (errors)": "0",
    }
    C = schema.customers.c
    assert _rows(store_url, sa.select(C.external_id, C.first_name, C.city).where(C.id > 3).order_by(C.id)) == [
        ("C4", "Dora", "Köln"),
        ("C5", "Eve", "Bonn"),
    ]
    # The uploader was reset (the file leaves memory) and the other tabs show the new data in the same session.
    assert at.get("file_uploader")[0].value is None
    assert _frame(at, "table").set_index("table").loc["Customers", "rows"] == 5
    assert _frame(at, "started_at")["file_name"].tolist() == ["kunden.csv"]
    at.switch_page("pages/overview.py").run()
    _no_exception(at)
    assert _metrics(at)["Customers"] == "5"


def test_the_mapping_is_remembered_for_the_next_file_of_the_kind(store_url):
    engine = db.create_engine(store_url)
    imports.remember_mapping(engine, "customers", {"Kundennummer": "customer_id", "Vorname": "first_name"})
    engine.dispose()
    at = _data_page()  # a new session: the mapping comes from the database
    _upload(at, "kunden.csv", KUNDEN.encode(), kind="customers")
    assert [_column_box(at, c).value for c in ("Kundennummer", "E-Mail", "Vorname", "Stadt")] == [
        "customer_id",
        "email",
        "first_name",
        "—",
    ]
    _upload(at, "orders.csv", b"Kundennummer,order_id,ordered_at\nC1,o9,2024-04-01\n", kind="orders")
    assert _column_box(at, "Kundennummer").value == "—"  # remembered per kind


ORDERS = (
    b"order_id,customer_id,ordered_at,amount\n"
    b"o10,C1,2024-04-01 10:00,10.50\n"
    b"o11,C1,2024-13-01,5\n"
    b"o12,C2,2024-04-02,=1+1\n"
)


def test_every_problem_is_shown_before_anything_is_written_and_bad_rows_can_be_skipped(store_url):
    at = _data_page()
    _upload(at, "orders.csv", ORDERS, kind="orders")
    assert at.error[0].value == "2 errors on 2 of 3 rows. Fix the file, or skip the bad rows."
    problems = _frame(at, "severity")
    assert problems[["line", "column", "reason"]].values.tolist() == [
        [3, "“ordered_at”", "no such date or time"],
        [4, "“amount”", "not a number (use '.' as the decimal point, no thousands separators or currency signs)"],
    ]
    assert at.get("download_button")[0].label == "Download every problem (CSV)"
    assert at.button(key="data_import").disabled
    assert _rows(store_url, sa.select(sa.func.count()).select_from(schema.import_log)) == [(0,)]
    at.toggle(key="data_skip").set_value(True).run()
    assert not at.button(key="data_import").disabled
    at.button(key="data_import").click().run()
    _no_exception(at)
    assert test_app.literal(at.success[0].value) == "Imported orders.csv (orders): partial."
    assert (_metrics(at)["Created"], _metrics(at)["Skipped (errors)"]) == ("1", "2")
    orders = schema.orders.c
    assert _rows(store_url, sa.select(orders.external_id, orders.amount).where(orders.id > 3)) == [("o10", 10.5)]
    history = _frame(at, "started_at")
    assert history[["file_name", "status", "rows_created", "rows_rejected"]].values.tolist() == [
        ["orders.csv", "Partial", 1, 2]
    ]
    assert "Download its rejected rows (CSV)" in [b.label for b in at.get("download_button")]


def test_a_failed_import_is_shown_and_kept_in_the_history(store_url):
    at = _data_page()
    # The file itself is fine; the unknown customer is found on import, against the database.
    _upload(at, "contacts.csv", b"customer_id,occurred_at,channel\nC9,2024-03-01,email\n", kind="interactions")
    assert at.success[0].value == "The row is valid."
    at.button(key="data_import").click().run()
    _no_exception(at)
    assert at.error[0].value.startswith("Import of contacts.csv (interactions) failed: 1 error on 1 line(s)")
    assert _frame(at, "severity")[["line", "column"]].values.tolist() == [[2, "“customer_id”"]]
    history = _frame(at, "started_at")
    assert history[["file_name", "kind", "status", "rows_rejected"]].values.tolist() == [
        ["contacts.csv", "Interactions", "Failed", 1]
    ]
    assert _rows(store_url, sa.select(sa.func.count()).select_from(schema.interactions)) == [(0,)]
    _upload(at, "contacts2.csv", b"customer_id,occurred_at,channel\nC1,2024-03-01,email\n")
    assert not at.error  # that failure belonged to the other file
    assert at.success[0].value == "The row is valid."


def test_a_file_without_a_required_column_cannot_be_imported(store_url):
    at = _data_page()
    _upload(at, "o.csv", b"order_id,ordered_at\no1,2024-01-01\n", kind="orders")
    assert at.error[0].value == "The file cannot be imported:"
    assert _frame(at, "severity")["column"].tolist() == ["“customer_id”"]
    assert at.button(key="data_import").disabled
    assert at.toggle(key="data_skip").disabled


def test_campaign_results_are_imported_from_the_page(store_url):
    at = _data_page()
    content = b"segment,conversion,spend\nMens E-Mail,1,20.5\nNo E-Mail,0,0\nMens E-Mail,0,0\n"
    _upload(at, "hillstrom.csv", content, kind="campaign_results")
    assert "Name the campaign" in at.info[0].value
    at.text_input(key="data_cr_campaign").set_value("Hillstrom 2008")
    at.selectbox(key="data_cr_arm").set_value("segment")
    at.text_input(key="data_cr_control").set_value("No E-Mail")
    at.selectbox(key="data_cr_converted").set_value("conversion")
    at.selectbox(key="data_cr_revenue").set_value("spend")
    at.run()
    _no_exception(at)
    assert at.success[0].value == "All 3 rows are valid."
    at.button(key="data_import").click().run()
    _no_exception(at)
    assert test_app.literal(at.success[0].value) == "Imported hillstrom.csv (campaign results): ok."
    assert _metrics(at)["Created"] == "3"
    M, K = schema.campaign_members.c, schema.campaigns.c
    members = sa.select(M.arm, M.is_control, M.converted, M.revenue).join_from(
        schema.campaign_members, schema.campaigns, K.id == M.campaign_id
    )
    assert sorted(_rows(store_url, members.where(K.name == "Hillstrom 2008"))) == [
        ("Mens E-Mail", False, False, 0.0),
        ("Mens E-Mail", False, True, 20.5),
        ("No E-Mail", True, False, 0.0),
    ]


def test_erasure_from_the_page_after_a_confirmation(store_url):
    at = _data_page()
    at.text_input(key="data_erase_search").set_value("zelda").run()
    _no_exception(at)
    assert at.selectbox(key="data_erase_customer").value == "C1"
    assert any("1 customer record:" in test_app.literal(str(md.value)) for md in at.markdown)
    assert at.button(key="data_erase").disabled
    at.text_input(key="data_erase_confirm").set_value("C2").run()
    assert at.button(key="data_erase").disabled  # the wrong id does not confirm
    at.text_input(key="data_erase_confirm").set_value("C1").run()
    at.button(key="data_erase").click().run()
    _no_exception(at)
    assert test_app.literal(at.success[0].value).startswith("Erased 1 customer record (C1)")
    assert at.text_input(key="data_erase_search").value == ""
    C, S = schema.customers.c, schema.suppressions.c
    assert _rows(store_url, sa.select(C.first_name, C.email, C.phone).where(C.id == 1)) == [(None, None, None)]
    assert _rows(store_url, sa.select(S.email_hash, S.channel)) == [
        (contact_keys.email_hash("zelda@example.com"), "all")
    ]
    at.text_input(key="data_erase_search").set_value("zelda").run()
    assert "No customer's name, email, phone or id contains “zelda”." in [i.value for i in at.info]
    at.text_input(key="data_erase_search").set_value("C1").run()
    assert "Already erased." in [i.value for i in at.info]
    assert not any(b.key == "data_erase" for b in at.button)


def test_the_database_in_use_is_shown_never_edited(store_url):
    at = _data_page()
    assert any(db.redact_url(store_url) in test_app.literal(str(md.value)) for md in at.markdown)
    assert not [t for t in at.text_input if store_url in str(t.value)]
    assert _frame(at, "table").set_index("table").loc["Orders", "rows"] == 3


SHOPIFY_ORDERS = PROJECT_ROOT / "tests" / "files" / "presets" / "shopify_orders.csv"


def test_a_platform_export_is_recognised_and_its_preset_proposed(store_url):
    at = _data_page()
    # Chosen as customers by mistake: the header says it is a Shopify orders export, which holds orders.
    _upload(at, "orders_export.csv", SHOPIFY_ORDERS.read_bytes(), kind="customers")
    assert at.info[0].value == "Recognised as: Shopify orders export."
    assert at.selectbox(key="data_kind").value == "orders"  # what the file holds follows the export
    assert at.toggle(key=next(t.key for t in at.toggle if t.key.startswith("data_preset_"))).value is True
    # The preset's mapping is proposed and can be edited.
    assert (_column_box(at, "Name").value, _column_box(at, "Lineitem sku").value) == ("order_id", "product_id")
    assert _column_box(at, "Total").value == "—"  # read by the preset as Total - Refunded Amount
    assert not at.error
    assert at.warning[0].value.startswith("3 warnings")
    warnings = _frame(at, "severity")
    assert warnings["severity"].tolist() == ["Warning"] * 3
    at.button(key="data_import").click().run()
    _no_exception(at)
    assert test_app.literal(at.success[0].value) == "Imported orders_export.csv (orders): ok."
    assert (_metrics(at)["Created"], _metrics(at)["Warnings"]) == ("10", "3")
    orders = schema.orders.c
    revenue = sa.select(sa.func.count(), sa.func.sum(orders.amount)).where(
        orders.status == "completed", orders.external_id.like("#%")
    )
    assert [(n, float(total)) for n, total in _rows(store_url, revenue)] == [(6, 431.55)]


def test_a_recognised_export_can_be_read_plainly(store_url):
    at = _data_page()
    _upload(at, "orders_export.csv", SHOPIFY_ORDERS.read_bytes(), kind="orders")
    toggle = next(t for t in at.toggle if t.key.startswith("data_preset_"))
    toggle.set_value(False).run()
    _no_exception(at)
    # Read plainly, the shop's columns are guessed: Name is no field, so the order id is missing.
    assert _column_box(at, "Lineitem sku").value == "—"
    assert "required column missing" in _frame(at, "severity")["reason"].tolist()[0]


SHOPIFY_CUSTOMERS = PROJECT_ROOT / "tests" / "files" / "presets" / "shopify_customers.csv"


@pytest.mark.parametrize(
    ("file", "chosen", "held"),
    [(SHOPIFY_ORDERS, "feedback", "orders"), (SHOPIFY_CUSTOMERS, "orders", "customers")],
    ids=["orders-export-chosen-as-feedback", "customers-export-chosen-as-orders"],
)
def test_what_the_file_holds_follows_a_recognised_export_of_another_kind(store_url, file, chosen, held):
    at = _data_page()
    _upload(at, file.name, file.read_bytes(), kind=chosen)
    assert at.selectbox(key="data_kind").value == held
    assert any(f"holds {held}" in c.value and "it is imported as such" in c.value for c in at.caption)
    mapped = [box.key for box in at.selectbox if (box.key or "").startswith("data_map_")]
    assert mapped and all(key.startswith(f"data_map_{held}_") for key in mapped)
    # Read plainly, the file is imported as what the select box says, which the user may change again.
    next(t for t in at.toggle if t.key.startswith("data_preset_")).set_value(False).run()
    at.selectbox(key="data_kind").set_value(chosen).run()
    _no_exception(at)
    assert at.selectbox(key="data_kind").value == chosen


def _quality_counts(url: str, **arguments) -> dict[str, int]:
    from crm_core import quality

    engine = db.create_engine(url)
    try:
        return {check.title: check.count for check in quality.quality_report(engine, **arguments)}
    finally:
        engine.dispose()


def test_the_quality_report_is_read_as_stored_or_computed_beside_the_rest(store_url):
    """The first visit's scoring step stored the report for the default business start, which the page reads; a
    business start of its own is computed in a part that runs beside the rest of the page (the tabs after it are
    drawn in the same run) and shows that start's counts."""
    import datetime as dt

    from crm_core import stored_results

    at = _data_page()
    engine = db.create_engine(store_url)
    assert stored_results.current(engine)
    stored = stored_results.stored_arguments(engine).get("crm_core.quality.quality_report")
    assert stored == stored_results.arguments_text({"business_start": None})
    engine.dispose()
    shown = _frame(at, "title").set_index("title")["count"].to_dict()
    assert shown == _quality_counts(store_url)

    at.date_input(key="data_since").set_value(dt.date(2024, 3, 1)).run()
    _no_exception(at)
    expected = _quality_counts(store_url, business_start=dt.date(2024, 3, 1))
    assert _frame(at, "title").set_index("title")["count"].to_dict() == expected
    assert expected != shown  # two sign-ups and two orders before that day
    assert _frame(at, "table").set_index("table").loc["Orders", "rows"] == 3  # the Database tab, after it
