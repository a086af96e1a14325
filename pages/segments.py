"""Segments: find the groups of customers worth talking to and hand them to a campaign (DESIGN.md §4, issue 5).

RFM map and named segments, a rule builder with live key figures (saved with versions, exported as a
consent-clean contact list), side-by-side comparison, migration between two dates, cohort retention and value
concentration. Only the chosen part runs; every figure comes from crm_core through the data cache.
"""

import datetime as dt
import hashlib
import json

import pandas as pd
import streamlit as st

import ui
from crm_core import charts, cohorts, concentration, formats, labels, purchases, rfm, segments
from ui import rule_builder
from ui.tables import table

ui.page("Segments")

#: Segments of frequent buyers gone silent, whose low predicted value the page explains (labels.EXPLANATIONS).
LAPSED_SEGMENTS = ("Cannot lose them", "At risk")
LOW_VALUE = 5.0
SECTIONS = ["RFM map", "Rule builder", "Compare", "Migration", "Cohorts", "Concentration"]
NEW_SEGMENT = "— new segment —"
RFM_PREFIX = "RFM: "
CURRENT_RULE = "The rule being edited"
HIGHLIGHT = "background-color: #fef3c7; font-weight: 600"

as_of = ui.cached(purchases.default_as_of)

with st.expander("RFM scoring", icon=":material/tune:"):
    st.caption(
        "Scores 1-5 (5 = best) by quintile, or by your cut points: recency in days (a cut point belongs to the "
        "better score: 30 = within 30 days), frequency in purchases and monetary in revenue (from this many on)."
    )
    method = st.radio("Cut scores by", ["Quintiles", "Cut points"], horizontal=True, key="segments_cut_method")
    cuts = rfm.RfmCuts()
    if method == "Cut points":
        texts = [
            st.text_input(f"{label} cut points", value=default, key=f"segments_cuts_{name}")
            for name, label, default in (
                ("recency", "Recency (days)", "30,90,180,365"),
                ("frequency", "Frequency (purchases)", "2,3,5,10"),
                ("monetary", "Monetary (revenue)", "100,250,500,1000"),
            )
        ]
        try:
            cuts = rfm.RfmCuts(*(rfm.parse_cut_points(text) for text in texts))
        except ValueError as exc:
            st.error(f"{ui.plain(exc)} - scoring by quintile meanwhile.")
st.caption(f"As of {as_of} (the day after the last order); scored by {cuts.method}.")

section = st.segmented_control(
    "Part", SECTIONS, default=SECTIONS[0], key="segments_section", label_visibility="collapsed"
)


def rfm_map_part() -> None:
    grid = ui.cached(rfm.rfm_grid, as_of=as_of, cuts=cuts)
    named = ui.cached(segments.named_segments, as_of=as_of, cuts=cuts)
    left, right = st.columns([3, 2])
    left.plotly_chart(charts.rfm_map(grid, title="Customers and revenue by R and F score"), key="rfm_map")
    right.plotly_chart(charts.segment_value(named, title="Share of customers and of revenue"), key="segment_value")
    table(
        named,
        ["segment", "customers", "share", "revenue_share", "avg_clv", "action"],
        labels_={"share": labels.Column("Share of customers", "percent")},
    )
    lapsed = named[named["segment"].isin(LAPSED_SEGMENTS) & (named["avg_clv"] < LOW_VALUE)]
    if len(lapsed):
        st.caption(labels.EXPLANATIONS["lapsed_frequent_buyers"])
    with st.expander("What the scores cover"):
        table(
            ui.cached(rfm.score_ranges, as_of=as_of, cuts=cuts),
            ["dimension", "score", "customers", "min_value", "max_value"],
            labels_={"score": labels.Column("Score", "count")},
        )


def _load_saved() -> None:
    name = st.session_state["segments_saved"]
    if name == NEW_SEGMENT:
        st.session_state["segments_loaded"] = None
        st.session_state["segments_name"] = ""
        rule_builder.set_rule(segments.empty_rule())
        return
    saved = segments.get_segment(ui.get_engine(), name)
    st.session_state["segments_loaded"] = saved.id
    st.session_state["segments_name"] = saved.name
    st.session_state["segments_description"] = saved.description or ""
    rule_builder.set_rule(saved.rule)


def _apply_json(key: str) -> None:
    try:
        rule = json.loads(segments.rule_json(st.session_state[key]))
    except segments.RuleError as exc:
        st.session_state["segments_json_error"] = str(exc)
        return
    st.session_state["segments_json_error"] = None
    rule_builder.set_rule(rule)


def saved_segments_bar(saved: list[str]) -> None:
    pending = st.session_state.pop("segments_pending", None)
    if pending is not None:  # a segment just saved or deleted: open it (or none) before the list is drawn
        st.session_state["segments_saved"] = pending if pending in saved else NEW_SEGMENT
    st.selectbox(
        "Saved segment",
        [NEW_SEGMENT, *saved],
        key="segments_saved",
        on_change=_load_saved,
        help="Open a saved segment to edit it; saving it again keeps the previous definition as a version.",
    )


def builder_part() -> None:
    engine = ui.get_engine()
    saved = ui.cached(segments.list_segments)
    saved_segments_bar(list(saved["name"]))
    attribute_fields = [f"attribute:{name}" for name in ui.cached(segments.attribute_names)]
    rule = rule_builder.draw(
        [*segments.FIELDS, *attribute_fields], lambda name: ui.cached(segments.field_values, field_name=name)
    )
    with st.expander("Rule as JSON", icon=":material/data_object:"):
        text = json.dumps(rule, indent=2, ensure_ascii=False)
        # Keyed by the rule itself, so that the text follows every edit made with the widgets above.
        key = f"segments_json_{hashlib.sha256(text.encode()).hexdigest()[:12]}"
        st.text_area("JSON", value=text, key=key, height=220)
        st.button("Apply JSON", on_click=_apply_json, args=(key,), key="segments_apply_json")
        if st.session_state.get("segments_json_error"):
            st.error(ui.plain(st.session_state["segments_json_error"]))
    try:
        rule_text = segments.rule_json(rule)
    except segments.RuleError as exc:
        # A condition just added has no value yet: that is work in progress, not an error. What is missing is said
        # when the user tries to use the rule.
        st.caption("Complete the conditions to see how many customers the rule selects.")
        if st.button("Save segment", icon=":material/save:", key="segments_save_incomplete", type="primary"):
            st.warning(
                f"The rule is not complete yet. {ui.plain(labels.rule_problem(str(exc)))}", icon=":material/edit:"
            )
        return
    bounds = ui.cached(rfm.score_bounds, as_of=as_of, cuts=cuts) if segments.needs_rfm_bounds(rule_text) else None
    preview = ui.cached(segments.segment_preview, rule=rule_text, as_of=as_of, cuts=cuts, bounds=bounds)
    figures = st.columns(4)
    figures[0].metric(
        "Customers", ui.number(preview.customers), border=True, help=f"{ui.percent(preview.share)} of all"
    )
    figures[1].metric(
        "Revenue", ui.compact_currency(preview.revenue), border=True, help=f"{ui.percent(preview.revenue_share)} of all"
    )
    figures[2].metric(
        "Avg order value",
        formats.MISSING if preview.average_order_value is None else ui.currency_cents(preview.average_order_value),
        border=True,
    )
    member_range = (
        None
        if preview.avg_clv_low80 is None or preview.avg_clv_high80 is None
        else f"80 %: {ui.currency(preview.avg_clv_low80)}–{ui.currency(preview.avg_clv_high80)}"
    )
    figures[3].metric(
        "Avg predicted CLV",
        formats.MISSING if preview.avg_clv is None else ui.currency_cents(preview.avg_clv),
        member_range,
        delta_color="off",
        delta_arrow="off",
        border=True,
        help="The members' average predicted value, and the average ends of their 80 % ranges: a typical member "
        "brings between these with 80 % probability.",
    )
    st.caption(
        f"{ui.percent(preview.share)} of customers, {ui.percent(preview.revenue_share)} of revenue; "
        f"{formats.number(preview.orders_per_buyer)} orders per buyer; "
        f"average chance of still being active {formats.percent(preview.avg_p_alive)}."
    )
    st.session_state["segments_current_rule"] = rule_text

    save_part(engine, rule_text)
    members_part(rule_text, bounds)
    export_part(rule_text, bounds)


def save_part(engine, rule_text: str) -> None:
    st.subheader("Save")
    name_column, description_column, button_column = st.columns([3, 4, 2], vertical_alignment="bottom")
    name = name_column.text_input("Name", key="segments_name")
    description = description_column.text_input("Description", key="segments_description")
    loaded = st.session_state.get("segments_loaded")
    if button_column.button("Save segment", icon=":material/save:", key="segments_save", type="primary"):
        try:
            result = segments.save_segment(engine, name, rule_text, description or None, segment_id=loaded)
        except segments.SegmentError as exc:
            st.error(ui.plain(exc))
        else:
            st.session_state["segments_loaded"] = result.id
            st.session_state["segments_pending"] = result.name
            st.toast(f"Saved {ui.plain(result.name)}, version {result.version}")
            st.rerun()
    with st.popover("Import segments (JSON)", icon=":material/upload:"):
        uploaded = st.file_uploader("Import segments (JSON)", type=["json"], key="segments_import")
        if uploaded is not None and st.button("Import", key="segments_import_button"):
            try:
                imported = segments.import_segments_json(engine, uploaded.getvalue())
            except segments.SegmentError as exc:
                st.error(ui.plain(exc))
            else:
                st.success("Imported " + ", ".join(f"{ui.plain(s.name)} (version {s.version})" for s in imported))
    if loaded is None:
        return
    versions = ui.cached(segments.version_sizes, segment=int(loaded), as_of=as_of)
    with st.expander(f"Versions and membership ({len(versions)})", icon=":material/history:"):
        table(versions, ["version", "saved_at", "customers"], labels_={"customers": "Customers now"})
        delete = st.columns([2, 2, 3])
        if delete[0].button("Delete segment", icon=":material/delete:", key="segments_delete"):
            segments.delete_segment(engine, int(loaded))
            st.session_state["segments_loaded"] = None
            st.session_state["segments_pending"] = NEW_SEGMENT
            st.rerun()
        delete[1].download_button(
            "Export JSON",
            ui.cached(segments.export_segments_json, segments=(int(loaded),)).encode("utf-8"),
            file_name=f"segment-{loaded}.json",
            mime="application/json",
            key="segments_export_json",
            icon=":material/download:",
        )


def members_part(rule_text: str, bounds) -> None:
    st.subheader("Members")
    members = ui.cached(segments.segment_members, rule=rule_text, as_of=as_of, cuts=cuts, bounds=bounds)
    shown = ui.mask_pii(members.frame).assign(customer_id=ui.profile_links(members.frame["customer_id"]))
    key_columns = ["customer_id", "first_name", "last_name", "revenue", "last_order", "clv", "churn_risk"]
    table(
        shown,
        key_columns,
        more=[c for c in shown.columns if c not in key_columns],
        key="segments_members",
        config={"customer_id": ui.profile_link_column("Customer")},
    )
    if members.capped:
        st.caption(
            f"The {formats.count(len(members.frame))} highest-revenue of {formats.count(members.total)} members; "
            "the export has them all."
        )


def export_part(rule_text: str, bounds) -> None:
    st.subheader("Export for a campaign")
    channel = st.segmented_control(
        "Channel",
        list(segments.EXPORT_CHANNELS),
        default="email",
        key="segments_channel",
        format_func=labels.value_label,
    )
    if channel is None:
        return
    export = ui.cached(
        segments.export_segment,
        rule=rule_text,
        channel=channel,
        as_of=as_of,
        cuts=cuts,
        bounds=bounds,
        mask=ui.masking_enabled(),
    )
    left, right = st.columns([2, 3])
    left.metric(
        "Can be contacted",
        ui.number(export.exported),
        f"of {formats.count(export.members)} members",
        delta_color="off",
        delta_arrow="off",
    )
    table(
        export.excluded,
        ["reason", "customers"],
        container=right,
        labels_={"reason": labels.Column("Left out because", width="medium")},
    )
    st.download_button(
        f"Download the {labels.value_label(channel).lower()} list (CSV)",
        export.csv_bytes(),
        file_name=f"segment-{channel}-{as_of}.csv",
        mime="text/csv",
        key="segments_download",
        icon=":material/download:",
        disabled=export.exported == 0,
    )
    st.caption(
        "Only customers who opted in to this channel; never erased or suppressed ones. Cells that a spreadsheet "
        "would run as a formula start with a ' ."
        + (" Personal data is masked (the switch in the sidebar)." if ui.masking_enabled() else "")
    )


def compare_part() -> None:
    saved = ui.cached(segments.list_segments)
    options = [f"{RFM_PREFIX}{name}" for name in rfm.segment_names()] + list(saved["name"])
    current = st.session_state.get("segments_current_rule")
    if current:
        options.insert(0, CURRENT_RULE)
    default = [o for o in (CURRENT_RULE, f"{RFM_PREFIX}Champions") if o in options]
    chosen = st.multiselect(
        "Segments to compare", options, default=default, max_selections=segments.MAX_COMPARED, key="segments_compare"
    )
    if not chosen:
        st.caption("Choose up to four segments.")
        return
    definitions = dict(zip(saved["name"], saved["definition"], strict=True))
    pairs = []
    for name in chosen:
        if name == CURRENT_RULE:
            pairs.append((name, current))
        elif name.startswith(RFM_PREFIX):
            pairs.append((name, segments.rule_json(segments.rfm_segment_rule(name.removeprefix(RFM_PREFIX)))))
        else:
            pairs.append((name, definitions[name]))
    compared = ui.cached(segments.compare_segments, segments=tuple(pairs), as_of=as_of, cuts=cuts)
    notable = set(zip(compared.highlights["segment"], compared.highlights["column"], strict=True))
    writers = {"count": formats.count, "rate": formats.percent, "money": ui.currency_cents, "ratio": formats.number}
    metrics = compared.metrics.set_index("segment")
    side_by_side = pd.DataFrame(
        {
            "measure": [label for _, label, _ in segments.COMPARISON_METRICS],
            **{
                str(name): [writers[kind](metrics.loc[name, column]) for column, _, kind in segments.COMPARISON_METRICS]
                for name in metrics.index
            },
        }
    )
    columns = [column for column, _, _ in segments.COMPARISON_METRICS]
    styled = side_by_side.style.apply(
        lambda row: [
            HIGHLIGHT if (segment, columns[row.name]) in notable else "" for segment in ["measure", *metrics.index]
        ],
        axis=1,
    )
    st.dataframe(
        styled,
        hide_index=True,
        width="stretch",
        column_config={
            "measure": st.column_config.TextColumn("Measure", width="medium"),
            **{str(name): st.column_config.TextColumn(str(name)) for name in metrics.index},
        },
    )
    if compared.highlights.empty:
        st.caption("No notable differences.")
    else:
        st.markdown(
            "**Notable differences**\n" + "\n".join(f"- {ui.plain(text)}" for text in compared.highlights["text"])
        )
    left, right = st.columns(2)
    left.plotly_chart(charts.channel_mix(compared.channels, title="Purchases by sales channel"), key="channel_mix")
    with right:
        st.markdown("**Top categories by revenue**")
        table(
            compared.categories,
            ["segment", "rank", "category", "revenue", "share"],
            labels_={"rank": labels.Column("#", "count"), "share": labels.Column("Share of its revenue", "percent")},
        )


def migration_part() -> None:
    dates = st.date_input(
        "From date A to date B",
        value=(as_of - dt.timedelta(days=365), as_of),
        max_value=as_of,
        format="YYYY-MM-DD",
        key="segments_migration_dates",
        help="Segments are scored on each date on their own; customers who first bought after A start from "
        "'No purchase yet'.",
    )
    if len(dates) != 2 or dates[0] >= dates[1]:
        st.caption("Pick two different dates, A before B.")
        return
    flows = ui.cached(rfm.segment_migration, date_a=dates[0], date_b=dates[1], cuts=cuts)
    st.plotly_chart(charts.segment_migration(flows, title=f"RFM segments on {dates[0]} → {dates[1]}"), key="sankey")
    table(
        flows,
        ["segment_a", "segment_b", "customers"],
        labels_={"segment_a": f"Segment on {dates[0]}", "segment_b": f"Segment on {dates[1]}"},
    )


def cohorts_part() -> None:
    controls = st.columns(5)
    period = controls[0].segmented_control("Cohorts by", list(cohorts.PERIODS), default="month", key="cohort_period")
    value = controls[1].segmented_control(
        "Retention of",
        ["retention", "revenue_retention"],
        default="retention",
        format_func={"retention": "customers", "revenue_retention": "revenue"}.get,
        key="cohort_value",
    )
    segment = controls[2].selectbox("RFM segment", ["All", *rfm.segment_names()], key="cohort_segment")
    channels = ui.cached(segments.field_values, field_name="acquisition_channel")
    channel = controls[3].selectbox(
        "Acquisition channel", ["All", *channels], key="cohort_channel", format_func=labels.value_label
    )
    exposure = controls[4].selectbox(
        "Campaign exposure",
        ["All", *cohorts.EXPOSURES],
        format_func=lambda e: cohorts.EXPOSURES.get(e, "all customers"),
        key="cohort_exposure",
    )
    period = period or "month"
    first = as_of - dt.timedelta(days=730 if period == "month" else 182)
    frame = ui.cached(
        cohorts.cohort_retention,
        period=period,
        as_of=as_of,
        segment=None if segment == "All" else segment,
        acquisition_channel=None if channel == "All" else channel,
        exposure=None if exposure == "All" else exposure,
        first_cohort=first,
        cuts=cuts,
    )
    label = "revenue retention" if value == "revenue_retention" else "customer retention"
    st.plotly_chart(
        charts.cohort_heatmap(frame, value or "retention", title=f"{label.capitalize()} by {period} of first purchase"),
        key="cohort_heatmap",
    )
    st.caption(
        f"Cohorts of the last {'24 months' if period == 'month' else '26 weeks'}. Period 0 is the {period} of the "
        "first purchase (every member bought); revenue retention compares each period's revenue with period 0's."
    )


def concentration_part() -> None:
    scope = st.segmented_control(
        "Customers", ["All buyers", CURRENT_RULE], default="All buyers", key="concentration_scope"
    )
    rule = st.session_state.get("segments_current_rule") if scope == CURRENT_RULE else None
    if scope == CURRENT_RULE and rule is None:
        st.caption("Build a rule in the rule builder first.")
        return
    result = ui.cached(concentration.value_concentration, as_of=as_of, rule=rule, cuts=cuts)
    figures = st.columns(len(result.top) + 1)
    for column, (percent, count, share) in zip(
        figures, zip(result.top["top_percent"], result.top["customers"], result.top["share"], strict=True), strict=False
    ):
        column.metric(
            f"Top {percent:g}%",
            ui.percent(share),
            f"{formats.count(count)} customers",
            delta_color="off",
            delta_arrow="off",
            border=True,
        )
    figures[-1].metric(
        "Gini",
        formats.MISSING if result.gini is None else f"{result.gini:.2f}",
        border=True,
        help="0 when every buyer brings the same revenue, towards 1 when one brings everything.",
    )
    st.plotly_chart(charts.lorenz_curve(result.lorenz, result.top, title="Lorenz curve of revenue"), key="lorenz")
    st.caption(
        f"Over {formats.count(result.buyers)} buyers with {ui.compact_currency(result.revenue)} revenue before {as_of}."
    )


PARTS = {
    "RFM map": rfm_map_part,
    "Rule builder": builder_part,
    "Compare": compare_part,
    "Migration": migration_part,
    "Cohorts": cohorts_part,
    "Concentration": concentration_part,
}
PARTS[section or SECTIONS[0]]()
