"""The Campaigns page's breakdown of one campaign's effect: who really responded (by segment and by decile of the
value predicted before the send) and the response over the days after sending."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

import ui
from crm_core import campaigns, charts, labels
from ui.tables import table


def _by_segment(place: DeltaGenerator, name: str, by: str, arm: str | None) -> None:
    try:
        groups = ui.cached(campaigns.uplift_by_segment, campaign=name, by=by, arm=arm)
    except ValueError as exc:
        place.info(ui.plain(exc))
        return
    place.plotly_chart(
        charts.uplift_by_group(groups, "segment", title="Conversion uplift by segment: treated against control"),
        key="uplift_by_segment",
    )
    shown = ["segment", "uplift", "conversion_treatment", "conversion_control", "n_treatment", "note"]
    table(
        groups,
        shown,
        more=["n_control", "ci_low", "ci_high", "p_value", "revenue_uplift"],
        key="campaign_segment_table",
        labels_={"note": labels.Column("Note", width="large")},
    )
    st.caption(
        f"Sorted by effect. Groups with fewer than {campaigns.MIN_GROUP_SIZE} members on either side are "
        "drawn faint and listed last: too small to say anything."
    )


def _by_day(name: str) -> None:
    st.subheader("Response over the days after sending")
    try:
        days = ui.cached(campaigns.response_by_day, campaign=name)
    except campaigns.CampaignStartUnknown as exc:
        st.info(f"Response by day: {ui.plain(exc)}.")
        return
    st.plotly_chart(
        charts.response_by_day(days, title="Members who have bought, by day after sending"), key="response_by_day"
    )
    st.caption("From orders: a member counts on the day of their first purchase after the send (controls: start).")


def render(name: str, results: campaigns.CampaignResults) -> Callable[[], None]:
    """Draw the breakdowns; return what draws the decile chart, the slowest part, for the caller to run last."""
    st.subheader("Who really responded")
    dimensions = ui.cached(campaigns.segment_dimensions)
    treatment_arms = [effect.arm for effect in results.effects]
    pick, by_arm = st.columns(2)
    by = pick.selectbox("Break down by", dimensions, format_func=labels.option_label, key="campaign_dimension")
    arm = by_arm.selectbox(
        "Treatment arm",
        [None, *treatment_arms],
        format_func=lambda a: "All treatment arms" if a is None else a,
        key="campaign_segment_arm",
    )
    by_segment, by_decile = st.columns(2)
    # Drawn last; until then the reader sees what is coming instead of an empty half.
    decile_slot = by_decile.empty()
    decile_slot.info("Ranking the members by the value predicted before the send…", icon=":material/hourglass_top:")
    _by_segment(by_segment, name, by, arm)
    _by_day(name)

    def draw_deciles() -> None:
        with decile_slot.container(), st.spinner("Fitting the value model on the history before the send…"):
            try:
                deciles = ui.cached(campaigns.uplift_by_predicted_value, campaign=name, arm=arm)
            except ValueError as exc:
                st.info(f"Uplift by predicted value: {ui.plain(exc)}")
                return
            st.plotly_chart(
                charts.uplift_by_group(
                    deciles, "decile", title="Conversion uplift by customer value predicted before the send"
                ),
                key="uplift_by_decile",
            )

    return draw_deciles
