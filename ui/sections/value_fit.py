"""Customer value page, its head: the models fitted once per data version, what they rest on, whether to trust
them, and the backtest's verdict in one sentence. Stops the page when there is no usable model."""

from __future__ import annotations

import streamlit as st

import ui
from crm_core import clv


def render() -> tuple[clv.ValueModel, clv.ModelReport | None]:
    """The fitted model and its backtest report (None when the history is too short to hold some back)."""
    with ui.working("Fitting the customer-value models to the new data…", clv.value_model):
        model = ui.cached(clv.value_model)

    st.caption(f"As of **{model.as_of}** (the day after the last order). {model.data_statement()}")
    if not model.fitted:
        st.warning(
            f"**Too little data for a customer-value model.** {model.problem} Import more orders, or come back when "
            "more customers have bought a second time.",
            icon=":material/data_alert:",
        )
        st.stop()
    if not model.trustworthy:
        st.warning(
            f"**{'Too little data for a trustworthy model — read' if model.thin else 'Read'} these predictions as "
            f"rough.** {model.plain_warning()}",
            icon=":material/data_alert:",
        )
    if not model.purchase_converged:
        st.stop()

    period = ui.cached(clv.default_backtest_period)
    report = None
    if period:
        backtest_period = {"calibration_end": period[0], "holdout_end": period[1]}
        with ui.working("Testing the model on the last weeks of data…", clv.model_report, **backtest_period):
            report = ui.cached(clv.model_report, **backtest_period)
    level, how_sure = clv.confidence_statement(model, report)
    if level == "good":
        st.success(f"**How sure?** {how_sure}", icon=":material/verified:")
    else:
        st.info(f"**How sure?** {how_sure}", icon=":material/help:")
    return model, report
