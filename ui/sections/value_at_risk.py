"""Customer value page, Who is slipping away: valuable customers who may be leaving, what keeping some of them is
worth, who they are, and their export for a retention campaign."""

from __future__ import annotations

from typing import Any

import streamlit as st

import ui
from crm_core import clv, schema
from ui import export_panel
from ui.sections import value_lists

#: Rows the at-risk list shows; the export has them all.
LIST_MAX = 200
#: The orders of the list of customers at risk, as the choice names them.
RISK_ORDERS = {"value_if_active": "Value if they stay", **clv.LIST_ORDERS}


def render(model: clv.ValueModel, rates: dict[str, Any], totals: clv.ValueOverview, horizon: str, masked: bool) -> None:
    """The choice of who counts as valuable and at risk, the retention economics, the list and the export.

    It needs every buyer's predictions under the assumptions ``rates`` (``months``, ``margin``,
    ``monthly_discount_rate``): seconds for a large customer base, computed when this tab is opened."""
    if not totals.has_value:
        st.caption("Without a spend model there are no values to tell valuable customers by.")
        return
    with st.spinner("Working out which valuable customers may be leaving…", show_time=True):
        values = ui.cached(clv.customer_values, model=model, **rates)
    st.markdown(
        "Valuable customers who may be leaving: worth a lot **if they stay**, but with a falling probability of "
        "still being active. Below the lower end of the range they are most likely gone already — a win-back "
        "case rather than a retention one."
    )
    left, right = st.columns(2)
    top_share = left.slider(
        "Valuable: the top share of customers by value if they stay",
        min_value=5,
        max_value=100,
        value=clv.DEFAULT_VALUABLE_SHARE,
        step=5,
        format="%d %%",
        key="cv_top_share",
        help="100 % takes every customer in the range of the probability of still being active.",
    )
    min_value = clv.value_threshold(values, top_share / 100)
    lowest, highest = clv.DEFAULT_AT_RISK_P_ALIVE
    low, high = right.slider(
        "Probability of still being active",
        min_value=0,
        max_value=100,
        value=(round(lowest * 100), round(highest * 100)),
        step=5,
        format="%d %%",
        key="cv_p_alive",
        help=clv.describe_churn_risk_bands(),
    )
    at_risk = clv.customers_at_risk(values, min_value, (low / 100, high / 100))
    st.caption(
        f"Customers worth at least {ui.currency(min_value)} over the {horizon} if they stay, with a "
        f"{low} – {high} % probability of still being active."
    )
    # Filled once the economics below are known.
    count, stake, predicted = st.columns(3)

    st.subheader("Retention economics")
    keep, cost = st.columns(2)
    keep_share = keep.slider("Keep this many more of them", 1, 50, 10, format="%d %%", key="cv_keep_share")
    average_cost = ui.cached(clv.average_acquisition_cost)
    acquisition_cost = cost.number_input(
        "Cost of winning a new customer (€)",
        min_value=0.0,
        value=round(average_cost, 2) if average_cost else 40.0,
        step=5.0,
        key="cv_acquisition_cost",
        help="Default: the average acquisition cost recorded for your customers"
        + ("." if average_cost else " — none is recorded, so €40 as an example."),
    )
    economics = clv.retention_economics(at_risk, keep_share / 100, acquisition_cost or None)
    count.metric("Customers at risk", ui.number(economics.customers), border=True)
    stake.metric(
        "Worth if they stay",
        ui.compact_currency(economics.value_at_stake),
        help=f"Their expected margin over the {horizon} if all of them stay active.",
        border=True,
    )
    predicted.metric(
        "Predicted value",
        ui.compact_currency(economics.predicted_value),
        help="The same, weighted by each customer's probability of still being active.",
        border=True,
    )
    st.success(economics.sentence(), icon=":material/savings:")
    st.caption(
        economics.budget_sentence()
        + " Each customer kept counts with their value if they stay; the model cannot say how many more a "
        "campaign keeps — a control group in the campaign can."
    )

    if len(at_risk):
        st.subheader("Who they are")
        risk_order = st.segmented_control(
            "Rank by",
            ["value_if_active", "clv_low"],
            default="value_if_active",
            format_func=lambda order: RISK_ORDERS[order],
            key="cv_risk_order",
        )
        at_risk = clv.customers_at_risk(
            values, min_value, (low / 100, high / 100), sort_by=risk_order or "value_if_active"
        )
        value_lists.render(at_risk.head(LIST_MAX), "cv_at_risk", horizon, masked, first=risk_order or "value_if_active")
        if len(at_risk) > LIST_MAX:
            st.caption(f"The {LIST_MAX} most valuable of {len(at_risk):,}; the export has them all.")
        ids = tuple(int(i) for i in at_risk["customer_id"])
        export_panel.render(
            lambda channel: ui.cached(clv.at_risk_export, customer_ids=ids, channel=channel, mask=masked),
            channels=schema.CONSENT_CHANNELS,
            file_name=lambda channel: f"customers-at-risk-{channel}-{model.as_of}.csv",
            key="cv",
            title="Export for a retention campaign",
            of_whom="customers",
        )
