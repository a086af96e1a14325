"""Customer value page, How sure the model is: the backtest, whether the ranges held, the forecast of all customers
together, the probability of still being active, and the fitted parameters."""

from __future__ import annotations

import streamlit as st

import ui
from crm_core import charts, clv, labels
from ui.tables import table


def render(
    model: clv.ValueModel,
    report: clv.ModelReport | None,
    highlights: clv.ValueHighlights,
) -> None:
    """Everything that says how far the predictions can be trusted."""
    totals = highlights.overview
    if report is None:
        st.info(
            f"The purchase history is shorter than {clv.MIN_BACKTEST_WEEKS} weeks, too short to hold some "
            "of it back and check the model against it.",
            icon=":material/info:",
        )
    elif report.backtest is None:
        st.info(f"No backtest: {report.model.problem or report.note}", icon=":material/info:")
    else:
        backtest = report.backtest
        st.markdown(f"**The backtest.** {backtest.sentence()}")
        tracking, by_frequency = st.columns(2)
        tracking.plotly_chart(
            charts.backtest_tracking(backtest.by_week, title="Repeat purchases, week by week"), key="cv_tracking"
        )
        by_frequency.plotly_chart(
            charts.backtest_by_frequency(backtest.by_frequency, title="Holdout purchases by earlier purchases"),
            key="cv_by_frequency",
        )
        st.caption(
            f"A second fit on the purchases up to {backtest.calibration_end} only; its predictions for the "
            f"{backtest.holdout_weeks} weeks after it are compared with "
            "what those customers did. The dashed line is what the model expects of customers like these from "
            "their first purchase on, the shaded band its 80 % range; the total above starts from each "
            "customer's own history."
        )
        if backtest.calibration is not None:
            st.subheader("How sure? Did the ranges hold?")
            st.markdown(
                "Every prediction comes with a range. An 80 % range should hold for about 8 in 10 customers; "
                f"here is how often they held in the {backtest.holdout_weeks} held-back weeks."
            )
            for line in backtest.how_sure():
                st.markdown(f"- {line}")
            table(
                backtest.calibration.by_frequency,
                ["frequency", "customers", "coverage", "nominal"],
                labels_={
                    "frequency": labels.Column("Earlier repeat purchases"),
                    "coverage": labels.Column("80 % range held for", "percent"),
                    "nominal": labels.Column("Promised", "percent"),
                },
            )
    with ui.working("Forecasting the next weeks for all customers together…", clv.value_forecast, model=model):
        forecast = ui.cached(clv.value_forecast, model=model)
    st.subheader("The next 13 weeks, all customers together")
    purchases_chart, revenue_chart = st.columns(2)
    purchases_chart.plotly_chart(
        charts.value_forecast(forecast, title="Repeat purchases expected"), key="cv_forecast_purchases"
    )
    if totals.has_value:
        revenue_chart.plotly_chart(
            charts.value_forecast(forecast, money=True, title="Revenue expected"), key="cv_forecast_revenue"
        )
    st.caption(
        "The shaded band is the 80 % range of the running total: it counts each customer's own ups and downs "
        "and the model's uncertainty about its parameters. The backtest above shows whether such bands held."
    )
    st.plotly_chart(
        charts.p_alive_matrix(highlights.p_alive, title="Probability of still being active"),
        key="cv_p_alive_matrix",
    )
    st.caption(
        f"{clv.describe_churn_risk_bands()} The model learns that someone has left only from a long silence after "
        "repeat purchases, so customers who bought once count as active until they come back or not — their low "
        "expected purchases show in their value instead."
    )
    with st.expander("The fitted models, for analysts"):
        st.markdown(
            f"BG/NBD (Fader, Hardie & Lee 2005) for purchases, Gamma-Gamma (Fader & Hardie 2013) for spend, by "
            f"maximum likelihood; time in {model.time_unit}. Log-likelihood: purchases "
            f"{model.purchase_log_likelihood:,.1f}"
            + (
                f", spend {model.spend_log_likelihood:,.1f} ({model.spend_customers:,} repeat buyers)."
                if model.has_spend_model
                else "."
            )
        )
        table(
            model.parameters(),
            ["model", "parameter", "estimate", "standard_error", "low", "high", "meaning"],
            labels_={
                "standard_error": labels.Column("Standard error", "decimal"),
                "low": labels.Column("95 % interval from", "decimal"),
                "high": labels.Column("95 % interval to", "decimal"),
                "meaning": labels.Column("What it describes", width="large"),
            },
        )
        for note in model.warnings:
            st.caption(f"Note: {note}")
        st.caption("Also from the command line: `python -m crm_core clv --calibration-end DATE`.")
