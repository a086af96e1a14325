"""Streamlit-only glue between the pages and crm_core: the one place pages get the engine and cached results.

- :func:`get_engine`, :func:`cached`: the engine as a cached resource; any crm_core metric called through the data
  cache, keyed by the database URL, the data version and the arguments.
- :func:`navigation`: the app's pages, for the entrypoint. :func:`page`: the app shell every page starts with (the
  data version for this rerun, first start with demo data, the empty state, the sidebar with the database in use,
  the title); :func:`busy_database_notice`.
- :func:`kpi_rows` and the formatters of :mod:`ui.format`: how numbers look, the same on every page.

crm_core never imports this package; pages import it and crm_core, nothing else of the project.
"""

from ui.data import cached, current_data_version, get_engine, get_setting, is_stored
from ui.format import compact_currency, currency, currency_cents, number, percent
from ui.privacy import (
    PROFILE_PARAM,
    mask_pii,
    mask_pii_text,
    masking_enabled,
    profile_link,
    profile_link_column,
    profile_links,
)
from ui.shell import busy_database_notice, database_ready, navigation, page, sidebar
from ui.text import plain
from ui.widgets import alongside, definitions, kpi_row, kpi_rows, text_card, working

__all__ = [
    "alongside",
    "is_stored",
    "working",
    "busy_database_notice",
    "cached",
    "compact_currency",
    "currency",
    "currency_cents",
    "current_data_version",
    "database_ready",
    "definitions",
    "get_engine",
    "get_setting",
    "kpi_row",
    "kpi_rows",
    "number",
    "page",
    "percent",
    "plain",
    "sidebar",
    "text_card",
    "PROFILE_PARAM",
    "mask_pii",
    "mask_pii_text",
    "masking_enabled",
    "navigation",
    "profile_link",
    "profile_link_column",
    "profile_links",
]
