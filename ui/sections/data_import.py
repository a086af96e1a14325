"""The Data page's import: a CSV or Excel file checked whole, then written in one transaction, through the same
functions as ``python -m crm_core import`` (``imports.check_file``, ``imports.import_file``).

The uploaded bytes are the only copy of the file the page keeps; after a successful import the uploader is reset,
which lets it go.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import streamlit as st

import ui
from crm_core import db, imports
from crm_core.imports import campaign_results
from ui.sections import data_check
from ui.sections.data_mapping import KINDS, fields_help, mapping_editor, recognised_preset, results_layout

KIND_KEY = "data_kind"
#: The kind of a recognised platform export, for the kind select box of the next rerun (set before it is drawn).
_FOLLOWED_KIND_KEY = "data_kind_followed"

Progress = Callable[[float, str], None]


def _memo(name: str, key: Any, compute: Callable[[], Any]) -> Any:
    """``compute()`` once per ``key`` in this session (the last key only, so that one upload is held at a time)."""
    slot = f"data_memo_{name}"
    stored = st.session_state.get(slot)
    if stored is None or stored[0] != key:
        stored = (key, compute())
        st.session_state[slot] = stored
    return stored[1]


def _forget_upload() -> None:
    """A fresh uploader (a new key) after an import, so that the file leaves memory."""
    st.session_state["data_upload_round"] = st.session_state.get("data_upload_round", 0) + 1
    for name in ("header", "check"):
        st.session_state.pop(f"data_memo_{name}", None)


def _run_import(file_id: str, write: Callable[[Progress], imports.ImportResult]) -> None:
    """Run one import with a progress bar; keep its outcome for the next rerun, which shows the new data."""
    bar = st.progress(0.0, text="Starting the import")

    def progress(fraction: float, message: str) -> None:
        bar.progress(min(max(fraction, 0.0), 1.0), text=message)

    try:
        result = write(progress)
    except imports.ImportFailed as failure:
        outcome = (failure.summary(), imports.problems_frame([*failure.problems, *failure.warnings]))
        st.session_state["data_last_import"] = (file_id, outcome)
    except db.ReadOnlyFactsError as refused:  # Spark SQL: imports belong in the team's pipeline
        st.session_state["data_last_import"] = (file_id, (str(refused), imports.problems_frame([])))
    else:
        st.session_state["data_last_import"] = (file_id, result)
        _forget_upload()
    st.rerun()


def _kind() -> str:
    """What the file holds, as chosen; a recognised platform export sets it to the kind it holds."""
    followed = st.session_state.pop(_FOLLOWED_KIND_KEY, None)
    if followed is not None:
        st.session_state[KIND_KEY] = followed
    return st.selectbox("What the file holds", list(KINDS), format_func=lambda k: KINDS[k], key=KIND_KEY)


def render() -> None:
    kind = _kind()
    upload = st.file_uploader(
        "A CSV file (UTF-8, comma, semicolon, tab or pipe) or an Excel .xlsx file",
        type=["csv", "txt", "tsv", "xlsx"],
        key=f"data_upload_{st.session_state.get('data_upload_round', 0)}",
    )
    data_check.render_last_import(None if upload is None else upload.file_id)
    if upload is None:
        st.caption(fields_help(kind))
        return
    data, name = upload.getvalue(), upload.name
    header = _memo("header", upload.file_id, lambda: imports.file_header(data, name))
    engine = ui.get_engine()
    if kind == campaign_results.KIND:
        chosen = results_layout(header)
        if chosen is None:
            return
        layout, settings = chosen
        key: tuple[Any, ...] = (upload.file_id, repr(layout), settings.name)
        with st.spinner("Checking every row…"):
            check = _memo("check", key, lambda: imports.check_campaign_results_file(data, layout, settings.name))
    else:
        preset = recognised_preset(header, upload.file_id)
        if preset is not None and preset.kind != kind:
            # The select box above must say what will be imported: it follows the export on the next run.
            st.session_state[_FOLLOWED_KIND_KEY] = preset.kind
            st.rerun()
        if preset is not None:
            st.caption(
                f"A {preset.label} holds {KINDS[preset.kind].lower()}: it is imported as such. To import it as "
                "something else, switch the preset off and choose what the file holds."
            )
        preset_name = preset.name if preset else imports.NO_PRESET
        st.markdown("**Columns** — what each column of the file holds")
        mapping = mapping_editor(kind, header, upload.file_id, preset)
        key = (upload.file_id, kind, preset_name, tuple(sorted(mapping.items())))
        with st.spinner("Checking every row…"):
            check = _memo(
                "check", key, lambda: imports.check_file(kind, data, mapping, file_name=name, preset=preset_name)
            )
    data_check.render(check, Path(name).stem)
    skip = st.toggle(
        "Skip bad rows",
        key="data_skip",
        disabled=not (check.problems and check.importable),
        help="Import the valid rows; the rejected ones, with their reasons, stay in the import history.",
    )
    on_error = "skip" if skip else "abort"
    blocked = not check.importable or (bool(check.problems) and not skip)
    if not st.button(f"Import {check.rows:,} rows", type="primary", disabled=blocked, key="data_import"):
        return
    if kind == campaign_results.KIND:
        _run_import(
            upload.file_id,
            lambda progress: campaign_results.import_campaign_results(
                engine, data, layout, settings, on_error=on_error, file_name=name, progress=progress
            ),
        )
        return
    if preset is None:  # a preset's mapping is the preset's, not one to offer for the next file
        st.session_state.setdefault("data_mappings", {})[kind] = mapping
        imports.remember_mapping(engine, kind, mapping)
    _run_import(
        upload.file_id,
        lambda progress: imports.import_file(
            engine,
            kind,
            data,
            mapping=mapping,
            on_error=on_error,
            file_name=name,
            progress=progress,
            preset=preset_name,
        ),
    )
