"""The Data page's reading of an uploaded file: which field each column holds (as a recognised platform preset
reads it, guessed, or as last used), and, for campaign results, which columns hold the arm and the outcomes."""

from __future__ import annotations

import streamlit as st

import ui
from crm_core import imports, labels, schema
from crm_core.imports import campaign_results, presets
from crm_core.imports.presets import Preset

KINDS = {
    "customers": "Customers",
    "orders": "Orders (one row per order, or per order line)",
    "interactions": "Interactions",
    "feedback": "Feedback",
    campaign_results.KIND: "Campaign results (one row per campaign member)",
}
NOT_MAPPED = "—"


def fields_help(kind: str) -> str:
    if kind == campaign_results.KIND:
        return "One row per campaign member: an arm column, the control's arm value, optional outcome columns."
    required = set(imports.REQUIRED_ONE_OF.get(kind, ()))
    names = [f"**`{f.name}`**" if f.required or f.name in required else f"`{f.name}`" for f in imports.FIELDS[kind]]
    return f"Column names read without mapping (required in bold): {', '.join(names)}."


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


def results_layout(
    header: list[str],
) -> tuple[campaign_results.ResultsLayout, campaign_results.CampaignSettings] | None:
    """The campaign-results settings: which columns hold what, and the campaign. None until the required ones are
    named."""
    none: list[str | None] = [None, *header]

    def shown(value: str | None) -> str:
        return NOT_MAPPED if value is None else value

    name = st.text_input("Campaign name", key="data_cr_campaign", help="Created when no campaign has this name.")
    left, middle, right = st.columns(3)
    arm = left.selectbox("Arm column", none, key="data_cr_arm", format_func=shown)
    control = middle.text_input("The control group's arm value", key="data_cr_control")
    customer = right.selectbox(
        "Customer id column",
        none,
        key="data_cr_customer",
        help="Without one, every row is a new customer.",
        format_func=shown,
    )
    outcomes = {}
    columns = st.columns(3)
    for position, outcome in enumerate((*campaign_results.OUTCOMES, "revenue")):
        outcomes[outcome] = columns[position % 3].selectbox(
            f"{labels.column_label(outcome)} column", none, key=f"data_cr_{outcome}", format_func=shown
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
