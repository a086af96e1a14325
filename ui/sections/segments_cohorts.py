"""The Segments page's cohort retention: customers or revenue kept by month or week of the first purchase, for an
RFM segment, an acquisition channel or a campaign exposure."""

from __future__ import annotations

import datetime as dt

import streamlit as st

import ui
from crm_core import charts, cohorts, labels, rfm, segments

ALL = "All"
VALUES = {"retention": "customers", "revenue_retention": "revenue"}


def render(as_of: dt.date, cuts: rfm.RfmCuts) -> None:
    controls = st.columns(5)
    period = controls[0].segmented_control("Cohorts by", list(cohorts.PERIODS), default="month", key="cohort_period")
    value = controls[1].segmented_control(
        "Retention of", list(VALUES), default="retention", format_func=lambda v: VALUES[v], key="cohort_value"
    )
    segment = controls[2].selectbox("RFM segment", [ALL, *rfm.segment_names()], key="cohort_segment")
    channels = ui.cached(segments.field_values, field_name="acquisition_channel")
    channel = controls[3].selectbox(
        "Acquisition channel", [ALL, *channels], key="cohort_channel", format_func=labels.value_label
    )
    exposure = controls[4].selectbox(
        "Campaign exposure",
        [ALL, *cohorts.EXPOSURES],
        format_func=lambda e: cohorts.EXPOSURES.get(e, "all customers"),
        key="cohort_exposure",
    )
    period = period or "month"
    first = cohorts.default_first_cohort(period, as_of)
    frame = ui.cached(
        cohorts.cohort_retention,
        period=period,
        as_of=as_of,
        segment=None if segment == ALL else segment,
        acquisition_channel=None if channel == ALL else channel,
        exposure=None if exposure == ALL else exposure,
        first_cohort=first,
        cuts=cuts,
    )
    label = "revenue retention" if value == "revenue_retention" else "customer retention"
    st.plotly_chart(
        charts.cohort_heatmap(frame, value or "retention", title=f"{label.capitalize()} by {period} of first purchase"),
        key="cohort_heatmap",
    )
    st.caption(
        f"Cohorts of the last {cohorts.DEFAULT_WINDOWS[period][1]}. Period 0 is the {period} of the "
        "first purchase (every member bought); revenue retention compares each period's revenue with period 0's."
    )
