"""Customers page, a profile's Orders tab: the newest orders and their lines."""

from __future__ import annotations

import streamlit as st

import ui
from crm_core import labels, profiles
from ui.tables import table


def render(profile: profiles.CustomerProfile) -> None:
    if profile.orders.empty:
        st.info("No orders yet.")
    else:
        st.caption(
            f"The newest {len(profile.orders)} of {ui.number(profile.orders_total)} orders; the timeline has all."
            if profile.orders_total > len(profile.orders)
            else f"{ui.number(profile.orders_total)} orders, newest first."
        )
        table(
            profile.orders,
            ["external_id", "ordered_at", "amount", "status", "products"],
            more=["channel", "items"],
            key="profile_orders",
            labels_={"external_id": "Order", "items": labels.Column("Items", "count")},
        )
        with st.expander("Order lines"):
            table(
                profile.order_lines,
                ["order_ref", "ordered_at", "product", "quantity", "unit_price", "line_amount"],
                more=["status", "category", "brand"],
                key="profile_order_lines",
                labels_={"ordered_at": labels.Column("Ordered", "date")},
            )
