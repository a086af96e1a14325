"""The Campaigns page's list of every campaign, filtered by channel and start; a row picked opens its results."""

from __future__ import annotations

import pandas as pd
import streamlit as st

import ui
from crm_core import campaigns, formats, labels
from ui.tables import table

KEY_COLUMNS = ["name", "start_date", "members", "conversion_rate", "revenue", "incremental_revenue", "roi"]
MORE_COLUMNS = [
    "channel",
    "end_date",
    "treatment",
    "control",
    "open_rate",
    "click_rate",
    "control_conversion_rate",
    "cost",
]


def _open_selected() -> None:
    """A row picked in the list opens that campaign in the Results tab (widget state may change in a callback)."""
    rows = st.session_state["campaign_table"]["selection"]["rows"]
    if rows:
        st.session_state["campaign"] = st.session_state["campaign_table_names"][rows[0]]
        st.session_state["view"] = "Results"


def render(listing: pd.DataFrame) -> None:
    """``listing``: every campaign (``campaigns.campaign_list``)."""
    channels = sorted(listing["channel"].dropna().unique())
    starts = listing["start_date"].dropna()
    left, right = st.columns(2)
    channel = left.selectbox(
        "Channel",
        [None, *channels],
        format_func=lambda c: "All channels" if c is None else labels.value_label(c),
        key="list_channel",
    )
    period = (
        right.date_input(
            "Started between",
            value=(starts.min(), starts.max()),
            min_value=starts.min(),
            max_value=starts.max(),
            format="YYYY-MM-DD",
            key="list_period",
        )
        if len(starts)
        else ()
    )
    start, end = (period[0], period[1]) if len(period) == 2 else (None, None)
    filtered = ui.cached(campaigns.campaign_list, channel=channel, start=start, end=end)
    st.session_state["campaign_table_names"] = filtered["name"].tolist()
    table(
        filtered,
        KEY_COLUMNS,
        more=MORE_COLUMNS,
        key="campaign_table",
        labels_={"name": labels.Column("Campaign", width="large")},
        on_select=_open_selected,
        selection_mode="single-row",
    )
    st.caption(
        f"{formats.count(len(filtered))} of {formats.count(len(listing))} campaigns. Pick a row to open its "
        "results. Rates are over treated members with the outcome recorded; incremental revenue pools the treatment "
        "arms against the control."
    )
