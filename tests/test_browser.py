"""The real-browser test: ``streamlit run app.py`` on a free port, driven by Debian's chromium through Playwright.

It opens every page (``PAGES``; add a line when a page is added), waits until the page has drawn, and checks that
there is no exception box and no uncaught JavaScript error; on the Overview it finds KPI values equal to what
crm_core computes, formatted as the page formats them. The server always stops, whatever happens.

Without ``/usr/bin/chromium`` the test is skipped, unless ``CI`` is set: then it fails.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from crm_core import db, overview, profiles
from crm_core.bench import browser
from ui.sections.data_mapping import KINDS

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PROJECT_ROOT = browser.PROJECT_ROOT


@dataclass(frozen=True)
class PageSpec:
    """A page as the browser reaches it: its URL path (``""`` for the default page), its title, and a selector
    that is present once the page has drawn its content."""

    url_path: str
    title: str
    ready: str


PAGES = [
    # A profile opened by its deep link: the KPI cards exist only once a profile is drawn. First, so that it is the
    # fresh server's first request: a page URL before any run of app.py is the case Streamlit treats differently.
    PageSpec("customers?customer=C0000001", "Customers", '[data-testid="stMetricValue"]'),
    PageSpec("", "Overview", '[data-testid="stMetricValue"]'),
    PageSpec("campaigns", "Campaigns", '[data-testid="stMetricValue"]'),
    PageSpec("data", "Data", '[data-testid="stFileUploader"]'),
    PageSpec("segments", "Segments", '[data-testid="stPlotlyChart"]'),
    PageSpec("customer_value", "Customer value", '[data-testid="stMetricValue"]'),
]


#: The sidebar's navigation, in app.py's order.
NAVIGATION = ["Overview", "Customers", "Campaigns", "Data", "Segments", "Customer value"]


@pytest.fixture(scope="module")
def server(duckdb_demo_url, tmp_path_factory) -> Iterator[str]:
    """The server the browser tests share, against the demo DuckDB test file; yields its base URL."""
    with browser.streamlit_server(duckdb_demo_url, tmp_path_factory.mktemp("streamlit") / "server.log") as base_url:
        yield base_url


@pytest.fixture(scope="module")
def chromium(chromium_path):
    with browser.chromium(chromium_path) as launched:
        yield launched


@pytest.fixture
def js_errors() -> list[str]:
    """Uncaught JavaScript errors of the test's page."""
    return []


@pytest.fixture
def requests_made() -> list[str]:
    """Every URL the test's page requested."""
    return []


@pytest.fixture
def page(chromium, js_errors, requests_made):
    context = chromium.new_context(viewport={"width": 1440, "height": 1000})
    tab = context.new_page()
    tab.on("pageerror", lambda error: js_errors.append(str(error)))
    tab.on("request", lambda request: requests_made.append(request.url))
    yield tab
    context.close()


def _outside(requests: list[str], server: str) -> list[str]:
    """The requests that went anywhere but the app's own address (inline data and blobs stay in the browser)."""
    return [url for url in requests if not url.startswith((f"{server}/", "data:", "blob:"))]


def _open(tab, server: str, spec: PageSpec) -> None:
    browser.open_page(tab, server, spec.url_path)
    tab.wait_for_selector(spec.ready, timeout=browser.RUN_TIMEOUT_MS)


def _metrics(tab) -> dict[str, str]:
    return tab.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('[data-testid="stMetric"]')].map(m => [
            m.querySelector('[data-testid="stMetricLabel"]').innerText.trim(),
            m.querySelector('[data-testid="stMetricValue"]').innerText.trim(),
        ]))"""
    )


@pytest.mark.parametrize("spec", PAGES, ids=lambda spec: spec.title.lower().replace(" ", "-"))
def test_page_draws_without_an_exception(server, page, js_errors, requests_made, spec):
    _open(page, server, spec)
    # A dashboard holding personal data makes no outside request (fonts, icons, images, scripts).
    assert requests_made and _outside(requests_made, server) == []
    assert page.locator("h1").first.inner_text().strip() == spec.title
    assert page.locator('[data-testid="stException"]').count() == 0
    assert js_errors == []
    # The app's navigation, whatever page the server's first visitor opened (not a list of the pages/ files).
    assert _navigation(page) == NAVIGATION


def _navigation(tab) -> list[str]:
    return [title for title, _ in browser.navigation(tab)]


def test_a_profile_link_opened_first_on_a_fresh_server_gets_the_apps_navigation(
    duckdb_demo_url, page, js_errors, tmp_path
):
    """A profile's deep link as the very first request of a new server process: Streamlit would serve it from the
    pages/ folder alone (a list of file names as navigation); the app's navigation and the profile must show."""
    engine = db.create_engine(duckdb_demo_url)
    try:
        name = profiles.customer_profile(engine, "C0000001").identity.name
    finally:
        engine.dispose()
    with browser.streamlit_server(duckdb_demo_url, tmp_path / "server.log") as fresh:
        _open(page, fresh, PageSpec("customers?customer=C0000001", "Customers", '[data-testid="stMetricValue"]'))
        assert _navigation(page) == NAVIGATION
        assert page.locator("h1").first.inner_text().strip() == "Customers"
        assert page.locator("h2").first.inner_text().strip() == name  # the profile, not the search
        assert page.url.endswith("/customers?customer=C0000001")
        assert page.locator('[data-testid="stException"]').count() == 0
        assert js_errors == []


def test_overview_kpis_equal_what_crm_core_computes(server, page, duckdb_demo_url, monkeypatch):
    monkeypatch.syspath_prepend(str(PROJECT_ROOT))  # the page's formatters, as `streamlit run` imports them
    import ui

    engine = db.create_engine(duckdb_demo_url)
    try:
        start, end = overview.default_range(overview.date_bounds(engine))
        now = overview.overview_kpis(engine, start, end).current
    finally:
        engine.dispose()
    _open(page, server, PageSpec("", "Overview", '[data-testid="stMetricValue"]'))
    page.wait_for_selector(".js-plotly-plot", timeout=browser.RUN_TIMEOUT_MS)
    shown = _metrics(page)
    assert shown["Customers"] == ui.number(now.customers)
    assert shown["Revenue"] == ui.compact_currency(now.revenue)
    assert shown["Orders"] == ui.number(now.orders)
    assert page.locator('[data-testid="stException"]').count() == 0
    sidebar = page.locator('[data-testid="stSidebar"]').inner_text()
    assert db.redact_url(duckdb_demo_url) in sidebar
    assert "Demo data" in sidebar


def test_a_campaign_opens_from_its_url_with_its_verdicts(server, page, js_errors, duckdb_demo_url):
    from urllib.parse import quote

    from crm_core import campaigns

    engine = db.create_engine(duckdb_demo_url)
    try:
        name = campaigns.campaign_list(engine)["name"].iloc[2]
        effects = campaigns.campaign_results(engine, name).effects
    finally:
        engine.dispose()
    _open(page, server, PageSpec(f"campaigns?campaign={quote(name)}", "Campaigns", '[data-testid="stMetricValue"]'))
    page.wait_for_selector(".js-plotly-plot", timeout=browser.RUN_TIMEOUT_MS)
    main = page.locator('[data-testid="stMain"]')
    # The sentence a manager repeats is on the page; the statistics are one click below it.
    for effect in effects:
        assert effect.headline[:60] in main.inner_text()
    for expander in page.get_by_text("The statistics behind it").all():
        expander.click()
    page.wait_for_timeout(500)
    text = main.inner_text()
    for effect in effects:
        # Markdown renders the verdict's words as they are; compare its start, before any emphasis could differ.
        assert effect.verdict[:60] in text
    assert page.locator('[data-testid="stException"]').count() == 0
    assert js_errors == []


def test_an_uploaded_shop_export_is_recognised_and_checked(server, page, js_errors):
    # Checked, not imported: the server's demo database is shared with the other browser tests.
    _open(page, server, PageSpec("data", "Data", '[data-testid="stFileUploader"]'))
    upload = PROJECT_ROOT / "tests" / "files" / "presets" / "shopify_orders.csv"
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(upload))
    page.get_by_text("Recognised as: Shopify orders export.").wait_for(timeout=browser.RUN_TIMEOUT_MS)
    page.get_by_text("3 warnings", exact=False).first.wait_for(timeout=browser.RUN_TIMEOUT_MS)
    assert page.get_by_role("button", name="Import 18 rows").is_enabled()
    assert page.locator('[data-testid="stException"]').count() == 0
    assert js_errors == []


# --- the main flows, with full-page screenshots --------------------------------------------------------------------

#: Where the flows leave their screenshots (git-ignored): one PNG per step, the whole page at 1440 px wide.
ARTIFACTS = PROJECT_ROOT / "tests" / "artifacts"


def _settle(tab) -> None:
    tab.wait_for_timeout(300)  # for the rerun a click started to begin
    browser.wait_for_run(tab)
    tab.wait_for_timeout(700)


def _screenshot(tab, name: str) -> Path:
    """The whole page: Streamlit scrolls inside its main block, so the window is made as tall as that block first."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    height = tab.evaluate("document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    tab.set_viewport_size({"width": 1440, "height": min(int(height) + 60, 16_000)})
    tab.wait_for_timeout(800)
    path = ARTIFACTS / f"{name}.png"
    tab.screenshot(path=str(path), full_page=True)
    tab.set_viewport_size({"width": 1440, "height": 900})
    return path


def _choose(tab, key: str, option: str, *, partial_key: bool = False) -> None:
    """Pick ``option`` in the select box with widget key ``key`` (or whose key contains it)."""
    selector = f'[class*="st-key-"][class*="{key}"]' if partial_key else f".st-key-{key}"
    box = tab.locator(f"{selector} input").first
    box.click()
    box.fill(option)  # typing filters the list: the option is then in view whatever the list's length
    tab.get_by_role("option", name=option, exact=True).first.click()
    _settle(tab)


def _plain_faults(tab, data: tuple[str, ...] = ()) -> list[str]:
    """What the visible page breaks of the plain-words rules (tests/screen_text.py): internal names, None/nan,
    money outside the one format. ``data`` is text of the user's own shown as written (an uploaded file's name and
    column headers), left out of the check."""
    import screen_text

    # The words on the page without the charts (checked from their figures in the AppTests), icons (ligatures
    # whose names, "keyboard_arrow_down", are in the text but drawn as pictures) and code (names to type).
    text = tab.evaluate(
        """() => {
            const main = document.querySelector('[data-testid="stMain"]');
            const hidden = [...main.querySelectorAll('.js-plotly-plot, code, [data-testid*="Icon"]')];
            const before = hidden.map(element => element.style.display);
            hidden.forEach(element => { element.style.display = 'none'; });
            const text = main.innerText;
            hidden.forEach((element, i) => { element.style.display = before[i]; });
            return text;
        }"""
    )
    for written in data:
        text = text.replace(written, "")
    lines = [line for line in text.splitlines() if line.strip()]
    return screen_text.violations([screen_text.ScreenText("page", line) for line in lines])


def test_the_main_flows_read_plainly_and_leave_screenshots(server, page, js_errors, duckdb_demo_url):
    from urllib.parse import quote

    from crm_core import campaigns

    engine = db.create_engine(duckdb_demo_url)
    try:
        listing = campaigns.campaign_list(engine)
        several = next(
            (n for n in listing["name"] if len(campaigns.campaign_results(engine, n).effects) > 1),
            listing["name"].iloc[0],
        )
    finally:
        engine.dispose()
    page.set_viewport_size({"width": 1440, "height": 900})
    faults: dict[str, list[str]] = {}
    shots: list[Path] = []

    def step(name: str, upload: Path | None = None) -> None:
        _settle(page)
        assert page.locator('[data-testid="stException"]').count() == 0, name
        data = () if upload is None else (upload.name, *upload.read_text(encoding="utf-8").splitlines()[0].split(","))
        if found := _plain_faults(page, data):
            faults[name] = found
        shots.append(_screenshot(page, name))

    _open(page, server, PAGES[1])
    page.wait_for_selector(".js-plotly-plot", timeout=browser.RUN_TIMEOUT_MS)
    step("01-overview")

    _open(page, server, PageSpec(f"campaigns?campaign={quote(several)}", "Campaigns", '[data-testid="stMetricValue"]'))
    page.wait_for_selector(".js-plotly-plot", timeout=browser.RUN_TIMEOUT_MS)
    page.get_by_text("The statistics behind it").first.click()
    step("02-campaign-results")
    _choose(page, "campaign_dimension", "Country")
    page.wait_for_selector(".js-plotly-plot", timeout=browser.RUN_TIMEOUT_MS)
    step("03-campaign-break-down-by-country")
    page.get_by_role("tab", name="All campaigns").click()
    _settle(page)
    page.get_by_text("More columns").first.click()
    step("04-all-campaigns")

    _open(page, server, PageSpec("segments", "Segments", '[data-testid="stPlotlyChart"]'))
    step("05-segments-rfm-map")
    page.get_by_text("Migration", exact=True).first.click()
    page.wait_for_selector(".js-plotly-plot .sankey", timeout=browser.RUN_TIMEOUT_MS)
    step("06-segments-migration")
    page.get_by_text("Rule builder", exact=True).first.click()
    _settle(page)
    page.get_by_role("button", name="Condition").first.click()
    _settle(page)
    text = page.locator('[data-testid="stMain"]').inner_text()
    assert "takes a non-empty" not in text and "got str" not in text  # no internal message for a new condition
    step("07-segments-new-condition")
    # The new condition (country) gets a value, the rule is saved under a name and its e-mail list downloaded.
    _choose(page, "_0_value", "Germany", partial_key=True)
    name = f"Germany, saved in the browser {time.time_ns()}"
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_role("button", name="Save segment").click()
    page.get_by_text("version 1").first.wait_for(timeout=browser.RUN_TIMEOUT_MS)
    _settle(page)
    with page.expect_download(timeout=browser.RUN_TIMEOUT_MS) as download:
        page.get_by_role("button", name="Download the email list (CSV)").click()
    exported = pd.read_csv(download.value.path(), dtype=str)
    assert len(exported) > 0 and set(exported["country"]) == {"Germany"}
    assert not exported.map(lambda v: isinstance(v, str) and v[:1] in "=+-@").any().any()  # formulas neutralised
    step("08-segments-saved-and-exported")

    _open(page, server, PAGES[-1])
    page.wait_for_selector(".js-plotly-plot", timeout=browser.RUN_TIMEOUT_MS)
    step("09-customer-value")

    # A profile found by searching part of a surname, opened from the results.
    _open(page, server, PageSpec("customers", "Customers", '[data-testid="stTextInput"]'))
    page.get_by_role("textbox", name="Find a customer").fill("Müller")
    page.get_by_role("textbox", name="Find a customer").press("Enter")
    _settle(page)
    step("10-customer-search")
    page.locator('[data-testid="stMain"] button', has_text="Müller").first.click()
    page.get_by_role("tab", name="Feedback").wait_for(timeout=browser.RUN_TIMEOUT_MS)
    _settle(page)
    assert "customer=" in page.url
    step("11-customer-profile")
    page.get_by_role("tab", name="Feedback").click()
    step("12-customer-profile-feedback")

    # A good upload (a shop's export, recognised and checked) and a bad one (the row, the column and the reason).
    _open(page, server, PageSpec("data", "Data", '[data-testid="stFileUploader"]'))
    uploader = page.locator('[data-testid="stFileUploader"] input[type="file"]')
    good = PROJECT_ROOT / "tests" / "files" / "presets" / "shopify_orders.csv"
    uploader.set_input_files(str(good))
    page.get_by_text("Recognised as: Shopify orders export.").wait_for(timeout=browser.RUN_TIMEOUT_MS)
    _settle(page)
    assert page.get_by_role("button", name="Import 18 rows").is_enabled()
    step("13-data-good-upload", good)
    _open(page, server, PageSpec("data", "Data", '[data-testid="stFileUploader"]'))
    _choose(page, "data_kind", KINDS["orders"])
    uploader = page.locator('[data-testid="stFileUploader"] input[type="file"]')
    bad_file = PROJECT_ROOT / "tests" / "files" / "bad" / "bad_date.csv"
    uploader.set_input_files(str(bad_file))
    page.get_by_text("1 error on 1 of 2 rows").first.wait_for(timeout=browser.RUN_TIMEOUT_MS)
    _settle(page)
    assert page.get_by_role("button", name="Import 2 rows").is_disabled()  # until the bad rows are skipped
    with page.expect_download(timeout=browser.RUN_TIMEOUT_MS) as download:
        page.get_by_role("button", name="Download every problem (CSV)").click()
    problems = pd.read_csv(download.value.path(), dtype=str)
    # The file, the row, the column and the reason: the date that does not exist, on the file's third line.
    bad = problems[problems["value"] == "2024-02-30"]
    assert bad[["severity", "line", "column", "reason"]].values.tolist() == [
        ["error", "3", "ordered_at", "no such date or time"]
    ], problems.to_dict("records")
    step("14-data-bad-upload", bad_file)

    assert faults == {}
    assert js_errors == []
    assert all(path.stat().st_size > 10_000 for path in shots)
