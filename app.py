"""The dashboard: ``streamlit run app.py``.

Page config and navigation. Each page lives in ``pages/``, is listed in ``ui.shell.PAGES`` and starts with
``ui.page(title)``, which draws the shell (database check, first start, sidebar).
"""

import streamlit as st

import ui

st.set_page_config(page_title="CRM analytics", page_icon=ui.shell.APP_ICON, layout="wide")

page = ui.navigation()
with ui.busy_database_notice():
    page.run()
