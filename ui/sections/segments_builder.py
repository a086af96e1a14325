"""The Segments page's rule builder: a rule of AND/OR groups with live key figures, saved with versions, its
members, and its export for a campaign."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import streamlit as st

import ui
from crm_core import db, formats, labels, rfm, segments
from ui import export_panel, rule_builder
from ui.sections import segments_members, segments_saved

#: The rule being edited, as other sections of the page offer it.
CURRENT_RULE = "The rule being edited"
_CURRENT_RULE_KEY = "segments_current_rule"


def current_rule() -> str | None:
    """The last complete rule drawn by the builder in this session (its JSON), for comparison and concentration."""
    return st.session_state.get(_CURRENT_RULE_KEY)


def _apply_json(key: str) -> None:
    try:
        rule = json.loads(segments.rule_json(st.session_state[key]))
    except segments.RuleError as exc:
        st.session_state["segments_json_error"] = str(exc)
        return
    st.session_state["segments_json_error"] = None
    rule_builder.set_rule(rule)


def _rule_as_json(rule: dict) -> None:
    with st.expander("Rule as JSON", icon=":material/data_object:"):
        text = json.dumps(rule, indent=2, ensure_ascii=False)
        # Keyed by the rule itself, so that the text follows every edit made with the widgets above.
        key = f"segments_json_{hashlib.sha256(text.encode()).hexdigest()[:12]}"
        st.text_area("JSON", value=text, key=key, height=220)
        st.button("Apply JSON", on_click=_apply_json, args=(key,), key="segments_apply_json")
        if st.session_state.get("segments_json_error"):
            st.error(ui.plain(st.session_state["segments_json_error"]))


def _key_figures(preview: segments.SegmentPreview) -> None:
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
    if preview.scores_stale:
        st.caption(f"{db.STALE_SCORES_NOTE} They are updated on the next visit of a page.")
    st.caption(
        f"{ui.percent(preview.share)} of customers, {ui.percent(preview.revenue_share)} of revenue; "
        f"{formats.number(preview.orders_per_buyer)} orders per buyer; "
        f"average chance of still being active {formats.percent(preview.avg_p_alive)}."
    )


def render(as_of: dt.date, cuts: rfm.RfmCuts) -> None:
    engine = ui.get_engine()
    segments_saved.render_picker()
    attribute_fields = [f"attribute:{name}" for name in ui.cached(segments.attribute_names)]
    rule = rule_builder.draw(
        [*segments.FIELDS, *attribute_fields], lambda name: ui.cached(segments.field_values, field_name=name)
    )
    _rule_as_json(rule)
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
    _key_figures(ui.cached(segments.segment_preview, rule=rule_text, as_of=as_of, cuts=cuts, bounds=bounds))
    st.session_state[_CURRENT_RULE_KEY] = rule_text

    segments_saved.render(engine, rule_text, as_of)
    segments_members.render(rule_text, as_of, cuts, bounds)
    export_panel.render(
        lambda channel: ui.cached(
            segments.export_segment,
            rule=rule_text,
            channel=channel,
            as_of=as_of,
            cuts=cuts,
            bounds=bounds,
            mask=ui.masking_enabled(),
        ),
        channels=segments.EXPORT_CHANNELS,
        file_name=lambda channel: f"segment-{channel}-{as_of}.csv",
        key="segments",
    )
