"""The Campaigns page's results of one campaign: the verdicts in plain words, the key figures, the uplift and the
funnel, every arm; then who responded, the response by day and the members (DESIGN.md §4, §5)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

import ui
from crm_core import campaigns, charts, formats, labels
from ui.sections import campaign_members, campaign_responders
from ui.tables import table

ARM_COLUMNS = ["arm", "n", "conversion_rate", "response_rate", "revenue_per_member"]
ARM_MORE = ["is_control", "conversion_ci_low", "conversion_ci_high", "revenue_ci_low", "revenue_ci_high"]
TOTAL_COLUMNS = ["arm", "n", "incremental_conversions", "incremental_revenue", "cost", "roi"]
TOTAL_MORE = [
    "incremental_conversions_low",
    "incremental_conversions_high",
    "incremental_revenue_low",
    "incremental_revenue_high",
]


def _start_date_form(info: campaigns.CampaignInfo) -> None:
    with st.form("campaign_start"):
        st.info(
            "This campaign has no start date and no send time: orders cannot be attributed to it and the "
            "response by day cannot be drawn. When was it sent?"
        )
        start = st.date_input("Sent on", value=None, key="campaign_start_date")
        if st.form_submit_button("Set the start date") and start is not None:
            campaigns.set_start_date(ui.get_engine(), info.id, start)
            st.rerun()


def _verdicts(results: campaigns.CampaignResults) -> None:
    for effect in results.effects:
        with st.container(border=True):
            st.markdown(f"**{ui.plain(effect.headline)}**")
            with st.expander("The statistics behind it"):
                st.markdown(ui.plain(effect.verdict))
    for note in results.notes:
        (st.warning if not results.has_control else st.caption)(ui.plain(note))


def _key_figures(results: campaigns.CampaignResults, selected: pd.Series) -> None:
    info = results.campaign
    cards = st.columns(5)
    cards[0].metric("Members", ui.number(selected["members"]), border=True)
    cards[1].metric("Control group", ui.number(selected["control"]), border=True)
    cards[2].metric(
        "Incremental revenue",
        formats.money(results.incremental_revenue, plus=True),
        help="Uplift of revenue per member × treated members, summed over the treatment arms.",
        border=True,
    )
    cards[3].metric("Cost", formats.money(info.cost, cents=False), border=True)
    cards[4].metric(
        "ROI",
        formats.percent(results.roi, plus=True),
        help=f"(incremental revenue × {ui.percent(info.margin)} margin − cost) / cost",
        border=True,
    )


def _statistics(results: campaigns.CampaignResults, effects: pd.DataFrame) -> None:
    control_name = str(results.control_arm or "")
    named = "" if control_name.strip().lower() == "control" else f" ({ui.plain(control_name)})"
    with st.expander(f"Each treatment arm against the control{named}: the statistics"):
        table(
            labels.effects_table(effects),
            ["arm", "metric", "estimate", "ci_low", "ci_high", "p_value"],
            labels_={"estimate": labels.Column("Uplift", help="Treated minus control")},
        )
        totals = pd.DataFrame([effect.as_dict() for effect in results.effects])
        table(
            totals,
            TOTAL_COLUMNS,
            more=TOTAL_MORE,
            key="campaign_totals",
        )
        st.caption(
            "Conversion and response uplifts are differences of rates in percentage points with Newcombe's "
            "interval; revenue per member uses Welch's interval. An interval that includes zero means no "
            "measurable effect."
        )


def render(name: str, selected: pd.Series) -> None:
    """One campaign, ``selected`` its row of ``campaigns.campaign_list``."""
    results = ui.cached(campaigns.campaign_results, campaign=name)
    info = results.campaign
    st.caption(
        f"{ui.plain(labels.value_label(info.channel or 'No channel'))} · started {formats.text(info.start_date)} · "
        f"cost {formats.money(info.cost, cents=False)} · margin {ui.percent(info.margin)} · "
        f"attribution window {info.attribution_window_days} days · outcomes {results.outcomes}"
    )
    if info.reference_start is None:
        _start_date_form(info)
    _verdicts(results)
    _key_figures(results, selected)

    effects = results.effects_frame()
    forest, funnel = st.columns([3, 2])
    forest.plotly_chart(
        charts.uplift_forest(effects, title="Uplift against the control (line: 95 % range)"), key="forest"
    )
    funnel_frame = ui.cached(campaigns.funnel, campaign=name)
    funnel.plotly_chart(charts.campaign_funnel(funnel_frame, title="Funnel per arm"), key="funnel")

    st.markdown("**Every arm**")
    table(
        results.arms,
        ARM_COLUMNS,
        more=ARM_MORE,
        key="campaign_arms",
    )
    if results.effects and results.has_control:
        _statistics(results, effects)

    draw_deciles = campaign_responders.render(name, results)
    campaign_members.render(name, results)
    # Last, though it is drawn beside the segment chart: it fits the CLV model on the history before the send,
    # the slowest part of the page, and everything else should not wait for it.
    draw_deciles()
