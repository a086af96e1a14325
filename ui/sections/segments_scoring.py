"""The Segments page's RFM scoring: by quintile, or by cut points the user types (DESIGN.md §7, transparent RFM)."""

from __future__ import annotations

import datetime as dt

import streamlit as st

import ui
from crm_core import rfm

#: The cut points offered first: (name, label, default text).
DEFAULT_CUTS = (
    ("recency", "Recency (days)", "30,90,180,365"),
    ("frequency", "Frequency (purchases)", "2,3,5,10"),
    ("monetary", "Monetary (revenue)", "100,250,500,1000"),
)


def render(as_of: dt.date) -> rfm.RfmCuts:
    """Draw the scoring choice and the as-of line; return the cuts every section scores by."""
    with st.expander("RFM scoring", icon=":material/tune:"):
        st.caption(
            "Scores 1-5 (5 = best) by quintile, or by your cut points: recency in days (a cut point belongs to the "
            "better score: 30 = within 30 days), frequency in purchases and monetary in revenue (from this many on)."
        )
        method = st.radio("Cut scores by", ["Quintiles", "Cut points"], horizontal=True, key="segments_cut_method")
        cuts = rfm.RfmCuts()
        if method == "Cut points":
            texts = [
                st.text_input(f"{label} cut points", value=default, key=f"segments_cuts_{name}")
                for name, label, default in DEFAULT_CUTS
            ]
            try:
                cuts = rfm.RfmCuts(*(rfm.parse_cut_points(text) for text in texts))
            except ValueError as exc:
                st.error(f"{ui.plain(exc)} - scoring by quintile meanwhile.")
    st.caption(f"As of {as_of} (the day after the last order); scored by {cuts.method}.")
    return cuts
