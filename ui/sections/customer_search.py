"""Customers page: finding a customer (search by name, email, phone or id) and the buttons that open a profile."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

import ui
from crm_core import profiles

SEARCH_KEY = "customer_search"
#: Session-state key of the profiles opened in this session, newest first.
RECENT_KEY = "recent_customers"
RECENT_MAX = 8


def open_profile(external_id: str) -> None:
    st.query_params[ui.PROFILE_PARAM] = external_id
    st.session_state[SEARCH_KEY] = ""


def close_profile() -> None:
    st.query_params.pop(ui.PROFILE_PARAM, None)


def remember(external_id: str) -> None:
    """List a profile first among the recently viewed."""
    recent = [c for c in st.session_state.get(RECENT_KEY, []) if c != external_id]
    st.session_state[RECENT_KEY] = [external_id, *recent][:RECENT_MAX]


def name_of(row: Any) -> str:
    parts = [str(p) for p in (row.first_name, row.last_name) if isinstance(p, str) and p]
    return " ".join(parts) or str(row.external_id)


def customer_buttons(frame: pd.DataFrame, key: str, value_of: Callable[[Any], str] | None = None) -> None:
    """One button per customer: name, id, email and city (masked when masking is on); a click opens the profile."""
    for row in frame.itertuples(index=False):
        details = [row.external_id, row.email, row.city]
        if value_of is not None:
            # The value first, so that a long line is cut in the contact details rather than in the value.
            details.insert(0, value_of(row))
        label = f"**{ui.plain(name_of(row))}** · " + " · ".join(
            ui.plain(d) for d in details if isinstance(d, str) and d
        )
        st.button(
            label, key=f"{key}_{row.external_id}", on_click=open_profile, args=(row.external_id,), type="tertiary"
        )


def render(masked: bool) -> None:
    """The search box and the customers it finds."""
    typed = st.text_input(
        "Find a customer",
        key=SEARCH_KEY,
        placeholder="Name, email, phone or customer id - part of it is enough",
        help='Case does not matter; every word must match ("anna müll" finds Anna Müller).',
    )
    if typed.strip():
        found = ui.cached(profiles.search_customers, text=typed.strip(), mask=masked)
        st.caption(f"Search: {found.label}")
        if found.frame.empty:
            st.info(f"No customer's name, email, phone or id contains “{ui.plain(typed.strip())}”.")
        customer_buttons(found.frame, "found")
