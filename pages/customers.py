"""Customers: find a customer and see their whole history on one screen (DESIGN.md §4).

The URL carries the customer id (``customers?customer=C0000042``), so a profile can be shared and every page that
lists customers links here (``ui.profile_link``).
"""

import pandas as pd
import streamlit as st

import ui
from crm_core import charts, formats, labels, profiles
from ui.tables import table

ui.page("Customers")

masked = ui.masking_enabled()
RECENT_KEY = "recent_customers"
RECENT_MAX = 8
SEARCH_KEY = "customer_search"


def open_profile(external_id: str) -> None:
    st.query_params[ui.PROFILE_PARAM] = external_id
    st.session_state[SEARCH_KEY] = ""


def close_profile() -> None:
    st.query_params.pop(ui.PROFILE_PARAM, None)


def name_of(row) -> str:
    parts = [str(p) for p in (row.first_name, row.last_name) if isinstance(p, str) and p]
    return " ".join(parts) or str(row.external_id)


def customer_buttons(frame: pd.DataFrame, key: str, value_of=None) -> None:
    """One button per customer: name, id, email and city (masked when masking is on); a click opens the profile."""
    for row in frame.itertuples(index=False):
        details = [row.external_id, row.email, row.city]
        if value_of is not None:
            # The value first, so that a long line is cut in the contact details rather than in the value.
            details.insert(0, value_of(row))
        label = f"**{ui.plain(name_of(row))}** · " + " · ".join(
            ui.plain(d) for d in details if isinstance(d, str) and d
        )
        st.button(
            label, key=f"{key}_{row.external_id}", on_click=open_profile, args=(row.external_id,), type="tertiary"
        )


def value_with_range(row) -> str:
    """The predicted value with its 80 % range: "€120 (80 %: €40–€260)"; the value alone without a range."""
    if pd.isna(row.value_low) or pd.isna(row.value_high):
        return ui.currency(row.value)
    return f"{ui.currency(row.value)} (80 %: {ui.currency(row.value_low)}–{ui.currency(row.value_high)})"


def day(value) -> str:
    return "—" if value is None or pd.isna(value) else f"{pd.Timestamp(value):%Y-%m-%d}"


def or_dash(value, formatter) -> str:
    return "—" if value is None or pd.isna(value) else formatter(value)


# --- find a customer ----------------------------------------------------------------------------------------------

typed = st.text_input(
    "Find a customer",
    key=SEARCH_KEY,
    placeholder="Name, email, phone or customer id - part of it is enough",
    help='Case does not matter; every word must match ("anna müll" finds Anna Müller).',
)
if typed.strip():
    found = ui.cached(profiles.search_customers, text=typed.strip(), mask=masked)
    st.caption(f"Search: {found.label}")
    if found.frame.empty:
        st.info(f"No customer's name, email, phone or id contains “{ui.plain(typed.strip())}”.")
    customer_buttons(found.frame, "found")

selected = st.query_params.get(ui.PROFILE_PARAM)
if not selected:
    recent_column, valuable_column = st.columns(2)
    with recent_column:
        st.subheader("Recently viewed")
        recent = st.session_state.get(RECENT_KEY, [])
        if recent:
            customer_buttons(
                ui.cached(profiles.customers_by_external_ids, external_ids=tuple(recent), mask=masked), "recent"
            )
        else:
            st.caption("Profiles you open appear here.")
    with valuable_column:
        st.subheader("Most valuable")
        valuable_order = st.segmented_control(
            "Rank by",
            list(profiles.VALUABLE_ORDERS),
            default="clv",
            format_func={"clv": "Predicted value", "clv_low80": "Lower 80 % bound"}.get,
            key="valuable_order",
            help="The lower 80 % bound puts customers whose value is sure before those whose value is hoped for.",
        )
        valuable = ui.cached(profiles.most_valuable, limit=10, mask=masked, sort_by=valuable_order or "clv")
        st.caption(f"By {valuable.basis}.")
        customer_buttons(valuable.frame, "valuable", value_with_range)
    st.stop()

# --- the profile --------------------------------------------------------------------------------------------------

with st.spinner("Scoring against all customers (once per data import)…"):
    reference = ui.cached(profiles.profile_reference)
try:
    profile = ui.cached(profiles.customer_profile, customer_id=selected, reference=reference, mask=masked)
except profiles.CustomerNotFound:
    st.warning(
        f"There is no customer with id “{ui.plain(selected)}”. Search for them above.", icon=":material/person_off:"
    )
    st.button("Clear", on_click=close_profile)
    st.stop()

st.session_state[RECENT_KEY] = [selected, *[c for c in st.session_state.get(RECENT_KEY, []) if c != selected]][
    :RECENT_MAX
]

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
        f"This customer asked to be forgotten on {day(who.erased_at)}: personal data is anonymised, orders are kept "
        "for the statistics, and they are never contacted again.",
        icon=":material/person_off:",
    )

contact, facts = st.columns(2)
contact.markdown(
    f"**Email** {ui.plain(who.email or '—')}  \n**Phone** {ui.plain(who.phone or '—')}  \n"
    f"**Born** {day(who.birth_date)} · **Gender** {ui.plain(who.gender or '—')}"
)
attributes = [
    f"**{ui.plain(row.name.replace('_', ' ').capitalize())}** {ui.plain(row.value)}"
    for row in profile.attributes.itertuples()
]
facts.markdown(
    f"**Acquired via** {ui.plain(labels.value_label(who.acquisition_channel) or formats.MISSING)} · "
    f"**cost** {or_dash(who.acquisition_cost, ui.currency_cents)}  \n" + ("  \n".join(attributes) or "No attributes.")
)

spend = st.columns(4)
spend[0].metric("Total spend", ui.currency(figures.total_spend), border=True, help="Net revenue of completed orders.")
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
        "Purchases next 90 days",
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
    notes.append(
        "Predictions are the models' expectations with their 80 % ranges "
        f"({scores.purchases_text() or '—'} in 90 days; CLV {scores.clv_text() or '—'}): for a customer like this "
        "the range holds 8 times in 10. Likely still active "
        f"{or_dash(scores.p_alive, ui.percent)}; chance of buying in the next 90 days "
        f"{or_dash(scores.prob_purchase_90d, ui.percent)}."
        + (" The data changed since they were computed." if scores.stale else "")
        + (f" **Take them with care:** {scores.note}" if scores.note else "")
    )
    if figures.purchases == 1:  # the model's view of a one-time buyer looks wrong without this sentence
        notes.append(labels.EXPLANATIONS["one_time_buyers"])
if notes:
    st.caption("  \n".join(notes))

timeline_tab, orders_tab, interests_tab, campaigns_tab, feedback_tab, contact_tab = st.tabs(
    ["Timeline", "Orders", "Interests & next offer", "Campaigns", "Feedback", "Contact & consent"]
)

with timeline_tab:
    pick_channels, pick_types, pick_page = st.columns([3, 3, 1])
    channels = pick_channels.multiselect(
        "Channels", profile.timeline_channels, key=f"timeline_channels_{profile.customer_id}", placeholder="All"
    )
    types = pick_types.multiselect(
        "Types", profile.timeline_types, key=f"timeline_types_{profile.customer_id}", placeholder="All"
    )
    page_number = pick_page.number_input(
        "Page", min_value=1, value=1, step=1, key=f"timeline_page_{profile.customer_id}"
    )
    if channels or types or page_number > 1:
        timeline = ui.cached(
            profiles.customer_timeline,
            customer_id=profile.customer_id,
            channels=tuple(channels),
            types=tuple(types),
            page=int(page_number) - 1,
            mask=masked,
        )
    else:
        timeline = profile.timeline
    if timeline.total == 0:
        st.info("No orders, interactions or feedback recorded for this customer (with these filters).")
    else:
        st.caption(f"Page {timeline.page + 1} of {timeline.pages} · {ui.number(timeline.total)} events, newest first.")
        table(
            timeline.frame,
            ["occurred_at", "source", "channel", "type", "subject", "outcome", "amount"],
            more=["direction", "score", "campaign"],
            key=f"timeline_table_{profile.customer_id}",
            labels_={"source": "Record", "direction": "In / out"},
        )

with orders_tab:
    if profile.orders.empty:
        st.info("No orders yet.")
    else:
        st.caption(
            f"The newest {len(profile.orders)} of {ui.number(profile.orders_total)} orders; the timeline has all."
            if profile.orders_total > len(profile.orders)
            else f"{ui.number(profile.orders_total)} orders, newest first."
        )
        table(
            profile.orders,
            ["external_id", "ordered_at", "amount", "status", "products"],
            more=["channel", "items"],
            key="profile_orders",
            labels_={"external_id": "Order", "items": labels.Column("Items", "count")},
        )
        with st.expander("Order lines"):
            table(
                profile.order_lines,
                ["order_ref", "ordered_at", "product", "quantity", "unit_price", "line_amount"],
                more=["status", "category", "brand"],
                key="profile_order_lines",
                labels_={"ordered_at": labels.Column("Ordered", "date")},
            )

with interests_tab:
    st.markdown("**Next-best offer**")
    if profile.offers.empty:
        st.caption(
            "No category stands out: customers with similar purchases buy nothing this customer has not, more often "
            "than buyers at large."
        )
    for offer in profile.offers.itertuples():
        st.markdown(f"- **{ui.plain(offer.category)}** — {ui.plain(offer.reason)}")
    share = st.column_config.ProgressColumn("Share of spend", format="percent", min_value=0.0, max_value=1.0)
    favourite_categories, favourite_brands = st.columns(2)
    for column, frame, label, name in (
        (favourite_categories, profile.favourite_categories, "Favourite categories", "category"),
        (favourite_brands, profile.favourite_brands, "Favourite brands", "brand"),
    ):
        column.markdown(f"**{label}**")
        if frame.empty:
            column.caption("No purchases yet.")
        else:
            table(
                frame,
                [name, "revenue", "share", "orders"],
                container=column,
                labels_={"items": labels.Column("Items", "count")},
                config={"share": share},
            )

with campaigns_tab:
    if profile.campaigns.empty:
        st.info("Not a member of any campaign.")
    else:
        table(
            profile.campaigns,
            ["campaign", "start_date", "is_control", "converted", "revenue"],
            more=["channel", "arm", "sent_at", "delivered", "opened", "clicked"],
            key="profile_campaigns",
            labels_={
                "campaign": labels.Column("Campaign", width="large"),
                "is_control": labels.Column("Control group", "yes_no", "In the control group: not contacted"),
                "revenue": labels.Column("Revenue", "money_cents"),
                "sent_at": labels.Column("Sent", "date"),
            },
        )
        st.caption("A dash: the outcome was not recorded.")

with feedback_tab:
    summary = profile.feedback_summary
    if summary.entries == 0:
        st.info("No surveys, reviews, complaints or notes.")
    else:
        nps, nps_mean, review, complaints = st.columns(4)
        nps.metric(
            "Latest NPS score",
            or_dash(summary.latest_nps, lambda v: f"{v:.0f}"),
            border=True,
            help=f"0-10; {summary.latest_nps_group}." if summary.latest_nps_group else "0-10.",
        )
        nps_mean.metric(
            "Average NPS score", or_dash(summary.average_nps, lambda v: f"{v:.1f}"), border=True,
            help=f"Over {summary.surveys} surveys.",
        )  # fmt: skip
        review.metric(
            "Average review",
            or_dash(summary.average_review, lambda v: f"{v:.1f} / 5"),
            border=True,
            help=f"Over {summary.reviews} reviews.",
        )
        complaints.metric("Complaints", ui.number(summary.complaints), border=True)
        scored = profile.feedback.dropna(subset=["score"])
        chart, mentions = st.columns(2)
        if not scored.empty:
            chart.plotly_chart(
                charts.feedback_scores(scored, title="Scores over time (surveys 0–10, reviews 1–5)"),
                key=f"feedback_chart_{profile.customer_id}",
            )
        if summary.mentions.empty:
            mentions.caption("No competitor, reason for not buying or complaint mentioned.")
        else:
            table(
                summary.mentions,
                ["mention", "value", "times", "last_at"],
                container=mentions,
                labels_={"value": "What"},
            )
        table(
            profile.feedback,
            ["created_at", "kind", "score", "text"],
            more=["competitor_brand", "reason"],
            key="profile_feedback",
            labels_={"created_at": labels.Column("When", "date")},
        )

with contact_tab:
    limit_30, limit_90, _ = st.columns([1, 1, 2])
    default = profiles.ContactLimits()
    warn_30 = limit_30.number_input("Warn above (30 days)", 0, value=default.last_30_days, key="contact_limit_30")
    warn_90 = limit_90.number_input("Warn above (90 days)", 0, value=default.last_90_days, key="contact_limit_90")
    limits = profiles.ContactLimits(last_30_days=int(warn_30), last_90_days=int(warn_90))
    for warning in profiles.contact_warnings(profile.contact_pressure, limits):
        st.warning(warning, icon=":material/campaign:")
    if profile.contact_pressure.empty:
        st.caption(f"Not contacted in the 90 days before {profile.as_of}.")
    else:
        st.caption(f"Outbound contacts before {profile.as_of}, per channel.")
        table(profile.contact_pressure, ["channel", "last_30_days", "last_90_days"])
    st.markdown("**Consent per channel**")
    table(
        profile.consents,
        ["channel", "status", "changed_at", "source", "suppressed"],
        labels_={"changed_at": labels.Column("Since", "date"), "status": "Consent"},
    )
