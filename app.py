"""The dashboard: ``streamlit run app.py``.

Page config and navigation. Each page lives in ``pages/``, is listed in ``ui.shell.PAGES`` and starts with
``ui.page(title)``, which draws the shell (database check, first start, sidebar).
"""

import streamlit as st

import ui

# An emoji icon is drawn by the browser itself; a Material icon would be fetched from an outside font server, and a
# dashboard holding personal data makes no outside request.
st.set_page_config(page_title="CRM analytics", page_icon="📈", layout="wide")

page = ui.navigation()
with ui.busy_database_notice():
    page.run()
