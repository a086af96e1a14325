"""The dashboard in a real browser: a fresh ``streamlit run app.py`` on a free port, Chromium driven by Playwright,
and the wait until a page's script run has finished. ``bench --pages`` times with it; the real-browser test drives
the app with it.

Playwright is imported only when a browser is launched: importing :mod:`crm_core` never needs it.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crm_core import config

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, ViewportSize

#: The project, where ``app.py`` lives.
PROJECT_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT: ViewportSize = {"width": 1440, "height": 900}
START_TIMEOUT_S = 60
RUN_TIMEOUT_MS = 60_000

#: True once the app's script run has finished and the page has drawn its title (every page starts with one). The
#: frontend marks its root with the run state; a page opened by its URL runs twice (the first run calls the app's
#: navigation and reruns, drawing nothing), so "not running" alone may be the pause between the two runs.
_RUN_FINISHED = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    return app !== null && app.getAttribute('data-test-script-state') === 'notRunning'
        && document.querySelector('[data-testid="stMain"] h1') !== null;
}"""


class ServerError(RuntimeError):
    """``streamlit run`` exited or did not answer in time; the message ends with the end of its log."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def streamlit_server(database_url: str, log: Path) -> Iterator[str]:
    """A fresh ``streamlit run app.py`` against ``database_url`` on a free port, headless, its output in ``log``;
    yields its base URL once it answers, and always stops it.

    Raises
    ------
    ServerError
        When the server exits or does not answer within :data:`START_TIMEOUT_S`.
    """
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {**os.environ, config.ENV_VAR: database_url, "PYTHONUNBUFFERED": "1"}
    with log.open("w") as out:
        process = subprocess.Popen(  # noqa: S603 - this interpreter and the app, a fixed command line
            [
                sys.executable, "-m", "streamlit", "run", "app.py",
                "--server.port", str(port),
                "--server.headless", "true",
                "--server.fileWatcherType", "none",
                "--browser.gatherUsageStats", "false",
            ],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            try:
                _wait_for_health(process, base_url)
            except ServerError as exc:
                raise ServerError(f"{exc}\n{log.read_text()[-3000:]}") from None
            yield base_url
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_for_health(process: subprocess.Popen, base_url: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerError(f"streamlit exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{base_url}/_stcore/health", timeout=2) as response:  # noqa: S310 - our server
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.25)
    raise ServerError(f"streamlit did not answer {base_url}/_stcore/health within {START_TIMEOUT_S} s")


@contextlib.contextmanager
def chromium(executable: Path = CHROMIUM) -> Iterator[Browser]:
    """Chromium, headless, launched by Playwright with :data:`CHROMIUM_ARGS`; always closed."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(executable), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def wait_for_run(tab: Page, timeout_ms: int = RUN_TIMEOUT_MS) -> None:
    """Wait until the app's script run has finished and the page has drawn its title."""
    tab.wait_for_function(_RUN_FINISHED, timeout=timeout_ms)


def open_page(tab: Page, base_url: str, url_path: str, timeout_ms: int = RUN_TIMEOUT_MS) -> float:
    """Open the page at ``url_path`` (``""`` for the default page) and wait for its script run; returns the seconds
    from the request to the finished run."""
    started = time.perf_counter()
    tab.goto(f"{base_url}/{url_path}", wait_until="domcontentloaded")
    wait_for_run(tab, timeout_ms)
    return time.perf_counter() - started


def navigation(tab: Page) -> list[tuple[str, str]]:
    """The app's navigation as the sidebar shows it: (title, URL path) per page, in order."""
    links: list[dict[str, Any]] = tab.evaluate(
        """() => [...document.querySelectorAll('[data-testid="stSidebarNav"] a[data-testid="stSidebarNavLink"]')]
            .map(link => ({text: link.innerText, path: new URL(link.href).pathname}))"""
    )
    # The link's text starts with its icon's name (a ligature drawn as the icon); the title is its last line.
    return [(link["text"].split("\n")[-1].strip(), link["path"].strip("/")) for link in links]
