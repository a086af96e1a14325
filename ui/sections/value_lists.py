"""Customer value page: a list of customers with their value, their chance of still being active and a link to
their profile (the most valuable, those at risk)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

import ui
from crm_core import clv, labels
from ui.tables import table


def list_labels(horizon: str) -> dict[str, labels.Column]:
    """The headers and help of the lists' columns, for values over ``horizon`` ("next 12 months")."""
    churn_bands = clv.describe_churn_risk_bands()
    return {
        "name": labels.Column("Name", width="medium"),
        "purchases": labels.Column("Purchase days", "count", "Days with at least one purchase."),
        "days_since_last": labels.Column("Days since last purchase", "count"),
        "p_alive": labels.Column("Likely still active", "percent", churn_bands + " " + labels.EXPLANATIONS["p_alive"]),
        "churn_risk": labels.Column("Churn risk", help=churn_bands),
        "p_purchase": labels.Column(
            f"Buys in the next {clv.PURCHASE_WINDOW_DAYS} days", "percent", labels.EXPLANATIONS["p_purchase"]
        ),
        "expected_spend": labels.Column("Spend per purchase", "money_cents"),
        "clv": labels.Column(
            "Predicted value", "money", f"Expected margin over the {horizon}, the risk of leaving included."
        ),
        "clv_low": labels.Column(
            "Value, 80 % range from",
            "money",
            "Lower end of the 80 % range of the value: the customer reaches at least this with 90 % probability.",
        ),
        "clv_high": labels.Column(
            "Value, 80 % range to",
            "money",
            "Upper end of the 80 % range: with 90 % probability the customer brings no more than this.",
        ),
        "value_if_active": labels.Column(
            "Value if they stay", "money", f"Expected margin over the {horizon} if still active."
        ),
    }


def render(rows: pd.DataFrame, key: str, horizon: str, masked: bool, first: str = "clv") -> None:
    """A list of customers (rows of customer_values) with who they are, linking to their profiles; ``first`` is
    the value column the list is ranked by, shown right after the name."""
    ids = tuple(int(i) for i in rows["customer_id"])
    details = ui.cached(clv.customer_details, customer_ids=ids, mask=masked)
    listed = clv.customer_list(rows, details)
    listed.insert(0, "customer", ui.profile_links(listed.pop("external_id")))
    key_columns = list(dict.fromkeys(["customer", "name", first, "clv", "value_if_active", "p_alive", "churn_risk"]))
    secondary = ["days_since_last", "purchases", "p_purchase", "expected_spend", "clv_low", "clv_high", "country"]
    table(
        listed,
        key_columns,
        more=[c for c in secondary if c not in key_columns],
        key=key,
        labels_=list_labels(horizon),
        config={"customer": ui.profile_link_column("Customer")},
    )
    st.caption(labels.EXPLANATIONS["one_time_buyers"])
