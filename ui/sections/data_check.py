"""The Data page's report on a file: what the check found before the import (errors, warnings, a preview), and
what the last import did."""

from __future__ import annotations

import streamlit as st

import ui
from crm_core import imports, labels
from ui.tables import table

#: Problems listed on the page; the download has them all.
PROBLEMS_SHOWN = 1000
#: Columns of a file's preview shown before "More columns": enough to recognise the rows at 1440 px.
KEY_COLUMNS = 7
PROBLEM_COLUMNS = ["severity", "line", "column", "reason", "value"]


def render(check: imports.FileCheck, stem: str) -> None:
    """The check of a file named ``stem``: whether it can be imported, every problem, the preview."""
    if not check.problems:
        every = "The row is" if check.rows == 1 else f"All {check.rows:,} rows are"
        st.success(f"{every} valid.", icon=":material/check_circle:")
    elif not check.importable:
        st.error("The file cannot be imported:", icon=":material/error:")
    else:
        st.error(
            f"{len(check.problems):,} error{'s' if len(check.problems) != 1 else ''} on {check.bad_lines:,} of "
            f"{check.rows:,} rows. Fix the file, or skip the bad rows.",
            icon=":material/error:",
        )
    if check.warnings:
        count = len(check.warnings)
        st.warning(
            f"{count:,} warning{'s' if count != 1 else ''}: the rows are kept, and each warning says what the import "
            "assumes.",
            icon=":material/warning:",
        )
    if check.problems or check.warnings:
        problems = check.problems_frame()
        table(
            ui.mask_pii(problems.head(PROBLEMS_SHOWN), {"value": "text"}),
            PROBLEM_COLUMNS,
            key="data_problems",
            labels_={"reason": labels.Column("Reason", width="large")},
        )
        if len(problems) > PROBLEMS_SHOWN:
            st.caption(f"The first {PROBLEMS_SHOWN:,} of {len(problems):,} problems; the download has them all.")
        st.download_button(
            "Download every problem (CSV)",
            ui.mask_pii_text(check.problems_csv()),
            file_name=f"{stem}.problems.csv",
            mime="text/csv",
            key="data_problems_download",
            on_click="ignore",
        )
    if len(check.preview):
        st.markdown("**Preview** — the first rows as they will be stored")
        preview = ui.mask_pii(check.preview)
        # Columns the import derives for matching (a normalised email) are its own business, not the file's.
        shown = [c for c in preview.columns if not str(c).endswith("_norm")]
        table(preview, shown[:KEY_COLUMNS], more=shown[KEY_COLUMNS:], key="data_preview")


def render_last_import(file_id: str | None) -> None:
    """The outcome of the last import, while its file (or no file) is in the uploader."""
    stored = st.session_state.get("data_last_import")
    if stored is None or file_id not in (None, stored[0]):
        return
    last = stored[1]
    if isinstance(last, imports.ImportResult):
        st.success(
            f"Imported {ui.plain(last.file_name)} ({labels.value_label(last.kind).lower()}): "
            f"{labels.value_label(last.status).lower()}.",
            icon=":material/task_alt:",
        )
        created, updated, unchanged, skipped, warned = st.columns(5)
        created.metric("Created", ui.number(last.created))
        updated.metric("Updated", ui.number(last.updated))
        unchanged.metric("Unchanged", ui.number(last.unchanged))
        skipped.metric("Skipped (errors)", ui.number(last.rejected))
        warned.metric("Warnings", ui.number(len(last.warnings)))
        with st.expander("What the import did"):
            st.text(last.describe())
        return
    summary, problems = last
    st.error(summary, icon=":material/error:")
    table(
        ui.mask_pii(problems.head(PROBLEMS_SHOWN), {"value": "text"}),
        PROBLEM_COLUMNS,
        labels_={"reason": labels.Column("Reason", width="large")},
    )
    st.caption("Nothing was written. The import history keeps this attempt and its report.")
