"""The Data page's import history: every import, what it did, and the rejected rows of each."""

from __future__ import annotations

import streamlit as st

import ui
from crm_core import imports, labels
from ui.tables import table

KEY_COLUMNS = [
    "started_at",
    "file_name",
    "kind",
    "status",
    "rows_total",
    "rows_created",
    "rows_updated",
    "rows_rejected",
]
MORE_COLUMNS = ["import_id", "finished_at", "rows_unchanged", "file_hash"]


def render() -> None:
    # Not through the data cache: a failed import, or one that changes nothing, is logged without a new data version.
    history = imports.import_history(ui.get_engine())
    if history.empty:
        st.info("No file has been imported into this database yet.")
        return
    table(
        history,
        KEY_COLUMNS,
        more=MORE_COLUMNS,
        key="data_history",
        labels_={
            "import_id": labels.Column("Import", "count"),
            "started_at": "Started (UTC)",
            "finished_at": "Finished (UTC)",
            "file_hash": labels.Column("File fingerprint (SHA-256)", width="small"),
            "kind": "What it held",
        },
    )
    described: dict[int, str] = {
        int(row["import_id"]): f"#{row['import_id']} · {row['file_name']} · {labels.value_label(row['kind'])} · "
        f"{labels.value_label(row['status'])}"
        for row in history.to_dict("records")
    }
    chosen = st.selectbox(
        "One import in detail", list(described), format_func=lambda i: described[i], key="data_history_import"
    )
    row = history[history["import_id"] == chosen].iloc[0]
    st.code(row["message"] if isinstance(row["message"], str) else "", language=None)
    report = ui.cached(imports.import_report, import_id=chosen) if row["has_report"] else None
    if report is not None:
        st.download_button(
            "Download its rejected rows (CSV)",
            ui.mask_pii_text(report),
            file_name=f"import-{chosen}-rejected.csv",
            mime="text/csv",
            key="data_history_report",
            on_click="ignore",
        )
