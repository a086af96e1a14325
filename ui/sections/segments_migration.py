"""The Segments page's migration: how customers moved between RFM segments from one date to another."""

from __future__ import annotations

import datetime as dt

import streamlit as st

import ui
from crm_core import charts, rfm
from ui.tables import table


def render(as_of: dt.date, cuts: rfm.RfmCuts) -> None:
    dates = st.date_input(
        "From date A to date B",
        value=(as_of - dt.timedelta(days=365), as_of),
        max_value=as_of,
        format="YYYY-MM-DD",
        key="segments_migration_dates",
        help="Segments are scored on each date on their own; customers who first bought after A start from "
        "'No purchase yet'.",
    )
    if len(dates) != 2 or dates[0] >= dates[1]:
        st.caption("Pick two different dates, A before B.")
        return
    date_a, date_b = dates[0], dates[1]
    flows = ui.cached(rfm.segment_migration, date_a=date_a, date_b=date_b, cuts=cuts)
    st.plotly_chart(charts.segment_migration(flows, title=f"RFM segments on {date_a} → {date_b}"), key="sankey")
    table(
        flows,
        ["segment_a", "segment_b", "customers"],
        labels_={"segment_a": f"Segment on {date_a}", "segment_b": f"Segment on {date_b}"},
    )
