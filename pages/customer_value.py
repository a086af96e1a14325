"""Customer value: who is valuable, who is slipping away, and how sure the model is (DESIGN.md §4, §5).

The models are fitted once per data version (``clv.value_model``); the business assumptions only change the
predictions, never the fit. Every figure comes from crm_core through ``ui.cached``.
"""

import streamlit as st

import ui
from crm_core import charts, clv, labels, schema
from ui.tables import table

ui.page("Customer value")

masked = ui.masking_enabled()
#: Rows the at-risk list shows; the export has them all.
LIST_MAX = 200
TOP_MAX = 25
CHURN_BANDS = clv.describe_churn_risk_bands()

with st.spinner("Fitting the customer-value models (once per data import)…"):
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
with st.spinner("Testing the model on the last weeks of data (once per data import)…"):
    report = ui.cached(clv.model_report, calibration_end=period[0], holdout_end=period[1]) if period else None
level, how_sure = clv.confidence_statement(model, report)
if level == "good":
    st.success(f"**How sure?** {how_sure}", icon=":material/verified:")
else:
    st.info(f"**How sure?** {how_sure}", icon=":material/help:")

with st.expander(
    f"Assumptions: value over the next {st.session_state.get('cv_months', clv.DEFAULT_MONTHS)} months at "
    f"{st.session_state.get('cv_margin', round(clv.DEFAULT_MARGIN * 100))} % margin"
):
    left, middle, right = st.columns(3)
    months = left.select_slider(
        "Horizon",
        options=[3, 6, 12, 24, 36, 60],
        value=clv.DEFAULT_MONTHS,
        format_func=lambda m: f"{m} months",
        key="cv_months",
        help="How far ahead the predicted value reaches.",
    )
    margin = middle.slider(
        "Gross margin",
        min_value=5,
        max_value=100,
        value=round(clv.DEFAULT_MARGIN * 100),
        step=5,
        format="%d %%",
        key="cv_margin",
        help="The share of revenue that is profit before marketing costs.",
    )
    discount = right.number_input(
        "Monthly discount rate (%)",
        min_value=0.0,
        max_value=5.0,
        value=clv.DEFAULT_MONTHLY_DISCOUNT * 100,
        step=0.25,
        key="cv_discount",
        help="Money next year is worth less than money today: each month ahead counts this much less.",
    )
    st.caption(
        "Profiles, segments and campaign deciles use the defaults (12 months, 30 % margin, 1 % a month). Changing "
        "them here recomputes the value, not the model."
    )

values = ui.cached(
    clv.customer_values, model=model, months=months, margin=margin / 100, monthly_discount_rate=discount / 100
)
totals = clv.value_overview(values)
horizon = f"next {months} months"

cards = st.columns(5)
cards[0].metric(
    "Predicted value",
    ui.compact_currency(totals.total_value) if totals.has_value else "—",
    horizon,
    delta_color="off",
    delta_arrow="off",
    help=f"Expected margin ({margin} % of revenue) of the {totals.customers:,} customers over the {horizon}, "
    f"discounted {discount:g} % a month: what the customer base is worth.",
    border=True,
)
cards[1].metric(
    "Average per customer",
    ui.currency_cents(totals.average_value) if totals.has_value else "—",
    border=True,
)
cards[2].metric(
    "Likely still active",
    ui.number(totals.likely_active),
    f"{totals.likely_active_share:.0%} of buyers",
    delta_color="off",
    delta_arrow="off",
    help=f"Customers whose probability of still being active is {clv.CHURN_RISK_CUTOFFS[1]:.0%} or more.",
    border=True,
)
cards[3].metric(
    "High churn risk",
    ui.number(totals.high_risk),
    f"{totals.high_risk_share:.0%} of buyers",
    delta_color="off",
    delta_arrow="off",
    help=CHURN_BANDS,
    border=True,
)
cards[4].metric(
    "Purchases in 90 days",
    ui.number(totals.expected_purchases),
    "expected",
    delta_color="off",
    delta_arrow="off",
    help="Repeat purchases (purchase days) the model expects from these customers in the next 90 days.",
    border=True,
)
if not totals.has_value:
    st.info(
        "Spend could not be modelled (see the note above), so there are no money values: the page shows who is "
        "still active and how often they will buy.",
        icon=":material/info:",
    )

LINK = ui.profile_link_column("Customer")
LIST_LABELS = {
    "name": labels.Column("Name", width="medium"),
    "purchases": labels.Column("Purchase days", "count", "Days with at least one purchase."),
    "days_since_last": labels.Column("Days since last purchase", "count"),
    "p_alive": labels.Column("Likely still active", "percent", CHURN_BANDS + " " + labels.EXPLANATIONS["p_alive"]),
    "churn_risk": labels.Column("Churn risk", help=CHURN_BANDS),
    "p_purchase": labels.Column("Buys in the next 90 days", "percent", labels.EXPLANATIONS["p_purchase"]),
    "expected_spend": labels.Column("Spend per purchase", "money_cents"),
    "clv": labels.Column(
        "Predicted value", "money", f"Expected margin over the {horizon}, the risk of leaving included."
    ),
    "clv_low": labels.Column(
        "Value, 80 % range from",
        "money",
        "Lower end of the 80 % range of the value: the customer reaches at least this with 90 % probability.",
    ),
    "clv_high": labels.Column(
        "Value, 80 % range to",
        "money",
        "Upper end of the 80 % range: with 90 % probability the customer brings no more than this.",
    ),
    "value_if_active": labels.Column(
        "Value if they stay", "money", f"Expected margin over the {horizon} if still active."
    ),
}


def show_customers(rows, key: str, first: str = "clv") -> None:
    """A list of customers (rows of customer_values) with who they are, linking to their profiles; ``first`` is
    the value column the list is ranked by, shown right after the name."""
    ids = tuple(int(i) for i in rows["customer_id"])
    details = ui.cached(clv.customer_details, customer_ids=ids, mask=masked)
    listed = clv.customer_list(rows, details)
    listed.insert(0, "customer", ui.profile_links(listed.pop("external_id")))
    key_columns = list(dict.fromkeys(["customer", "name", first, "clv", "value_if_active", "p_alive", "churn_risk"]))
    secondary = ["days_since_last", "purchases", "p_purchase", "expected_spend", "clv_low", "clv_high", "country"]
    table(
        listed,
        key_columns,
        more=[c for c in secondary if c not in key_columns],
        key=key,
        labels_=LIST_LABELS,
        config={"customer": LINK},
    )
    st.caption(labels.EXPLANATIONS["one_time_buyers"])


valuable_tab, risk_tab, sure_tab = st.tabs(
    ["Who is valuable", "Who is slipping away", "How sure the model is"], key="cv_view", bind="query-params"
)

# --- who is valuable ---------------------------------------------------------------------------------------------

if valuable_tab.open and totals.has_value:
    with valuable_tab:
        log_scale = st.toggle(
            "Log scale", value=True, key="cv_log", help="Spread out the many small values; off: equal steps in €."
        )
        bins = clv.clv_distribution(values, log_scale=log_scale)
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
            format_func=clv.LIST_ORDERS.get,
            key="cv_top_order",
            help="The lower 80 % bound puts customers whose value is sure before those whose value is hoped for.",
        )
        show_customers(clv.top_customers(values, TOP_MAX, sort_by=top_order or "clv"), "cv_top", top_order or "clv")
        st.caption(
            "A predicted value is an average over customers with the same history, not a promise for one person. "
            "The 80 % range says how far one customer may stray: 8 in 10 such customers land inside it, 1 in 10 "
            "below and 1 in 10 above. Totals over hundreds of customers are far surer (see *How sure the model "
            "is*)."
        )
elif valuable_tab.open:
    valuable_tab.caption("Without a spend model there are no values to rank customers by.")

# --- who is slipping away ----------------------------------------------------------------------------------------

if risk_tab.open and totals.has_value:
    with risk_tab:
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
        low, high = right.slider(
            "Probability of still being active",
            min_value=0,
            max_value=100,
            value=tuple(round(p * 100) for p in clv.DEFAULT_AT_RISK_P_ALIVE),
            step=5,
            format="%d %%",
            key="cv_p_alive",
            help=CHURN_BANDS,
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
                format_func={"value_if_active": "Value if they stay", **clv.LIST_ORDERS}.get,
                key="cv_risk_order",
            )
            at_risk = clv.customers_at_risk(
                values, min_value, (low / 100, high / 100), sort_by=risk_order or "value_if_active"
            )
            show_customers(at_risk.head(LIST_MAX), "cv_at_risk", risk_order or "value_if_active")
            if len(at_risk) > LIST_MAX:
                st.caption(f"The {LIST_MAX} most valuable of {len(at_risk):,}; the export has them all.")

            st.subheader("Export for a retention campaign")
            channel = st.segmented_control(
                "Channel",
                list(schema.CONSENT_CHANNELS),
                default="email",
                key="cv_channel",
                format_func=labels.value_label,
            )
            if channel is not None:
                export = ui.cached(
                    clv.at_risk_export,
                    customer_ids=tuple(int(i) for i in at_risk["customer_id"]),
                    channel=channel,
                    mask=masked,
                )
                reach, reasons = st.columns([2, 3])
                reach.metric(
                    "Can be contacted",
                    ui.number(export.exported),
                    f"of {export.members:,} customers",
                    delta_color="off",
                    delta_arrow="off",
                )
                table(
                    export.excluded,
                    ["reason", "customers"],
                    container=reasons,
                    labels_={"reason": labels.Column("Left out because", width="medium")},
                )
                st.download_button(
                    f"Download the {labels.value_label(channel).lower()} list (CSV)",
                    export.csv_bytes(),
                    file_name=f"customers-at-risk-{channel}-{model.as_of}.csv",
                    mime="text/csv",
                    key="cv_download",
                    icon=":material/download:",
                    disabled=export.exported == 0,
                )
                st.caption(
                    "Only customers who opted in to this channel; never erased or suppressed ones. Cells that a "
                    "spreadsheet would run as a formula start with a ' ."
                    + (" Personal data is masked (the switch in the sidebar)." if masked else "")
                )
elif risk_tab.open:
    risk_tab.caption("Without a spend model there are no values to tell valuable customers by.")

# --- how sure the model is ---------------------------------------------------------------------------------------

if sure_tab.open:
    with sure_tab:
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
            charts.p_alive_matrix(clv.p_alive_matrix(values), title="Probability of still being active"),
            key="cv_p_alive_matrix",
        )
        st.caption(
            f"{CHURN_BANDS} The model learns that someone has left only from a long silence after repeat purchases, "
            "so customers who bought once count as active until they come back or not — their low expected purchases "
            "show in their value instead."
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
