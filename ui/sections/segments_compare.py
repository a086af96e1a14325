"""The Segments page's comparison: up to four segments side by side, their notable differences highlighted."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

import ui
from crm_core import charts, db, formats, labels, rfm, segments
from ui.sections.segments_builder import CURRENT_RULE, current_rule
from ui.tables import table

RFM_PREFIX = "RFM: "
HIGHLIGHT = "background-color: #fef3c7; font-weight: 600"
#: How each kind of comparison measure is written (segments.COMPARISON_METRICS).
WRITERS: dict[str, Callable[[Any], str]] = {
    "count": formats.count,
    "rate": formats.percent,
    "money": ui.currency_cents,
    "ratio": formats.number,
}


def _chosen_rules(chosen: list[str], definitions: dict[str, str], current: str | None) -> tuple[tuple[str, str], ...]:
    pairs = []
    for name in chosen:
        if name == CURRENT_RULE and current is not None:
            pairs.append((name, current))
        elif name.startswith(RFM_PREFIX):
            pairs.append((name, segments.rule_json(segments.rfm_segment_rule(name.removeprefix(RFM_PREFIX)))))
        else:
            pairs.append((name, definitions[name]))
    return tuple(pairs)


def _side_by_side(compared: segments.SegmentComparison) -> None:
    notable = set(zip(compared.highlights["segment"], compared.highlights["column"], strict=True))
    metrics = compared.metrics.set_index("segment")
    side_by_side = pd.DataFrame(
        {
            "measure": [label for _, label, _ in segments.COMPARISON_METRICS],
            **{
                str(name): [WRITERS[kind](metrics.loc[name, column]) for column, _, kind in segments.COMPARISON_METRICS]
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


def render(as_of: dt.date, cuts: rfm.RfmCuts) -> None:
    saved = ui.cached(segments.list_segments)
    options = [f"{RFM_PREFIX}{name}" for name in rfm.segment_names()] + list(saved["name"])
    current = current_rule()
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
    rules = _chosen_rules(chosen, definitions, current)
    compared = ui.cached(segments.compare_segments, segments=rules, as_of=as_of, cuts=cuts)
    _side_by_side(compared)
    if compared.scores_stale:
        st.caption(f"{db.STALE_SCORES_NOTE} They are updated on the next visit of a page.")
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
        shown = ["segment", "rank", "category", "revenue", "share"]
        relabelled = {"rank": labels.Column("#", "count"), "share": labels.Column("Share of its revenue", "percent")}
        table(
            compared.categories,
            shown,
            labels_=relabelled,
        )
