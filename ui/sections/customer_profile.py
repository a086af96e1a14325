"""Customers page: the head of a customer's profile — who they are, how to reach them, their key figures, RFM
segment and the models' predictions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

import ui
from crm_core import formats, labels, profiles, schema
from ui.sections.customer_search import close_profile, remember


def day(value: Any) -> str:
    return formats.MISSING if value is None or pd.isna(value) else f"{pd.Timestamp(value):%Y-%m-%d}"


def or_dash(value: Any, formatter: Callable[[Any], str]) -> str:
    return formats.MISSING if value is None or pd.isna(value) else formatter(value)


def render(selected: str, masked: bool) -> profiles.CustomerProfile | None:
    """Load the profile of the customer with external id ``selected`` and draw its head; None (and a notice) when
    there is no such customer."""
    with ui.working("Comparing with all customers (once after new data)…", profiles.profile_reference):
        reference = ui.cached(profiles.profile_reference)
    try:
        profile = ui.cached(profiles.customer_profile, customer_id=selected, reference=reference, mask=masked)
    except profiles.CustomerNotFound:
        st.warning(
            f"There is no customer with id “{ui.plain(selected)}”. Search for them above.", icon=":material/person_off:"
        )
        st.button("Clear", on_click=close_profile)
        return None

    remember(selected)

    who = profile.identity
    figures = profile.key_figures
    st.divider()
    title, close = st.columns([6, 1])
    title.header(ui.plain(who.name))
    place = ", ".join(p for p in (who.city, who.country) if p)
    title.caption(
        " · ".join(
            part
            for part in (
                f"Customer {ui.plain(who.external_id)}",
                ui.plain(place),
                f"customer since {day(who.created_at)}" if who.created_at is not None else "",
                f"[link to this profile]({ui.profile_link(who.external_id)})",
            )
            if part
        )
    )
    close.button("Close profile", on_click=close_profile, icon=":material/close:")
    if who.is_erased:
        st.warning(
            f"This customer asked to be forgotten on {day(who.erased_at)}: personal data is anonymised, orders are "
            "kept for the statistics, and they are never contacted again.",
            icon=":material/person_off:",
        )

    contact, facts = st.columns(2)
    contact.markdown(
        f"**Email** {ui.plain(who.email or '—')}  \n**Phone** {ui.plain(who.phone or '—')}  \n"
        f"**Born** {day(who.birth_date)} · **Gender** {ui.plain(who.gender or '—')}"
    )
    attributes = [
        f"**{ui.plain(str(row.name).replace('_', ' ').capitalize())}** {ui.plain(row.value)}"
        for row in profile.attributes.itertuples()
    ]
    facts.markdown(
        f"**Acquired via** {ui.plain(labels.value_label(who.acquisition_channel) or formats.MISSING)} · "
        f"**cost** {or_dash(who.acquisition_cost, ui.currency_cents)}  \n"
        + ("  \n".join(attributes) or "No attributes.")
    )

    spend = st.columns(4)
    spend[0].metric(
        "Total spend", ui.currency(figures.total_spend), border=True, help="Net revenue of completed orders."
    )
    spend[1].metric("Orders", ui.number(figures.purchases), border=True, help="Completed orders (purchases).")
    spend[2].metric("Avg order value", or_dash(figures.average_order_value, ui.currency_cents), border=True)
    spend[3].metric(
        "Returns",
        ui.number(figures.returns),
        border=True,
        help=f"Returned orders worth {ui.currency_cents(figures.returned_amount)}; "
        f"{ui.number(figures.cancellations)} cancelled.",
    )
    when = st.columns(4)
    when[0].metric("First purchase", day(figures.first_purchase), border=True)
    when[1].metric("Last purchase", day(figures.last_purchase), border=True)
    when[2].metric("Tenure", or_dash(figures.tenure_days, lambda d: f"{ui.number(d)} days"), border=True)
    rfm_scores = profile.rfm
    if rfm_scores is None:
        ui.text_card(when[3], "RFM segment", "No purchase yet")
    else:
        ui.text_card(
            when[3],
            "RFM segment",
            rfm_scores.segment,
            help=f"Scores 5 = best, by quintile of all buyers: last purchase {rfm_scores.recency_days} days ago (R "
            f"{rfm_scores.r_score}), {rfm_scores.frequency} purchases (F {rfm_scores.f_score}), "
            f"{ui.currency(rfm_scores.monetary)} (M {rfm_scores.m_score}).",
        )
    scores = profile.predictions
    if scores is not None:
        ranges = "80 % ranges: 8 in 10 customers with this history land inside, 1 in 10 below, 1 in 10 above."
        value = st.columns(4)
        rank = f"top {ui.percent(scores.clv_rank)} of {ui.number(scores.scored_customers)}" if scores.clv_rank else None
        value[0].metric(
            "Predicted value (CLV)",
            or_dash(scores.clv, ui.currency),
            scores.clv_range(),
            delta_color="off",
            delta_arrow="off",
            border=True,
            help="Discounted margin over the model's horizon (BG/NBD + Gamma-Gamma)."
            + (f" Ranks in the {rank} scored customers." if rank else "")
            + f" {ranges}",
        )
        value[1].metric(
            "Likely still active",
            or_dash(scores.p_alive, ui.percent),
            border=True,
            help=labels.EXPLANATIONS["p_alive"] + " (BG/NBD)",
        )
        value[2].metric(
            f"Purchases next {schema.PURCHASE_WINDOW_DAYS} days",
            or_dash(scores.expected_purchases_90d, lambda v: f"{v:.1f}"),
            scores.purchases_range(),
            delta_color="off",
            delta_arrow="off",
            border=True,
            help="Expected number (BG/NBD). The chance of at least one is "
            f"{or_dash(scores.prob_purchase_90d, ui.percent)}. {ranges}",
        )
        value[3].metric("Churn risk", scores.churn_risk or "—", border=True, help="Band from P(alive).")
    notes = []
    if rfm_scores is not None:
        notes.append(
            f"**{rfm_scores.segment}** (R {rfm_scores.r_score} · F {rfm_scores.f_score} · M {rfm_scores.m_score}): "
            f"{rfm_scores.meaning} *{rfm_scores.action}*"
        )
    if scores is None:
        notes.append("No predictions: the customer-value models have not scored this customer.")
    else:
        window = schema.PURCHASE_WINDOW_DAYS
        notes.append(
            "Predictions are the models' expectations with their 80 % ranges "
            f"({scores.purchases_text() or '—'} in {window} days; CLV {scores.clv_text() or '—'}): "
            "for a customer like this the range holds 8 times in 10. Likely still active "
            f"{or_dash(scores.p_alive, ui.percent)}; chance of buying in the next {window} days "
            f"{or_dash(scores.prob_purchase_90d, ui.percent)}."
            + (" The data changed since they were computed." if scores.stale else "")
            + (f" **Take them with care:** {scores.note}" if scores.note else "")
        )
        if figures.purchases == 1:  # the model's view of a one-time buyer looks wrong without this sentence
            notes.append(labels.EXPLANATIONS["one_time_buyers"])
    if notes:
        st.caption("  \n".join(notes))
    return profile
