"""The Campaigns page's comparison: campaigns side by side, each one's treatment arms pooled against its control."""

from __future__ import annotations

import pandas as pd
import streamlit as st

import ui
from crm_core import campaigns, charts, labels
from ui.tables import table

KEY_COLUMNS = ["name", "headline", "conversion_uplift", "revenue_uplift", "incremental_revenue", "roi"]
MORE_COLUMNS = [
    "channel",
    "start_date",
    "treatment",
    "control",
    "conversion_rate",
    "control_conversion_rate",
    "conversion_p_value",
    "revenue_p_value",
    "cost",
]


def render(listing: pd.DataFrame) -> None:
    """``listing``: every campaign (``campaigns.campaign_list``), newest first."""
    names = listing["name"].tolist()
    chosen = st.multiselect("Campaigns to compare", names, default=names[: min(3, len(names))], key="compare_campaigns")
    ids = tuple(int(listing.loc[listing["name"] == n, "campaign_id"].iloc[0]) for n in chosen)
    compared = ui.cached(campaigns.compare_campaigns, campaign_ids=ids)
    if compared.empty:
        st.caption("Pick campaigns to compare.")
        return
    conversion, revenue = st.columns(2)
    conversion.plotly_chart(
        charts.uplift_by_group(
            compared,
            "name",
            title="Conversion uplift against each control",
            estimate="conversion_uplift",
            low="conversion_ci_low",
            high="conversion_ci_high",
            p_value="conversion_p_value",
        ),
        key="compare_conversion",
    )
    revenue.plotly_chart(
        charts.uplift_by_group(
            compared,
            "name",
            title="Revenue per member uplift against each control",
            estimate="revenue_uplift",
            low="revenue_ci_low",
            high="revenue_ci_high",
            p_value="revenue_p_value",
            money=True,
        ),
        key="compare_revenue",
    )
    table(
        compared,
        KEY_COLUMNS,
        more=MORE_COLUMNS,
        key="compare_table",
        labels_={
            "name": labels.Column("Campaign", width="medium"),
            "headline": labels.Column("Verdict", width="medium"),
        },
    )
    st.caption("Each campaign's treatment arms pooled against its control.")
