"""The engine and the data cache: how pages reach crm_core.

The engine is a cached resource keyed by the resolved database URL. Results are cached per crm_core function,
database URL, data version and arguments (``st.cache_data``): an import from the command line bumps the data
version, so the next rerun asks the database again instead of showing stale numbers, without a restart. The data
version is read once per rerun, by the app shell (:func:`refresh_data_version`), not once per query.

A call whose result the scoring step stored for the current data (:mod:`crm_core.stored_results`: the fit, the
backtest, the profile reference, the data-quality report... with the page's default arguments) reads it instead of
computing it; any other call, or one with other arguments, computes as before.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, TypeVar

import streamlit as st
from sqlalchemy.engine import Engine

from crm_core import db, stored_results
from crm_core.config import DatabaseSetting, resolve_database_url

T = TypeVar("T")

#: How long a cached result lives even when the data version has not changed (writes that bypass crm_core).
CACHE_TTL_S = 600
_VERSION_KEY = "_crm_data_version"


def get_setting() -> DatabaseSetting:
    """The database URL in use and where it came from (environment, secrets or the default)."""
    return resolve_database_url()


def _dispose(engine: Engine) -> None:
    engine.dispose()


# Disposed when the cache is cleared, so that a server engine's pooled connections close with it.
@st.cache_resource(show_spinner=False, on_release=_dispose)
def _engine_for(url: str) -> Engine:
    return db.create_engine(url)


def get_engine() -> Engine:
    """The process-wide engine for the configured database."""
    return _engine_for(get_setting().url)


def refresh_data_version() -> int:
    """Read the data version for this rerun; the app shell calls it once at the top of every run."""
    url = get_setting().url
    version = db.data_version(_engine_for(url))
    st.session_state[_VERSION_KEY] = (url, version)
    return version


def current_data_version() -> int:
    """The data version read at the start of this rerun (read now if the shell has not yet)."""
    stored = st.session_state.get(_VERSION_KEY)
    if stored is None or stored[0] != get_setting().url:
        return refresh_data_version()
    return stored[1]


def cached(function: Callable[..., T], /, **kwargs: Any) -> T:
    """Call a crm_core function ``function(engine, **kwargs)`` through the data cache.

    The cache key is the function's module and name, the database URL, the data version and the keyword
    arguments (which must be hashable: dates, numbers, strings, tuples). The result is a copy that the caller may
    use freely; still, treat it as read-only.

    Examples
    --------
    >>> kpis = ui.cached(overview.overview_kpis, start=start, end=end)
    """
    module, name = function.__module__, function.__name__
    if not module.startswith("crm_core.") or getattr(importlib.import_module(module), name, None) is not function:
        raise ValueError(f"ui.cached takes a module-level crm_core function, not {module}.{name}")
    return _call(module, name, get_setting().url, current_data_version(), tuple(sorted(kwargs.items())))


def is_stored(function: Callable[..., Any], /, **kwargs: Any) -> bool:
    """Whether ``ui.cached(function, **kwargs)`` reads a result the scoring step stored for the current data (so
    that a page can skip a placeholder for what is read at once)."""
    return _is_stored_for(get_setting().url, current_data_version(), stored_results.result_name(function), kwargs)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=1000)
def _call(module: str, name: str, url: str, data_version: int, kwargs: tuple[tuple[str, Any], ...]) -> Any:
    function = getattr(importlib.import_module(module), name)
    engine = _engine_for(url)
    arguments = dict(kwargs)
    full_name = f"{module}.{name}"
    if _is_stored_for(url, data_version, full_name, arguments):
        found = stored_results.read(engine, full_name, arguments)
        if found is not None:  # None: the data changed since the list of stored results was read
            return found.value
    return function(engine, **arguments)


def _is_stored_for(url: str, data_version: int, name: str, arguments: dict[str, Any]) -> bool:
    """Whether the scoring step stored the result of ``name`` for this data with exactly these arguments."""
    stored = _stored_arguments(url, data_version).get(name)
    return stored is not None and stored == stored_results.arguments_text(arguments)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def _stored_arguments(url: str, data_version: int) -> dict[str, str]:
    """The results stored for the current data and their arguments: one small query per data version."""
    return stored_results.stored_arguments(_engine_for(url))
