"""The Segments page's value concentration: the revenue share of the top customers, the Lorenz curve, the Gini."""

from __future__ import annotations

import datetime as dt

import streamlit as st

import ui
from crm_core import charts, concentration, formats, rfm
from ui.sections.segments_builder import CURRENT_RULE, current_rule

ALL_BUYERS = "All buyers"


def render(as_of: dt.date, cuts: rfm.RfmCuts) -> None:
    scope = st.segmented_control("Customers", [ALL_BUYERS, CURRENT_RULE], default=ALL_BUYERS, key="concentration_scope")
    rule = current_rule() if scope == CURRENT_RULE else None
    if scope == CURRENT_RULE and rule is None:
        st.caption("Build a rule in the rule builder first.")
        return
    result = ui.cached(concentration.value_concentration, as_of=as_of, rule=rule, cuts=cuts)
    figures = st.columns(len(result.top) + 1)
    tops = zip(result.top["top_percent"], result.top["customers"], result.top["share"], strict=True)
    for column, (percent, count, share) in zip(figures, tops, strict=False):
        column.metric(
            f"Top {percent:g}%",
            ui.percent(share),
            f"{formats.count(count)} customers",
            delta_color="off",
            delta_arrow="off",
            border=True,
        )
    figures[-1].metric(
        "Gini",
        formats.MISSING if result.gini is None else f"{result.gini:.2f}",
        border=True,
        help="0 when every buyer brings the same revenue, towards 1 when one brings everything.",
    )
    st.plotly_chart(charts.lorenz_curve(result.lorenz, result.top, title="Lorenz curve of revenue"), key="lorenz")
    st.caption(
        f"Over {formats.count(result.buyers)} buyers with {ui.compact_currency(result.revenue)} revenue before {as_of}."
    )
