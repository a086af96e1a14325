"""Data: bring a file in, see what is wrong with the data, what every import did, erase a person on request, and
the database in use (DESIGN.md §4; README "The Data page").

An upload goes through the same functions as ``python -m crm_core import``: the whole file is checked first
(``imports.check_file``), then ``imports.import_file`` writes it in one transaction. The uploaded bytes are the
only copy of the file the page keeps; after a successful import the uploader is reset, which lets it go.
"""

from pathlib import Path

import pandas as pd
import streamlit as st

import ui
from crm_core import db, erasure, imports, labels, profiles, quality, schema
from crm_core.imports import campaign_results, presets
from crm_core.imports.presets import Preset
from ui.tables import table

ui.page("Data")

KINDS = {
    "customers": "Customers",
    "orders": "Orders (one row per order, or per order line)",
    "interactions": "Interactions",
    "feedback": "Feedback",
    campaign_results.KIND: "Campaign results (one row per campaign member)",
}
NOT_MAPPED = "—"
#: Problems listed on the page; the download has them all.
PROBLEMS_SHOWN = 1000
#: Columns of a file's preview shown before "More columns": enough to recognise the rows at 1440 px.
KEY_COLUMNS = 7


def memo(name: str, key, compute):
    """``compute()`` once per ``key`` in this session (the last key only, so that one upload is held at a time)."""
    slot = f"data_memo_{name}"
    stored = st.session_state.get(slot)
    if stored is None or stored[0] != key:
        stored = (key, compute())
        st.session_state[slot] = stored
    return stored[1]


def forget_upload() -> None:
    """A fresh uploader (a new key) after an import, so that the file leaves memory."""
    st.session_state["data_upload_round"] = st.session_state.get("data_upload_round", 0) + 1
    for name in ("header", "check"):
        st.session_state.pop(f"data_memo_{name}", None)


def fields_help(kind: str) -> str:
    if kind == campaign_results.KIND:
        return "One row per campaign member: an arm column, the control's arm value, optional outcome columns."
    required = set(imports.REQUIRED_ONE_OF.get(kind, ()))
    names = [f"**`{f.name}`**" if f.required or f.name in required else f"`{f.name}`" for f in imports.FIELDS[kind]]
    return f"Column names read without mapping (required in bold): {', '.join(names)}."


def mapping_editor(kind: str, header: list[str], file_id: str, preset: Preset | None = None) -> dict[str, str]:
    """One select box per column of the file: the import field it holds — as the platform preset reads it, else
    guessed from the header or the mapping last used for this kind."""
    if preset is not None:
        remembered, guessed = preset.proposed_mapping(header), {}
    else:
        mappings = st.session_state.setdefault("data_mappings", {})
        if kind not in mappings:
            mappings[kind] = imports.remembered_mapping(ui.get_engine(), kind)
        remembered, guessed = mappings[kind], imports.guess_mapping(header, kind)
    options = [NOT_MAPPED, *(f.name for f in imports.FIELDS[kind])]
    chosen: dict[str, str] = {}
    columns = st.columns(4)
    for position, name in enumerate(header):
        default = remembered.get(name) or guessed.get(name)
        choice = columns[position % 4].selectbox(
            ui.plain(name) if name else f"(column {position + 1} has no name)",
            options,
            index=options.index(default) if default in options else 0,
            key=f"data_map_{kind}_{preset.name if preset else ''}_{file_id}_{position}",
            disabled=not name,
        )
        if name and choice != NOT_MAPPED:
            chosen[name] = choice
    unmapped = [n for n in header if n and n not in chosen and guessed.get(n) not in (None, *chosen.values())]
    if preset is not None:
        st.caption(
            f"The {preset.label} preset also reads what needs more than one column — {preset.becomes}. "
            f"Columns left at {NOT_MAPPED} are read as the preset says; a field chosen here replaces the preset's."
        )
        return chosen
    if unmapped:
        named = ", ".join(ui.plain(n) for n in unmapped)
        st.caption(f"Named like a field, and read as it unless another column is mapped to it: {named}.")
    if kind == "customers":
        st.caption(f"Columns left at {NOT_MAPPED} are kept as customer attributes.")
    return chosen


def recognised_preset(header: list[str], file_id: str) -> Preset | None:
    """The platform export the header is recognised as, proposed to the user (who may read the file plainly)."""
    preset = presets.recognise(header)
    if preset is None:
        return None
    st.info(f"Recognised as: {preset.label}.", icon=":material/storefront:")
    use = st.toggle(
        f"Read it as a {preset.label}",
        value=True,
        key=f"data_preset_{file_id}",
        help=f"What becomes what: {preset.becomes}."
        + (f" Revenue: {preset.revenue}." if preset.kind == "orders" else ""),
    )
    return preset if use else None


def results_layout(header: list[str]):
    """The campaign-results settings: which columns hold what, and the campaign. None until the required ones are
    named."""
    none = [None, *header]
    shown = {"format_func": lambda v: NOT_MAPPED if v is None else v}
    name = st.text_input("Campaign name", key="data_cr_campaign", help="Created when no campaign has this name.")
    left, middle, right = st.columns(3)
    arm = left.selectbox("Arm column", none, key="data_cr_arm", **shown)
    control = middle.text_input("The control group's arm value", key="data_cr_control")
    customer = right.selectbox(
        "Customer id column", none, key="data_cr_customer", help="Without one, every row is a new customer.", **shown
    )
    outcomes = {}
    columns = st.columns(3)
    for position, outcome in enumerate((*campaign_results.OUTCOMES, "revenue")):
        outcomes[outcome] = columns[position % 3].selectbox(
            f"{labels.column_label(outcome)} column", none, key=f"data_cr_{outcome}", **shown
        )
    left, middle, right, last = st.columns(4)
    sent_at = left.date_input("Sent on", value=None, key="data_cr_sent_at", format="YYYY-MM-DD")
    channel = middle.selectbox(
        "Channel",
        [None, *schema.INTERACTION_CHANNELS],
        key="data_cr_channel",
        format_func=lambda v: NOT_MAPPED if v is None else labels.value_label(v),
    )
    cost = right.number_input("Cost", min_value=0.0, value=None, key="data_cr_cost")
    margin = last.number_input("Margin", min_value=0.0, max_value=1.0, value=None, key="data_cr_margin")
    attributes = st.multiselect("Columns stored on the customer", header, key="data_cr_attributes")
    if not (name.strip() and arm and control.strip()):
        st.info("Name the campaign, its arm column and the control group's arm value to check the file.")
        return None
    try:
        layout = campaign_results.ResultsLayout(
            arm=arm,
            control=control.strip(),
            customer=customer,
            outcomes={o: c for o, c in outcomes.items() if c and o != "revenue"},
            revenue=outcomes["revenue"],
            attributes=tuple(attributes),
        )
        settings = campaign_results.CampaignSettings.parse(name, sent_at, channel, cost, margin)
    except ValueError as exc:
        st.error(str(exc))
        return None
    return layout, settings


def show_check(check: imports.FileCheck, stem: str) -> None:
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
            ["severity", "line", "column", "reason", "value"],
            key="data_problems",
            labels_={"reason": labels.Column("Reason", width="large")},
        )
        if len(problems) > PROBLEMS_SHOWN:
            st.caption(f"The first {PROBLEMS_SHOWN:,} of {len(problems):,} problems; the download has them all.")
        st.download_button(
            "Download every problem (CSV)",
            ui.mask_pii_text(check.problems_csv),
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


def show_last_import(file_id: str | None) -> None:
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
        ["severity", "line", "column", "reason", "value"],
        labels_={"reason": labels.Column("Reason", width="large")},
    )
    st.caption("Nothing was written. The import history keeps this attempt and its report.")


def run_import(file_id: str, write) -> None:
    """Run one import with a progress bar; keep its outcome for the next rerun, which shows the new data."""
    bar = st.progress(0.0, text="Starting the import")
    try:
        result = write(lambda fraction, message: bar.progress(min(max(fraction, 0.0), 1.0), text=message))
    except imports.ImportFailed as failure:
        outcome = (failure.summary(), imports.problems_frame([*failure.problems, *failure.warnings]))
        st.session_state["data_last_import"] = (file_id, outcome)
    except db.ReadOnlyFactsError as refused:  # Spark SQL: imports belong in the team's pipeline
        st.session_state["data_last_import"] = (file_id, (str(refused), quality.problems_frame([])))
    else:
        st.session_state["data_last_import"] = (file_id, result)
        forget_upload()
    st.rerun()


def import_section() -> None:
    kind = st.selectbox("What the file holds", list(KINDS), format_func=KINDS.get, key="data_kind")
    upload = st.file_uploader(
        "A CSV file (UTF-8, comma, semicolon, tab or pipe) or an Excel .xlsx file",
        type=["csv", "txt", "tsv", "xlsx"],
        key=f"data_upload_{st.session_state.get('data_upload_round', 0)}",
    )
    show_last_import(None if upload is None else upload.file_id)
    if upload is None:
        st.caption(fields_help(kind))
        return
    data, name = upload.getvalue(), upload.name
    header = memo("header", upload.file_id, lambda: imports.file_header(data, name))
    engine = ui.get_engine()
    if kind == campaign_results.KIND:
        chosen = results_layout(header)
        if chosen is None:
            return
        layout, settings = chosen
        key = (upload.file_id, repr(layout), settings.name)
        with st.spinner("Checking every row…"):
            check = memo("check", key, lambda: imports.check_campaign_results_file(data, layout, settings.name))
    else:
        preset = recognised_preset(header, upload.file_id)
        preset_name = preset.name if preset else imports.NO_PRESET
        if preset is not None and preset.kind != kind:
            st.caption(f"A {preset.label} holds {KINDS[preset.kind].lower()}: it is imported as such.")
            kind = preset.kind
        st.markdown("**Columns** — what each column of the file holds")
        mapping = mapping_editor(kind, header, upload.file_id, preset)
        key = (upload.file_id, kind, preset_name, tuple(sorted(mapping.items())))
        with st.spinner("Checking every row…"):
            check = memo(
                "check", key, lambda: imports.check_file(kind, data, mapping, file_name=name, preset=preset_name)
            )
    show_check(check, Path(name).stem)
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
        run_import(
            upload.file_id,
            lambda progress: campaign_results.import_campaign_results(
                engine, data, layout, settings, on_error=on_error, file_name=name, progress=progress
            ),
        )
    else:
        if preset is None:  # a preset's mapping is the preset's, not one to offer for the next file
            st.session_state.setdefault("data_mappings", {})[kind] = mapping
            imports.remember_mapping(engine, kind, mapping)
        run_import(
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


def quality_section() -> None:
    since = st.date_input(
        "The business started on",
        value=None,
        key="data_since",
        format="YYYY-MM-DD",
        help="Dates before this day are reported. Empty: the first customer's sign-up date.",
    )
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


def history_section() -> None:
    # Not through the data cache: a failed import, or one that changes nothing, is logged without a new data version.
    history = imports.import_history(ui.get_engine())
    if history.empty:
        st.info("No file has been imported into this database yet.")
        return
    table(
        history,
        ["started_at", "file_name", "kind", "status", "rows_total", "rows_created", "rows_updated", "rows_rejected"],
        more=["import_id", "finished_at", "rows_unchanged", "file_hash"],
        key="data_history",
        labels_={
            "import_id": labels.Column("Import", "count"),
            "started_at": "Started (UTC)",
            "finished_at": "Finished (UTC)",
            "file_hash": labels.Column("File fingerprint (SHA-256)", width="small"),
            "kind": "What it held",
        },
    )
    described = {
        row.import_id: f"#{row.import_id} · {row.file_name} · {labels.value_label(row.kind)} · "
        f"{labels.value_label(row.status)}"
        for row in history.itertuples(index=False)
    }
    chosen = st.selectbox("One import in detail", list(described), format_func=described.get, key="data_history_import")
    row = history[history["import_id"] == chosen].iloc[0]
    st.code(row["message"] if isinstance(row["message"], str) else "", language=None)
    if row["has_report"]:
        report = ui.cached(imports.import_report, import_id=int(chosen))
        st.download_button(
            "Download its rejected rows (CSV)",
            ui.mask_pii_text(report),
            file_name=f"import-{chosen}-rejected.csv",
            mime="text/csv",
            key="data_history_report",
            on_click="ignore",
        )


def erase(customer_id: str) -> None:
    try:
        result = erasure.erase_customer(ui.get_engine(), customer_id=customer_id)
    except (erasure.CustomerNotFound, db.ReadOnlyFactsError) as exc:  # changed meanwhile; or Spark SQL
        st.session_state["data_erasure_failed"] = str(exc)
        return
    st.session_state["data_last_erasure"] = result.describe()
    st.session_state["data_erase_search"] = ""
    st.session_state["data_erase_confirm"] = ""


def erasure_section() -> None:
    st.caption(
        "Anonymises a person on request: name, email, phone, birth date and city are emptied, consent is opt-out "
        "everywhere and their hashed email and phone go on the suppression list, so no later import makes them "
        "contactable. Orders and interactions are kept for the statistics."
    )
    done = st.session_state.pop("data_last_erasure", None)
    if done:
        st.success(ui.plain(done), icon=":material/task_alt:")
    failed = st.session_state.pop("data_erasure_failed", None)
    if failed:
        st.error(f"Nothing was erased: {ui.plain(failed)}.", icon=":material/error:")
    typed = st.text_input(
        "Find the person", key="data_erase_search", placeholder="Name, email, phone or customer id"
    ).strip()
    if not typed:
        return
    found = ui.cached(profiles.search_customers, text=typed, mask=ui.masking_enabled()).frame
    if found.empty:
        st.info(f"No customer's name, email, phone or id contains “{ui.plain(typed)}”.")
        return
    people = {
        row.external_id: " · ".join(str(v) for v in (row.external_id, row.first_name, row.last_name, row.email) if v)
        for row in found.itertuples(index=False)
    }
    customer_id = st.selectbox("Customer", list(people), format_func=people.get, key="data_erase_customer")
    preview = ui.cached(erasure.erasure_preview, customer_id=customer_id)
    erase_columns = list(preview.customers.columns)
    table(
        ui.mask_pii(preview.customers),
        erase_columns[:KEY_COLUMNS],
        more=erase_columns[KEY_COLUMNS:],
        key="data_erase_preview",
    )
    if preview.customers["erased_at"].notna().all():
        st.info("Already erased.")
        return
    st.markdown("  \n".join(ui.plain(line) for line in preview.describe().split("\n")))
    confirm = st.text_input(f"Type the customer id {ui.plain(customer_id)} to confirm", key="data_erase_confirm")
    st.button(
        "Erase this person",
        type="primary",
        disabled=confirm.strip() != customer_id,
        key="data_erase",
        on_click=erase,
        args=(customer_id,),
    )


def database_section() -> None:
    info = ui.cached(db.describe)
    counts = ui.cached(db.table_counts)
    source = ui.plain(ui.get_setting().source)
    st.markdown(f"**{info.engine}** · {ui.plain(info.url)} · from {source} · data version {info.data_version}")
    table(pd.DataFrame({"table": list(counts), "rows": list(counts.values())}), ["table", "rows"], key="data_tables")
    st.caption(
        "The database is configuration (CRM_DATABASE_URL, .streamlit/secrets.toml, or --db on the command line), "
        "never a field of this page."
    )


import_tab, quality_tab, history_tab, erasure_tab, database_tab = st.tabs(
    ["Import", "Data quality", "Import history", "Erasure", "Database"]
)
with import_tab:
    import_section()
with quality_tab:
    quality_section()
with history_tab:
    history_section()
with erasure_tab:
    erasure_section()
with database_tab:
    database_section()
