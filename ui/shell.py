"""The app shell around every page (:func:`page`): the navigation, first start, the empty state, the scoring step
after new data, the sidebar, a busy database.

A first start on the empty default database creates it with demo data, showing progress. A database the user
configured is never filled with demo data: when it is empty the app says how to load data instead.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

import streamlit as st

from crm_core import db, stored_results
from crm_core.config import DatabaseSetting
from ui.data import CACHE_TTL_S, _engine_for, current_data_version, get_setting, refresh_data_version
from ui.privacy import masking_switch
from ui.text import plain

if TYPE_CHECKING:
    from streamlit.navigation.page import StreamlitPage

#: Customers of the demo dataset a first start creates (DESIGN.md §6, demo tier).
FIRST_START_CUSTOMERS = 20_000

#: The app's pages in navigation order: script, title, icon; the first is the default page. To add a page, add a
#: line here and its AppTest to ``PAGE_CHECKS`` in ``tests/test_app.py`` (which fails until it has one). The icons
#: are emoji: the browser draws them, where a Material icon of the current page becomes the tab's icon, fetched from
#: an outside font server (a dashboard holding personal data makes no outside request).
PAGES = (
    ("pages/overview.py", "Overview", "📊"),
    ("pages/customers.py", "Customers", "🔎"),
    ("pages/campaigns.py", "Campaigns", "📣"),
    ("pages/data.py", "Data", "🗄️"),
    ("pages/segments.py", "Segments", "👥"),
    ("pages/customer_value.py", "Customer value", "💎"),
)

_SOURCES = {"default": "the default setting"}
#: The app's icon in the browser tab (an emoji, as the pages' icons). Every run sets it (:func:`page`), whichever
#: script it started from.
APP_ICON = "📈"
#: Session-state key: this session has run the app's navigation.
_NAVIGATED_KEY = "_crm_navigated"
#: Session-state key: the database URL and data version for which the scores were found current.
_SCORED_KEY = "_crm_scored_data_version"


def page(title: str) -> None:
    """Start a page: read the data version for this rerun, make sure there is data (first start, empty state),
    draw the sidebar and the page's title. Every page calls it first.

    It lives in the page rather than in ``app.py`` because Streamlit runs a page script without its entrypoint
    when a ``pages/`` folder exists and the run was not started from the entrypoint (the first run of a server
    process on a page's URL, and every rerun under ``AppTest``); a page must not depend on the entrypoint having
    run (:func:`_enter_through_navigation`).
    """
    _enter_through_navigation()
    st.set_page_config(page_icon=APP_ICON, layout="wide")
    try:
        ready = database_ready()
    except db.DatabaseBusyError as exc:
        _busy_warning(exc)
        st.stop()
    except Exception as exc:
        fault = db.connection_fault(exc, get_setting().url)
        if fault is None:
            raise
        database_unavailable(fault)
        st.stop()
    if not ready:
        st.stop()
    sidebar()
    st.title(title)


def navigation() -> StreamlitPage:
    """The app's navigation (:data:`PAGES` in the sidebar); returns the page to run. The entrypoint calls it."""
    st.session_state[_NAVIGATED_KEY] = True
    pages = [st.Page(path, title=title, icon=icon, default=i == 0) for i, (path, title, icon) in enumerate(PAGES)]
    return st.navigation(pages)


def _enter_through_navigation() -> None:
    """Run the entrypoint's navigation even when a fresh server's first visitor opens a page's URL.

    A ``pages/`` folder next to ``app.py`` makes Streamlit serve a page URL by running that page's script alone,
    with a list of the folder's files as navigation, until ``st.navigation`` has been called once in the server
    process. A session whose first run did not come through :func:`navigation` calls it (from then on the server
    uses the app's pages) and reruns, which runs ``app.py`` on the same URL, query parameters included. Later runs
    of the session need no rerun: AppTest runs a page without ``app.py`` after a first run of it, and its clicks
    must count.
    """
    if not st.session_state.get(_NAVIGATED_KEY, False):
        navigation()
        st.rerun()


def database_ready() -> bool:
    """Start a rerun: read the data version once, and make sure there is data to show.

    Returns True when the page can run, with the model scores brought up to date (:func:`_score_new_facts`). On an
    empty default database it loads the demo data with a progress bar and reruns; on another empty database it
    draws the empty state and returns False.
    """
    setting = get_setting()
    version = refresh_data_version()
    if not _is_empty(setting.url, version):
        _score_new_facts(setting.url, version)
        return True
    if setting.is_default:
        _load_first_start_demo()
        st.rerun()
    _empty_state(setting)
    return False


def _score_new_facts(url: str, data_version: int) -> None:
    """The scoring step: when the customer facts changed since the stored model scores were computed (an import),
    recompute them and the pages' stored results once, before any read of this run. Reads never score; this is the
    step that does.

    A database whose scores are current but whose page results are not (scored by an earlier version of the app) is
    not rescored here: the pages compute those figures as they did before (the sidebar says so, :func:`sidebar`),
    and the next scoring step (``python -m crm_core score``, or the next import) stores them.

    Checked once per session and data version (a new facts version always comes with a new data version). Scoring
    is idempotent: a session that finds the scores current does nothing, and two sessions that both find them old
    store the same scores.
    """
    checked = (url, data_version)
    if st.session_state.get(_SCORED_KEY) == checked:
        return
    engine = _engine_for(url)
    if not db.scores_current(engine):
        # Imported here: a session that finds the scores current (every one but the first after new data) never
        # needs the models, nor scipy under them.
        from crm_core import clv

        with st.spinner("Updating predictions for the new data…"):
            clv.ensure_scores(engine)
    st.session_state[_SCORED_KEY] = checked


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def _is_empty(url: str, data_version: int) -> bool:
    return db.is_empty(_engine_for(url))


@st.cache_resource(show_spinner=False)
def _first_start_lock() -> threading.Lock:
    # Two browser tabs opened on a fresh install must not both generate the demo data.
    return threading.Lock()


def _load_first_start_demo() -> None:
    from crm_core import clv, demo

    engine = _engine_for(get_setting().url)
    st.title("Welcome")
    with _first_start_lock():
        if not db.is_empty(engine):  # another session loaded it while this one waited
            return
        label = f"First start: creating a demo database with {FIRST_START_CUSTOMERS:,} customers…"
        with st.status(label, expanded=True) as status:
            st.write(
                "There is no data yet, so the app generates a believable retailer — customers, orders, "
                "interactions, campaigns — to explore. Import your own data with `python -m crm_core import`."
            )
            bar = st.progress(0.0, text="Starting")

            def progress(fraction: float, message: str) -> None:
                bar.progress(min(max(float(fraction), 0.0), 1.0), text=message)

            try:
                demo.load_demo(engine, customers=FIRST_START_CUSTOMERS, progress=progress)
            except ValueError:
                # Another process (the command line) filled the database meanwhile; show its data instead.
                return
            # Scoring is the step after a load: the pages then show predictions from their first visit.
            bar.progress(1.0, text="Scoring the customers (value and churn models)")
            clv.ensure_scores(engine)
            status.update(label="Demo database ready", state="complete")


def _empty_state(setting: DatabaseSetting) -> None:
    st.title("No customer data yet")
    source = plain(_SOURCES.get(setting.source, setting.source))
    st.info(
        f"The database {plain(db.redact_url(setting.url))} (from {source}) has no customers yet.",
        icon=":material/database:",
    )
    st.markdown("Load data from the command line, which uses the same database setting, then reload this page:")
    st.code(
        "python -m crm_core import customers customers.csv\n"
        "python -m crm_core import orders orders.csv\n"
        "# or, to explore first, a generated demo dataset:\n"
        "python -m crm_core demo",
        language="bash",
    )


def sidebar() -> None:
    """The database in use (never its password), whether it holds demo data, its data version, and whether the
    figures over all customers are worked out on each visit (not stored for this data: scored by an earlier
    version of the app)."""
    setting = get_setting()
    version = current_data_version()
    info = _describe(setting.url, setting.source, version)
    with st.sidebar:
        if info.is_demo:
            st.info("**Demo data** — a generated retailer, not real customers.", icon=":material/science:")
        st.caption(
            f"**Database** · {info.engine}  \n{plain(info.url)}  \n"
            f"from {plain(_SOURCES.get(info.source, info.source))}  \ndata version {info.data_version}"
        )
        if not _results_stored(setting.url, version):
            st.caption(
                "Figures over all customers are worked out on each visit, which can take a while on large data: "
                "they were not stored for this data. `python -m crm_core score` stores them."
            )
    masking_switch()


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def _results_stored(url: str, data_version: int) -> bool:
    return stored_results.current(_engine_for(url))


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def _describe(url: str, source: str, data_version: int) -> db.DatabaseInfo:
    return db.describe(_engine_for(url), DatabaseSetting(url, source))


@contextlib.contextmanager
def busy_database_notice() -> Iterator[None]:
    """Show a busy database (an import holding the DuckDB file too long) as a notice, and a database that cannot be
    used (:func:`database_unavailable`) as a page that says so, not a traceback."""
    try:
        yield
    except db.DatabaseBusyError as exc:
        _busy_warning(exc)
    except Exception as exc:
        fault = db.connection_fault(exc, get_setting().url)
        if fault is None:
            raise
        database_unavailable(fault)


def database_unavailable(fault: db.DatabaseUnavailable) -> None:
    """The page shown when the database cannot be used: what failed, for which URL (without password), what to
    check, and a button that tries again."""
    st.title("The database cannot be used")
    st.error(plain(fault.what[:1].upper() + fault.what[1:] + "."), icon=":material/error:")
    st.code(fault.url, language=None)
    st.text(fault.check)
    if st.button("Retry", type="primary", key="database_retry"):
        _engine_for.clear()
        st.rerun()


def _busy_warning(exc: db.DatabaseBusyError) -> None:
    st.warning(
        f"{plain(exc)}\n\nAn import is probably running; rerun the page (R) when it has finished.",
        icon=":material/hourglass:",
    )
