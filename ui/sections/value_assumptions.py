"""Customer value page: the business assumptions (horizon, margin, discount rate) that change the predicted value,
never the fit."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from crm_core import clv


@dataclass(frozen=True)
class Assumptions:
    """The assumptions as the widgets hold them: months ahead, margin and monthly discount rate in percent."""

    months: int
    margin: int
    discount: float

    @property
    def horizon(self) -> str:
        return f"next {self.months} months"


def render() -> Assumptions:
    """The assumptions' widgets, in an expander whose label says what is assumed."""
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
            "Profiles, segments and campaign deciles use the defaults "
            f"({clv.DEFAULT_MONTHS} months, {round(clv.DEFAULT_MARGIN * 100)} % margin, "
            f"{clv.DEFAULT_MONTHLY_DISCOUNT * 100:g} % a month). Changing them here recomputes the value, "
            "not the model."
        )
    return Assumptions(months=months, margin=margin, discount=discount)
