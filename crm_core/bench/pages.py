"""``bench --pages``: every page's first and second load in Chromium, against a fresh ``streamlit run app.py``.

The pages are the app's navigation as the browser shows it (:func:`crm_core.bench.browser.navigation`), so the list
is the app's own. Each page gets a fresh server, so that its first load is the first request that server answers,
with nothing imported or cached yet: then another page is opened, then the page again — its second load, with the
server's caches and the browser's copy of the frontend warm.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crm_core import db
from crm_core.bench import browser

if TYPE_CHECKING:
    from playwright.sync_api import Browser

#: DESIGN.md §6: every page, first load in a browser on a fresh server < 3 s, second visit < 1.5 s.
FIRST_LOAD_TARGET_S = 3.0
SECOND_LOAD_TARGET_S = 1.5


@dataclass
class PageTiming:
    """One page's loads, each from the request to the end of the app's script run."""

    page: str
    url_path: str
    first_s: float
    second_s: float

    @staticmethod
    def headers() -> list[str]:
        return ["page", "first load (s)", "second load (s)"]

    def as_tuple(self) -> tuple[Any, ...]:
        return (self.page, round(self.first_s, 3), round(self.second_s, 3))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_page_bench(url: str, progress: Callable[[str], None] | None = None) -> list[PageTiming]:
    """Time every page's first and second load on the database at ``url``, in the navigation's order, a fresh server
    per page.

    Raises
    ------
    ValueError
        When the database holds no customers: the app would show its empty state, not the pages.
    browser.ServerError
        When a server does not start.
    """
    say = progress or (lambda message: None)
    engine = db.create_engine(url)
    try:
        if db.is_empty(engine):
            raise ValueError(
                f"{db.redact_url(url)} holds no customers: load data first (python -m crm_core demo --customers N)"
            )
    finally:
        engine.dispose()  # the server opens the database itself; a DuckDB file is not held open meanwhile
    with tempfile.TemporaryDirectory(prefix="crm-bench-pages-") as tmp, browser.chromium() as chromium:
        # The default page first: its server also tells the other pages, from the navigation it draws.
        say("a fresh server per page; the default page: first and second load ...")
        first, second, pages = _loads(chromium, url, Path(tmp) / "server-default.log", "")
        loads = {"": (first, second)}
        for title, url_path in pages:
            if url_path not in loads:
                say(f"{title}: first and second load ...")
                first, second, _ = _loads(chromium, url, Path(tmp) / f"server-{url_path}.log", url_path)
                loads[url_path] = (first, second)
    return [PageTiming(title, url_path, *loads[url_path]) for title, url_path in pages]


def _loads(chromium: Browser, url: str, log: Path, url_path: str) -> tuple[float, float, list[tuple[str, str]]]:
    """A page's first load on a fresh server, then another page, then the page again (its second load); with the
    navigation the app drew."""
    with browser.streamlit_server(url, log) as base_url:
        context = chromium.new_context(viewport=browser.VIEWPORT)  # a browser cache of its own, empty
        try:
            tab = context.new_page()
            first = browser.open_page(tab, base_url, url_path)
            pages = browser.navigation(tab)
            other = next(path for _, path in pages if path != url_path)
            browser.open_page(tab, base_url, other)
            second = browser.open_page(tab, base_url, url_path)
        finally:
            context.close()
    return first, second, pages
