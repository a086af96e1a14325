"""The Segments page's RFM map: customers and revenue by R and F score, and the named segments."""

from __future__ import annotations

import datetime as dt

import streamlit as st

import ui
from crm_core import charts, labels, rfm, segments
from ui.tables import table

#: Segments of frequent buyers gone silent, whose low predicted value the page explains (labels.EXPLANATIONS).
LAPSED_SEGMENTS = ("Cannot lose them", "At risk")
LOW_VALUE = 5.0


def render(as_of: dt.date, cuts: rfm.RfmCuts) -> None:
    grid = ui.cached(rfm.rfm_grid, as_of=as_of, cuts=cuts)
    named = ui.cached(segments.named_segments, as_of=as_of, cuts=cuts)
    left, right = st.columns([3, 2])
    left.plotly_chart(charts.rfm_map(grid, title="Customers and revenue by R and F score"), key="rfm_map")
    right.plotly_chart(charts.segment_value(named, title="Share of customers and of revenue"), key="segment_value")
    shown = ["segment", "customers", "share", "revenue_share", "avg_clv", "action"]
    relabelled = {"share": labels.Column("Share of customers", "percent")}
    table(named, shown, labels_=relabelled)
    lapsed = named[named["segment"].isin(LAPSED_SEGMENTS) & (named["avg_clv"] < LOW_VALUE)]
    if len(lapsed):
        st.caption(labels.EXPLANATIONS["lapsed_frequent_buyers"])
    with st.expander("What the scores cover"):
        table(
            ui.cached(rfm.score_ranges, as_of=as_of, cuts=cuts),
            ["dimension", "score", "customers", "min_value", "max_value"],
            labels_={"score": labels.Column("Score", "count")},
        )
