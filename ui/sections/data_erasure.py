"""The Data page's erasure on request: find the person, see what is erased and what is kept, confirm."""

from __future__ import annotations

import streamlit as st

import ui
from crm_core import db, erasure, profiles
from ui.tables import table

#: Columns of the person's record shown before "More columns".
KEY_COLUMNS = 7


def _erase(customer_id: str) -> None:
    try:
        result = erasure.erase_customer(ui.get_engine(), customer_id=customer_id)
    except (erasure.CustomerNotFound, db.ReadOnlyFactsError) as exc:  # changed meanwhile; or Spark SQL
        st.session_state["data_erasure_failed"] = str(exc)
        return
    st.session_state["data_last_erasure"] = result.describe()
    st.session_state["data_erase_search"] = ""
    st.session_state["data_erase_confirm"] = ""


def render() -> None:
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
    customer_id = st.selectbox("Customer", list(people), format_func=lambda c: people[c], key="data_erase_customer")
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
        on_click=_erase,
        args=(customer_id,),
    )
