"""The Campaigns page's members of one campaign, per arm, linked to their profiles."""

from __future__ import annotations

import streamlit as st

import ui
from crm_core import campaigns, labels
from ui import privacy
from ui.tables import table


def render(name: str, results: campaigns.CampaignResults) -> None:
    st.subheader("Members")
    member_arm = st.selectbox(
        "Arm",
        [None, *results.arms["arm"].tolist()],
        format_func=lambda a: "All arms" if a is None else a,
        key="campaign_member_arm",
    )
    member_list = ui.cached(campaigns.member_list, campaign=name, arm=member_arm)
    links = privacy.profile_links(member_list.frame["external_id"])
    frame = privacy.mask_pii(member_list.frame.assign(profile=links))
    shown = ["profile", "first_name", "last_name", "arm", "converted", "revenue"]
    relabelled = {"revenue": labels.Column("Revenue", "money_cents")}
    table(
        frame,
        shown,
        more=["is_control", "sent_at", *(o for o in campaigns.OUTCOMES if o != "converted")],
        key="campaign_members",
        labels_=relabelled,
        config={"profile": privacy.profile_link_column()},
    )
    st.caption(f"{member_list.label.capitalize()}. A dash: the outcome was not recorded.")
