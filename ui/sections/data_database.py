"""The Data page's database in use: which one, where the setting comes from, the rows of each table."""

from __future__ import annotations

import pandas as pd
import streamlit as st

import ui
from crm_core import db
from ui.tables import table


def render() -> None:
    info = ui.cached(db.describe)
    counts = ui.cached(db.table_counts)
    source = ui.plain(ui.get_setting().source)
    st.markdown(f"**{info.engine}** · {ui.plain(info.url)} · from {source} · data version {info.data_version}")
    table(pd.DataFrame({"table": list(counts), "rows": list(counts.values())}), ["table", "rows"], key="data_tables")
    st.caption(
        "The database is configuration (CRM_DATABASE_URL, .streamlit/secrets.toml, or --db on the command line), "
        "never a field of this page."
    )
