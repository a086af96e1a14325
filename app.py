"""The dashboard: ``streamlit run app.py``.

The shell only: page config, navigation, the database check and the sidebar. Each page lives in ``pages/``; to add
one, add a line to ``PAGES`` (and its AppTest to ``tests/test_app.py``, which fails until it has one).
"""

import streamlit as st

import ui

st.set_page_config(page_title="CRM analytics", page_icon=":material/insights:", layout="wide")

PAGES = [
    st.Page("pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
]

page = st.navigation(PAGES)
with ui.busy_database_notice():
    if ui.database_ready():
        ui.sidebar()
        page.run()
