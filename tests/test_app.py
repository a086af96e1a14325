"""AppTests: the app shell and every page, run headless by ``streamlit.testing.v1.AppTest``.

Every page in ``pages/`` must have an entry in ``PAGE_CHECKS``; ``test_every_page_has_an_apptest`` fails when a
page is added without one. The KPI tests compare what the page shows with what crm_core computes, formatted by the
same ``ui`` formatters the page uses.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
import streamlit as st
from streamlit.testing.v1 import AppTest

from crm_core import config, db, dialect, overview, schema

PROJECT_ROOT = Path(__file__).resolve().parent.parent
APP = PROJECT_ROOT / "app.py"
TIMEOUT_S = 60
#: A password that must never reach the screen (PostgreSQL's trust authentication ignores it).
SECRET = "s3cret-pw"


@pytest.fixture
def app_env(monkeypatch):
    """A clean Streamlit process state: no cached engines or results from an earlier test, ``ui`` importable the
    way ``streamlit run`` makes it, and no secrets file or environment variable choosing the database."""
    monkeypatch.syspath_prepend(str(PROJECT_ROOT))
    monkeypatch.delenv(config.ENV_VAR, raising=False)
    monkeypatch.setattr(config, "SECRETS_PATH", PROJECT_ROOT / "no-such-dir" / "secrets.toml")
    st.cache_data.clear()
    st.cache_resource.clear()
    yield monkeypatch
    st.cache_data.clear()
    st.cache_resource.clear()


def _use_database(monkeypatch, url: str) -> None:
    monkeypatch.setenv(config.ENV_VAR, url)


def _run_app(page: str | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S).run()
    if page is not None:
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def literal(markdown: str) -> str:
    """The text a Markdown source shows when the data in it was made literal (``ui.plain``): the escapes resolved."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown).replace("\u2060", "")


def _metrics(at: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in at.metric}


def _all_text(at: AppTest) -> str:
    """Every text the run produced (markdown, captions, alerts, code, metrics), for 'never shows X' checks."""
    parts: list[str] = []
    for kind in ("markdown", "caption", "info", "warning", "error", "success", "code", "title", "header"):
        parts.extend(str(element.value) for element in getattr(at, kind))
    parts.extend(f"{m.label} {m.value}" for m in at.metric)
    return "\n".join(parts)


def _expected_kpis(url: str, start: dt.date | None = None, end: dt.date | None = None) -> dict[str, str]:
    """The KPI texts the Overview should show, from crm_core and the page's own formatters."""
    import ui

    engine = db.create_engine(url)
    try:
        if start is None or end is None:
            start, end = overview.default_range(overview.date_bounds(engine))
        now = overview.overview_kpis(engine, start, end).current
    finally:
        engine.dispose()
    return {
        "Customers": ui.number(now.customers),
        "Active customers": ui.number(now.active_customers),
        "Revenue": ui.compact_currency(now.revenue),
        "Orders": ui.number(now.orders),
        "Avg order value": ui.currency_cents(now.average_order_value),
        "Repeat-purchase rate": ui.percent(now.repeat_purchase_rate),
    }


# --- a small hand-written store ----------------------------------------------------------------------------------


def _write_store(engine: sa.Engine, orders: list[tuple[int, str, float]]) -> None:
    """Three customers and the given (customer, ordered_at, amount) purchases, in one write transaction."""
    db.ensure_schema(engine)
    customers = pd.DataFrame(
        {
            "id": [1, 2, 3],
            "external_id": ["C1", "C2", "C3"],
            "created_at": pd.to_datetime(["2024-01-02", "2024-02-03", "2024-03-04"]),
        }
    )
    frame = pd.DataFrame(
        {
            "id": range(1, len(orders) + 1),
            "external_id": [f"O{n}" for n in range(1, len(orders) + 1)],
            "customer_id": [o[0] for o in orders],
            "ordered_at": pd.to_datetime([o[1] for o in orders]),
            "channel": "web",
            "status": "completed",
            "amount": [o[2] for o in orders],
        }
    )
    with db.write_transaction(engine) as conn:
        dialect.bulk_insert(conn, schema.customers, customers)
        dialect.bulk_insert(conn, schema.orders, frame)


STORE_ORDERS = [(1, "2024-01-05 10:00", 100.0), (2, "2024-02-10 11:00", 50.0), (1, "2024-03-20 12:00", 30.0)]


@pytest.fixture
def store_url(tmp_path) -> str:
    """A DuckDB file with the small store (not demo data); the test may write to it."""
    url = f"duckdb:///{tmp_path / 'store.duckdb'}"
    engine = db.create_engine(url)
    _write_store(engine, STORE_ORDERS)
    engine.dispose()
    return url


# --- the Overview on the demo database ---------------------------------------------------------------------------


@pytest.mark.slow
def test_overview_shows_the_kpis_crm_core_computes(app_env, duckdb_demo_url):
    _use_database(app_env, duckdb_demo_url)
    at = _run_app()
    shown = _metrics(at)
    expected = _expected_kpis(duckdb_demo_url)
    assert {label: shown[label] for label in expected} == expected
    assert len(at.get("plotly_chart")) == 4


@pytest.mark.slow
def test_sidebar_shows_the_database_and_the_demo_notice(app_env, duckdb_demo_url):
    _use_database(app_env, duckdb_demo_url)
    at = _run_app()
    sidebar = literal("\n".join(str(c.value) for c in at.sidebar.caption))
    assert db.redact_url(duckdb_demo_url) in sidebar
    assert "DuckDB" in sidebar and "CRM_DATABASE_URL" in sidebar
    assert any("Demo data" in str(i.value) for i in at.sidebar.info)


@pytest.mark.slow
def test_the_date_filter_changes_the_numbers(app_env, duckdb_demo_url):
    _use_database(app_env, duckdb_demo_url)
    at = _run_app()
    before = _metrics(at)
    start, end = at.date_input(key="overview_period").value
    narrow = (end - dt.timedelta(days=30), end)
    at.date_input(key="overview_period").set_value(narrow).run()
    assert not at.exception
    after = _metrics(at)
    expected = _expected_kpis(duckdb_demo_url, *narrow)
    assert {label: after[label] for label in expected} == expected
    assert after["Revenue"] != before["Revenue"]
    assert after["Orders"] != before["Orders"]


# --- the shell on other databases --------------------------------------------------------------------------------


def _with_password(engine: sa.Engine) -> str:
    """The engine's URL, with a password on PostgreSQL, whose trust authentication in the test setup ignores it."""
    url = engine.url
    if url.get_backend_name() == "postgresql":
        url = url.set(password=SECRET)
    return url.render_as_string(hide_password=False)


@pytest.mark.slow
def test_the_app_runs_on_every_engine_and_never_shows_a_password(app_env, engine):
    _write_store(engine, STORE_ORDERS)
    url = _with_password(engine)
    _use_database(app_env, url)
    at = _run_app()
    # The default range is Mar 2023 .. Mar 20 2024, clamped to the first purchase on Jan 5: all three orders.
    shown = _metrics(at)
    assert (shown["Orders"], shown["Revenue"], shown["Customers"]) == ("3", "€180", "3")
    assert shown == {**shown, **_expected_kpis(url)}
    sidebar = literal("\n".join(str(c.value) for c in at.sidebar.caption))
    assert db.redact_url(url) in sidebar
    assert SECRET not in _all_text(at)
    assert not at.sidebar.info  # not demo data: no demo notice


@pytest.mark.slow
def test_an_empty_configured_database_shows_how_to_load_data(app_env, engine):
    url = _with_password(engine)
    _use_database(app_env, url)
    at = _run_app()
    assert at.title[0].value == "No customer data yet"
    assert db.redact_url(url) in literal(at.info[0].value)
    assert "python -m crm_core import customers" in at.code[0].value
    assert not at.metric
    assert SECRET not in _all_text(at)
    assert db.is_empty(engine)  # a configured database is never filled with demo data


@pytest.mark.slow
def test_a_first_start_on_the_empty_default_database_loads_demo_data(app_env, tmp_path):
    import ui.shell

    default_url = f"duckdb:///{tmp_path / 'data' / 'crm.duckdb'}"
    app_env.setattr(config, "DEFAULT_DATABASE_URL", default_url)
    app_env.setattr(ui.shell, "FIRST_START_CUSTOMERS", 300)
    at = AppTest.from_file(str(APP), default_timeout=180).run()
    assert not at.exception, [e.value for e in at.exception]
    # The run that loaded the data reran itself and now shows the Overview on it.
    engine = db.create_engine(default_url)
    try:
        info = db.describe(engine)
        assert info.is_demo
        assert db.table_counts(engine)["customers"] == 300
    finally:
        engine.dispose()
    assert _metrics(at)["Customers"] == _expected_kpis(default_url)["Customers"]
    assert any("Demo data" in str(i.value) for i in at.sidebar.info)
    assert "the default setting" in at.sidebar.caption[0].value


@pytest.mark.slow
def test_a_new_import_shows_on_the_next_rerun(app_env, store_url):
    _use_database(app_env, store_url)
    at = _run_app()
    assert _metrics(at)["Revenue"] == "€180"
    # Another process (the CLI) imports an order: a write transaction bumps the data version.
    engine = db.create_engine(store_url)
    try:
        with db.write_transaction(engine) as conn:
            conn.execute(
                schema.orders.insert().values(
                    id=99,
                    external_id="O99",
                    customer_id=3,
                    ordered_at=dt.datetime(2024, 3, 10, 9, 0),
                    channel="store",
                    status="completed",
                    amount=20.0,
                )
            )
    finally:
        engine.dispose()
    at.run()
    assert not at.exception
    assert _metrics(at)["Revenue"] == "€200"
    assert "data version 2" in at.sidebar.caption[0].value


def test_the_next_run_after_an_import_scores_the_new_facts(app_env, store_url):
    """Reads never score: the shell's scoring step stores the model scores for the new facts version before the
    page reads, once per version."""
    _use_database(app_env, store_url)
    engine = db.create_engine(store_url)
    try:
        at = _run_app()
        assert db.read_meta(engine)[db.SCORES_VERSION_KEY] == str(db.facts_version(engine))
        with db.write_transaction(engine) as conn:  # an import from another process
            conn.execute(
                schema.orders.insert().values(
                    id=98,
                    external_id="O98",
                    customer_id=2,
                    ordered_at=dt.datetime(2024, 3, 12, 9, 0),
                    channel="web",
                    status="completed",
                    amount=40.0,
                )
            )
        new = str(db.facts_version(engine))
        assert db.read_meta(engine)[db.SCORES_VERSION_KEY] != new
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        assert db.read_meta(engine)[db.SCORES_VERSION_KEY] == new
    finally:
        engine.dispose()


# --- every page ---------------------------------------------------------------------------------------------------


def _check_overview(at: AppTest) -> None:
    assert at.title[0].value == "Overview"
    assert {"Customers", "Revenue", "Orders", "Repeat-purchase rate"} <= set(_metrics(at))
    assert at.expander[0].label == "How these numbers are defined"


def _check_campaigns(at: AppTest) -> None:
    assert at.title[0].value == "Campaigns"
    assert at.selectbox(key="campaign").value  # the newest campaign is open
    assert any("conversion" in str(md.value) for md in at.markdown)  # its verdicts, in words
    assert {"Members", "Control group", "Incremental revenue", "ROI"} <= set(_metrics(at))


def _check_customers(at: AppTest) -> None:
    # Search, deep links, profiles and masking: tests/test_customers_page.py.
    assert at.title[0].value == "Customers"
    assert [s.value for s in at.subheader] == ["Recently viewed", "Most valuable"]
    assert any(b.key and b.key.startswith("valuable_") for b in at.button)


def _check_data(at: AppTest) -> None:
    # Upload, mapping, validation, import, history and erasure: tests/test_data_page.py.
    assert at.title[0].value == "Data"
    assert [t.label for t in at.tabs] == ["Import", "Data quality", "Import history", "Erasure", "Database"]
    assert len(at.get("file_uploader")) == 1
    frames = {tuple(frame.value.columns)[0]: frame.value for frame in at.dataframe}
    assert frames["title"]["title"].str.startswith("Duplicate customers").any()
    assert frames["table"].set_index("table").loc["Customers", "rows"] == 1500


def _check_segments(at: AppTest) -> None:
    # The builder, saving, every part and the export: tests/test_segments_page.py.
    assert at.title[0].value == "Segments"
    assert at.segmented_control(key="segments_section").value == "RFM map"
    assert len(at.get("plotly_chart")) == 2  # the RFM map and the segments' value
    assert at.dataframe[0].value["segment"].iloc[0] == "Champions"


def _check_customer_value(at: AppTest) -> None:
    # The fit, thin data, the lists, the export and the backtest: tests/test_customer_value_page.py.
    assert at.title[0].value == "Customer value"
    assert {"Predicted value", "Likely still active", "High churn risk"} <= set(_metrics(at))
    assert len(at.get("plotly_chart")) == 1  # the value distribution; the other tabs draw when opened
    assert at.dataframe[0].value["customer"].str.startswith("customers?customer=").all()


#: Every page of the app and what its AppTest checks beyond "runs without an exception". Add a page, add it here.
PAGE_CHECKS: dict[str, Callable[[AppTest], None]] = {
    "pages/overview.py": _check_overview,
    "pages/customers.py": _check_customers,
    "pages/campaigns.py": _check_campaigns,
    "pages/data.py": _check_data,
    "pages/segments.py": _check_segments,
    "pages/customer_value.py": _check_customer_value,
}


def test_every_page_has_an_apptest():
    pages = {f"pages/{path.name}" for path in (PROJECT_ROOT / "pages").glob("*.py") if path.name != "__init__.py"}
    missing = sorted(pages - set(PAGE_CHECKS))
    assert not missing, f"pages without an AppTest (add them to PAGE_CHECKS in tests/test_app.py): {missing}"
    assert not set(PAGE_CHECKS) - pages, "PAGE_CHECKS names a page that no longer exists"


@pytest.mark.slow
@pytest.mark.parametrize("page", sorted(PAGE_CHECKS), ids=lambda p: Path(p).stem)
def test_page(app_env, duckdb_demo_url, page):
    """Each page opens through the app's navigation (so it is registered there), draws the shell itself (under
    AppTest, as on a server's first run on a page URL, the page runs without app.py) and passes its checks."""
    _use_database(app_env, duckdb_demo_url)
    at = _run_app(page)
    sidebar = literal("\n".join(str(c.value) for c in at.sidebar.caption))
    assert db.redact_url(duckdb_demo_url) in sidebar, f"{page} does not start with ui.page(...)"
    PAGE_CHECKS[page](at)


@pytest.mark.slow
@pytest.mark.parametrize("page", sorted(PAGE_CHECKS), ids=lambda p: Path(p).stem)
def test_page_on_spark(app_env, spark_demo_url, page):
    """Every page runs against Spark SQL (the same demo dataset, loaded once) with no exception and passes its
    checks; the numbers themselves are compared with DuckDB's in tests/test_engines_agree.py."""
    _use_database(app_env, spark_demo_url)
    at = AppTest.from_file(str(APP), default_timeout=240).run()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Spark SQL" in "\n".join(str(c.value) for c in at.sidebar.caption)
    PAGE_CHECKS[page](at)
