"""Campaigns: did it work, for whom, by how much, and did it pay (DESIGN.md §4, §5).

One campaign's results, the list of every campaign, campaigns side by side and the plan of the next one; each tab is
a module of :mod:`ui.sections`.
"""

import streamlit as st

import ui
from crm_core import campaigns
from ui.sections import campaign_compare, campaign_list, campaign_plan, campaign_results

ui.page("Campaigns")

listing = ui.cached(campaigns.campaign_list)
if listing.empty:
    st.info(
        "There are no campaigns yet. Import a campaign's results with "
        "`python -m crm_core import campaign-results FILE --campaign NAME --arm-col COL --control VALUE`."
    )
    st.stop()

name = st.selectbox(
    "Campaign",
    listing["name"].tolist(),
    key="campaign",
    bind="query-params",
    help="Newest first. Pick a row in the *All campaigns* tab to open it here too.",
)
selected = listing[listing["name"] == name].iloc[0]

results_tab, list_tab, compare_tab, plan_tab = st.tabs(
    ["Results", "All campaigns", "Compare", "Plan the next one"], key="view", bind="query-params"
)
if results_tab.open:
    with results_tab:
        campaign_results.render(name, selected)
if list_tab.open:
    with list_tab:
        campaign_list.render(listing)
if compare_tab.open:
    with compare_tab:
        campaign_compare.render(listing)
if plan_tab.open:
    with plan_tab:
        campaign_plan.render(name, selected)
