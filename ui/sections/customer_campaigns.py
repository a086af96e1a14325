"""Customers page, a profile's Campaigns tab: the campaigns they were in and what they did."""

from __future__ import annotations

import streamlit as st

from crm_core import labels, profiles
from ui.tables import table


def render(profile: profiles.CustomerProfile) -> None:
    if profile.campaigns.empty:
        st.info("Not a member of any campaign.")
    else:
        table(
            profile.campaigns,
            ["campaign", "start_date", "is_control", "converted", "revenue"],
            more=["channel", "arm", "sent_at", "delivered", "opened", "clicked"],
            key="profile_campaigns",
            labels_={
                "campaign": labels.Column("Campaign", width="large"),
                "is_control": labels.Column("Control group", "yes_no", "In the control group: not contacted"),
                "revenue": labels.Column("Revenue", "money_cents"),
                "sent_at": labels.Column("Sent", "date"),
            },
        )
        st.caption("A dash: the outcome was not recorded.")
