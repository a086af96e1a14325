"""The Customers page (AppTest, on a DuckDB file with the hand-made store of :mod:`tests.profiles.store`): search,
deep links, the timeline's filters, empty states, erased customers and masking."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
import test_app
from streamlit.testing.v1 import AppTest

from crm_core import config, db
from tests.profiles.store import ALL_EMAILS, ALL_PHONES, ANNA_EMAIL, load_store

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PAGE = "pages/customers.py"


@pytest.fixture
def page_env(monkeypatch, tmp_path):
    """The store in a DuckDB file, chosen by CRM_DATABASE_URL; clean Streamlit caches; ``ui`` importable."""
    url = f"duckdb:///{tmp_path / 'store.duckdb'}"
    engine = db.create_engine(url)
    load_store(engine)
    engine.dispose()
    monkeypatch.syspath_prepend(str(PROJECT_ROOT))
    monkeypatch.setenv(config.ENV_VAR, url)
    monkeypatch.delenv(config.MASK_PII_ENV_VAR, raising=False)
    st.cache_data.clear()
    st.cache_resource.clear()
    yield monkeypatch
    st.cache_data.clear()
    st.cache_resource.clear()


def _page(customer: str | None = None) -> AppTest:
    """The Customers page opened through the app's navigation; by its deep link when ``customer`` is given."""
    at = AppTest.from_file(str(test_app.APP), default_timeout=60)
    if customer is not None:
        at.query_params["customer"] = customer
    at.run()
    return at.switch_page(PAGE).run()


def _ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def _rendered(at: AppTest) -> str:
    """Every text the page drew: headings, markdown, captions, alerts, metrics, buttons, widgets and tables."""
    parts: list[str] = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success"):
        parts.extend(str(element.value) for element in getattr(at, kind))
    parts.extend(f"{m.label} {m.value} {m.help or ''}" for m in at.metric)
    parts.extend(f"{b.label} {b.help or ''}" for b in at.button)
    parts.extend(str(w.label) + " " + " ".join(map(str, getattr(w, "options", []))) for w in at.multiselect)
    parts.extend(frame.value.to_csv() for frame in at.dataframe)
    return test_app.literal("\n".join(parts))  # as shown: data in Markdown is escaped


#: Anything that looks like an email address or an international phone number.
EMAIL_OR_PHONE = re.compile(r"[\w.+%-]+@[\w-]+\.[\w.]+|\+\d[\d\s()./-]{6,}\d")


@pytest.mark.slow
def test_page_search_then_open_a_profile(page_env):
    at = _ok(_page())
    assert at.title[0].value == "Customers"
    assert {s.value for s in at.subheader} == {"Recently viewed", "Most valuable"}
    assert "By predicted CLV." in [c.value for c in at.caption]
    at.text_input(key="customer_search").input("müll").run()
    _ok(at)
    found = [b for b in at.button if b.key and b.key.startswith("found_")]
    assert [b.key for b in found] == ["found_C001"]
    assert "Anna Müller" in test_app.literal(found[0].label) and ANNA_EMAIL in test_app.literal(found[0].label)
    found[0].click().run()
    _ok(at)
    assert at.query_params["customer"] == "C001"
    assert at.header[0].value == "Anna Müller"
    assert at.text_input(key="customer_search").value == ""
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["Total spend"], metrics["Orders"]) == ("€130", "2")
    assert "At risk" in [s.value for s in at.subheader]  # the segment's card: a name wraps, never cut
    # Closing the profile lists it as recently viewed.
    next(b for b in at.button if b.label == "Close profile").click().run()
    _ok(at)
    assert "customer" not in at.query_params
    assert [b.key for b in at.button if b.key and b.key.startswith("recent_")] == ["recent_C001"]


@pytest.mark.slow
def test_page_opens_a_profile_by_deep_link(page_env):
    at = _ok(_page("C001"))
    assert at.header[0].value == "Anna Müller"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Total spend"] == "€130" and metrics["Avg order value"] == "€65.00"
    assert metrics["Returns"] == "1" and metrics["Tenure"] == "181 days"
    assert metrics["Likely still active"] == "80.0%" and metrics["Churn risk"] == "Low"
    assert metrics["Latest NPS score"] == "6" and metrics["Complaints"] == "1"
    text = _rendered(at)
    assert "customers?customer=C001" in text
    assert "Page 1 of 1 · 14 events, newest first." in text
    assert "**At risk** (R 1 · F 4 · M 5)" in text


@pytest.mark.slow
def test_page_timeline_filters_and_pages(page_env):
    at = _ok(_page("C001"))
    at.multiselect(key="timeline_types_1").set_value(["order"]).run()
    _ok(at)
    timeline = next(d.value for d in at.dataframe if "source" in d.value.columns)
    assert timeline["subject"].tolist() == ["O4", "O3", "O2", "O1"]
    assert "4 events" in _rendered(at)


@pytest.mark.slow
def test_page_says_when_a_customer_id_is_unknown(page_env):
    at = _ok(_page("C999"))
    assert "There is no customer with id “C999”" in at.warning[0].value
    assert not at.header


@pytest.mark.slow
def test_page_shows_empty_states_for_a_customer_with_nothing(page_env):
    at = _ok(_page("C006"))
    assert at.header[0].value == "Emil Opt"
    text = _rendered(at)
    assert "No orders, interactions or feedback recorded" in text
    assert "No orders yet." in text and "Not a member of any campaign." in text
    assert "No purchase yet" in [s.value for s in at.subheader]


@pytest.mark.slow
def test_page_shows_an_erased_customer(page_env):
    at = _ok(_page("C005"))
    assert "asked to be forgotten on 2024-06-20" in at.warning[0].value


def _assert_no_pii(at: AppTest) -> None:
    text = _rendered(at)
    # Every address and number of the store, also as its last six digits (however it is grouped), and the surnames.
    subscriber_numbers = [re.sub(r"\D", "", phone)[-6:] for phone in ALL_PHONES]
    for secret in [*ALL_EMAILS, *ALL_PHONES, *subscriber_numbers, "Müller", "Schmidt", "Nowak"]:
        assert secret not in text, secret
    assert EMAIL_OR_PHONE.findall(text) == []


@pytest.mark.slow
def test_with_masking_switched_on_no_email_or_phone_is_rendered(page_env):
    at = _ok(_page("C001"))
    assert ANNA_EMAIL in _rendered(at)  # shown before the switch
    at.sidebar.toggle(key="mask_pii_switch").set_value(True).run()
    _ok(at)
    assert test_app.literal(at.header[0].value) == "Anna M."
    _assert_no_pii(at)
    assert "a***@e***.com" in _rendered(at)
    # Search results and the start page's lists are masked too.
    next(b for b in at.button if b.label == "Close profile").click().run()
    _ok(at)
    _assert_no_pii(at)
    at.text_input(key="customer_search").input("example").run()
    _ok(at)
    assert len([b for b in at.button if b.key and b.key.startswith("found_")]) == 5
    _assert_no_pii(at)


@pytest.mark.slow
def test_the_deployment_setting_forces_masking_on(page_env):
    page_env.setenv(config.MASK_PII_ENV_VAR, "1")
    at = _ok(_page("C001"))
    switch = at.sidebar.toggle(key="mask_pii_switch")
    assert switch.value is True and switch.disabled
    _assert_no_pii(at)


def test_profile_links_carry_the_customer_id_url_encoded(monkeypatch):
    monkeypatch.syspath_prepend(str(PROJECT_ROOT))
    import ui

    assert ui.profile_link("C0000042") == "customers?customer=C0000042"
    assert ui.profile_link("A&B 1/2") == "customers?customer=A%26B%201%2F2"
    assert ui.profile_links(pd.Series(["C1", "C2"])).tolist() == ["customers?customer=C1", "customers?customer=C2"]
