"""Customer value page, Who is valuable: how the predicted value is spread, and the most valuable customers."""

from __future__ import annotations

import streamlit as st

import ui
from crm_core import charts, clv
from ui.sections import value_lists

#: Rows of the list of the most valuable customers.
TOP_MAX = clv.TOP_CUSTOMERS


def render(highlights: clv.ValueHighlights, horizon: str, masked: bool) -> None:
    """The distribution of the predicted value over ``horizon`` and the most valuable customers."""
    totals = highlights.overview
    if not totals.has_value:
        st.caption("Without a spend model there are no values to rank customers by.")
        return
    log_scale = st.toggle(
        "Log scale", value=True, key="cv_log", help="Spread out the many small values; off: equal steps in €."
    )
    bins = highlights.log_distribution if log_scale else highlights.distribution
    st.plotly_chart(
        charts.clv_distribution(bins, log_scale=log_scale, title=f"Customers by predicted value, {horizon}"),
        key="cv_distribution",
    )
    st.markdown(
        f"The top 10 % of customers hold **{ui.percent(totals.top_decile_share)}** of the predicted value. "
        f"Below, the {TOP_MAX} most valuable; a name opens the profile."
    )
    top_order = st.segmented_control(
        "Rank by",
        list(clv.LIST_ORDERS),
        default="clv",
        format_func=lambda order: clv.LIST_ORDERS[order],
        key="cv_top_order",
        help="The lower 80 % bound puts customers whose value is sure before those whose value is hoped for.",
    )
    value_lists.render(
        highlights.top[top_order or "clv"],
        "cv_top",
        horizon,
        masked,
        first=top_order or "clv",
    )
    st.caption(
        "A predicted value is an average over customers with the same history, not a promise for one person. "
        "The 80 % range says how far one customer may stray: 8 in 10 such customers land inside it, 1 in 10 "
        "below and 1 in 10 above. Totals over hundreds of customers are far surer (see *How sure the model "
        "is*)."
    )
