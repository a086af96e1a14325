"""Customers page without a profile open: the recently viewed customers and the most valuable ones."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

import ui
from crm_core import profiles
from ui.sections.customer_search import RECENT_KEY, customer_buttons

#: The orders of the most valuable customers, as the choice names them.
ORDER_LABELS = {"clv": "Predicted value", "clv_low80": "Lower 80 % bound"}


def value_with_range(row: Any) -> str:
    """The predicted value with its 80 % range: "€120 (80 %: €40–€260)"; the value alone without a range."""
    if pd.isna(row.value_low) or pd.isna(row.value_high):
        return ui.currency(row.value)
    return f"{ui.currency(row.value)} (80 %: {ui.currency(row.value_low)}–{ui.currency(row.value_high)})"


def render(masked: bool) -> None:
    """Two lists side by side, each a button per customer that opens the profile."""
    recent_column, valuable_column = st.columns(2)
    with recent_column:
        st.subheader("Recently viewed")
        recent = st.session_state.get(RECENT_KEY, [])
        if recent:
            customer_buttons(
                ui.cached(profiles.customers_by_external_ids, external_ids=tuple(recent), mask=masked), "recent"
            )
        else:
            st.caption("Profiles you open appear here.")
    with valuable_column:
        st.subheader("Most valuable")
        valuable_order = st.segmented_control(
            "Rank by",
            list(profiles.VALUABLE_ORDERS),
            default="clv",
            format_func=lambda order: ORDER_LABELS[order],
            key="valuable_order",
            help="The lower 80 % bound puts customers whose value is sure before those whose value is hoped for.",
        )
        valuable = ui.cached(profiles.most_valuable, limit=10, mask=masked, sort_by=valuable_order or "clv")
        st.caption(f"By {valuable.basis}.")
        customer_buttons(valuable.frame, "valuable", value_with_range)
