"""Campaigns: did it work, for whom, by how much, and did it pay (DESIGN.md §4, §5)."""

import math

import pandas as pd
import streamlit as st

import ui
from crm_core import campaigns, charts, formats, labels, uplift
from ui import privacy
from ui.tables import table

ui.page("Campaigns")

listing = ui.cached(campaigns.campaign_list)
if listing.empty:
    st.info(
        "There are no campaigns yet. Import a campaign's results with "
        "`python -m crm_core import campaign-results FILE --campaign NAME --arm-col COL --control VALUE`."
    )
    st.stop()


def shown(formatter, value) -> str:
    """A figure, or a dash where there is none (no control group, no cost, nothing recorded)."""
    return formats.MISSING if value is None or (isinstance(value, float) and math.isnan(value)) else formatter(value)


names = listing["name"].tolist()
name = st.selectbox(
    "Campaign",
    names,
    key="campaign",
    bind="query-params",
    help="Newest first. Pick a row in the *All campaigns* tab to open it here too.",
)
selected = listing[listing["name"] == name].iloc[0]

results_tab, list_tab, compare_tab, plan_tab = st.tabs(
    ["Results", "All campaigns", "Compare", "Plan the next one"], key="view", bind="query-params"
)

# --- one campaign ----------------------------------------------------------------------------------------------------

if results_tab.open:
    with results_tab:
        results = ui.cached(campaigns.campaign_results, campaign=name)
        info = results.campaign
        st.caption(
            f"{ui.plain(labels.value_label(info.channel or 'No channel'))} · started {shown(str, info.start_date)} · "
            f"cost {shown(ui.currency, info.cost)} · margin {ui.percent(info.margin)} · "
            f"attribution window {info.attribution_window_days} days · outcomes {results.outcomes}"
        )
        if info.reference_start is None:
            with st.form("campaign_start"):
                st.info(
                    "This campaign has no start date and no send time: orders cannot be attributed to it and the "
                    "response by day cannot be drawn. When was it sent?"
                )
                start = st.date_input("Sent on", value=None, key="campaign_start_date")
                if st.form_submit_button("Set the start date") and start is not None:
                    campaigns.set_start_date(ui.get_engine(), info.id, start)
                    st.rerun()
        for effect in results.effects:
            with st.container(border=True):
                st.markdown(f"**{ui.plain(effect.headline)}**")
                with st.expander("The statistics behind it"):
                    st.markdown(ui.plain(effect.verdict))
        for note in results.notes:
            (st.warning if not results.has_control else st.caption)(ui.plain(note))

        cards = st.columns(5)
        cards[0].metric("Members", ui.number(selected["members"]), border=True)
        cards[1].metric("Control group", ui.number(selected["control"]), border=True)
        cards[2].metric(
            "Incremental revenue",
            shown(lambda v: formats.money(v, plus=True), results.incremental_revenue),
            help="Uplift of revenue per member × treated members, summed over the treatment arms.",
            border=True,
        )
        cards[3].metric("Cost", shown(ui.currency, info.cost), border=True)
        cards[4].metric(
            "ROI",
            shown(lambda v: formats.percent(v, plus=True), results.roi),
            help=f"(incremental revenue × {ui.percent(info.margin)} margin − cost) / cost",
            border=True,
        )

        effects = results.effects_frame()
        forest, funnel = st.columns([3, 2])
        forest.plotly_chart(charts.uplift_forest(effects, title="Uplift against the control, 95 % CI"), key="forest")
        funnel_frame = ui.cached(campaigns.funnel, campaign=name)
        funnel.plotly_chart(charts.campaign_funnel(funnel_frame, title="Funnel per arm"), key="funnel")

        st.markdown("**Every arm**")
        table(
            results.arms,
            ["arm", "n", "conversion_rate", "response_rate", "revenue_per_member"],
            more=["is_control", "conversion_ci_low", "conversion_ci_high", "revenue_ci_low", "revenue_ci_high"],
            key="campaign_arms",
        )
        if results.effects and results.has_control:
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
                    ["arm", "n", "incremental_conversions", "incremental_revenue", "cost", "roi"],
                    more=[
                        "incremental_conversions_low",
                        "incremental_conversions_high",
                        "incremental_revenue_low",
                        "incremental_revenue_high",
                    ],
                    key="campaign_totals",
                )
                st.caption(
                    "Conversion and response uplifts are differences of rates in percentage points with Newcombe's "
                    "interval; revenue per member uses Welch's interval. An interval that includes zero means no "
                    "measurable effect."
                )

        st.subheader("Who really responded")
        dimensions = ui.cached(campaigns.segment_dimensions)
        treatment_arms = [effect.arm for effect in results.effects]
        pick, by_arm = st.columns(2)
        by = pick.selectbox(
            "Break down by",
            dimensions,
            format_func=labels.option_label,
            key="campaign_dimension",
        )
        arm = by_arm.selectbox(
            "Treatment arm",
            [None, *treatment_arms],
            format_func=lambda a: "All treatment arms" if a is None else a,
            key="campaign_segment_arm",
        )
        by_segment, by_decile = st.columns(2)
        # Drawn last (see below); until then the reader sees what is coming instead of an empty half.
        decile_slot = by_decile.empty()
        decile_slot.info("Ranking the members by the value predicted before the send…", icon=":material/hourglass_top:")
        try:
            segments = ui.cached(campaigns.uplift_by_segment, campaign=name, by=by, arm=arm)
        except ValueError as exc:
            by_segment.info(ui.plain(exc))
        else:
            by_segment.plotly_chart(
                charts.uplift_by_group(segments, "segment", title="Conversion uplift by segment, 95 % CI"),
                key="uplift_by_segment",
            )
            table(
                segments,
                ["segment", "uplift", "conversion_treatment", "conversion_control", "n_treatment", "note"],
                more=["n_control", "ci_low", "ci_high", "p_value", "revenue_uplift"],
                key="campaign_segment_table",
                labels_={"note": labels.Column("Note", width="large")},
            )
            st.caption(
                f"Sorted by effect. Groups with fewer than {campaigns.MIN_GROUP_SIZE} members on either side are "
                "drawn faint and listed last: too small to say anything."
            )

        st.subheader("Response over the days after sending")
        try:
            days = ui.cached(campaigns.response_by_day, campaign=name)
        except campaigns.CampaignStartUnknown as exc:
            st.info(f"Response by day: {ui.plain(exc)}.")
        else:
            st.plotly_chart(
                charts.response_by_day(days, title="Cumulative share of members who bought"), key="response_by_day"
            )
            st.caption(
                "From orders: a member counts on the day of their first purchase after the send (controls: start)."
            )

        st.subheader("Members")
        member_arm = st.selectbox(
            "Arm",
            [None, *results.arms["arm"].tolist()],
            format_func=lambda a: "All arms" if a is None else a,
            key="campaign_member_arm",
        )
        member_list = ui.cached(campaigns.member_list, campaign=name, arm=member_arm)
        links = privacy.profile_links(member_list.frame["external_id"])
        frame = privacy.mask_pii(member_list.frame.assign(profile=links))
        table(
            frame,
            ["profile", "first_name", "last_name", "arm", "converted", "revenue"],
            more=["is_control", "sent_at", *(o for o in campaigns.OUTCOMES if o != "converted")],
            key="campaign_members",
            labels_={"revenue": labels.Column("Revenue", "money_cents")},
            config={"profile": privacy.profile_link_column()},
        )
        st.caption(f"{member_list.label.capitalize()}. A dash: the outcome was not recorded.")

        # Last, though it is drawn beside the segment chart: it fits the CLV model on the history before the send,
        # the slowest part of the page, and everything else should not wait for it.
        with decile_slot.container(), st.spinner("Fitting the value model on the history before the send…"):
            try:
                deciles = ui.cached(campaigns.uplift_by_predicted_value, campaign=name, arm=arm)
            except ValueError as exc:
                st.info(f"Uplift by predicted value: {ui.plain(exc)}")
            else:
                st.plotly_chart(
                    charts.uplift_by_group(
                        deciles, "decile", title="Conversion uplift by decile of value predicted before the send"
                    ),
                    key="uplift_by_decile",
                )

# --- the list ----------------------------------------------------------------------------------------------------


def open_selected() -> None:
    """A row picked in the list opens that campaign in the Results tab (widget state may change in a callback)."""
    rows = st.session_state["campaign_table"]["selection"]["rows"]
    if rows:
        st.session_state["campaign"] = st.session_state["campaign_table_names"][rows[0]]
        st.session_state["view"] = "Results"


if list_tab.open:
    with list_tab:
        channels = sorted(listing["channel"].dropna().unique())
        starts = listing["start_date"].dropna()
        left, right = st.columns(2)
        channel = left.selectbox(
            "Channel",
            [None, *channels],
            format_func=lambda c: "All channels" if c is None else labels.value_label(c),
            key="list_channel",
        )
        period = (
            right.date_input(
                "Started between",
                value=(starts.min(), starts.max()),
                min_value=starts.min(),
                max_value=starts.max(),
                format="YYYY-MM-DD",
                key="list_period",
            )
            if len(starts)
            else ()
        )
        start, end = period if len(period) == 2 else (None, None)
        filtered = ui.cached(campaigns.campaign_list, channel=channel, start=start, end=end)
        st.session_state["campaign_table_names"] = filtered["name"].tolist()
        table(
            filtered,
            ["name", "start_date", "members", "conversion_rate", "revenue", "incremental_revenue", "roi"],
            more=[
                "channel",
                "end_date",
                "treatment",
                "control",
                "open_rate",
                "click_rate",
                "control_conversion_rate",
                "cost",
            ],
            key="campaign_table",
            labels_={"name": labels.Column("Campaign", width="large")},
            on_select=open_selected,
            selection_mode="single-row",
        )
        st.caption(
            f"{formats.count(len(filtered))} of {formats.count(len(listing))} campaigns. Pick a row to open its "
            "results. "
            "Rates are over treated members with the outcome recorded; incremental revenue pools the treatment arms "
            "against the control."
        )

# --- side by side --------------------------------------------------------------------------------------------------

if compare_tab.open:
    with compare_tab:
        chosen = st.multiselect(
            "Campaigns to compare", names, default=names[: min(3, len(names))], key="compare_campaigns"
        )
        ids = tuple(int(listing.loc[listing["name"] == n, "campaign_id"].iloc[0]) for n in chosen)
        compared = ui.cached(campaigns.compare_campaigns, campaign_ids=ids)
        if compared.empty:
            st.caption("Pick campaigns to compare.")
        else:
            conversion, revenue = st.columns(2)
            conversion.plotly_chart(
                charts.uplift_by_group(
                    compared,
                    "name",
                    title="Conversion uplift, 95 % CI",
                    estimate="conversion_uplift",
                    low="conversion_ci_low",
                    high="conversion_ci_high",
                    p_value="conversion_p_value",
                ),
                key="compare_conversion",
            )
            revenue.plotly_chart(
                charts.uplift_by_group(
                    compared,
                    "name",
                    title="Revenue per member uplift, 95 % CI",
                    estimate="revenue_uplift",
                    low="revenue_ci_low",
                    high="revenue_ci_high",
                    p_value="revenue_p_value",
                    money=True,
                ),
                key="compare_revenue",
            )
            table(
                compared,
                ["name", "headline", "conversion_uplift", "revenue_uplift", "incremental_revenue", "roi"],
                more=[
                    "channel",
                    "start_date",
                    "treatment",
                    "control",
                    "conversion_rate",
                    "control_conversion_rate",
                    "conversion_p_value",
                    "revenue_p_value",
                    "cost",
                ],
                key="compare_table",
                labels_={
                    "name": labels.Column("Campaign", width="medium"),
                    "headline": labels.Column("Verdict", width="large"),
                },
            )
            st.caption("Each campaign's treatment arms pooled against its control.")

# --- the holdout-size calculator -----------------------------------------------------------------------------------

#: Treatment members per control member, as a manager names the split.
SPLITS = {1.0: "50 / 50", 4.0: "80 / 20", 9.0: "90 / 10", 19.0: "95 / 5"}

if plan_tab.open:
    with plan_tab:
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
            "Treatment / control split", list(SPLITS), format_func=SPLITS.get, index=2, key="plan_split"
        )
        try:
            plan = uplift.sample_size_two_proportions(baseline_pct / 100, effect_pp / 100, ratio=ratio)
        except ValueError as exc:
            st.warning(ui.plain(exc))
        else:
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
                f"{shown(ui.percent, power)} power to detect that uplift."
            )
