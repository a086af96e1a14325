"""Overview: the business at a glance for a period (DESIGN.md §4)."""

import datetime as dt

import streamlit as st

import ui
from crm_core import charts, labels, overview, rfm
from ui.tables import table

ui.page("Overview")

bounds = ui.cached(overview.date_bounds)
if bounds.is_empty:
    st.info("There are customers but no purchases yet. Import orders with `python -m crm_core import orders FILE`.")
    st.stop()

period = st.date_input(
    "Period",
    value=overview.default_range(bounds),
    min_value=bounds.first,
    max_value=bounds.last,
    format="YYYY-MM-DD",
    key="overview_period",
    help="Inclusive on both days. Defaults to the last 12 months up to the last purchase.",
)
if len(period) != 2:
    st.caption("Pick the period's last day.")
    st.stop()
start, end = period
kpis = ui.cached(overview.overview_kpis, start=start, end=end)
st.caption(f"Changes compare with the period of equal length before: {kpis.previous.start} – {kpis.previous.end}.")
ui.kpi_rows(
    kpis,
    [
        [
            ("Customers", "customers", ui.number),
            ("New customers", "new_customers", ui.number),
            ("Active customers", "active_customers", ui.number),
            ("Repeat-purchase rate", "repeat_purchase_rate", ui.percent),
        ],
        [
            ("Revenue", "revenue", ui.compact_currency),
            ("Orders", "orders", ui.number),
            ("Avg order value", "average_order_value", ui.currency_cents),
            ("Revenue per customer", "revenue_per_customer", ui.currency_cents),
        ],
    ],
)

monthly = ui.cached(overview.revenue_by_month, start=start, end=end)
split = ui.cached(overview.new_vs_returning, start=start, end=end)
trend, customers = st.columns(2)
trend.plotly_chart(charts.revenue_trend(monthly, title="Revenue by month"), key="revenue_by_month")
customers.plotly_chart(charts.new_vs_returning(split, title="New vs returning customers"), key="new_vs_returning")

channels = ui.cached(overview.orders_by_channel, start=start, end=end)
# RFM as of the day after the period: every purchase up to and including its last day counts.
mix = ui.cached(rfm.segment_summary, as_of=end + dt.timedelta(days=1))
by_channel, by_segment = st.columns(2)
by_channel.plotly_chart(charts.orders_by_channel(channels, title="Orders by channel"), key="orders_by_channel")
by_segment.markdown(f"**Segment mix on {end}**")
by_segment.plotly_chart(charts.segment_value(mix), key="segment_mix")
by_segment.caption("Named RFM segments of every buyer up to the period's end; the Segments page explains them.")

campaigns = ui.cached(overview.recent_campaigns, end=end)
with st.container():
    st.markdown("**Latest campaigns**")
    if campaigns.empty:
        st.caption("No campaign started on or before the period's end.")
    else:
        table(
            campaigns,
            ["campaign", "start_date", "members", "treatment_conversion", "control_conversion"],
            labels_={
                "campaign": labels.Column("Campaign", width="large"),
                "treatment_conversion": labels.Column("Conversion", "percent", "Of the contacted members"),
                "control_conversion": labels.Column("Control conversion", "percent", "Of the control group"),
            },
        )
        st.caption(
            "Conversion of contacted members and of the control group, where outcomes are recorded. "
            "The Campaigns page measures the effect."
        )

with st.expander("How these numbers are defined"):
    ui.definitions(overview.DEFINITIONS)
