"""The Segments page's saved segments: open one to edit, save (a new version each time), import and export JSON,
see the versions and delete."""

from __future__ import annotations

import datetime as dt

import streamlit as st
from sqlalchemy.engine import Engine

import ui
from crm_core import segments
from ui import rule_builder
from ui.tables import table

NEW_SEGMENT = "— new segment —"


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


def render_picker() -> None:
    """The saved segment being edited (or a new one)."""
    saved = list(ui.cached(segments.list_segments)["name"])
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


def render(engine: Engine, rule_text: str, as_of: dt.date) -> None:
    """Save the rule being edited under a name; import segments; the versions of the one opened."""
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
    if loaded is not None:
        _versions(engine, int(loaded), as_of)


def _versions(engine: Engine, loaded: int, as_of: dt.date) -> None:
    versions = ui.cached(segments.version_sizes, segment=loaded, as_of=as_of)
    with st.expander(f"Versions and membership ({len(versions)})", icon=":material/history:"):
        table(versions, ["version", "saved_at", "customers"], labels_={"customers": "Customers now"})
        delete = st.columns([2, 2, 3])
        if delete[0].button("Delete segment", icon=":material/delete:", key="segments_delete"):
            segments.delete_segment(engine, loaded)
            st.session_state["segments_loaded"] = None
            st.session_state["segments_pending"] = NEW_SEGMENT
            st.rerun()
        delete[1].download_button(
            "Export JSON",
            ui.cached(segments.export_segments_json, segments=(loaded,)).encode("utf-8"),
            file_name=f"segment-{loaded}.json",
            mime="application/json",
            key="segments_export_json",
            icon=":material/download:",
        )
