"""Customer value page: the key figures of the customer base under the assumptions."""

from __future__ import annotations

import streamlit as st

import ui
from crm_core import clv
from ui.sections.value_assumptions import Assumptions


def render(totals: clv.ValueOverview, assumptions: Assumptions) -> None:
    """Five cards: predicted value, average, likely still active, high churn risk, purchases in the purchase window."""
    margin, discount, horizon = assumptions.margin, assumptions.discount, assumptions.horizon
    cards = st.columns(5)
    cards[0].metric(
        "Predicted value",
        ui.compact_currency(totals.total_value) if totals.has_value else "—",
        horizon,
        delta_color="off",
        delta_arrow="off",
        help=f"Expected margin ({margin} % of revenue) of the {totals.customers:,} customers over the {horizon}, "
        f"discounted {discount:g} % a month: what the customer base is worth.",
        border=True,
    )
    cards[1].metric(
        "Average per customer",
        ui.currency_cents(totals.average_value) if totals.has_value else "—",
        border=True,
    )
    cards[2].metric(
        "Likely still active",
        ui.number(totals.likely_active),
        f"{totals.likely_active_share:.0%} of buyers",
        delta_color="off",
        delta_arrow="off",
        help=f"Customers whose probability of still being active is {clv.CHURN_RISK_CUTOFFS[1]:.0%} or more.",
        border=True,
    )
    cards[3].metric(
        "High churn risk",
        ui.number(totals.high_risk),
        f"{totals.high_risk_share:.0%} of buyers",
        delta_color="off",
        delta_arrow="off",
        help=clv.describe_churn_risk_bands(),
        border=True,
    )
    cards[4].metric(
        f"Purchases in {clv.PURCHASE_WINDOW_DAYS} days",
        ui.number(totals.expected_purchases),
        "expected",
        delta_color="off",
        delta_arrow="off",
        help="Repeat purchases (purchase days) the model expects from these customers in the next "
        f"{clv.PURCHASE_WINDOW_DAYS} days.",
        border=True,
    )
    if not totals.has_value:
        st.info(
            "Spend could not be modelled (see the note above), so there are no money values: the page shows who is "
            "still active and how often they will buy.",
            icon=":material/info:",
        )
