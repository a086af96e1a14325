"""The dashboard: ``streamlit run app.py``.

Page config and navigation. Each page lives in ``pages/`` and starts with ``ui.page(title)``, which draws the
shell (database check, first start, sidebar). To add a page, add a line to ``PAGES`` and its AppTest to
``PAGE_CHECKS`` in ``tests/test_app.py`` (which fails until it has one).
"""

import streamlit as st

import ui

# An emoji icon is drawn by the browser itself; a Material icon would be fetched from an outside font server, and a
# dashboard holding personal data makes no outside request.
st.set_page_config(page_title="CRM analytics", page_icon="📈", layout="wide")

PAGES = [
    st.Page("pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
    st.Page("pages/customers.py", title="Customers", icon=":material/person_search:"),
    st.Page("pages/campaigns.py", title="Campaigns", icon=":material/campaign:"),
    st.Page("pages/data.py", title="Data", icon=":material/database:"),
    st.Page("pages/segments.py", title="Segments", icon=":material/groups:"),
    st.Page("pages/customer_value.py", title="Customer value", icon=":material/diamond:"),
]

page = st.navigation(PAGES)
with ui.busy_database_notice():
    page.run()
