"""The Segments page's RFM scoring: by quintile, or by cut points the user types (DESIGN.md §7, transparent RFM)."""

from __future__ import annotations

import datetime as dt

import streamlit as st

import ui
from crm_core import rfm

#: The cut points offered first: (name, label, default text), from the usual cut points of crm_core.rfm.
DEFAULT_CUTS = tuple(
    (name, label, rfm.cut_points_text(getattr(rfm.DEFAULT_CUT_POINTS, name)))
    for name, label in (
        ("recency", "Recency (days)"),
        ("frequency", "Frequency (purchases)"),
        ("monetary", "Monetary (revenue)"),
    )
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
