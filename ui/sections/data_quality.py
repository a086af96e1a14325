"""The Data page's data-quality report: what is wrong with the data, how much, and how the metrics treat it."""

from __future__ import annotations

import streamlit as st

import ui
from crm_core import labels, quality
from ui.tables import table


def render() -> None:
    """The report runs alongside the rest of the page: with a business start of its own it is computed anew,
    seconds at a million customers, and the tabs after it must not wait for it."""
    ui.alongside(_report)


def _report() -> None:
    since = st.date_input(
        "The business started on",
        value=None,
        key="data_since",
        format="YYYY-MM-DD",
        help="Dates before this day are reported. Empty: the first customer's sign-up date.",
    )
    with ui.working("Checking the data for problems…", quality.quality_report, business_start=since):
        checks = ui.cached(quality.quality_report, business_start=since)
    report = quality.report_frame(checks).assign(breakdown=[labels.breakdown_text(check.breakdown) for check in checks])
    table(
        report,
        ["title", "count", "share", "breakdown"],
        key="data_quality_table",
        labels_={
            "title": labels.Column("Check", width="large"),
            "count": labels.Column("Found", "count"),
            "breakdown": labels.Column("Of which", width="large"),
        },
    )
    for check in checks:
        icon = ":material/check_circle:" if check.count == 0 else ":material/warning:"
        with st.expander(f"{check.title}: {ui.number(check.count)}", icon=icon):
            st.markdown(f"**How the metrics treat them.** {check.treatment}")
            if len(check.examples):
                table(ui.mask_pii(check.examples), list(check.examples.columns))
