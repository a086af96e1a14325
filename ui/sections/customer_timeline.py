"""Customers page, a profile's Timeline tab: orders, interactions and feedback, newest first, by channel and type."""

from __future__ import annotations

import streamlit as st

import ui
from crm_core import profiles
from ui.tables import table


def render(profile: profiles.CustomerProfile, masked: bool) -> None:
    pick_channels, pick_types, pick_page = st.columns([3, 3, 1])
    channels = pick_channels.multiselect(
        "Channels", profile.timeline_channels, key=f"timeline_channels_{profile.customer_id}", placeholder="All"
    )
    types = pick_types.multiselect(
        "Types", profile.timeline_types, key=f"timeline_types_{profile.customer_id}", placeholder="All"
    )
    page_number = pick_page.number_input(
        "Page", min_value=1, value=1, step=1, key=f"timeline_page_{profile.customer_id}"
    )
    if channels or types or page_number > 1:
        timeline = ui.cached(
            profiles.customer_timeline,
            customer_id=profile.customer_id,
            channels=tuple(channels),
            types=tuple(types),
            page=int(page_number) - 1,
            mask=masked,
        )
    else:
        timeline = profile.timeline
    if timeline.total == 0:
        st.info("No orders, interactions or feedback recorded for this customer (with these filters).")
    else:
        st.caption(f"Page {timeline.page + 1} of {timeline.pages} · {ui.number(timeline.total)} events, newest first.")
        table(
            timeline.frame,
            ["occurred_at", "source", "channel", "type", "subject", "outcome", "amount"],
            more=["direction", "score", "campaign"],
            key=f"timeline_table_{profile.customer_id}",
            labels_={"source": "Record", "direction": "In / out"},
        )
