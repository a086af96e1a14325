"""Customers: find a customer and see their whole history on one screen (DESIGN.md §4).

The URL carries the customer id (``customers?customer=C0000042``), so a profile can be shared and every page that
lists customers links here (``ui.profile_link``). Each part is a section of :mod:`ui.sections`.
"""

import streamlit as st

import ui
from ui.sections import (
    customer_campaigns,
    customer_contact,
    customer_feedback,
    customer_interests,
    customer_lists,
    customer_orders,
    customer_profile,
    customer_search,
    customer_timeline,
)

ui.page("Customers")
masked = ui.masking_enabled()

customer_search.render(masked)
selected = st.query_params.get(ui.PROFILE_PARAM)
if not selected:
    customer_lists.render(masked)
    st.stop()

profile = customer_profile.render(selected, masked)
if profile is None:
    st.stop()

timeline_tab, orders_tab, interests_tab, campaigns_tab, feedback_tab, contact_tab = st.tabs(
    ["Timeline", "Orders", "Interests & next offer", "Campaigns", "Feedback", "Contact & consent"]
)
with timeline_tab:
    customer_timeline.render(profile, masked)
with orders_tab:
    customer_orders.render(profile)
with interests_tab:
    customer_interests.render(profile)
with campaigns_tab:
    customer_campaigns.render(profile)
with feedback_tab:
    customer_feedback.render(profile)
with contact_tab:
    customer_contact.render(profile)
