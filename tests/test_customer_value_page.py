"""The Customer value page under AppTest: fitted once per data version (a rerun or new business assumptions never
refit), the figures crm_core computes, plain words on thin data, lists that link to profiles (masked when masking
is on), and an at-risk export with only consenting customers.

The page's tabs are chosen through Session State (``cv_view``), as a click on a tab does.
"""

from __future__ import annotations

import functools
import shutil

import pytest
import screen_text
import sqlalchemy as sa
import test_app
from streamlit.testing.v1 import AppTest

from crm_core import clv, config, db, formats, labels, schema

pytestmark = pytest.mark.slow

PAGE = "pages/customer_value.py"
app_env = test_app.app_env
VALUABLE, AT_RISK, HOW_SURE = "Who is valuable", "Who is slipping away", "How sure the model is"


def _open(url: str, env) -> AppTest:
    test_app._use_database(env, url)
    at = AppTest.from_file(str(test_app.APP), default_timeout=test_app.TIMEOUT_S).run()
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _show(at: AppTest, view: str) -> AppTest:
    at.session_state["cv_view"] = view
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _with_engine(url: str, function, *args, **kwargs):
    engine = db.create_engine(url)
    try:
        return function(engine, *args, **kwargs)
    finally:
        engine.dispose()


def _expected(url: str, **assumptions):
    """The model and the predictions the page should show, from crm_core."""
    model = _with_engine(url, clv.value_model)
    values = _with_engine(url, clv.customer_values, model, **assumptions)
    return model, values


@pytest.fixture
def fit_calls(app_env) -> list[int]:
    """Counts the model fits of this test (the page's own and its backtest's)."""
    calls: list[int] = []
    original = clv.fit_models

    @functools.wraps(original)
    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    # Every fit goes through fit_models, called where a model is fitted: the page's model and the scores (both in
    # report.fit_value_model), the backtest.
    for module in (clv.report, clv.backtesting):
        app_env.setattr(module, "fit_models", counting)
    return calls


def test_the_page_reads_the_stored_fit_and_never_fits(app_env, fit_calls, duckdb_demo_url):
    """The scoring step stored the fit, the backtest and the default figures: the page fits nothing, not on a rerun,
    not in any tab, not for new business assumptions (they change the value, from the same stored fit)."""
    import ui

    at = _open(duckdb_demo_url, app_env)
    at.run()
    _show(at, AT_RISK)
    _show(at, HOW_SURE)
    assert len(fit_calls) == 0
    at.select_slider(key="cv_months").set_value(24).run()
    at.slider(key="cv_margin").set_value(60).run()
    assert not at.exception
    assert len(fit_calls) == 0
    _, values = _expected(duckdb_demo_url, months=24, margin=0.6)
    total = clv.value_overview(values).total_value
    assert test_app._metrics(at)["Predicted value"] == ui.compact_currency(total)
    assert "next 24 months" in [m.delta for m in at.metric]


def test_a_database_scored_by_an_earlier_version_is_fitted_once(app_env, fit_calls, duckdb_demo_url, tmp_path):
    """Without stored results (a database scored before they existed, its scores current), the page fits as it did
    before — the model on all data, and the backtest's on all but the last weeks — once, never on a rerun, and
    stores nothing (only the scoring step does); the sidebar says the figures are worked out on each visit."""
    path = tmp_path / "earlier.duckdb"
    shutil.copyfile(duckdb_demo_url.removeprefix("duckdb:///"), path)
    url = f"duckdb:///{path}"
    engine = db.create_engine(url)
    with engine.begin() as conn:
        conn.execute(schema.stored_results.delete())
        conn.execute(schema.meta.delete().where(schema.meta.c.key == db.RESULTS_VERSION_KEY))
    engine.dispose()
    at = _open(url, app_env)
    assert len(fit_calls) == 2
    at.run()
    _show(at, HOW_SURE)
    assert len(fit_calls) == 2
    assert "How sure?" in test_app._all_text(at)
    assert any("worked out on each visit" in str(caption.value) for caption in at.sidebar.caption)
    engine = db.create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.stored_results)).scalar() == 0
    engine.dispose()


def test_the_page_shows_what_crm_core_computes(app_env, duckdb_demo_url):
    import ui

    at = _open(duckdb_demo_url, app_env)
    model, values = _expected(duckdb_demo_url)
    totals = clv.value_overview(values)
    shown = test_app._metrics(at)
    assert shown["Predicted value"] == ui.compact_currency(totals.total_value)
    assert shown["Average per customer"] == ui.currency_cents(totals.average_value)
    assert shown["Likely still active"] == ui.number(totals.likely_active)
    assert shown["High churn risk"] == ui.number(totals.high_risk)
    text = test_app._all_text(at)
    assert f"As of **{model.as_of}**" in text and model.data_statement() in text
    assert "How sure?" in text
    # The most valuable customers, in order, each linking to the profile.
    top = clv.top_customers(values, 25)
    details = _with_engine(duckdb_demo_url, clv.customer_details, tuple(top["customer_id"]))
    listed = at.dataframe[0].value
    assert listed["customer"].tolist() == [f"customers?customer={c}" for c in details["external_id"]]
    # Numbers (they sort as numbers) that read in the one money format.
    assert listed["clv"].tolist() == pytest.approx(top["clv"].tolist())
    assert screen_text.cells(at.dataframe[0], "clv") == labels.display_frame(top, ["clv"])["clv"].tolist()
    # Each with the 80 % range of the value, one click away.
    assert "clv_low" not in listed.columns
    at.toggle(key="cv_top_more").set_value(True).run()
    listed = at.dataframe[0].value
    written = labels.display_frame(top, ["clv_low", "clv_high"])
    assert screen_text.cells(at.dataframe[0], "clv_low") == written["clv_low"].tolist()
    assert screen_text.cells(at.dataframe[0], "clv_high") == written["clv_high"].tolist()

    _show(at, HOW_SURE)
    period = _with_engine(duckdb_demo_url, clv.default_backtest_period)
    report = _with_engine(duckdb_demo_url, clv.model_report, *period)
    assert f"**The backtest.** {report.backtest.sentence()}" in [str(m.value) for m in at.markdown]
    # Weekly tracking (with its band), by frequency, the forecast of purchases and of revenue, the P(alive) matrix.
    assert len(at.get("plotly_chart")) == 5
    assert clv.describe_churn_risk_bands() in text + test_app._all_text(at)
    # How sure: the calibration in words and by earlier purchases.
    shown_text = [str(m.value) for m in at.markdown]
    for line in report.backtest.how_sure():
        assert f"- {line}" in shown_text
    assert screen_text.cells(at.dataframe[0], "coverage") == [
        formats.percent(v) for v in report.backtest.calibration.by_frequency["coverage"]
    ]
    parameters = at.dataframe[1].value
    assert parameters["parameter"].tolist() == ["r", "alpha", "a", "b", "p", "q", "gamma"]
    assert parameters["estimate"].tolist() == [labels.write(v, "decimal") for v in model.parameters()["estimate"]]


def test_at_risk_export_contains_only_consenting_customers(app_env, duckdb_demo_url):
    import ui

    exports = []
    original = clv.at_risk_export

    @functools.wraps(original)
    def recording(*args, **kwargs):
        exports.append((kwargs, original(*args, **kwargs)))
        return exports[-1][1]

    # The name the page calls, and the defining module, where ui.cached looks the function up.
    for namespace in (clv, clv.lists):
        app_env.setattr(namespace, "at_risk_export", recording)
    at = _show(_open(duckdb_demo_url, app_env), AT_RISK)
    _, values = _expected(duckdb_demo_url)
    at_risk = clv.customers_at_risk(values, clv.value_threshold(values))
    (arguments, export), *_ = exports
    assert arguments["channel"] == "email" and not arguments["mask"]
    assert arguments["customer_ids"] == tuple(at_risk["customer_id"])
    assert export.members == len(at_risk) > export.exported > 0  # some left out, some exported
    assert test_app._metrics(at)["Can be contacted"] == ui.number(export.exported)
    assert "Download the email list (CSV)" in [b.label for b in at.get("download_button")]

    consents, customers = schema.consents, schema.customers
    query = (
        sa.select(customers.c.external_id)
        .join(consents, consents.c.customer_id == customers.c.id)
        .where(consents.c.channel == "email", consents.c.status == "opt_in", customers.c.erased_at.is_(None))
    )
    engine = db.create_engine(duckdb_demo_url)
    try:
        with engine.connect() as conn:
            consenting = set(conn.execute(query).scalars())
    finally:
        engine.dispose()
    exported = set(export.frame["customer_id"])
    assert exported <= consenting
    assert export.csv_text().count("\n") == export.exported + 1  # the header and one line per customer

    at.segmented_control(key="cv_channel").set_value("sms").run()
    assert exports[-1][0]["channel"] == "sms"


def test_masking_masks_the_names_in_the_lists(app_env, duckdb_demo_url):
    app_env.setenv(config.MASK_PII_ENV_VAR, "1")
    at = _open(duckdb_demo_url, app_env)
    names = at.dataframe[0].value["name"]
    # "First L." - the surname reduced to its initial.
    assert names.str.fullmatch(r".+ \w\.|\(erased\)").all(), names.tolist()


def test_without_repeat_buyers_the_page_says_so_plainly(app_env, engine):
    test_app._write_store(engine, [(1, "2024-01-05 10:00", 100.0), (2, "2024-02-10 11:00", 50.0)])
    at = _open(engine.url.render_as_string(hide_password=False), app_env)
    warning = at.warning[0].value
    assert warning.startswith("**Too little data for a customer-value model.** None of the 2 customers bought more")
    assert not at.metric and not at.tabs


def test_thin_data_is_shown_as_rough(app_env, engine):
    test_app._write_store(engine, test_app.STORE_ORDERS)  # one of two buyers bought twice
    at = _open(engine.url.render_as_string(hide_password=False), app_env)
    assert at.warning[0].value.startswith(
        "**Too little data for a trustworthy model — read these predictions as rough.** Only 1 of 2 customers"
    )
    assert "There is too little data for a trustworthy model" in at.info[0].value
    assert "Predicted value" in test_app._metrics(at)
    for view in (AT_RISK, HOW_SURE):
        _show(at, view)
