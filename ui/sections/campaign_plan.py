"""The Campaigns page's holdout-size calculator: how many members the next campaign needs to measure its effect."""

from __future__ import annotations

import pandas as pd
import streamlit as st

import ui
from crm_core import formats, uplift

#: Treatment members per control member, as a manager names the split.
SPLITS = {1.0: "50 / 50", 4.0: "80 / 20", 9.0: "90 / 10", 19.0: "95 / 5"}


def render(name: str, selected: pd.Series) -> None:
    """``selected``: the row of ``campaigns.campaign_list`` of the campaign ``name`` the plan starts from."""
    st.markdown(
        "How many members the next campaign needs so that an effect worth having would be measured: "
        "**80 % power at 5 % significance**, two-sided."
    )
    control_rate = selected["control_conversion_rate"]
    default_baseline = 2.0 if pd.isna(control_rate) or not 0 < control_rate < 1 else round(control_rate * 100, 2)
    base, effect, split = st.columns(3)
    baseline_pct = base.number_input(
        "Baseline conversion rate (%)",
        min_value=0.01,
        max_value=99.0,
        value=float(default_baseline),
        step=0.1,
        key="plan_baseline",
        help=f"Defaults to the control's conversion rate in {name!r}.",
    )
    effect_pp = effect.number_input(
        "Smallest uplift worth detecting (points)",
        min_value=0.01,
        max_value=50.0,
        value=0.5,
        step=0.1,
        key="plan_effect",
    )
    ratio = split.selectbox(
        "Treatment / control split", list(SPLITS), format_func=lambda r: SPLITS[r], index=2, key="plan_split"
    )
    try:
        plan = uplift.sample_size_two_proportions(baseline_pct / 100, effect_pp / 100, ratio=ratio)
    except ValueError as exc:
        st.warning(ui.plain(exc))
        return
    need = st.columns(3)
    need[0].metric("Control members", ui.number(plan.control), border=True)
    need[1].metric("Treatment members", ui.number(plan.treatment), border=True)
    need[2].metric("Total", ui.number(plan.total), border=True)
    power = uplift.power_two_proportions(
        baseline_pct / 100, effect_pp / 100, int(selected["treatment"]), int(selected["control"])
    )
    st.caption(
        f"For comparison: with its {formats.count(selected['treatment'])} treated and "
        f"{formats.count(selected['control'])} control members, “{ui.plain(name)}” had "
        f"{ui.percent(power)} power to detect that uplift."
    )
