"""Customer value: who is valuable, who is slipping away, and how sure the model is (DESIGN.md §4, §5).

The models are fitted once per data version (``clv.value_model``); the business assumptions only change the
predictions, never the fit. Every figure comes from crm_core through ``ui.cached``; each part is a section of
:mod:`ui.sections`.
"""

import streamlit as st

import ui
from crm_core import clv
from ui.sections import value_assumptions, value_at_risk, value_fit, value_model, value_overview, value_top

ui.page("Customer value")
masked = ui.masking_enabled()

model, report = value_fit.render()
assumptions = value_assumptions.render()
rates = {
    "months": assumptions.months,
    "margin": assumptions.margin / 100,
    "monthly_discount_rate": assumptions.discount / 100,
}
# Stored by the scoring step for the default assumptions; other assumptions predict for every buyer first.
with ui.working("Working out every customer's value…", clv.value_highlights, model=model, **rates):
    highlights = ui.cached(clv.value_highlights, model=model, **rates)
totals = highlights.overview
value_overview.render(totals, assumptions)

valuable_tab, risk_tab, sure_tab = st.tabs(
    ["Who is valuable", "Who is slipping away", "How sure the model is"], key="cv_view", bind="query-params"
)
if valuable_tab.open:
    with valuable_tab:
        value_top.render(highlights, assumptions.horizon, masked)
if risk_tab.open:
    with risk_tab:
        value_at_risk.render(model, rates, totals, assumptions.horizon, masked)
if sure_tab.open:
    with sure_tab:
        value_model.render(model, report, highlights)
