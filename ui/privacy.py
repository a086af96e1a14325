"""Personal data on screen: the masking switch, masking for any page, and links to customer profiles.

- :func:`masking_switch` draws the sidebar toggle (the shell calls it on every page). ``CRM_MASK_PII=1`` forces it
  on for demo deployments (:func:`crm_core.config.pii_masking_forced`); then it is shown on and locked.
- :func:`masking_enabled` is what pages ask before they call crm_core (``mask=masking_enabled()``), and
  :func:`mask_pii` masks a table that a page shows or exports (emails, phones, surnames, free text;
  :func:`crm_core.masking.mask_frame`).
- :func:`profile_link` and :func:`profile_link_column`: every list of customers links to the profile, whose URL
  carries the customer id (``customers?customer=C0000042``), so that a profile can be shared.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

import pandas as pd
import streamlit as st

from crm_core import config, masking

#: The session's choice, kept apart from the widget so that it survives pages that do not draw the switch.
_CHOICE_KEY = "_crm_mask_pii"
_WIDGET_KEY = "mask_pii_switch"

#: The profile page's URL path and the query parameter that carries the customer id.
PROFILE_PAGE = "customers"
PROFILE_PARAM = "customer"


def masking_forced() -> bool:
    """True when the deployment forces masking (``CRM_MASK_PII``)."""
    return config.pii_masking_forced()


def masking_enabled() -> bool:
    """Whether personal data must be masked in this session: forced by the deployment, or switched on."""
    return masking_forced() or bool(st.session_state.get(_CHOICE_KEY, False))


def _remember() -> None:
    st.session_state[_CHOICE_KEY] = bool(st.session_state[_WIDGET_KEY])


def masking_switch() -> None:
    """The sidebar toggle "Mask personal data" (locked on when the deployment forces it)."""
    forced = masking_forced()
    help_text = (
        "Forced on by this deployment (CRM_MASK_PII): emails, phone numbers and surnames are masked everywhere."
        if forced
        else "Hide emails, phone numbers and surnames everywhere - on screen and in exports - e.g. for a demo."
    )
    st.sidebar.toggle(
        "Mask personal data",
        value=forced or bool(st.session_state.get(_CHOICE_KEY, False)),
        key=_WIDGET_KEY,
        on_change=_remember,
        disabled=forced,
        help=help_text,
    )


def mask_pii(frame: pd.DataFrame, columns: Mapping[str, str | None] | None = None) -> pd.DataFrame:
    """``frame`` with personal data masked when masking is on (else unchanged); for tables and exports.

    ``columns`` names extra personal-data columns and their kind, as in :func:`crm_core.masking.mask_frame`.
    """
    return masking.mask_frame(frame, columns) if masking_enabled() else frame


def mask_pii_text(text: str) -> str:
    """Free text (a downloadable report) with its emails and phones masked when masking is on."""
    return str(masking.mask_text(text)) if masking_enabled() else text


def profile_link(external_id: str) -> str:
    """The relative URL of a customer's profile: ``customers?customer=C0000042``."""
    return f"{PROFILE_PAGE}?{PROFILE_PARAM}={quote(str(external_id), safe='')}"


def profile_links(external_ids: pd.Series) -> pd.Series:
    """:func:`profile_link` for a column of customer ids (for :func:`profile_link_column`)."""
    return external_ids.map(profile_link)


def profile_link_column(label: str = "Customer", help: str | None = None):  # noqa: A002 - Streamlit's name
    """A ``st.column_config.LinkColumn`` for a column of :func:`profile_links`: shows the customer id, opens the
    profile."""
    return st.column_config.LinkColumn(
        label, display_text=rf"{PROFILE_PARAM}=(.*)$", help=help or "Open the customer's profile"
    )
