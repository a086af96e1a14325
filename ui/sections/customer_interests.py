"""Customers page, a profile's Interests tab: the next-best offer, favourite categories and brands."""

from __future__ import annotations

import streamlit as st

import ui
from crm_core import labels, profiles
from ui.tables import table


def render(profile: profiles.CustomerProfile) -> None:
    st.markdown("**Next-best offer**")
    if profile.offers.empty:
        st.caption(
            "No category stands out: customers with similar purchases buy nothing this customer has not, more often "
            "than buyers at large."
        )
    for offer in profile.offers.itertuples():
        st.markdown(f"- **{ui.plain(offer.category)}** — {ui.plain(offer.reason)}")
    share = st.column_config.ProgressColumn("Share of spend", format="percent", min_value=0.0, max_value=1.0)
    favourite_categories, favourite_brands = st.columns(2)
    for column, frame, label, name in (
        (favourite_categories, profile.favourite_categories, "Favourite categories", "category"),
        (favourite_brands, profile.favourite_brands, "Favourite brands", "brand"),
    ):
        column.markdown(f"**{label}**")
        if frame.empty:
            column.caption("No purchases yet.")
        else:
            table(
                frame,
                [name, "revenue", "share", "orders"],
                container=column,
                labels_={"items": labels.Column("Items", "count")},
                config={"share": share},
            )
