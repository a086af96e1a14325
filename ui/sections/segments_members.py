"""The Segments page's member list of the rule being edited: the highest-revenue members, linked to profiles."""

from __future__ import annotations

import datetime as dt

import streamlit as st

import ui
from crm_core import formats, rfm, segments
from ui.tables import table

KEY_COLUMNS = ["customer_id", "first_name", "last_name", "revenue", "last_order", "clv", "churn_risk"]


def render(rule_text: str, as_of: dt.date, cuts: rfm.RfmCuts, bounds: rfm.RfmBounds | None) -> None:
    st.subheader("Members")
    members = ui.cached(segments.segment_members, rule=rule_text, as_of=as_of, cuts=cuts, bounds=bounds)
    shown = ui.mask_pii(members.frame).assign(customer_id=ui.profile_links(members.frame["customer_id"]))
    more = [c for c in shown.columns if c not in KEY_COLUMNS]
    table(
        shown,
        KEY_COLUMNS,
        more=more,
        key="segments_members",
        config={"customer_id": ui.profile_link_column("Customer")},
    )
    if members.capped:
        st.caption(
            f"The {formats.count(len(members.frame))} highest-revenue of {formats.count(members.total)} members; "
            "the export has them all."
        )
